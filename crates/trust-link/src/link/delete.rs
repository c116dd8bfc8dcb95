//! Delete: only what the link owns. What is already gone counts as deleted; what the link
//! did not create (a pre-existing user, a role of another link, a secret now pointing at a
//! replacement role) is left alone.

use tracing::{info, warn};
use trustlink_aws::ports::{
    AccessKeys, Cloud, Policies, Roles, Secrets, Users, AWSCURRENT, AWSPENDING, AWSPREVIOUS,
};
use trustlink_aws::{AwsError, NotFoundExt};
use trustlink_domain::record::{self, tag, AccessKeySecret, LinkRecord};
use trustlink_domain::Principal;

use super::grant::detach_grant;
use super::{erased, LinkService};
use crate::error::{AtStep, LinkError};

impl<C: Cloud> LinkService<C> {
    /// Deletes what the link whose role ARN is `physical_id` owns. What is already gone counts
    /// as deleted; what the link did not create (a pre-existing user, a role of another link,
    /// a secret now pointing at a replacement role) is left alone.
    pub async fn delete(
        &self,
        physical_id: &str,
        link_name_hint: Option<&str>,
    ) -> Result<(), LinkError> {
        let Some((account, role_name)) = record::role_of_arn(physical_id) else {
            warn!(physical_id, "not a role ARN: nothing of ours to delete");
            return Ok(());
        };
        let iam = self
            .cloud
            .iam(&account)
            .await
            .at("access the trusting account")?;
        let role = iam
            .get_role(&role_name)
            .await
            .optional()
            .at("iam:GetRole")?;
        let link_name = link_name_hint
            .map(String::from)
            .or_else(|| role.as_ref().and_then(|r| r.tags.get(tag::LINK).cloned()));
        if let Some(link) = &link_name {
            erased(self.delete_shared_parts(link, physical_id)).await?;
        }
        match role {
            Some(r) if link_name.is_some() && r.tags.get(tag::LINK) == link_name.as_ref() => {
                delete_role_fully(&iam, &role_name)
                    .await
                    .at("delete the role")?;
                info!(link = ?link_name, role_arn = physical_id, "deleted the role");
            }
            Some(_) => warn!(
                role_arn = physical_id,
                "the role is not managed by this link: left in place"
            ),
            None => info!(role_arn = physical_id, "the role is already gone"),
        }
        Ok(())
    }

    /// The secrets, grant, key and created user, when the link's record still points at
    /// `role_arn` (after a replacement it points at the new role, which keeps them).
    async fn delete_shared_parts(&self, link: &str, role_arn: &str) -> Result<(), LinkError> {
        let secrets = self.cloud.secrets();
        let name = record::external_id_secret_name(link);
        let described = match secrets.describe_secret(&name).await {
            Ok(d) if !d.scheduled_for_deletion => d,
            Ok(_) => return Ok(()),
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e).at("secretsmanager:DescribeSecret"),
        };
        let Some(rec) = LinkRecord::from_tags(&described.tags) else {
            return Ok(());
        };
        if rec.role_arn != role_arn {
            info!(link, owner = %rec.role_arn, "the link's secrets belong to its replacement: kept");
            return Ok(());
        }
        let principal = &rec.trusted_principal;
        if rec.grant_policy_arn.is_some() || rec.access_key || rec.user_created {
            let iam = self
                .cloud
                .iam(principal.account())
                .await
                .at("access the trusted account")?;
            if rec.access_key {
                self.delete_key_secret(
                    &iam,
                    &record::access_key_secret_name(link),
                    principal.name().unwrap_or_default(),
                    Some(7),
                )
                .await?;
            }
            if let Some(grant) = &rec.grant_policy_arn {
                detach_grant(&iam, &rec.trusted_principal, grant)
                    .await
                    .at("detach the grant")?;
                iam.delete_policy(grant)
                    .await
                    .ok_if_not_found()
                    .at("iam:DeletePolicy")?;
                info!(link, policy_arn = %grant, "deleted the grant");
            }
            if let (true, Principal::User { name, .. }) = (rec.user_created, principal) {
                delete_user_fully(&iam, name).await.at("delete the user")?;
                info!(link, user = %rec.trusted_principal, "deleted the user the link created");
            }
        }
        secrets
            .delete_secret(&name, Some(7))
            .await
            .ok_if_not_found()
            .at("secretsmanager:DeleteSecret")?;
        info!(link, secret = %name, "scheduled the link's secrets for deletion");
        Ok(())
    }

    /// Deletes the keys a link's key secret holds (every stage) and the secret.
    pub(super) async fn delete_key_secret(
        &self,
        iam: &C::Iam,
        secret_name: &str,
        user: &str,
        recovery_days: Option<i64>,
    ) -> Result<(), LinkError> {
        let secrets = self.cloud.secrets();
        for stage in [AWSCURRENT, AWSPENDING, AWSPREVIOUS] {
            let value = secrets.get_secret_value(secret_name, stage).await;
            let Some(v) = value.optional().at("secretsmanager:GetSecretValue")? else {
                continue;
            };
            if let Ok(k) = AccessKeySecret::parse(&v.text) {
                let owner = if k.user_name.is_empty() {
                    user
                } else {
                    &k.user_name
                };
                iam.delete_access_key(owner, &k.access_key_id)
                    .await
                    .ok_if_not_found()
                    .at("iam:DeleteAccessKey")?;
                info!(secret = secret_name, access_key_id = %k.access_key_id, "deleted an access key");
            }
        }
        secrets
            .delete_secret(secret_name, recovery_days)
            .await
            .ok_if_not_found()
            .at("secretsmanager:DeleteSecret")?;
        Ok(())
    }
}

/// A role with its inline and attached policies (IAM refuses to delete a role that has any).
pub async fn delete_role_fully<I: Roles>(iam: &I, name: &str) -> Result<(), AwsError> {
    let run = async {
        for policy in iam.list_role_policies(name).await? {
            iam.delete_role_policy(name, &policy)
                .await
                .ok_if_not_found()?;
        }
        for arn in iam.list_attached_role_policies(name).await? {
            iam.detach_role_policy(name, &arn).await.ok_if_not_found()?;
        }
        iam.delete_role(name).await
    };
    run.await.ok_if_not_found()
}

/// A user with its keys and attached policies.
pub async fn delete_user_fully<I: Users + AccessKeys>(iam: &I, name: &str) -> Result<(), AwsError> {
    let run = async {
        for key in iam.list_access_keys(name).await? {
            iam.delete_access_key(name, &key.id)
                .await
                .ok_if_not_found()?;
        }
        for arn in iam.list_attached_user_policies(name).await? {
            iam.detach_user_policy(name, &arn).await.ok_if_not_found()?;
        }
        iam.delete_user(name).await
    };
    run.await.ok_if_not_found()
}
