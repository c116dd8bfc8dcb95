//! What the functions actually write (issue 13.3): a real trust-link Create and a real forced
//! rotation of one keyed link, each through its real binary behind the Lambda runtime API,
//! AWS played by moto, at the default level, at `RUST_LOG=warn` and at `RUST_LOG=trace`.
//! Default: no DEBUG or TRACE line (the SDK's were written at INFO when the caps enabled
//! them); warn: only WARN and ERROR; trace: no secret. A Create at the default level writes
//! at most 8 KB. Each rotation run writes one embedded-metric-format object with its counts
//! (the AWS calls per service as a counting proxy saw them on the wire), and no secret.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use trustlink_tests::binaries::binary;
use trustlink_tests::cfn::{CloudFormation, URL_SIGNATURE};
use trustlink_tests::fixtures::{reason, status};
use trustlink_tests::function::{assert_json_lines, Function};
use trustlink_tests::lambda_api::{Outcome, RuntimeApi};
use trustlink_tests::links::{
    access, create_link, current_external_id, current_key, Link, TRUSTED,
};
use trustlink_tests::throttle::ThrottleProxy;
use trustlink_tests::{assert_no_secret_in, function_env, moto, unique, workspace_root};

const INVOCATION: Duration = Duration::from_secs(120);
/// The most a Create may write at the default level (issue 13: about 225 KB before).
const CREATE_LOG_BUDGET: usize = 8 * 1024;
/// Every session token moto hands out starts with this (moto/sts/utils.py): the assumed
/// roles' tokens are never known to the test, their prefix is.
const SESSION_TOKEN_PREFIX: &str = "FQoGZXIvYXdzEBYaD";

/// The levels an operator sets: none (the default), warn, trace.
const LEVELS: [Option<&str>; 3] = [None, Some("warn"), Some("trace")];

/// Lambda's environment for `function` at `level`, AWS played by moto.
fn env(api: &RuntimeApi, function: &str, level: Option<&str>) -> Vec<(String, String)> {
    let mut env = api.env(&format!("trustlink-{function}"));
    env.extend(function_env());
    env.push((
        "TRUSTLINK_ROLE_PATHS".into(),
        "/trustlink/,/cross-account/".into(),
    ));
    if let Some(level) = level {
        env.push(("RUST_LOG".into(), level.into()));
    }
    env
}

/// The levels of the log lines in `output` (every line is JSON; lines without a level are
/// embedded-metric-format records, not log lines).
fn levels(output: &str) -> Vec<String> {
    // At warn a run that went well may print nothing at all.
    if !output.trim().is_empty() {
        assert_json_lines(output);
    }
    output
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let line: Value = serde_json::from_str(l).unwrap();
            if line.get("level").is_none() {
                assert!(line.get("_aws").is_some(), "neither log nor metric: {l}");
            }
            line["level"].as_str().map(str::to_string)
        })
        .collect()
}

/// What `level` allows: the default (INFO) nothing below INFO, warn only WARN and ERROR.
fn assert_levels(what: &str, level: Option<&str>, output: &str) {
    let allowed: &[&str] = match level {
        None => &["INFO", "WARN", "ERROR"],
        Some("warn") => &["WARN", "ERROR"],
        Some(_) => return,
    };
    let found = levels(output);
    let wrong: Vec<&str> = output
        .lines()
        .filter(|l| {
            serde_json::from_str::<Value>(l).is_ok_and(|v| {
                v["level"]
                    .as_str()
                    .is_some_and(|lvl| !allowed.contains(&lvl))
            })
        })
        .take(3)
        .collect();
    assert!(
        wrong.is_empty(),
        "{what} at {level:?} wrote {} lines at a level below {}; the first: {wrong:#?}",
        found
            .iter()
            .filter(|l| !allowed.contains(&l.as_str()))
            .count(),
        allowed[0]
    );
}

/// A Create of the classic event file (fresh names) through a fresh trust-link process at
/// `level`; returns what the process printed and the secrets it handled.
async fn create(level: Option<&str>) -> (String, Vec<String>) {
    let access = access().await;
    let api = RuntimeApi::start().await;
    let cfn = CloudFormation::start().await;
    let mut function = Function::spawn(&binary("trust-link"), env(&api, "trust-link", level));
    let path = workspace_root().join("events/trust-link/create.json");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let link = unique(&format!("logs-{}-", std::process::id()));
    let user = unique("LogsUser");
    let props = &mut event["ResourceProperties"];
    props["LinkName"] = json!(link);
    props["Role"]["Name"] = json!(unique("LogsRole"));
    props["TrustedPrincipal"] = json!(format!("arn:aws:iam::{TRUSTED}:user/{user}"));
    let external_id = props["ExternalId"].as_str().unwrap().to_string();
    let id = unique("logs-create-");
    event["RequestId"] = json!(id);
    event["ResponseURL"] = json!(cfn.response_url(&id));
    let outcome = api.invoke(&id, event, INVOCATION).await;
    function.assert_running();
    assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
    let answer = cfn.response(&id, INVOCATION).await;
    assert_eq!(status(&answer), "SUCCESS", "{}", reason(&answer));
    let created = Link {
        name: link,
        role: String::new(),
        role_arn: String::new(),
        user: Some(user),
        principal: String::new(),
    };
    let key = current_key(&access, &created).await;
    let secrets = vec![external_id, key.secret_access_key.expose().to_string()];
    (function.stop(), secrets)
}

