//! Step 6: the link's secret (`trustlink/<LinkName>`): the external ID as AWSCURRENT, and
//! the record of what the link owns as its tags.

use serde_json::{json, Value};
use tracing::info;
use trustlink_aws::ports::{Cloud, Secrets, AWSCURRENT, AWSPENDING};
use trustlink_domain::record::{ExternalIdSecret, LinkRecord};
use trustlink_domain::{ExternalId, SecretText};

use super::plan::{Existing, Plan};
use super::undo::Undo;
use super::LinkService;
use crate::error::{AtStep, LinkError};

/// Puts `text` as the secret's AWSCURRENT value (the previous one becomes AWSPREVIOUS).
pub(super) async fn put_current<S: Secrets>(
    secrets: &S,
    name: &str,
    text: &SecretText,
) -> Result<(), trustlink_aws::AwsError> {
    let token = ExternalId::generate();
    secrets
        .put_secret_value(name, text, &[AWSCURRENT], token.expose())
        .await
        .map(drop)
}

/// What the steps before this one made, for the record.
pub(super) struct Written<'a> {
    pub user_created: bool,
    pub grant_arn: &'a str,
}

/// Lets the trusted principal read its link's secrets and nothing else.
pub(super) fn secret_read_policy(principal_arn: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "TrustedPrincipalReadsItsLink",
        "Effect": "Allow",
        "Principal": {"AWS": principal_arn},
        "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        "Resource": "*"
    }]})
}

/// Gives `name` the read policy of `principal_arn` unless it has exactly that one already.
/// `made_now`: the secret was created by this request and has no policy to compare.
pub(super) async fn ensure_read_policy<S: Secrets>(
    secrets: &S,
    name: &str,
    principal_arn: &str,
    made_now: bool,
) -> Result<(), LinkError> {
    let wanted = secret_read_policy(principal_arn);
    if !made_now {
        let current = secrets
            .get_resource_policy(name)
            .await
            .at("secretsmanager:GetResourcePolicy")?;
        if current.as_ref() == Some(&wanted) {
            return Ok(());
        }
    }
    secrets
        .put_resource_policy(name, &wanted)
        .await
        .at("secretsmanager:PutResourcePolicy")
}

/// The record of what the link owns, carried forward from the previous one where the
/// specification did not change it.
fn record<C: Cloud>(plan: &Plan<'_, C>, written: &Written<'_>, now: i64) -> LinkRecord {
    let spec = plan.spec;
    let previous = plan.previous();
    LinkRecord {
        link_name: plan.link().to_string(),
        role_arn: plan.role_arn.clone(),
        trusted_principal: spec.trusted_principal.clone(),
        grant_policy_arn: spec
            .trusted_side
            .grant
            .then(|| written.grant_arn.to_string()),
        user_created: written.user_created,
        access_key: spec.trusted_side.access_key,
        rotation: spec.rotation,
        external_id_rotated_at: match previous {
            Some(p) if !plan.id_changed => p.external_id_rotated_at,
            _ => Some(now),
        },
        access_key_rotated_at: match previous {
            Some(p) if p.access_key && spec.trusted_side.access_key => {
                p.access_key_rotated_at.or(Some(now))
            }
            _ => spec.trusted_side.access_key.then_some(now),
        },
    }
}

impl<C: Cloud> LinkService<C> {
    /// The link secret's ARN.
    pub(super) async fn link_secret(
        &self,
        plan: &Plan<'_, C>,
        written: &Written<'_>,
        undo: &mut Vec<Undo>,
    ) -> Result<String, LinkError> {
        let rec = record(plan, written, self.clock.now());
        let value = ExternalIdSecret {
            external_id: plan.external_id.clone(),
            role_arn: plan.role_arn.clone(),
            trusted_principal: plan.principal_arn.clone(),
            link_name: plan.link().to_string(),
        };
        let arn = match &plan.existing {
            None if plan.link_secret_deleted => {
                self.restore_link_secret(plan, &value, &rec, undo).await?
            }
            None => self.create_link_secret(plan, &value, &rec, undo).await?,
            Some(e) => update_link_secret(plan, e, &value, &rec, undo).await?,
        };
        let made_now = plan.existing.is_none() && !plan.link_secret_deleted;
        ensure_read_policy(
            &plan.secrets,
            &plan.secret_name,
            &plan.principal_arn,
            made_now,
        )
        .await?;
        Ok(arn)
    }

