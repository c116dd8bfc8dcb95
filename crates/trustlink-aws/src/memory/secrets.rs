//! Secrets Manager in memory: versions and their staging labels, request-token
//! idempotency, deletion with a recovery window. What callers see is the port's behaviour,
//! including the adapter's mappings: reading a secret scheduled for deletion is
//! `NotFound`, and scheduling it again is done.

use std::collections::BTreeMap;

use serde_json::Value;
use trustlink_domain::SecretText;

use super::{error, invalid, lock, merge_tags, not_found, Env, Shared, HUB, REGION};
use crate::ports::AwsResult as Result;
use crate::ports::*;
use crate::ErrorKind;

/// Secrets Manager's bounds of a recovery window, in days.
const RECOVERY_DAYS: std::ops::RangeInclusive<i64> = 7..=30;
const DAY: i64 = 86_400;

#[derive(Debug, Default)]
pub(super) struct Store {
    secrets: BTreeMap<String, Secret>,
}

#[derive(Debug, Clone)]
struct Secret {
    arn: String,
    name: String,
    tags: BTreeMap<String, String>,
    /// Oldest first. A version without labels is deprecated: DescribeSecret omits it.
    versions: Vec<Version>,
    resource_policy: Option<Value>,
    /// When the recovery window ends and the secret is gone.
    deletion: Option<i64>,
}

#[derive(Debug, Clone)]
struct Version {
    id: String,
    text: SecretText,
    stages: Vec<String>,
    created: i64,
}

impl Secret {
    fn version_with(&self, stage: &str) -> Option<&Version> {
        self.versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == stage))
    }

    fn version_mut(&mut self, id: &str) -> Option<&mut Version> {
        self.versions.iter_mut().find(|v| v.id == id)
    }

    /// Puts `stage` on version `to` and takes it off every other version. When AWSCURRENT
    /// moves, the version it left gets AWSPREVIOUS, as Secrets Manager does.
    fn attach_stage(&mut self, stage: &str, to: &str) {
        let left = self.version_with(stage).map(|v| v.id.clone());
        for v in &mut self.versions {
            v.stages.retain(|s| s != stage);
        }
        if stage == AWSCURRENT {
            if let Some(left) = left.filter(|l| l != to) {
                self.attach_stage(AWSPREVIOUS, &left);
            }
        }
        if let Some(v) = self.version_mut(to) {
            v.stages.push(stage.to_string());
        }
    }

    fn add_version(&mut self, id: &str, text: &SecretText, stages: &[&str], now: i64) {
        self.versions.push(Version {
            id: id.to_string(),
            text: text.clone(),
            stages: Vec::new(),
            created: now,
        });
        for stage in stages {
            self.attach_stage(stage, id);
        }
    }
}

/// Secrets Manager's ClientRequestToken: 32 to 64 characters.
fn check_token(operation: &'static str, token: &str) -> Result<()> {
    if (32..=64).contains(&token.len()) {
        Ok(())
    } else {
        Err(invalid(
            operation,
            "ClientRequestToken must be 32 to 64 characters.",
        ))
    }
}

fn marked_for_deletion(operation: &'static str) -> crate::AwsError {
    invalid(
        operation,
        "You can't perform this operation on the secret because it was marked for deletion.",
    )
}

impl Store {
    /// Forgets secrets whose recovery window has ended.
    fn purge(&mut self, now: i64) {
        self.secrets
            .retain(|_, s| s.deletion.is_none_or(|at| at > now));
    }

    /// The secret `id` (a name or an ARN), scheduled for deletion or not.
    fn find(&mut self, operation: &'static str, id: &str, now: i64) -> Result<&mut Secret> {
        self.purge(now);
        let name = self
            .secrets
            .values()
            .find(|s| s.arn == id)
            .map_or(id.to_string(), |s| s.name.clone());
        self.secrets.get_mut(&name).ok_or_else(|| {
            not_found(
                operation,
                "Secrets Manager can't find the specified secret.",
            )
        })
    }

    /// The secret `id`, refused if it is scheduled for deletion (as every write is).
    fn live(&mut self, operation: &'static str, id: &str, now: i64) -> Result<&mut Secret> {
        let secret = self.find(operation, id, now)?;
        match secret.deletion {
            Some(_) => Err(marked_for_deletion(operation)),
            None => Ok(secret),
        }
    }
}

/// Secrets Manager of the hub account.
#[derive(Clone, Debug)]
pub struct MemorySecrets {
    world: Shared,
}

