//! The external ID's rotation: a new ID is made AWSPENDING, accepted next to the current one
//! by the trust policy (and the grant), proven, and made AWSCURRENT; after the grace period
//! only the new one is accepted.

use std::sync::Mutex;

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::Value;
use tracing::info;
use trustlink_aws::ports::{
    Cloud, Policies, RoleInfo, Roles, SecretDescription, SecretValue, Secrets, AWSCURRENT,
    AWSPENDING,
};
use trustlink_aws::{probe, NotFoundExt};
use trustlink_domain::policy::{self, Principal};
use trustlink_domain::record::{self, tag, AccessKeySecret, ExternalIdSecret, LinkRecord};
use trustlink_domain::rotation::{
    next_external_id_step, Ask, ExternalIdStep, ExternalIdView, Periods,
};
use trustlink_domain::secret::request_token;
use trustlink_domain::self_assume::{self_assume, SelfAssume};
use trustlink_domain::{AccountId, ExternalId};

use super::probe::credentials_of;
use super::{switched_at, time, Carried, Rotation, StepError, StepResult, FORCED_WAIT};
use crate::report::Action;
use crate::Rotator;

/// The external ID rotation of one link.
pub struct ExternalIdRotation<'a, C> {
    pub rotator: &'a Rotator<C>,
    pub rec: &'a LinkRecord,
    /// The role as the run read it just before (the suspension check): the first observation
    /// uses it instead of a second GetRole; taken once, so an observation after an error
    /// reads the role afresh.
    seen_role: Mutex<Option<RoleInfo>>,
}

impl<'a, C> ExternalIdRotation<'a, C> {
    /// A rotation whose first observation reads the role itself.
    pub fn new(rotator: &'a Rotator<C>, rec: &'a LinkRecord) -> Self {
        Self::after_reading(rotator, rec, None)
    }

    /// A rotation whose first observation starts from `role`, read moments ago.
    pub fn after_reading(
        rotator: &'a Rotator<C>,
        rec: &'a LinkRecord,
        role: Option<RoleInfo>,
    ) -> Self {
        Self {
            rotator,
            rec,
            seen_role: Mutex::new(role),
        }
    }
}

/// What an observation saw: the decider's view, and the versions and role it was made of.
pub struct Observed {
    view: ExternalIdView,
    current: SecretValue,
    current_value: ExternalIdSecret,
    /// AWSPENDING, on whatever version it is.
    pending: Option<SecretValue>,
    /// Its value, when on another version than AWSCURRENT.
    pending_value: Option<ExternalIdSecret>,
    account: AccountId,
    role_name: String,
    trust: Value,
}

impl<C: Cloud> Rotation for ExternalIdRotation<'_, C> {
    type Step = ExternalIdStep;
    type Observed = Observed;
    const NAME: &'static str = "external_id";

    fn observe(&self) -> BoxFuture<'_, StepResult<Observed>> {
        self.observe_now().boxed()
    }

    fn decide(&self, o: &Observed, now: i64, ask: Ask) -> ExternalIdStep {
        let periods = Periods::new(
            self.rec.rotation.external_id_days,
            self.rec.rotation.grace_hours,
        );
        next_external_id_step(&o.view, periods, now, ask)
    }

    fn is_final(step: &ExternalIdStep) -> bool {
        step.is_final()
    }

    fn act<'a>(
        &'a self,
        step: &'a ExternalIdStep,
        o: &'a Observed,
    ) -> BoxFuture<'a, StepResult<()>> {
        self.act(step, o).boxed()
    }

    fn act_and_carry<'a>(
        &'a self,
        step: &'a ExternalIdStep,
        o: &'a mut Observed,
    ) -> BoxFuture<'a, StepResult<Carried>> {
        async move {
            let effect = self.act_now(step, o).await?;
            carry(step, effect, o, self.rotator.clock.now());
            Ok(Carried::Yes)
        }
        .boxed()
    }

    fn outcome(
        &self,
        last: &ExternalIdStep,
        done: &[ExternalIdStep],
        _o: &Observed,
        ask: Ask,
    ) -> (Action, String) {
        outcome(last, done, ask)
    }
}

