//! Step 4: the trusted side's grant, a policy of trustlink's own allowing `sts:AssumeRole`
//! on exactly this role with the link's external IDs, attached to the principal.

use tracing::info;
use trustlink_aws::ports::{Cloud, Policies, Roles, Users};
use trustlink_aws::{AwsError, NotFoundExt};
use trustlink_domain::arn;
use trustlink_domain::policy;
use trustlink_domain::record;
use trustlink_domain::Principal;

use super::plan::Plan;
use super::undo::Undo;
use super::LinkService;
use crate::error::{AtStep, LinkError};

impl<C: Cloud> LinkService<C> {
    /// The grant policy's ARN (also when the link has none: retiring an old one needs it).
    pub(super) fn grant_arn(&self, plan: &Plan<'_, C>) -> String {
        arn::policy(
            plan.spec.partition,
            &plan.trusted,
            &self.settings.policy_path,
            &record::grant_policy_name(plan.link()),
        )
    }

    /// `user_made_now`: the principal was made by this request, so there is nothing to list
    /// (attaching is idempotent, should a duplicate delivery have attached it meanwhile).
    pub(super) async fn grant(
        &self,
        plan: &Plan<'_, C>,
        user_made_now: bool,
        undo: &mut Vec<Undo>,
    ) -> Result<String, LinkError> {
        let grant_arn = self.grant_arn(plan);
        let (Some(iam), true) = (&plan.trusted_iam, plan.spec.trusted_side.grant) else {
            return Ok(grant_arn);
        };
        self.grant_document(plan, iam, &grant_arn, undo).await?;
        let principal = &plan.spec.trusted_principal;
        if user_made_now || !grant_attached(iam, principal, &grant_arn).await? {
            attach_grant(iam, principal, &grant_arn).await?;
            undo.push(Undo::GrantAttachment {
                account: plan.trusted.clone(),
                principal: principal.clone(),
                arn: grant_arn.clone(),
            });
        }
        info!(link = plan.link(), principal = %plan.principal_arn, policy_arn = %grant_arn, "grant in place");
        Ok(grant_arn)
    }

    /// Creates the grant policy, or brings an existing one's document in line. A link that
    /// exists already has its grant: its document is read first, so an Update that changes
    /// nothing writes nothing; a new link's is created first (a duplicate delivery's 409
    /// means it exists).
    async fn grant_document(
        &self,
        plan: &Plan<'_, C>,
        iam: &C::Iam,
        grant_arn: &str,
        undo: &mut Vec<Undo>,
    ) -> Result<(), LinkError> {
        let doc = policy::grant_policy(&plan.role_arn, &plan.accepted());
        if plan.existing.is_some() {
            let old = iam.get_policy_document(grant_arn).await.optional();
            if let Some(old) = old.at("iam:GetPolicyVersion")? {
                return self
                    .align_grant(plan, iam, grant_arn, old, &doc, undo)
                    .await;
            }
        }
        let name = record::grant_policy_name(plan.link());
        let created = iam
            .create_policy(&self.settings.policy_path, &name, "trustlink grant", &doc)
            .await;
        match created {
            Ok(_) => undo.push(Undo::GrantPolicy {
                account: plan.trusted.clone(),
                arn: grant_arn.to_string(),
            }),
            Err(e) if e.is_already_exists() => {
                let old = iam
                    .get_policy_document(grant_arn)
                    .await
                    .at("iam:GetPolicyVersion")?;
                self.align_grant(plan, iam, grant_arn, old, &doc, undo)
                    .await?;
            }
            Err(e) => return Err(e).at("iam:CreatePolicy"),
        }
        Ok(())
    }

    /// Sets the grant's document to `doc` when `old` differs, undoably.
    async fn align_grant(
        &self,
        plan: &Plan<'_, C>,
        iam: &C::Iam,
        grant_arn: &str,
        old: serde_json::Value,
        doc: &serde_json::Value,
        undo: &mut Vec<Undo>,
    ) -> Result<(), LinkError> {
        if old != *doc {
            iam.set_policy_document(grant_arn, doc)
                .await
                .at("iam:CreatePolicyVersion")?;
            undo.push(Undo::GrantDocument {
                account: plan.trusted.clone(),
                arn: grant_arn.to_string(),
                document: old,
            });
        }
        Ok(())
    }
}

async fn grant_attached<I: Users + Roles>(
    iam: &I,
    principal: &Principal,
    arn: &str,
) -> Result<bool, LinkError> {
    let attached = match principal {
        Principal::User { name, .. } => iam.list_attached_user_policies(name).await,
        Principal::Role { name, .. } => iam.list_attached_role_policies(name).await,
        Principal::Account { .. } => return Ok(true),
    };
    let attached = attached.optional().at("list the principal's policies")?;
    Ok(attached.is_some_and(|list| list.iter().any(|a| a == arn)))
}

async fn attach_grant<I: Users + Roles>(
    iam: &I,
    principal: &Principal,
    arn: &str,
) -> Result<(), LinkError> {
    match principal {
        Principal::User { name, .. } => iam
            .attach_user_policy(name, arn)
            .await
            .at("iam:AttachUserPolicy"),
        Principal::Role { name, .. } => iam
            .attach_role_policy(name, arn)
            .await
            .at("iam:AttachRolePolicy"),
        Principal::Account { .. } => Ok(()),
    }
}

/// Detaches the grant from `principal`; gone counts as done.
pub(super) async fn detach_grant<I: Users + Roles>(
    iam: &I,
    principal: &Principal,
    arn: &str,
) -> Result<(), AwsError> {
    match principal {
        Principal::User { name, .. } => iam.detach_user_policy(name, arn).await.ok_if_not_found(),
        Principal::Role { name, .. } => iam.detach_role_policy(name, arn).await.ok_if_not_found(),
        Principal::Account { .. } => Ok(()),
    }
}
