//! Running a resource's handler and answering CloudFormation exactly once.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use lambda_runtime::LambdaEvent;
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::redact::{redact_url, sanitize};
use crate::request::{MalformedRequest, Request, RequestType};
use crate::response::{Response, Status, MAX_PHYSICAL_ID_BYTES};
use crate::sender::{Delivery, ResponseSender};
use crate::Error;

/// A custom resource: one method per request type.
///
/// Implementations may use `async fn`; the futures must be `Send`. An `Err` becomes a
/// FAILED response with its reason, a panic a FAILED "internal error", and a handler still
/// running shortly before the Lambda deadline is dropped and answered FAILED.
///
/// A Delete whose physical id is one [`handle`] made up for a failed Create (see
/// [`is_failed_create_id`]) is answered SUCCESS without calling [`CustomResource::delete`]:
/// nothing was created.
pub trait CustomResource: Send + Sync {
    fn create(&self, req: &Request) -> impl Future<Output = Result<Outcome, ResourceError>> + Send;

    /// An empty physical id in the [`Outcome`] keeps the current one. A different id tells
    /// CloudFormation the resource was replaced; it then sends a Delete for the old id.
    fn update(&self, req: &Request) -> impl Future<Output = Result<Outcome, ResourceError>> + Send;

    /// The physical id in the [`Outcome`] is ignored: a Delete always answers with the
    /// request's.
    fn delete(&self, req: &Request) -> impl Future<Output = Result<Outcome, ResourceError>> + Send;
}

/// What a successful handler reports.
#[derive(Clone, Default, PartialEq)]
pub struct Outcome {
    pub physical_resource_id: String,
    /// Attributes for `Fn::GetAtt`.
    pub data: Map<String, Value>,
    /// Asks CloudFormation to mask `data` in `Fn::GetAtt` output; this crate never logs it.
    pub no_echo: bool,
}

impl Outcome {
    pub fn new(physical_resource_id: impl Into<String>) -> Self {
        Outcome {
            physical_resource_id: physical_resource_id.into(),
            ..Default::default()
        }
    }

    /// Adds one `Data` attribute.
    pub fn with_data(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.data.insert(key.into(), value.into());
        self
    }

    pub fn with_no_echo(mut self, no_echo: bool) -> Self {
        self.no_echo = no_echo;
        self
    }
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Outcome");
        d.field("physical_resource_id", &self.physical_resource_id)
            .field("no_echo", &self.no_echo);
        if self.no_echo {
            d.field("data_keys", &self.data.keys().collect::<Vec<_>>());
        } else {
            d.field("data", &self.data);
        }
        d.finish()
    }
}

/// A handler failure, answered as FAILED with `reason`.
///
/// The reason is shown in stack events: keep secrets out of it. It is cut to
/// [`MAX_REASON_BYTES`](crate::MAX_REASON_BYTES) and scrubbed of the ResponseURL.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ResourceError {
    pub reason: String,
    /// Only used for Create: an id the later Delete will recognise (for example of a
    /// half-created resource it should clean up). Without one, a fallback id is used (see
    /// [`failed_create_id`]).
    pub physical_resource_id: Option<String>,
}

impl ResourceError {
    pub fn new(reason: impl Into<String>) -> Self {
        ResourceError {
            reason: reason.into(),
            physical_resource_id: None,
        }
    }

