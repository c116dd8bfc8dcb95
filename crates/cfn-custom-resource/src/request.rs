//! Turning the raw Lambda event into a typed request, or into a precise complaint.

use std::fmt;

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::redact::{redact_url, sanitize};
use crate::ResourceError;

/// The kind of stack operation a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

impl RequestType {
    /// The name CloudFormation uses in the `RequestType` field.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Create => "Create",
            RequestType::Update => "Update",
            RequestType::Delete => "Delete",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "Create" => Some(RequestType::Create),
            "Update" => Some(RequestType::Update),
            "Delete" => Some(RequestType::Delete),
            _ => None,
        }
    }
}

impl fmt::Display for RequestType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A well-formed custom resource request.
///
/// Resource properties stay untyped (`serde_json::Value`): each resource parses its own, with
/// [`Request::properties`] / [`Request::old_properties`], so that a property error becomes a
/// FAILED answer naming the problem instead of an unanswerable event.
///
/// The `ResponseURL` is deliberately not reachable from here (it is blanked in
/// [`Request::inner`]): only this crate answers, exactly once, so a handler (or a task it
/// left running) has no way to send a second response.
#[derive(Clone)]
pub struct Request {
    inner: CloudFormationCustomResourceRequest<Value, Value>,
    request_type: RequestType,
    response_url: String,
}

impl Request {
    /// Parses a raw Lambda event.
    ///
    /// On failure the error still carries what is needed to answer FAILED when the event
    /// has a `ResponseURL`.
    pub fn from_value(event: Value) -> Result<Self, MalformedRequest> {
        let Value::Object(fields) = event else {
            return Err(MalformedRequest::unanswerable(format!(
                "the event is not a JSON object but {}",
                json_kind(&event)
            )));
        };
        let mut malformed = MalformedRequest::from_fields(&fields);
        let url = malformed.0.response_url.clone();

        let request_type = match fields.get("RequestType") {
            None => return Err(malformed.with_problem("missing RequestType")),
            Some(Value::String(s)) => match RequestType::parse(s) {
                Some(t) => t,
                None => {
                    let shown = truncate_bytes(&sanitize(s, url.as_deref()), 64);
                    return Err(malformed.with_problem(format!(
                        "unknown RequestType {shown:?} (expected Create, Update or Delete)"
                    )));
                }
            },
            Some(other) => {
                return Err(malformed.with_problem(format!(
                    "RequestType is {} instead of a string",
                    json_kind(other)
                )))
            }
        };
        malformed.0.request_type = Some(request_type);

        match fields.get("ResponseURL") {
            Some(Value::String(u)) if is_answerable_url(u) => {}
            Some(Value::String(u)) if u.is_empty() => {
                return Err(malformed.with_problem("empty ResponseURL"))
            }
            Some(Value::String(_)) => {
                return Err(malformed.with_problem(
                    "ResponseURL is not an http(s) URL with a host, so no answer can be sent",
                ))
            }
            Some(_) => return Err(malformed.with_problem("ResponseURL is not a string")),
            None => return Err(malformed.with_problem("missing ResponseURL")),
        }

        // These are echoed back in the response and CloudFormation matches on them, so they
        // are checked here with a clearer message than serde's.
        let mut required = vec!["RequestId", "StackId", "LogicalResourceId"];
        if request_type != RequestType::Create {
            required.push("PhysicalResourceId");
        }
        if let Some(problem) = required
            .into_iter()
            .find_map(|name| required_field_problem(&fields, name))
        {
            return Err(malformed.with_problem(problem));
        }

        let mut inner: CloudFormationCustomResourceRequest<Value, Value> =
            match serde_json::from_value(Value::Object(fields)) {
                Ok(inner) => inner,
                Err(e) => {
                    let problem = sanitize(&e.to_string(), url.as_deref());
                    return Err(malformed.with_problem(problem));
                }
            };
        let response_url = match &mut inner {
            CloudFormationCustomResourceRequest::Create(r) => std::mem::take(&mut r.response_url),
            CloudFormationCustomResourceRequest::Update(r) => std::mem::take(&mut r.response_url),
            CloudFormationCustomResourceRequest::Delete(r) => std::mem::take(&mut r.response_url),
            // The type is non-exhaustive; RequestType was already checked above.
            _ => return Err(malformed.with_problem("unsupported RequestType")),
        };
        Ok(Request {
            inner,
            request_type,
            response_url,
        })
    }

    pub fn request_type(&self) -> RequestType {
        self.request_type
    }

    pub fn request_id(&self) -> &str {
        self.common().request_id
    }

    pub fn stack_id(&self) -> &str {
        self.common().stack_id
    }

