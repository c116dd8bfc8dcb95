//! Which PhysicalResourceId an answer carries.
//!
//! CloudFormation identifies a resource by the physical id of the last successful answer,
//! and every later request for it quotes that id. Answering with the wrong one either
//! orphans a real resource (its Delete never comes) or makes CloudFormation replace one
//! that did not change. All of those decisions are made by [`answer`].

use serde_json::{Map, Value};

use crate::request::RequestType;
use crate::resource::{Outcome, ResourceError};
use crate::response::MAX_PHYSICAL_ID_BYTES;

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

/// What a request says about the resource's identity, well-formed or not.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Addressed<'a> {
    /// `None` when the event's RequestType was missing or unknown.
    pub(crate) request_type: Option<RequestType>,
    /// The id CloudFormation knows the resource by (`None` for Create, or when missing).
    pub(crate) physical_resource_id: Option<&'a str>,
    pub(crate) logical_resource_id: &'a str,
    pub(crate) request_id: &'a str,
}

/// What to answer, as far as status and physical id go.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Answer {
    /// SUCCESS with `id`. Should the answer still have to become FAILED (its data does not
    /// fit), it carries `if_failed` instead.
    Success {
        id: String,
        if_failed: String,
        no_echo: bool,
        data: Map<String, Value>,
    },
    /// FAILED with `reason` and `id`.
    Failed { reason: String, id: String },
}