    /// A reason made of `err` and its whole `source()` chain.
    pub fn from_error(err: &(dyn std::error::Error + 'static)) -> Self {
        let mut reason = err.to_string();
        let mut source = err.source();
        while let Some(s) = source {
            reason.push_str(": ");
            reason.push_str(&s.to_string());
            source = s.source();
        }
        Self::new(reason)
    }

    pub fn with_physical_resource_id(mut self, id: impl Into<String>) -> Self {
        self.physical_resource_id = Some(id.into());
        self
    }
}

impl From<String> for ResourceError {
    fn from(reason: String) -> Self {
        Self::new(reason)
    }
}

impl From<&str> for ResourceError {
    fn from(reason: &str) -> Self {
        Self::new(reason)
    }
}

const FAILED_CREATE_PREFIX: &str = "failed-create-";

/// The physical id answered for a failed Create whose handler gave none:
/// `failed-create-<LogicalResourceId>-<RequestId>`. Deterministic, so a retried invocation
/// answers the same.
pub fn failed_create_id(logical_resource_id: &str, request_id: &str) -> String {
    let logical = if logical_resource_id.is_empty() {
        "unknown"
    } else {
        logical_resource_id
    };
    let request = if request_id.is_empty() {
        "unknown"
    } else {
        request_id
    };
    format!("{FAILED_CREATE_PREFIX}{logical}-{request}")
}

/// Whether `physical_resource_id` is a [`failed_create_id`], i.e. names nothing that exists.
pub fn is_failed_create_id(physical_resource_id: &str) -> bool {
    physical_resource_id.starts_with(FAILED_CREATE_PREFIX)
}

/// Settings for [`handle_with_config`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Time reserved before the Lambda deadline for answering. The handler is given what is
    /// left; when the deadline is close, handler and answer get half each.
    pub deadline_margin: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            deadline_margin: Duration::from_secs(10),
        }
    }
}

impl Config {
    pub fn with_deadline_margin(mut self, margin: Duration) -> Self {
        self.deadline_margin = margin;
        self
    }
}

/// A [`CustomResource`] made of one closure that receives every request (dispatch on
/// [`Request::request_type`]). The closure gets an owned clone of the request, so its
/// future can be `'static`.
pub struct FnResource<F>(F);

/// Wraps a closure `Fn(Request) -> impl Future<Output = Result<Outcome, ResourceError>>`.
pub fn resource_fn<F, Fut>(f: F) -> FnResource<F>
where
    F: Fn(Request) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Outcome, ResourceError>> + Send,
{
    FnResource(f)
}

impl<F, Fut> CustomResource for FnResource<F>
where
    F: Fn(Request) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Outcome, ResourceError>> + Send,
{
    fn create(&self, req: &Request) -> impl Future<Output = Result<Outcome, ResourceError>> + Send {
        (self.0)(req.clone())
    }

    fn update(&self, req: &Request) -> impl Future<Output = Result<Outcome, ResourceError>> + Send {
        (self.0)(req.clone())
    }

    fn delete(&self, req: &Request) -> impl Future<Output = Result<Outcome, ResourceError>> + Send {
        (self.0)(req.clone())
    }
}

/// [`handle_with_config`] with the default [`Config`].
pub async fn handle<R, S>(resource: &R, event: LambdaEvent<Value>, sender: &S) -> Result<(), Error>
where
    R: CustomResource + ?Sized,
    S: ResponseSender + ?Sized,
{
    handle_with_config(resource, event, sender, &Config::default()).await
}

/// Answers one custom resource event: exactly one response is sent per call.
///
/// Returns `Ok` once the response was delivered. Returns `Err` when delivery finally failed
/// or when the event cannot be answered at all (no `ResponseURL`), so that the invocation
/// shows as failed.
pub async fn handle_with_config<R, S>(
    resource: &R,
    event: LambdaEvent<Value>,
    sender: &S,
    config: &Config,
) -> Result<(), Error>
where
    R: CustomResource + ?Sized,
    S: ResponseSender + ?Sized,
{
    let started = Instant::now();
    let deadline = lambda_deadline(event.context.deadline);
    let request = match Request::from_value(event.payload) {
        Ok(request) => request,
        Err(malformed) => return answer_malformed(malformed, sender, deadline, started).await,
    };

    let (response, failed_physical_id) = run_handler(resource, &request, deadline, config).await;
    let keep_success_without_data = request.request_type() == RequestType::Delete;
    let url = request.response_url();
    let (response, body) =
        response.finalize(Some(url), &failed_physical_id, keep_success_without_data);

    let log = LogFields {
        request_type: request.request_type().as_str(),
        stack_id: request.stack_id(),
        request_id: request.request_id(),
        logical_resource_id: request.logical_resource_id(),
    };
    let delivery = sender.send(url, &body, deadline).await;
    log.finish(&response, url, delivery, started)
}

