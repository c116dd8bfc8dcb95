//! The access key's rotation: a new key is made AWSPENDING, proven to act as the link's
//! user, and made AWSCURRENT; after the grace period the previous key is deactivated (unless
//! it was used after the switch: held), and after another one deleted.

use futures::future::BoxFuture;
use futures::FutureExt;
use tracing::{info, warn};
use trustlink_aws::ports::{
    AccessKeys, Cloud, KeyStatus, SecretValue, Secrets, Sts, AWSCURRENT, AWSPENDING, AWSPREVIOUS,
};
use trustlink_domain::record::{self, tag, AccessKeySecret, LinkRecord};
use trustlink_domain::rotation::{
    next_access_key_step, AccessKeyStep, AccessKeyView, Ask, Creating, KeyView, Periods,
};
use trustlink_domain::secret::request_token;
use trustlink_domain::AccountId;

use super::external_id::read_stage;
use super::probe::credentials_of;
use super::{switched_at, time, Carried, Rotation, StepError, StepResult, FORCED_WAIT};
use crate::report::Action;
use crate::Rotator;

/// The access key rotation of one link with a managed key.
pub struct AccessKeyRotation<'a, C> {
    pub rotator: &'a Rotator<C>,
    pub rec: &'a LinkRecord,
}

/// What an observation saw: the decider's view, and the versions and user it was made of.
pub struct Observed {
    view: AccessKeyView,
    current: SecretValue,
    /// AWSPENDING and AWSPREVIOUS with their keys, when on another version than AWSCURRENT.
    pending: Option<(SecretValue, AccessKeySecret)>,
    previous: Option<(SecretValue, AccessKeySecret)>,
    user: String,
    account: AccountId,
}

impl<C: Cloud> Rotation for AccessKeyRotation<'_, C> {
    type Step = AccessKeyStep;
    type Observed = Observed;
    const NAME: &'static str = "access_key";

    fn observe(&self) -> BoxFuture<'_, StepResult<Observed>> {
        self.observe_now().boxed()
    }

    fn decide(&self, o: &Observed, now: i64, ask: Ask) -> AccessKeyStep {
        let periods = Periods::new(
            self.rec.rotation.access_key_days,
            self.rec.rotation.grace_hours,
        );
        next_access_key_step(&o.view, periods, now, ask)
    }

    fn is_final(step: &AccessKeyStep) -> bool {
        step.is_final()
    }

    fn act<'a>(
        &'a self,
        step: &'a AccessKeyStep,
        o: &'a Observed,
    ) -> BoxFuture<'a, StepResult<()>> {
        self.act_now(step, o).map(|r| r.map(drop)).boxed()
    }

    fn act_and_carry<'a>(
        &'a self,
        step: &'a AccessKeyStep,
        o: &'a mut Observed,
    ) -> BoxFuture<'a, StepResult<Carried>> {
        async move {
            let made = self.act_now(step, o).await?;
            carry(step, made, o, self.rotator.clock.now())?;
            Ok(Carried::Yes)
        }
        .boxed()
    }

    fn outcome(
        &self,
        last: &AccessKeyStep,
        done: &[AccessKeyStep],
        o: &Observed,
        ask: Ask,
    ) -> (Action, String) {
        outcome(last, done, &o.view, ask)
    }
}

/// A stage's value when it is on another version than AWSCURRENT's.
fn other_than(
    current: &SecretValue,
    v: Option<SecretValue>,
) -> StepResult<Option<(SecretValue, AccessKeySecret)>> {
    match v {
        Some(v) if v.version_id != current.version_id => {
            let parsed = AccessKeySecret::parse(&v.text).map_err(StepError::record)?;
            Ok(Some((v, parsed)))
        }
        _ => Ok(None),
    }
}

