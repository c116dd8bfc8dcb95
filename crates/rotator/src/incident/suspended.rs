//! While a link is suspended its rotations do not run (they would switch the deactivated
//! key back on, and prove new values the trust policy denies): the run reports `suspended`.

use trustlink_aws::ports::{Cloud, RoleInfo, Roles};
use trustlink_aws::NotFoundExt;
use trustlink_domain::incident::Suspension;
use trustlink_domain::record::LinkRecord;

use super::role::role_of;
use crate::report::{Action, RotationReport};
use crate::rotation::{time, StepResult};
use crate::Rotator;

impl<C: Cloud> Rotator<C> {
    /// The link's suspension, if its role has one. A role that is gone is no suspension: the
    /// rotations then report what is missing.
    pub(crate) async fn suspension(&self, rec: &LinkRecord) -> StepResult<Option<Suspension>> {
        Ok(self.suspension_and_role(rec).await?.0)
    }

    /// The link's suspension and the role it was read from (`None` when the role is gone),
    /// so a rotation that follows can start from that read instead of a second GetRole.
    pub(crate) async fn suspension_and_role(
        &self,
        rec: &LinkRecord,
    ) -> StepResult<(Option<Suspension>, Option<RoleInfo>)> {
        let role = role_of(rec)?;
        let info = self
            .cloud
            .iam(&role.account)
            .await?
            .get_role(&role.name)
            .await
            .optional()?;
        let suspension = info.as_ref().and_then(|r| Suspension::from_tags(&r.tags));
        Ok((suspension, info))
    }
}

/// The report of a rotation skipped for a suspension.
pub(crate) fn skipped_for(s: &Suspension) -> RotationReport {
    RotationReport {
        action: Action::Suspended,
        detail: format!(
            "the link is suspended (since {} by {}: {}): not rotated; Resume it to rotate again",
            time(s.at),
            s.by,
            s.reason
        ),
        steps: Vec::new(),
    }
}
