//! Secrets Manager over `aws-sdk-secretsmanager`.

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};
use aws_sdk_secretsmanager::Client;
use serde_json::Value;
use trustlink_domain::SecretText;

use crate::error::map_sdk;
use crate::ports::AwsResult as Result;
use crate::ports::*;
use crate::{AwsError, ErrorKind};

#[derive(Clone, Debug)]
pub struct SecretsAdapter {
    client: Client,
}

impl SecretsAdapter {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Asked only after Secrets Manager refused a call, to tell "deleted" from other refusals
    /// by the secret's state rather than by the wording of the message.
    async fn scheduled_for_deletion(&self, name: &str) -> bool {
        self.client
            .describe_secret()
            .secret_id(name)
            .send()
            .await
            .is_ok_and(|d| d.deleted_date().is_some())
    }
}

fn tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

impl Secrets for SecretsAdapter {
    async fn create_secret(
        &self,
        name: &str,
        description: &str,
        text: &SecretText,
        tag_values: &BTreeMap<String, String>,
        kms_key_id: Option<&str>,
        request_token: Option<&str>,
    ) -> Result<String> {
        let out = self
            .client
            .create_secret()
            .name(name)
            .description(description)
            .secret_string(text.expose())
            .set_kms_key_id(kms_key_id.map(String::from))
            .set_client_request_token(request_token.map(String::from))
            .set_tags(Some(tags(tag_values)).filter(|t| !t.is_empty()))
            .send()
            .await
            .map_err(map_sdk("secretsmanager:CreateSecret"))?;
        out.arn()
            .map(String::from)
            .ok_or_else(|| AwsError::other("secretsmanager:CreateSecret", "no ARN in the response"))
    }