impl<C: Cloud> AccessKeyRotation<'_, C> {
    fn secret_name(&self) -> String {
        record::access_key_secret_name(&self.rec.link_name)
    }

    async fn observe_now(&self) -> StepResult<Observed> {
        let r = self.rotator;
        let rec = &r.fresh_record(self.rec).await?;
        let secrets = r.cloud.secrets();
        let name = self.secret_name();
        // First: its labels say which versions there are to read, and its tags hold the
        // creation marker.
        let described = secrets.describe_secret(&name).await?;
        let current = secrets.get_secret_value(&name, AWSCURRENT).await?;
        let current_value = AccessKeySecret::parse(&current.text).map_err(StepError::record)?;
        let pending_raw = read_stage(&secrets, &name, &described, AWSPENDING, &current).await?;
        let pending_on_current = pending_raw
            .as_ref()
            .is_some_and(|p| p.version_id == current.version_id);
        let pending = other_than(&current, pending_raw)?;
        let previous_raw = read_stage(&secrets, &name, &described, AWSPREVIOUS, &current).await?;
        let previous = other_than(&current, previous_raw)?;
        let tags = described.tags;
        let principal = &rec.trusted_principal;
        let iam = r.cloud.iam(principal.account()).await?;
        let user = current_value.user_name.clone();
        let keys = iam.list_access_keys(&user).await?;
        let previous_last_used = match &previous {
            Some((_, p)) if keys.iter().any(|k| k.id == p.access_key_id) => {
                iam.access_key_last_used(&p.access_key_id).await?
            }
            _ => None,
        };
        let view = AccessKeyView {
            current: current_value.access_key_id.clone(),
            current_since: switched_at(current.created, rec.access_key_rotated_at, r.clock.now()),
            pending: pending.as_ref().map(|(_, p)| p.access_key_id.clone()),
            pending_on_current,
            previous: previous.as_ref().map(|(_, p)| p.access_key_id.clone()),
            previous_last_used,
            keys: keys
                .iter()
                .map(|k| KeyView {
                    id: k.id.clone(),
                    active: k.status == KeyStatus::Active,
                })
                .collect(),
            creating: tags
                .get(tag::KEYS_BEFORE_CREATE)
                .and_then(|v| Creating::from_tag(v)),
        };
        Ok(Observed {
            view,
            current,
            pending,
            previous,
            user,
            account: principal.account().clone(),
        })
    }

    /// Takes `step`; returns the pending version and key when it made them.
    async fn act_now(&self, step: &AccessKeyStep, o: &Observed) -> StepResult<Option<Made>> {
        let r = self.rotator;
        let secrets = r.cloud.secrets();
        let name = self.secret_name();
        let iam = r.cloud.iam(&o.account).await?;
        let (user, view) = (o.user.as_str(), &o.view);
        let previous = view.previous.as_deref().unwrap_or_default();
        match step {
            AccessKeyStep::ReactivateCurrent => {
                iam.set_access_key_status(user, &view.current, KeyStatus::Active)
                    .await?
            }
            AccessKeyStep::ClearPendingLabel => {
                secrets
                    .remove_stage(&name, AWSPENDING, &o.current.version_id)
                    .await?
            }
            AccessKeyStep::DropStalePending => {
                let (pending, _) = o
                    .pending
                    .as_ref()
                    .ok_or(StepError::Missing("pending key"))?;
                secrets
                    .remove_stage(&name, AWSPENDING, &pending.version_id)
                    .await?
            }
            AccessKeyStep::DeleteOrphan(id) => {
                iam.delete_access_key(user, id).await?;
                r.set_creating(&name, None).await?;
            }
            AccessKeyStep::ClearCreating => r.set_creating(&name, None).await?,
            AccessKeyStep::MakeRoom(id) => iam.delete_access_key(user, id).await?,
            AccessKeyStep::CreatePending => return self.create_pending(o).await.map(Some),
            AccessKeyStep::Promote => self.promote(o).await?,
            AccessKeyStep::DeactivatePrevious => {
                iam.set_access_key_status(user, previous, KeyStatus::Inactive)
                    .await?
            }
            AccessKeyStep::DeletePrevious => iam.delete_access_key(user, previous).await?,
            AccessKeyStep::ForgetPrevious => {
                let (previous, _) = o
                    .previous
                    .as_ref()
                    .ok_or(StepError::Missing("previous key"))?;
                secrets
                    .remove_stage(&name, AWSPREVIOUS, &previous.version_id)
                    .await?
            }
            AccessKeyStep::CurrentMissing
            | AccessKeyStep::Hold { .. }
            | AccessKeyStep::NoRoom(_)
            | AccessKeyStep::UnknownKeys { .. }
            | AccessKeyStep::Wait { .. }
            | AccessKeyStep::Idle { .. } => {}
        }
        Ok(None)
    }

    /// Proves the pending key acts as the link's user, then makes it AWSCURRENT.
    async fn promote(&self, o: &Observed) -> StepResult<()> {
        let r = self.rotator;
        let (pending, key) = o
            .pending
            .as_ref()
            .ok_or(StepError::Missing("pending key"))?;
        // The link's principal is the key's user (a managed key exists only for a user).
        let principal_arn = self.rec.trusted_principal.arn();
        let as_new_key = r.cloud.sts_as(&credentials_of(key));
        let me = r
            .retrying("the pending key", || as_new_key.caller_identity())
            .await
            .map_err(StepError::KeyNotWorking)?;
        if me.arn != principal_arn {
            return Err(StepError::KeyActsAs {
                got: me.arn,
                expected: principal_arn,
            });
        }
        r.stamp(
            &record::external_id_secret_name(&self.rec.link_name),
            tag::ACCESS_KEY_ROTATED_AT,
        )
        .await?;
        let from =
            (pending.version_id != o.current.version_id).then_some(o.current.version_id.as_str());
        r.cloud
            .secrets()
            .move_stage(&self.secret_name(), AWSCURRENT, &pending.version_id, from)
            .await?;
        Ok(())
    }

    /// Creates the next key and stores it as AWSPENDING, under a creation marker that lets a
    /// later run finish or clean up. The key's id is recorded as soon as it is known: with
    /// the key in AWSPENDING or, when that write fails, in the marker. A recorded id is the
    /// only proof a later run accepts that an unstored key is trustlink's and may be deleted;
    /// a run killed before either write leaves a key that later runs hold on
    /// (`AccessKeyStep::UnknownKeys`), since it may as well be someone else's.
    async fn create_pending(&self, o: &Observed) -> StepResult<Made> {
        let r = self.rotator;
        let name = self.secret_name();
        let user = o.user.as_str();
        let marker = Creating {
            since: r.clock.now(),
            keys_before: o.view.keys.iter().map(|k| k.id.clone()).collect(),
            created: None,
        };
        r.set_creating(&name, Some(marker.to_tag())).await?;
        let key = r
            .cloud
            .iam(&o.account)
            .await?
            .create_access_key(user)
            .await?;
        let link = &self.rec.link_name;
        info!(link = %link, user, access_key_id = %key.id, "created the pending access key");
        let value = AccessKeySecret {
            access_key_id: key.id,
            secret_access_key: key.secret,
            user_name: user.to_string(),
        };
        let text = value.to_text();
        let stored = r
            .cloud
            .secrets()
            .put_secret_value(&name, &text, &[AWSPENDING], &request_token())
            .await;
        let version_id = match stored {
            Ok(id) => id,
            Err(e) => return Err(self.unstored(&name, marker, &value, e).await),
        };
        r.set_creating(&name, None).await?;
        let version = SecretValue {
            version_id,
            stages: vec![AWSPENDING.to_string()],
            text,
            created: Some(r.clock.now()),
        };
        Ok(Made { version, value })
    }

    /// The key was made but not stored: its id goes into the marker, the proof a later run
    /// needs to delete it.
    async fn unstored(
        &self,
        name: &str,
        mut marker: Creating,
        value: &AccessKeySecret,
        e: trustlink_aws::AwsError,
    ) -> StepError {
        let link = &self.rec.link_name;
        {
            marker.created = Some(value.access_key_id.clone());
            let r = self.rotator;
            if let Err(again) = r.set_creating(name, Some(marker.to_tag())).await {
                warn!(link = %link, access_key_id = %value.access_key_id, error = %again,
                    "could not record the unstored key; the next run holds it for an operator");
            }
            e.into()
        }
    }
}

