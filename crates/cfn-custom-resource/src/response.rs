//! The response document and the limits CloudFormation puts on it.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::no_echo::debug_data;
use crate::redact::sanitize;
use crate::request::truncate_bytes;

/// CloudFormation rejects response bodies of 4,096 bytes or more; every body sent is
/// strictly below this.
pub const MAX_BODY_BYTES: usize = 4096;

/// Reasons are cut to this many bytes (keeping their start). Stack events show the Reason,
/// and the start of an error chain is the most useful part.
pub const MAX_REASON_BYTES: usize = 1000;

/// CloudFormation's documented limit for a PhysicalResourceId.
pub const MAX_PHYSICAL_ID_BYTES: usize = 1024;

/// `Status` of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Success,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "SUCCESS",
            Status::Failed => "FAILED",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The document PUT to the ResponseURL, with CloudFormation's field names.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    #[serde(default)]
    pub no_echo: bool,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, Value>,
}

// Data values are secrets when NoEcho is set; only their names are printed then.
impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Response");
        d.field("status", &self.status)
            .field("reason", &self.reason)
            .field("physical_resource_id", &self.physical_resource_id)
            .field("stack_id", &self.stack_id)
            .field("request_id", &self.request_id)
            .field("logical_resource_id", &self.logical_resource_id);
        debug_data(&mut d, self.no_echo, &self.data);
        d.finish()
    }
}

impl Response {
    /// Serialises the response.
    pub fn to_body(&self) -> Vec<u8> {
        // A struct of strings, bools and a JSON map always serialises.
        serde_json::to_vec(self).expect("response serialises to JSON")
    }

    /// Applies CloudFormation's limits and returns the final response with its body.
    ///
    /// * a FAILED response carries no Data and always a Reason;
    /// * the Reason is scrubbed of `url` and cut to [`MAX_REASON_BYTES`];
    /// * a physical id over [`MAX_PHYSICAL_ID_BYTES`] turns the answer into FAILED with
    ///   `failed_physical_id`;
    /// * a body that is still too large loses its Data: a SUCCESS becomes FAILED ("response
    ///   data too large") with `failed_physical_id`, unless `keep_success_without_data`
    ///   (a Delete, whose Data CloudFormation ignores anyway);
    /// * as a last resort the longest fields are cut until the body fits.
    pub(crate) fn finalize(
        mut self,
        url: Option<&str>,
        failed_physical_id: &str,
        keep_success_without_data: bool,
    ) -> (Response, Vec<u8>) {
        if self.physical_resource_id.len() > MAX_PHYSICAL_ID_BYTES {
            let reason = format!(
                "the physical resource id is {} bytes long; CloudFormation accepts at most {MAX_PHYSICAL_ID_BYTES}",
                self.physical_resource_id.len()
            );
            self.fail(reason, failed_physical_id);
        }
        if self.status == Status::Failed {
            self.data.clear();
            let reason = self.reason.take().filter(|r| !r.trim().is_empty());
            self.reason = Some(reason.unwrap_or_else(|| "unknown failure".to_owned()));
        }
        self.reason = self
            .reason
            .take()
            .map(|r| truncate_bytes(&sanitize(&r, url), MAX_REASON_BYTES));

        let body = self.to_body();
        if body.len() < MAX_BODY_BYTES {
            return (self, body);
        }

        if !self.data.is_empty() {
            let size = body.len();
            self.data.clear();
            if !(self.status == Status::Success && keep_success_without_data) {
                self.fail(
                    format!(
                        "response data too large: the response would be {size} bytes, CloudFormation accepts less than {MAX_BODY_BYTES}"
                    ),
                    failed_physical_id,
                );
            }
            let body = self.to_body();
            if body.len() < MAX_BODY_BYTES {
                return (self, body);
            }
        }

        self.shrink_to_fit()
    }

    fn fail(&mut self, reason: String, failed_physical_id: &str) {
        self.status = Status::Failed;
        self.reason = Some(reason);
        self.data.clear();
        self.physical_resource_id = failed_physical_id.to_owned();
    }

