//! Checks that read but never write: the deployment's rules and that the principal exists.

use trustlink_aws::ports::{Cloud, Policies, Roles, Users};
use trustlink_domain::{LinkSpec, Principal, ValidationError, ValidationErrors};

use super::LinkService;
use crate::error::{invalid, AtStep, LinkError};

impl<C: Cloud> LinkService<C> {
    /// Rules of this deployment (role paths, the managed policy allow-list) and of the world
    /// (policies and principals exist): all checked before the first write.
    pub(super) async fn check_deployment_rules(
        &self,
        spec: &LinkSpec,
        trusting: &C::Iam,
    ) -> Result<(), LinkError> {
        let mut errors = ValidationErrors::default();
        if !self.settings.allows_role_path(&spec.role.path) {
            errors.push(ValidationError::new(
                "Role.Path",
                format!(
                    "'{}' is outside the paths this deployment may create roles under ({})",
                    spec.role.path,
                    self.settings
                        .role_paths
                        .as_deref()
                        .unwrap_or_default()
                        .join(", ")
                ),
            ));
        }
        let mut to_check: Vec<(String, &str)> = spec
            .role
            .managed_policy_arns
            .iter()
            .enumerate()
            .map(|(i, arn)| (format!("Role.ManagedPolicyArns[{i}]"), arn.as_str()))
            .collect();
        for (field, arn) in &to_check {
            if !self.settings.allows_managed_policy(arn) {
                errors.push(ValidationError::new(
                    field,
                    format!("'{arn}' is not in this deployment's managed policy allow-list"),
                ));
            }
        }
        if let Some(b) = &spec.role.permissions_boundary {
            to_check.push(("Role.PermissionsBoundary".into(), b.as_str()));
        }
        for (field, arn) in to_check {
            if !trusting.policy_exists(arn).await.at("iam:GetPolicy")? {
                errors.push(ValidationError::new(
                    field,
                    format!("managed policy '{arn}' does not exist in the trusting account"),
                ));
            }
        }
        errors.into_result(()).map_err(LinkError::from)
    }

    pub(super) async fn check_principal_exists(
        &self,
        iam: &C::Iam,
        principal: &Principal,
    ) -> Result<(), LinkError> {
        let (kind, found) = match principal {
            Principal::User { name, .. } => ("user", iam.get_user(name).await.map(|_| ())),
            Principal::Role { name, .. } => ("role", iam.get_role(name).await.map(|_| ())),
            Principal::Account { .. } => return Ok(()),
        };
        match found {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Err(invalid(
                "TrustedPrincipal",
                format!(
                    "{kind} {} does not exist in account {}{}",
                    principal.name().unwrap_or_default(),
                    principal.account(),
                    if kind == "user" {
                        " (set TrustedSide.CreateUser: true to create it)"
                    } else {
                        ""
                    }
                ),
            )),
            Err(e) => Err(e).at("read the trusted principal"),
        }
    }
}
