//! Roles in memory: IAM's rules for a role, its trust policy, tags and permissions.

use std::collections::BTreeMap;

use serde_json::Value;

use super::policies::{attach, detach};
use super::{check_document, check_name, check_path, delete_conflict, merge_tags, not_found};
use super::{error, invalid, Account, MemoryIam};
use crate::ports::{AwsResult as Result, RoleDefinition, RoleInfo, Roles};
use crate::ErrorKind;

/// IAM's default and bounds of a role's maximum session duration, in seconds.
const DEFAULT_SESSION: u32 = 3600;
const MAX_SESSION: u32 = 43_200;

#[derive(Debug, Clone)]
pub(super) struct Role {
    pub(super) info: RoleInfo,
    /// The `AROA…` id that assumed-role sessions carry in their user id.
    pub(super) id: String,
    pub(super) created: i64,
    /// Set by AssumeRole (IAM's `RoleLastUsed`).
    pub(super) last_used: Option<i64>,
    pub(super) inline: BTreeMap<String, Value>,
    /// Managed policy ARNs in attachment order.
    pub(super) attached: Vec<String>,
}

/// The role named `name` (IAM finds names regardless of case).
pub(super) fn role_mut<'a>(
    account: &'a mut Account,
    operation: &'static str,
    name: &str,
) -> Result<&'a mut Role> {
    account
        .roles
        .get_mut(&name.to_ascii_lowercase())
        .ok_or_else(|| {
            not_found(
                operation,
                format!("The role with name {name} cannot be found."),
            )
        })
}

fn check_session(operation: &'static str, seconds: Option<u32>) -> Result<u32> {
    let seconds = seconds.unwrap_or(DEFAULT_SESSION);
    if (DEFAULT_SESSION..=MAX_SESSION).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(invalid(
            operation,
            format!("The requested MaxSessionDuration {seconds} is outside 3600..43200."),
        ))
    }
}

fn check_definition(op: &'static str, role: &RoleDefinition) -> Result<u32> {
    check_name(op, &role.name, 64)?;
    check_path(op, &role.path)?;
    check_document(op, &role.trust_policy)?;
    if role.tags.len() > super::MAX_TAGS {
        return Err(error(op, ErrorKind::LimitExceeded, "Too many tags."));
    }
    check_session(op, role.max_session_duration)
}

impl Roles for MemoryIam {
    async fn create_role(&self, role: &RoleDefinition) -> Result<RoleInfo> {
        const OP: &str = "iam:CreateRole";
        let session = check_definition(OP, role)?;
        self.with(|account, env| {
            let key = role.name.to_ascii_lowercase();
            if account.roles.contains_key(&key) {
                return Err(error(
                    OP,
                    ErrorKind::AlreadyExists,
                    format!("Role with name {} already exists.", role.name),
                ));
            }
            let info = RoleInfo {
                arn: format!("arn:aws:iam::{}:role{}{}", account.id, role.path, role.name),
                name: role.name.clone(),
                path: role.path.clone(),
                // IAM stores no empty description.
                description: role.description.clone().filter(|d| !d.is_empty()),
                max_session_duration: Some(session),
                trust_policy: role.trust_policy.clone(),
                permissions_boundary: role.permissions_boundary.clone(),
                tags: role.tags.clone(),
            };
            let created = Role {
                info: info.clone(),
                id: env.id("AROA", 17),
                created: env.now(),
                last_used: None,
                inline: BTreeMap::new(),
                attached: Vec::new(),
            };
            account.roles.insert(key, created);
            Ok(info)
        })
    }

    async fn get_role(&self, name: &str) -> Result<RoleInfo> {
        self.with(|a, _| Ok(role_mut(a, "iam:GetRole", name)?.info.clone()))
    }

    async fn update_trust_policy(&self, name: &str, policy: &Value) -> Result<()> {
        const OP: &str = "iam:UpdateAssumeRolePolicy";
        check_document(OP, policy)?;
        self.with(|a, _| {
            role_mut(a, OP, name)?.info.trust_policy = policy.clone();
            Ok(())
        })
    }