/// Runs the handler for `request`, containing its errors, panics and overruns. Returns the
/// response and the physical id to use should it turn into a FAILED one later.
async fn run_handler<R>(
    resource: &R,
    request: &Request,
    deadline: Option<Instant>,
    config: &Config,
) -> (Response, String)
where
    R: CustomResource + ?Sized,
{
    let request_type = request.request_type();
    let fallback = failed_create_id(request.logical_resource_id(), request.request_id());
    let request_physical_id = request
        .physical_resource_id()
        .unwrap_or_default()
        .to_owned();

    let base = Response {
        status: Status::Success,
        reason: None,
        physical_resource_id: String::new(),
        stack_id: request.stack_id().to_owned(),
        request_id: request.request_id().to_owned(),
        logical_resource_id: request.logical_resource_id().to_owned(),
        no_echo: false,
        data: Map::new(),
    };

    if request_type == RequestType::Delete && is_failed_create_id(&request_physical_id) {
        tracing::info!(
            physical_resource_id = %request_physical_id,
            "Delete of a resource whose Create failed: nothing to delete"
        );
        let response = Response {
            physical_resource_id: request_physical_id.clone(),
            ..base
        };
        return (response, request_physical_id);
    }

    let work = async {
        match request_type {
            RequestType::Create => resource.create(request).await,
            RequestType::Update => resource.update(request).await,
            RequestType::Delete => resource.delete(request).await,
        }
    };
    // The handler runs inside this future, so a panic is caught here and, on timeout,
    // dropping the future cancels the handler: it can never answer a second time.
    let guarded = AssertUnwindSafe(work).catch_unwind();
    let result = match handler_budget(deadline, config.deadline_margin) {
        Some(budget) => match tokio::time::timeout(budget, guarded).await {
            Ok(finished) => finished.map_err(|_| HandlerFailure::Panicked),
            Err(_) => Err(HandlerFailure::TimedOut(budget)),
        },
        None => guarded.await.map_err(|_| HandlerFailure::Panicked),
    };

    let failed = |reason: String, error_id: Option<String>| {
        // On Update and Delete CloudFormation still knows the resource by the request's id.
        let id = match request_type {
            RequestType::Create => error_id
                .filter(|id| !id.is_empty() && id.len() <= MAX_PHYSICAL_ID_BYTES)
                .unwrap_or_else(|| fallback.clone()),
            RequestType::Update | RequestType::Delete => request_physical_id.clone(),
        };
        let response = Response {
            status: Status::Failed,
            reason: Some(reason),
            physical_resource_id: id.clone(),
            ..base.clone()
        };
        (response, id)
    };

    match result {
        Ok(Ok(outcome)) => {
            let id = match request_type {
                RequestType::Create => outcome.physical_resource_id,
                RequestType::Update if outcome.physical_resource_id.is_empty() => {
                    request_physical_id.clone()
                }
                RequestType::Update => outcome.physical_resource_id,
                RequestType::Delete => request_physical_id.clone(),
            };
            if id.is_empty() {
                return failed(
                    "the resource handler returned an empty physical resource id".to_owned(),
                    None,
                );
            }
            // If the response has to become FAILED (data too large), a created resource
            // keeps its id so that the Delete CloudFormation sends next can remove it.
            let failed_id = match request_type {
                RequestType::Create if id.len() <= MAX_PHYSICAL_ID_BYTES => id.clone(),
                RequestType::Create => fallback.clone(),
                _ => request_physical_id.clone(),
            };
            let response = Response {
                physical_resource_id: id,
                no_echo: outcome.no_echo,
                data: outcome.data,
                ..base.clone()
            };
            (response, failed_id)
        }
        Ok(Err(error)) => failed(error.reason, error.physical_resource_id),
        Err(HandlerFailure::Panicked) => {
            // The payload is not used: panic messages can quote secrets. With
            // `install_panic_hook` the location is logged.
            tracing::error!(
                request_type = request_type.as_str(),
                logical_resource_id = request.logical_resource_id(),
                "the resource handler panicked"
            );
            failed(
                "internal error: the resource handler panicked (see the function's logs)"
                    .to_owned(),
                None,
            )
        }
        Err(HandlerFailure::TimedOut(budget)) => {
            tracing::error!(
                request_type = request_type.as_str(),
                logical_resource_id = request.logical_resource_id(),
                budget_ms = budget.as_millis() as u64,
                "the resource handler was still running near the Lambda deadline; abandoned"
            );
            failed(
                format!(
                    "timed out before the Lambda deadline: the resource handler did not finish within {} ms",
                    budget.as_millis()
                ),
                None,
            )
        }
    }
}

