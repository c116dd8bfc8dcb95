//! `Revoke`: the role's inline policy `TrustLinkRevokeSessions` denies every action to the
//! sessions issued before the command's time (IAM's "Revoke active sessions"). One write;
//! a rerun finds it done, a later revoke moves the date forward.

use futures::future::BoxFuture;
use futures::FutureExt;
use trustlink_aws::ports::{Cloud, Roles};
use trustlink_aws::NotFoundExt;
use trustlink_domain::incident::{
    next_revoke_step, revoke_policy, revoked_before, RevokeStep, REVOKE_POLICY_NAME,
};
use trustlink_domain::record::LinkRecord;
use trustlink_domain::rotation::Ask;

use super::role::{role_of, RoleOf};
use crate::command::Command;
use crate::report::{Action, IncidentReport};
use crate::rotation::{time, Rotation, StepResult};
use crate::Rotator;

pub(crate) struct RevokeRotation<'a, C> {
    pub rotator: &'a Rotator<C>,
    pub rec: &'a LinkRecord,
    /// Sessions issued before this time (epoch seconds) are denied.
    pub at: i64,
}

pub(crate) struct Observed {
    role: RoleOf,
    /// The date of the revoke policy the role has, if any.
    revoked: Option<i64>,
}

impl<C: Cloud> Rotation for RevokeRotation<'_, C> {
    type Step = RevokeStep;
    type Observed = Observed;
    const NAME: &'static str = "revoke";

    fn observe(&self) -> BoxFuture<'_, StepResult<Observed>> {
        async move {
            let role = role_of(self.rec)?;
            let iam = self.rotator.cloud.iam(&role.account).await?;
            let doc = iam
                .get_role_policy(&role.name, REVOKE_POLICY_NAME)
                .await
                .optional()?;
            let revoked = doc.as_ref().and_then(revoked_before);
            Ok(Observed { role, revoked })
        }
        .boxed()
    }

    fn decide(&self, o: &Observed, _now: i64, _ask: Ask) -> RevokeStep {
        next_revoke_step(o.revoked, self.at)
    }

    fn is_final(step: &RevokeStep) -> bool {
        step.is_final()
    }

    fn act<'a>(&'a self, step: &'a RevokeStep, o: &'a Observed) -> BoxFuture<'a, StepResult<()>> {
        async move {
            if let RevokeStep::Put { before } = step {
                let iam = self.rotator.cloud.iam(&o.role.account).await?;
                iam.put_role_policy(&o.role.name, REVOKE_POLICY_NAME, &revoke_policy(*before))
                    .await?;
            }
            Ok(())
        }
        .boxed()
    }

    fn outcome(
        &self,
        last: &RevokeStep,
        _done: &[RevokeStep],
        _o: &Observed,
        _ask: Ask,
    ) -> (Action, String) {
        let before = match last {
            RevokeStep::Done { before } | RevokeStep::Put { before } => *before,
        };
        (Action::Revoked, revoked_detail(&self.rec.role_arn, before))
    }
}

pub(crate) fn revoked_detail(role_arn: &str, before: i64) -> String {
    format!(
        "sessions of {role_arn} issued before {} are denied every action (inline policy {REVOKE_POLICY_NAME}); new sessions work",
        time(before)
    )
}

impl<C: Cloud> Rotator<C> {
    pub(crate) async fn revoke(
        &self,
        rec: &LinkRecord,
        at: i64,
        command: &Command,
    ) -> IncidentReport {
        let rotation = RevokeRotation {
            rotator: self,
            rec,
            at,
        };
        self.drive_incident(&rotation, rec, command, "Revoke").await
    }
}
