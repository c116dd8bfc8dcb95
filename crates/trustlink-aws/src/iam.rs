//! IAM over `aws-sdk-iam`: roles, managed policies, users, access keys.

use std::collections::BTreeMap;

use aws_sdk_iam::types::{StatusType, Tag};
use aws_sdk_iam::Client;
use serde_json::Value;
use trustlink_domain::policy::parse_policy_document;
use trustlink_domain::SecretAccessKey;

use crate::error::map_sdk;
use crate::ports::AwsResult as Result;
use crate::ports::*;
use crate::{AwsError, NotFoundExt};

/// The IAM of one account. Cheap to clone.
#[derive(Clone, Debug)]
pub struct IamAdapter {
    client: Client,
}

impl IamAdapter {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn iam_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::other("iam:Tag", e.to_string()))
        })
        .collect()
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

fn to_json(operation: &'static str, doc: &Value) -> Result<String> {
    serde_json::to_string(doc).map_err(|e| AwsError::other(operation, e.to_string()))
}

fn decode(operation: &'static str, text: &str) -> Result<Value> {
    parse_policy_document(text).map_err(|e| AwsError::other(operation, e.to_string()))
}

fn role_info(role: &aws_sdk_iam::types::Role) -> Result<RoleInfo> {
    Ok(RoleInfo {
        arn: role.arn().to_string(),
        name: role.role_name().to_string(),
        path: role.path().to_string(),
        description: role.description().map(String::from),
        max_session_duration: role.max_session_duration().map(|d| d as u32),
        trust_policy: match role.assume_role_policy_document() {
            Some(text) => decode("iam:GetRole", text)?,
            None => Value::Null,
        },
        permissions_boundary: role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(String::from),
        tags: tag_map(role.tags()),
    })
}

impl Roles for IamAdapter {
    async fn create_role(&self, role: &RoleDefinition) -> Result<RoleInfo> {
        let out = self
            .client
            .create_role()
            .role_name(&role.name)
            .path(&role.path)
            .assume_role_policy_document(to_json("iam:CreateRole", &role.trust_policy)?)
            .set_description(role.description.clone())
            .set_max_session_duration(role.max_session_duration.map(|d| d as i32))
            .set_permissions_boundary(role.permissions_boundary.clone())
            .set_tags(Some(iam_tags(&role.tags)?).filter(|t| !t.is_empty()))
            .send()
            .await
            .map_err(map_sdk("iam:CreateRole"))?;
        let created = out
            .role()
            .ok_or_else(|| AwsError::other("iam:CreateRole", "no role in the response"))?;
        // CreateRole echoes the document as sent; read it back the same way GetRole does.
        role_info(created)
    }

    async fn get_role(&self, name: &str) -> Result<RoleInfo> {
        let out = self
            .client
            .get_role()
            .role_name(name)
            .send()
            .await
            .map_err(map_sdk("iam:GetRole"))?;
        role_info(
            out.role()
                .ok_or_else(|| AwsError::other("iam:GetRole", "no role in the response"))?,
        )
    }

    async fn update_trust_policy(&self, name: &str, policy: &Value) -> Result<()> {
        self.client
            .update_assume_role_policy()
            .role_name(name)
            .policy_document(to_json("iam:UpdateAssumeRolePolicy", policy)?)
            .send()
            .await
            .map_err(map_sdk("iam:UpdateAssumeRolePolicy"))?;
        Ok(())
    }

    async fn update_role(
        &self,
        name: &str,
        description: Option<&str>,
        max_session_duration: Option<u32>,
    ) -> Result<()> {
        self.client
            .update_role()
            .role_name(name)
            // IAM keeps the old description when none is sent; an empty one clears it.
            .description(description.unwrap_or_default())
            .set_max_session_duration(Some(max_session_duration.unwrap_or(3600) as i32))
            .send()
            .await
            .map_err(map_sdk("iam:UpdateRole"))?;
        Ok(())
    }

