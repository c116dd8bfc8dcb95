//! link-check's metrics: one embedded-metric-format line per metric on stdout (each metric
//! has its own dimension value), which Lambda's log pipeline turns into metrics of the
//! namespace `TrustLink/LinkCheck`. The format is written by [`trustlink_aws::emf`].

use serde_json::Value;
use trustlink_aws::emf;

use crate::audit::AuditReport;
use crate::diagnose::Diagnosis;
use crate::findings::{Kind, Severity};
use crate::verify::{Outcome, VerifyReport};
use crate::Clock;

pub const NAMESPACE: &str = "TrustLink/LinkCheck";

#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub dimension: Option<(&'static str, String)>,
    pub value: f64,
}

fn metric(name: &'static str, dimension: Option<(&'static str, &str)>, value: usize) -> Metric {
    Metric {
        name,
        dimension: dimension.map(|(k, v)| (k, v.to_string())),
        value: value as f64,
    }
}

/// Findings by kind (every kind, zeros too, so alarms see data), and high-severity findings.
pub fn for_audit(report: &AuditReport) -> Vec<Metric> {
    let mut out: Vec<Metric> = Kind::ALL
        .iter()
        .map(|k| {
            let n = report.findings.iter().filter(|f| f.kind == *k).count();
            metric("Findings", Some(("Kind", k.as_str())), n)
        })
        .collect();
    let high = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::High)
        .count();
    out.push(metric("HighSeverityFindings", None, high));
    out
}

/// Verify results by result, and failed verifies.
pub fn for_verify(report: &VerifyReport) -> Vec<Metric> {
    let count = |o| report.links.iter().filter(|l| l.result == o).count();
    vec![
        metric(
            "VerifyResults",
            Some(("Result", "pass")),
            count(Outcome::Pass),
        ),
        metric(
            "VerifyResults",
            Some(("Result", "fail")),
            count(Outcome::Fail),
        ),
        metric(
            "VerifyResults",
            Some(("Result", "gated")),
            count(Outcome::Gated),
        ),
        metric("FailedVerifies", None, count(Outcome::Fail)),
    ]
}

/// One diagnosis by its cause (`allowed` when there is none).
pub fn for_diagnosis(d: &Diagnosis) -> Vec<Metric> {
    let cause = d.cause.map(|c| c.as_str()).unwrap_or("allowed");
    vec![metric("Diagnoses", Some(("Cause", cause)), 1)]
}

/// The EMF line of one metric at `timestamp_ms`.
pub fn line(m: &Metric, timestamp_ms: i64) -> Value {
    let dimensions: Vec<(&str, &str)> = m.dimension.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let value = emf::Metric {
        name: m.name.to_string(),
        unit: emf::Unit::Count,
        value: m.value,
    };
    emf::document(NAMESPACE, &dimensions, &[value], timestamp_ms)
}

/// Prints the metrics, one line each, stamped with the function's clock.
pub fn emit(metrics: &[Metric], clock: &dyn Clock) {
    let now_ms = clock.now_ms();
    for m in metrics {
        emf::print(&line(m, now_ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_are_emf() {
        let l = line(&metric("Findings", Some(("Kind", "drift")), 2), 1_000);
        assert_eq!(l["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            l["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Kind"]])
        );
        assert_eq!(
            l["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "Findings"
        );
        assert_eq!(l["Kind"], "drift");
        assert_eq!(l["Findings"], 2.0);
        let l = line(&metric("FailedVerifies", None, 0), 1_000);
        assert_eq!(l["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([[]]));
        assert_eq!(l["FailedVerifies"], 0.0);
    }
}