enum HandlerFailure {
    Panicked,
    TimedOut(Duration),
}

async fn answer_malformed<S>(
    malformed: MalformedRequest,
    sender: &S,
    deadline: Option<Instant>,
    started: Instant,
) -> Result<(), Error>
where
    S: ResponseSender + ?Sized,
{
    let details = malformed.details();
    let request_type = details.raw_request_type.as_deref().unwrap_or("");
    let Some(url) = details.response_url.as_deref() else {
        tracing::error!(
            request_type,
            stack_id = %details.stack_id,
            request_id = %details.request_id,
            logical_resource_id = %details.logical_resource_id,
            problem = %details.problem,
            "custom resource event has no ResponseURL and cannot be answered"
        );
        return Err(Error::Unanswerable(details.problem.clone()));
    };

    // A Create (or something unrecognisable) gets the fallback id, so that the Delete
    // CloudFormation sends on rollback is recognised as having nothing to delete.
    let physical_id = match (&details.physical_resource_id, details.request_type) {
        (Some(id), Some(RequestType::Update | RequestType::Delete) | None) => id.clone(),
        _ => failed_create_id(&details.logical_resource_id, &details.request_id),
    };
    let response = Response {
        status: Status::Failed,
        reason: Some(format!("malformed request: {}", details.problem)),
        physical_resource_id: physical_id.clone(),
        stack_id: details.stack_id.clone(),
        request_id: details.request_id.clone(),
        logical_resource_id: details.logical_resource_id.clone(),
        no_echo: false,
        data: Map::new(),
    };
    let (response, body) = response.finalize(Some(url), &physical_id, false);
    let log = LogFields {
        request_type,
        stack_id: &details.stack_id,
        request_id: &details.request_id,
        logical_resource_id: &details.logical_resource_id,
    };
    let delivery = sender.send(url, &body, deadline).await;
    log.finish(&response, url, delivery, started)
}

struct LogFields<'a> {
    request_type: &'a str,
    stack_id: &'a str,
    request_id: &'a str,
    logical_resource_id: &'a str,
}

impl LogFields<'_> {
    /// The one log line per request. Data is never logged.
    fn finish(
        &self,
        response: &Response,
        url: &str,
        delivery: Result<Delivery, crate::SendError>,
        started: Instant,
    ) -> Result<(), Error> {
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let reason = response.reason.as_deref().unwrap_or("");
        match delivery {
            Ok(delivery) => {
                tracing::info!(
                    request_type = self.request_type,
                    stack_id = self.stack_id,
                    request_id = self.request_id,
                    logical_resource_id = self.logical_resource_id,
                    physical_resource_id = %response.physical_resource_id,
                    status = response.status.as_str(),
                    reason,
                    no_echo = response.no_echo,
                    data_keys = response.data.len(),
                    attempts = delivery.attempts,
                    http_status = delivery.status,
                    elapsed_ms,
                    "custom resource response delivered"
                );
                Ok(())
            }
            Err(error) => {
                tracing::error!(
                    request_type = self.request_type,
                    stack_id = self.stack_id,
                    request_id = self.request_id,
                    logical_resource_id = self.logical_resource_id,
                    physical_resource_id = %response.physical_resource_id,
                    status = response.status.as_str(),
                    reason,
                    attempts = error.attempts(),
                    url = %redact_url(url),
                    error = %sanitize(&error.to_string(), Some(url)),
                    elapsed_ms,
                    "custom resource response NOT delivered"
                );
                Err(Error::Delivery(error))
            }
        }
    }
}

/// The Lambda deadline (milliseconds since the epoch) as an `Instant`; `None` when the
/// context has none (0), as in a hand-built test context.
fn lambda_deadline(deadline_ms: u64) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    // Lambda sends epoch milliseconds. Local emulators (cargo lambda watch) send the timeout
    // itself, e.g. 600000: a value no epoch deadline of this century can have.
    const DAY_MS: u64 = 86_400_000;
    let left_ms = if deadline_ms + DAY_MS < now_ms {
        deadline_ms
    } else {
        deadline_ms.saturating_sub(now_ms)
    };
    Some(Instant::now() + Duration::from_millis(left_ms))
}

