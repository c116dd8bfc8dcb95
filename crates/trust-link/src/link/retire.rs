//! Step 7: what an earlier specification of this link had and this one has not: a grant on
//! another principal, a grant no longer wanted, a key no longer wanted, a user the link
//! created that is no longer its principal.

use tracing::info;
use trustlink_aws::ports::{Cloud, Policies};
use trustlink_aws::NotFoundExt;
use trustlink_domain::record::{self, LinkRecord};
use trustlink_domain::Principal;

use super::delete::delete_user_fully;
use super::grant::detach_grant;
use super::plan::Plan;
use super::LinkService;
use crate::error::{AtStep, LinkError};

impl<C: Cloud> LinkService<C> {
    pub(super) async fn retire_previous(
        &self,
        plan: &Plan<'_, C>,
        grant_arn: &str,
    ) -> Result<(), LinkError> {
        let Some(prev) = plan.previous() else {
            return Ok(());
        };
        let (spec, link) = (plan.spec, plan.link());
        let principal_changed = prev.trusted_principal != plan.spec.trusted_principal;
        let prev_principal = &prev.trusted_principal;
        let Some(prev_iam) = self
            .previous_iam(plan, prev, prev_principal, principal_changed)
            .await?
        else {
            return Ok(());
        };
        if let Some(old_grant) = &prev.grant_policy_arn {
            let keep = spec.trusted_side.grant && old_grant == grant_arn;
            if principal_changed || !keep {
                detach_grant(&prev_iam, &prev.trusted_principal, old_grant)
                    .await
                    .at("detach the previous grant")?;
            }
            if !keep {
                prev_iam
                    .delete_policy(old_grant)
                    .await
                    .ok_if_not_found()
                    .at("iam:DeletePolicy")?;
                info!(link, policy_arn = %old_grant, "deleted the previous grant");
            }
        }
        let key_kept = spec.trusted_side.access_key && !principal_changed;
        if prev.access_key && !key_kept {
            self.delete_key_secret(
                &prev_iam,
                &record::access_key_secret_name(link),
                prev_principal.name().unwrap_or_default(),
                None,
            )
            .await?;
        }
        if let (true, true, Principal::User { name, .. }) =
            (prev.user_created, principal_changed, prev_principal)
        {
            delete_user_fully(&prev_iam, name)
                .await
                .at("delete the previous user")?;
            info!(link, user = %prev.trusted_principal, "deleted the user this link had created");
        }
        Ok(())
    }

    /// IAM of the previous principal's account; `None` when it had nothing to retire.
    async fn previous_iam(
        &self,
        plan: &Plan<'_, C>,
        prev: &LinkRecord,
        prev_principal: &Principal,
        principal_changed: bool,
    ) -> Result<Option<C::Iam>, LinkError> {
        if let (Some(iam), false) = (&plan.trusted_iam, principal_changed) {
            return Ok(Some(iam.clone()));
        }
        if prev.grant_policy_arn.is_none() && !prev.access_key && !prev.user_created {
            return Ok(None);
        }
        let iam = self
            .cloud
            .iam(prev_principal.account())
            .await
            .at("access the previous trusted account")?;
        Ok(Some(iam))
    }
}