    /// As the adapter sends it: no description clears it, no duration is IAM's default.
    async fn update_role(
        &self,
        name: &str,
        description: Option<&str>,
        max_session_duration: Option<u32>,
    ) -> Result<()> {
        const OP: &str = "iam:UpdateRole";
        let session = check_session(OP, max_session_duration)?;
        self.with(|a, _| {
            let role = role_mut(a, OP, name)?;
            role.info.description = description.filter(|d| !d.is_empty()).map(String::from);
            role.info.max_session_duration = Some(session);
            Ok(())
        })
    }

    async fn set_permissions_boundary(&self, name: &str, boundary: Option<&str>) -> Result<()> {
        let op = match boundary {
            Some(_) => "iam:PutRolePermissionsBoundary",
            None => "iam:DeleteRolePermissionsBoundary",
        };
        self.with(|a, _| {
            role_mut(a, op, name)?.info.permissions_boundary = boundary.map(String::from);
            Ok(())
        })
    }

    async fn tag_role(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        if tags.is_empty() {
            return Ok(());
        }
        self.with(|a, _| {
            let role = role_mut(a, "iam:TagRole", name)?;
            merge_tags("iam:TagRole", &mut role.info.tags, tags)
        })
    }

    async fn untag_role(&self, name: &str, keys: &[String]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.with(|a, _| {
            let role = role_mut(a, "iam:UntagRole", name)?;
            role.info.tags.retain(|k, _| !keys.contains(k));
            Ok(())
        })
    }

    /// IAM refuses to delete a role that still has policies.
    async fn delete_role(&self, name: &str) -> Result<()> {
        const OP: &str = "iam:DeleteRole";
        self.with(|a, _| {
            let role = role_mut(a, OP, name)?;
            if !role.attached.is_empty() {
                return Err(delete_conflict(
                    OP,
                    "Cannot delete entity, must detach all policies first.",
                ));
            }
            if !role.inline.is_empty() {
                return Err(delete_conflict(
                    OP,
                    "Cannot delete entity, must delete policies first.",
                ));
            }
            a.roles.remove(&name.to_ascii_lowercase());
            Ok(())
        })
    }

    async fn attach_role_policy(&self, name: &str, policy_arn: &str) -> Result<()> {
        const OP: &str = "iam:AttachRolePolicy";
        self.with(|a, _| {
            let exists = super::policies::exists(a, policy_arn);
            let role = role_mut(a, OP, name)?;
            attach(
                OP,
                &mut role.attached,
                policy_arn,
                exists,
                "PoliciesPerRole",
            )
        })
    }

    async fn detach_role_policy(&self, name: &str, policy_arn: &str) -> Result<()> {
        const OP: &str = "iam:DetachRolePolicy";
        self.with(|a, _| detach(OP, &mut role_mut(a, OP, name)?.attached, policy_arn))
    }

    async fn list_attached_role_policies(&self, name: &str) -> Result<Vec<String>> {
        self.with(|a, _| {
            Ok(role_mut(a, "iam:ListAttachedRolePolicies", name)?
                .attached
                .clone())
        })
    }

    async fn put_role_policy(&self, name: &str, policy_name: &str, document: &Value) -> Result<()> {
        const OP: &str = "iam:PutRolePolicy";
        check_name(OP, policy_name, 128)?;
        check_document(OP, document)?;
        self.with(|a, _| {
            let role = role_mut(a, OP, name)?;
            role.inline
                .insert(policy_name.to_string(), document.clone());
            Ok(())
        })
    }

    async fn get_role_policy(&self, name: &str, policy_name: &str) -> Result<Value> {
        const OP: &str = "iam:GetRolePolicy";
        self.with(|a, _| {
            role_mut(a, OP, name)?
                .inline
                .get(policy_name)
                .cloned()
                .ok_or_else(|| no_inline(OP, policy_name))
        })
    }

    async fn delete_role_policy(&self, name: &str, policy_name: &str) -> Result<()> {
        const OP: &str = "iam:DeleteRolePolicy";
        self.with(|a, _| {
            role_mut(a, OP, name)?
                .inline
                .remove(policy_name)
                .map(drop)
                .ok_or_else(|| no_inline(OP, policy_name))
        })
    }