impl<C: Cloud> ExternalIdRotation<'_, C> {
    fn secret_name(&self) -> String {
        record::external_id_secret_name(&self.rec.link_name)
    }

    async fn observe_now(&self) -> StepResult<Observed> {
        let r = self.rotator;
        let (rec, described) = &r.fresh_description(self.rec).await?;
        let secrets = r.cloud.secrets();
        let name = self.secret_name();
        let current = secrets.get_secret_value(&name, AWSCURRENT).await?;
        let current_value = ExternalIdSecret::parse(&current.text).map_err(StepError::record)?;
        let pending = read_stage(&secrets, &name, described, AWSPENDING, &current).await?;
        let (account, role_name) = record::role_of_arn(&rec.role_arn)
            .ok_or_else(|| StepError::Record(format!("{} is not a role ARN", rec.role_arn)))?;
        let role = match self.take_seen_role(&account, &role_name) {
            Some(role) => role,
            None => r.cloud.iam(&account).await?.get_role(&role_name).await?,
        };
        let pending_value = match &pending {
            Some(p) if p.version_id != current.version_id => {
                Some(ExternalIdSecret::parse(&p.text).map_err(StepError::record)?)
            }
            _ => None,
        };
        let view = ExternalIdView {
            current: current_value.external_id.expose().to_string(),
            current_since: switched_at(current.created, rec.external_id_rotated_at, r.clock.now()),
            pending: pending_value
                .as_ref()
                .map(|p| p.external_id.expose().to_string()),
            pending_on_current: pending
                .as_ref()
                .is_some_and(|p| p.version_id == current.version_id),
            accepted: policy::accepted_external_ids(&role.trust_policy),
        };
        Ok(Observed {
            view,
            current,
            current_value,
            pending,
            pending_value,
            account,
            role_name,
            trust: role.trust_policy,
        })
    }

    /// The role read before the rotation began, once, and only if it is the role the
    /// record names now (a record changed since then names another role: read that one).
    fn take_seen_role(&self, account: &AccountId, role_name: &str) -> Option<RoleInfo> {
        let seen = self.seen_role.lock().ok()?.take()?;
        let same =
            record::role_of_arn(&seen.arn).is_some_and(|(a, n)| &a == account && n == role_name);
        same.then_some(seen)
    }

    async fn act(&self, step: &ExternalIdStep, o: &Observed) -> StepResult<()> {
        self.act_now(step, o).await.map(drop)
    }

    async fn act_now(&self, step: &ExternalIdStep, o: &Observed) -> StepResult<Effect> {
        let secrets = self.rotator.cloud.secrets();
        let name = self.secret_name();
        let view = &o.view;
        match step {
            ExternalIdStep::RepairCurrent => {
                let mut accepted: Vec<&str> = vec![view.current.as_str()];
                accepted.extend(
                    view.accepted
                        .iter()
                        .map(String::as_str)
                        .filter(|a| *a != view.current),
                );
                self.accept(o, &accepted).await.map(Effect::Trust)
            }
            ExternalIdStep::ClearPendingLabel => {
                secrets
                    .remove_stage(&name, AWSPENDING, &o.current.version_id)
                    .await?;
                Ok(Effect::Nothing)
            }
            ExternalIdStep::CreatePending => {
                let next = ExternalIdSecret {
                    external_id: ExternalId::generate(),
                    ..o.current_value.clone()
                };
                let text = next.to_text();
                let version_id = secrets
                    .put_secret_value(&name, &text, &[AWSPENDING], &request_token())
                    .await?;
                let version = SecretValue {
                    version_id,
                    stages: vec![AWSPENDING.to_string()],
                    text,
                    created: Some(self.rotator.clock.now()),
                };
                Ok(Effect::Pending(Box::new((version, next))))
            }
            ExternalIdStep::AcceptPending => {
                let pending = view
                    .pending
                    .as_deref()
                    .ok_or(StepError::Missing("pending external ID"))?;
                self.accept(o, &[&view.current, pending])
                    .await
                    .map(Effect::Trust)
            }
            ExternalIdStep::Promote => self.promote(o).await.map(|()| Effect::Nothing),
            ExternalIdStep::RetirePrevious => {
                self.accept(o, &[&view.current]).await.map(Effect::Trust)
            }
            ExternalIdStep::Wait { .. } | ExternalIdStep::Idle { .. } => Ok(Effect::Nothing),
        }
    }

    /// Proves the pending ID, then makes it AWSCURRENT.
    async fn promote(&self, o: &Observed) -> StepResult<()> {
        let (Some(pending), Some(pending_value)) = (&o.pending, &o.pending_value) else {
            return Err(StepError::Missing("pending external ID"));
        };
        self.check(o, &pending_value.external_id).await?;
        // The switch time first: grace periods count from it, and a stamp that is early
        // (the move then failed) only delays the next rotation.
        let name = self.secret_name();
        self.rotator
            .stamp(&name, tag::EXTERNAL_ID_ROTATED_AT)
            .await?;
        self.rotator
            .cloud
            .secrets()
            .move_stage(
                &name,
                AWSCURRENT,
                &pending.version_id,
                Some(&o.current.version_id),
            )
            .await?;
        Ok(())
    }

    /// Makes the trust policy, and the grant when the link has one, accept exactly `ids`,
    /// keeping every other statement and condition as it is; returns the policy written.
    async fn accept(&self, o: &Observed, ids: &[&str]) -> StepResult<Value> {
        let (cloud, rec) = (&self.rotator.cloud, self.rec);
        let iam = cloud.iam(&o.account).await?;
        let mut trust = o.trust.clone();
        if policy::set_external_ids(&mut trust, ids) == 0 {
            return Err(StepError::NoExternalIdCondition {
                role_arn: rec.role_arn.clone(),
            });
        }
        iam.update_trust_policy(&o.role_name, &trust).await?;
        if let Some(grant) = &rec.grant_policy_arn {
            let trusted = cloud.iam(self.principal().account()).await?;
            let wanted = policy::grant_policy(&rec.role_arn, ids);
            if trusted.get_policy_document(grant).await? != wanted {
                trusted.set_policy_document(grant, &wanted).await?;
            }
        }
        Ok(trust)
    }

    fn principal(&self) -> &Principal {
        &self.rec.trusted_principal
    }

    /// The pending ID is admitted by the trust policy as IAM now has it; with a managed key,
    /// assuming the role with it works too. Whether conditions (MFA, source IP, org, a time
    /// window) stop the function's own attempt is decided from the policy first: then only
    /// the policy is checked, with no probe to wait for.
    async fn check(&self, o: &Observed, pending: &ExternalId) -> StepResult<()> {
        let (r, rec) = (self.rotator, self.rec);
        let role = r
            .cloud
            .iam(&o.account)
            .await?
            .get_role(&o.role_name)
            .await?;
        if !policy::admits(
            &role.trust_policy,
            &rec.trusted_principal.arn(),
            pending.expose(),
        ) {
            return Err(StepError::NotAdmittedYet);
        }
        if !rec.access_key {
            return Ok(());
        }
        let principal = self.principal();
        match self_assume(&role.trust_policy, principal, pending, r.clock.now()) {
            SelfAssume::Possible => self.probe(pending).await,
            SelfAssume::Gated(conditions) => {
                let keys: Vec<&str> = conditions.iter().map(|c| c.key.as_str()).collect();
                info!(link = %rec.link_name, conditions = ?keys,
                    "conditions the function cannot meet: checked the trust policy only");
                Ok(())
            }
            SelfAssume::Refused => Err(StepError::Refused {
                role_arn: rec.role_arn.clone(),
                principal: principal.arn(),
            }),
        }
    }

    /// Assumes the role with the link's key and the pending ID, as a consumer would.
    async fn probe(&self, pending: &ExternalId) -> StepResult<()> {
        let (r, rec) = (self.rotator, self.rec);
        let key_secret = r
            .cloud
            .secrets()
            .get_secret_value(&record::access_key_secret_name(&rec.link_name), AWSCURRENT)
            .await?;
        let key =
            credentials_of(&AccessKeySecret::parse(&key_secret.text).map_err(StepError::record)?);
        let session = "trustlink-rotation-check";
        // The role's partition and account, from its ARN.
        let expected = probe::session_arn(&rec.role_arn, session).unwrap_or_default();
        let me = r
            .retrying("the pending external ID", || {
                probe::assume_and_identify(
                    &r.cloud,
                    &key,
                    &rec.role_arn,
                    session,
                    Some(pending.expose()),
                )
            })
            .await
            .map_err(StepError::AssumeFailed)?;
        if me.arn != expected {
            return Err(StepError::AssumedWrongRole {
                got: me.arn,
                expected,
            });
        }
        Ok(())
    }
}

