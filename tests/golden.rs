//! Golden call logs: the ordered AWS operations and the answer of each trust-link request
//! and rotator run of fixed scenarios, compared with the files in `tests/golden/`. A change
//! of call sequence is then a deliberate, reviewed diff: rerun with `TRUSTLINK_BLESS=1` to
//! rewrite the files, and review what changed.
//!
//! Values that differ from run to run (generated external IDs, access key ids, secret ARN
//! suffixes, request ids, times) are replaced by placeholders before comparing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rotator::{Limits, OffsetClock, Rotator};
use serde_json::{json, Value};
use trustlink_aws::ports::{AccessKeys, Op, Secrets, AWSCURRENT, AWSPENDING, AWSPREVIOUS};
use trustlink_aws::AccountAccess;
use trustlink_domain::record::{self, AccessKeySecret, ExternalIdSecret};
use trustlink_domain::rotation::HOUR;
use trustlink_tests::faults::{Faults, FaultyCloud, When};
use trustlink_tests::fixtures::{access, account, status, TRUSTED, TRUSTING};
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
    // The link records when its external ID changed, in seconds: an Update in the Create's
    // second would leave the record as it was and skip a tag write the golden file expects.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
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

// ---- the rotator ---------------------------------------------------------------------------

/// A link made by the real trust-link handler (not recorded: the scenarios above cover
/// that), then rotator runs over the faulty cloud, each recorded with its calls and report.
struct Rotation {
    access: AccountAccess,
    faults: Faults,
    clock: OffsetClock,
    rotator: Rotator<Cloud>,
    link: String,
    user: Option<String>,
    /// Every external ID and key id seen so far, with its placeholder, numbered in the order
    /// first seen (so the files still tell the old value from the new).
    values: Vec<(String, String)>,
    log: Vec<Value>,
}

impl Rotation {
    async fn new(link: &str, user: Option<&str>) -> Self {
        let access = access().await;
        let creator = Harness::new(access.clone()).await;
        let principal = match user {
            Some(user) => format!("arn:aws:iam::{TRUSTED}:user/{user}"),
            None => format!("arn:aws:iam::{TRUSTED}:root"),
        };
        let mut props = json!({
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:trustlink-trust-link",
            "LinkName": link,
            "TrustingAccount": TRUSTING,
            "Role": {"Name": format!("{link}-role")},
            "TrustedPrincipal": principal,
            "Rotation": {"ExternalIdDays": "90", "AccessKeyDays": "90", "GraceHours": "24"}
        });
        if user.is_some() {
            props["TrustedSide"] =
                json!({"Grant": "true", "CreateUser": "true", "AccessKey": "true"});
        }
        let created = creator.send("Create", None, &props, None).await;
        assert_eq!(status(&created), "SUCCESS", "{created}");
        let faults = Faults::new();
        let clock = OffsetClock::default();
        let limits = Limits {
            concurrency: 4,
            verify_attempts: 5,
            verify_delay: Duration::from_millis(100),
        };
        let cloud = FaultyCloud::new(access.clone(), faults.clone());
        let mut rotation = Self {
            rotator: Rotator::new(cloud, Arc::new(clock.clone()), limits),
            access,
            faults,
            clock,
            link: link.to_string(),
            user: user.map(String::from),
            values: Vec::new(),
            log: Vec::new(),
        };
        rotation.remember().await;
        rotation
    }

    /// One run, `hours` after the previous one: `event` with this link's name as `Links`.
    async fn run(&mut self, hours: i64, mut event: Value) -> Value {
        self.clock.advance(hours * HOUR);
        event["Links"] = json!([self.link]);
        self.faults.clear_calls();
        let report = match rotator::handle(&self.rotator, &event).await {
            Ok(report) => report,
            Err(e) => json!({"error": e.to_string()}),
        };
        let calls: Vec<&str> = self
            .faults
            .calls()
            .into_iter()
            .map(|op| op.as_str())
            .collect();
        self.remember().await;
        self.log.push(json!({
            "after_hours": hours, "event": event, "calls": calls, "report": report
        }));
        report
    }

    /// Notes the external IDs in every stage, and the user's key ids.
    async fn remember(&mut self) {
        let secrets = self.access.secrets();
        let id_secret = record::external_id_secret_name(&self.link);
        let key_secret = record::access_key_secret_name(&self.link);
        for stage in [AWSCURRENT, AWSPENDING, AWSPREVIOUS] {
            if let Ok(v) = secrets.get_secret_value(&id_secret, stage).await {
                let id = ExternalIdSecret::parse(&v.text).unwrap().external_id;
                self.note(id.expose(), "external-id");
            }
            if let Ok(v) = secrets.get_secret_value(&key_secret, stage).await {
                let key = AccessKeySecret::parse(&v.text).unwrap();
                self.note(&key.access_key_id, "key");
            }
        }
        if let Some(user) = &self.user {
            let iam = self.access.iam(&account(TRUSTED)).await.unwrap();
            let mut keys: Vec<String> = iam
                .list_access_keys(user)
                .await
                .unwrap()
                .into_iter()
                .map(|k| k.id)
                .collect();
            keys.sort();
            for id in keys {
                self.note(&id, "key");
            }
        }
    }

