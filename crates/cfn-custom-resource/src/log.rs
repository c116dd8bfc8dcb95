//! The one log line written per request.

use tokio::time::Instant;

use crate::redact::{redact_url, sanitize};
use crate::response::Response;
use crate::sender::{Delivery, SendError};
use crate::Error;

/// What identifies a request in its log line, taken from a parsed request or from whatever
/// a malformed event had.
pub(crate) struct LogFields<'a> {
    pub(crate) request_type: &'a str,
    pub(crate) stack_id: &'a str,
    pub(crate) request_id: &'a str,
    pub(crate) logical_resource_id: &'a str,
}

impl LogFields<'_> {
    /// Logs how answering ended and turns a failed delivery into the invocation's error.
    ///
    /// Data is never logged (only how many keys it had), and the URL only redacted: its
    /// query string is the presigned signature.
    pub(crate) fn finish(
        &self,
        response: &Response,
        url: &str,
        delivery: Result<Delivery, SendError>,
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
