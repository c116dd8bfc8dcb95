//! Step 8: proof that the link works. The role, its trust policy and permissions are read
//! back; with a managed key, the function assumes the role as a consumer would, retrying
//! through IAM's eventual consistency.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;
use tracing::info;
use trustlink_aws::ports::{Cloud, Credentials, Roles, Sts};
use trustlink_aws::AwsError;
use trustlink_domain::policy;
use trustlink_domain::record::AccessKeySecret;
use trustlink_domain::self_assume::{self_assume, SelfAssume};

use super::plan::Plan;
use super::{now, LinkService};
use crate::error::{AtStep, LinkError};

/// How long verification keeps retrying through IAM's eventual consistency.
#[derive(Debug, Clone, Copy)]
pub struct VerifyBounds {
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for VerifyBounds {
    /// About a minute in all: new keys and roles usually work within ten seconds.
    fn default() -> Self {
        Self {
            attempts: 12,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

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
            now(),
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
        self.assume_as_consumer(plan, &as_user).await
    }

    async fn assume_as_consumer(
        &self,
        plan: &Plan<'_, C>,
        as_user: &C::Sts,
    ) -> Result<&'static str, LinkError> {
        let session = "trustlink-verify";
        let expected = format!(
            "arn:aws:sts::{}:assumed-role/{}/{session}",
            plan.trusting, plan.role_name
        );
        let id = plan.external_id.expose().to_string();
        let me = self
            .retrying(
                "assuming the role with the link's key and external ID",
                || async {
                    let creds = as_user
                        .assume_role(&plan.role_arn, session, Some(&id))
                        .await?;
                    self.cloud.sts_as(&creds).caller_identity().await
                },
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

    async fn retrying<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T, LinkError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, AwsError>>,
    {
        let mut delay = self.verify.first_delay;
        let mut last = None;
        for n in 1..=self.verify.attempts.max(1) {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    info!(what, attempt = n, error = %e, "not yet working; IAM may still be propagating");
                    last = Some(e);
                }
            }
            if n < self.verify.attempts {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(self.verify.max_delay);
            }
        }
        Err(LinkError::Verify(format!(
            "{what} still failed after {} attempts: {}",
            self.verify.attempts,
            last.map(|e| e.to_string()).unwrap_or_default()
        )))
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