/// What a step wrote that the observation cannot tell by itself.
enum Effect {
    Nothing,
    /// The trust policy as written.
    Trust(Value),
    /// The new AWSPENDING version and its value.
    Pending(Box<(SecretValue, ExternalIdSecret)>),
}

/// The observation as it is after `step` succeeded with `effect`, at `now`: what observing
/// again would see, without the calls.
fn carry(step: &ExternalIdStep, effect: Effect, o: &mut Observed, now: i64) {
    match effect {
        Effect::Trust(trust) => {
            o.view.accepted = policy::accepted_external_ids(&trust);
            o.trust = trust;
        }
        Effect::Pending(made) => {
            let (version, value) = *made;
            o.view.pending = Some(value.external_id.expose().to_string());
            o.pending = Some(version);
            o.pending_value = Some(value);
        }
        Effect::Nothing => {}
    }
    match step {
        ExternalIdStep::ClearPendingLabel => {
            o.pending = None;
            o.view.pending_on_current = false;
        }
        // AWSCURRENT moved to the pending version; AWSPENDING is still on it until cleared.
        ExternalIdStep::Promote => {
            if let (Some(mut version), Some(value)) = (o.pending.take(), o.pending_value.take()) {
                version.stages.push(AWSCURRENT.to_string());
                o.view.current = value.external_id.expose().to_string();
                o.view.current_since = now;
                o.view.pending = None;
                o.view.pending_on_current = true;
                o.current = version.clone();
                o.current_value = value;
                o.pending = Some(version);
            }
        }
        _ => {}
    }
}

