//! What a run is asked to do: the EventBridge schedule, or a console test event.

use serde::Deserialize;
use serde_json::Value;
use trustlink_domain::error::json_kind;
use trustlink_domain::incident::{self, Compromised};
use trustlink_domain::rotation::Ask;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    /// `None`: every link.
    pub links: Option<Vec<String>>,
    pub ask: Ask,
    pub dry_run: bool,
    /// From the schedule: failures are the invocation's error (alarm, on-failure destination).
    pub scheduled: bool,
    /// An incident command instead of a rotation (then `links` is always given).
    pub incident: Option<Incident>,
    /// The invocation's caller identity, when the Lambda context has one (not part of the
    /// event: see [`crate::handle_invocation`]).
    pub requested_by: Option<String>,
}

/// The incident response commands (docs/design.md, *Incident response*).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incident {
    /// Deny every session of the links' roles issued before now.
    Revoke,
    /// Refuse new sessions until `Resume`; the reason is kept on the role.
    Suspend {
        reason: String,
    },
    Resume,
    /// Replace the leaked value now with no grace, then revoke the sessions.
    Compromised(Compromised),
}

impl Incident {
    /// The command's field name, as the console event spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Revoke => "Revoke",
            Self::Suspend { .. } => "Suspend",
            Self::Resume => "Resume",
            Self::Compromised(_) => "Compromised",
        }
    }
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
    #[serde(default)]
    revoke: bool,
    #[serde(default)]
    suspend: bool,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    resume: bool,
    #[serde(default)]
    compromised: Option<String>,
}

/// What a console event may hold, for every refusal.
const EXPECTED: &str = "expected a JSON object with the optional fields Links (a list of link \
names), Force, DryRun, EndGrace and ReleaseHolds (true or false), or EventBridge's scheduled event, \
or one incident command with Links: Revoke, Suspend (with Reason), Resume (true), or Compromised \
(\"external-id\", \"access-key\" or \"both\"), each with an optional DryRun";

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
    #[error(
        "Links: {command} needs the names of the links to act on (it never applies to every link)"
    )]
    LinksRequired { command: &'static str },
    #[error("{first} and {second}: give one incident command per event")]
    TwoIncidents {
        first: &'static str,
        second: &'static str,
    },
    #[error("{field}: not with {command} (an incident command takes only Links and DryRun)")]
    NotWithIncident {
        field: &'static str,
        command: &'static str,
    },
    /// The value is not echoed: someone may have pasted the leaked value itself.
    #[error("Compromised: expected \"external-id\", \"access-key\" or \"both\" (the value given is not repeated here)")]
    UnknownCompromised,
    #[error("Reason: only with Suspend")]
    ReasonWithoutSuspend,
    #[error("{0}")]
    BadReason(trustlink_domain::ValidationError),
}

impl Command {
    pub fn from_event(event: &Value) -> Result<Self, CommandError> {
        // Only an object: serde's derived Deserialize would also read an array as the
        // fields by position (`[null, true]` is Force for every link).
        let Some(object) = event.as_object() else {
            return Err(CommandError::NotAnObject {
                got: json_kind(event),
            });
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
        let incident = c.incident()?;
        if let Some(i) = &incident {
            c.only_links_and_dry_run(i.name())?;
        }
        Ok(Self {
            links: c.links,
            ask: Ask {
                force: c.force,
                end_grace: c.end_grace,
                release_holds: c.release_holds,
                delete_previous_now: false,
            },
            dry_run: c.dry_run,
            scheduled: false,
            incident,
            requested_by: None,
        })
    }
}

impl Console {
    /// The one incident command the event asks for, checked before anything is written.
    fn incident(&self) -> Result<Option<Incident>, CommandError> {
        let mut asked: Vec<Incident> = Vec::new();
        if self.revoke {
            asked.push(Incident::Revoke);
        }
        if self.suspend {
            let reason = self.reason.clone().unwrap_or_default();
            incident::check_reason("Reason", &reason).map_err(CommandError::BadReason)?;
            asked.push(Incident::Suspend { reason });
        } else if self.reason.is_some() {
            return Err(CommandError::ReasonWithoutSuspend);
        }
        if self.resume {
            asked.push(Incident::Resume);
        }
        if let Some(what) = &self.compromised {
            let what = Compromised::parse(what).ok_or(CommandError::UnknownCompromised)?;
            asked.push(Incident::Compromised(what));
        }
        match asked.as_slice() {
            [] => Ok(None),
            [one] if self.links.is_none() => Err(CommandError::LinksRequired {
                command: one.name(),
            }),
            [one] => Ok(Some(one.clone())),
            [first, second, ..] => Err(CommandError::TwoIncidents {
                first: first.name(),
                second: second.name(),
            }),
        }
    }

