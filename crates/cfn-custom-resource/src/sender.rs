//! Delivering the response body to the presigned ResponseURL.

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;

use crate::error_chain::error_chain;
use crate::redact::{redact_url, sanitize};
use crate::{Error, Response};

/// Something that can deliver a serialised response to a ResponseURL.
///
/// [`HttpSender`] is the real one; [`RecordingSender`] keeps responses in memory for tests.
/// A sender retries as it sees fit, but must stop by `deadline` (the Lambda deadline) when
/// one is given.
pub trait ResponseSender: Send + Sync {
    fn send(
        &self,
        url: &str,
        body: &[u8],
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Delivery, SendError>> + Send;
}

impl<T: ResponseSender> ResponseSender for &T {
    fn send(
        &self,
        url: &str,
        body: &[u8],
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Delivery, SendError>> + Send {
        (**self).send(url, body, deadline)
    }
}

impl<T: ResponseSender> ResponseSender for Arc<T> {
    fn send(
        &self,
        url: &str,
        body: &[u8],
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Delivery, SendError>> + Send {
        (**self).send(url, body, deadline)
    }
}

/// A successful delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// HTTP attempts made, including the successful one.
    pub attempts: u32,
    /// The final HTTP status (2xx).
    pub status: u16,
}

/// A failed delivery. Messages never contain the ResponseURL's query string.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SendError {
    /// A 4xx answer (not retried: the URL is expired, malformed or already used), or the
    /// last 5xx once retries ran out.
    #[error("the ResponseURL answered HTTP {status}{code} after {attempts} attempt(s)", code = code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Rejected {
        status: u16,
        /// The S3 error code from the body, if any (e.g. `AccessDenied` for an expired URL).
        code: Option<String>,
        attempts: u32,
    },
    /// Connection errors or timeouts until retries (or time) ran out.
    #[error("could not reach the ResponseURL after {attempts} attempt(s): {message}")]
    Unreachable { message: String, attempts: u32 },
    /// The ResponseURL is not a usable http(s) URL.
    #[error("the ResponseURL is not a valid http(s) URL")]
    InvalidUrl,
    /// The HTTPS client could not be set up (no crypto provider, no root certificate).
    #[error("cannot set up the HTTPS client: {0}")]
    NoClient(String),
}

impl SendError {
    /// HTTP attempts made before giving up.
    pub fn attempts(&self) -> u32 {
        match self {
            SendError::Rejected { attempts, .. } | SendError::Unreachable { attempts, .. } => {
                *attempts
            }
            SendError::InvalidUrl | SendError::NoClient(_) => 0,
        }
    }
}

/// How [`HttpSender`] retries.
///
/// Connection errors, timeouts and 5xx answers are retried with exponential backoff
/// (`initial_backoff`, doubled each time, capped at `max_backoff`); a 4xx is final.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, at least 1.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Limit for one attempt, from connecting to reading the answer.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, failed_attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(failed_attempts.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// PUTs responses over HTTPS (or plain HTTP) with hyper and rustls.
///
/// The client, and with it the system's root certificates, is made on the first send, not
/// in [`HttpSender::new`]: reading and parsing the roots was most of a function's init
/// (issue 13.5), and a function that is never sent a custom-resource request never needs them.
#[derive(Clone)]
pub struct HttpSender {
    /// Shared by clones; a failure to set up is kept too (it would fail the same way again).
    client: Arc<OnceLock<Result<HttpsClient, String>>>,
    policy: RetryPolicy,
}

impl HttpSender {
    /// A sender trusting the system's root certificates (loaded on the first send), with the
    /// default [`RetryPolicy`].
    pub fn new() -> Result<Self, Error> {
        Ok(HttpSender {
            client: Arc::default(),
            policy: RetryPolicy::default(),
        })
    }

    /// The client, made on first use; the error names what is missing.
    fn client(&self) -> Result<&HttpsClient, SendError> {
        self.client
            .get_or_init(https_client)
            .as_ref()
            .map_err(|e| SendError::NoClient(e.clone()))
    }

    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.policy
    }

    async fn attempt(&self, client: &HttpsClient, uri: &http::Uri, body: &Bytes) -> Attempt {
        let request = http::Request::put(uri.clone())
            // S3 signs presigned PUTs without a content type: CloudFormation's documented
            // contract is an empty Content-Type header, and any other value can break the
            // signature.
            .header(http::header::CONTENT_TYPE, "")
            .header(http::header::CONTENT_LENGTH, body.len())
            .body(Full::new(body.clone()));
        let request = match request {
            Ok(r) => r,
            Err(_) => return Attempt::Final(SendErrorKind::InvalidUrl),
        };
        let response = match client.request(request).await {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(error_chain(&e)),
        };
        let status = response.status();
        if status.is_success() {
            return Attempt::Done(status.as_u16());
        }
        // Only the short S3 error code is kept: S3 error bodies can echo the canonical
        // request, query string included.
        let code = match Limited::new(response.into_body(), 16 * 1024)
            .collect()
            .await
        {
            Ok(body) => s3_error_code(&body.to_bytes()),
            Err(_) => None,
        };
        if status.is_server_error() {
            Attempt::RetryStatus(status.as_u16(), code)
        } else {
            Attempt::Final(SendErrorKind::Rejected(status.as_u16(), code))
        }
    }
}

