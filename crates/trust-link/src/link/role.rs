//! Step 2: the trusting role and its trust policy; an existing role is brought in line.

use std::collections::BTreeMap;

use tracing::info;
use trustlink_aws::ports::{Cloud, RoleDefinition, RoleInfo, Roles};
use trustlink_domain::record::tag;
use trustlink_domain::{incident, policy};

use super::plan::Plan;
use super::undo::Undo;
use super::LinkService;
use crate::error::{AtStep, LinkError};

/// The role's tags: the specification's, plus the link's own.
fn role_tags<C: Cloud>(plan: &Plan<'_, C>) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = plan
        .spec
        .role
        .tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    tags.insert(tag::LINK.into(), plan.link().into());
    tags
}

impl<C: Cloud> LinkService<C> {
    /// Creates or aligns the role; `true` when this request created it.
    pub(super) async fn role(
        &self,
        plan: &Plan<'_, C>,
        undo: &mut Vec<Undo>,
    ) -> Result<bool, LinkError> {
        let spec = plan.spec;
        let mut trust =
            policy::trust_policy(&spec.trusted_principal, &plan.accepted(), &spec.conditions);
        // A suspension (the rotator's Suspend) is lifted only by Resume, never by an Update.
        if plan
            .existing_role
            .as_ref()
            .is_some_and(|r| incident::is_suspended(&r.trust_policy))
        {
            trust = incident::with_suspension(&trust, &spec.trusted_principal.arn());
        }
        let tags = role_tags(plan);
        let Some(role) = &plan.existing_role else {
            let def = RoleDefinition {
                name: plan.role_name.clone(),
                path: spec.role.path.clone(),
                description: spec.role.description.clone(),
                max_session_duration: spec.role.max_session_duration,
                trust_policy: trust,
                permissions_boundary: spec.role.permissions_boundary.clone(),
                tags,
            };
            match plan.trusting_iam.create_role(&def).await {
                Ok(_) => {}
                Err(e) if e.is_already_exists() => return Err(LinkError::Race("the role".into())),
                Err(e) => return Err(e).at("iam:CreateRole"),
            }
            undo.push(Undo::Role {
                account: plan.trusting.clone(),
                name: plan.role_name.clone(),
            });
            info!(link = plan.link(), role_arn = %plan.role_arn, accepted_ids = plan.accepted.len(), "created the role");
            return Ok(true);
        };
        if role.trust_policy != trust {
            plan.trusting_iam
                .update_trust_policy(&plan.role_name, &trust)
                .await
                .at("iam:UpdateAssumeRolePolicy")?;
            info!(link = plan.link(), role_arn = %plan.role_arn, accepted_ids = plan.accepted.len(), "rewrote the trust policy");
        }
        self.align_role(plan, role, &tags).await?;
        Ok(false)
    }

    /// Description, session duration, boundary and tags of an existing role.
    async fn align_role(
        &self,
        plan: &Plan<'_, C>,
        role: &RoleInfo,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), LinkError> {
        let spec = &plan.spec.role;
        let iam = &plan.trusting_iam;
        let name = plan.role_name.as_str();
        let duration = spec.max_session_duration.or(Some(3600));
        if role.description != spec.description || role.max_session_duration != duration {
            iam.update_role(name, spec.description.as_deref(), spec.max_session_duration)
                .await
                .at("iam:UpdateRole")?;
        }
        if role.permissions_boundary != spec.permissions_boundary {
            iam.set_permissions_boundary(name, spec.permissions_boundary.as_deref())
                .await
                .at("iam:PutRolePermissionsBoundary")?;
        }
        let stale: Vec<String> = role
            .tags
            .keys()
            .filter(|k| !tags.contains_key(*k) && !incident::tag::ALL.contains(&k.as_str()))
            .cloned()
            .collect();
        iam.untag_role(name, &stale).await.at("iam:UntagRole")?;
        if role.tags != *tags {
            iam.tag_role(name, tags).await.at("iam:TagRole")?;
        }
        Ok(())
    }
}