    pub fn logical_resource_id(&self) -> &str {
        self.common().logical_resource_id
    }

    pub fn resource_type(&self) -> &str {
        self.common().resource_type
    }

    /// The physical id CloudFormation knows the resource by; `None` for Create.
    pub fn physical_resource_id(&self) -> Option<&str> {
        self.common().physical_resource_id
    }

    /// The `ResourceProperties` exactly as received (they include `ServiceToken`).
    pub fn resource_properties(&self) -> &Value {
        self.common().resource_properties
    }

    /// The previous properties; only Update requests have them.
    pub fn old_resource_properties(&self) -> Option<&Value> {
        match &self.inner {
            CloudFormationCustomResourceRequest::Update(r) => Some(&r.old_resource_properties),
            _ => None,
        }
    }

    /// Deserialises `ResourceProperties` into the resource's own type.
    ///
    /// The error is ready to be returned from a handler. String values quoted by serde are
    /// elided from it: the Reason is shown in stack events, and a property may be a secret.
    pub fn properties<T: DeserializeOwned>(&self) -> Result<T, ResourceError> {
        parse_properties(self.resource_properties(), "ResourceProperties")
    }

    /// Deserialises `OldResourceProperties`; `None` unless this is an Update.
    pub fn old_properties<T: DeserializeOwned>(&self) -> Option<Result<T, ResourceError>> {
        self.old_resource_properties()
            .map(|v| parse_properties(v, "OldResourceProperties"))
    }

    /// The parsed request from `aws_lambda_events`. Its `response_url` is empty (see the
    /// type-level docs).
    pub fn inner(&self) -> &CloudFormationCustomResourceRequest<Value, Value> {
        &self.inner
    }

    pub(crate) fn response_url(&self) -> &str {
        &self.response_url
    }

    fn common(&self) -> Common<'_> {
        match &self.inner {
            CloudFormationCustomResourceRequest::Create(r) => Common {
                request_id: &r.request_id,
                stack_id: &r.stack_id,
                logical_resource_id: &r.logical_resource_id,
                resource_type: &r.resource_type,
                physical_resource_id: None,
                resource_properties: &r.resource_properties,
            },
            CloudFormationCustomResourceRequest::Update(r) => Common {
                request_id: &r.request_id,
                stack_id: &r.stack_id,
                logical_resource_id: &r.logical_resource_id,
                resource_type: &r.resource_type,
                physical_resource_id: Some(&r.physical_resource_id),
                resource_properties: &r.resource_properties,
            },
            CloudFormationCustomResourceRequest::Delete(r) => Common {
                request_id: &r.request_id,
                stack_id: &r.stack_id,
                logical_resource_id: &r.logical_resource_id,
                resource_type: &r.resource_type,
                physical_resource_id: Some(&r.physical_resource_id),
                resource_properties: &r.resource_properties,
            },
            // `from_value` only ever builds the three variants above.
            _ => unreachable!("Request holds only Create, Update or Delete"),
        }
    }
}

// Properties can hold secrets, so they are left out; the URL is shown redacted.
impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("request_type", &self.request_type)
            .field("request_id", &self.request_id())
            .field("stack_id", &self.stack_id())
            .field("logical_resource_id", &self.logical_resource_id())
            .field("physical_resource_id", &self.physical_resource_id())
            .field("resource_type", &self.resource_type())
            .field("response_url", &redact_url(&self.response_url))
            .finish_non_exhaustive()
    }
}

struct Common<'a> {
    request_id: &'a str,
    stack_id: &'a str,
    logical_resource_id: &'a str,
    resource_type: &'a str,
    physical_resource_id: Option<&'a str>,
    resource_properties: &'a Value,
}

/// What is wrong with the required string field `name`, if anything.
fn required_field_problem(fields: &Map<String, Value>, name: &str) -> Option<String> {
    match fields.get(name) {
        Some(Value::String(s)) if !s.is_empty() => None,
        Some(Value::String(_)) => Some(format!("empty {name}")),
        Some(other) => Some(format!(
            "{name} is {} instead of a string",
            json_kind(other)
        )),
        None => Some(format!("missing {name}")),
    }
}

fn parse_properties<T: DeserializeOwned>(value: &Value, what: &str) -> Result<T, ResourceError> {
    T::deserialize(value).map_err(|e| {
        ResourceError::new(format!("invalid {what}: {}", elide_quoted(&e.to_string())))
    })
}

/// Replaces double-quoted runs (how serde_json quotes offending string values) with `"…"`.
/// Field names are quoted with backticks by serde and survive.
fn elide_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut parts = message.split('"');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    let mut inside = true;
    for part in parts {
        if inside {
            out.push_str("\"…\"");
        } else {
            out.push_str(part);
        }
        inside = !inside;
    }
    out
}

