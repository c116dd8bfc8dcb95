//! The rotator's metrics: one embedded-metric-format object per run on stdout (namespace
//! `TrustLink/Rotator`, no dimension, so the metric set is fixed whatever the fleet), which
//! Lambda's log pipeline turns into CloudWatch metrics. Names and meanings are in
//! docs/design.md ("Metrics"); `Failures` is what the template's alarm watches.
//!
//! No secret can be in it: only counts and a duration.

use std::future::Future;
use std::time::Instant;

use serde_json::Value;
use trustlink_aws::calls::{self, Counts};
use trustlink_aws::emf::{self, Metric, Unit};
use trustlink_aws::AwsError;

use crate::report::RunReport;

pub const NAMESPACE: &str = "TrustLink/Rotator";

/// Runs `run` (a whole run) and writes its metrics once it has ended, also when it failed
/// before any link (then `Failures` is 1: the alarm sees a run that could not even list).
pub async fn measured<F>(run: F) -> Result<RunReport, AwsError>
where
    F: Future<Output = Result<RunReport, AwsError>>,
{
    measured_into(run, emf::print).await
}

/// [`measured`], handing the object to `write` (stdout in the function; a test keeps it).
pub async fn measured_into<F, W>(run: F, write: W) -> Result<RunReport, AwsError>
where
    F: Future<Output = Result<RunReport, AwsError>>,
    W: FnOnce(&Value),
{
    let started = Instant::now();
    let before = calls::sent();
    let result = run.await;
    let doc = document(
        result.as_ref().ok(),
        started.elapsed().as_secs_f64() * 1000.0,
        &calls::sent().since(&before),
        emf::now_ms(),
    );
    write(&doc);
    result
}

/// The metric name of the calls to a service (its SigV4 signing name).
fn calls_metric(service: &str) -> &'static str {
    match service {
        "iam" => "IamCalls",
        "sts" => "StsCalls",
        "secretsmanager" => "SecretsManagerCalls",
        "sqs" => "SqsCalls",
        _ => "OtherCalls",
    }
}

/// `Rotated` for the summary's `rotated`: one metric per action of [`crate::report::Summary`].
fn action_metric(field: &str) -> String {
    let mut chars = field.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// The run's object: links and rotations by action (the report's summary), failures, the
/// duration, and the requests sent per service (retries and credential refreshes included).
pub fn document(report: Option<&RunReport>, duration_ms: f64, sent: &Counts, now: i64) -> Value {
    let mut metrics = Vec::new();
    let failures = match report {
        Some(report) => {
            let summary = serde_json::to_value(&report.summary).unwrap_or_default();
            for (field, n) in summary.as_object().into_iter().flatten() {
                let name = action_metric(field);
                metrics.push(Metric::count(name, n.as_u64().unwrap_or_default()));
            }
            report.summary.failed as u64
        }
        None => 1,
    };
    metrics.push(Metric::count("Failures", failures));
    metrics.push(Metric {
        name: "DurationMs".into(),
        unit: Unit::Milliseconds,
        value: duration_ms,
    });
    for (service, n) in sent.by_service() {
        metrics.push(Metric::count(calls_metric(service), n));
    }
    emf::document(NAMESPACE, &[], &metrics, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Summary;

    #[test]
    fn a_run_is_one_object_with_its_counts() {
        let report = RunReport {
            dry_run: false,
            links: vec![],
            summary: Summary {
                links: 2,
                rotated: 1,
                failed: 1,
                skipped: 1,
                ..Summary::default()
            },
        };
        let sent = Counts([7, 2, 9, 0, 0]);
        let d = document(Some(&report), 12.0, &sent, 1_000);
        let declared = &d["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], NAMESPACE);
        assert_eq!(declared["Dimensions"], serde_json::json!([[]]));
        for (name, value) in [
            ("Links", 2.0),
            ("Rotated", 1.0),
            ("Failed", 1.0),
            ("Skipped", 1.0),
            ("Held", 0.0),
            ("Failures", 1.0),
            ("DurationMs", 12.0),
            ("IamCalls", 7.0),
            ("StsCalls", 2.0),
            ("SecretsManagerCalls", 9.0),
            ("OtherCalls", 0.0),
        ] {
            assert_eq!(d[name], value, "{name}: {d}");
            assert!(
                declared["Metrics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["Name"] == name),
                "{name} declared"
            );
        }
        let failed_run = document(None, 1.0, &Counts::default(), 1_000);
        assert_eq!(failed_run["Failures"], 1.0);
        assert!(failed_run.get("Links").is_none());
    }
}
