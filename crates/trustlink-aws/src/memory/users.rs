//! Users in memory: IAM's rules for a user, its tags and its attached policies.

use std::collections::BTreeMap;

use serde_json::Value;

use super::access_keys::Key;
use super::policies::{attach, detach};
use super::{check_name, check_path, delete_conflict, error, not_found, Account, MemoryIam};
use crate::ports::{AwsResult as Result, UserInfo, Users};
use crate::ErrorKind;

#[derive(Debug, Clone)]
pub(super) struct User {
    pub(super) info: UserInfo,
    /// The `AIDA…` id GetCallerIdentity returns as the user id.
    pub(super) id: String,
    /// Managed policy ARNs in attachment order.
    pub(super) attached: Vec<String>,
    /// Inline policies (no port writes them; the inventory reads them).
    pub(super) inline: BTreeMap<String, Value>,
    /// Oldest first.
    pub(super) keys: Vec<Key>,
}

/// The user named `name` (IAM finds names regardless of case).
pub(super) fn user_mut<'a>(
    account: &'a mut Account,
    operation: &'static str,
    name: &str,
) -> Result<&'a mut User> {
    account
        .users
        .get_mut(&name.to_ascii_lowercase())
        .ok_or_else(|| {
            not_found(
                operation,
                format!("The user with name {name} cannot be found."),
            )
        })
}

impl Users for MemoryIam {
    async fn create_user(
        &self,
        path: &str,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<UserInfo> {
        const OP: &str = "iam:CreateUser";
        check_name(OP, name, 64)?;
        check_path(OP, path)?;
        if tags.len() > super::MAX_TAGS {
            return Err(error(OP, ErrorKind::LimitExceeded, "Too many tags."));
        }
        self.with(|account, env| {
            let key = name.to_ascii_lowercase();
            if account.users.contains_key(&key) {
                return Err(error(
                    OP,
                    ErrorKind::AlreadyExists,
                    format!("User with name {name} already exists."),
                ));
            }
            let info = UserInfo {
                arn: format!("arn:aws:iam::{}:user{path}{name}", account.id),
                name: name.to_string(),
                path: path.to_string(),
                tags: tags.clone(),
            };
            let user = User {
                info: info.clone(),
                id: env.id("AIDA", 17),
                attached: Vec::new(),
                inline: BTreeMap::new(),
                keys: Vec::new(),
            };
            account.users.insert(key, user);
            Ok(info)
        })
    }

    async fn get_user(&self, name: &str) -> Result<UserInfo> {
        self.with(|a, _| Ok(user_mut(a, "iam:GetUser", name)?.info.clone()))
    }

    /// IAM refuses to delete a user that still has keys or policies.
    async fn delete_user(&self, name: &str) -> Result<()> {
        const OP: &str = "iam:DeleteUser";
        self.with(|a, _| {
            let user = user_mut(a, OP, name)?;
            let conflict = if !user.keys.is_empty() {
                Some("Cannot delete entity, must delete access keys first.")
            } else if !user.attached.is_empty() {
                Some("Cannot delete entity, must detach all policies first.")
            } else if !user.inline.is_empty() {
                Some("Cannot delete entity, must delete policies first.")
            } else {
                None
            };
            if let Some(message) = conflict {
                return Err(delete_conflict(OP, message));
            }
            a.users.remove(&name.to_ascii_lowercase());
            Ok(())
        })
    }

    async fn attach_user_policy(&self, user: &str, policy_arn: &str) -> Result<()> {
        const OP: &str = "iam:AttachUserPolicy";
        self.with(|a, _| {
            let exists = super::policies::exists(a, policy_arn);
            let user = user_mut(a, OP, user)?;
            attach(
                OP,
                &mut user.attached,
                policy_arn,
                exists,
                "PoliciesPerUser",
            )
        })
    }

    async fn detach_user_policy(&self, user: &str, policy_arn: &str) -> Result<()> {
        const OP: &str = "iam:DetachUserPolicy";
        self.with(|a, _| detach(OP, &mut user_mut(a, OP, user)?.attached, policy_arn))
    }

    async fn list_attached_user_policies(&self, user: &str) -> Result<Vec<String>> {
        self.with(|a, _| {
            Ok(user_mut(a, "iam:ListAttachedUserPolicies", user)?
                .attached
                .clone())
        })
    }
}

impl super::MemoryCloud {
    /// PutUserPolicy done outside trustlink: no port writes a user's inline policy, but an
    /// audit reads them.
    pub fn put_user_policy(&self, account: &str, user: &str, name: &str, document: &Value) {
        self.iam_of(account).with(|a, _| {
            let user = user_mut(a, "iam:PutUserPolicy", user).expect("the user exists");
            user.inline.insert(name.to_string(), document.clone());
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::tests::MEMBER;
    use crate::memory::MemoryCloud;
    use crate::ports::AccessKeys;

    fn iam() -> MemoryIam {
        MemoryCloud::with_accounts(&[MEMBER]).iam_of(MEMBER)
    }

    fn tags() -> BTreeMap<String, String> {
        BTreeMap::from([("trustlink:link".into(), "l1".into())])
    }

    #[tokio::test]
    async fn a_created_user_reads_back_with_its_tags() {
        let iam = iam();
        let made = iam
            .create_user("/trustlink/", "Dev", &tags())
            .await
            .unwrap();
        assert_eq!(made.arn, "arn:aws:iam::111122223333:user/trustlink/Dev");
        assert_eq!(made.tags, tags());
        assert_eq!(iam.get_user("dev").await.unwrap(), made);
    }

    #[tokio::test]
    async fn a_second_user_of_the_name_already_exists() {
        let iam = iam();
        iam.create_user("/", "Dev", &tags()).await.unwrap();
        let e = iam
            .create_user("/other/", "DEV", &tags())
            .await
            .unwrap_err();
        assert!(e.is_already_exists(), "{e}");
        assert_eq!(e.operation, "iam:CreateUser");
    }

    #[tokio::test]
    async fn a_missing_user_is_no_such_entity() {
        let iam = iam();
        assert!(iam.get_user("Nobody").await.unwrap_err().is_not_found());
        assert!(iam.delete_user("Nobody").await.unwrap_err().is_not_found());
        let e = iam.list_attached_user_policies("Nobody").await.unwrap_err();
        assert!(e.is_not_found());
    }

    #[tokio::test]
    async fn a_user_with_keys_or_policies_cannot_be_deleted() {
        let iam = iam();
        iam.create_user("/", "Dev", &tags()).await.unwrap();
        let key = iam.create_access_key("Dev").await.unwrap();
        let e = iam.delete_user("Dev").await.unwrap_err();
        assert!(e.message.contains("access keys"), "{e}");
        iam.delete_access_key("Dev", &key.id).await.unwrap();
        let arn = "arn:aws:iam::aws:policy/SecurityAudit";
        iam.attach_user_policy("Dev", arn).await.unwrap();
        assert_eq!(iam.list_attached_user_policies("Dev").await.unwrap(), [arn]);
        assert!(iam.delete_user("Dev").await.is_err());
        iam.detach_user_policy("Dev", arn).await.unwrap();
        iam.delete_user("Dev").await.unwrap();
        assert!(iam.get_user("Dev").await.unwrap_err().is_not_found());
    }
}
