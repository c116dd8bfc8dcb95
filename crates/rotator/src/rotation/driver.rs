//! The one loop every rotation runs: observe once, then decide and act, each step's effect
//! carried into the observation (a rotation that cannot carry one is observed again), until
//! the decider says nothing is left to do now. A dry run stops at the first step it would
//! take; a rotation that does not settle within [`MAX_STEPS`] fails rather than loop. An
//! error ends the rotation: the next run observes afresh and resumes, so what was carried
//! never outlives the run that wrote it.

use tracing::{info, warn};

use super::{Carried, Outcome, Rotation, StepError};
use crate::clock::Clock;
use crate::command::Command;
use crate::report::Action;

/// At most this many steps per rotation and run; a healthy rotation needs five.
pub const MAX_STEPS: usize = 12;

/// Runs `rotation` of `link` as `command` asks.
pub async fn drive<R: Rotation>(
    rotation: &R,
    link: &str,
    clock: &dyn Clock,
    command: &Command,
) -> Outcome {
    let mut done: Vec<R::Step> = Vec::new();
    let mut carried: Option<R::Observed> = None;
    for _ in 0..MAX_STEPS {
        let now = clock.now();
        let mut observed = match carried.take() {
            Some(o) => o,
            None => match rotation.observe().await {
                Ok(o) => o,
                Err(e) => return failed::<R>(link, e, done),
            },
        };
        let step = rotation.decide(&observed, now, command.ask);
        info!(link, rotation = R::NAME, step = ?step, dry_run = command.dry_run, "decision");
        if R::is_final(&step) {
            let (action, detail) = rotation.outcome(&step, &done, &observed, command.ask);
            return Outcome {
                action,
                detail,
                steps: done.into_iter().map(Into::into).collect(),
            };
        }
        if command.dry_run {
            return Outcome {
                action: Action::Planned,
                detail: format!("would {step:?}"),
                steps: vec![step.into()],
            };
        }
        match rotation.act_and_carry(&step, &mut observed).await {
            Err(e) => return failed::<R>(link, e, done),
            Ok(Carried::Yes) => carried = Some(observed),
            Ok(Carried::No) => {}
        }
        done.push(step);
    }
    failed::<R>(link, StepError::Unsettled(MAX_STEPS), done)
}