/// The pending version a CreatePending made, with its key.
struct Made {
    version: SecretValue,
    value: AccessKeySecret,
}

/// The observation as it is after `step` succeeded (with what it `made`), at `now`: what
/// observing again would see, without the calls.
fn carry(step: &AccessKeyStep, made: Option<Made>, o: &mut Observed, now: i64) -> StepResult<()> {
    let v = &mut o.view;
    let previous = v.previous.clone().unwrap_or_default();
    let set_active = |v: &mut AccessKeyView, id: &str, active: bool| {
        v.keys
            .iter_mut()
            .filter(|k| k.id == id)
            .for_each(|k| k.active = active);
    };
    match step {
        AccessKeyStep::ReactivateCurrent => set_active(v, &v.current.clone(), true),
        AccessKeyStep::ClearPendingLabel => v.pending_on_current = false,
        AccessKeyStep::DropStalePending => {
            o.pending = None;
            v.pending = None;
        }
        AccessKeyStep::DeleteOrphan(id) => {
            v.keys.retain(|k| &k.id != id);
            v.creating = None;
        }
        AccessKeyStep::ClearCreating => v.creating = None,
        AccessKeyStep::MakeRoom(id) => v.keys.retain(|k| &k.id != id),
        AccessKeyStep::CreatePending => {
            let made = made.ok_or(StepError::Missing("pending key"))?;
            v.keys.push(KeyView {
                id: made.value.access_key_id.clone(),
                active: true,
            });
            v.pending = Some(made.value.access_key_id.clone());
            v.creating = None;
            o.pending = Some((made.version, made.value));
        }
        // AWSCURRENT moved to the pending version (AWSPENDING still on it until cleared);
        // Secrets Manager moved AWSPREVIOUS to the version it left.
        AccessKeyStep::Promote => {
            let (mut version, key) = o.pending.take().ok_or(StepError::Missing("pending key"))?;
            let old = AccessKeySecret::parse(&o.current.text).map_err(StepError::record)?;
            version.stages.push(AWSCURRENT.to_string());
            v.previous = Some(old.access_key_id.clone());
            v.previous_last_used = None;
            v.current = key.access_key_id.clone();
            v.current_since = now;
            v.pending = None;
            v.pending_on_current = true;
            let mut left = std::mem::replace(&mut o.current, version);
            left.stages = vec![AWSPREVIOUS.to_string()];
            o.previous = Some((left, old));
        }
        AccessKeyStep::DeactivatePrevious => set_active(v, &previous, false),
        AccessKeyStep::DeletePrevious => v.keys.retain(|k| k.id != previous),
        AccessKeyStep::ForgetPrevious => {
            o.previous = None;
            v.previous = None;
            v.previous_last_used = None;
        }
        AccessKeyStep::CurrentMissing
        | AccessKeyStep::Hold { .. }
        | AccessKeyStep::NoRoom(_)
        | AccessKeyStep::UnknownKeys { .. }
        | AccessKeyStep::Wait { .. }
        | AccessKeyStep::Idle { .. } => {}
    }
    Ok(())
}