/// The version `stage` labels, read only when DescribeSecret lists it on a version other
/// than AWSCURRENT's (on AWSCURRENT's it is that version).
pub(super) async fn read_stage<S: Secrets>(
    secrets: &S,
    name: &str,
    described: &SecretDescription,
    stage: &str,
    current: &SecretValue,
) -> StepResult<Option<SecretValue>> {
    let Some(version) = described
        .versions
        .iter()
        .find(|v| v.stages.iter().any(|s| s == stage))
    else {
        return Ok(None);
    };
    if version.version_id == current.version_id {
        return Ok(Some(current.clone()));
    }
    Ok(secrets.get_secret_value(name, stage).await.optional()?)
}

/// What the run did, from the steps it took; else what it stopped at.
fn outcome(last: &ExternalIdStep, done: &[ExternalIdStep], ask: Ask) -> (Action, String) {
    let did = |s: ExternalIdStep| done.contains(&s);
    if did(ExternalIdStep::Promote) {
        let until = match last {
            ExternalIdStep::Wait { until } => {
                format!("; the previous one is accepted until {}", time(*until))
            }
            _ => String::new(),
        };
        return (
            Action::Rotated,
            format!("a new external ID is AWSCURRENT{until}"),
        );
    }
    if did(ExternalIdStep::RetirePrevious) {
        return (
            Action::Retired,
            "the trust policy now accepts only the current external ID".into(),
        );
    }
    if did(ExternalIdStep::RepairCurrent) {
        return (
            Action::Repaired,
            "the trust policy accepts the current external ID again".into(),
        );
    }
    match last {
        // Not a hold: nothing needs an operator, the grace period ends by itself.
        ExternalIdStep::Wait { until } if ask.force => (
            Action::Waiting,
            format!("{FORCED_WAIT}: the previous external ID is accepted until {}; force again after that (or end the grace now with EndGrace)", time(*until)),
        ),
        ExternalIdStep::Wait { until } => (
            Action::Waiting,
            format!("the previous external ID is accepted until {}", time(*until)),
        ),
        ExternalIdStep::Idle { next_due: Some(t) } => {
            (Action::Skipped, format!("not due until {}", time(*t)))
        }
        ExternalIdStep::Idle { next_due: None } => (
            Action::Skipped,
            "scheduled rotation is off (ExternalIdDays: 0)".into(),
        ),
        other => (Action::Skipped, format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use trustlink_aws::ports::Op;
    use trustlink_domain::Conditions;

    use super::super::fixture::{action, Fixture};
    use super::*;
    use ExternalIdStep as S;

    #[tokio::test]
    async fn a_full_cycle_on_the_memory_cloud() {
        let f = Fixture::link("ext-cycle", &Conditions::default()).await;
        let report = f.run(0, json!({"Force": true})).await;
        assert_eq!(action(&report, "external_id"), "rotated", "{report:#}");
        let steps = &report["links"][0]["external_id"]["steps"];
        assert_eq!(
            steps,
            &json!([
                "CreatePending",
                "AcceptPending",
                "Promote",
                "ClearPendingLabel"
            ])
        );
        // A plain link is proven by assuming the role with the pending ID.
        assert!(f.faults.calls().contains(&Op::AssumeRole));
        let report = f.run(23, json!({})).await;
        assert_eq!(action(&report, "external_id"), "waiting", "{report:#}");
        let report = f.run(2, json!({})).await;
        assert_eq!(action(&report, "external_id"), "retired", "{report:#}");
        let report = f.run(0, json!({})).await;
        assert_eq!(action(&report, "external_id"), "skipped", "{report:#}");
    }

    /// The suspension check's GetRole is the external ID's first observation too: a run
    /// that finds nothing due reads the link's role once (twice when both read it).
    #[tokio::test]
    async fn a_run_reads_the_role_once_per_link() {
        let f = Fixture::link("ext-one-read", &Conditions::default()).await;
        let report = f.run(0, json!({})).await;
        assert_eq!(action(&report, "external_id"), "skipped", "{report:#}");
        let reads = f
            .faults
            .calls()
            .iter()
            .filter(|op| **op == Op::GetRole)
            .count();
        assert_eq!(reads, 1, "{:?}", f.faults.calls());
    }

    /// Issue 11.3: an MFA-gated link is decided on its trust policy before any probe, so its
    /// rotation makes no STS call and waits for no retry.
    #[tokio::test]
    async fn a_gated_link_is_promoted_on_its_policy_without_a_probe() {
        let mfa = Conditions {
            require_mfa: true,
            ..Conditions::default()
        };
        let f = Fixture::link("ext-gated", &mfa).await;
        let report = f.run(0, json!({"Force": true})).await;
        assert_eq!(action(&report, "external_id"), "rotated", "{report:#}");
        assert!(
            !f.faults.calls().contains(&Op::AssumeRole),
            "{:?}",
            f.faults.calls()
        );
    }

    #[test]
    fn outcomes_follow_the_steps_taken() {
        let ask = Ask::default();
        let idle = S::Idle { next_due: Some(0) };
        assert_eq!(
            outcome(&S::Wait { until: 0 }, &[S::CreatePending, S::Promote], ask),
            (
                Action::Rotated,
                "a new external ID is AWSCURRENT; the previous one is accepted until 1970-01-01T00:00:00Z".into()
            )
        );
        assert_eq!(outcome(&idle, &[S::RetirePrevious], ask).0, Action::Retired);
        assert_eq!(outcome(&idle, &[S::RepairCurrent], ask).0, Action::Repaired);
        assert_eq!(
            outcome(&idle, &[], ask),
            (Action::Skipped, "not due until 1970-01-01T00:00:00Z".into())
        );
        let forced = Ask {
            force: true,
            ..Ask::default()
        };
        let (action, detail) = outcome(&S::Wait { until: 0 }, &[], forced);
        assert_eq!(action, Action::Waiting);
        assert!(detail.starts_with(FORCED_WAIT), "{detail}");
    }
}