    /// Sorted by name, as IAM lists them.
    async fn list_role_policies(&self, name: &str) -> Result<Vec<String>> {
        self.with(|a, _| {
            Ok(role_mut(a, "iam:ListRolePolicies", name)?
                .inline
                .keys()
                .cloned()
                .collect())
        })
    }
}

pub(super) fn no_inline(operation: &'static str, policy_name: &str) -> crate::AwsError {
    not_found(
        operation,
        format!("The policy with name {policy_name} cannot be found."),
    )
}

#[cfg(test)]
pub(super) mod tests {
    use serde_json::json;

    use super::*;
    use crate::memory::tests::MEMBER;
    use crate::memory::MemoryCloud;
    use crate::ports::Policies;

    pub(crate) fn definition(name: &str) -> RoleDefinition {
        RoleDefinition {
            name: name.into(),
            path: "/trustlink/".into(),
            description: Some("a role".into()),
            max_session_duration: None,
            trust_policy: json!({"Version": "2012-10-17", "Statement": []}),
            permissions_boundary: None,
            tags: BTreeMap::from([("team".into(), "data".into())]),
        }
    }

    fn iam() -> MemoryIam {
        MemoryCloud::with_accounts(&[MEMBER]).iam_of(MEMBER)
    }

    const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";

    #[tokio::test]
    async fn a_created_role_reads_back_with_iam_defaults() {
        let iam = iam();
        let made = iam.create_role(&definition("Reader")).await.unwrap();
        assert_eq!(made.arn, "arn:aws:iam::111122223333:role/trustlink/Reader");
        assert_eq!(made.max_session_duration, Some(3600));
        assert_eq!(iam.get_role("Reader").await.unwrap(), made);
        assert_eq!(iam.get_role("reader").await.unwrap().name, "Reader");
    }

    #[tokio::test]
    async fn names_are_unique_regardless_of_case() {
        let iam = iam();
        iam.create_role(&definition("Reader")).await.unwrap();
        let e = iam.create_role(&definition("READER")).await.unwrap_err();
        assert!(e.is_already_exists(), "{e}");
        assert_eq!(e.operation, "iam:CreateRole");
    }

    #[tokio::test]
    async fn a_missing_role_is_no_such_entity_everywhere() {
        let iam = iam();
        assert!(iam.get_role("Gone").await.unwrap_err().is_not_found());
        assert!(iam.delete_role("Gone").await.unwrap_err().is_not_found());
        let e = iam
            .tag_role("Gone", &definition("x").tags)
            .await
            .unwrap_err();
        assert!(e.is_not_found());
        let e = iam.attach_role_policy("Gone", READ_ONLY).await.unwrap_err();
        assert!(e.is_not_found());
    }

    #[tokio::test]
    async fn invalid_definitions_are_refused() {
        let iam = iam();
        let mut bad = definition("Bad");
        bad.path = "nopath".into();
        assert_eq!(
            iam.create_role(&bad).await.unwrap_err().kind(),
            ErrorKind::Invalid
        );
        let mut bad = definition("Bad");
        bad.max_session_duration = Some(60);
        assert!(iam.create_role(&bad).await.is_err());
        let mut bad = definition("Bad");
        bad.trust_policy = json!("not a policy");
        assert!(iam.create_role(&bad).await.is_err());
        assert!(iam.get_role("Bad").await.is_err(), "nothing was created");
    }

    #[tokio::test]
    async fn updates_change_what_get_role_reads() {
        let iam = iam();
        iam.create_role(&definition("R")).await.unwrap();
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny"}]});
        iam.update_trust_policy("R", &trust).await.unwrap();
        iam.update_role("R", None, Some(7200)).await.unwrap();
        let boundary = "arn:aws:iam::aws:policy/PowerUserAccess";
        iam.set_permissions_boundary("R", Some(boundary))
            .await
            .unwrap();
        let role = iam.get_role("R").await.unwrap();
        assert_eq!(role.trust_policy, trust);
        assert_eq!(role.description, None, "no description clears it");
        assert_eq!(role.max_session_duration, Some(7200));
        assert_eq!(role.permissions_boundary.as_deref(), Some(boundary));
        iam.set_permissions_boundary("R", None).await.unwrap();
        iam.update_role("R", Some("back"), None).await.unwrap();
        let role = iam.get_role("R").await.unwrap();
        assert_eq!(role.permissions_boundary, None);
        assert_eq!(role.description.as_deref(), Some("back"));
        assert_eq!(role.max_session_duration, Some(3600));
    }