/// Why an event could not be parsed, plus what is needed to answer it anyway.
#[derive(Clone)]
pub struct MalformedRequest(Box<MalformedDetails>);

/// Boxed so that `Result<Request, MalformedRequest>` stays small.
#[derive(Clone)]
pub(crate) struct MalformedDetails {
    pub(crate) problem: String,
    pub(crate) response_url: Option<String>,
    pub(crate) request_type: Option<RequestType>,
    /// The raw RequestType, kept for logging whatever was received.
    pub(crate) raw_request_type: Option<String>,
    pub(crate) request_id: String,
    pub(crate) stack_id: String,
    pub(crate) logical_resource_id: String,
    pub(crate) physical_resource_id: Option<String>,
}

impl MalformedRequest {
    fn unanswerable(problem: String) -> Self {
        MalformedRequest(Box::new(MalformedDetails {
            problem,
            response_url: None,
            request_type: None,
            raw_request_type: None,
            request_id: String::new(),
            stack_id: String::new(),
            logical_resource_id: String::new(),
            physical_resource_id: None,
        }))
    }

    fn from_fields(fields: &Map<String, Value>) -> Self {
        let string = |name: &str| match fields.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        MalformedRequest(Box::new(MalformedDetails {
            problem: String::new(),
            // Only a URL an answer can be PUT to makes the request answerable: anything else
            // must be refused before the resource does any work it could never report.
            response_url: string("ResponseURL").filter(|u| is_answerable_url(u)),
            request_type: None,
            raw_request_type: string("RequestType"),
            request_id: string("RequestId").unwrap_or_default(),
            stack_id: string("StackId").unwrap_or_default(),
            logical_resource_id: string("LogicalResourceId").unwrap_or_default(),
            physical_resource_id: string("PhysicalResourceId").filter(|p| !p.is_empty()),
        }))
    }

    fn with_problem(mut self, problem: impl Into<String>) -> Self {
        self.0.problem = problem.into();
        self
    }

    pub(crate) fn details(&self) -> &MalformedDetails {
        &self.0
    }

    /// What is wrong with the event (never contains the ResponseURL).
    pub fn problem(&self) -> &str {
        &self.0.problem
    }

    /// Whether the event carries a `ResponseURL`, so that a FAILED response can be sent.
    pub fn can_be_answered(&self) -> bool {
        self.0.response_url.is_some()
    }
}

impl fmt::Debug for MalformedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        f.debug_struct("MalformedRequest")
            .field("problem", &d.problem)
            .field("response_url", &d.response_url.as_deref().map(redact_url))
            .field("request_type", &d.raw_request_type)
            .field("request_id", &d.request_id)
            .field("stack_id", &d.stack_id)
            .field("logical_resource_id", &d.logical_resource_id)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for MalformedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed custom resource request: {}", self.0.problem)
    }
}

impl std::error::Error for MalformedRequest {}