    /// Only reachable with ids that did not come from CloudFormation (which bounds them);
    /// it exists so that the size guarantee holds for any input.
    fn shrink_to_fit(mut self) -> (Response, Vec<u8>) {
        self.data.clear();
        loop {
            let body = self.to_body();
            if body.len() < MAX_BODY_BYTES {
                return (self, body);
            }
            let reason = self.reason.get_or_insert_with(String::new);
            let longest = [
                reason,
                &mut self.physical_resource_id,
                &mut self.stack_id,
                &mut self.request_id,
                &mut self.logical_resource_id,
            ]
            .into_iter()
            .max_by_key(|s| s.len())
            .expect("non-empty array");
            let half = longest.len() / 2;
            *longest = truncate_bytes(longest, half);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn success() -> Response {
        Response {
            status: Status::Success,
            reason: None,
            physical_resource_id: "phys".into(),
            stack_id: "stack".into(),
            request_id: "req".into(),
            logical_resource_id: "Logical".into(),
            no_echo: false,
            data: Map::new(),
        }
    }

    #[test]
    fn serialises_with_cloudformation_field_names() {
        let mut r = success();
        r.no_echo = true;
        r.data.insert("Arn".into(), json!("arn:x"));
        let v: Value = serde_json::from_slice(&r.to_body()).unwrap();
        assert_eq!(
            v,
            json!({
                "Status": "SUCCESS",
                "PhysicalResourceId": "phys",
                "StackId": "stack",
                "RequestId": "req",
                "LogicalResourceId": "Logical",
                "NoEcho": true,
                "Data": {"Arn": "arn:x"}
            })
        );
    }

    #[test]
    fn debug_hides_no_echo_data() {
        let mut r = success();
        r.no_echo = true;
        r.data.insert("Password".into(), json!("hunter2"));
        let s = format!("{r:?}");
        assert!(s.contains("Password") && !s.contains("hunter2"), "{s}");
    }

    #[test]
    fn failed_gets_reason_and_loses_data() {
        let mut r = success();
        r.status = Status::Failed;
        r.data.insert("k".into(), json!("v"));
        let (r, _) = r.finalize(None, "phys", false);
        assert_eq!(r.reason.as_deref(), Some("unknown failure"));
        assert!(r.data.is_empty());
    }

    #[test]
    fn long_reason_keeps_its_start() {
        let mut r = success();
        r.status = Status::Failed;
        r.reason = Some(format!("START {}", "é".repeat(5000)));
        let (r, body) = r.finalize(None, "phys", false);
        let reason = r.reason.unwrap();
        assert!(reason.starts_with("START é"));
        assert!(reason.ends_with("..."));
        assert!(reason.len() <= MAX_REASON_BYTES);
        assert!(body.len() < MAX_BODY_BYTES);
    }

    #[test]
    fn oversized_data_fails_create_and_update_but_not_delete() {
        let mut r = success();
        r.data.insert("Big".into(), json!("x".repeat(5000)));
        let (failed, body) = r.clone().finalize(None, "phys", false);
        assert_eq!(failed.status, Status::Failed);
        assert!(failed
            .reason
            .unwrap()
            .starts_with("response data too large"));
        assert!(failed.data.is_empty());
        assert!(body.len() < MAX_BODY_BYTES);

        let (kept, body) = r.finalize(None, "phys", true);
        assert_eq!(kept.status, Status::Success);
        assert!(kept.data.is_empty());
        assert!(body.len() < MAX_BODY_BYTES);
    }

    #[test]
    fn oversized_physical_id_fails_with_fallback() {
        let mut r = success();
        r.physical_resource_id = "p".repeat(MAX_PHYSICAL_ID_BYTES + 1);
        let (r, _) = r.finalize(None, "failed-create-X-req", false);
        assert_eq!(r.status, Status::Failed);
        assert_eq!(r.physical_resource_id, "failed-create-X-req");
    }

    #[test]
    fn body_always_fits_even_with_absurd_ids() {
        let mut r = success();
        r.stack_id = "\u{1}".repeat(3000); // escapes to 6 bytes each
        r.request_id = "r".repeat(3000);
        r.logical_resource_id = "l".repeat(3000);
        r.reason = Some("why".repeat(1000));
        r.status = Status::Failed;
        let (_, body) = r.finalize(None, "f", false);
        assert!(body.len() < MAX_BODY_BYTES, "{}", body.len());
        serde_json::from_slice::<Value>(&body).unwrap();
    }
}
