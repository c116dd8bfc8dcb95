//! Step 1: the trusted user, when the link is to create it (it must exist before a trust
//! policy can name it).

use std::collections::BTreeMap;

use tracing::info;
use trustlink_aws::ports::{Cloud, Users};
use trustlink_domain::record::tag;
use trustlink_domain::Principal;

use super::plan::Plan;
use super::undo::Undo;
use super::LinkService;
use crate::error::{AtStep, LinkError};

impl<C: Cloud> LinkService<C> {
    /// Whether the link created (and so owns) the trusted user.
    pub(super) async fn trusted_user(
        &self,
        plan: &Plan<'_, C>,
        undo: &mut Vec<Undo>,
    ) -> Result<bool, LinkError> {
        let spec = plan.spec;
        let link = plan.link();
        let mut user_created = plan
            .previous()
            .is_some_and(|r| r.user_created && r.trusted_principal == spec.trusted_principal);
        let (Some(iam), Principal::User { path, name, .. }) =
            (&plan.trusted_iam, &spec.trusted_principal)
        else {
            return Ok(user_created);
        };
        if !spec.trusted_side.create_user {
            return Ok(user_created);
        }
        match iam.get_user(name).await {
            Ok(u) => user_created |= u.tags.get(tag::LINK).map(String::as_str) == Some(link),
            Err(e) if e.is_not_found() => {
                let tags = BTreeMap::from([(tag::LINK.to_string(), link.to_string())]);
                match iam.create_user(path, name, &tags).await {
                    Ok(_) => {}
                    Err(e) if e.is_already_exists() => {
                        return Err(LinkError::Race("the trusted user".into()))
                    }
                    Err(e) => return Err(e).at("iam:CreateUser"),
                }
                undo.push(Undo::User {
                    account: plan.trusted.clone(),
                    name: name.clone(),
                });
                user_created = true;
                info!(link, user = %plan.principal_arn, "created the trusted user");
            }
            Err(e) => return Err(e).at("iam:GetUser"),
        }
        Ok(user_created)
    }
}