/// Whether `url` is an absolute `http`/`https` URL with a host: the only kind a response
/// can be delivered to.
pub(crate) fn is_answerable_url(url: &str) -> bool {
    match url.parse::<http::Uri>() {
        Ok(uri) => {
            matches!(uri.scheme_str(), Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"))
                && uri.host().is_some_and(|h| !h.is_empty())
        }
        Err(_) => false,
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Cuts `s` to at most `max` bytes at a char boundary, marking the cut with "...".
pub(crate) fn truncate_bytes(s: &str, max: usize) -> String {
    const ELLIPSIS: &str = "...";
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max.saturating_sub(ELLIPSIS.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ELLIPSIS}", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create_event() -> Value {
        json!({
            "RequestType": "Create",
            "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:f",
            "ResponseURL": "https://example.com/r?X-Amz-Signature=abcdef0123",
            "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/s/1",
            "RequestId": "req-1",
            "LogicalResourceId": "Thing",
            "ResourceType": "Custom::Thing",
            "ResourceProperties": {"ServiceToken": "x", "Name": "n", "Count": "3"}
        })
    }

    #[test]
    fn parses_create_and_hides_response_url() {
        let req = Request::from_value(create_event()).unwrap();
        assert_eq!(req.request_type(), RequestType::Create);
        assert_eq!(req.request_id(), "req-1");
        assert_eq!(req.logical_resource_id(), "Thing");
        assert_eq!(req.physical_resource_id(), None);
        assert_eq!(req.resource_properties()["Name"], "n");
        assert_eq!(
            req.response_url(),
            "https://example.com/r?X-Amz-Signature=abcdef0123"
        );
        match req.inner() {
            CloudFormationCustomResourceRequest::Create(r) => assert!(r.response_url.is_empty()),
            _ => panic!("expected Create"),
        }
        let debug = format!("{req:?}");
        assert!(!debug.contains("abcdef0123"), "{debug}");
    }

    #[test]
    fn parses_update_with_old_properties() {
        let mut e = create_event();
        e["RequestType"] = json!("Update");
        e["PhysicalResourceId"] = json!("phys-1");
        e["OldResourceProperties"] = json!({"Name": "old"});
        let req = Request::from_value(e).unwrap();
        assert_eq!(req.request_type(), RequestType::Update);
        assert_eq!(req.physical_resource_id(), Some("phys-1"));
        assert_eq!(req.old_resource_properties().unwrap()["Name"], "old");
    }

    #[test]
    fn malformed_events_name_the_problem() {
        let e = Request::from_value(json!([1, 2])).unwrap_err();
        assert!(!e.can_be_answered());
        assert!(e.problem().contains("not a JSON object"), "{e}");

        let mut ev = create_event();
        ev.as_object_mut().unwrap().remove("RequestType");
        let e = Request::from_value(ev).unwrap_err();
        assert!(e.can_be_answered());
        assert_eq!(e.problem(), "missing RequestType");

        let mut ev = create_event();
        ev["RequestType"] = json!("Explode");
        let e = Request::from_value(ev).unwrap_err();
        assert!(
            e.problem().contains("unknown RequestType \"Explode\""),
            "{e}"
        );

        let mut ev = create_event();
        ev["RequestType"] = json!("Delete");
        let e = Request::from_value(ev).unwrap_err();
        assert_eq!(e.problem(), "missing PhysicalResourceId");
        assert_eq!(e.details().request_type, Some(RequestType::Delete));

        let mut ev = create_event();
        ev["StackId"] = json!(7);
        let e = Request::from_value(ev).unwrap_err();
        assert_eq!(e.problem(), "StackId is a number instead of a string");

        let mut ev = create_event();
        ev["ResourceType"] = json!(false);
        let e = Request::from_value(ev).unwrap_err();
        assert!(e.problem().contains("invalid type"), "{e}");

        let mut ev = create_event();
        ev.as_object_mut().unwrap().remove("ResponseURL");
        let e = Request::from_value(ev).unwrap_err();
        assert!(!e.can_be_answered());
        assert_eq!(e.problem(), "missing ResponseURL");
    }

    #[test]
    fn a_response_url_nobody_can_answer_makes_the_request_unanswerable() {
        for url in [
            "ftp://bucket.example.com/r?X-Amz-Signature=abcdef0123",
            "not a url at all",
            "s3://bucket/key",
            "https://",
            "/relative/path?sig=1",
            "http:/one-slash",
            "ééé://x",
        ] {
            let mut ev = create_event();
            ev["ResponseURL"] = json!(url);
            let e = Request::from_value(ev).unwrap_err();
            assert!(!e.can_be_answered(), "{url} must not be answerable");
            assert!(
                e.problem().contains("ResponseURL is not an http(s) URL"),
                "{url}: {e}"
            );
            assert!(!e.problem().contains("abcdef0123"), "{e}");
        }
        for url in [
            "https://b.s3.amazonaws.com/p?q=1",
            "HTTP://127.0.0.1:8080/x",
        ] {
            let mut ev = create_event();
            ev["ResponseURL"] = json!(url);
            assert!(Request::from_value(ev).is_ok(), "{url} is answerable");
        }
        // A missing RequestType with a bad URL: still unanswerable.
        let mut ev = create_event();
        ev["ResponseURL"] = json!("ftp://x/y");
        ev.as_object_mut().unwrap().remove("RequestType");
        assert!(!Request::from_value(ev).unwrap_err().can_be_answered());
    }

    #[test]
    fn property_errors_elide_values() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(rename_all = "PascalCase")]
        #[allow(dead_code)]
        struct Props {
            name: String,
            count: u32,
        }
        let req = Request::from_value(create_event()).unwrap();
        let err = req.properties::<Props>().unwrap_err();
        assert!(
            err.reason.starts_with("invalid ResourceProperties"),
            "{err}"
        );
        assert!(!err.reason.contains("\"3\""), "{err}");
    }

    #[test]
    fn truncate_bytes_respects_char_boundaries() {
        assert_eq!(truncate_bytes("hello", 10), "hello");
        assert_eq!(truncate_bytes("hello world", 8), "hello...");
        let s = "ééééé"; // 10 bytes
        let t = truncate_bytes(s, 8);
        assert!(
            t.len() <= 8 && t.starts_with("éé") && t.ends_with("..."),
            "{t}"
        );
    }
}
