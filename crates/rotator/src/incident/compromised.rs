//! `Compromised`: an emergency rotation of the named values with no grace for them, then a
//! Revoke. It runs the two existing rotations through the one driver, asked three times:
//! finish what is in flight with no grace (an earlier previous value stops at once), replace
//! the current value (forced), and retire what it replaced with no grace (the previous
//! external ID no longer accepted, the previous key deactivated and deleted). A rerun after a
//! crash converges; at worst it replaces the value once more, never less.

use trustlink_aws::ports::{Cloud, Secrets, AWSCURRENT};
use trustlink_domain::incident::Compromised;
use trustlink_domain::record::{self, AccessKeySecret, LinkRecord};
use trustlink_domain::rotation::{AccessKeyStep, Ask, ExternalIdStep};

use super::revoke::revoked_detail;
use super::suspended::skipped_for;
use crate::command::Command;
use crate::report::{Action, IncidentReport, LinkReport, RotationReport, Stopped};
use crate::rotation::access_key::AccessKeyRotation;
use crate::rotation::driver::drive;
use crate::rotation::external_id::ExternalIdRotation;
use crate::rotation::{time, Outcome, Rotation, Step};
use crate::Rotator;

/// No grace: previous values stop now, held keys too, an inactive previous key is deleted.
const NO_GRACE: Ask = Ask {
    force: false,
    end_grace: true,
    release_holds: true,
    delete_previous_now: true,
};

const REPLACE: Ask = Ask {
    force: true,
    end_grace: false,
    release_holds: false,
    delete_previous_now: false,
};

/// The rotation's value in the report's words.
fn value_name(rotation: &str) -> &'static str {
    match rotation {
        "external_id" => "external ID",
        _ => "access key",
    }
}

fn promoted(steps: &[Step]) -> bool {
    steps.iter().any(|s| {
        matches!(
            s,
            Step::ExternalId(ExternalIdStep::Promote) | Step::AccessKey(AccessKeyStep::Promote)
        )
    })
}

impl<C: Cloud> Rotator<C> {
    pub(crate) async fn compromised(
        &self,
        rec: &LinkRecord,
        what: Compromised,
        command: &Command,
    ) -> LinkReport {
        let mut report = LinkReport {
            link: rec.link_name.clone(),
            external_id: None,
            access_key: None,
            incident: None,
        };
        if let Some(refused) = self.refuse_compromised(rec, what).await {
            report.incident = Some(refused);
            return report;
        }
        let rotator = self;
        let mut old_key = None;
        if what.external_id() {
            let rotation = ExternalIdRotation::new(rotator, rec);
            report.external_id = Some(self.replace(&rotation, rec, command).await);
        }
        if what.access_key() {
            old_key = self.current_key_id(rec).await;
            let rotation = AccessKeyRotation { rotator, rec };
            let mut r = self.replace(&rotation, rec, command).await;
            if let (Action::Rotated, Some(old)) = (r.action, &old_key) {
                r.detail = format!(
                    "{}; the previous key {old} is deactivated and deleted",
                    r.detail
                );
            }
            report.access_key = Some(r);
        }
        let revoked = self.revoke_after(rec, &report, old_key.as_deref(), command);
        report.incident = Some(revoked.await);
        report
    }

    /// Refused before anything is written: a suspended link (its rotations would switch the
    /// deactivated key back on), or a key the link does not manage.
    async fn refuse_compromised(
        &self,
        rec: &LinkRecord,
        what: Compromised,
    ) -> Option<IncidentReport> {
        let detail = match self.suspension(rec).await {
            Err(e) => e.to_string(),
            Ok(Some(s)) => format!("{}; Compromised needs it resumed first (Resume)", skipped_for(&s).detail),
            Ok(None) if what.access_key() && !rec.access_key => {
                "the link has no managed access key (TrustedSide.AccessKey): give Compromised \"external-id\"".into()
            }
            Ok(None) => return None,
        };
        Some(IncidentReport::new(
            "Compromised",
            Outcome {
                action: Action::Failed,
                detail,
                steps: Vec::new(),
            },
        ))
    }

