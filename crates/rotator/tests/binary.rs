//! The real `rotator` binary, run as Lambda runs it: a separate process polling a Lambda
//! runtime API (the emulator in `trustlink-tests`), AWS played by moto. Events that are not
//! rotator commands must be answered with an invocation error and change nothing; a real
//! command still works afterwards. Everything the process prints is scanned for secrets.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use trustlink_tests::function::{assert_json_lines, Function};
use trustlink_tests::lambda_api::{Outcome, RuntimeApi};
use trustlink_tests::links::{access, create_link, current_external_id, current_key};
use trustlink_tests::rotator_support::snapshot;
use trustlink_tests::{assert_no_secret_in, function_env};

/// How long each invocation may take; against moto a forced rotation takes seconds.
const INVOCATION: Duration = Duration::from_secs(120);

fn rotator_env(api: &RuntimeApi) -> Vec<(String, String)> {
    let mut env = api.env("trustlink-rotator");
    env.extend(function_env());
    // The most verbose level an operator can choose: the binary's own caps must hold.
    env.push(("RUST_LOG".into(), "trace".into()));
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_that_are_not_commands_fail_the_invocation_and_change_nothing() {
    let access = access().await;
    let rotation = json!({"ExternalIdDays": 90, "AccessKeyDays": 90, "GraceHours": 24});
    let link = create_link(&access, "rt-rot-bad-", true, rotation).await;
    let external_id = current_external_id(&access, &link).await;
    let key = current_key(&access, &link).await;
    let before = snapshot(&access, &link).await;
    let api = RuntimeApi::start().await;
    let mut function = Function::spawn(Path::new(env!("CARGO_BIN_EXE_rotator")), rotator_env(&api));

    // A console test event pasted wrong: an array (serde would read it as the command's
    // fields by position: `[null, true]` is "Force" for every link), a bare value, a field
    // of the wrong shape, an EventBridge event that is not the schedule.
    let bad = [
        json!([]),
        json!([null, true]),
        json!(null),
        json!("Force"),
        json!(42),
        json!(true),
        json!({"Links": "a"}),
        json!({"source": "aws.events", "detail-type": "AWS API Call via CloudTrail"}),
    ];
    let mut outcomes = Vec::new();
    for (n, event) in bad.iter().enumerate() {
        let outcome = api
            .invoke(&format!("bad-{n}"), event.clone(), INVOCATION)
            .await;
        function.assert_running();
        outcomes.push((event, outcome));
    }
    assert_eq!(
        snapshot(&access, &link).await,
        before,
        "a bad event changed the link; outcomes: {outcomes:#?}"
    );
    for (event, outcome) in &outcomes {
        let Outcome::Error(error) = outcome else {
            panic!("{event} was answered as a command: {outcome:?}");
        };
        assert_eq!(error["errorType"], json!("BadCommand"), "{event}: {error}");
        let message = error["errorMessage"].as_str().unwrap_or_default();
        for field in ["Links", "Force", "DryRun", "EndGrace", "ReleaseHolds"] {
            assert!(message.contains(field), "{event}: names {field}: {message}");
        }
    }

    // The same process still serves a real command (the bad ones were refused, not lost).
    let good = json!({"DryRun": true, "Force": true, "Links": [link.name]});
    let outcome = api.invoke("good", good, INVOCATION).await;
    let Outcome::Response(report) = &outcome else {
        panic!("a dry run failed: {outcome:?}\n{}", function.text());
    };
    assert_eq!(report["links"][0]["access_key"]["action"], json!("planned"));
    assert_eq!(
        snapshot(&access, &link).await,
        before,
        "a dry run changes nothing"
    );

    let output = function.stop();
    assert_json_lines(&output);
    assert_no_secret_in(
        "the rotator binary's output",
        &output,
        &[&external_id, key.secret_access_key.expose()],
    );
}

/// Starts the rotator binary with `variable` set to `value` and no runtime API; asserts it
/// does not start, and returns what it wrote.
fn start_fails_with(variable: &str, value: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rotator"))
        .env(variable, value)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .unwrap();
    assert!(!out.status.success(), "{variable}={value} started");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// An invalid setting stops the function at start-up with an error naming the variable,
/// instead of running with a default (issue 11.4).
#[test]
fn an_invalid_concurrency_stops_the_start_naming_the_variable() {
    let text = start_fails_with("TRUSTLINK_ROTATION_CONCURRENCY", "eight");
    assert!(
        text.contains("TRUSTLINK_ROTATION_CONCURRENCY") && text.contains("must be a whole number"),
        "{text}"
    );
}

/// A queue URL that is not an SQS FIFO queue's stops the start, naming the variable (the
/// fan-out needs FIFO message groups; issue 13.6).
#[test]
fn an_invalid_queue_url_stops_the_start_naming_the_variable() {
    let text = start_fails_with(
        "TRUSTLINK_ROTATION_QUEUE_URL",
        "https://sqs.us-east-1.amazonaws.com/123456789012/standard-queue",
    );
    assert!(
        text.contains("TRUSTLINK_ROTATION_QUEUE_URL") && text.contains("SQS FIFO queue URL"),
        "{text}"
    );
}
