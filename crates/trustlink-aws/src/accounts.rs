//! Acting in accounts: the function's own credentials in its own account (the hub), the
//! admin role of any other account, credentials cached per account.

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::sts::AssumeRoleProvider;
use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use tokio::sync::{Mutex, OnceCell};
use trustlink_domain::arn::{self, Partition};
use trustlink_domain::AccountId;

use crate::ports::{Credentials, Sts};
use crate::{AwsError, IamAdapter, SecretsAdapter, StsAdapter};

pub const DEFAULT_ADMIN_ROLE_NAME: &str = "TrustLinkAdmin";

/// Hands out adapters per account. Cheap to clone; clones share the cache.
#[derive(Clone, Debug)]
pub struct AccountAccess {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    base: SdkConfig,
    admin_role_name: String,
    home: OnceCell<AccountId>,
    configs: Mutex<HashMap<AccountId, SdkConfig>>,
}

impl AccountAccess {
    pub fn new(base: SdkConfig, admin_role_name: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                base,
                admin_role_name: admin_role_name.into(),
                home: OnceCell::new(),
                configs: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn admin_role_name(&self) -> &str {
        &self.inner.admin_role_name
    }

    /// The account the function runs in, as the invocation's own ARN names it
    /// (`arn:aws:lambda:<region>:<account>:function:<name>`), so STS need not be asked. An
    /// ARN without a valid account is ignored (STS is asked on first need); the first
    /// account known stays.
    pub fn learn_home_account(&self, invoked_function_arn: &str) {
        let account = invoked_function_arn.split(':').nth(4).unwrap_or_default();
        if let Ok(id) = AccountId::parse("invoked function account", account) {
            let _ = self.inner.home.set(id);
        }
    }

    /// The account the function runs in, asked of STS once (unless learnt from the
    /// invocation).
    pub async fn home_account(&self) -> Result<AccountId, AwsError> {
        self.inner
            .home
            .get_or_try_init(|| async {
                let me = StsAdapter::new(crate::config::sts_client(&self.inner.base, None))
                    .caller_identity()
                    .await?;
                AccountId::parse("caller account", &me.account)
                    .map_err(|e| AwsError::other("sts:GetCallerIdentity", e.to_string()))
            })
            .await
            .cloned()
    }

    /// The configuration to act in `account` with: our own in the hub, else the admin role's.
    pub async fn config_for(&self, account: &AccountId) -> Result<SdkConfig, AwsError> {
        if *account == self.home_account().await? {
            return Ok(self.inner.base.clone());
        }
        let mut configs = self.inner.configs.lock().await;
        if let Some(config) = configs.get(account) {
            return Ok(config.clone());
        }
        // The admin role is in the function's partition, which its region names.
        let partition = self
            .inner
            .base
            .region()
            .map(|r| Partition::of_region(r.as_ref()))
            .unwrap_or_default();
        let role_arn = arn::role(partition, account, "/", &self.inner.admin_role_name);
        // The provider refreshes its credentials before they expire; the SDK caches them.
        let provider = AssumeRoleProvider::builder(role_arn)
            .session_name("trustlink")
            .configure(&self.inner.base)
            .build()
            .await;
        let config = self
            .inner
            .base
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
        configs.insert(account.clone(), config.clone());
        Ok(config)
    }

    pub async fn iam(&self, account: &AccountId) -> Result<IamAdapter, AwsError> {
        let config = self.config_for(account).await?;
        Ok(IamAdapter::new(crate::config::iam_client(&config, account)))
    }

    pub async fn sts(&self, account: &AccountId) -> Result<StsAdapter, AwsError> {
        let config = self.config_for(account).await?;
        Ok(StsAdapter::new(crate::config::sts_client(
            &config,
            Some(account),
        )))
    }

    /// Secrets live in the hub account.
    pub fn secrets(&self) -> SecretsAdapter {
        SecretsAdapter::new(crate::config::secrets_client(&self.inner.base))
    }

    /// STS as whoever holds `credentials` (a link's access key, or an assumed role's session):
    /// how a link is verified from the consumer's side.
    pub fn sts_as(&self, credentials: &Credentials) -> StsAdapter {
        let creds = aws_credential_types::Credentials::new(
            credentials.access_key_id.clone(),
            credentials.secret_access_key.expose().to_string(),
            credentials
                .session_token
                .as_ref()
                .map(|t| t.expose().to_string()),
            None,
            "trustlink-verify",
        );
        let config = self
            .inner
            .base
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(creds))
            .build();
        StsAdapter::new(crate::config::sts_client(&config, None))
    }
}

impl crate::ports::Cloud for AccountAccess {
    type Iam = IamAdapter;
    type Sts = StsAdapter;
    type Secrets = SecretsAdapter;

    async fn home_account(&self) -> Result<AccountId, AwsError> {
        AccountAccess::home_account(self).await
    }

    async fn iam(&self, account: &AccountId) -> Result<IamAdapter, AwsError> {
        AccountAccess::iam(self, account).await
    }

    fn secrets(&self) -> SecretsAdapter {
        AccountAccess::secrets(self)
    }

    fn sts_as(&self, credentials: &Credentials) -> StsAdapter {
        AccountAccess::sts_as(self, credentials)
    }
}