    /// The id of the link's AWSCURRENT key (not a secret), to say which key stopped working.
    async fn current_key_id(&self, rec: &LinkRecord) -> Option<String> {
        let name = record::access_key_secret_name(&rec.link_name);
        let v = self
            .cloud
            .secrets()
            .get_secret_value(&name, AWSCURRENT)
            .await
            .ok()?;
        AccessKeySecret::parse(&v.text)
            .ok()
            .map(|k| k.access_key_id)
    }

    /// One value replaced with no grace, its three asks in turn; a dry run plans the
    /// replacement only.
    async fn replace<R: Rotation>(
        &self,
        rotation: &R,
        rec: &LinkRecord,
        command: &Command,
    ) -> RotationReport {
        let link = rec.link_name.as_str();
        let asked = |ask: Ask| Command {
            ask,
            ..command.clone()
        };
        if command.dry_run {
            return drive(rotation, link, self.clock.as_ref(), &asked(REPLACE))
                .await
                .into();
        }
        let mut steps = Vec::new();
        let mut replaced = false;
        for (ask, phase) in [
            (NO_GRACE, "finish"),
            (REPLACE, "replace"),
            (NO_GRACE, "retire"),
        ] {
            if phase == "replace" && replaced {
                continue;
            }
            let o = drive(rotation, link, self.clock.as_ref(), &asked(ask)).await;
            replaced |= promoted(&o.steps);
            steps.extend(o.steps);
            let stuck = phase == "replace" && !replaced;
            if o.action == Action::Failed || stuck {
                let detail = if stuck {
                    format!("not replaced: {}", o.detail)
                } else {
                    o.detail
                };
                return Outcome {
                    action: Action::Failed,
                    detail,
                    steps,
                }
                .into();
            }
        }
        let detail = format!(
            "replaced with no grace: the new {} is AWSCURRENT; the previous one stopped working at {}",
            value_name(R::NAME),
            time(self.clock.now())
        );
        Outcome {
            action: Action::Rotated,
            detail,
            steps,
        }
        .into()
    }

    /// After the replacements, the sessions issued before now are revoked; the entry says what
    /// stopped working and when.
    async fn revoke_after(
        &self,
        rec: &LinkRecord,
        report: &LinkReport,
        old_key: Option<&str>,
        command: &Command,
    ) -> IncidentReport {
        let rotations = || report.external_id.iter().chain(report.access_key.as_ref());
        if let Some(failed) = rotations().find(|r| r.action == Action::Failed) {
            let outcome = Outcome {
                action: Action::Failed,
                detail: format!(
                    "stopped before revoking the sessions: {}; rerun Compromised to finish",
                    failed.detail
                ),
                steps: Vec::new(),
            };
            return IncidentReport::new("Compromised", outcome);
        }
        let at = self.clock.now();
        let mut entry = self.revoke(rec, at, command).await;
        entry.command = "Compromised";
        if command.dry_run || entry.action != Action::Revoked {
            return entry;
        }
        let when = time(at);
        let mut stopped = Vec::new();
        if report.external_id.is_some() {
            stopped.push("the previous external ID".to_string());
        }
        if report.access_key.is_some() {
            stopped.push(match old_key {
                Some(id) => format!("the previous access key {id}"),
                None => "the previous access key".into(),
            });
        }
        stopped.push(format!("sessions issued before {when}"));
        entry.stopped_working = stopped
            .into_iter()
            .map(|what| Stopped {
                what,
                at: when.clone(),
            })
            .collect();
        entry.detail = format!(
            "the leaked values are replaced with no grace, then {}; consumers that read AWSCURRENT again keep working",
            revoked_detail(&rec.role_arn, at)
        );
        entry
    }
}
