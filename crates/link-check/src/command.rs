//! What an invocation is asked to do: a console command (`Verify`, `Audit`, `Diagnose`), the
//! daily schedule (an audit), or EventBridge's CloudTrail event of a failed AssumeRole (a
//! diagnosis).

use std::net::IpAddr;

use serde::Deserialize;
use serde_json::{Map, Value};
use trustlink_domain::error::json_kind;
use trustlink_domain::{AccountId, ExternalId};

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `None`: every link.
    Verify {
        links: Option<Vec<String>>,
    },
    /// `None`: the hub, every link's accounts and `TRUSTLINK_AUDIT_ACCOUNTS`.
    Audit {
        accounts: Option<Vec<AccountId>>,
        scheduled: bool,
    },
    Diagnose(DiagnoseRequest),
}

/// A request to explain. Its `Debug` redacts the external ID (see [`ExternalId`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DiagnoseRequest {
    /// A user, role, account root or assumed-role session ARN.
    pub caller: String,
    /// The role of the session, when the caller is an assumed-role session and its path
    /// is known (CloudTrail's `sessionIssuer`).
    pub caller_role_arn: Option<String>,
    pub role_arn: String,
    pub external_id: Option<ExternalId>,
    pub source_ip: Option<IpAddr>,
    pub mfa_present: Option<bool>,
    pub mfa_age_seconds: Option<u64>,
    pub duration_seconds: Option<u32>,
    /// Epoch seconds; `None`: now.
    pub at: Option<i64>,
    /// Where it came from: `console` or `cloudtrail` (with the event id).
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct VerifyArgs {
    #[serde(default)]
    links: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct AuditArgs {
    #[serde(default)]
    accounts: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct DiagnoseArgs {
    caller: String,
    role_arn: String,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    source_ip: Option<String>,
    #[serde(default)]
    mfa_present: Option<bool>,
    #[serde(default)]
    mfa_age_seconds: Option<u64>,
    #[serde(default)]
    duration_seconds: Option<u32>,
    #[serde(default)]
    at: Option<String>,
}

/// What every refusal names.
pub const EXPECTED: &str = "expected a JSON object with exactly one of: \
{\"Verify\": {\"Links\"?: [names]}}, {\"Audit\": {\"Accounts\"?: [account ids]}}, \
{\"Diagnose\": {\"Caller\": arn, \"RoleArn\": arn, \"ExternalId\"?, \"SourceIp\"?, \
\"MfaPresent\"?, \"MfaAgeSeconds\"?, \"DurationSeconds\"?, \"At\"?}}; or EventBridge's scheduled \
event, or its CloudTrail event of a failed sts:AssumeRole";

/// Why an event is not a link-check command. Never quotes an external ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("the event is {got}, not a link-check command: {EXPECTED}")]
    NotAnObject { got: &'static str },
    #[error("not a link-check command: {reason}; {EXPECTED}")]
    Invalid { reason: String },
    #[error("{field}: {reason}")]
    BadField { field: &'static str, reason: String },
}

fn invalid(reason: impl Into<String>) -> CommandError {
    CommandError::Invalid {
        reason: reason.into(),
    }
}

fn bad(field: &'static str, reason: impl Into<String>) -> CommandError {
    CommandError::BadField {
        field,
        reason: reason.into(),
    }
}

impl Command {
    pub fn from_event(event: &Value) -> Result<Self, CommandError> {
        // Only objects: serde's derived Deserialize would also read an array as a struct's
        // fields by position.
        let Some(object) = event.as_object() else {
            return Err(CommandError::NotAnObject {
                got: json_kind(event),
            });
        };
        if let Some(detail_type) = object.get("detail-type").and_then(Value::as_str) {
            return from_eventbridge(object, detail_type);
        }
        let mut entries = object.iter();
        let (Some((name, args)), None) = (entries.next(), entries.next()) else {
            return Err(invalid(format!(
                "it has {} top-level fields, not one",
                object.len()
            )));
        };
        if !args.is_object() {
            return Err(invalid(format!(
                "{name} holds {}, not an object",
                json_kind(args)
            )));
        }
        match name.as_str() {
            "Verify" => {
                let a: VerifyArgs = parse_args(args)?;
                if a.links.as_ref().is_some_and(Vec::is_empty) {
                    return Err(bad(
                        "Links",
                        "give at least one link name, or leave Links out for all links",
                    ));
                }
                Ok(Self::Verify { links: a.links })
            }
            "Audit" => {
                let a: AuditArgs = parse_args(args)?;
                let accounts = a
                    .accounts
                    .map(|list| {
                        list.iter()
                            .map(|x| {
                                AccountId::parse("Accounts", x).map_err(|e| bad("Accounts", e.rule))
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .transpose()?;
                if accounts.as_ref().is_some_and(Vec::is_empty) {
                    return Err(bad(
                        "Accounts",
                        "give at least one account id, or leave Accounts out",
                    ));
                }
                Ok(Self::Audit {
                    accounts,
                    scheduled: false,
                })
            }
            "Diagnose" => diagnose_from_console(args),
            other => Err(invalid(format!("unknown command `{other}`"))),
        }
    }
}

fn parse_args<T: serde::de::DeserializeOwned>(args: &Value) -> Result<T, CommandError> {
    // serde's messages name fields and types; a value is quoted only for enums, which these
    // structs do not have, so an external ID of the wrong type is not echoed.
    serde_json::from_value(args.clone()).map_err(|e| invalid(e.to_string()))
}

fn diagnose_from_console(args: &Value) -> Result<Command, CommandError> {
    let a: DiagnoseArgs = parse_args(args)?;
    let at =
        a.at.as_deref()
            .map(|t| {
                t.parse::<jiff::Timestamp>()
                    .map(|t| t.as_second())
                    .map_err(|_| {
                        bad(
                            "At",
                            format!("'{t}' is not an ISO 8601 time such as 2026-11-23T06:47:02Z"),
                        )
                    })
            })
            .transpose()?;
    Ok(Command::Diagnose(DiagnoseRequest {
        caller: a.caller,
        caller_role_arn: None,
        role_arn: a.role_arn,
        external_id: a.external_id.as_deref().map(external_id).transpose()?,
        source_ip: a.source_ip.as_deref().map(source_ip).transpose()?,
        mfa_present: a.mfa_present,
        mfa_age_seconds: a.mfa_age_seconds,
        duration_seconds: a.duration_seconds,
        at,
        source: "console".into(),
    }))
}

fn external_id(value: &str) -> Result<ExternalId, CommandError> {
    // The validation's own message may quote a character of it: say less.
    ExternalId::parse("ExternalId", value).map_err(|_| {
        bad(
            "ExternalId",
            "not a valid external ID (2 to 1224 characters of letters, digits and _+=,.@:/-)",
        )
    })
}

fn source_ip(value: &str) -> Result<IpAddr, CommandError> {
    value.parse().map_err(|_| {
        bad(
            "SourceIp",
            format!("'{value}' is not an IPv4 or IPv6 address"),
        )
    })
}

/// The schedule, or CloudTrail's record of a failed `sts:AssumeRole`.
fn from_eventbridge(
    object: &Map<String, Value>,
    detail_type: &str,
) -> Result<Command, CommandError> {
    let source = object.get("source").and_then(Value::as_str);
    if detail_type == "Scheduled Event" && source == Some("aws.events") {
        return Ok(Command::Audit {
            accounts: None,
            scheduled: true,
        });
    }
    let detail = object.get("detail").filter(|d| d.is_object());
    let is_assume_role = detail
        .is_some_and(|d| d["eventSource"] == "sts.amazonaws.com" && d["eventName"] == "AssumeRole");
    if detail_type != "AWS API Call via CloudTrail" || !is_assume_role {
        return Err(invalid(format!(
            "an EventBridge event of type '{detail_type}' that is neither the schedule nor \
             CloudTrail's sts:AssumeRole"
        )));
    }
    diagnose_from_cloudtrail(detail.expect("checked above"))
}

fn diagnose_from_cloudtrail(d: &Value) -> Result<Command, CommandError> {
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(String::from);
    let who = &d["userIdentity"];
    let caller = text(&who["arn"]).ok_or_else(|| bad("detail.userIdentity.arn", "missing"))?;
    let params = &d["requestParameters"];
    let role_arn = text(&params["roleArn"])
        .ok_or_else(|| bad("detail.requestParameters.roleArn", "missing"))?;
    let event_time = text(&d["eventTime"]).and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let attributes = &who["sessionContext"]["attributes"];
    let mfa_present = text(&attributes["mfaAuthenticated"]).map(|v| v == "true");
    let session_created =
        text(&attributes["creationDate"]).and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let mfa_age_seconds = match (mfa_present, session_created, event_time) {
        (Some(true), Some(created), Some(at)) => {
            Some((at.as_second() - created.as_second()).max(0) as u64)
        }
        _ => None,
    };
    Ok(Command::Diagnose(DiagnoseRequest {
        caller,
        caller_role_arn: text(&who["sessionContext"]["sessionIssuer"]["arn"]),
        role_arn,
        // The ID the caller sent is in the event: it is compared, never repeated.
        external_id: text(&params["externalId"])
            .and_then(|v| ExternalId::parse("externalId", &v).ok()),
        // "AWS Internal" and service names are not addresses: the key is then unknown.
        source_ip: text(&d["sourceIPAddress"]).and_then(|ip| ip.parse().ok()),
        mfa_present,
        mfa_age_seconds,
        duration_seconds: params["durationSeconds"].as_u64().map(|s| s as u32),
        at: event_time.map(|t| t.as_second()),
        source: format!("cloudtrail {}", text(&d["eventID"]).unwrap_or_default()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn console_commands() {
        assert_eq!(
            Command::from_event(&json!({"Verify": {}})).unwrap(),
            Command::Verify { links: None }
        );
        assert_eq!(
            Command::from_event(&json!({"Verify": {"Links": ["a"]}})).unwrap(),
            Command::Verify {
                links: Some(vec!["a".into()])
            }
        );
        let Command::Audit {
            accounts,
            scheduled,
        } = Command::from_event(&json!({"Audit": {"Accounts": ["111122223333"]}})).unwrap()
        else {
            panic!()
        };
        assert_eq!(accounts.unwrap().len(), 1);
        assert!(!scheduled);
        let scheduled = json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        assert!(matches!(
            Command::from_event(&scheduled).unwrap(),
            Command::Audit {
                scheduled: true,
                ..
            }
        ));
        let Command::Diagnose(d) = Command::from_event(&json!({"Diagnose": {
            "Caller": "arn:aws:iam::444455556666:user/DevUser",
            "RoleArn": "arn:aws:iam::111122223333:role/x", "ExternalId": "SecretValue1234",
            "SourceIp": "203.0.113.9", "MfaPresent": true, "MfaAgeSeconds": 60,
            "DurationSeconds": 7200, "At": "2026-11-23T06:47:02Z"}}))
        .unwrap() else {
            panic!()
        };
        assert_eq!(d.duration_seconds, Some(7200));
        assert_eq!(d.at, Some(1_795_416_422));
        assert!(!format!("{d:?}").contains("SecretValue1234"));
    }

    #[test]
    fn cloudtrail_event() {
        let event: Value = serde_json::from_str(include_str!(
            "../../../events/link-check/cloudtrail-assume-role-denied.json"
        ))
        .unwrap();
        let Command::Diagnose(d) = Command::from_event(&event).unwrap() else {
            panic!()
        };
        assert!(d.caller.contains(":user/"));
        assert!(d.role_arn.contains(":role/"));
        assert!(d.external_id.is_some() && d.source_ip.is_some() && d.at.is_some());
        assert!(d.source.starts_with("cloudtrail "));
    }

    /// Anything but one documented command, the schedule or CloudTrail's AssumeRole is
    /// refused, with the expected fields named.
    #[test]
    fn refuses_what_is_not_a_command() {
        for bad in [
            json!([]),
            json!([{"Verify": {}}]),
            json!(null),
            json!("Verify"),
            json!(42),
            json!({}),
            json!({"Verify": []}),
            json!({"Verify": null}),
            json!({"Verify": {"Links": "a"}}),
            json!({"Verify": {"Links": []}}),
            json!({"Verify": {}, "Audit": {}}),
            json!({"Audit": {"Accounts": ["12"]}}),
            json!({"Audit": {"Acounts": []}}),
            json!({"Diagnose": ["arn:aws:iam::444455556666:user/u", "arn:aws:iam::111122223333:role/r"]}),
            json!({"Diagnose": {"Caller": "x"}}),
            json!({"Diagnose": {"Caller": "x", "RoleArn": "y", "ExternalId": "has space"}}),
            json!({"Rotate": {}}),
            json!({"detail-type": "Scheduled Event"}),
            json!({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification"}),
        ] {
            let e = match Command::from_event(&bad) {
                Ok(c) => panic!("{bad} was taken for a command: {c:?}"),
                Err(e) => e.to_string(),
            };
            assert!(!e.contains("has space"), "{e}");
            if !matches!(
                Command::from_event(&bad),
                Err(CommandError::BadField { .. })
            ) {
                for field in [
                    "Verify", "Audit", "Diagnose", "Caller", "RoleArn", "Links", "Accounts",
                ] {
                    assert!(e.contains(field), "{bad}: the error names {field}: {e}");
                }
            }
        }
    }
}
