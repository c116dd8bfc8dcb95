//! Acting as a consumer would, to prove a new value works before it becomes AWSCURRENT,
//! retrying through IAM's eventual consistency (a new key or trust policy takes seconds to
//! work everywhere).

use std::future::Future;

use tracing::info;
use trustlink_aws::ports::{Cloud, Credentials};
use trustlink_aws::AwsError;
use trustlink_domain::record::AccessKeySecret;

use crate::Rotator;

impl<C: Cloud> Rotator<C> {
    /// `attempt` until it succeeds or `Limits::verify_attempts` are used up, with
    /// `Limits::verify_delay` between attempts; the last error when none succeeded.
    pub(crate) async fn retrying<T, F, Fut>(&self, mut attempt: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let mut n = 1;
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(e) if n >= self.limits.verify_attempts => return Err(e),
                Err(e) => {
                    info!(attempt = n, error = %e, "not working yet; IAM may still be propagating")
                }
            }
            tokio::time::sleep(self.limits.verify_delay).await;
            n += 1;
        }
    }
}

/// The long-term credentials of a link's key.
pub(crate) fn credentials_of(key: &AccessKeySecret) -> Credentials {
    Credentials {
        access_key_id: key.access_key_id.clone(),
        secret_access_key: key.secret_access_key.clone(),
        session_token: None,
    }
}