impl MemorySecrets {
    pub(super) fn new(world: Shared) -> Self {
        Self { world }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Store, &mut Env) -> T) -> T {
        let mut world = lock(&self.world);
        let world = &mut *world;
        f(&mut world.secrets, &mut world.env)
    }
}

fn create(
    store: &mut Store,
    env: &mut Env,
    name: &str,
    text: &SecretText,
    tags: &BTreeMap<String, String>,
    token: Option<&str>,
) -> Result<String> {
    const OP: &str = "secretsmanager:CreateSecret";
    let now = env.now();
    if let Ok(existing) = store.find(OP, name, now) {
        if existing.deletion.is_some() {
            return Err(invalid(
                OP,
                "You can't create this secret because a secret with this name is already \
                 scheduled for deletion.",
            ));
        }
        // A retry with the same token and value is the same request.
        let same = token
            .and_then(|t| existing.version_mut(t))
            .is_some_and(|v| v.text == *text);
        if same {
            return Ok(existing.arn.clone());
        }
        return Err(error(
            OP,
            ErrorKind::AlreadyExists,
            format!("The operation failed because the secret {name} already exists."),
        ));
    }
    let version = match token {
        Some(t) => t.to_string(),
        None => env.id("memory-version-", 24).to_ascii_lowercase(),
    };
    let suffix = env.id("", 6);
    let mut secret = Secret {
        arn: format!("arn:aws:secretsmanager:{REGION}:{HUB}:secret:{name}-{suffix}"),
        name: name.to_string(),
        tags: BTreeMap::new(),
        versions: Vec::new(),
        resource_policy: None,
        deletion: None,
    };
    merge_tags(OP, &mut secret.tags, tags)?;
    secret.add_version(&version, text, &[AWSCURRENT], now);
    store.secrets.insert(name.to_string(), secret.clone());
    Ok(secret.arn)
}

fn describe(secret: &Secret) -> SecretDescription {
    let mut versions: Vec<SecretVersion> = secret
        .versions
        .iter()
        .filter(|v| !v.stages.is_empty())
        .map(|v| SecretVersion {
            version_id: v.id.clone(),
            stages: v.stages.clone(),
            // As the adapter: DescribeSecret has no dates per version.
            created: None,
        })
        .collect();
    versions.sort_by(|a, b| a.version_id.cmp(&b.version_id));
    SecretDescription {
        arn: secret.arn.clone(),
        name: secret.name.clone(),
        tags: secret.tags.clone(),
        versions,
        scheduled_for_deletion: secret.deletion.is_some(),
    }
}

/// PutSecretValue: the token is the version id; repeating it with the same value is a
/// no-op, with another value a conflict.
fn put(
    secret: &mut Secret,
    text: &SecretText,
    stages: &[&str],
    token: &str,
    now: i64,
) -> Result<String> {
    const OP: &str = "secretsmanager:PutSecretValue";
    check_token(OP, token)?;
    if let Some(v) = secret.version_mut(token) {
        if v.text == *text {
            return Ok(token.to_string());
        }
        return Err(error(
            OP,
            ErrorKind::AlreadyExists,
            "You can't modify an existing version, you can only create new versions.",
        ));
    }
    // Without labels, Secrets Manager makes the new version current.
    let stages = if stages.is_empty() {
        &[AWSCURRENT][..]
    } else {
        stages
    };
    secret.add_version(token, text, stages, now);
    Ok(token.to_string())
}

/// UpdateSecretVersionStage with MoveToVersionId: a label another version holds moves only
/// when that version is named as the one to take it from.
fn move_to(secret: &mut Secret, stage: &str, to: &str, from: Option<&str>) -> Result<()> {
    const OP: &str = "secretsmanager:UpdateSecretVersionStage";
    if secret.version_mut(to).is_none() {
        return Err(not_found(
            OP,
            format!("Secrets Manager can't find version {to}."),
        ));
    }
    let holder = secret.version_with(stage).map(|v| v.id.clone());
    match (holder.as_deref(), from) {
        (Some(h), _) if h == to => return Ok(()),
        (Some(h), Some(f)) if h == f => {}
        (Some(h), _) => {
            return Err(invalid(
                OP,
                format!(
                    "Staging label {stage} is currently attached to version {h}, so you must \
                     explicitly reference that version in RemoveFromVersionId."
                ),
            ))
        }
        (None, Some(f)) => {
            return Err(invalid(
                OP,
                format!("Staging label {stage} is not attached to version {f}."),
            ))
        }
        (None, None) => {}
    }
    secret.attach_stage(stage, to);
    Ok(())
}

