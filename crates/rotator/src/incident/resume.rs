//! `Resume`: removes exactly what Suspend added, in the reverse order: the key it deactivated
//! is reactivated (no other key), the `TrustLinkSuspended` statement is removed (every other
//! statement kept as it is), and the suspension's tags go last, so a run stopped anywhere is
//! still suspended and a rerun finishes.

use futures::future::BoxFuture;
use futures::FutureExt;
use trustlink_aws::ports::{Cloud, KeyStatus, Roles};
use trustlink_domain::incident::{self, next_resume_step, tag, ResumeStep, SUSPENDED_SID};
use trustlink_domain::record::LinkRecord;
use trustlink_domain::rotation::Ask;

use super::suspend::Observed;
use crate::command::Command;
use crate::report::{Action, IncidentReport};
use crate::rotation::{Rotation, StepResult};
use crate::Rotator;

pub(crate) struct ResumeRotation<'a, C> {
    pub rotator: &'a Rotator<C>,
    pub rec: &'a LinkRecord,
}

impl<C: Cloud> Rotation for ResumeRotation<'_, C> {
    type Step = ResumeStep;
    type Observed = Observed;
    const NAME: &'static str = "resume";

    fn observe(&self) -> BoxFuture<'_, StepResult<Observed>> {
        self.rotator.observe_suspension(self.rec).boxed()
    }

    fn decide(&self, o: &Observed, _now: i64, _ask: Ask) -> ResumeStep {
        next_resume_step(&o.view)
    }

    fn is_final(step: &ResumeStep) -> bool {
        step.is_final()
    }

    fn act<'a>(&'a self, step: &'a ResumeStep, o: &'a Observed) -> BoxFuture<'a, StepResult<()>> {
        async move {
            let r = self.rotator;
            match step {
                ResumeStep::Reactivate(id) => r.set_key_status(o, id, KeyStatus::Active).await?,
                ResumeStep::Allow => {
                    let trust = incident::without_suspension(&o.trust);
                    let iam = r.cloud.iam(&o.role.account).await?;
                    iam.update_trust_policy(&o.role.name, &trust).await?;
                }
                ResumeStep::Forget => {
                    let keys: Vec<String> = tag::ALL.iter().map(|k| k.to_string()).collect();
                    let iam = r.cloud.iam(&o.role.account).await?;
                    iam.untag_role(&o.role.name, &keys).await?;
                }
                ResumeStep::Done => {}
            }
            Ok(())
        }
        .boxed()
    }

    fn outcome(
        &self,
        _last: &ResumeStep,
        done: &[ResumeStep],
        _o: &Observed,
        _ask: Ask,
    ) -> (Action, String) {
        if done.is_empty() {
            return (
                Action::Skipped,
                "the link is not suspended: nothing to resume".into(),
            );
        }
        let mut undone = Vec::new();
        for step in done {
            match step {
                ResumeStep::Reactivate(id) => {
                    undone.push(format!("the access key {id} is active again"))
                }
                ResumeStep::Allow => undone.push(format!(
                    "the trust policy's {SUSPENDED_SID} statement is removed"
                )),
                ResumeStep::Forget => undone.push("the suspension's role tags are removed".into()),
                ResumeStep::Done => {}
            }
        }
        (
            Action::Resumed,
            format!("resumed: {}; rotations run again", undone.join(", ")),
        )
    }
}

impl<C: Cloud> Rotator<C> {
    pub(crate) async fn resume(&self, rec: &LinkRecord, command: &Command) -> IncidentReport {
        let rotation = ResumeRotation { rotator: self, rec };
        self.drive_incident(&rotation, rec, command, "Resume").await
    }
}
