//! The incident response commands of the rotator (docs/design.md, *Incident response*):
//! `Revoke`, `Suspend`, `Resume` and `Compromised`, each on named links only. Revoke, Suspend
//! and Resume are [`Rotation`](crate::rotation::Rotation)s run by the one driver, with the
//! pure deciders of `trustlink_domain::incident`; Compromised runs the two existing rotations
//! with no grace, then a Revoke. Each link gets one result entry and one log line.

mod compromised;
mod resume;
mod revoke;
mod role;
mod suspend;
pub(crate) mod suspended;
#[cfg(test)]
mod tests;

use tracing::{info, warn};
use trustlink_aws::ports::Cloud;
use trustlink_domain::record::LinkRecord;

use crate::command::{Command, Incident};
use crate::report::{Action, IncidentReport, LinkReport};
use crate::rotation::driver::drive;
use crate::rotation::{Outcome, Rotation};
use crate::Rotator;

impl<C: Cloud> Rotator<C> {
    /// Runs `incident` on one link; its report entry, logged once.
    pub(crate) async fn incident_on_link(
        &self,
        rec: &LinkRecord,
        incident: &Incident,
        command: &Command,
    ) -> LinkReport {
        let report = match incident {
            Incident::Revoke => {
                let at = self.clock.now();
                only_incident(rec, self.revoke(rec, at, command).await)
            }
            Incident::Suspend { reason } => {
                only_incident(rec, self.suspend(rec, reason, command).await)
            }
            Incident::Resume => only_incident(rec, self.resume(rec, command).await),
            Incident::Compromised(what) => self.compromised(rec, *what, command).await,
        };
        log_outcome(&report);
        report
    }

    /// Drives one incident rotation; its outcome as the report entry of `command`.
    pub(crate) async fn drive_incident<R: Rotation>(
        &self,
        rotation: &R,
        rec: &LinkRecord,
        command: &Command,
        name: &'static str,
    ) -> IncidentReport {
        let outcome: Outcome = drive(rotation, &rec.link_name, self.clock.as_ref(), command).await;
        IncidentReport::new(name, outcome)
    }
}

fn only_incident(rec: &LinkRecord, incident: IncidentReport) -> LinkReport {
    LinkReport {
        link: rec.link_name.clone(),
        external_id: None,
        access_key: None,
        incident: Some(incident),
    }
}

/// One line per link and command: what Logs Insights queries filter on.
fn log_outcome(report: &LinkReport) {
    let Some(incident) = &report.incident else {
        return;
    };
    let action = |a: Action| serde_json::to_value(a).unwrap_or_default();
    let text = |a: Action| action(a).as_str().unwrap_or_default().to_string();
    let external_id = report.external_id.as_ref().map(|r| text(r.action));
    let access_key = report.access_key.as_ref().map(|r| text(r.action));
    let (link, command, detail) = (&report.link, incident.command, &incident.detail);
    let act = text(incident.action);
    if incident.action == Action::Failed {
        warn!(link, command, action = %act, ?external_id, ?access_key, detail = %detail, "incident outcome");
    } else {
        info!(link, command, action = %act, ?external_id, ?access_key, detail = %detail, "incident outcome");
    }
}
