//! The run's result: per link what was done, skipped, held or failed, and why.

use serde::Serialize;

use crate::rotation::Outcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Rotated,
    Retired,
    Deactivated,
    Deleted,
    Repaired,
    Waiting,
    Held,
    Skipped,
    Failed,
    /// Dry run: what would happen.
    Planned,
    /// The link is suspended: the rotation was not run, nothing changed (`Resume` to rotate);
    /// or, for the `Suspend` command, the link is now suspended.
    Suspended,
    /// `Revoke` (and `Compromised`): sessions issued before a time are denied.
    Revoked,
    /// `Resume`: what the suspension changed is undone.
    Resumed,
}

impl Action {
    /// Every action, in the order above: the list docs/contract.json's `rotator_actions` is
    /// checked against (rotator/tests/incident_events.rs). A new action goes here too.
    pub const ALL: [Action; 13] = [
        Action::Rotated,
        Action::Retired,
        Action::Deactivated,
        Action::Deleted,
        Action::Repaired,
        Action::Waiting,
        Action::Held,
        Action::Skipped,
        Action::Failed,
        Action::Planned,
        Action::Suspended,
        Action::Revoked,
        Action::Resumed,
    ];
}

#[derive(Debug, Clone, Serialize)]
pub struct RotationReport {
    pub action: Action,
    pub detail: String,
    /// The steps taken (or, in a dry run, the next one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
}

/// The report boundary: the typed steps become the text the report has always had.
impl From<Outcome> for RotationReport {
    fn from(o: Outcome) -> Self {
        Self {
            action: o.action,
            detail: o.detail,
            steps: o.steps.iter().map(ToString::to_string).collect(),
        }
    }
}

/// The result of an incident command on one link: `command` is the console field
/// (`Revoke`, `Suspend`, `Resume`, `Compromised`).
#[derive(Debug, Clone, Serialize)]
pub struct IncidentReport {
    pub command: &'static str,
    pub action: Action,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// What stopped working and when (named, never the value: a key id, "the previous
    /// external ID", "sessions issued before ...").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stopped_working: Vec<Stopped>,
}

/// One old value or session set that no longer works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stopped {
    pub what: String,
    /// ISO 8601, UTC.
    pub at: String,
}

impl IncidentReport {
    pub fn new(command: &'static str, o: Outcome) -> Self {
        let RotationReport {
            action,
            detail,
            steps,
        } = o.into();
        Self {
            command,
            action,
            detail,
            steps,
            stopped_working: Vec::new(),
        }
    }

    fn as_rotation(&self) -> (Action, &str) {
        (self.action, &self.detail)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkReport {
    pub link: String,
    /// Absent for the incident commands that rotate nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<RotationReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key: Option<RotationReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<IncidentReport>,
}

impl LinkReport {
    /// Every result of the link: its rotations' and its incident command's.
    fn results(&self) -> impl Iterator<Item = (Action, &str)> {
        self.external_id
            .iter()
            .chain(self.access_key.as_ref())
            .map(|r| (r.action, r.detail.as_str()))
            .chain(self.incident.as_ref().map(IncidentReport::as_rotation))
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub links: usize,
    pub rotated: usize,
    pub retired: usize,
    pub deactivated: usize,
    pub deleted: usize,
    pub repaired: usize,
    pub waiting: usize,
    pub held: usize,
    pub skipped: usize,
    pub failed: usize,
    pub planned: usize,
    // Absent when zero: the summary of a rotation run reads as it always has.
    #[serde(skip_serializing_if = "is_zero")]
    pub suspended: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub revoked: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub resumed: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub dry_run: bool,
    pub links: Vec<LinkReport>,
    pub summary: Summary,
}

impl RunReport {
    pub fn new(dry_run: bool, mut links: Vec<LinkReport>) -> Self {
        links.sort_by(|a, b| a.link.cmp(&b.link));
        let mut s = Summary {
            links: links.len(),
            ..Summary::default()
        };
        for (action, _) in links.iter().flat_map(LinkReport::results) {
            *match action {
                Action::Rotated => &mut s.rotated,
                Action::Retired => &mut s.retired,
                Action::Deactivated => &mut s.deactivated,
                Action::Deleted => &mut s.deleted,
                Action::Repaired => &mut s.repaired,
                Action::Waiting => &mut s.waiting,
                Action::Held => &mut s.held,
                Action::Skipped => &mut s.skipped,
                Action::Failed => &mut s.failed,
                Action::Planned => &mut s.planned,
                Action::Suspended => &mut s.suspended,
                Action::Revoked => &mut s.revoked,
                Action::Resumed => &mut s.resumed,
            } += 1;
        }
        Self {
            dry_run,
            links,
            summary: s,
        }
    }

    /// `link: why` of the first failure, for an error message.
    pub fn first_failure(&self) -> Option<String> {
        self.links.iter().find_map(|l| {
            l.results()
                .find(|(action, _)| *action == Action::Failed)
                .map(|(_, detail)| format!("{}: {detail}", l.link))
        })
    }

    pub fn failed_links(&self) -> Vec<&str> {
        self.links
            .iter()
            .filter(|l| l.results().any(|(action, _)| action == Action::Failed))
            .map(|l| l.link.as_str())
            .collect()
    }
}