    async fn set_permissions_boundary(&self, name: &str, boundary: Option<&str>) -> Result<()> {
        match boundary {
            Some(arn) => {
                self.client
                    .put_role_permissions_boundary()
                    .role_name(name)
                    .permissions_boundary(arn)
                    .send()
                    .await
                    .map_err(map_sdk("iam:PutRolePermissionsBoundary"))?;
            }
            None => {
                self.client
                    .delete_role_permissions_boundary()
                    .role_name(name)
                    .send()
                    .await
                    .map_err(map_sdk("iam:DeleteRolePermissionsBoundary"))?;
            }
        }
        Ok(())
    }

    async fn tag_role(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        if tags.is_empty() {
            return Ok(());
        }
        self.client
            .tag_role()
            .role_name(name)
            .set_tags(Some(iam_tags(tags)?))
            .send()
            .await
            .map_err(map_sdk("iam:TagRole"))?;
        Ok(())
    }

    async fn untag_role(&self, name: &str, keys: &[String]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.client
            .untag_role()
            .role_name(name)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await
            .map_err(map_sdk("iam:UntagRole"))?;
        Ok(())
    }

    async fn delete_role(&self, name: &str) -> Result<()> {
        self.client
            .delete_role()
            .role_name(name)
            .send()
            .await
            .map_err(map_sdk("iam:DeleteRole"))?;
        Ok(())
    }

    async fn attach_role_policy(&self, name: &str, policy_arn: &str) -> Result<()> {
        self.client
            .attach_role_policy()
            .role_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(map_sdk("iam:AttachRolePolicy"))?;
        Ok(())
    }

    async fn detach_role_policy(&self, name: &str, policy_arn: &str) -> Result<()> {
        self.client
            .detach_role_policy()
            .role_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(map_sdk("iam:DetachRolePolicy"))?;
        Ok(())
    }

    async fn list_attached_role_policies(&self, name: &str) -> Result<Vec<String>> {
        let mut arns = Vec::new();
        let mut pages = self
            .client
            .list_attached_role_policies()
            .role_name(name)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(map_sdk("iam:ListAttachedRolePolicies"))?;
            arns.extend(
                page.attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(String::from)),
            );
        }
        Ok(arns)
    }

    async fn put_role_policy(&self, name: &str, policy_name: &str, document: &Value) -> Result<()> {
        self.client
            .put_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .policy_document(to_json("iam:PutRolePolicy", document)?)
            .send()
            .await
            .map_err(map_sdk("iam:PutRolePolicy"))?;
        Ok(())
    }

    async fn get_role_policy(&self, name: &str, policy_name: &str) -> Result<Value> {
        let out = self
            .client
            .get_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map_err(map_sdk("iam:GetRolePolicy"))?;
        decode("iam:GetRolePolicy", out.policy_document())
    }

    async fn delete_role_policy(&self, name: &str, policy_name: &str) -> Result<()> {
        self.client
            .delete_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map_err(map_sdk("iam:DeleteRolePolicy"))?;
        Ok(())
    }

    async fn list_role_policies(&self, name: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut pages = self
            .client
            .list_role_policies()
            .role_name(name)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            names.extend(
                page.map_err(map_sdk("iam:ListRolePolicies"))?
                    .policy_names()
                    .iter()
                    .cloned(),
            );
        }
        Ok(names)
    }
}

impl Policies for IamAdapter {
    async fn create_policy(
        &self,
        path: &str,
        name: &str,
        description: &str,
        document: &Value,
    ) -> Result<String> {
        let out = self
            .client
            .create_policy()
            .path(path)
            .policy_name(name)
            .description(description)
            .policy_document(to_json("iam:CreatePolicy", document)?)
            .send()
            .await
            .map_err(map_sdk("iam:CreatePolicy"))?;
        out.policy()
            .and_then(|p| p.arn())
            .map(String::from)
            .ok_or_else(|| AwsError::other("iam:CreatePolicy", "no policy ARN in the response"))
    }

