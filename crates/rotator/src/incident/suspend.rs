//! `Suspend`: new sessions are refused while the link keeps everything it needs to come
//! back. The role is tagged first (who, when, why, which key), then the trust policy gets the
//! `TrustLinkSuspended` deny for the trusted principal, then the AWSCURRENT key is
//! deactivated. A run stopped after the first write already counts as suspended (the
//! rotations skip the link); a rerun, of Suspend or Resume, finishes from what it finds.

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::Value;
use trustlink_aws::ports::{AccessKeys, Cloud, KeyStatus, Roles, Secrets, AWSCURRENT};
use trustlink_domain::incident::{
    self, next_suspend_step, SuspendStep, SuspendView, Suspension, SUSPENDED_SID,
};
use trustlink_domain::record::{self, AccessKeySecret, LinkRecord};
use trustlink_domain::rotation::{Ask, KeyView};
use trustlink_domain::AccountId;

use super::role::{role_of, RoleOf};
use crate::command::Command;
use crate::report::{Action, IncidentReport};
use crate::rotation::{time, Rotation, StepError, StepResult};
use crate::Rotator;

/// What Suspend and Resume observe: the decider's view, and the role and user it was made of.
pub(crate) struct Observed {
    pub view: SuspendView,
    pub role: RoleOf,
    pub trust: Value,
    /// The managed user: its account and name.
    pub user: Option<(AccountId, String)>,
}

impl<C: Cloud> Rotator<C> {
    /// The role's suspension tags and trust policy; with a managed key, the AWSCURRENT key
    /// and the user's keys.
    pub(crate) async fn observe_suspension(&self, rec: &LinkRecord) -> StepResult<Observed> {
        let role = role_of(rec)?;
        let info = self
            .cloud
            .iam(&role.account)
            .await?
            .get_role(&role.name)
            .await?;
        let mut view = SuspendView {
            suspension: Suspension::from_tags(&info.tags),
            denied: incident::is_suspended(&info.trust_policy),
            current_key: None,
            keys: Vec::new(),
        };
        let mut user = None;
        if rec.access_key {
            let name = record::access_key_secret_name(&rec.link_name);
            let current = self
                .cloud
                .secrets()
                .get_secret_value(&name, AWSCURRENT)
                .await?;
            let key = AccessKeySecret::parse(&current.text).map_err(StepError::record)?;
            let principal = &rec.trusted_principal;
            let account = principal.account().clone();
            let keys = self
                .cloud
                .iam(&account)
                .await?
                .list_access_keys(&key.user_name)
                .await?;
            view.keys = keys
                .iter()
                .map(|k| KeyView {
                    id: k.id.clone(),
                    active: k.status == KeyStatus::Active,
                })
                .collect();
            view.current_key = Some(key.access_key_id);
            user = Some((account, key.user_name));
        }
        Ok(Observed {
            view,
            role,
            trust: info.trust_policy,
            user,
        })
    }

    /// Sets the status of the managed user's key `id`.
    pub(crate) async fn set_key_status(
        &self,
        o: &Observed,
        id: &str,
        status: KeyStatus,
    ) -> StepResult<()> {
        let (account, user) = o.user.as_ref().ok_or(StepError::Missing("managed user"))?;
        let iam = self.cloud.iam(account).await?;
        Ok(iam.set_access_key_status(user, id, status).await?)
    }

    pub(crate) async fn suspend(
        &self,
        rec: &LinkRecord,
        reason: &str,
        command: &Command,
    ) -> IncidentReport {
        let asked = Suspension {
            at: self.clock.now(),
            by: incident::caller_tag(command.requested_by.as_deref()),
            reason: reason.to_string(),
            key: None,
        };
        let rotation = SuspendRotation {
            rotator: self,
            rec,
            asked,
        };
        self.drive_incident(&rotation, rec, command, "Suspend")
            .await
    }
}

pub(crate) struct SuspendRotation<'a, C> {
    pub rotator: &'a Rotator<C>,
    pub rec: &'a LinkRecord,
    /// The suspension this run records when the link is not suspended yet.
    pub asked: Suspension,
}

impl<C: Cloud> Rotation for SuspendRotation<'_, C> {
    type Step = SuspendStep;
    type Observed = Observed;
    const NAME: &'static str = "suspend";

    fn observe(&self) -> BoxFuture<'_, StepResult<Observed>> {
        self.rotator.observe_suspension(self.rec).boxed()
    }

    fn decide(&self, o: &Observed, _now: i64, _ask: Ask) -> SuspendStep {
        next_suspend_step(&o.view, &self.asked)
    }

    fn is_final(step: &SuspendStep) -> bool {
        step.is_final()
    }

    fn act<'a>(&'a self, step: &'a SuspendStep, o: &'a Observed) -> BoxFuture<'a, StepResult<()>> {
        async move {
            let r = self.rotator;
            match step {
                SuspendStep::Record(s) => {
                    let iam = r.cloud.iam(&o.role.account).await?;
                    iam.tag_role(&o.role.name, &s.to_tags()).await?;
                }
                SuspendStep::Deny => {
                    let trust =
                        incident::with_suspension(&o.trust, &self.rec.trusted_principal.arn());
                    let iam = r.cloud.iam(&o.role.account).await?;
                    iam.update_trust_policy(&o.role.name, &trust).await?;
                }
                SuspendStep::Deactivate(id) => r.set_key_status(o, id, KeyStatus::Inactive).await?,
                SuspendStep::Done(_) => {}
            }
            Ok(())
        }
        .boxed()
    }

    fn outcome(
        &self,
        last: &SuspendStep,
        done: &[SuspendStep],
        _o: &Observed,
        _ask: Ask,
    ) -> (Action, String) {
        let SuspendStep::Done(s) = last else {
            return (Action::Failed, format!("stopped at {last:?}"));
        };
        let key = match &s.key {
            Some(id) => format!("; the access key {id} is inactive"),
            None => String::new(),
        };
        let already = if done.is_empty() { "already " } else { "" };
        (
            Action::Suspended,
            format!(
                "{already}suspended: the trust policy denies {} (statement {SUSPENDED_SID}){key}; suspended at {} by {}: {}; rotations skip the link until Resume",
                self.rec.trusted_principal,
                time(s.at),
                s.by,
                s.reason
            ),
        )
    }
}
