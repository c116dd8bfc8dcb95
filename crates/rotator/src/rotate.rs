//! Running the rotations: discover the links, and for each one observe, decide the next step
//! (trustlink_domain::rotation), act, and observe again until nothing is left to do now.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use serde_json::Value;
use tracing::{info, warn};
use trustlink_aws::ports::{
    AccessKeys, Cloud, Credentials, KeyStatus, Policies, Roles, SecretValue, Secrets, Sts, Users,
    AWSCURRENT, AWSPENDING, AWSPREVIOUS,
};
use trustlink_aws::AwsError;
use trustlink_domain::policy::{self, Principal};
use trustlink_domain::record::{self, tag, AccessKeySecret, ExternalIdSecret, LinkRecord};
use trustlink_domain::rotation::{
    next_access_key_step, next_external_id_step, AccessKeyStep, AccessKeyView, Ask, Creating,
    ExternalIdStep, ExternalIdView, KeyView, Periods,
};
use trustlink_domain::{AccountId, ExternalId, Timestamp};

use crate::clock::Clock;
use crate::command::Command;
use crate::report::{Action, LinkReport, RotationReport, RunReport};

/// At most this many steps per rotation and run; a healthy rotation needs five.
const MAX_STEPS: usize = 12;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Links rotated at once.
    pub concurrency: usize,
    /// Proving a new key or ID works, through IAM's eventual consistency.
    pub verify_attempts: u32,
    pub verify_delay: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            concurrency: 8,
            verify_attempts: 10,
            verify_delay: Duration::from_secs(2),
        }
    }
}

/// A step failed; the text is safe for logs and the report.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StepError(String);

impl From<AwsError> for StepError {
    fn from(e: AwsError) -> Self {
        Self(e.to_string())
    }
}

type StepResult<T> = Result<T, StepError>;

pub struct Rotator<C> {
    cloud: C,
    clock: Arc<dyn Clock>,
    limits: Limits,
}

fn time(t: i64) -> String {
    Timestamp::from_epoch_seconds(t).to_iso8601()
}

