//! AWS calls counted by service as they go on the wire: every request the SDK sends (each
//! attempt, the credential refreshes of the admin roles included) passes the HTTP client of
//! [`crate::config::loader`], which counts it by its SigV4 signing name. The rotator's
//! metrics report these counts per run.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;

/// The services counted, by signing name; anything else is `other`.
pub const SERVICES: [&str; 4] = ["iam", "sts", "secretsmanager", "sqs"];

static COUNTS: [AtomicU64; SERVICES.len() + 1] = [const { AtomicU64::new(0) }; SERVICES.len() + 1];

/// Requests sent per service since the process started, `other` last.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts(pub [u64; SERVICES.len() + 1]);

impl Counts {
    /// What was sent between `earlier` and `self`.
    pub fn since(&self, earlier: &Counts) -> Counts {
        Counts(std::array::from_fn(|i| {
            self.0[i].saturating_sub(earlier.0[i])
        }))
    }

    /// `(signing name, requests)`, `other` last.
    pub fn by_service(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        SERVICES.iter().copied().chain(["other"]).zip(self.0)
    }
}

/// The counts so far.
pub fn sent() -> Counts {
    Counts(std::array::from_fn(|i| COUNTS[i].load(Ordering::Relaxed)))
}

/// The signing name of a signed request: `Credential=<key id>/<date>/<region>/<service>/aws4_request`
/// in its Authorization header (the host does not tell: a local endpoint serves them all).
fn service_index(request: &HttpRequest) -> usize {
    let service = request
        .headers()
        .get("authorization")
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|scope| scope.split('/').nth(3));
    service
        .and_then(|s| SERVICES.iter().position(|known| *known == s))
        .unwrap_or(SERVICES.len())
}

/// `http` with every request counted.
pub fn counting(http: SharedHttpClient) -> SharedHttpClient {
    SharedHttpClient::new(Counting(http))
}

#[derive(Debug)]
struct Counting(SharedHttpClient);

#[derive(Debug)]
struct CountingConnector(SharedHttpConnector);

impl HttpConnector for CountingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        COUNTS[service_index(&request)].fetch_add(1, Ordering::Relaxed);
        self.0.call(request)
    }
}

impl HttpClient for Counting {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(CountingConnector(
            self.0.http_connector(settings, components),
        ))
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(authorization: Option<&str>) -> HttpRequest {
        let mut request = HttpRequest::empty();
        if let Some(a) = authorization {
            request.headers_mut().insert("authorization", a.to_string());
        }
        request
    }

    #[test]
    fn a_request_counts_for_its_signing_service() {
        let scope = |service: &str| {
            format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261202/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00")
        };
        assert_eq!(service_index(&signed(Some(&scope("iam")))), 0);
        assert_eq!(service_index(&signed(Some(&scope("sts")))), 1);
        assert_eq!(service_index(&signed(Some(&scope("secretsmanager")))), 2);
        assert_eq!(service_index(&signed(Some(&scope("s3")))), SERVICES.len());
        assert_eq!(service_index(&signed(None)), SERVICES.len());
        let before = Counts([1, 2, 3, 4, 5]);
        let after = Counts([3, 2, 7, 4, 5]);
        let names: Vec<_> = after.since(&before).by_service().collect();
        assert_eq!(
            names,
            [
                ("iam", 2),
                ("sts", 0),
                ("secretsmanager", 4),
                ("sqs", 0),
                ("other", 0)
            ]
        );
    }
}