fn failed<R: Rotation>(link: &str, e: StepError, done: Vec<R::Step>) -> Outcome {
    warn!(link, rotation = R::NAME, error = %e, "rotation failed; the next run resumes from here");
    Outcome {
        action: Action::Failed,
        detail: e.to_string(),
        steps: done.into_iter().map(Into::into).collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures::future::BoxFuture;
    use futures::FutureExt;
    use trustlink_domain::rotation::{Ask, ExternalIdStep};

    use super::*;
    use crate::rotation::{Step, StepResult};
    use crate::OffsetClock;

    /// A rotation over a counter: each act moves it on; the decider reads it.
    struct Counter {
        /// The steps to take, in order, before `Idle`.
        plan: Vec<ExternalIdStep>,
        at: Mutex<usize>,
        fail_at: Option<usize>,
        acted: Mutex<Vec<ExternalIdStep>>,
        /// Carries each step's effect into the observation instead of being observed again.
        carries: bool,
        observations: Mutex<usize>,
    }

    impl Counter {
        fn new(plan: Vec<ExternalIdStep>) -> Self {
            Self {
                plan,
                at: Mutex::new(0),
                fail_at: None,
                acted: Mutex::new(Vec::new()),
                carries: false,
                observations: Mutex::new(0),
            }
        }
    }

    impl Rotation for Counter {
        type Step = ExternalIdStep;
        type Observed = usize;
        const NAME: &'static str = "counter";

        fn observe(&self) -> BoxFuture<'_, StepResult<usize>> {
            *self.observations.lock().unwrap() += 1;
            let at = *self.at.lock().unwrap();
            async move { Ok(at) }.boxed()
        }

        fn decide(&self, at: &usize, _now: i64, _ask: Ask) -> ExternalIdStep {
            self.plan
                .get(*at)
                .cloned()
                .unwrap_or(ExternalIdStep::Idle { next_due: None })
        }

        fn is_final(step: &ExternalIdStep) -> bool {
            step.is_final()
        }

        fn act<'a>(
            &'a self,
            step: &'a ExternalIdStep,
            at: &'a usize,
        ) -> BoxFuture<'a, StepResult<()>> {
            async move {
                if self.fail_at == Some(*at) {
                    return Err(StepError::Missing("pending external ID"));
                }
                self.acted.lock().unwrap().push(step.clone());
                *self.at.lock().unwrap() += 1;
                Ok(())
            }
            .boxed()
        }

        fn act_and_carry<'a>(
            &'a self,
            step: &'a ExternalIdStep,
            at: &'a mut usize,
        ) -> BoxFuture<'a, StepResult<Carried>> {
            async move {
                self.act(step, at).await?;
                if !self.carries {
                    return Ok(Carried::No);
                }
                *at += 1;
                Ok(Carried::Yes)
            }
            .boxed()
        }

        fn outcome(
            &self,
            _last: &ExternalIdStep,
            done: &[ExternalIdStep],
            _at: &usize,
            _ask: Ask,
        ) -> (Action, String) {
            (Action::Skipped, format!("{} steps", done.len()))
        }
    }

    fn command(dry_run: bool) -> Command {
        Command {
            dry_run,
            ..Command::default()
        }
    }

    fn plan() -> Vec<ExternalIdStep> {
        vec![ExternalIdStep::CreatePending, ExternalIdStep::AcceptPending]
    }

    #[tokio::test]
    async fn runs_until_a_final_step_and_keeps_the_typed_history() {
        let c = Counter::new(plan());
        let out = drive(&c, "l", &OffsetClock::default(), &command(false)).await;
        assert_eq!(out.action, Action::Skipped);
        assert_eq!(out.detail, "2 steps");
        assert_eq!(
            out.steps,
            vec![
                Step::ExternalId(ExternalIdStep::CreatePending),
                Step::ExternalId(ExternalIdStep::AcceptPending)
            ]
        );
        assert_eq!(out.steps[0].to_string(), "CreatePending");
    }

    #[tokio::test]
    async fn a_rotation_that_carries_its_effects_is_observed_once() {
        let mut c = Counter::new(plan());
        c.carries = true;
        let out = drive(&c, "l", &OffsetClock::default(), &command(false)).await;
        assert_eq!(out.steps.len(), 2);
        assert_eq!(*c.observations.lock().unwrap(), 1);
        // One that does not is observed before every decision.
        let c = Counter::new(plan());
        drive(&c, "l", &OffsetClock::default(), &command(false)).await;
        assert_eq!(*c.observations.lock().unwrap(), 3);
    }

    #[tokio::test]
    async fn a_dry_run_plans_the_first_step_and_acts_on_nothing() {
        let c = Counter::new(plan());
        let out = drive(&c, "l", &OffsetClock::default(), &command(true)).await;
        assert_eq!(out.action, Action::Planned);
        assert_eq!(out.detail, "would CreatePending");
        assert_eq!(out.steps.len(), 1);
        assert!(c.acted.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_failed_step_fails_the_rotation_with_the_steps_before_it() {
        let mut c = Counter::new(plan());
        c.fail_at = Some(1);
        let out = drive(&c, "l", &OffsetClock::default(), &command(false)).await;
        assert_eq!(out.action, Action::Failed);
        assert_eq!(out.detail, "no pending external ID");
        assert_eq!(out.steps.len(), 1);
    }

    #[tokio::test]
    async fn a_rotation_that_never_settles_stops_at_the_step_limit() {
        let c = Counter::new(vec![ExternalIdStep::RetirePrevious; 100]);
        let out = drive(&c, "l", &OffsetClock::default(), &command(false)).await;
        assert_eq!(out.action, Action::Failed);
        assert_eq!(
            out.detail,
            format!("did not settle within {MAX_STEPS} steps")
        );
        assert_eq!(out.steps.len(), MAX_STEPS);
        assert_eq!(c.acted.lock().unwrap().len(), MAX_STEPS);
    }
}
