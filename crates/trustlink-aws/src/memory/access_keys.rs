//! Access keys in memory: two per user, their status, and their last use (set when STS is
//! called with them).

use trustlink_domain::SecretAccessKey;

use super::users::user_mut;
use super::{error, not_found, MemoryIam};
use crate::ports::{AccessKeyInfo, AccessKeys, AwsResult as Result, KeyStatus, NewAccessKey};
use crate::ErrorKind;

/// IAM's quota of access keys per user.
const MAX_KEYS: usize = 2;

#[derive(Debug, Clone)]
pub(super) struct Key {
    pub(super) id: String,
    pub(super) secret: String,
    pub(super) status: KeyStatus,
    pub(super) created: i64,
    pub(super) last_used: Option<i64>,
}

impl Key {
    fn info(&self) -> AccessKeyInfo {
        AccessKeyInfo {
            id: self.id.clone(),
            status: self.status,
            created: self.created,
        }
    }
}

fn no_key(operation: &'static str, key_id: &str) -> crate::AwsError {
    not_found(
        operation,
        format!("The Access Key with id {key_id} cannot be found."),
    )
}

impl AccessKeys for MemoryIam {
    async fn create_access_key(&self, user: &str) -> Result<NewAccessKey> {
        const OP: &str = "iam:CreateAccessKey";
        self.with(|a, env| {
            let user = user_mut(a, OP, user)?;
            if user.keys.len() >= MAX_KEYS {
                return Err(error(
                    OP,
                    ErrorKind::LimitExceeded,
                    format!("Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS}"),
                ));
            }
            let key = Key {
                id: env.id("AKIA", 16),
                secret: env.id("memory/secret/", 26),
                status: KeyStatus::Active,
                created: env.now(),
                last_used: None,
            };
            let new = NewAccessKey {
                id: key.id.clone(),
                secret: SecretAccessKey::new(&key.secret),
            };
            user.keys.push(key);
            Ok(new)
        })
    }

    async fn list_access_keys(&self, user: &str) -> Result<Vec<AccessKeyInfo>> {
        self.with(|a, _| {
            let user = user_mut(a, "iam:ListAccessKeys", user)?;
            Ok(user.keys.iter().map(Key::info).collect())
        })
    }

    async fn set_access_key_status(
        &self,
        user: &str,
        key_id: &str,
        status: KeyStatus,
    ) -> Result<()> {
        const OP: &str = "iam:UpdateAccessKey";
        self.with(|a, _| {
            let user = user_mut(a, OP, user)?;
            let key = user.keys.iter_mut().find(|k| k.id == key_id);
            key.ok_or_else(|| no_key(OP, key_id))?.status = status;
            Ok(())
        })
    }

    async fn delete_access_key(&self, user: &str, key_id: &str) -> Result<()> {
        const OP: &str = "iam:DeleteAccessKey";
        self.with(|a, _| {
            let user = user_mut(a, OP, user)?;
            let before = user.keys.len();
            user.keys.retain(|k| k.id != key_id);
            if user.keys.len() == before {
                return Err(no_key(OP, key_id));
            }
            Ok(())
        })
    }

    /// A key of another account is as unknown as one never made.
    async fn access_key_last_used(&self, key_id: &str) -> Result<Option<i64>> {
        const OP: &str = "iam:GetAccessKeyLastUsed";
        self.with(|a, _| {
            a.users
                .values()
                .flat_map(|u| &u.keys)
                .find(|k| k.id == key_id)
                .map(|k| k.last_used)
                .ok_or_else(|| no_key(OP, key_id))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::tests::MEMBER;
    use crate::memory::MemoryCloud;
    use crate::ports::{Cloud, Credentials, Sts, Users};

    async fn with_user() -> (MemoryCloud, MemoryIam) {
        let cloud = MemoryCloud::with_accounts(&[MEMBER]);
        let iam = cloud.iam_of(MEMBER);
        iam.create_user("/", "Dev", &Default::default())
            .await
            .unwrap();
        (cloud, iam)
    }

    #[tokio::test]
    async fn two_keys_per_user_and_a_third_is_limit_exceeded() {
        let (_, iam) = with_user().await;
        let a = iam.create_access_key("Dev").await.unwrap();
        let b = iam.create_access_key("Dev").await.unwrap();
        assert_ne!(a.id, b.id);
        assert!(a.id.starts_with("AKIA") && a.id.len() == 20);
        let e = iam.create_access_key("Dev").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LimitExceeded);
        assert_eq!(e.operation, "iam:CreateAccessKey");
        iam.delete_access_key("Dev", &a.id).await.unwrap();
        iam.create_access_key("Dev").await.unwrap();
    }

    #[tokio::test]
    async fn keys_list_oldest_first_with_their_status() {
        let (_, iam) = with_user().await;
        let a = iam.create_access_key("Dev").await.unwrap();
        let b = iam.create_access_key("Dev").await.unwrap();
        iam.set_access_key_status("Dev", &a.id, KeyStatus::Inactive)
            .await
            .unwrap();
        let keys = iam.list_access_keys("Dev").await.unwrap();
        let shown: Vec<_> = keys.iter().map(|k| (k.id.as_str(), k.status)).collect();
        assert_eq!(
            shown,
            [
                (a.id.as_str(), KeyStatus::Inactive),
                (b.id.as_str(), KeyStatus::Active)
            ]
        );
        assert!(keys[0].created > 0);
    }

    #[tokio::test]
    async fn a_missing_key_or_user_is_no_such_entity() {
        let (_, iam) = with_user().await;
        assert!(iam
            .create_access_key("Nobody")
            .await
            .unwrap_err()
            .is_not_found());
        let e = iam
            .delete_access_key("Dev", "AKIANOSUCHKEY0000000")
            .await
            .unwrap_err();
        assert!(e.is_not_found());
        let e = iam
            .set_access_key_status("Dev", "AKIANOSUCHKEY0000000", KeyStatus::Active)
            .await
            .unwrap_err();
        assert!(e.is_not_found());
        let e = iam
            .access_key_last_used("AKIANOSUCHKEY0000000")
            .await
            .unwrap_err();
        assert!(e.is_not_found());
    }

    #[tokio::test]
    async fn last_use_is_when_sts_was_called_with_the_key() {
        let (cloud, iam) = with_user().await;
        let key = iam.create_access_key("Dev").await.unwrap();
        assert_eq!(iam.access_key_last_used(&key.id).await.unwrap(), None);
        cloud.advance(3600);
        let sts = cloud.sts_as(&Credentials {
            access_key_id: key.id.clone(),
            secret_access_key: key.secret.clone(),
            session_token: None,
        });
        sts.caller_identity().await.unwrap();
        let used = iam.access_key_last_used(&key.id).await.unwrap().unwrap();
        assert!((used - cloud.now()).abs() <= 1, "{used}");
    }
}
