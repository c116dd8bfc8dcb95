//! The undo log: what an invocation created, undone newest first when it fails.

use std::collections::BTreeMap;

use serde_json::Value;
use tracing::{info, warn};
use trustlink_aws::ports::{AccessKeys, Cloud, Policies, Secrets};
use trustlink_aws::{AwsError, NotFoundExt};
use trustlink_domain::record::ExternalIdSecret;
use trustlink_domain::withheld::Withheld;
use trustlink_domain::{AccountId, Principal};

use super::delete::{delete_role_fully, delete_user_fully};
use super::grant::detach_grant;
use super::link_secret::put_current;
use super::LinkService;

/// What this invocation did that a failure must undo, newest last. Logged as it is
/// undone; its `Debug` names what and where, never a document or a secret value.
pub(super) enum Undo {
    User {
        account: AccountId,
        name: String,
    },
    Role {
        account: AccountId,
        name: String,
    },
    Secret {
        name: String,
    },
    GrantPolicy {
        account: AccountId,
        arn: String,
    },
    GrantAttachment {
        account: AccountId,
        principal: Principal,
        arn: String,
    },
    GrantDocument {
        account: AccountId,
        arn: String,
        document: Value,
    },
    AccessKey {
        account: AccountId,
        user: String,
        id: String,
    },
    /// A deleted link's secret this invocation restored: schedule it for deletion again.
    RestoredSecret {
        name: String,
    },
    /// A replacement pointed the link's secret at the new role: point it back.
    SecretValue {
        name: String,
        value: ExternalIdSecret,
        tags: BTreeMap<String, String>,
    },
}

impl std::fmt::Debug for Undo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Undo::User { account, name } => write!(f, "User({account}, {name})"),
            Undo::Role { account, name } => write!(f, "Role({account}, {name})"),
            Undo::Secret { name } => write!(f, "Secret({name})"),
            Undo::RestoredSecret { name } => write!(f, "RestoredSecret({name})"),
            Undo::GrantPolicy { account, arn } => write!(f, "GrantPolicy({account}, {arn})"),
            Undo::GrantAttachment {
                account,
                principal,
                arn,
            } => write!(f, "GrantAttachment({account}, {}, {arn})", principal.arn()),
            Undo::GrantDocument {
                account,
                arn,
                document,
            } => write!(
                f,
                "GrantDocument({account}, {arn}, {:?})",
                Withheld(document)
            ),
            Undo::AccessKey { account, user, id } => {
                write!(f, "AccessKey({account}, {user}, {id})")
            }
            Undo::SecretValue { name, .. } => write!(f, "SecretValue({name})"),
        }
    }
}

impl<C: Cloud> LinkService<C> {
    /// Undoes, newest first, what a failed invocation created. Best effort: a step that
    /// fails is logged and the rest still run.
    pub(super) async fn rollback(&self, undo: Vec<Undo>) {
        let secrets = self.cloud.secrets();
        for step in undo.into_iter().rev() {
            let result: Result<(), AwsError> = async {
                match &step {
                    Undo::User { account, name } => {
                        delete_user_fully(&self.cloud.iam(account).await?, name).await
                    }
                    Undo::Role { account, name } => {
                        delete_role_fully(&self.cloud.iam(account).await?, name).await
                    }
                    // Nothing of value was in it yet: delete without a recovery window.
                    Undo::Secret { name } => {
                        secrets.delete_secret(name, None).await.ok_if_not_found()
                    }
                    Undo::RestoredSecret { name } => {
                        secrets.delete_secret(name, Some(7)).await.ok_if_not_found()
                    }
                    Undo::GrantPolicy { account, arn } => self
                        .cloud
                        .iam(account)
                        .await?
                        .delete_policy(arn)
                        .await
                        .ok_if_not_found(),
                    Undo::GrantAttachment {
                        account,
                        principal,
                        arn,
                    } => detach_grant(&self.cloud.iam(account).await?, principal, arn).await,
                    Undo::GrantDocument {
                        account,
                        arn,
                        document,
                    } => {
                        self.cloud
                            .iam(account)
                            .await?
                            .set_policy_document(arn, document)
                            .await
                    }
                    Undo::AccessKey { account, user, id } => self
                        .cloud
                        .iam(account)
                        .await?
                        .delete_access_key(user, id)
                        .await
                        .ok_if_not_found(),
                    Undo::SecretValue { name, value, tags } => {
                        put_current(&secrets, name, &value.to_text()).await?;
                        secrets.tag_secret(name, tags).await
                    }
                }
            }
            .await;
            match result {
                Ok(()) => info!(step = ?step, "rolled back"),
                Err(e) => warn!(step = ?step, error = %e, "could not roll back"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn undo_steps_never_show_a_document_or_a_secret_value() {
        let account = AccountId::parse("a", "444455556666").unwrap();
        let doc = json!({"Statement": [{"Condition": {"StringEquals": {"sts:ExternalId": "s3cr3t-id-value"}}}]});
        let shown = format!(
            "{:?}",
            Undo::GrantDocument {
                account,
                arn: "arn:aws:iam::444455556666:policy/trustlink/TrustLink-x".into(),
                document: doc,
            }
        );
        assert!(shown.contains("TrustLink-x"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
