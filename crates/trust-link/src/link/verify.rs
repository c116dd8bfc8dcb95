//! Step 8: proof that the link works. The role, its trust policy and permissions are read
//! back; with a managed key, the function assumes the role as a consumer would, retrying
//! through IAM's eventual consistency.

use std::collections::BTreeSet;

use serde_json::Value;
use trustlink_aws::ports::{Cloud, Credentials, Roles, Sts};
use trustlink_aws::{probe, AwsError};
use trustlink_domain::policy;
use trustlink_domain::record::AccessKeySecret;
use trustlink_domain::self_assume::{self_assume, SelfAssume};

use super::plan::Plan;
use super::LinkService;
use crate::error::{AtStep, LinkError};

/// How long verification keeps retrying through IAM's eventual consistency.
pub use trustlink_aws::probe::Backoff as VerifyBounds;

/// The session name of trust-link's own probe (docs/design.md, Sessions).
const SESSION: &str = "trustlink-verify";

impl<C: Cloud> LinkService<C> {
    pub(super) async fn verify(
        &self,
        plan: &Plan<'_, C>,
        key: Option<&AccessKeySecret>,
    ) -> Result<&'static str, LinkError> {
        let trust = read_back(plan).await?;
        let Some(key) = key else {
            return Ok("read back the role, trust policy and permissions");
        };
        let key_creds = Credentials {
            access_key_id: key.access_key_id.clone(),
            secret_access_key: key.secret_access_key.clone(),
            session_token: None,
        };
        let as_user = self.cloud.sts_as(&key_creds);
        let attempt = self_assume(
            &trust,
            &plan.spec.trusted_principal,
            &plan.external_id,
            self.clock.now(),
        );
        if attempt == SelfAssume::Refused {
            return Err(LinkError::Verify(format!(
                "the trust policy of {} refuses {} with the link's external ID",
                plan.role_arn, plan.principal_arn
            )));
        }
        if let SelfAssume::Gated(_) = attempt {
            // MFA, source IP, org or time conditions: the function cannot meet them itself,
            // so it proves the key works and the trust policy admits it.
            let me = self
                .retrying("the link's access key", || as_user.caller_identity())
                .await?;
            if me.arn != plan.principal_arn {
                return Err(LinkError::Verify(format!(
                    "the link's access key belongs to {}, not {}",
                    me.arn, plan.principal_arn
                )));
            }
            return Ok("access key works as the principal; trust policy read back (conditions need the consumer)");
        }
        self.assume_as_consumer(plan, &key_creds).await
    }

    async fn assume_as_consumer(
        &self,
        plan: &Plan<'_, C>,
        key: &Credentials,
    ) -> Result<&'static str, LinkError> {
        let expected = probe::session_arn(&plan.role_arn, SESSION).unwrap_or_default();
        let id = plan.external_id.expose();
        let me = self
            .retrying(
                "assuming the role with the link's key and external ID",
                || probe::assume_and_identify(&self.cloud, key, &plan.role_arn, SESSION, Some(id)),
            )
            .await?;
        if me.arn != expected {
            return Err(LinkError::Verify(format!(
                "assumed {} instead of {expected}",
                me.arn
            )));
        }
        Ok("assumed the role with the link's key and external ID")
    }

    async fn retrying<T, F, Fut>(&self, what: &str, attempt: F) -> Result<T, LinkError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, AwsError>>,
    {
        probe::retrying(self.verify, what, attempt)
            .await
            .map_err(|last| {
                LinkError::Verify(format!(
                    "{what} still failed after {} attempts: {last}",
                    self.verify.attempts
                ))
            })
    }
}

/// The role, its trust policy and its permissions, as IAM now has them; the trust policy
/// read back.
async fn read_back<C: Cloud>(plan: &Plan<'_, C>) -> Result<Value, LinkError> {
    let (iam, spec) = (&plan.trusting_iam, plan.spec);
    let role = iam
        .get_role(&plan.role_name)
        .await
        .at("verify: iam:GetRole")?;
    for id in &plan.accepted {
        if !policy::admits(&role.trust_policy, &plan.principal_arn, id) {
            return Err(LinkError::Verify(format!(
                "the trust policy of {} does not admit {} with the link's external ID",
                plan.role_arn, plan.principal_arn
            )));
        }
    }
    let attached: BTreeSet<String> = iam
        .list_attached_role_policies(&plan.role_name)
        .await
        .at("verify: iam:ListAttachedRolePolicies")?
        .into_iter()
        .collect();
    let wanted: BTreeSet<String> = spec.role.managed_policy_arns.iter().cloned().collect();
    let inline: BTreeSet<String> = iam
        .list_role_policies(&plan.role_name)
        .await
        .at("verify: iam:ListRolePolicies")?
        .into_iter()
        .collect();
    let inline_wanted: BTreeSet<String> = spec.role.inline_policies.keys().cloned().collect();
    if attached != wanted || inline != inline_wanted {
        return Err(LinkError::Verify(format!(
            "the permissions of {} do not match the specification",
            plan.role_arn
        )));
    }
    Ok(role.trust_policy)
}