/// How long the handler may run: everything up to the deadline minus the margin, or half
/// of what is left when that is less than twice the margin.
fn handler_budget(deadline: Option<Instant>, margin: Duration) -> Option<Duration> {
    let left = deadline?.saturating_duration_since(Instant::now());
    let reserve = margin.min(left / 2);
    Some(left - reserve)
}

/// Replaces the panic hook with one that logs only where a panic happened, not its message.
///
/// The default hook prints the message, and messages of `unwrap`/`expect` often quote the
/// value involved, such as a secret being parsed. [`run`] installs it; call it yourself when
/// driving [`handle`] from your own `main`.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_else(|| "unknown".to_owned());
        let thread = std::thread::current();
        let thread = thread.name().unwrap_or("unnamed");
        let has_subscriber =
            tracing::dispatcher::get_default(|d| !d.is::<tracing::subscriber::NoSubscriber>());
        if has_subscriber {
            tracing::error!(location = %location, thread, "panic (message withheld)");
        } else {
            eprintln!("panic at {location} in thread {thread} (message withheld)");
        }
    }));
}

/// Runs `resource` as the Lambda function: installs the panic hook, builds an
/// [`HttpSender`](crate::HttpSender) and serves every invocation with [`handle_with_config`].
///
/// Set up a `tracing` subscriber before calling this.
pub async fn run<R>(resource: R, config: Config) -> Result<(), lambda_runtime::Error>
where
    R: CustomResource,
{
    install_panic_hook();
    let sender = crate::HttpSender::new()?;
    let (resource, sender, config) = (&resource, &sender, &config);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<Value>| async move {
            handle_with_config(resource, event, sender, config).await
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_in_epoch_ms_and_as_emulators_send_them() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let left = |d: Option<Instant>| d.unwrap().saturating_duration_since(Instant::now());
        let epoch = left(lambda_deadline(now_ms + 30_000));
        assert!(
            epoch > Duration::from_secs(29) && epoch <= Duration::from_secs(30),
            "{epoch:?}"
        );
        // cargo lambda watch sends the timeout, not a time.
        let relative = left(lambda_deadline(600_000));
        assert!(
            relative > Duration::from_secs(599) && relative <= Duration::from_secs(600),
            "{relative:?}"
        );
        // A real deadline just passed stays passed.
        assert_eq!(left(lambda_deadline(now_ms - 1_000)), Duration::ZERO);
        assert_eq!(lambda_deadline(0), None);
    }

    #[test]
    fn budget_reserves_margin_or_half() {
        let now = Instant::now();
        let margin = Duration::from_secs(10);
        let b = handler_budget(Some(now + Duration::from_secs(60)), margin).unwrap();
        assert!(
            b <= Duration::from_secs(50) && b > Duration::from_secs(49),
            "{b:?}"
        );
        let b = handler_budget(Some(now + Duration::from_secs(4)), margin).unwrap();
        assert!(
            b <= Duration::from_secs(2) && b > Duration::from_millis(1900),
            "{b:?}"
        );
        let b = handler_budget(Some(now - Duration::from_secs(1)), margin).unwrap();
        assert_eq!(b, Duration::ZERO);
        assert_eq!(handler_budget(None, margin), None);
    }

    #[test]
    fn failed_create_ids_are_deterministic_and_recognised() {
        let id = failed_create_id("Thing", "req-1");
        assert_eq!(id, "failed-create-Thing-req-1");
        assert_eq!(id, failed_create_id("Thing", "req-1"));
        assert!(is_failed_create_id(&id));
        assert!(!is_failed_create_id("arn:aws:iam::123:role/x"));
        assert_eq!(failed_create_id("", ""), "failed-create-unknown-unknown");
    }

    #[test]
    fn outcome_debug_hides_no_echo_data() {
        let o = Outcome::new("p")
            .with_data("Secret", "s3cr3t")
            .with_no_echo(true);
        let s = format!("{o:?}");
        assert!(s.contains("Secret") && !s.contains("s3cr3t"), "{s}");
    }
}
