//! Answering one event: parse it, run the right handler, send exactly one response.

use lambda_runtime::LambdaEvent;
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::config::Config;
use crate::deadline::{handler_budget, lambda_deadline};
use crate::guard::contain;
use crate::log::LogFields;
use crate::physical_id::{answer, is_failed_create_id, Addressed, Answer};
use crate::request::{MalformedRequest, Request, RequestType};
use crate::resource::{CustomResource, Outcome, ResourceError};
use crate::response::{Response, Status};
use crate::sender::ResponseSender;
use crate::Error;

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
        Err(malformed) => return answer_malformed(&malformed, sender, deadline, started).await,
    };

    let result = run_handler(resource, &request, deadline, config).await;
    let addressed = Addressed {
        request_type: Some(request.request_type()),
        physical_resource_id: request.physical_resource_id(),
        logical_resource_id: request.logical_resource_id(),
        request_id: request.request_id(),
    };
    let reply = Reply {
        url: request.response_url(),
        answer: answer(&addressed, result),
        log: LogFields {
            request_type: request.request_type().as_str(),
            stack_id: request.stack_id(),
            request_id: request.request_id(),
            logical_resource_id: request.logical_resource_id(),
        },
        keep_success_without_data: request.request_type() == RequestType::Delete,
    };
    reply.send(sender, deadline, started).await
}

/// Runs the handler for `request`, containing its errors, panics and overruns.
async fn run_handler<R>(
    resource: &R,
    request: &Request,
    deadline: Option<Instant>,
    config: &Config,
) -> Result<Outcome, ResourceError>
where
    R: CustomResource + ?Sized,
{
    let request_type = request.request_type();
    if let Some(id) = request.physical_resource_id() {
        if request_type == RequestType::Delete && is_failed_create_id(id) {
            tracing::info!(
                physical_resource_id = %id,
                "Delete of a resource whose Create failed: nothing to delete"
            );
            // Answered with the request's id, like every Delete.
            return Ok(Outcome::default());
        }
    }

    let work = async {
        match request_type {
            RequestType::Create => resource.create(request).await,
            RequestType::Update => resource.update(request).await,
            RequestType::Delete => resource.delete(request).await,
        }
    };
    match contain(work, handler_budget(deadline, config.deadline_margin)).await {
        Ok(result) => result,
        Err(failure) => Err(failure.into_error(request)),
    }
}

/// Answers FAILED naming what is wrong with the event, when it has a `ResponseURL`.
async fn answer_malformed<S>(
    malformed: &MalformedRequest,
    sender: &S,
    deadline: Option<Instant>,
    started: Instant,
) -> Result<(), Error>
where
    S: ResponseSender + ?Sized,
{
    let details = malformed.details();
    let log = LogFields {
        request_type: details.raw_request_type.as_deref().unwrap_or(""),
        stack_id: &details.stack_id,
        request_id: &details.request_id,
        logical_resource_id: &details.logical_resource_id,
    };
    let Some(url) = details.response_url.as_deref() else {
        tracing::error!(
            request_type = log.request_type,
            stack_id = %details.stack_id,
            request_id = %details.request_id,
            logical_resource_id = %details.logical_resource_id,
            problem = %details.problem,
            "custom resource event has no ResponseURL and cannot be answered"
        );
        return Err(Error::Unanswerable(details.problem.clone()));
    };

    let addressed = Addressed {
        request_type: details.request_type,
        physical_resource_id: details.physical_resource_id.as_deref(),
        logical_resource_id: &details.logical_resource_id,
        request_id: &details.request_id,
    };
    let problem = ResourceError::new(format!("malformed request: {}", details.problem));
    let reply = Reply {
        url,
        answer: answer(&addressed, Err(problem)),
        log,
        keep_success_without_data: false,
    };
    reply.send(sender, deadline, started).await
}

/// A decided answer on its way to the ResponseURL.
struct Reply<'a> {
    url: &'a str,
    answer: Answer,
    /// The request's identity, echoed in the response and shown in the log line.
    log: LogFields<'a>,
    /// CloudFormation ignores a Delete's Data, so data too large for the body is dropped
    /// rather than failing a Delete that did its work.
    keep_success_without_data: bool,
}

impl Reply<'_> {
    /// Builds the response within CloudFormation's limits, sends it and logs the result.
    async fn send<S>(
        self,
        sender: &S,
        deadline: Option<Instant>,
        started: Instant,
    ) -> Result<(), Error>
    where
        S: ResponseSender + ?Sized,
    {
        let (response, if_failed) = response(self.answer, &self.log);
        let (response, body) =
            response.finalize(Some(self.url), &if_failed, self.keep_success_without_data);
        let delivery = sender.send(self.url, &body, deadline).await;
        self.log.finish(&response, self.url, delivery, started)
    }
}

/// The response document for `answer`, and the physical id it takes should it still have
/// to turn FAILED.
fn response(answer: Answer, ids: &LogFields<'_>) -> (Response, String) {
    let base = Response {
        status: Status::Success,
        reason: None,
        physical_resource_id: String::new(),
        stack_id: ids.stack_id.to_owned(),
        request_id: ids.request_id.to_owned(),
        logical_resource_id: ids.logical_resource_id.to_owned(),
        no_echo: false,
        data: Map::new(),
    };
    match answer {
        Answer::Success {
            id,
            if_failed,
            no_echo,
            data,
        } => {
            let response = Response {
                physical_resource_id: id,
                no_echo,
                data,
                ..base
            };
            (response, if_failed)
        }
        Answer::Failed { reason, id } => {
            let response = Response {
                status: Status::Failed,
                reason: Some(reason),
                physical_resource_id: id.clone(),
                ..base
            };
            (response, id)
        }
    }
}
