#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

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