fn not_found_is_none<T>(r: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn token() -> String {
    ExternalId::generate().expose().to_string()
}

impl<C: Cloud> Rotator<C> {
    pub fn new(cloud: C, clock: Arc<dyn Clock>, limits: Limits) -> Self {
        Self {
            cloud,
            clock,
            limits,
        }
    }

    /// Every link of the hub: the `trustlink/<LinkName>` secrets with a link record.
    pub async fn discover(&self) -> Result<Vec<LinkRecord>, AwsError> {
        let secrets = self
            .cloud
            .secrets()
            .list_secrets(record::SECRET_PREFIX)
            .await?;
        // A link is the secret named after its own record: key secrets, and secrets whose
        // tags name another link (a copy, a hand-made one), are not links.
        Ok(secrets
            .iter()
            .filter_map(|s| {
                LinkRecord::from_tags(&s.tags)
                    .filter(|r| record::external_id_secret_name(&r.link_name) == s.name)
            })
            .collect())
    }

    pub async fn run(&self, command: &Command) -> Result<RunReport, AwsError> {
        let mut links = self.discover().await?;
        let mut reports = Vec::new();
        if let Some(wanted) = &command.links {
            for name in wanted {
                if !links.iter().any(|l| &l.link_name == name) {
                    reports.push(LinkReport {
                        link: name.clone(),
                        external_id: RotationReport {
                            action: Action::Failed,
                            detail: format!(
                                "no link named {name} in this hub (no secret trustlink/{name})"
                            ),
                            steps: vec![],
                        },
                        access_key: None,
                    });
                }
            }
            links.retain(|l| wanted.contains(&l.link_name));
        }
        info!(
            links = links.len(),
            dry_run = command.dry_run,
            force = command.ask.force,
            "rotation run"
        );
        let done: Vec<LinkReport> = stream::iter(links)
            .map(|link| async move { self.rotate_link(&link, command).await })
            .buffer_unordered(self.limits.concurrency.max(1))
            .collect()
            .await;
        reports.extend(done);
        let report = RunReport::new(command.dry_run, reports);
        info!(summary = ?report.summary, "rotation run finished");
        Ok(report)
    }

    async fn rotate_link(&self, rec: &LinkRecord, command: &Command) -> LinkReport {
        let external_id = self.external_id(rec, command).await;
        log_outcome(&rec.link_name, "external_id", &external_id);
        let access_key = if rec.access_key {
            let report = self.access_key(rec, command).await;
            log_outcome(&rec.link_name, "access_key", &report);
            Some(report)
        } else {
            None
        };
        LinkReport {
            link: rec.link_name.clone(),
            external_id,
            access_key,
        }
    }

    // ---- external ID -------------------------------------------------------------------

    async fn external_id(&self, rec: &LinkRecord, command: &Command) -> RotationReport {
        let link = rec.link_name.as_str();
        let periods = Periods::new(rec.rotation.external_id_days, rec.rotation.grace_hours);
        let mut steps = Vec::new();
        for _ in 0..MAX_STEPS {
            let now = self.clock.now();
            let (view, seen) = match self.observe_external_id(rec).await {
                Ok(v) => v,
                Err(e) => return failed(link, "external_id", e, steps),
            };
            let step = next_external_id_step(&view, periods, now, command.ask);
            info!(link, rotation = "external_id", step = ?step, dry_run = command.dry_run, "decision");
            if step.is_final() {
                return external_id_outcome(&step, &steps, command.ask);
            }
            if command.dry_run {
                return RotationReport {
                    action: Action::Planned,
                    detail: format!("would {step:?}"),
                    steps: vec![format!("{step:?}")],
                };
            }
            if let Err(e) = self.do_external_id_step(rec, &step, &view, &seen).await {
                return failed(link, "external_id", e, steps);
            }
            steps.push(format!("{step:?}"));
        }
        failed(
            link,
            "external_id",
            StepError(format!("did not settle within {MAX_STEPS} steps")),
            steps,
        )
    }

    async fn observe_external_id(&self, rec: &LinkRecord) -> StepResult<(ExternalIdView, SeenId)> {
        let rec = &self.fresh_record(rec).await?;
        let secrets = self.cloud.secrets();
        let name = record::external_id_secret_name(&rec.link_name);
        let current = secrets.get_secret_value(&name, AWSCURRENT).await?;
        let current_value = ExternalIdSecret::parse(&current.text).map_err(StepError)?;
        let pending = not_found_is_none(secrets.get_secret_value(&name, AWSPENDING).await)?;
        let (account, role_name) = record::role_of_arn(&rec.role_arn)
            .ok_or_else(|| StepError(format!("{} is not a role ARN", rec.role_arn)))?;
        let role = self.cloud.iam(&account).await?.get_role(&role_name).await?;
        let pending_value = match &pending {
            Some(p) if p.version_id != current.version_id => {
                Some(ExternalIdSecret::parse(&p.text).map_err(StepError)?)
            }
            _ => None,
        };
        let view = ExternalIdView {
            current: current_value.external_id.expose().to_string(),
            current_since: switched_at(
                current.created,
                rec.external_id_rotated_at,
                self.clock.now(),
            ),
            pending: pending_value
                .as_ref()
                .map(|p| p.external_id.expose().to_string()),
            pending_on_current: pending
                .as_ref()
                .is_some_and(|p| p.version_id == current.version_id),
            accepted: policy::accepted_external_ids(&role.trust_policy),
        };
        Ok((
            view,
            SeenId {
                current,
                current_value,
                pending,
                account,
                role_name,
                trust: role.trust_policy,
            },
        ))
    }

    async fn do_external_id_step(
        &self,
        rec: &LinkRecord,
        step: &ExternalIdStep,
        view: &ExternalIdView,
        seen: &SeenId,
    ) -> StepResult<()> {
        let secrets = self.cloud.secrets();
        let name = record::external_id_secret_name(&rec.link_name);
        match step {
            ExternalIdStep::RepairCurrent => {
                let mut accepted: Vec<&str> = vec![view.current.as_str()];
                accepted.extend(
                    view.accepted
                        .iter()
                        .map(String::as_str)
                        .filter(|a| *a != view.current),
                );
                self.accept(rec, seen, &accepted).await
            }
            ExternalIdStep::ClearPendingLabel => Ok(secrets
                .remove_stage(&name, AWSPENDING, &seen.current.version_id)
                .await?),
            ExternalIdStep::CreatePending => {
                let next = ExternalIdSecret {
                    external_id: ExternalId::generate(),
                    ..seen.current_value.clone()
                };
                secrets
                    .put_secret_value(&name, &next.to_text(), &[AWSPENDING], &token())
                    .await?;
                Ok(())
            }
            ExternalIdStep::AcceptPending => {
                let pending = view
                    .pending
                    .as_deref()
                    .ok_or_else(|| StepError("no pending external ID".into()))?;
                self.accept(rec, seen, &[&view.current, pending]).await
            }
            ExternalIdStep::Promote => {
                let pending = seen
                    .pending
                    .as_ref()
                    .ok_or_else(|| StepError("no pending external ID".into()))?;
                let pending_id = view.pending.as_deref().unwrap_or_default();
                self.check_external_id(rec, seen, pending_id).await?;
                // The switch time first: grace periods count from it, and a stamp that is
                // early (the move then failed) only delays the next rotation.
                self.stamp(&name, tag::EXTERNAL_ID_ROTATED_AT).await?;
                secrets
                    .move_stage(
                        &name,
                        AWSCURRENT,
                        &pending.version_id,
                        Some(&seen.current.version_id),
                    )
                    .await?;
                Ok(())
            }
            ExternalIdStep::RetirePrevious => self.accept(rec, seen, &[&view.current]).await,
            ExternalIdStep::Wait { .. } | ExternalIdStep::Idle { .. } => Ok(()),
        }
    }

    /// Makes the trust policy, and the grant when the link has one, accept exactly `ids`,
    /// keeping every other statement and condition as it is.
    async fn accept(&self, rec: &LinkRecord, seen: &SeenId, ids: &[&str]) -> StepResult<()> {
        let iam = self.cloud.iam(&seen.account).await?;
        let mut trust = seen.trust.clone();
        if policy::set_external_ids(&mut trust, ids) == 0 {
            return Err(StepError(format!(
                "the trust policy of {} has no sts:ExternalId condition to rotate",
                rec.role_arn
            )));
        }
        iam.update_trust_policy(&seen.role_name, &trust).await?;
        if let Some(grant) = &rec.grant_policy_arn {
            let principal = Principal::parse("TrustedPrincipal", &rec.trusted_principal)
                .map_err(|e| StepError(e.to_string()))?;
            let trusted = self.cloud.iam(principal.account()).await?;
            let wanted = policy::grant_policy(&rec.role_arn, ids);
            if trusted.get_policy_document(grant).await? != wanted {
                trusted.set_policy_document(grant, &wanted).await?;
            }
        }
        Ok(())
    }

    /// The pending ID is admitted by the trust policy as IAM now has it; with a managed key,
    /// assuming the role with it works too (unless MFA, IP or time conditions stop the
    /// function itself from meeting the policy).
    async fn check_external_id(
        &self,
        rec: &LinkRecord,
        seen: &SeenId,
        pending: &str,
    ) -> StepResult<()> {
        let role = self
            .cloud
            .iam(&seen.account)
            .await?
            .get_role(&seen.role_name)
            .await?;
        if !policy::admits(&role.trust_policy, &rec.trusted_principal, pending) {
            return Err(StepError(
                "the trust policy does not admit the pending external ID yet".into(),
            ));
        }
        if !rec.access_key {
            return Ok(());
        }
        let key_secret = self
            .cloud
            .secrets()
            .get_secret_value(&record::access_key_secret_name(&rec.link_name), AWSCURRENT)
            .await?;
        let key = AccessKeySecret::parse(&key_secret.text).map_err(StepError)?;
        let as_user = self.cloud.sts_as(&credentials_of(&key));
        let session = "trustlink-rotation-check";
        let expected = format!(
            "arn:aws:sts::{}:assumed-role/{}/{session}",
            seen.account, seen.role_name
        );
        let result = self
            .retrying(|| async {
                let creds = as_user
                    .assume_role(&rec.role_arn, session, Some(pending))
                    .await?;
                self.cloud.sts_as(&creds).caller_identity().await
            })
            .await;
        match result {
            Ok(me) if me.arn == expected => Ok(()),
            Ok(me) => Err(StepError(format!(
                "assumed {} instead of {expected}",
                me.arn
            ))),
            Err(_) if has_gating_conditions(&role.trust_policy) => {
                info!(link = %rec.link_name, "MFA, IP or time conditions: checked the trust policy only");
                Ok(())
            }
            Err(e) => Err(StepError(format!(
                "assuming the role with the pending external ID failed: {e}"
            ))),
        }
    }

    async fn retrying<T, F, Fut>(&self, mut attempt: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, AwsError>>,
    {
        let mut n = 1;
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(e) if n >= self.limits.verify_attempts => return Err(e),
                Err(e) => {
                    info!(attempt = n, error = %e, "not working yet; IAM may still be propagating")
                }
            }
            tokio::time::sleep(self.limits.verify_delay).await;
            n += 1;
        }
    }

    // ---- access key --------------------------------------------------------------------

    async fn access_key(&self, rec: &LinkRecord, command: &Command) -> RotationReport {
        let link = rec.link_name.as_str();
        let periods = Periods::new(rec.rotation.access_key_days, rec.rotation.grace_hours);
        let mut steps = Vec::new();
        for _ in 0..MAX_STEPS {
            let now = self.clock.now();
            let (view, seen) = match self.observe_access_key(rec).await {
                Ok(v) => v,
                Err(e) => return failed(link, "access_key", e, steps),
            };
            let step = next_access_key_step(&view, periods, now, command.ask);
            info!(link, rotation = "access_key", step = ?step, dry_run = command.dry_run, "decision");
            if step.is_final() {
                return access_key_outcome(&step, &steps, &view, command.ask);
            }
            if command.dry_run {
                return RotationReport {
                    action: Action::Planned,
                    detail: format!("would {step:?}"),
                    steps: vec![format!("{step:?}")],
                };
            }
            if let Err(e) = self.do_access_key_step(rec, &step, &view, &seen).await {
                return failed(link, "access_key", e, steps);
            }
            steps.push(format!("{step:?}"));
        }
        failed(
            link,
            "access_key",
            StepError(format!("did not settle within {MAX_STEPS} steps")),
            steps,
        )
    }

    async fn observe_access_key(&self, rec: &LinkRecord) -> StepResult<(AccessKeyView, SeenKey)> {
        let rec = &self.fresh_record(rec).await?;
        let secrets = self.cloud.secrets();
        let name = record::access_key_secret_name(&rec.link_name);
        let current = secrets.get_secret_value(&name, AWSCURRENT).await?;
        let current_value = AccessKeySecret::parse(&current.text).map_err(StepError)?;
        let parse_other =
            |v: Option<SecretValue>| -> StepResult<Option<(SecretValue, AccessKeySecret)>> {
                match v {
                    Some(v) if v.version_id != current.version_id => {
                        let parsed = AccessKeySecret::parse(&v.text).map_err(StepError)?;
                        Ok(Some((v, parsed)))
                    }
                    _ => Ok(None),
                }
            };
        let pending_raw = not_found_is_none(secrets.get_secret_value(&name, AWSPENDING).await)?;
        let pending_on_current = pending_raw
            .as_ref()
            .is_some_and(|p| p.version_id == current.version_id);
        let pending = parse_other(pending_raw)?;
        let previous = parse_other(not_found_is_none(
            secrets.get_secret_value(&name, AWSPREVIOUS).await,
        )?)?;
        let tags = secrets.describe_secret(&name).await?.tags;
        let principal = Principal::parse("TrustedPrincipal", &rec.trusted_principal)
            .map_err(|e| StepError(e.to_string()))?;
        let iam = self.cloud.iam(principal.account()).await?;
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
            current_since: switched_at(
                current.created,
                rec.access_key_rotated_at,
                self.clock.now(),
            ),
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
        Ok((
            view,
            SeenKey {
                current,
                pending,
                previous,
                user,
                account: principal.account().clone(),
            },
        ))
    }

    async fn do_access_key_step(
        &self,
        rec: &LinkRecord,
        step: &AccessKeyStep,
        view: &AccessKeyView,
        seen: &SeenKey,
    ) -> StepResult<()> {
        let secrets = self.cloud.secrets();
        let name = record::access_key_secret_name(&rec.link_name);
        let iam = self.cloud.iam(&seen.account).await?;
        let user = seen.user.as_str();
        match step {
            AccessKeyStep::ReactivateCurrent => {
                iam.set_access_key_status(user, &view.current, KeyStatus::Active)
                    .await?
            }
            AccessKeyStep::ClearPendingLabel => {
                secrets
                    .remove_stage(&name, AWSPENDING, &seen.current.version_id)
                    .await?
            }
            AccessKeyStep::DropStalePending => {
                let (pending, _) = seen
                    .pending
                    .as_ref()
                    .ok_or_else(|| StepError("no pending key".into()))?;
                secrets
                    .remove_stage(&name, AWSPENDING, &pending.version_id)
                    .await?
            }
            AccessKeyStep::DeleteOrphan(id) => {
                iam.delete_access_key(user, id).await?;
                self.set_creating(&name, None).await?;
            }
            AccessKeyStep::ClearCreating => self.set_creating(&name, None).await?,
            AccessKeyStep::MakeRoom(id) => iam.delete_access_key(user, id).await?,
            AccessKeyStep::CreatePending => self.create_pending(rec, view, seen).await?,
            AccessKeyStep::Promote => self.promote_key(rec, seen).await?,
            AccessKeyStep::DeactivatePrevious => {
                let previous = view.previous.as_deref().unwrap_or_default();
                iam.set_access_key_status(user, previous, KeyStatus::Inactive)
                    .await?
            }
            AccessKeyStep::DeletePrevious => {
                let previous = view.previous.as_deref().unwrap_or_default();
                iam.delete_access_key(user, previous).await?
            }
            AccessKeyStep::ForgetPrevious => {
                let (previous, _) = seen
                    .previous
                    .as_ref()
                    .ok_or_else(|| StepError("no previous key".into()))?;
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
        Ok(())
    }

    /// Proves the pending key acts as the link's user, then makes it AWSCURRENT.
    async fn promote_key(&self, rec: &LinkRecord, seen: &SeenKey) -> StepResult<()> {
        let secrets = self.cloud.secrets();
        let name = record::access_key_secret_name(&rec.link_name);
        let iam = self.cloud.iam(&seen.account).await?;
        let user = seen.user.as_str();
        let (pending, key) = seen
            .pending
            .as_ref()
            .ok_or_else(|| StepError("no pending key".into()))?;
        let principal_arn = iam.get_user(user).await?.arn;
        let as_new_key = self.cloud.sts_as(&credentials_of(key));
        let me = self
            .retrying(|| as_new_key.caller_identity())
            .await
            .map_err(|e| StepError(format!("the new key does not work yet: {e}")))?;
        if me.arn != principal_arn {
            return Err(StepError(format!(
                "the new key acts as {} instead of {principal_arn}",
                me.arn
            )));
        }
        self.stamp(
            &record::external_id_secret_name(&rec.link_name),
            tag::ACCESS_KEY_ROTATED_AT,
        )
        .await?;
        let from = (pending.version_id != seen.current.version_id)
            .then_some(seen.current.version_id.as_str());
        secrets
            .move_stage(&name, AWSCURRENT, &pending.version_id, from)
            .await?;
        Ok(())
    }

    /// Creates the next key and stores it as AWSPENDING, under a creation marker that lets a
    /// later run finish or clean up. The key's id is recorded as soon as it is known: with
    /// the key in AWSPENDING or, when that write fails, in the marker. A recorded id is the
    /// only proof a later run accepts that an unstored key is trustlink's and may be deleted;
    /// a run killed before either write leaves a key that later runs hold on
    /// (`AccessKeyStep::UnknownKeys`), since it may as well be someone else's.
    async fn create_pending(
        &self,
        rec: &LinkRecord,
        view: &AccessKeyView,
        seen: &SeenKey,
    ) -> StepResult<()> {
        let name = record::access_key_secret_name(&rec.link_name);
        let user = seen.user.as_str();
        let mut marker = Creating {
            since: self.clock.now(),
            keys_before: view.keys.iter().map(|k| k.id.clone()).collect(),
            created: None,
        };
        self.set_creating(&name, Some(marker.to_tag())).await?;
        let iam = self.cloud.iam(&seen.account).await?;
        let key = iam.create_access_key(user).await?;
        info!(link = %rec.link_name, user, access_key_id = %key.id, "created the pending access key");
        let value = AccessKeySecret {
            access_key_id: key.id,
            secret_access_key: key.secret,
            user_name: user.to_string(),
        };
        let stored = self
            .cloud
            .secrets()
            .put_secret_value(&name, &value.to_text(), &[AWSPENDING], &token())
            .await;
        if let Err(e) = stored {
            marker.created = Some(value.access_key_id.clone());
            if let Err(again) = self.set_creating(&name, Some(marker.to_tag())).await {
                warn!(link = %rec.link_name, access_key_id = %value.access_key_id, error = %again,
                    "could not record the unstored key; the next run holds it for an operator");
            }
            return Err(e.into());
        }
        self.set_creating(&name, None).await
    }

    /// Records a switch time on the link's secret; only that tag, so nothing else is overwritten.
    async fn stamp(&self, secret: &str, key: &str) -> StepResult<()> {
        let tags =
            std::collections::BTreeMap::from([(key.to_string(), self.clock.now().to_string())]);
        Ok(self.cloud.secrets().tag_secret(secret, &tags).await?)
    }

    /// The link's record as its secret's tags say now (a run's own stamps included).
    async fn fresh_record(&self, rec: &LinkRecord) -> StepResult<LinkRecord> {
        let name = record::external_id_secret_name(&rec.link_name);
        let tags = self.cloud.secrets().describe_secret(&name).await?.tags;
        Ok(LinkRecord::from_tags(&tags).unwrap_or_else(|| rec.clone()))
    }

    /// Marks (or clears) a key creation in progress on the key secret's tags.
    async fn set_creating(&self, name: &str, marker: Option<String>) -> StepResult<()> {
        let tags = std::collections::BTreeMap::from([(
            tag::KEYS_BEFORE_CREATE.to_string(),
            marker.unwrap_or_default(),
        )]);
        Ok(self.cloud.secrets().tag_secret(name, &tags).await?)
    }
}

/// One line per rotation and run: what Logs Insights queries filter on.
fn log_outcome(link: &str, rotation: &str, report: &RotationReport) {
    let action = serde_json::to_value(report.action).unwrap_or_default();
    let action = action.as_str().unwrap_or_default();
    if report.action == Action::Failed {
        warn!(link, rotation, action, detail = %report.detail, "rotation outcome");
    } else {
        info!(link, rotation, action, detail = %report.detail, "rotation outcome");
    }
}

/// When AWSCURRENT took its value: the stamp written just before the switch, or the
/// version's creation when that is later (a link created or updated since).
fn switched_at(version_created: Option<i64>, stamped: Option<i64>, now: i64) -> i64 {
    match (version_created, stamped) {
        (Some(c), Some(s)) => c.max(s),
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => now,
    }
}

struct SeenId {
    current: SecretValue,
    current_value: ExternalIdSecret,
    pending: Option<SecretValue>,
    account: AccountId,
    role_name: String,
    trust: Value,
}

struct SeenKey {
    current: SecretValue,
    pending: Option<(SecretValue, AccessKeySecret)>,
    previous: Option<(SecretValue, AccessKeySecret)>,
    user: String,
    account: AccountId,
}

fn credentials_of(key: &AccessKeySecret) -> Credentials {
    Credentials {
        access_key_id: key.access_key_id.clone(),
        secret_access_key: key.secret_access_key.clone(),
        session_token: None,
    }
}

/// Conditions the function cannot meet itself when checking a rotation.
fn has_gating_conditions(trust: &Value) -> bool {
    trust.to_string().contains("aws:MultiFactorAuth")
        || trust.to_string().contains("aws:SourceIp")
        || trust.to_string().contains("aws:CurrentTime")
        || trust.to_string().contains("aws:PrincipalOrgID")
}

fn failed(link: &str, rotation: &str, e: StepError, steps: Vec<String>) -> RotationReport {
    warn!(link, rotation, error = %e, "rotation failed; the next run resumes from here");
    RotationReport {
        action: Action::Failed,
        detail: e.to_string(),
        steps,
    }
}

fn external_id_outcome(last: &ExternalIdStep, steps: &[String], ask: Ask) -> RotationReport {
    let did = |s: &str| steps.iter().any(|x| x.starts_with(s));
    let (action, detail) = if did("Promote") {
        let until = match last {
            ExternalIdStep::Wait { until } => {
                format!("; the previous one is accepted until {}", time(*until))
            }
            _ => String::new(),
        };
        (
            Action::Rotated,
            format!("a new external ID is AWSCURRENT{until}"),
        )
    } else if did("RetirePrevious") {
        (
            Action::Retired,
            "the trust policy now accepts only the current external ID".into(),
        )
    } else if did("RepairCurrent") {
        (
            Action::Repaired,
            "the trust policy accepts the current external ID again".into(),
        )
    } else {
        match last {
            // Not a hold: nothing needs an operator, the grace period ends by itself.
            ExternalIdStep::Wait { until } if ask.force => (
                Action::Waiting,
                format!("{FORCED_WAIT}: the previous external ID is accepted until {}; force again after that (or end the grace now with EndGrace)", time(*until)),
            ),
            ExternalIdStep::Wait { until } => (Action::Waiting, format!("the previous external ID is accepted until {}", time(*until))),
            ExternalIdStep::Idle { next_due: Some(t) } => (Action::Skipped, format!("not due until {}", time(*t))),
            ExternalIdStep::Idle { next_due: None } => (Action::Skipped, "scheduled rotation is off (ExternalIdDays: 0)".into()),
            other => (Action::Skipped, format!("{other:?}")),
        }
    };
    RotationReport {
        action,
        detail,
        steps: steps.to_vec(),
    }
}

/// How a forced rotation that must wait for a running grace period is reported (`waiting`,
/// as docs/deploying.md says).
const FORCED_WAIT: &str = "a forced rotation waits for the grace period";

fn key_wait_detail(until: i64, view: &AccessKeyView, ask: Ask) -> String {
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

fn access_key_outcome(
    last: &AccessKeyStep,
    steps: &[String],
    view: &AccessKeyView,
    ask: Ask,
) -> RotationReport {
    let did = |s: &str| steps.iter().any(|x| x.starts_with(s));
    let (action, detail) = match last {
        AccessKeyStep::Hold { last_used } => (
            Action::Held,
            format!(
                "the previous key {} was used at {}, after the switch: it stays active (ReleaseHolds to deactivate it anyway)",
                view.previous.as_deref().unwrap_or_default(),
                time(*last_used)
            ),
        ),
        AccessKeyStep::NoRoom(why) => (Action::Held, why.clone()),
        AccessKeyStep::UnknownKeys { since, keys } => (
            Action::Held,
            format!(
                "a key creation started at {} stopped before it recorded the new key's id; the user's {} {} appeared since and may be someone else's, so trustlink leaves {} alone. Delete what nobody uses: the next run resumes the rotation",
                time(*since),
                if keys.len() == 1 { "key" } else { "keys" },
                keys.join(", "),
                if keys.len() == 1 { "it" } else { "them" },
            ),
        ),
        AccessKeyStep::CurrentMissing => (
            Action::Failed,
            format!("the AWSCURRENT key {} no longer exists; recreate the link's key (Update the link)", view.current),
        ),
        _ if did("Promote") => (Action::Rotated, format!("the new key {} is AWSCURRENT and works", view.current)),
        _ if did("DeletePrevious") => (Action::Deleted, "the previous key was deleted".into()),
        _ if did("DeactivatePrevious") => (Action::Deactivated, "the previous key was deactivated".into()),
        _ if did("ReactivateCurrent") => (Action::Repaired, "the current key was inactive and is active again".into()),
        AccessKeyStep::Wait { until } => (Action::Waiting, key_wait_detail(*until, view, ask)),
        AccessKeyStep::Idle { next_due: Some(t) } => (Action::Skipped, format!("not due until {}", time(*t))),
        AccessKeyStep::Idle { next_due: None } => (Action::Skipped, "scheduled rotation is off (AccessKeyDays: 0)".into()),
        other => (Action::Skipped, format!("{other:?}")),
    };
    RotationReport {
        action,
        detail,
        steps: steps.to_vec(),
    }
}
