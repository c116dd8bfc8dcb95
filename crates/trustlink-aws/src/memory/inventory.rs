//! The read-only inventory in memory: every role, user and local policy of an account.
//! No port creates groups, so a user is in none and every group is unknown.

use std::collections::BTreeMap;

use serde_json::Value;

use super::roles::{no_inline, role_mut};
use super::users::user_mut;
use super::{not_found, MemoryIam};
use crate::ports::UserInfo;
use crate::ports::{AwsResult as Result, Inventory, PolicySummary, RoleSummary, RoleUsage};

fn no_group(operation: &'static str, group: &str) -> crate::AwsError {
    not_found(
        operation,
        format!("The group with name {group} cannot be found."),
    )
}

impl Inventory for MemoryIam {
    /// By name, as IAM lists them.
    async fn list_roles(&self) -> Result<Vec<RoleSummary>> {
        self.with(|a, _| {
            let mut roles: Vec<RoleSummary> = a
                .roles
                .values()
                .map(|r| RoleSummary {
                    arn: r.info.arn.clone(),
                    name: r.info.name.clone(),
                    path: r.info.path.clone(),
                    trust_policy: r.info.trust_policy.clone(),
                    max_session_duration: r.info.max_session_duration,
                    created: r.created,
                })
                .collect();
            roles.sort_by(|x, y| x.name.cmp(&y.name));
            Ok(roles)
        })
    }

    async fn role_usage(&self, name: &str) -> Result<RoleUsage> {
        self.with(|a, _| {
            let role = role_mut(a, "iam:GetRole", name)?;
            Ok(RoleUsage {
                created: role.created,
                last_used: role.last_used,
            })
        })
    }

    /// ListUsers returns no tags.
    async fn list_users(&self) -> Result<Vec<UserInfo>> {
        self.with(|a, _| {
            let mut users: Vec<UserInfo> = a
                .users
                .values()
                .map(|u| UserInfo {
                    tags: BTreeMap::new(),
                    ..u.info.clone()
                })
                .collect();
            users.sort_by(|x, y| x.name.cmp(&y.name));
            Ok(users)
        })
    }

    async fn list_user_policies(&self, user: &str) -> Result<Vec<String>> {
        self.with(|a, _| {
            let user = user_mut(a, "iam:ListUserPolicies", user)?;
            Ok(user.inline.keys().cloned().collect())
        })
    }

    async fn get_user_policy(&self, user: &str, policy_name: &str) -> Result<Value> {
        const OP: &str = "iam:GetUserPolicy";
        self.with(|a, _| {
            let user = user_mut(a, OP, user)?;
            user.inline
                .get(policy_name)
                .cloned()
                .ok_or_else(|| no_inline(OP, policy_name))
        })
    }

    async fn list_groups_for_user(&self, user: &str) -> Result<Vec<String>> {
        self.with(|a, _| {
            user_mut(a, "iam:ListGroupsForUser", user)?;
            Ok(Vec::new())
        })
    }

    async fn list_group_policies(&self, group: &str) -> Result<Vec<String>> {
        Err(no_group("iam:ListGroupPolicies", group))
    }

    async fn get_group_policy(&self, group: &str, _policy_name: &str) -> Result<Value> {
        Err(no_group("iam:GetGroupPolicy", group))
    }

    async fn list_attached_group_policies(&self, group: &str) -> Result<Vec<String>> {
        Err(no_group("iam:ListAttachedGroupPolicies", group))
    }

    async fn list_local_policies(&self, path_prefix: &str) -> Result<Vec<PolicySummary>> {
        self.with(|a, _| {
            let mut found: Vec<PolicySummary> = a
                .policies
                .values()
                .filter(|p| p.path.starts_with(path_prefix))
                .map(|p| PolicySummary {
                    arn: p.arn.clone(),
                    name: p.name.clone(),
                    path: p.path.clone(),
                    attachments: super::policies::attachments(a, &p.arn),
                })
                .collect();
            found.sort_by(|x, y| x.name.cmp(&y.name));
            Ok(found)
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::memory::roles::tests::definition;
    use crate::memory::tests::MEMBER;
    use crate::memory::MemoryCloud;
    use crate::ports::{Policies, Roles, Users};

    #[tokio::test]
    async fn roles_users_and_local_policies_are_listed() {
        let cloud = MemoryCloud::with_accounts(&[MEMBER]);
        let iam = cloud.iam_of(MEMBER);
        iam.create_role(&definition("B")).await.unwrap();
        iam.create_role(&definition("A")).await.unwrap();
        let names: Vec<String> = iam
            .list_roles()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["A", "B"]);
        let usage = iam.role_usage("A").await.unwrap();
        assert_eq!(usage.last_used, None);
        assert!(iam.role_usage("C").await.unwrap_err().is_not_found());

        let tags = BTreeMap::from([("k".into(), "v".into())]);
        iam.create_user("/", "Dev", &tags).await.unwrap();
        let users = iam.list_users().await.unwrap();
        assert_eq!(users.len(), 1);
        assert!(users[0].tags.is_empty(), "ListUsers has no tags");

        let doc = json!({"Version": "2012-10-17", "Statement": []});
        let arn = iam
            .create_policy("/trustlink/", "Grant", "", &doc)
            .await
            .unwrap();
        iam.create_policy("/other/", "Else", "", &doc)
            .await
            .unwrap();
        iam.attach_role_policy("A", &arn).await.unwrap();
        let local = iam.list_local_policies("/trustlink/").await.unwrap();
        assert_eq!(local.len(), 1);
        assert_eq!((local[0].name.as_str(), local[0].attachments), ("Grant", 1));
    }

    #[tokio::test]
    async fn user_inline_policies_are_read_and_groups_are_none() {
        let cloud = MemoryCloud::with_accounts(&[MEMBER]);
        let iam = cloud.iam_of(MEMBER);
        iam.create_user("/", "Dev", &BTreeMap::new()).await.unwrap();
        let doc = json!({"Version": "2012-10-17", "Statement": []});
        cloud.put_user_policy(MEMBER, "Dev", "p", &doc);
        assert_eq!(iam.list_user_policies("Dev").await.unwrap(), ["p"]);
        assert_eq!(iam.get_user_policy("Dev", "p").await.unwrap(), doc);
        assert!(iam
            .get_user_policy("Dev", "q")
            .await
            .unwrap_err()
            .is_not_found());
        assert!(iam.list_groups_for_user("Dev").await.unwrap().is_empty());
        assert!(iam
            .list_groups_for_user("Nobody")
            .await
            .unwrap_err()
            .is_not_found());
        assert!(iam
            .list_group_policies("g")
            .await
            .unwrap_err()
            .is_not_found());
    }
}
