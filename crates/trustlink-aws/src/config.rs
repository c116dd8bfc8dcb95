//! The one `SdkConfig` every client is built from.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// Retries: the SDK's standard mode (exponential backoff with jitter, throttling-aware).
pub const MAX_ATTEMPTS: u32 = 5;

/// Loads region and credentials the usual way (environment, profile, Lambda's role) and
/// honours `AWS_ENDPOINT_URL`, so the same code runs against AWS or a local emulator.
pub async fn load_sdk_config() -> SdkConfig {
    loader().load().await
}

/// The loader behind [`load_sdk_config`]: rustls on ring, the SDK's standard retries,
/// explicit timeouts. Tests add an endpoint and credentials to it.
pub fn loader() -> aws_config::ConfigLoader {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(15))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        )
}