/// What answers `request` when its handling ended with `result` (a panic, a timeout or a
/// malformed event count as an `Err` without an id).
///
/// * SUCCESS: a Create answers with the handler's id; an Update with the handler's id, or
///   the request's when the handler gave none; a Delete always with the request's. A
///   success without any id is FAILED: CloudFormation would have nothing to name.
/// * FAILED: Update and Delete keep the request's id (CloudFormation still knows the
///   resource by it); a Create uses the id the error offers, if usable, and otherwise
///   [`failed_create_id`], so that the Delete sent on rollback is recognised as having
///   nothing to delete. A malformed event without a usable id is treated like a Create.
pub(crate) fn answer(request: &Addressed<'_>, result: Result<Outcome, ResourceError>) -> Answer {
    let fallback = || failed_create_id(request.logical_resource_id, request.request_id);
    let requests_own = || request.physical_resource_id.unwrap_or_default().to_owned();
    let usable = |id: &str| !id.is_empty() && id.len() <= MAX_PHYSICAL_ID_BYTES;
    let failed = |reason: String, offered: Option<&str>| {
        let id = match (request.request_type, request.physical_resource_id) {
            (Some(RequestType::Create), _) => offered
                .filter(|id| usable(id))
                .map_or_else(fallback, str::to_owned),
            (_, Some(id)) if !id.is_empty() => id.to_owned(),
            _ => fallback(),
        };
        Answer::Failed { reason, id }
    };

    let outcome = match result {
        Ok(outcome) => outcome,
        Err(error) => return failed(error.reason, error.physical_resource_id.as_deref()),
    };
    let given = outcome.physical_resource_id;
    let id = match request.request_type {
        Some(RequestType::Create) => given,
        Some(RequestType::Update) if !given.is_empty() => given,
        Some(RequestType::Update | RequestType::Delete) | None => requests_own(),
    };
    if id.is_empty() {
        let reason = "the resource handler returned an empty physical resource id";
        return failed(reason.to_owned(), None);
    }
    // A created resource keeps its id even when the answer turns FAILED, so that the
    // Delete CloudFormation sends next can remove it.
    let if_failed = match request.request_type {
        Some(RequestType::Create) if usable(&id) => id.clone(),
        Some(RequestType::Create) => fallback(),
        _ => requests_own(),
    };
    Answer::Success {
        id,
        if_failed,
        no_echo: outcome.no_echo,
        data: outcome.data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addressed(request_type: Option<RequestType>, physical: Option<&str>) -> Addressed<'_> {
        Addressed {
            request_type,
            physical_resource_id: physical,
            logical_resource_id: "Thing",
            request_id: "req-1",
        }
    }

    const FALLBACK: &str = "failed-create-Thing-req-1";
    const CREATE: Option<RequestType> = Some(RequestType::Create);
    const UPDATE: Option<RequestType> = Some(RequestType::Update);
    const DELETE: Option<RequestType> = Some(RequestType::Delete);

    /// The id answered and, for a success, the one it would fail with.
    fn ids(request: &Addressed<'_>, result: Result<Outcome, ResourceError>) -> (String, String) {
        match answer(request, result) {
            Answer::Success { id, if_failed, .. } => (id, if_failed),
            Answer::Failed { id, .. } => (id, "FAILED".to_owned()),
        }
    }

    fn ok(id: &str) -> Result<Outcome, ResourceError> {
        Ok(Outcome::new(id))
    }

    fn err(id: Option<&str>) -> Result<Outcome, ResourceError> {
        let error = ResourceError::new("no");
        Err(match id {
            Some(id) => error.with_physical_resource_id(id),
            None => error,
        })
    }

    fn success(id: &str, if_failed: &str) -> (String, String) {
        (id.to_owned(), if_failed.to_owned())
    }

    fn failed(id: &str) -> (String, String) {
        (id.to_owned(), "FAILED".to_owned())
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
    fn success_keeps_data_and_no_echo() {
        let outcome = Outcome::new("p").with_data("K", "v").with_no_echo(true);
        let Answer::Success { no_echo, data, .. } = answer(&addressed(CREATE, None), Ok(outcome))
        else {
            panic!("not a success");
        };
        assert!(no_echo);
        assert_eq!(data.get("K"), Some(&Value::from("v")));
    }

    #[test]
    fn create_answers_with_the_handlers_id() {
        let create = addressed(CREATE, None);
        assert_eq!(ids(&create, ok("new")), success("new", "new"));
        // Too long for CloudFormation: the answer will fail, with an id it accepts.
        let long = "p".repeat(MAX_PHYSICAL_ID_BYTES + 1);
        assert_eq!(ids(&create, ok(&long)), success(&long, FALLBACK));
    }

    #[test]
    fn a_success_without_an_id_is_failed() {
        let reason = "the resource handler returned an empty physical resource id".to_owned();
        let expected = Answer::Failed {
            reason,
            id: FALLBACK.to_owned(),
        };
        assert_eq!(answer(&addressed(CREATE, None), ok("")), expected);
    }

    #[test]
    fn failed_create_uses_a_usable_offered_id_or_the_fallback() {
        let create = addressed(CREATE, None);
        assert_eq!(ids(&create, err(Some("half"))), failed("half"));
        assert_eq!(ids(&create, err(None)), failed(FALLBACK));
        assert_eq!(ids(&create, err(Some(""))), failed(FALLBACK));
        let long = "p".repeat(MAX_PHYSICAL_ID_BYTES + 1);
        assert_eq!(ids(&create, err(Some(&long))), failed(FALLBACK));
    }

    #[test]
    fn update_keeps_the_id_unless_the_handler_replaces_it() {
        let update = addressed(UPDATE, Some("old"));
        assert_eq!(ids(&update, ok("")), success("old", "old"));
        assert_eq!(ids(&update, ok("new")), success("new", "old"));
        assert_eq!(ids(&update, err(Some("other"))), failed("old"));
    }

    #[test]
    fn delete_always_answers_with_the_requests_id() {
        let delete = addressed(DELETE, Some("old"));
        assert_eq!(ids(&delete, ok("ignored")), success("old", "old"));
        assert_eq!(ids(&delete, ok("")), success("old", "old"));
        assert_eq!(ids(&delete, err(Some("other"))), failed("old"));
    }

    #[test]
    fn malformed_events_keep_a_known_id_or_get_the_fallback() {
        assert_eq!(ids(&addressed(None, Some("old")), err(None)), failed("old"));
        assert_eq!(ids(&addressed(None, None), err(None)), failed(FALLBACK));
        // A Create's PhysicalResourceId is not CloudFormation's: it is never echoed.
        assert_eq!(
            ids(&addressed(CREATE, Some("sent")), err(None)),
            failed(FALLBACK)
        );
        assert_eq!(ids(&addressed(UPDATE, None), err(None)), failed(FALLBACK));
    }
}
