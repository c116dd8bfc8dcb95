//! A run: discover the links, and rotate each one's external ID and, with a managed key,
//! its access key, a few links at once.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use tracing::{info, warn};
use trustlink_aws::ports::{Cloud, Secrets};
use trustlink_aws::AwsError;
use trustlink_domain::incident::Suspension;
use trustlink_domain::record::{self, LinkRecord};

use crate::clock::Clock;
use crate::command::Command;
use crate::incident::suspended::skipped_for;
use crate::report::{Action, IncidentReport, LinkReport, RotationReport, RunReport};
use crate::rotation::access_key::AccessKeyRotation;
use crate::rotation::driver::drive;
use crate::rotation::external_id::ExternalIdRotation;
use crate::rotation::Rotation;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Links rotated at once.
    pub concurrency: usize,
    /// Proving a new key or ID works, through IAM's eventual consistency.
    pub verify_attempts: u32,
    pub verify_delay: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            concurrency: trustlink_domain::settings::DEFAULT_ROTATION_CONCURRENCY,
            verify_attempts: 10,
            verify_delay: Duration::from_secs(2),
        }
    }
}

pub struct Rotator<C> {
    pub(crate) cloud: C,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) limits: Limits,
}

impl<C: Cloud> Rotator<C> {
    pub fn new(cloud: C, clock: Arc<dyn Clock>, limits: Limits) -> Self {
        Self {
            cloud,
            clock,
            limits,
        }
    }

    /// Every link of the hub: the `trustlink/<LinkName>` secrets with a link record.
    pub async fn discover(&self) -> Result<Vec<LinkRecord>, AwsError> {
        let secrets = self
            .cloud
            .secrets()
            .list_secrets(record::SECRET_PREFIX)
            .await?;
        // A link is the secret named after its own record: key secrets, and secrets whose
        // tags name another link (a copy, a hand-made one), are not links.
        Ok(secrets
            .iter()
            .filter_map(|s| {
                LinkRecord::from_tags(&s.tags)
                    .filter(|r| record::external_id_secret_name(&r.link_name) == s.name)
            })
            .collect())
    }

    pub async fn run(&self, command: &Command) -> Result<RunReport, AwsError> {
        crate::metrics::measured(async {
            let links = self.discover().await?;
            Ok(self.run_on(links, command).await)
        })
        .await
    }

    /// A run over `links`, already found: the discovered ones, or those a queued command
    /// names (the fan-out worker looks each up rather than listing the hub per record).
    pub(crate) async fn run_on(&self, mut links: Vec<LinkRecord>, command: &Command) -> RunReport {
        let mut reports = Vec::new();
        if let Some(wanted) = &command.links {
            reports.extend(
                wanted
                    .iter()
                    .filter(|name| !links.iter().any(|l| &l.link_name == *name))
                    .map(|name| no_such_link(name, command)),
            );
            links.retain(|l| wanted.contains(&l.link_name));
        }
        info!(
            links = links.len(),
            dry_run = command.dry_run,
            force = command.ask.force,
            "rotation run"
        );
        let done: Vec<LinkReport> = stream::iter(links)
            .map(|link| async move {
                match &command.incident {
                    Some(incident) => self.incident_on_link(&link, incident, command).await,
                    None => self.rotate_link(&link, command).await,
                }
            })
            .buffer_unordered(self.limits.concurrency.max(1))
            .collect()
            .await;
        reports.extend(done);
        let report = RunReport::new(command.dry_run, reports);
        info!(summary = ?report.summary, "rotation run finished");
        report
    }

    async fn rotate_link(&self, rec: &LinkRecord, command: &Command) -> LinkReport {
        let role = match self.suspension_and_role(rec).await {
            Ok((None, role)) => role,
            Ok((Some(s), _)) => return suspended_link(rec, &s),
            Err(e) => return failed_link(rec, e.to_string()),
        };
        let rotator = self;
        // The external ID's first observation starts from the role just read: one GetRole
        // per link per run.
        let external_id = ExternalIdRotation::after_reading(rotator, rec, role);
        let external_id = self.rotate(&external_id, rec, command).await;
        let access_key = if rec.access_key {
            Some(
                self.rotate(&AccessKeyRotation { rotator, rec }, rec, command)
                    .await,
            )
        } else {
            None
        };
        LinkReport {
            link: rec.link_name.clone(),
            external_id: Some(external_id),
            access_key,
            incident: None,
        }
    }

    async fn rotate<R: Rotation>(
        &self,
        rotation: &R,
        rec: &LinkRecord,
        command: &Command,
    ) -> RotationReport {
        let outcome = drive(rotation, &rec.link_name, self.clock.as_ref(), command).await;
        let report = RotationReport::from(outcome);
        log_outcome(&rec.link_name, R::NAME, &report);
        report
    }
}

fn no_such_link(name: &str, command: &Command) -> LinkReport {
    let detail = format!("no link named {name} in this hub (no secret trustlink/{name})");
    let failed = RotationReport {
        action: Action::Failed,
        detail,
        steps: vec![],
    };
    let incident = command.incident.as_ref().map(|i| IncidentReport {
        command: i.name(),
        action: failed.action,
        detail: failed.detail.clone(),
        steps: vec![],
        stopped_working: vec![],
    });
    LinkReport {
        link: name.to_string(),
        external_id: incident.is_none().then_some(failed),
        access_key: None,
        incident,
    }
}

/// Both rotations skipped: the link is suspended. Logged as every rotation outcome is.
fn suspended_link(rec: &LinkRecord, s: &Suspension) -> LinkReport {
    let report = skipped_for(s);
    log_outcome(&rec.link_name, "external_id", &report);
    LinkReport {
        link: rec.link_name.clone(),
        access_key: rec.access_key.then(|| report.clone()),
        external_id: Some(report),
        incident: None,
    }
}

/// Whether the link is suspended could not be read: nothing rotated.
fn failed_link(rec: &LinkRecord, detail: String) -> LinkReport {
    let report = RotationReport {
        action: Action::Failed,
        detail,
        steps: vec![],
    };
    log_outcome(&rec.link_name, "external_id", &report);
    LinkReport {
        link: rec.link_name.clone(),
        external_id: Some(report),
        access_key: None,
        incident: None,
    }
}

/// One line per rotation and run: what Logs Insights queries filter on.
fn log_outcome(link: &str, rotation: &str, report: &RotationReport) {
    let action = serde_json::to_value(report.action).unwrap_or_default();
    let action = action.as_str().unwrap_or_default();
    if report.action == Action::Failed {
        warn!(link, rotation, action, detail = %report.detail, "rotation outcome");
    } else {
        info!(link, rotation, action, detail = %report.detail, "rotation outcome");
    }
}
