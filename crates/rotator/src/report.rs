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

#[derive(Debug, Clone, Serialize)]
pub struct LinkReport {
    pub link: String,
    pub external_id: RotationReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key: Option<RotationReport>,
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
        for r in links
            .iter()
            .flat_map(|l| std::iter::once(&l.external_id).chain(l.access_key.as_ref()))
        {
            *match r.action {
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
            std::iter::once(&l.external_id)
                .chain(l.access_key.as_ref())
                .find(|r| r.action == Action::Failed)
                .map(|r| format!("{}: {}", l.link, r.detail))
        })
    }

    pub fn failed_links(&self) -> Vec<&str> {
        self.links
            .iter()
            .filter(|l| {
                l.external_id.action == Action::Failed
                    || l.access_key
                        .as_ref()
                        .is_some_and(|a| a.action == Action::Failed)
            })
            .map(|l| l.link.as_str())
            .collect()
    }
}
