//! The one `SdkConfig` every client is built from, and the clients built from it.

use std::time::Duration;

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_iam::config::retry::RetryPartition;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use trustlink_domain::AccountId;

/// Attempts per call, the first included.
pub const MAX_ATTEMPTS: u32 = 5;

/// Loads region and credentials the usual way (environment, profile, Lambda's role) and
/// honours `AWS_ENDPOINT_URL`, so the same code runs against AWS or a local emulator.
///
/// Where the environment holds them (a Lambda's always does), region and credentials are
/// taken from it directly: the default chains would pick the environment first anyway, but
/// both end with IMDS, and building their IMDS client builds an HTTPS connector, which reads
/// and parses every system root certificate (about 8 ms, most of a function's init in
/// `make bench`). The certificates are then read by the first AWS call instead.
pub async fn load_sdk_config() -> SdkConfig {
    let mut loader = loader();
    if env_has(&["AWS_REGION", "AWS_DEFAULT_REGION"]) {
        loader = loader.region(EnvironmentVariableRegionProvider::new());
    }
    if env_has(&["AWS_ACCESS_KEY_ID"]) && env_has(&["AWS_SECRET_ACCESS_KEY"]) {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    loader.load().await
}

/// Whether one of `names` is set to something non-empty (what the environment providers
/// accept).
fn env_has(names: &[&str]) -> bool {
    names
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// The loader behind [`load_sdk_config`]: rustls on ring, every request counted by service
/// ([`crate::calls`]), adaptive retries, explicit timeouts. Tests add an endpoint and
/// credentials to it.
///
/// Adaptive mode is standard mode (exponential backoff with jitter) plus a client-side rate
/// limiter that slows a partition's sending after a throttling answer: IAM's token buckets
/// are per account and small, so a fleet-wide rotation that keeps sending at full speed
/// only collects more `Throttling` answers.
pub fn loader() -> aws_config::ConfigLoader {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(crate::calls::counting(http))
        .retry_config(RetryConfig::adaptive().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(15))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        )
}

/// The retry partition of a service's calls into one account: its own retry token bucket and
/// its own adaptive rate limiter. Throttling by IAM in one account then slows neither STS,
/// nor Secrets Manager, nor IAM in another account (IAM and STS throttle per account). A
/// named partition is shared by every client that names it, so the many short-lived
/// clients built per call share one limiter per account and service.
pub fn retry_partition(service: &str, account: Option<&AccountId>) -> RetryPartition {
    match account {
        Some(account) => RetryPartition::new(format!("trustlink-{service}-{account}")),
        None => RetryPartition::new(format!("trustlink-{service}")),
    }
}

/// An IAM client acting in `account` with `config` (that account's credentials).
pub fn iam_client(config: &SdkConfig, account: &AccountId) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::config::Builder::from(config)
        .retry_partition(retry_partition("iam", Some(account)))
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

/// An STS client with `config`'s credentials; `account` is whose credentials they are
/// (None: someone else's, as a link's consumer).
pub fn sts_client(config: &SdkConfig, account: Option<&AccountId>) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::config::Builder::from(config)
        .retry_partition(retry_partition("sts", account))
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

/// A Secrets Manager client (the secrets live in the hub account).
pub fn secrets_client(config: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    let conf = aws_sdk_secretsmanager::config::Builder::from(config)
        .retry_partition(retry_partition("secretsmanager", None))
        .build();
    aws_sdk_secretsmanager::Client::from_conf(conf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::Region;

    async fn config() -> SdkConfig {
        loader()
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                "a", "b", None, None, "test",
            ))
            .load()
            .await
    }

    #[tokio::test]
    async fn each_service_and_account_retries_in_its_own_partition() {
        let config = config().await;
        let a = AccountId::parse("account", "111122223333").unwrap();
        let b = AccountId::parse("account", "444455556666").unwrap();
        let name = |p: Option<&RetryPartition>| p.map(ToString::to_string);
        let iam_a = iam_client(&config, &a);
        let iam_b = iam_client(&config, &b);
        let sts_a = sts_client(&config, Some(&a));
        let secrets = secrets_client(&config);
        let names = [
            name(iam_a.config().retry_partition()),
            name(iam_b.config().retry_partition()),
            name(sts_a.config().retry_partition()),
            name(secrets.config().retry_partition()),
        ];
        assert_eq!(
            names.map(Option::unwrap_or_default),
            [
                "trustlink-iam-111122223333",
                "trustlink-iam-444455556666",
                "trustlink-sts-111122223333",
                "trustlink-secretsmanager",
            ]
        );
        // Two clients of one account and service share the partition (and so its limiter).
        assert_eq!(
            iam_client(&config, &a).config().retry_partition(),
            iam_a.config().retry_partition()
        );
        let mode = iam_a.config().retry_config().map(|r| r.mode());
        assert_eq!(mode, Some(aws_config::retry::RetryMode::Adaptive));
    }
}
