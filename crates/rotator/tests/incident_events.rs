//! The incident events of `events/rotator/` through the real `rotator` binary, run as Lambda
//! runs it (the runtime API emulator; AWS played by moto): each one in the order an operator
//! would use them, on one link, with the result printed (the README's rotator section shows
//! these results). Everything the process prints and answers is scanned for secrets.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use trustlink_aws::AccountAccess;
use trustlink_tests::function::{assert_json_lines, Function};
use trustlink_tests::lambda_api::{Outcome, RuntimeApi};
use trustlink_tests::links::{access, create_link, current_external_id, current_key, Link};
use trustlink_tests::{assert_no_secret_in, function_env, workspace_root};

const INVOCATION: Duration = Duration::from_secs(120);

/// The console events of the incident commands, in the order they run here.
const EVENTS: [&str; 7] = [
    "incident-dry-run.json",
    "revoke.json",
    "suspend.json",
    "resume.json",
    "compromised-external-id.json",
    "compromised-access-key.json",
    "compromised-both.json",
];

fn event(name: &str) -> Value {
    let path = workspace_root().join("events/rotator").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn the_incident_event_files_are_commands_for_named_links() {
    for name in EVENTS {
        let c =
            rotator::Command::from_event(&event(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let incident = c
            .incident
            .unwrap_or_else(|| panic!("{name}: not an incident command"));
        assert_eq!(
            c.links,
            Some(vec!["dev-cross-account".to_string()]),
            "{name}"
        );
        assert_eq!(
            c.dry_run,
            name == "incident-dry-run.json",
            "{name}: {incident:?}"
        );
    }
}

/// The link's AWSCURRENT external ID and secret access key: what no answer or log may show.
async fn current_secrets(access: &AccountAccess, link: &Link) -> Vec<String> {
    let key = current_key(access, link).await;
    vec![
        current_external_id(access, link).await,
        key.secret_access_key.expose().to_string(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_incident_event_through_the_binary() {
    let access = access().await;
    let rotation = json!({"ExternalIdDays": 90, "AccessKeyDays": 90, "GraceHours": 24});
    let link = create_link(&access, "dev-cross-account-", true, rotation).await;
    let mut secrets = current_secrets(&access, &link).await;
    let api = RuntimeApi::start().await;
    let mut env = api.env("trustlink-rotator");
    env.extend(function_env());
    let mut function = Function::spawn(Path::new(env!("CARGO_BIN_EXE_rotator")), env);

    let expected = [
        ("incident-dry-run.json", "planned"),
        ("revoke.json", "revoked"),
        ("suspend.json", "suspended"),
        ("resume.json", "resumed"),
        ("compromised-external-id.json", "revoked"),
        ("compromised-access-key.json", "revoked"),
        ("compromised-both.json", "revoked"),
    ];
    for (name, action) in expected {
        let mut e = event(name);
        e["Links"] = json!([link.name]);
        let outcome = api.invoke(name, e, INVOCATION).await;
        function.assert_running();
        let Outcome::Response(report) = &outcome else {
            panic!("{name}: {outcome:?}\n{}", function.text());
        };
        println!(
            "== {name}\n{}",
            serde_json::to_string_pretty(report).unwrap()
        );
        let got = report["links"][0]["incident"]["action"].as_str();
        let got = got.or(report["links"][0]["external_id"]["action"].as_str());
        assert_eq!(got, Some(action), "{name}: {report:#}");
        secrets.extend(current_secrets(&access, &link).await);
        let all: Vec<&str> = secrets.iter().map(String::as_str).collect();
        assert_no_secret_in(name, &report.to_string(), &all);
    }
    let output = function.stop();
    assert_json_lines(&output);
    let lines = output
        .lines()
        .filter(|l| l.contains("incident outcome"))
        .count();
    assert_eq!(
        lines,
        EVENTS.len(),
        "one incident outcome line per link and command"
    );
    let all: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_no_secret_in("the rotator binary's output", &output, &all);
}

/// docs/contract.json names every report action and console field the rotator has.
#[test]
fn the_contract_names_the_actions_and_fields() {
    let text = std::fs::read_to_string(workspace_root().join("docs/contract.json")).unwrap();
    let contract: Value = serde_json::from_str(&text).unwrap();
    let names: Vec<Value> = rotator::Action::ALL
        .iter()
        .map(|a| serde_json::to_value(a).unwrap())
        .collect();
    assert_eq!(contract["rotator_actions"], json!(names));
    let refused = rotator::Command::from_event(&json!([]))
        .unwrap_err()
        .to_string();
    for field in contract["rotator_console_fields"].as_array().unwrap() {
        let field = field.as_str().unwrap();
        assert!(
            refused.contains(field),
            "the refusal names {field}: {refused}"
        );
    }
    assert_eq!(
        contract["incident"]["commands"],
        json!(["Revoke", "Suspend", "Resume", "Compromised"])
    );
}
