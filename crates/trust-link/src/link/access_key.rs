//! Step 5: the managed access key, kept in its own secret (`trustlink/<LinkName>/access-key`).

use std::collections::BTreeMap;

use tracing::info;
use trustlink_aws::ports::{AccessKeys, Cloud, KeyStatus, Secrets, AWSCURRENT};
use trustlink_aws::{ErrorKind, NotFoundExt};
use trustlink_domain::record::{self, tag, AccessKeySecret};
use trustlink_domain::Principal;

use super::link_secret::{ensure_read_policy, put_current};
use super::plan::Plan;
use super::undo::Undo;
use super::LinkService;
use crate::error::{AtStep, LinkError};

/// The link's access key secret before anything is written.
enum KeySecret {
    Absent,
    Deleted,
    Live {
        arn: String,
        stored: Option<AccessKeySecret>,
    },
}

impl<C: Cloud> LinkService<C> {
    /// The key secret's ARN and the key, when the link manages one.
    pub(super) async fn access_key(
        &self,
        plan: &Plan<'_, C>,
        undo: &mut Vec<Undo>,
    ) -> Result<Option<(String, AccessKeySecret)>, LinkError> {
        let spec = plan.spec;
        let (Some(iam), true, Principal::User { name: user, .. }) = (
            &plan.trusted_iam,
            spec.trusted_side.access_key,
            &spec.trusted_principal,
        ) else {
            return Ok(None);
        };
        let name = record::access_key_secret_name(plan.link());
        self.ensure_access_key(plan, iam, user, &name, undo)
            .await
            .map(Some)
    }

    /// Reuses the key in the link's key secret while it is still the user's and active;
    /// otherwise creates one and stores it. When a concurrent delivery stores its key first,
    /// ours is deleted at once (we know it is ours: we just made it) and theirs is adopted.
    async fn ensure_access_key(
        &self,
        plan: &Plan<'_, C>,
        iam: &C::Iam,
        user: &str,
        secret_name: &str,
        undo: &mut Vec<Undo>,
    ) -> Result<(String, AccessKeySecret), LinkError> {
        let secrets = &plan.secrets;
        let state = read_key_secret(secrets, secret_name).await?;
        // The user's keys matter only when a stored key may be reused.
        if let KeySecret::Live {
            arn,
            stored: Some(s),
        } = &state
        {
            let keys = iam.list_access_keys(user).await.at("iam:ListAccessKeys")?;
            let live = keys
                .iter()
                .any(|k| k.id == s.access_key_id && k.status == KeyStatus::Active);
            if s.user_name == user && live {
                ensure_read_policy(secrets, secret_name, &plan.principal_arn, false).await?;
                return Ok((arn.clone(), s.clone()));
            }
        }
        let key = match iam.create_access_key(user).await {
            Ok(k) => k,
            // Two keys: a concurrent delivery's may be one of them, about to be stored.
            Err(e) if e.kind() == ErrorKind::LimitExceeded => {
                return Err(LinkError::KeysFull(user.into()))
            }
            Err(e) => return Err(e).at("iam:CreateAccessKey"),
        };
        undo.push(Undo::AccessKey {
            account: plan.trusted.clone(),
            user: user.to_string(),
            id: key.id.clone(),
        });
        info!(link = plan.link(), user, access_key_id = %key.id, "created an access key");
        let value = AccessKeySecret {
            access_key_id: key.id.clone(),
            secret_access_key: key.secret,
            user_name: user.to_string(),
        };
        let made_now = matches!(state, KeySecret::Absent);
        let stored = self.store_key(plan, secret_name, &value, state, undo).await;
        let arn = match stored {
            Err(LinkError::Race(what)) => {
                // Not rolled back with the rest: a retry adopts the other delivery's key.
                iam.delete_access_key(user, &value.access_key_id)
                    .await
                    .ok_if_not_found()
                    .at("iam:DeleteAccessKey")?;
                undo.retain(
                    |u| !matches!(u, Undo::AccessKey { id, .. } if *id == value.access_key_id),
                );
                return Err(LinkError::Race(what));
            }
            other => other?,
        };
        ensure_read_policy(secrets, secret_name, &plan.principal_arn, made_now).await?;
        Ok((arn, value))
    }

    /// Stores a new key as AWSCURRENT of the key secret; `Race` when a concurrent delivery
    /// stored its own key instead.
    async fn store_key(
        &self,
        plan: &Plan<'_, C>,
        name: &str,
        value: &AccessKeySecret,
        state: KeySecret,
        undo: &mut Vec<Undo>,
    ) -> Result<String, LinkError> {
        let (secrets, link) = (&plan.secrets, plan.link());
        let tags = BTreeMap::from([(tag::LINK.to_string(), link.to_string())]);
        match state {
            KeySecret::Live { arn, .. } => {
                put_current(secrets, name, &value.to_text())
                    .await
                    .at("secretsmanager:PutSecretValue")?;
                let now_current = secrets
                    .get_secret_value(name, AWSCURRENT)
                    .await
                    .at("secretsmanager:GetSecretValue")?;
                match AccessKeySecret::parse(&now_current.text) {
                    Ok(s) if s.access_key_id == value.access_key_id => Ok(arn),
                    _ => Err(LinkError::Race("the access key secret".into())),
                }
            }
            KeySecret::Deleted => {
                self.reuse_deleted_secret(secrets, name, &value.to_text(), undo)
                    .await?;
                secrets
                    .tag_secret(name, &tags)
                    .await
                    .at("secretsmanager:TagResource")?;
                Ok(secrets
                    .describe_secret(name)
                    .await
                    .at("secretsmanager:DescribeSecret")?
                    .arn)
            }
            KeySecret::Absent => {
                let created = secrets
                    .create_secret(
                        name,
                        &format!("trustlink: access key of link {link}"),
                        &value.to_text(),
                        &tags,
                        self.settings.secrets_kms_key_id.as_deref(),
                        None,
                    )
                    .await;
                match created {
                    Ok(arn) => {
                        undo.push(Undo::Secret {
                            name: name.to_string(),
                        });
                        Ok(arn)
                    }
                    Err(e) if e.is_already_exists() => {
                        Err(LinkError::Race("the access key secret".into()))
                    }
                    Err(e) => Err(e).at("secretsmanager:CreateSecret"),
                }
            }
        }
    }
}

async fn read_key_secret<S: Secrets>(secrets: &S, name: &str) -> Result<KeySecret, LinkError> {
    let arn = match secrets.describe_secret(name).await {
        Ok(d) if d.scheduled_for_deletion => return Ok(KeySecret::Deleted),
        Ok(d) => d.arn,
        Err(e) if e.is_not_found() => return Ok(KeySecret::Absent),
        Err(e) => return Err(e).at("secretsmanager:DescribeSecret"),
    };
    let stored = secrets
        .get_secret_value(name, AWSCURRENT)
        .await
        .optional()
        .at("secretsmanager:GetSecretValue")?
        .map(|v| AccessKeySecret::parse(&v.text).map_err(LinkError::from))
        .transpose()?;
    Ok(KeySecret::Live { arn, stored })
}
