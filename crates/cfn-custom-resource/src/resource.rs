//! What a resource implements and what its handlers answer with.

use std::fmt;
use std::future::Future;

use serde_json::{Map, Value};

use crate::error_chain::error_chain;
use crate::no_echo::debug_data;
use crate::request::Request;

/// A custom resource: one method per request type.
///
/// Implementations may use `async fn`; the futures must be `Send`. An `Err` becomes a
/// FAILED response with its reason, a panic a FAILED "internal error", and a handler still
/// running shortly before the Lambda deadline is dropped and answered FAILED.
///
/// A Delete whose physical id is one [`handle`](crate::handle) made up for a failed Create
/// (see [`is_failed_create_id`](crate::is_failed_create_id)) is answered SUCCESS without
/// calling [`CustomResource::delete`]: nothing was created.
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
        d.field("physical_resource_id", &self.physical_resource_id);
        debug_data(&mut d, self.no_echo, &self.data);
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
    /// [`failed_create_id`](crate::failed_create_id)).
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
        Self::new(error_chain(err))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_debug_hides_no_echo_data() {
        let o = Outcome::new("p")
            .with_data("Secret", "s3cr3t")
            .with_no_echo(true);
        let s = format!("{o:?}");
        assert!(s.contains("Secret") && !s.contains("s3cr3t"), "{s}");
    }

    #[test]
    fn from_error_keeps_the_whole_chain() {
        let err = std::io::Error::other(std::io::Error::other("no route to host"));
        let reason = ResourceError::from_error(&err).reason;
        assert!(reason.ends_with("no route to host"), "{reason}");
    }
}