    async fn policy_exists(&self, arn: &str) -> Result<bool> {
        Ok(self
            .client
            .get_policy()
            .policy_arn(arn)
            .send()
            .await
            .map_err(map_sdk("iam:GetPolicy"))
            .optional()?
            .is_some())
    }

    async fn get_policy_document(&self, arn: &str) -> Result<Value> {
        let policy = self
            .client
            .get_policy()
            .policy_arn(arn)
            .send()
            .await
            .map_err(map_sdk("iam:GetPolicy"))?;
        let version = policy
            .policy()
            .and_then(|p| p.default_version_id())
            .ok_or_else(|| AwsError::other("iam:GetPolicy", "no default version"))?;
        let out = self
            .client
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(map_sdk("iam:GetPolicyVersion"))?;
        let text = out
            .policy_version()
            .and_then(|v| v.document())
            .ok_or_else(|| AwsError::other("iam:GetPolicyVersion", "no document"))?;
        decode("iam:GetPolicyVersion", text)
    }

    async fn set_policy_document(&self, arn: &str, document: &Value) -> Result<()> {
        // IAM keeps at most five versions: drop the non-default ones first.
        for version in self.non_default_versions(arn).await? {
            self.delete_version(arn, &version).await?;
        }
        self.client
            .create_policy_version()
            .policy_arn(arn)
            .policy_document(to_json("iam:CreatePolicyVersion", document)?)
            .set_as_default(true)
            .send()
            .await
            .map_err(map_sdk("iam:CreatePolicyVersion"))?;
        for version in self.non_default_versions(arn).await? {
            self.delete_version(arn, &version).await?;
        }
        Ok(())
    }

    async fn delete_policy(&self, arn: &str) -> Result<()> {
        for version in self.non_default_versions(arn).await? {
            self.delete_version(arn, &version).await?;
        }
        self.client
            .delete_policy()
            .policy_arn(arn)
            .send()
            .await
            .map_err(map_sdk("iam:DeletePolicy"))?;
        Ok(())
    }
}

impl IamAdapter {
    async fn non_default_versions(&self, arn: &str) -> Result<Vec<String>> {
        let out = self
            .client
            .list_policy_versions()
            .policy_arn(arn)
            .send()
            .await
            .map_err(map_sdk("iam:ListPolicyVersions"))?;
        Ok(out
            .versions()
            .iter()
            .filter(|v| !v.is_default_version())
            .filter_map(|v| v.version_id().map(String::from))
            .collect())
    }

    async fn delete_version(&self, arn: &str, version: &str) -> Result<()> {
        self.client
            .delete_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(map_sdk("iam:DeletePolicyVersion"))
            .ok_if_not_found()
    }
}

fn user_info(user: &aws_sdk_iam::types::User) -> UserInfo {
    UserInfo {
        arn: user.arn().to_string(),
        name: user.user_name().to_string(),
        path: user.path().to_string(),
        tags: tag_map(user.tags()),
    }
}

impl Users for IamAdapter {
    async fn create_user(
        &self,
        path: &str,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<UserInfo> {
        let out = self
            .client
            .create_user()
            .path(path)
            .user_name(name)
            .set_tags(Some(iam_tags(tags)?).filter(|t| !t.is_empty()))
            .send()
            .await
            .map_err(map_sdk("iam:CreateUser"))?;
        let mut info = user_info(
            out.user()
                .ok_or_else(|| AwsError::other("iam:CreateUser", "no user in the response"))?,
        );
        if info.tags.is_empty() {
            info.tags = tags.clone();
        }
        Ok(info)
    }

    async fn get_user(&self, name: &str) -> Result<UserInfo> {
        let out = self
            .client
            .get_user()
            .user_name(name)
            .send()
            .await
            .map_err(map_sdk("iam:GetUser"))?;
        Ok(user_info(out.user().ok_or_else(|| {
            AwsError::other("iam:GetUser", "no user in the response")
        })?))
    }

    async fn delete_user(&self, name: &str) -> Result<()> {
        self.client
            .delete_user()
            .user_name(name)
            .send()
            .await
            .map_err(map_sdk("iam:DeleteUser"))?;
        Ok(())
    }

    async fn attach_user_policy(&self, user: &str, policy_arn: &str) -> Result<()> {
        self.client
            .attach_user_policy()
            .user_name(user)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(map_sdk("iam:AttachUserPolicy"))?;
        Ok(())
    }

    async fn detach_user_policy(&self, user: &str, policy_arn: &str) -> Result<()> {
        self.client
            .detach_user_policy()
            .user_name(user)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(map_sdk("iam:DetachUserPolicy"))?;
        Ok(())
    }

    async fn list_attached_user_policies(&self, user: &str) -> Result<Vec<String>> {
        let mut arns = Vec::new();
        let mut pages = self
            .client
            .list_attached_user_policies()
            .user_name(user)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(map_sdk("iam:ListAttachedUserPolicies"))?;
            arns.extend(
                page.attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(String::from)),
            );
        }
        Ok(arns)
    }
}

