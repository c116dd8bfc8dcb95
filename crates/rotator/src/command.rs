//! What a run is asked to do: the EventBridge schedule, or a console test event.

use serde::Deserialize;
use serde_json::Value;
use trustlink_domain::rotation::Ask;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    /// `None`: every link.
    pub links: Option<Vec<String>>,
    pub ask: Ask,
    pub dry_run: bool,
    /// From the schedule: failures are the invocation's error (alarm, on-failure destination).
    pub scheduled: bool,
}

/// The console's test events: `{"Force": true, "Links": ["partner-readonly"]}`, `{"DryRun": true}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct Console {
    #[serde(default)]
    links: Option<Vec<String>>,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    end_grace: bool,
    #[serde(default)]
    release_holds: bool,
}

/// What a console event may hold, for every refusal.
const EXPECTED: &str = "expected a JSON object with the optional fields Links (a list of link \
names), Force, DryRun, EndGrace and ReleaseHolds (true or false), or EventBridge's scheduled event";

/// Why an event is not a rotator command. Events carry no secret, so naming what was
/// received is safe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("the event is {got}, not a rotator command: {}", EXPECTED)]
    NotAnObject { got: &'static str },
    #[error("not a rotator command: {reason}; {}", EXPECTED)]
    Invalid { reason: String },
    #[error("Links: give at least one link name, or leave Links out for all links")]
    EmptyLinks,
}

impl Command {
    pub fn from_event(event: &Value) -> Result<Self, CommandError> {
        // Only an object: serde's derived Deserialize would also read an array as the
        // fields by position (`[null, true]` is Force for every link).
        let Some(object) = event.as_object() else {
            return Err(CommandError::NotAnObject { got: kind(event) });
        };
        // EventBridge: {"source": "aws.events", "detail-type": "Scheduled Event", ...}
        if object.get("source").and_then(Value::as_str) == Some("aws.events")
            && object.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
        {
            return Ok(Self {
                scheduled: true,
                ..Self::default()
            });
        }
        let c: Console =
            serde_json::from_value(event.clone()).map_err(|e| CommandError::Invalid {
                reason: e.to_string(),
            })?;
        if c.links.as_ref().is_some_and(Vec::is_empty) {
            return Err(CommandError::EmptyLinks);
        }
        Ok(Self {
            links: c.links,
            ask: Ask {
                force: c.force,
                end_grace: c.end_grace,
                release_holds: c.release_holds,
            },
            dry_run: c.dry_run,
            scheduled: false,
        })
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events() {
        let scheduled = json!({"version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        assert!(Command::from_event(&scheduled).unwrap().scheduled);
        let force_one = Command::from_event(&json!({"Force": true, "Links": ["a"]})).unwrap();
        assert_eq!(force_one.links, Some(vec!["a".to_string()]));
        assert!(force_one.ask.force && !force_one.dry_run && !force_one.scheduled);
        assert!(
            Command::from_event(&json!({"DryRun": true}))
                .unwrap()
                .dry_run
        );
        assert!(Command::from_event(&json!({})).unwrap().links.is_none());
        let e = Command::from_event(&json!({"Forse": true}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `Forse`"), "{e}");
        assert!(Command::from_event(&json!({"Force": "yes"}))
            .unwrap_err()
            .to_string()
            .contains("invalid type"));
        assert_eq!(
            Command::from_event(&json!({"Links": []})),
            Err(CommandError::EmptyLinks)
        );
        assert_eq!(
            Command::from_event(&json!([null, true])),
            Err(CommandError::NotAnObject { got: "an array" })
        );
    }

    /// Anything but an object of the documented shape or a scheduled EventBridge event is
    /// refused: serde would otherwise read an array as the struct's fields by position
    /// (`[]` ran every link, `[null, true]` forced every link).
    #[test]
    fn refuses_what_is_not_a_command() {
        for bad in [
            json!([]),
            json!([null, true]),
            json!([null, true, true, false, true]),
            json!(null),
            json!("Force"),
            json!(42),
            json!(true),
            json!({"Links": "a"}),
            json!({"Links": [1]}),
            json!({"Force": null}),
            json!({"detail-type": "Scheduled Event"}),
            json!({"source": "aws.events", "detail-type": "EC2 Instance State-change Notification"}),
        ] {
            let e = match Command::from_event(&bad) {
                Ok(c) => panic!("{bad} was taken for a command: {c:?}"),
                Err(e) => e.to_string(),
            };
            for field in ["Links", "Force", "DryRun", "EndGrace", "ReleaseHolds"] {
                assert!(e.contains(field), "{bad}: the error names {field}: {e}");
            }
        }
    }
}
