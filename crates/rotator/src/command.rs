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

impl Command {
    pub fn from_event(event: &Value) -> Result<Self, String> {
        // EventBridge: {"source": "aws.events", "detail-type": "Scheduled Event", ...}
        if event.get("detail-type").is_some()
            || event.get("source").and_then(Value::as_str) == Some("aws.events")
        {
            return Ok(Self {
                scheduled: true,
                ..Self::default()
            });
        }
        let c: Console = serde_json::from_value(event.clone()).map_err(|e| {
            format!("not a rotator command: {e} (expected fields: Links, Force, DryRun, EndGrace, ReleaseHolds)")
        })?;
        if let Some(links) = &c.links {
            if links.is_empty() {
                return Err(
                    "Links: give at least one link name, or leave Links out for all links".into(),
                );
            }
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
        let e = Command::from_event(&json!({"Forse": true})).unwrap_err();
        assert!(e.contains("unknown field `Forse`"), "{e}");
        assert!(Command::from_event(&json!({"Force": "yes"}))
            .unwrap_err()
            .contains("invalid type"));
        assert!(Command::from_event(&json!({"Links": []}))
            .unwrap_err()
            .starts_with("Links:"));
    }
}