/// UpdateSecretVersionStage with only RemoveFromVersionId. AWSCURRENT can only move.
fn remove(secret: &mut Secret, stage: &str, from: &str) -> Result<()> {
    const OP: &str = "secretsmanager:UpdateSecretVersionStage";
    if stage == AWSCURRENT {
        return Err(invalid(
            OP,
            "You can only move staging label AWSCURRENT to a different secret version. It \
             can't be completely removed.",
        ));
    }
    let version = secret
        .version_mut(from)
        .filter(|v| v.stages.iter().any(|s| s == stage))
        .ok_or_else(|| {
            invalid(
                OP,
                format!("Staging label {stage} is not attached to version {from}."),
            )
        })?;
    version.stages.retain(|s| s != stage);
    Ok(())
}

/// DeleteSecret: a window of 7 to 30 days, or at once. Scheduling a secret already
/// scheduled is done (the adapter's mapping); deleting it at once purges it.
fn delete(store: &mut Store, name: &str, recovery_days: Option<i64>, now: i64) -> Result<()> {
    const OP: &str = "secretsmanager:DeleteSecret";
    let secret = store.find(OP, name, now)?;
    match recovery_days {
        Some(days) if !RECOVERY_DAYS.contains(&days) => Err(invalid(
            OP,
            "RecoveryWindowInDays must be between 7 and 30 days.",
        )),
        Some(_) if secret.deletion.is_some() => Ok(()),
        Some(days) => {
            secret.deletion = Some(now + days * DAY);
            Ok(())
        }
        None => {
            let key = secret.name.clone();
            store.secrets.remove(&key);
            Ok(())
        }
    }
}

impl Secrets for MemorySecrets {
    async fn create_secret(
        &self,
        name: &str,
        _description: &str,
        text: &SecretText,
        tags: &BTreeMap<String, String>,
        _kms_key_id: Option<&str>,
        request_token: Option<&str>,
    ) -> Result<String> {
        if let Some(token) = request_token {
            check_token("secretsmanager:CreateSecret", token)?;
        }
        self.with(|store, env| create(store, env, name, text, tags, request_token))
    }

    async fn describe_secret(&self, name: &str) -> Result<SecretDescription> {
        self.with(|s, env| {
            Ok(describe(s.find(
                "secretsmanager:DescribeSecret",
                name,
                env.now(),
            )?))
        })
    }

    async fn get_secret_value(&self, name: &str, stage: &str) -> Result<SecretValue> {
        const OP: &str = "secretsmanager:GetSecretValue";
        self.with(|s, env| {
            let secret = s.find(OP, name, env.now())?;
            if secret.deletion.is_some() {
                // The adapter's mapping: to a reader, a secret scheduled for deletion is gone.
                let refused = marked_for_deletion(OP);
                return Err(error(OP, ErrorKind::NotFound, refused.message));
            }
            let v = secret.version_with(stage).ok_or_else(|| {
                not_found(
                    OP,
                    format!("Secrets Manager can't find the specified secret value for staging label: {stage}"),
                )
            })?;
            Ok(SecretValue {
                version_id: v.id.clone(),
                stages: v.stages.clone(),
                text: v.text.clone(),
                created: Some(v.created),
            })
        })
    }

    async fn put_secret_value(
        &self,
        name: &str,
        text: &SecretText,
        stages: &[&str],
        request_token: &str,
    ) -> Result<String> {
        const OP: &str = "secretsmanager:PutSecretValue";
        self.with(|s, env| {
            let now = env.now();
            put(s.live(OP, name, now)?, text, stages, request_token, now)
        })
    }

    async fn move_stage(
        &self,
        name: &str,
        stage: &str,
        to_version: &str,
        from_version: Option<&str>,
    ) -> Result<()> {
        const OP: &str = "secretsmanager:UpdateSecretVersionStage";
        self.with(|s, env| {
            move_to(
                s.live(OP, name, env.now())?,
                stage,
                to_version,
                from_version,
            )
        })
    }

    async fn remove_stage(&self, name: &str, stage: &str, from_version: &str) -> Result<()> {
        const OP: &str = "secretsmanager:UpdateSecretVersionStage";
        self.with(|s, env| remove(s.live(OP, name, env.now())?, stage, from_version))
    }