fn wait_detail(until: i64, view: &AccessKeyView, ask: Ask) -> String {
    match (&view.creating, &view.previous) {
        (Some(c), _) => format!(
            "a key creation started at {} may still be under way in another run; the next look is due at {}",
            time(c.since),
            time(until)
        ),
        (None, Some(previous)) if ask.force => format!(
            "{FORCED_WAIT}: the next step of the previous key {previous} is due at {}; force again once it is deleted",
            time(until)
        ),
        _ => format!("the previous key's next step is due at {}", time(until)),
    }
}

fn unknown_keys_detail(since: i64, keys: &[String]) -> String {
    format!(
        "a key creation started at {} stopped before it recorded the new key's id; the user's {} {} appeared since and may be someone else's, so trustlink leaves {} alone. Delete what nobody uses: the next run resumes the rotation",
        time(since),
        if keys.len() == 1 { "key" } else { "keys" },
        keys.join(", "),
        if keys.len() == 1 { "it" } else { "them" },
    )
}

/// What stopped the run when that needs saying; else what it did, from the steps it took;
/// else what it stopped at.
fn outcome(
    last: &AccessKeyStep,
    done: &[AccessKeyStep],
    view: &AccessKeyView,
    ask: Ask,
) -> (Action, String) {
    let did = |s: AccessKeyStep| done.contains(&s);
    match last {
        AccessKeyStep::Hold { last_used } => (
            Action::Held,
            format!(
                "the previous key {} was used at {}, after the switch: it stays active (ReleaseHolds to deactivate it anyway)",
                view.previous.as_deref().unwrap_or_default(),
                time(*last_used)
            ),
        ),
        AccessKeyStep::NoRoom(why) => (Action::Held, why.clone()),
        AccessKeyStep::UnknownKeys { since, keys } => {
            (Action::Held, unknown_keys_detail(*since, keys))
        }
        AccessKeyStep::CurrentMissing => (
            Action::Failed,
            format!("the AWSCURRENT key {} no longer exists; recreate the link's key (Update the link)", view.current),
        ),
        _ if did(AccessKeyStep::Promote) => (
            Action::Rotated,
            format!("the new key {} is AWSCURRENT and works", view.current),
        ),
        _ if did(AccessKeyStep::DeletePrevious) => {
            (Action::Deleted, "the previous key was deleted".into())
        }
        _ if did(AccessKeyStep::DeactivatePrevious) => {
            (Action::Deactivated, "the previous key was deactivated".into())
        }
        _ if did(AccessKeyStep::ReactivateCurrent) => (
            Action::Repaired,
            "the current key was inactive and is active again".into(),
        ),
        AccessKeyStep::Wait { until } => (Action::Waiting, wait_detail(*until, view, ask)),
        AccessKeyStep::Idle { next_due: Some(t) } => {
            (Action::Skipped, format!("not due until {}", time(*t)))
        }
        AccessKeyStep::Idle { next_due: None } => (
            Action::Skipped,
            "scheduled rotation is off (AccessKeyDays: 0)".into(),
        ),
        other => (Action::Skipped, format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use trustlink_domain::Conditions;

    use super::super::fixture::{action, Fixture};
    use super::*;
    use AccessKeyStep as S;

    #[tokio::test]
    async fn a_full_cycle_on_the_memory_cloud() {
        let f = Fixture::link("key-cycle", &Conditions::default()).await;
        let iam = f.cloud.iam_of("444455556666");
        let old = iam.list_access_keys(&f.user).await.unwrap()[0].id.clone();
        let report = f.run(0, json!({"Force": true})).await;
        assert_eq!(action(&report, "access_key"), "rotated", "{report:#}");
        let report = f.run(25, json!({})).await;
        assert_eq!(action(&report, "access_key"), "deactivated", "{report:#}");
        let keys = iam.list_access_keys(&f.user).await.unwrap();
        assert!(keys
            .iter()
            .any(|k| k.id == old && k.status == KeyStatus::Inactive));
        let report = f.run(24, json!({})).await;
        assert_eq!(action(&report, "access_key"), "deleted", "{report:#}");
        let keys = iam.list_access_keys(&f.user).await.unwrap();
        assert!(keys.len() == 1 && keys[0].id != old, "{keys:?}");
        let report = f.run(0, json!({})).await;
        assert_eq!(action(&report, "access_key"), "skipped", "{report:#}");
    }

    fn view() -> AccessKeyView {
        AccessKeyView {
            current: "AKIANEW".into(),
            current_since: 0,
            pending: None,
            pending_on_current: false,
            previous: Some("AKIAOLD".into()),
            previous_last_used: None,
            keys: vec![],
            creating: None,
        }
    }

    #[test]
    fn a_stop_that_needs_saying_comes_before_what_was_done() {
        let ask = Ask::default();
        let (action, detail) = outcome(&S::Hold { last_used: 0 }, &[S::Promote], &view(), ask);
        assert_eq!(action, Action::Held);
        assert!(detail.contains("AKIAOLD"), "{detail}");
        let idle = S::Idle { next_due: None };
        assert_eq!(
            outcome(&idle, &[S::CreatePending, S::Promote], &view(), ask),
            (
                Action::Rotated,
                "the new key AKIANEW is AWSCURRENT and works".into()
            )
        );
        assert_eq!(
            outcome(&idle, &[S::DeletePrevious], &view(), ask).0,
            Action::Deleted
        );
        assert_eq!(
            outcome(&idle, &[S::DeactivatePrevious], &view(), ask).0,
            Action::Deactivated
        );
        // DeleteOrphan is not DeletePrevious, whatever its text begins with.
        assert_eq!(
            outcome(&idle, &[S::DeleteOrphan("AKIAX".into())], &view(), ask).0,
            Action::Skipped
        );
    }

    #[test]
    fn a_forced_run_in_a_grace_period_waits_in_the_documented_words() {
        let forced = Ask {
            force: true,
            ..Ask::default()
        };
        let (action, detail) = outcome(&S::Wait { until: 0 }, &[], &view(), forced);
        assert_eq!(action, Action::Waiting);
        assert!(detail.starts_with(FORCED_WAIT), "{detail}");
        assert_eq!(
            unknown_keys_detail(0, &["AKIAA".into()]),
            "a key creation started at 1970-01-01T00:00:00Z stopped before it recorded the new key's id; the user's key AKIAA appeared since and may be someone else's, so trustlink leaves it alone. Delete what nobody uses: the next run resumes the rotation"
        );
    }
}