    fn note(&mut self, value: &str, kind: &str) {
        if self.values.iter().any(|(v, _)| v == value) {
            return;
        }
        let n = self.values.iter().filter(|(_, p)| p.contains(kind)).count() + 1;
        self.values
            .push((value.to_string(), format!("<{kind}-{n}>")));
    }

    fn assert_golden(&self, name: &str) {
        let values: Vec<(String, &str)> = self
            .values
            .iter()
            .map(|(v, p)| (v.clone(), p.as_str()))
            .collect();
        let log = strip_times(&normalize(&json!(self.log), &values));
        assert!(
            !log.to_string().contains("AKIA"),
            "{name}: a key id was not seen, so not replaced: {log:#}"
        );
        assert_golden(name, &log);
    }
}

/// Replaces every ISO 8601 time (`2026-12-01T23:44:25Z`, as the reports write them) with
/// `<time>`: the rotator's clock is the system's plus an offset.
fn strip_times(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(replace_times(s)),
        Value::Array(a) => Value::Array(a.iter().map(strip_times).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, x)| (k.clone(), strip_times(x))).collect())
        }
        other => other.clone(),
    }
}

fn replace_times(s: &str) -> String {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:ddZ";
    let is_time = |b: &[u8]| {
        b.len() >= SHAPE.len()
            && SHAPE.iter().zip(b).all(|(shape, c)| match shape {
                b'd' => c.is_ascii_digit(),
                _ => shape == c,
            })
    };
    let bytes = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if is_time(&bytes[i..]) {
            out.push_str("<time>");
            i += SHAPE.len();
        } else {
            // Times are ASCII: copying whole characters keeps the rest intact.
            let c = s[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

#[test]
fn times_are_replaced() {
    assert_eq!(
        replace_times("not due until 2027-03-01T00:00:05Z; é 1999-01-01T00:00:00Z"),
        "not due until <time>; é <time>"
    );
    assert_eq!(replace_times("2027-03-01 00:00:05"), "2027-03-01 00:00:05");
}

/// A forced external ID rotation of a link without a key, then the runs through its grace
/// period until nothing is left to do.
#[tokio::test]
async fn rotator_external_id_cycle_calls_and_reports() {
    let mut r = Rotation::new("golden-rot-ext", None).await;
    let report = r.run(0, json!({"Force": true})).await;
    assert_eq!(report["summary"]["rotated"], json!(1), "{report:#}");
    let report = r.run(23, json!({})).await;
    assert_eq!(report["summary"]["waiting"], json!(1), "{report:#}");
    let report = r.run(2, json!({})).await;
    assert_eq!(report["summary"]["retired"], json!(1), "{report:#}");
    let report = r.run(0, json!({})).await;
    assert_eq!(report["summary"]["skipped"], json!(1), "{report:#}");
    r.assert_golden("rotator-external-id-cycle");
}

/// A forced rotation of a keyed link (both rotations), then the grace periods: the previous
/// ID retired and the previous key deactivated, then deleted; EndGrace on the way.
#[tokio::test]
async fn rotator_access_key_cycle_calls_and_reports() {
    let mut r = Rotation::new("golden-rot-key", Some("GoldenRotUser")).await;
    let report = r.run(0, json!({"Force": true})).await;
    assert_eq!(report["summary"]["rotated"], json!(2), "{report:#}");
    let report = r.run(1, json!({})).await;
    assert_eq!(report["summary"]["waiting"], json!(2), "{report:#}");
    let report = r.run(0, json!({"EndGrace": true})).await;
    assert_eq!(report["summary"]["retired"], json!(1), "{report:#}");
    assert_eq!(report["summary"]["deactivated"], json!(1), "{report:#}");
    let report = r.run(48, json!({})).await;
    assert_eq!(report["summary"]["deleted"], json!(1), "{report:#}");
    let report = r.run(0, json!({})).await;
    assert_eq!(report["summary"]["skipped"], json!(2), "{report:#}");
    r.assert_golden("rotator-access-key-cycle");
}

/// Dry runs, forced and scheduled: what would happen, and nothing written.
#[tokio::test]
async fn rotator_dry_run_calls_and_reports() {
    let mut r = Rotation::new("golden-rot-dry", Some("GoldenRotDryUser")).await;
    let report = r.run(0, json!({"Force": true, "DryRun": true})).await;
    assert_eq!(report["summary"]["planned"], json!(2), "{report:#}");
    let report = r.run(0, json!({"DryRun": true})).await;
    assert_eq!(report["summary"]["skipped"], json!(2), "{report:#}");
    r.assert_golden("rotator-dry-run");
}

/// A run that fails at a step (the new key could not be stored: the failure's text and the
/// creation marker), and the run after it that cleans up and completes the rotation.
#[tokio::test]
async fn rotator_failed_step_calls_and_reports() {
    let mut r = Rotation::new("golden-rot-fail", Some("GoldenRotFailUser")).await;
    // #1 is the external ID's pending value, #2 the new key's.
    r.faults.arm(Op::PutSecretValue, 2, When::Before);
    let report = r.run(0, json!({"Force": true})).await;
    assert!(r.faults.fired(), "{report:#}");
    assert_eq!(report["summary"]["failed"], json!(1), "{report:#}");
    let report = r.run(0, json!({"Force": true})).await;
    assert_eq!(report["summary"]["rotated"], json!(1), "{report:#}");
    r.assert_golden("rotator-failed-step");
}