    fn only_links_and_dry_run(&self, command: &'static str) -> Result<(), CommandError> {
        let rotation = [
            ("Force", self.force),
            ("EndGrace", self.end_grace),
            ("ReleaseHolds", self.release_holds),
        ];
        match rotation.iter().find(|(_, set)| *set) {
            Some((field, _)) => Err(CommandError::NotWithIncident { field, command }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn incident_commands() {
        let one = |e: Value| Command::from_event(&e).map(|c| c.incident);
        assert_eq!(
            one(json!({"Links": ["a"], "Revoke": true})),
            Ok(Some(Incident::Revoke))
        );
        assert_eq!(
            one(json!({"Links": ["a"], "Suspend": true, "Reason": "INC-1: offboarded"})),
            Ok(Some(Incident::Suspend {
                reason: "INC-1: offboarded".into()
            }))
        );
        assert_eq!(
            one(json!({"Links": ["a"], "Resume": true})),
            Ok(Some(Incident::Resume))
        );
        for (name, what) in [
            ("external-id", Compromised::ExternalId),
            ("access-key", Compromised::AccessKey),
            ("both", Compromised::Both),
        ] {
            assert_eq!(
                one(json!({"Links": ["a"], "Compromised": name})),
                Ok(Some(Incident::Compromised(what)))
            );
        }
        let dry = Command::from_event(&json!({"Links": ["a"], "Revoke": true, "DryRun": true}));
        assert!(dry.unwrap().dry_run);
        // false is the same as leaving it out.
        assert_eq!(one(json!({"Revoke": false})), Ok(None));
    }

    /// Nobody suspends the whole fleet by accident: every incident command needs Links.
    #[test]
    fn incident_commands_need_links() {
        for (event, command) in [
            (json!({"Revoke": true}), "Revoke"),
            (json!({"Suspend": true, "Reason": "x"}), "Suspend"),
            (json!({"Resume": true}), "Resume"),
            (json!({"Compromised": "both"}), "Compromised"),
            (
                json!({"Compromised": "both", "DryRun": true}),
                "Compromised",
            ),
        ] {
            let e = Command::from_event(&event).unwrap_err();
            assert_eq!(e, CommandError::LinksRequired { command }, "{event}");
            let text = e.to_string();
            assert!(
                text.starts_with("Links: ") && text.contains(command),
                "{text}"
            );
        }
        assert_eq!(
            Command::from_event(&json!({"Links": [], "Revoke": true})),
            Err(CommandError::EmptyLinks)
        );
    }

    #[test]
    fn incident_commands_are_checked() {
        let err = |e: Value| Command::from_event(&e).unwrap_err().to_string();
        let e = err(json!({"Links": ["a"], "Revoke": true, "Resume": true}));
        assert_eq!(e, "Revoke and Resume: give one incident command per event");
        let e = err(json!({"Links": ["a"], "Revoke": true, "Force": true}));
        assert!(e.starts_with("Force: not with Revoke"), "{e}");
        let e = err(json!({"Links": ["a"], "Suspend": true}));
        assert!(e.starts_with("Reason: give the reason"), "{e}");
        let e = err(json!({"Links": ["a"], "Suspend": true, "Reason": "why?"}));
        assert!(e.starts_with("Reason: only letters"), "{e}");
        let e = err(json!({"Links": ["a"], "Resume": true, "Reason": "x"}));
        assert_eq!(e, "Reason: only with Suspend");
        let leaked = "LeakedExternalIdValue0001";
        let e = err(json!({"Links": ["a"], "Compromised": leaked}));
        assert!(e.starts_with("Compromised: expected"), "{e}");
        assert!(!e.contains(leaked), "the value is not echoed: {e}");
        let e = err(json!({"Links": ["a"], "Suspend": "yes", "Reason": "x"}));
        assert!(e.contains("invalid type"), "{e}");
    }

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
