//! `Debug` output that respects NoEcho.

use std::fmt;

use serde_json::{Map, Value};

/// Adds `no_echo` and the data to a `Debug` struct: the values when they may be shown, only
/// their names when NoEcho is set.
///
/// With NoEcho, `Data` usually holds secrets (CloudFormation masks them in `Fn::GetAtt`
/// output), and a `{:?}` in a log line must not undo that.
pub(crate) fn debug_data(
    d: &mut fmt::DebugStruct<'_, '_>,
    no_echo: bool,
    data: &Map<String, Value>,
) {
    d.field("no_echo", &no_echo);
    if no_echo {
        d.field("data_keys", &data.keys().collect::<Vec<_>>());
    } else {
        d.field("data", data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Shown(bool, Map<String, Value>);

    impl fmt::Debug for Shown {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let mut d = f.debug_struct("Shown");
            debug_data(&mut d, self.0, &self.1);
            d.finish()
        }
    }

    #[test]
    fn values_only_without_no_echo() {
        let mut data = Map::new();
        data.insert("Password".into(), json!("hunter2"));
        let hidden = format!("{:?}", Shown(true, data.clone()));
        assert_eq!(
            hidden,
            r#"Shown { no_echo: true, data_keys: ["Password"] }"#
        );
        let shown = format!("{:?}", Shown(false, data));
        assert!(shown.contains("hunter2"), "{shown}");
    }
}