    async fn put_resource_policy(&self, name: &str, policy: &Value) -> Result<()> {
        const OP: &str = "secretsmanager:PutResourcePolicy";
        self.with(|s, env| {
            s.live(OP, name, env.now())?.resource_policy = Some(policy.clone());
            Ok(())
        })
    }

    async fn get_resource_policy(&self, name: &str) -> Result<Option<Value>> {
        const OP: &str = "secretsmanager:GetResourcePolicy";
        self.with(|s, env| Ok(s.live(OP, name, env.now())?.resource_policy.clone()))
    }

    async fn tag_secret(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        const OP: &str = "secretsmanager:TagResource";
        self.with(|s, env| merge_tags(OP, &mut s.live(OP, name, env.now())?.tags, tags))
    }

    async fn delete_secret(&self, name: &str, recovery_days: Option<i64>) -> Result<()> {
        self.with(|s, env| delete(s, name, recovery_days, env.now()))
    }

    /// Restoring a secret not scheduled for deletion changes nothing.
    async fn restore_secret(&self, name: &str) -> Result<()> {
        self.with(|s, env| {
            s.find("secretsmanager:RestoreSecret", name, env.now())?
                .deletion = None;
            Ok(())
        })
    }

    /// Secrets scheduled for deletion are not listed (ListSecrets' default).
    async fn list_secrets(&self, prefix: &str) -> Result<Vec<SecretSummary>> {
        self.with(|s, env| {
            s.purge(env.now());
            Ok(s.secrets
                .values()
                .filter(|x| x.deletion.is_none() && x.name.starts_with(prefix))
                .map(|x| SecretSummary {
                    arn: x.arn.clone(),
                    name: x.name.clone(),
                    tags: x.tags.clone(),
                })
                .collect())
        })
    }
}