impl AccessKeys for IamAdapter {
    async fn create_access_key(&self, user: &str) -> Result<NewAccessKey> {
        let out = self
            .client
            .create_access_key()
            .user_name(user)
            .send()
            .await
            .map_err(map_sdk("iam:CreateAccessKey"))?;
        let key = out
            .access_key()
            .ok_or_else(|| AwsError::other("iam:CreateAccessKey", "no key in the response"))?;
        Ok(NewAccessKey {
            id: key.access_key_id().to_string(),
            secret: SecretAccessKey::new(key.secret_access_key()),
        })
    }

    async fn list_access_keys(&self, user: &str) -> Result<Vec<AccessKeyInfo>> {
        let out = self
            .client
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .map_err(map_sdk("iam:ListAccessKeys"))?;
        Ok(out
            .access_key_metadata()
            .iter()
            .filter_map(|k| {
                Some(AccessKeyInfo {
                    id: k.access_key_id()?.to_string(),
                    status: match k.status() {
                        Some(StatusType::Active) => KeyStatus::Active,
                        _ => KeyStatus::Inactive,
                    },
                    created: k.create_date().map(|d| d.secs()).unwrap_or(0),
                })
            })
            .collect())
    }

    async fn set_access_key_status(
        &self,
        user: &str,
        key_id: &str,
        status: KeyStatus,
    ) -> Result<()> {
        self.client
            .update_access_key()
            .user_name(user)
            .access_key_id(key_id)
            .status(match status {
                KeyStatus::Active => StatusType::Active,
                KeyStatus::Inactive => StatusType::Inactive,
            })
            .send()
            .await
            .map_err(map_sdk("iam:UpdateAccessKey"))?;
        Ok(())
    }

    async fn delete_access_key(&self, user: &str, key_id: &str) -> Result<()> {
        self.client
            .delete_access_key()
            .user_name(user)
            .access_key_id(key_id)
            .send()
            .await
            .map_err(map_sdk("iam:DeleteAccessKey"))?;
        Ok(())
    }

    async fn access_key_last_used(&self, key_id: &str) -> Result<Option<i64>> {
        let out = self
            .client
            .get_access_key_last_used()
            .access_key_id(key_id)
            .send()
            .await
            .map_err(map_sdk("iam:GetAccessKeyLastUsed"))?;
        Ok(out
            .access_key_last_used()
            .and_then(|u| u.last_used_date())
            .map(|d| d.secs()))
    }
}

fn role_summary(role: &aws_sdk_iam::types::Role) -> Result<RoleSummary> {
    Ok(RoleSummary {
        arn: role.arn().to_string(),
        name: role.role_name().to_string(),
        path: role.path().to_string(),
        trust_policy: match role.assume_role_policy_document() {
            Some(text) => decode("iam:ListRoles", text)?,
            None => Value::Null,
        },
        max_session_duration: role.max_session_duration().map(|d| d as u32),
        created: role.create_date().secs(),
    })
}

