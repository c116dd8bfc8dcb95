//! The CloudFormation custom-resource protocol for Rust Lambdas.
//!
//! CloudFormation waits (up to an hour) for a response PUT to the presigned `ResponseURL` of
//! every custom resource request. This crate makes sure each request gets exactly one, even
//! when things go wrong:
//!
//! * the resource implements [`CustomResource`] (or passes a closure to [`resource_fn`]);
//!   `Ok(Outcome)` answers SUCCESS, `Err(ResourceError)` FAILED with its reason;
//! * a handler panic answers FAILED "internal error" (the panic message is never sent or,
//!   with [`install_panic_hook`], logged);
//! * a handler still running [`Config::deadline_margin`] before the Lambda deadline is
//!   cancelled and answered FAILED "timed out before the Lambda deadline";
//! * a malformed event with a `ResponseURL` is answered FAILED naming the problem; without
//!   one it cannot be answered and [`handle`] returns an error;
//! * the body is kept under CloudFormation's 4,096-byte limit (long reasons are cut, data
//!   that does not fit turns the answer into FAILED "response data too large");
//! * physical ids follow the protocol: FAILED Update/Delete and every Delete keep the
//!   request's id, and a failed Create without an id gets [`failed_create_id`], whose
//!   later Delete is answered SUCCESS without calling the resource;
//! * [`HttpSender`] PUTs with an empty `Content-Type` (what the presigned URL is signed
//!   for), retrying connection errors and 5xx with backoff;
//! * the `ResponseURL`'s query string (its signature) never reaches logs or the Reason
//!   ([`redact_url`]), and `Data` is never logged.
//!
//! The Lambda invocation result is `Ok` once a response was delivered and `Err` when
//! delivery finally failed.
//!
//! # Example
//!
//! ```no_run
//! use cfn_custom_resource::{Config, CustomResource, Outcome, Request, ResourceError};
//!
//! #[derive(serde::Deserialize)]
//! #[serde(rename_all = "PascalCase")]
//! struct Props {
//!     name: String,
//! }
//!
//! struct Thing;
//!
//! impl CustomResource for Thing {
//!     async fn create(&self, req: &Request) -> Result<Outcome, ResourceError> {
//!         let props: Props = req.properties()?;
//!         let id = make_thing(&props.name)
//!             .await
//!             .map_err(|e| ResourceError::from_error(&e))?;
//!         Ok(Outcome::new(id).with_data("Name", props.name))
//!     }
//!
//!     async fn update(&self, _req: &Request) -> Result<Outcome, ResourceError> {
//!         // An empty physical id keeps the current one.
//!         Ok(Outcome::default())
//!     }
//!
//!     async fn delete(&self, req: &Request) -> Result<Outcome, ResourceError> {
//!         // Deletes must be idempotent: CloudFormation may retry them.
//!         delete_thing(req.physical_resource_id().unwrap_or_default()).await;
//!         Ok(Outcome::default())
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     // Install a tracing subscriber here.
//!     cfn_custom_resource::run(Thing, Config::default()).await
//! }
//! # async fn make_thing(name: &str) -> Result<String, std::io::Error> { Ok(name.into()) }
//! # async fn delete_thing(_id: &str) {}
//! ```
//!
//! To keep control of `main` (shared clients, a custom sender or [`Config`]), call
//! [`handle`] yourself:
//!
//! ```no_run
//! # use cfn_custom_resource::{resource_fn, Outcome, Request};
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     cfn_custom_resource::install_panic_hook();
//!     let sender = cfn_custom_resource::HttpSender::new()?;
//!     let resource = resource_fn(|req: Request| async move {
//!         Ok(Outcome::new(format!("thing-{}", req.logical_resource_id())))
//!     });
//!     let (resource, sender) = (&resource, &sender);
//!     lambda_runtime::run(lambda_runtime::service_fn(move |event| async move {
//!         cfn_custom_resource::handle(resource, event, sender).await
//!     }))
//!     .await
//! }
//! ```

mod config;
mod deadline;
mod dispatch;
mod error_chain;
mod fn_resource;
mod guard;
mod log;
mod no_echo;
mod physical_id;
mod redact;
mod request;
mod resource;
mod response;
mod run;
mod sender;

pub use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;

pub use config::Config;
pub use dispatch::{handle, handle_with_config};
pub use fn_resource::{resource_fn, FnResource};
pub use guard::install_panic_hook;
pub use physical_id::{failed_create_id, is_failed_create_id};
pub use redact::redact_url;
pub use request::{MalformedRequest, Request, RequestType};
pub use resource::{CustomResource, Outcome, ResourceError};
pub use response::{Response, Status, MAX_BODY_BYTES, MAX_PHYSICAL_ID_BYTES, MAX_REASON_BYTES};
pub use run::run;
pub use sender::{
    Delivery, HttpSender, Recorded, RecordingSender, ResponseSender, RetryPolicy, SendError,
};

/// Why an invocation failed. None of the messages contain the ResponseURL's query string.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The event has no `ResponseURL`, so no response could be sent.
    #[error("custom resource event cannot be answered: {0}")]
    Unanswerable(String),
    /// A response was built but could not be delivered.
    #[error("custom resource response not delivered: {0}")]
    Delivery(#[from] SendError),
    /// [`HttpSender`] could not be set up.
    #[error("cannot set up the HTTPS client: {0}")]
    HttpClient(String),
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        let error_type = match &error {
            Error::Unanswerable(_) => "CustomResourceUnanswerable",
            Error::Delivery(_) => "CustomResourceDeliveryFailed",
            Error::HttpClient(_) => "CustomResourceHttpClient",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}