    #[tokio::test]
    async fn tags_merge_and_untag_removes_keys() {
        let iam = iam();
        iam.create_role(&definition("R")).await.unwrap();
        let more = BTreeMap::from([("team".into(), "ops".into()), ("env".into(), "dev".into())]);
        iam.tag_role("R", &more).await.unwrap();
        assert_eq!(iam.get_role("R").await.unwrap().tags, more);
        iam.untag_role("R", &["team".into()]).await.unwrap();
        let tags = iam.get_role("R").await.unwrap().tags;
        assert_eq!(tags, BTreeMap::from([("env".into(), "dev".into())]));
    }

    #[tokio::test]
    async fn inline_policies_are_kept_by_name() {
        let iam = iam();
        iam.create_role(&definition("R")).await.unwrap();
        let doc = json!({"Version": "2012-10-17", "Statement": []});
        iam.put_role_policy("R", "b", &doc).await.unwrap();
        iam.put_role_policy("R", "a", &doc).await.unwrap();
        assert_eq!(iam.list_role_policies("R").await.unwrap(), ["a", "b"]);
        assert_eq!(iam.get_role_policy("R", "a").await.unwrap(), doc);
        iam.delete_role_policy("R", "a").await.unwrap();
        let e = iam.get_role_policy("R", "a").await.unwrap_err();
        assert!(e.is_not_found());
        assert!(iam
            .delete_role_policy("R", "a")
            .await
            .unwrap_err()
            .is_not_found());
    }

    #[tokio::test]
    async fn attached_policies_must_exist_and_stay_under_ten() {
        let iam = iam();
        iam.create_role(&definition("R")).await.unwrap();
        iam.attach_role_policy("R", READ_ONLY).await.unwrap();
        iam.attach_role_policy("R", READ_ONLY).await.unwrap();
        assert_eq!(
            iam.list_attached_role_policies("R").await.unwrap(),
            [READ_ONLY],
            "attaching twice attaches once"
        );
        let none = "arn:aws:iam::aws:policy/NoSuchPolicy";
        assert!(iam
            .attach_role_policy("R", none)
            .await
            .unwrap_err()
            .is_not_found());
        let doc = json!({"Version": "2012-10-17", "Statement": []});
        for i in 0..9 {
            let arn = iam
                .create_policy("/", &format!("p{i}"), "", &doc)
                .await
                .unwrap();
            iam.attach_role_policy("R", &arn).await.unwrap();
        }
        let arn = iam.create_policy("/", "p9", "", &doc).await.unwrap();
        let e = iam.attach_role_policy("R", &arn).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LimitExceeded);
        iam.detach_role_policy("R", READ_ONLY).await.unwrap();
        let e = iam.detach_role_policy("R", READ_ONLY).await.unwrap_err();
        assert!(e.is_not_found());
    }

    #[tokio::test]
    async fn a_role_with_policies_cannot_be_deleted() {
        let iam = iam();
        iam.create_role(&definition("R")).await.unwrap();
        iam.attach_role_policy("R", READ_ONLY).await.unwrap();
        let e = iam.delete_role("R").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Other);
        assert!(e.message.starts_with("DeleteConflict"), "{e}");
        iam.detach_role_policy("R", READ_ONLY).await.unwrap();
        let doc = json!({"Version": "2012-10-17", "Statement": []});
        iam.put_role_policy("R", "inline", &doc).await.unwrap();
        assert!(iam.delete_role("R").await.is_err());
        iam.delete_role_policy("R", "inline").await.unwrap();
        iam.delete_role("R").await.unwrap();
        assert!(iam.get_role("R").await.unwrap_err().is_not_found());
    }
}