impl Inventory for IamAdapter {
    async fn list_roles(&self) -> Result<Vec<RoleSummary>> {
        let mut roles = Vec::new();
        let mut pages = self.client.list_roles().into_paginator().send();
        while let Some(page) = pages.next().await {
            for role in page.map_err(map_sdk("iam:ListRoles"))?.roles() {
                roles.push(role_summary(role)?);
            }
        }
        Ok(roles)
    }

    async fn role_usage(&self, name: &str) -> Result<RoleUsage> {
        let out = self
            .client
            .get_role()
            .role_name(name)
            .send()
            .await
            .map_err(map_sdk("iam:GetRole"))?;
        let role = out
            .role()
            .ok_or_else(|| AwsError::other("iam:GetRole", "no role in the response"))?;
        Ok(RoleUsage {
            created: role.create_date().secs(),
            last_used: role
                .role_last_used()
                .and_then(|u| u.last_used_date())
                .map(|d| d.secs()),
        })
    }

    async fn list_users(&self) -> Result<Vec<UserInfo>> {
        let mut users = Vec::new();
        let mut pages = self.client.list_users().into_paginator().send();
        while let Some(page) = pages.next().await {
            users.extend(
                page.map_err(map_sdk("iam:ListUsers"))?
                    .users()
                    .iter()
                    .map(user_info),
            );
        }
        Ok(users)
    }

    async fn list_user_policies(&self, user: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut pages = self
            .client
            .list_user_policies()
            .user_name(user)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            names.extend(
                page.map_err(map_sdk("iam:ListUserPolicies"))?
                    .policy_names()
                    .iter()
                    .cloned(),
            );
        }
        Ok(names)
    }

    async fn get_user_policy(&self, user: &str, policy_name: &str) -> Result<Value> {
        let out = self
            .client
            .get_user_policy()
            .user_name(user)
            .policy_name(policy_name)
            .send()
            .await
            .map_err(map_sdk("iam:GetUserPolicy"))?;
        decode("iam:GetUserPolicy", out.policy_document())
    }

    async fn list_groups_for_user(&self, user: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut pages = self
            .client
            .list_groups_for_user()
            .user_name(user)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            names.extend(
                page.map_err(map_sdk("iam:ListGroupsForUser"))?
                    .groups()
                    .iter()
                    .map(|g| g.group_name().to_string()),
            );
        }
        Ok(names)
    }

    async fn list_group_policies(&self, group: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut pages = self
            .client
            .list_group_policies()
            .group_name(group)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            names.extend(
                page.map_err(map_sdk("iam:ListGroupPolicies"))?
                    .policy_names()
                    .iter()
                    .cloned(),
            );
        }
        Ok(names)
    }

    async fn get_group_policy(&self, group: &str, policy_name: &str) -> Result<Value> {
        let out = self
            .client
            .get_group_policy()
            .group_name(group)
            .policy_name(policy_name)
            .send()
            .await
            .map_err(map_sdk("iam:GetGroupPolicy"))?;
        decode("iam:GetGroupPolicy", out.policy_document())
    }

    async fn list_attached_group_policies(&self, group: &str) -> Result<Vec<String>> {
        let mut arns = Vec::new();
        let mut pages = self
            .client
            .list_attached_group_policies()
            .group_name(group)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(map_sdk("iam:ListAttachedGroupPolicies"))?;
            arns.extend(
                page.attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(String::from)),
            );
        }
        Ok(arns)
    }

    async fn list_local_policies(&self, path_prefix: &str) -> Result<Vec<PolicySummary>> {
        let mut found = Vec::new();
        let mut pages = self
            .client
            .list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Local)
            .path_prefix(path_prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for p in page.map_err(map_sdk("iam:ListPolicies"))?.policies() {
                let (Some(arn), Some(name)) = (p.arn(), p.policy_name()) else {
                    continue;
                };
                found.push(PolicySummary {
                    arn: arn.to_string(),
                    name: name.to_string(),
                    path: p.path().unwrap_or("/").to_string(),
                    attachments: p.attachment_count().unwrap_or(0).max(0) as u32,
                });
            }
        }
        Ok(found)
    }
}