    async fn create_link_secret(
        &self,
        plan: &Plan<'_, C>,
        value: &ExternalIdSecret,
        rec: &LinkRecord,
        undo: &mut Vec<Undo>,
    ) -> Result<String, LinkError> {
        let link = plan.link();
        let created = plan
            .secrets
            .create_secret(
                &plan.secret_name,
                &format!("trustlink: external ID of link {link}"),
                &value.to_text(),
                &rec.to_tags(),
                self.settings.secrets_kms_key_id.as_deref(),
                None,
            )
            .await;
        let arn = match created {
            Ok(arn) => arn,
            // A concurrent duplicate delivery got there first.
            Err(e) if e.is_already_exists() => {
                return Err(LinkError::Race("the link secret".into()))
            }
            Err(e) => return Err(e).at("secretsmanager:CreateSecret"),
        };
        undo.push(Undo::Secret {
            name: plan.secret_name.clone(),
        });
        info!(link, secret = %plan.secret_name, "stored the external ID");
        Ok(arn)
    }

    async fn restore_link_secret(
        &self,
        plan: &Plan<'_, C>,
        value: &ExternalIdSecret,
        rec: &LinkRecord,
        undo: &mut Vec<Undo>,
    ) -> Result<String, LinkError> {
        let (secrets, name) = (&plan.secrets, plan.secret_name.as_str());
        self.reuse_deleted_secret(secrets, name, &value.to_text(), undo)
            .await?;
        secrets
            .tag_secret(name, &rec.to_tags())
            .await
            .at("secretsmanager:TagResource")?;
        info!(
            link = plan.link(),
            secret = name,
            "stored the external ID in the deleted link's secret"
        );
        Ok(secrets
            .describe_secret(name)
            .await
            .at("secretsmanager:DescribeSecret")?
            .arn)
    }

    /// Brings back a deleted link's secret (scheduled for deletion, its name still taken)
    /// with `text` as its AWSCURRENT value. A failure schedules it for deletion again.
    pub(super) async fn reuse_deleted_secret(
        &self,
        secrets: &C::Secrets,
        name: &str,
        text: &SecretText,
        undo: &mut Vec<Undo>,
    ) -> Result<(), LinkError> {
        secrets
            .restore_secret(name)
            .await
            .at("secretsmanager:RestoreSecret")?;
        undo.push(Undo::RestoredSecret {
            name: name.to_string(),
        });
        // A rotation the deleted link left half-done is not this link's to resume.
        let described = secrets
            .describe_secret(name)
            .await
            .at("secretsmanager:DescribeSecret")?;
        for v in described
            .versions
            .iter()
            .filter(|v| v.stages.iter().any(|s| s == AWSPENDING))
        {
            secrets
                .remove_stage(name, AWSPENDING, &v.version_id)
                .await
                .at("secretsmanager:UpdateSecretVersionStage")?;
        }
        put_current(secrets, name, text)
            .await
            .at("secretsmanager:PutSecretValue")?;
        info!(
            secret = name,
            "restored a deleted link's secret for the new link"
        );
        Ok(())
    }
}

/// Brings an existing link secret in line; a changed value can be put back on failure.
async fn update_link_secret<C: Cloud>(
    plan: &Plan<'_, C>,
    existing: &Existing,
    value: &ExternalIdSecret,
    rec: &LinkRecord,
    undo: &mut Vec<Undo>,
) -> Result<String, LinkError> {
    let (secrets, name) = (&plan.secrets, plan.secret_name.as_str());
    if existing.current != *value {
        put_current(secrets, name, &value.to_text())
            .await
            .at("secretsmanager:PutSecretValue")?;
        undo.push(Undo::SecretValue {
            name: name.to_string(),
            value: existing.current.clone(),
            tags: existing.record.to_tags(),
        });
        info!(
            link = plan.link(),
            secret = name,
            external_id_changed = plan.id_changed,
            "updated the link secret"
        );
    }
    if existing.record != *rec {
        secrets
            .tag_secret(name, &rec.to_tags())
            .await
            .at("secretsmanager:TagResource")?;
    }
    Ok(existing.arn.clone())
}
