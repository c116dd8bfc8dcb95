//! Golden call logs: the ordered AWS operations and the answer of each trust-link request
//! and rotator run of fixed scenarios, compared with the files in `tests/golden/`. A change
//! of call sequence is then a deliberate, reviewed diff: rerun with `TRUSTLINK_BLESS=1` to
//! rewrite the files, and review what changed.
//!
//! Values that differ from run to run (generated external IDs, access key ids, secret ARN
//! suffixes, request ids, times) are replaced by placeholders before comparing.

use std::path::PathBuf;

use serde_json::{json, Value};
use trustlink_aws::AccountAccess;
use trustlink_tests::faults::{Faults, FaultyCloud};
use trustlink_tests::fixtures::{access, status, TRUSTED, TRUSTING};
use trustlink_tests::resource::Harness;

type Cloud = FaultyCloud<AccountAccess>;

fn golden_path(name: &str) -> PathBuf {
    trustlink_tests::workspace_root()
        .join("tests/golden")
        .join(format!("{name}.json"))
}

/// Compares `actual` with the golden file `name`, or writes it with `TRUSTLINK_BLESS=1`.
fn assert_golden(name: &str, actual: &Value) {
    let path = golden_path(name);
    let text = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var_os("TRUSTLINK_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; record it with TRUSTLINK_BLESS=1", path.display()));
    assert_eq!(
        text,
        expected,
        "{name}: the calls or the answer changed; if that is deliberate, rerun with \
         TRUSTLINK_BLESS=1 and review the diff of {}",
        path.display()
    );
}

/// Replaces what differs between runs with placeholders, in every string of `v`.
fn normalize(v: &Value, secrets: &[(String, &str)]) -> Value {
    match v {
        Value::String(s) => {
            let mut s = s.clone();
            for (value, placeholder) in secrets {
                if !value.is_empty() {
                    s = s.replace(value.as_str(), placeholder);
                }
            }
            Value::String(strip_secret_suffix(&s))
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| normalize(x, secrets)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    let x = match k.as_str() {
                        "RequestId" => json!("<request-id>"),
                        _ => normalize(x, secrets),
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Secrets Manager appends `-` and six random characters to a secret's ARN.
fn strip_secret_suffix(s: &str) -> String {
    if s.starts_with("arn:aws:secretsmanager:") && s.len() > 7 {
        let (head, tail) = s.split_at(s.len() - 7);
        if tail.starts_with('-') && tail[1..].chars().all(|c| c.is_ascii_alphanumeric()) {
            return format!("{head}-<suffix>");
        }
    }
    s.to_string()
}

/// One request of a scenario: its kind, the operations it called, its normalized answer.
async fn step(
    h: &Harness<Cloud>,
    faults: &Faults,
    kind: &str,
    physical: Option<&str>,
    props: &Value,
    old: Option<&Value>,
) -> (Value, Value) {
    faults.clear_calls();
    let answer = h.send(kind, physical, props, old).await;
    // The golden files name operations by their port methods' names.
    let calls: Vec<&str> = faults.calls().into_iter().map(|op| op.as_str()).collect();
    (
        json!({"request": kind, "calls": calls, "answer": answer}),
        answer,
    )
}

fn classic(link: &str, role: &str, user: &str) -> Value {
    json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:trustlink-trust-link",
        "LinkName": link,
        "TrustingAccount": TRUSTING,
        "Role": {
            "Name": role,
            "Path": "/cross-account/",
            "Description": "Developers of 444455556666",
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
            "InlinePolicies": {"S3DevAccess": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::dev-*/*"]}]}},
            "Tags": [{"Key": "team", "Value": "data"}]
        },
        "TrustedPrincipal": format!("arn:aws:iam::{TRUSTED}:user/{user}"),
        "ExternalId": "GoldenExternalId0001",
        "Conditions": {"RequireMfa": "true"},
        "TrustedSide": {"Grant": "true", "CreateUser": "true", "AccessKey": "true"},
        "Rotation": {"ExternalIdDays": "90", "AccessKeyDays": "90", "GraceHours": "24"}
    })
}

async fn harness() -> (Harness<Cloud>, Faults, AccountAccess) {
    let access = access().await;
    let faults = Faults::new();
    let h = Harness::new(FaultyCloud::new(access.clone(), faults.clone())).await;
    (h, faults, access)
}

#[tokio::test]
async fn trust_link_lifecycle_calls_and_answers() {
    let (h, faults, _) = harness().await;
    let props = classic("golden-classic", "GoldenRole", "GoldenUser");
    let mut log = Vec::new();
    let (entry, created) = step(&h, &faults, "Create", None, &props, None).await;
    assert_eq!(status(&created), "SUCCESS", "{created}");
    log.push(entry);
    let role_arn = created["PhysicalResourceId"].as_str().unwrap().to_string();

    let mut updated = props.clone();
    updated["Role"]["Description"] = json!("Changed in place");
    updated["ExternalId"] = json!("GoldenExternalId0002");
    let (entry, r) = step(
        &h,
        &faults,
        "Update",
        Some(&role_arn),
        &updated,
        Some(&props),
    )
    .await;
    assert_eq!(status(&r), "SUCCESS", "{r}");
    log.push(entry);

    let mut replaced = updated.clone();
    replaced["Role"]["Name"] = json!("GoldenRoleReplacement");
    let (entry, r) = step(
        &h,
        &faults,
        "Update",
        Some(&role_arn),
        &replaced,
        Some(&updated),
    )
    .await;
    assert_eq!(status(&r), "SUCCESS", "{r}");
    log.push(entry);
    let new_arn = r["PhysicalResourceId"].as_str().unwrap().to_string();

    let (entry, r) = step(&h, &faults, "Delete", Some(&role_arn), &updated, None).await;
    assert_eq!(status(&r), "SUCCESS", "{r}");
    log.push(entry);
    let (entry, r) = step(&h, &faults, "Delete", Some(&new_arn), &replaced, None).await;
    assert_eq!(status(&r), "SUCCESS", "{r}");
    log.push(entry);
    assert_golden("trust-link-lifecycle", &normalize(&json!(log), &[]));
}

#[tokio::test]
async fn partner_link_calls_and_answers() {
    let (h, faults, _) = harness().await;
    let props = json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:trustlink-trust-link",
        "LinkName": "golden-partner",
        "TrustingAccount": TRUSTING,
        "Role": {"Name": "GoldenPartnerRole"},
        "TrustedPrincipal": TRUSTED,
    });
    let mut log = Vec::new();
    let (entry, created) = step(&h, &faults, "Create", None, &props, None).await;
    assert_eq!(status(&created), "SUCCESS", "{created}");
    log.push(entry);
    let generated = created["Data"]["ExternalId"].as_str().unwrap().to_string();
    let role_arn = created["PhysicalResourceId"].as_str().unwrap().to_string();
    let (entry, r) = step(&h, &faults, "Delete", Some(&role_arn), &props, None).await;
    assert_eq!(status(&r), "SUCCESS", "{r}");
    log.push(entry);
    let secrets = [(generated, "<generated-external-id>")];
    assert_golden("partner-link", &normalize(&json!(log), &secrets));
}