/// A forced rotation of one new keyed link through a fresh rotator process at `level`, its
/// requests counted on the way to moto; returns the output, the secrets and the counts.
async fn rotation(level: Option<&str>) -> (String, Vec<String>, BTreeMap<String, u64>) {
    let access = access().await;
    let every_90_days = json!({"ExternalIdDays": 90, "AccessKeyDays": 90, "GraceHours": 24});
    let link = create_link(&access, "logs-rot-", true, every_90_days).await;
    let mut secrets = vec![
        current_external_id(&access, &link).await,
        current_key(&access, &link)
            .await
            .secret_access_key
            .expose()
            .to_string(),
    ];
    let api = RuntimeApi::start().await;
    let counter = ThrottleProxy::start(moto().port, 0).await;
    let mut env = env(&api, "rotator", level);
    env.push(("AWS_ENDPOINT_URL".into(), counter.endpoint()));
    let mut function = Function::spawn(&binary("rotator"), env);
    let command = json!({"Links": [link.name], "Force": true});
    let outcome = api.invoke(&unique("logs-rot-"), command, INVOCATION).await;
    function.assert_running();
    let Outcome::Response(report) = outcome else {
        panic!("the rotation failed: {outcome:?}\n{}", function.text());
    };
    assert_eq!(report["summary"]["failed"], json!(0), "{report:#}");
    let new_id = current_external_id(&access, &link).await;
    assert_ne!(new_id, secrets[0], "the external ID was rotated");
    secrets.push(new_id);
    let key = current_key(&access, &link).await;
    secrets.push(key.secret_access_key.expose().to_string());
    (function.stop(), secrets, counter.requests())
}

/// The run's embedded-metric-format object: exactly one in the output.
fn metrics_line(output: &str) -> Value {
    let objects: Vec<Value> = output
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    assert_eq!(objects.len(), 1, "one metrics object per run: {objects:#?}");
    objects.into_iter().next().unwrap()
}

/// The metrics of the forced rotation of one keyed link: one link, both rotations done, no
/// failure, and the AWS calls per service the proxy counted on the wire.
fn assert_metrics(output: &str, sent: &BTreeMap<String, u64>) {
    let m = metrics_line(output);
    eprintln!("the run's metrics: {m}");
    let declared = &m["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(declared["Namespace"], json!("TrustLink/Rotator"));
    assert_eq!(declared["Dimensions"], json!([[]]), "no dimension");
    for metric in declared["Metrics"].as_array().unwrap() {
        let name = metric["Name"].as_str().unwrap();
        assert!(m[name].is_number(), "{name} declared without a value: {m}");
    }
    for (name, want) in [("Links", 1), ("Rotated", 2), ("Failed", 0), ("Failures", 0)] {
        assert_eq!(m[name], json!(want as f64), "{name}: {m}");
    }
    let count = |service: &str| json!(*sent.get(service).unwrap_or(&0) as f64);
    assert_eq!(m["IamCalls"], count("iam"), "{m} vs {sent:?}");
    assert_eq!(m["StsCalls"], count("sts"), "{m} vs {sent:?}");
    assert_eq!(
        m["SecretsManagerCalls"],
        count("secretsmanager"),
        "{m} vs {sent:?}"
    );
    assert!(m["IamCalls"].as_f64().unwrap() > 0.0, "{m}");
    assert!(m["DurationMs"].as_f64().unwrap() > 0.0, "{m}");
}

fn assert_clean(what: &str, level: Option<&str>, output: &str, secrets: &[String]) {
    assert_levels(what, level, output);
    let mut all: Vec<&str> = secrets.iter().map(String::as_str).collect();
    all.extend([URL_SIGNATURE, SESSION_TOKEN_PREFIX]);
    assert_no_secret_in(&format!("{what} at {level:?}"), output, &all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_logs_only_what_the_level_allows_and_at_most_8_kb() {
    for level in LEVELS {
        let (output, secrets) = create(level).await;
        eprintln!(
            "trust-link Create at {level:?}: {} bytes, {} lines",
            output.len(),
            output.lines().count()
        );
        assert_clean("a trust-link Create", level, &output, &secrets);
        if level.is_none() {
            assert!(
                output.len() <= CREATE_LOG_BUDGET,
                "a Create at the default level wrote {} bytes (at most {CREATE_LOG_BUDGET})",
                output.len()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_rotation_logs_only_what_the_level_allows() {
    for level in LEVELS {
        let (output, secrets, sent) = rotation(level).await;
        eprintln!(
            "forced rotation of one keyed link at {level:?}: {} bytes, {} lines",
            output.len(),
            output.lines().count()
        );
        assert_clean("a forced rotation", level, &output, &secrets);
        assert_metrics(&output, &sent);
        if level == Some("trace") {
            // The scan means something only if the process logged at TRACE at all.
            assert!(
                levels(&output).iter().any(|l| l == "TRACE" || l == "DEBUG"),
                "nothing below INFO at trace"
            );
        }
    }
}
