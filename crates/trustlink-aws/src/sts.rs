//! STS over `aws-sdk-sts`.

use aws_sdk_sts::Client;
use trustlink_domain::{SecretAccessKey, SessionToken};

use crate::error::map_sdk;
use crate::ports::{AwsResult as Result, CallerIdentity, Credentials, Sts};
use crate::AwsError;

#[derive(Clone, Debug)]
pub struct StsAdapter {
    client: Client,
}

impl StsAdapter {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl Sts for StsAdapter {
    async fn caller_identity(&self) -> Result<CallerIdentity> {
        let out = self
            .client
            .get_caller_identity()
            .send()
            .await
            .map_err(map_sdk("sts:GetCallerIdentity"))?;
        Ok(CallerIdentity {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
            user_id: out.user_id().unwrap_or_default().to_string(),
        })
    }

    async fn assume_role(
        &self,
        role_arn: &str,
        session_name: &str,
        external_id: Option<&str>,
    ) -> Result<Credentials> {
        let out = self
            .client
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(session_name)
            .set_external_id(external_id.map(String::from))
            .send()
            .await
            .map_err(map_sdk("sts:AssumeRole"))?;
        let c = out
            .credentials()
            .ok_or_else(|| AwsError::other("sts:AssumeRole", "no credentials in the response"))?;
        Ok(Credentials {
            access_key_id: c.access_key_id().to_string(),
            secret_access_key: SecretAccessKey::new(c.secret_access_key()),
            session_token: Some(SessionToken::new(c.session_token())),
        })
    }
}
