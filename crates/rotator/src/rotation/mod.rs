//! One rotation of a link, its external ID or its access key, as a [`Rotation`]: observe
//! the world, decide the next step with the pure deciders of `trustlink_domain::rotation`,
//! act, and say the outcome. [`driver::drive`] runs any of them the same way.

pub mod access_key;
pub mod driver;
pub mod error;
pub mod external_id;
#[cfg(test)]
pub(crate) mod fixture;
mod probe;
mod tags;

use std::fmt;

use futures::future::BoxFuture;
use trustlink_domain::incident::{ResumeStep, RevokeStep, SuspendStep};
use trustlink_domain::rotation::{AccessKeyStep, Ask, ExternalIdStep};

pub use error::{StepError, StepResult};

use crate::report::Action;

/// A step taken, of either rotation: the history a run keeps, typed, so outcomes are decided
/// on the steps themselves. Its `Display` is the report's text for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    ExternalId(ExternalIdStep),
    AccessKey(AccessKeyStep),
    /// The incident commands' steps (`crate::incident`), driven the same way.
    Revoke(RevokeStep),
    Suspend(SuspendStep),
    Resume(ResumeStep),
}

/// The report has always written a step as its `Debug` form (`DeleteOrphan("AKIA…")`).
impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ExternalId(s) => write!(f, "{s:?}"),
            Self::AccessKey(s) => write!(f, "{s:?}"),
            Self::Revoke(s) => write!(f, "{s:?}"),
            Self::Suspend(s) => write!(f, "{s:?}"),
            Self::Resume(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<ExternalIdStep> for Step {
    fn from(s: ExternalIdStep) -> Self {
        Self::ExternalId(s)
    }
}

impl From<AccessKeyStep> for Step {
    fn from(s: AccessKeyStep) -> Self {
        Self::AccessKey(s)
    }
}

impl From<RevokeStep> for Step {
    fn from(s: RevokeStep) -> Self {
        Self::Revoke(s)
    }
}

impl From<SuspendStep> for Step {
    fn from(s: SuspendStep) -> Self {
        Self::Suspend(s)
    }
}

impl From<ResumeStep> for Step {
    fn from(s: ResumeStep) -> Self {
        Self::Resume(s)
    }
}

/// How one rotation of one link ended: what the report says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub action: Action,
    pub detail: String,
    /// The steps taken (or, in a dry run, the next one).
    pub steps: Vec<Step>,
}

/// One kind of rotation. The futures are boxed: nested by value inside the driver, the
/// run's future grows too deep for the compiler's layout computation in callers.
pub trait Rotation: Send + Sync {
    /// The domain's step enum.
    type Step: Clone + fmt::Debug + Into<Step> + Send + Sync;
    /// What one observation saw: the decider's view and what acting on it needs.
    type Observed: Send + Sync;
    /// The rotation's name in logs (`external_id`, `access_key`).
    const NAME: &'static str;

    fn observe(&self) -> BoxFuture<'_, StepResult<Self::Observed>>;
    /// The next step, from what was observed only.
    fn decide(&self, observed: &Self::Observed, now: i64, ask: Ask) -> Self::Step;
    /// Nothing is left to do now (done, waiting, held).
    fn is_final(step: &Self::Step) -> bool;
    fn act<'a>(
        &'a self,
        step: &'a Self::Step,
        observed: &'a Self::Observed,
    ) -> BoxFuture<'a, StepResult<()>>;
    /// Acts, then carries the step's effect into `observed`, so the next decision needs no
    /// new observation (a run observes a link once). `Carried::No`: this rotation does not
    /// model the effect, and the driver observes again.
    fn act_and_carry<'a>(
        &'a self,
        step: &'a Self::Step,
        observed: &'a mut Self::Observed,
    ) -> BoxFuture<'a, StepResult<Carried>> {
        Box::pin(async move {
            self.act(step, observed).await?;
            Ok(Carried::No)
        })
    }
    /// What the run did, from the steps it took and the final step it stopped at.
    fn outcome(
        &self,
        last: &Self::Step,
        done: &[Self::Step],
        observed: &Self::Observed,
        ask: Ask,
    ) -> (Action, String);
}

/// Whether a step's effect was carried into the observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carried {
    Yes,
    No,
}

/// A time in the report's words.
pub(crate) fn time(t: i64) -> String {
    trustlink_domain::Timestamp::from_epoch_seconds(t).to_iso8601()
}

/// How a forced rotation that must wait for a running grace period is reported (`waiting`,
/// as docs/deploying.md says).
pub(crate) const FORCED_WAIT: &str = "a forced rotation waits for the grace period";

/// When AWSCURRENT took its value: the stamp written just before the switch, or the
/// version's creation when that is later (a link created or updated since).
pub(crate) fn switched_at(version_created: Option<i64>, stamped: Option<i64>, now: i64) -> i64 {
    match (version_created, stamped) {
        (Some(c), Some(s)) => c.max(s),
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => now,
    }
}