    async fn describe_secret(&self, name: &str) -> Result<SecretDescription> {
        let out = self
            .client
            .describe_secret()
            .secret_id(name)
            .send()
            .await
            .map_err(map_sdk("secretsmanager:DescribeSecret"))?;
        let mut versions: Vec<SecretVersion> = out
            .version_ids_to_stages()
            .map(|m| {
                m.iter()
                    .map(|(id, stages)| SecretVersion {
                        version_id: id.clone(),
                        stages: stages.clone(),
                        created: None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        versions.sort_by(|a, b| a.version_id.cmp(&b.version_id));
        Ok(SecretDescription {
            arn: out.arn().unwrap_or_default().to_string(),
            name: out.name().unwrap_or(name).to_string(),
            tags: tag_map(out.tags()),
            versions,
            scheduled_for_deletion: out.deleted_date().is_some(),
        })
    }

    async fn get_secret_value(&self, name: &str, stage: &str) -> Result<SecretValue> {
        let sent = self
            .client
            .get_secret_value()
            .secret_id(name)
            .version_stage(stage)
            .send()
            .await
            .map_err(map_sdk("secretsmanager:GetSecretValue"));
        let out = match sent {
            Ok(out) => out,
            // Secrets Manager refuses to read a secret scheduled for deletion: to a reader
            // it is gone.
            Err(e) if e.kind() == ErrorKind::Invalid && self.scheduled_for_deletion(name).await => {
                return Err(AwsError {
                    kind: ErrorKind::NotFound,
                    ..e
                })
            }
            Err(e) => return Err(e),
        };
        Ok(SecretValue {
            version_id: out.version_id().unwrap_or_default().to_string(),
            stages: out.version_stages().to_vec(),
            text: SecretText::new(out.secret_string().unwrap_or_default()),
            created: out.created_date().map(|d| d.secs()),
        })
    }

    async fn put_secret_value(
        &self,
        name: &str,
        text: &SecretText,
        stages: &[&str],
        request_token: &str,
    ) -> Result<String> {
        let out = self
            .client
            .put_secret_value()
            .secret_id(name)
            .secret_string(text.expose())
            .set_version_stages(Some(stages.iter().map(|s| s.to_string()).collect()))
            .client_request_token(request_token)
            .send()
            .await
            .map_err(map_sdk("secretsmanager:PutSecretValue"))?;
        Ok(out.version_id().unwrap_or(request_token).to_string())
    }

    async fn move_stage(
        &self,
        name: &str,
        stage: &str,
        to_version: &str,
        from_version: Option<&str>,
    ) -> Result<()> {
        self.client
            .update_secret_version_stage()
            .secret_id(name)
            .version_stage(stage)
            .move_to_version_id(to_version)
            .set_remove_from_version_id(from_version.map(String::from))
            .send()
            .await
            .map_err(map_sdk("secretsmanager:UpdateSecretVersionStage"))?;
        Ok(())
    }

    async fn remove_stage(&self, name: &str, stage: &str, from_version: &str) -> Result<()> {
        self.client
            .update_secret_version_stage()
            .secret_id(name)
            .version_stage(stage)
            .remove_from_version_id(from_version)
            .send()
            .await
            .map_err(map_sdk("secretsmanager:UpdateSecretVersionStage"))?;
        Ok(())
    }

    async fn put_resource_policy(&self, name: &str, policy: &Value) -> Result<()> {
        self.client
            .put_resource_policy()
            .secret_id(name)
            .resource_policy(policy.to_string())
            .send()
            .await
            .map_err(map_sdk("secretsmanager:PutResourcePolicy"))?;
        Ok(())
    }

    async fn get_resource_policy(&self, name: &str) -> Result<Option<Value>> {
        const OP: &str = "secretsmanager:GetResourcePolicy";
        let out = self
            .client
            .get_resource_policy()
            .secret_id(name)
            .send()
            .await
            .map_err(map_sdk(OP))?;
        match out.resource_policy() {
            None => Ok(None),
            Some(text) => serde_json::from_str(text)
                .map(Some)
                .map_err(|e| AwsError::other(OP, format!("the resource policy is not JSON: {e}"))),
        }
    }

    async fn tag_secret(&self, name: &str, tag_values: &BTreeMap<String, String>) -> Result<()> {
        self.client
            .tag_resource()
            .secret_id(name)
            .set_tags(Some(tags(tag_values)))
            .send()
            .await
            .map_err(map_sdk("secretsmanager:TagResource"))?;
        Ok(())
    }

    async fn delete_secret(&self, name: &str, recovery_days: Option<i64>) -> Result<()> {
        let req = self.client.delete_secret().secret_id(name);
        let req = match recovery_days {
            Some(days) => req.recovery_window_in_days(days),
            None => req.force_delete_without_recovery(true),
        };
        match req
            .send()
            .await
            .map_err(map_sdk("secretsmanager:DeleteSecret"))
        {
            Ok(_) => Ok(()),
            // Already scheduled for deletion (a duplicate Delete got here first): done.
            Err(e) if e.kind() == ErrorKind::Invalid && self.scheduled_for_deletion(name).await => {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn restore_secret(&self, name: &str) -> Result<()> {
        self.client
            .restore_secret()
            .secret_id(name)
            .send()
            .await
            .map_err(map_sdk("secretsmanager:RestoreSecret"))?;
        Ok(())
    }

    async fn list_secrets(&self, prefix: &str) -> Result<Vec<SecretSummary>> {
        let mut found = Vec::new();
        let mut pages = self
            .client
            .list_secrets()
            .filters(
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values(prefix)
                    .build(),
            )
            // The most a page holds: a run lists its hub in one call per 100 secrets.
            .max_results(100)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(map_sdk("secretsmanager:ListSecrets"))?;
            for s in page.secret_list() {
                let Some(name) = s.name() else { continue };
                // The service's name filter matches words, not prefixes: check here.
                if name.starts_with(prefix) {
                    found.push(SecretSummary {
                        arn: s.arn().unwrap_or_default().to_string(),
                        name: name.to_string(),
                        tags: tag_map(s.tags()),
                    });
                }
            }
        }
        Ok(found)
    }
}
