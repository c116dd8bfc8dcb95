//! CloudWatch embedded metric format (EMF): JSON objects on stdout that Lambda's log
//! pipeline turns into metrics. The functions' one writer of the format (link-check writes
//! one object per metric, the rotator one object per run).
//!
//! Written by hand: the maintained EMF crates are a recorder for the `metrics` facade with
//! global state, its own Lambda layer and flushes per invocation
//! (`metrics_cloudwatch_embedded`), or a framework of derive macros and background writers
//! (`metrique`); the functions write a handful of numbers per invocation, and the format is
//! one documented JSON object.

use serde_json::{json, Map, Value};

/// The unit CloudWatch shows a metric in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One value of one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub unit: Unit,
    pub value: f64,
}

impl Metric {
    pub fn count(name: impl Into<String>, value: u64) -> Self {
        Self {
            name: name.into(),
            unit: Unit::Count,
            value: value as f64,
        }
    }
}

/// One EMF object: `metrics` in `namespace` under one dimension set (`dimensions`' names and
/// values; empty: no dimension), at `timestamp_ms`.
pub fn document(
    namespace: &str,
    dimensions: &[(&str, &str)],
    metrics: &[Metric],
    timestamp_ms: i64,
) -> Value {
    let names: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
    let declared: Vec<Value> = metrics
        .iter()
        .map(|m| json!({"Name": m.name, "Unit": m.unit.as_str()}))
        .collect();
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [names],
                "Metrics": declared,
            }],
        }),
    );
    for (k, v) in dimensions {
        doc.insert((*k).to_string(), json!(v));
    }
    for m in metrics {
        doc.insert(m.name.clone(), json!(m.value));
    }
    Value::Object(doc)
}

/// Milliseconds since the Unix epoch, as EMF's `Timestamp` wants.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Writes one object as one line on stdout (where Lambda's log agent reads EMF).
pub fn print(doc: &Value) {
    println!("{doc}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_declares_its_metrics_and_carries_their_values() {
        let metrics = [
            Metric::count("Failures", 2),
            Metric {
                name: "DurationMs".into(),
                unit: Unit::Milliseconds,
                value: 12.5,
            },
        ];
        let d = document("TrustLink/Test", &[("Kind", "drift")], &metrics, 1_000);
        let cw = &d["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(d["_aws"]["Timestamp"], 1_000);
        assert_eq!(cw["Namespace"], "TrustLink/Test");
        assert_eq!(cw["Dimensions"], json!([["Kind"]]));
        assert_eq!(
            cw["Metrics"],
            json!([{"Name": "Failures", "Unit": "Count"}, {"Name": "DurationMs", "Unit": "Milliseconds"}])
        );
        assert_eq!(d["Kind"], "drift");
        assert_eq!(d["Failures"], 2.0);
        assert_eq!(d["DurationMs"], 12.5);
        let none = document("TrustLink/Test", &[], &metrics[..1], 1_000);
        assert_eq!(
            none["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
    }
}
