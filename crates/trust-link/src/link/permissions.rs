//! Step 3: the role's permissions. Managed policies: attach what is new, detach what is
//! gone; inline policies: put what is missing or differs, delete the others (but the
//! rotator's `TrustLinkRevokeSessions`, which an Update keeps). Compared before written, so
//! an Update that changes nothing writes nothing; a role just created is not listed.

use std::collections::BTreeSet;

use tracing::info;
use trustlink_aws::ports::{Cloud, Roles};
use trustlink_aws::NotFoundExt;
use trustlink_domain::incident;

use super::plan::Plan;
use super::LinkService;
use crate::error::{AtStep, LinkError};

impl<C: Cloud> LinkService<C> {
    /// `role_created`: the role was made by this request and has no policies yet, so there
    /// is nothing to list or compare.
    pub(super) async fn permissions(
        &self,
        plan: &Plan<'_, C>,
        role_created: bool,
    ) -> Result<(), LinkError> {
        let spec = &plan.spec.role;
        let iam = &plan.trusting_iam;
        let (role, link) = (plan.role_name.as_str(), plan.link());
        let attached: BTreeSet<String> = match role_created {
            true => BTreeSet::new(),
            false => iam
                .list_attached_role_policies(role)
                .await
                .at("iam:ListAttachedRolePolicies")?
                .into_iter()
                .collect(),
        };
        let wanted: BTreeSet<String> = spec.managed_policy_arns.iter().cloned().collect();
        for arn in wanted.difference(&attached) {
            iam.attach_role_policy(role, arn)
                .await
                .at("iam:AttachRolePolicy")?;
            info!(link, policy_arn = %arn, "attached a managed policy");
        }
        for arn in attached.difference(&wanted) {
            iam.detach_role_policy(role, arn)
                .await
                .ok_if_not_found()
                .at("iam:DetachRolePolicy")?;
            info!(link, policy_arn = %arn, "detached a managed policy");
        }
        self.inline_policies(plan, role_created).await
    }

    /// Puts every wanted inline policy that is missing or differs, deletes the others (but
    /// the rotator's revoke-sessions policy, part of the link: an Update keeps it).
    async fn inline_policies(
        &self,
        plan: &Plan<'_, C>,
        role_created: bool,
    ) -> Result<(), LinkError> {
        let spec = &plan.spec.role;
        let iam = &plan.trusting_iam;
        let (role, link) = (plan.role_name.as_str(), plan.link());
        let inline: BTreeSet<String> = match role_created {
            true => BTreeSet::new(),
            false => iam
                .list_role_policies(role)
                .await
                .at("iam:ListRolePolicies")?
                .into_iter()
                .collect(),
        };
        for (name, doc) in &spec.inline_policies {
            if inline.contains(name)
                && iam
                    .get_role_policy(role, name)
                    .await
                    .at("iam:GetRolePolicy")?
                    == *doc
            {
                continue;
            }
            iam.put_role_policy(role, name, doc)
                .await
                .at("iam:PutRolePolicy")?;
        }
        for name in inline.iter().filter(|n| {
            !spec.inline_policies.contains_key(*n) && n.as_str() != incident::REVOKE_POLICY_NAME
        }) {
            iam.delete_role_policy(role, name)
                .await
                .ok_if_not_found()
                .at("iam:DeleteRolePolicy")?;
            info!(link, policy = %name, "deleted an inline policy");
        }
        Ok(())
    }
}