/// A client trusting the system's root certificates.
fn https_client() -> Result<HttpsClient, String> {
    // rustls panics when it cannot pick a process-wide crypto provider (several enabled in
    // the build, none installed); that is a setup error, not a reason to abort.
    let builder = std::panic::catch_unwind(|| HttpsConnectorBuilder::new().with_native_roots())
        .map_err(|_| "rustls has no usable crypto provider".to_owned())?
        .map_err(|e| format!("no usable native root certificates: {e}"))?;
    // Presigned S3 URLs are https; plain http is accepted for local endpoints and tests.
    let connector = builder.https_or_http().enable_http1().build();
    Ok(Client::builder(TokioExecutor::new())
        // Lambda freezes the process between invocations, so a pooled connection is likely
        // dead by the next response; each invocation sends one PUT anyway.
        .pool_max_idle_per_host(0)
        .build(connector))
}

enum Attempt {
    Done(u16),
    Retry(String),
    RetryStatus(u16, Option<String>),
    Final(SendErrorKind),
}

enum SendErrorKind {
    Rejected(u16, Option<String>),
    InvalidUrl,
}

impl ResponseSender for HttpSender {
    async fn send(
        &self,
        url: &str,
        body: &[u8],
        deadline: Option<Instant>,
    ) -> Result<Delivery, SendError> {
        let uri: http::Uri = url.parse().map_err(|_| SendError::InvalidUrl)?;
        if !matches!(uri.scheme_str(), Some("https" | "http")) || uri.host().is_none() {
            return Err(SendError::InvalidUrl);
        }
        let client = self.client()?;
        let body = Bytes::copy_from_slice(body);
        let max_attempts = self.policy.max_attempts.max(1);
        let mut attempts = 0;
        loop {
            attempts += 1;
            // The first attempt always gets a little time, even past the deadline: sending
            // is the only useful thing left to do.
            let mut budget = self.policy.attempt_timeout;
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                budget = budget.min(left.max(Duration::from_secs(1)));
            }
            let outcome =
                match tokio::time::timeout(budget, self.attempt(client, &uri, &body)).await {
                    Ok(outcome) => outcome,
                    Err(_) => Attempt::Retry(format!("no answer within {budget:?}")),
                };
            let last_error = match outcome {
                Attempt::Done(status) => return Ok(Delivery { attempts, status }),
                Attempt::Final(SendErrorKind::InvalidUrl) => return Err(SendError::InvalidUrl),
                Attempt::Final(SendErrorKind::Rejected(status, code)) => {
                    return Err(SendError::Rejected {
                        status,
                        code,
                        attempts,
                    })
                }
                Attempt::RetryStatus(status, code) => SendError::Rejected {
                    status,
                    code,
                    attempts,
                },
                Attempt::Retry(message) => SendError::Unreachable {
                    message: sanitize(&message, Some(url)),
                    attempts,
                },
            };
            let wait = self.policy.backoff(attempts);
            let out_of_time = deadline.is_some_and(|d| Instant::now() + wait >= d);
            if attempts >= max_attempts || out_of_time {
                return Err(last_error);
            }
            tracing::warn!(
                url = %redact_url(url),
                attempt = attempts,
                error = %last_error,
                retry_in_ms = wait.as_millis() as u64,
                "custom resource response not delivered yet, retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

/// `<Code>AccessDenied</Code>` from an S3 XML error body, if it is short and plain.
fn s3_error_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    let code = &text[start..start + len];
    (!code.is_empty() && code.len() <= 64 && code.chars().all(|c| c.is_ascii_alphanumeric()))
        .then(|| code.to_owned())
}

/// A [`ResponseSender`] that keeps every response in memory and always succeeds; for tests
/// of resources built on this crate.
#[derive(Clone, Default)]
pub struct RecordingSender {
    sent: Arc<Mutex<Vec<Recorded>>>,
}

/// One response captured by [`RecordingSender`].
#[derive(Clone, Debug)]
pub struct Recorded {
    pub url: String,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The body parsed back into a [`Response`].
    pub fn response(&self) -> Response {
        serde_json::from_slice(&self.body).expect("recorded body is a response")
    }
}

impl RecordingSender {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything sent so far, oldest first.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The parsed responses sent so far, oldest first.
    pub fn responses(&self) -> Vec<Response> {
        self.recorded().iter().map(Recorded::response).collect()
    }
}

impl ResponseSender for RecordingSender {
    async fn send(
        &self,
        url: &str,
        body: &[u8],
        _deadline: Option<Instant>,
    ) -> Result<Delivery, SendError> {
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Recorded {
                url: url.to_owned(),
                body: body.to_vec(),
            });
        Ok(Delivery {
            attempts: 1,
            status: 200,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default();
        let waits: Vec<_> = (1..=6).map(|n| p.backoff(n).as_millis()).collect();
        assert_eq!(waits, vec![200, 400, 800, 1600, 3000, 3000]);
    }

    #[test]
    fn s3_error_code_is_extracted_only_when_plain() {
        let xml = b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>";
        assert_eq!(s3_error_code(xml).as_deref(), Some("AccessDenied"));
        assert_eq!(s3_error_code(b"<Code>a b?c</Code>"), None);
        assert_eq!(s3_error_code(b"plain text"), None);
    }
}