impl super::MemoryCloud {
    /// The resource policy of a secret, if one was put.
    pub fn secret_resource_policy(&self, name: &str) -> Option<Value> {
        let mut world = lock(&self.world);
        let now = world.env.now();
        let secret = world
            .secrets
            .find("secretsmanager:GetResourcePolicy", name, now)
            .ok()?;
        secret.resource_policy.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryCloud;
    use crate::ports::Cloud;

    const T1: &str = "token-0000000000000000000000000001";
    const T2: &str = "token-0000000000000000000000000002";
    const T3: &str = "token-0000000000000000000000000003";

    fn text(s: &str) -> SecretText {
        SecretText::new(s)
    }

    fn tags() -> BTreeMap<String, String> {
        BTreeMap::from([("trustlink:link".into(), "l1".into())])
    }

    async fn with_secret() -> (MemoryCloud, MemorySecrets) {
        let cloud = MemoryCloud::new();
        let s = cloud.secrets();
        s.create_secret("trustlink/l1", "d", &text("one"), &tags(), None, Some(T1))
            .await
            .unwrap();
        (cloud, s)
    }

    /// Each labelled version's id and labels, as DescribeSecret shows them.
    async fn stages(s: &MemorySecrets) -> Vec<(String, Vec<String>)> {
        let d = s.describe_secret("trustlink/l1").await.unwrap();
        d.versions
            .into_iter()
            .map(|v| (v.version_id, v.stages))
            .collect()
    }

    fn st(id: &str, labels: &[&str]) -> (String, Vec<String>) {
        (
            id.to_string(),
            labels.iter().map(|l| l.to_string()).collect(),
        )
    }

    #[tokio::test]
    async fn a_new_secret_is_current_and_described() {
        let (_, s) = with_secret().await;
        let d = s.describe_secret("trustlink/l1").await.unwrap();
        assert!(d
            .arn
            .starts_with("arn:aws:secretsmanager:us-east-1:123456789012:secret:trustlink/l1-"));
        assert_eq!(
            d.arn.len(),
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:trustlink/l1-".len() + 6
        );
        assert_eq!(d.tags, tags());
        assert!(!d.scheduled_for_deletion);
        assert_eq!(stages(&s).await, [st(T1, &[AWSCURRENT])]);
        let v = s.get_secret_value(&d.arn, AWSCURRENT).await.unwrap();
        assert_eq!(
            (v.version_id.as_str(), v.text.expose()),
            (T1, "one"),
            "found by ARN too"
        );
    }

    #[tokio::test]
    async fn a_second_create_already_exists_unless_it_is_the_same_request() {
        let (_, s) = with_secret().await;
        let arn = s.describe_secret("trustlink/l1").await.unwrap().arn;
        let (one, tags) = (text("one"), tags());
        let again = s.create_secret("trustlink/l1", "d", &one, &tags, None, Some(T1));
        assert_eq!(
            again.await.unwrap(),
            arn,
            "a retried request is the same request"
        );
        for (value, token) in [("one", Some(T2)), ("two", Some(T1)), ("one", None)] {
            let e = s
                .create_secret("trustlink/l1", "d", &text(value), &tags, None, token)
                .await
                .unwrap_err();
            assert!(e.is_already_exists(), "{value} {token:?}: {e}");
        }
        let e = s
            .create_secret("x", "d", &text("v"), &tags, None, Some("short"))
            .await;
        assert_eq!(e.unwrap_err().kind(), ErrorKind::Invalid);
    }

    #[tokio::test]
    async fn a_new_current_moves_the_old_one_to_previous() {
        let (_, s) = with_secret().await;
        s.put_secret_value("trustlink/l1", &text("two"), &[AWSCURRENT], T2)
            .await
            .unwrap();
        assert_eq!(
            stages(&s).await,
            [st(T1, &[AWSPREVIOUS]), st(T2, &[AWSCURRENT])]
        );
        s.put_secret_value("trustlink/l1", &text("three"), &[AWSCURRENT], T3)
            .await
            .unwrap();
        assert_eq!(
            stages(&s).await,
            [st(T2, &[AWSPREVIOUS]), st(T3, &[AWSCURRENT])],
            "the oldest has no label left: deprecated, not described"
        );
        let previous = s
            .get_secret_value("trustlink/l1", AWSPREVIOUS)
            .await
            .unwrap();
        assert_eq!(previous.text.expose(), "two");
    }

    #[tokio::test]
    async fn a_rotation_promotes_pending_and_clears_it() {
        let (_, s) = with_secret().await;
        s.put_secret_value("trustlink/l1", &text("two"), &[AWSPENDING], T2)
            .await
            .unwrap();
        assert_eq!(
            stages(&s).await,
            [st(T1, &[AWSCURRENT]), st(T2, &[AWSPENDING])]
        );
        let e = s
            .move_stage("trustlink/l1", AWSCURRENT, T2, None)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "the holder must be named");
        let e = s.move_stage("trustlink/l1", AWSCURRENT, T2, Some(T3)).await;
        assert_eq!(e.unwrap_err().kind(), ErrorKind::Invalid);
        s.move_stage("trustlink/l1", AWSCURRENT, T2, Some(T1))
            .await
            .unwrap();
        assert_eq!(
            stages(&s).await,
            [st(T1, &[AWSPREVIOUS]), st(T2, &[AWSPENDING, AWSCURRENT])]
        );
        s.move_stage("trustlink/l1", AWSCURRENT, T2, Some(T1))
            .await
            .unwrap();
        s.remove_stage("trustlink/l1", AWSPENDING, T2)
            .await
            .unwrap();
        assert_eq!(
            stages(&s).await,
            [st(T1, &[AWSPREVIOUS]), st(T2, &[AWSCURRENT])]
        );
        let e = s
            .remove_stage("trustlink/l1", AWSPENDING, T2)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "not attached there");
        let e = s
            .remove_stage("trustlink/l1", AWSCURRENT, T2)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "AWSCURRENT can only move");
        let e = s
            .move_stage("trustlink/l1", AWSPENDING, T3, None)
            .await
            .unwrap_err();
        assert!(e.is_not_found(), "no such version");
        let e = s
            .get_secret_value("trustlink/l1", AWSPENDING)
            .await
            .unwrap_err();
        assert!(e.is_not_found(), "no version has the label");
    }

    #[tokio::test]
    async fn a_repeated_token_is_idempotent_with_the_same_value_only() {
        let (_, s) = with_secret().await;
        let put = |t: &'static str, v: &'static str| {
            let s = s.clone();
            async move {
                s.put_secret_value("trustlink/l1", &text(v), &[AWSPENDING], t)
                    .await
            }
        };
        assert_eq!(put(T2, "two").await.unwrap(), T2);
        assert_eq!(put(T2, "two").await.unwrap(), T2);
        assert_eq!(stages(&s).await.len(), 2, "no second version");
        assert!(put(T2, "other").await.unwrap_err().is_already_exists());
        assert_eq!(
            put("short", "x").await.unwrap_err().kind(),
            ErrorKind::Invalid
        );
    }

    #[tokio::test]
    async fn a_deleted_secret_is_scheduled_refused_and_restorable() {
        let (_, s) = with_secret().await;
        s.delete_secret("trustlink/l1", Some(7)).await.unwrap();
        assert!(
            s.describe_secret("trustlink/l1")
                .await
                .unwrap()
                .scheduled_for_deletion
        );
        let e = s
            .get_secret_value("trustlink/l1", AWSCURRENT)
            .await
            .unwrap_err();
        assert!(e.is_not_found(), "as the adapter maps it: {e}");
        let e = s
            .create_secret("trustlink/l1", "d", &text("x"), &tags(), None, None)
            .await;
        assert_eq!(
            e.unwrap_err().kind(),
            ErrorKind::Invalid,
            "the name stays taken"
        );
        let e = s
            .put_secret_value("trustlink/l1", &text("x"), &[AWSCURRENT], T2)
            .await;
        assert_eq!(e.unwrap_err().kind(), ErrorKind::Invalid);
        assert!(s.tag_secret("trustlink/l1", &tags()).await.is_err());
        assert!(s.list_secrets("trustlink/").await.unwrap().is_empty());
        s.delete_secret("trustlink/l1", Some(30)).await.unwrap();
        s.restore_secret("trustlink/l1").await.unwrap();
        assert!(
            !s.describe_secret("trustlink/l1")
                .await
                .unwrap()
                .scheduled_for_deletion
        );
        let v = s
            .get_secret_value("trustlink/l1", AWSCURRENT)
            .await
            .unwrap();
        assert_eq!(v.text.expose(), "one");
        let e = s.delete_secret("trustlink/l1", Some(3)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "windows are 7 to 30 days");
    }

    #[tokio::test]
    async fn the_recovery_window_ends_and_the_name_is_free() {
        let (cloud, s) = with_secret().await;
        s.delete_secret("trustlink/l1", Some(7)).await.unwrap();
        cloud.advance(6 * DAY);
        assert!(s.describe_secret("trustlink/l1").await.is_ok());
        cloud.advance(2 * DAY);
        assert!(s
            .describe_secret("trustlink/l1")
            .await
            .unwrap_err()
            .is_not_found());
        s.create_secret("trustlink/l1", "d", &text("new"), &tags(), None, None)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn deleting_at_once_frees_the_name_even_when_scheduled() {
        let (_, s) = with_secret().await;
        s.delete_secret("trustlink/l1", Some(7)).await.unwrap();
        s.delete_secret("trustlink/l1", None).await.unwrap();
        assert!(s
            .describe_secret("trustlink/l1")
            .await
            .unwrap_err()
            .is_not_found());
        assert!(s
            .delete_secret("trustlink/l1", None)
            .await
            .unwrap_err()
            .is_not_found());
        s.create_secret("trustlink/l1", "d", &text("new"), &tags(), None, None)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_missing_secret_is_not_found() {
        let s = MemoryCloud::new().secrets();
        assert!(s.describe_secret("nope").await.unwrap_err().is_not_found());
        assert!(s
            .get_secret_value("nope", AWSCURRENT)
            .await
            .unwrap_err()
            .is_not_found());
        let e = s
            .put_secret_value("nope", &text("x"), &[AWSCURRENT], T1)
            .await;
        assert!(e.unwrap_err().is_not_found());
        assert!(s.restore_secret("nope").await.unwrap_err().is_not_found());
        assert!(s
            .delete_secret("nope", Some(7))
            .await
            .unwrap_err()
            .is_not_found());
    }

    #[tokio::test]
    async fn tags_merge_policies_stay_and_listing_is_by_prefix() {
        let (cloud, s) = with_secret().await;
        let more = BTreeMap::from([
            ("trustlink:link".into(), "l2".into()),
            ("a".into(), "b".into()),
        ]);
        s.tag_secret("trustlink/l1", &more).await.unwrap();
        assert_eq!(s.describe_secret("trustlink/l1").await.unwrap().tags, more);
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": []});
        s.put_resource_policy("trustlink/l1", &policy)
            .await
            .unwrap();
        assert_eq!(cloud.secret_resource_policy("trustlink/l1"), Some(policy));
        s.create_secret("other/x", "d", &text("v"), &tags(), None, None)
            .await
            .unwrap();
        let names: Vec<String> = s
            .list_secrets("trustlink/")
            .await
            .unwrap()
            .into_iter()
            .map(|x| x.name)
            .collect();
        assert_eq!(names, ["trustlink/l1"]);
    }
}
