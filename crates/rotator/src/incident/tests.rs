//! The incident commands on the in-memory cloud: each command end to end, dry runs, the
//! skip of a suspended link, and a crash at every write boundary of every command followed by
//! a rerun that converges.

use std::collections::HashMap;

use serde_json::{json, Value};
use trustlink_aws::ports::{AccessKeys, Op, Policies, Roles, Secrets, AWSCURRENT};
use trustlink_domain::incident::{revoked_before, REVOKE_POLICY_NAME, SUSPENDED_SID};
use trustlink_domain::policy;
use trustlink_domain::record::{self, AccessKeySecret, ExternalIdSecret, LinkRecord};
use trustlink_domain::Conditions;
use trustlink_tests::faults::When;

use crate::rotation::fixture::{action, Fixture};

const TRUSTING: &str = "111122223333";
const TRUSTED: &str = "444455556666";

async fn link(name: &str) -> Fixture {
    Fixture::link(name, &Conditions::default()).await
}

fn incident(report: &Value) -> &Value {
    &report["links"][0]["incident"]
}

async fn record_of(f: &Fixture) -> LinkRecord {
    let name = record::external_id_secret_name(&f.name);
    let tags = trustlink_aws::ports::Cloud::secrets(&f.cloud)
        .describe_secret(&name)
        .await
        .unwrap()
        .tags;
    LinkRecord::from_tags(&tags).unwrap()
}

async fn current_id(f: &Fixture) -> String {
    let name = record::external_id_secret_name(&f.name);
    let v = trustlink_aws::ports::Cloud::secrets(&f.cloud)
        .get_secret_value(&name, AWSCURRENT)
        .await
        .unwrap();
    let id = ExternalIdSecret::parse(&v.text).unwrap().external_id;
    id.expose().to_string()
}

async fn current_key(f: &Fixture) -> String {
    let name = record::access_key_secret_name(&f.name);
    let v = trustlink_aws::ports::Cloud::secrets(&f.cloud)
        .get_secret_value(&name, AWSCURRENT)
        .await
        .unwrap();
    AccessKeySecret::parse(&v.text).unwrap().access_key_id
}

/// What an incident command may change: the trust policy, the role's tags and inline
/// policies, the grant, the user's keys with their status. Compared document by document.
async fn snapshot(f: &Fixture) -> Value {
    let trusting = f.cloud.iam_of(TRUSTING);
    let role = trusting.get_role(&f.name).await.unwrap();
    let inline = trusting.list_role_policies(&f.name).await.unwrap();
    let grant = record_of(f).await.grant_policy_arn.unwrap();
    let trusted = f.cloud.iam_of(TRUSTED);
    let keys: Vec<Value> = trusted
        .list_access_keys(&f.user)
        .await
        .unwrap()
        .iter()
        .map(|k| json!([k.id, format!("{:?}", k.status)]))
        .collect();
    json!({
        "trust": role.trust_policy,
        "tags": role.tags,
        "inline": inline,
        "grant": trusted.get_policy_document(&grant).await.unwrap(),
        "keys": keys,
    })
}

async fn revoked(f: &Fixture) -> Option<i64> {
    let doc = f
        .cloud
        .iam_of(TRUSTING)
        .get_role_policy(&f.name, REVOKE_POLICY_NAME)
        .await
        .ok()?;
    revoked_before(&doc)
}

#[tokio::test]
async fn revoke_puts_the_deny_and_a_later_revoke_moves_it_forward() {
    let f = link("inc-revoke").await;
    let report = f.run(0, json!({"Revoke": true})).await;
    assert_eq!(incident(&report)["action"], "revoked", "{report:#}");
    assert_eq!(incident(&report)["command"], "Revoke");
    assert!(
        report["links"][0].get("external_id").is_none(),
        "{report:#}"
    );
    let first = revoked(&f).await.expect("the revoke policy");
    let now = f.cloud.now();
    assert!((now - 5..=now).contains(&first), "{first} vs {now}");
    assert_eq!(report["summary"]["revoked"], 1, "{report:#}");

    let report = f.run(2, json!({"Revoke": true})).await;
    assert_eq!(incident(&report)["action"], "revoked", "{report:#}");
    let second = revoked(&f).await.unwrap();
    assert!(
        second >= first + 2 * 3600,
        "moved forward: {first} -> {second}"
    );
    // The rotations still run as before on a revoked link.
    let report = f.run(0, json!({"Force": true})).await;
    assert_eq!(action(&report, "external_id"), "rotated", "{report:#}");
}

#[tokio::test]
async fn suspend_then_resume_returns_everything_to_its_earlier_state() {
    let f = link("inc-suspend").await;
    let before = snapshot(&f).await;
    let key = current_key(&f).await;
    let report = f
        .run(
            0,
            json!({"Suspend": true, "Reason": "INC-7: partner offboarded"}),
        )
        .await;
    assert_eq!(incident(&report)["action"], "suspended", "{report:#}");
    let detail = incident(&report)["detail"].as_str().unwrap();
    assert!(
        detail.contains(&key) && detail.contains("INC-7"),
        "{detail}"
    );
    let during = snapshot(&f).await;
    let trust = &during["trust"];
    assert_eq!(trust["Statement"][1]["Sid"], SUSPENDED_SID, "{during:#}");
    assert_eq!(trust["Statement"][1]["Effect"], "Deny");
    assert_eq!(during["keys"], json!([[key, "Inactive"]]));
    assert_eq!(during["tags"]["trustlink:suspended-key"], json!(key));
    assert_eq!(during["tags"]["trustlink:suspended-by"], "unknown");
    assert_eq!(during["grant"], before["grant"], "the grant is kept");

    // A second Suspend changes nothing and keeps the first record.
    let report = f.run(1, json!({"Suspend": true, "Reason": "again"})).await;
    assert!(incident(&report)["detail"]
        .as_str()
        .unwrap()
        .starts_with("already suspended"));
    assert_eq!(snapshot(&f).await, during);

    // Scheduled and forced rotations skip the link, writing nothing.
    for event in [json!({}), json!({"Force": true})] {
        let report = f.run(24 * 100, event).await;
        assert_eq!(action(&report, "external_id"), "suspended", "{report:#}");
        assert_eq!(action(&report, "access_key"), "suspended", "{report:#}");
        assert_eq!(report["summary"]["suspended"], 2, "{report:#}");
        assert_eq!(f.faults.calls(), vec![Op::ListSecrets, Op::GetRole]);
        assert_eq!(snapshot(&f).await, during);
    }
    // Compromised waits for a Resume.
    let report = f.run(0, json!({"Compromised": "both"})).await;
    assert_eq!(incident(&report)["action"], "failed", "{report:#}");
    assert_eq!(snapshot(&f).await, during);

    let report = f.run(0, json!({"Resume": true})).await;
    assert_eq!(incident(&report)["action"], "resumed", "{report:#}");
    assert_eq!(
        snapshot(&f).await,
        before,
        "exactly as before the suspension"
    );
    let report = f.run(0, json!({"Resume": true})).await;
    assert_eq!(incident(&report)["action"], "skipped", "{report:#}");
    let report = f.run(0, json!({"Force": true})).await;
    assert_eq!(action(&report, "access_key"), "rotated", "{report:#}");
}

#[tokio::test]
async fn resume_reactivates_only_the_key_the_suspension_deactivated() {
    let f = link("inc-other-key").await;
    let trusted = f.cloud.iam_of(TRUSTED);
    let other = trusted.create_access_key(&f.user).await.unwrap();
    trusted
        .set_access_key_status(
            &f.user,
            &other.id,
            trustlink_aws::ports::KeyStatus::Inactive,
        )
        .await
        .unwrap();
    let before = snapshot(&f).await;
    f.run(0, json!({"Suspend": true, "Reason": "r"})).await;
    f.run(0, json!({"Resume": true})).await;
    assert_eq!(snapshot(&f).await, before);
}

#[tokio::test]
async fn compromised_both_replaces_both_with_no_grace_then_revokes() {
    let f = link("inc-both").await;
    let (old_id, old_key) = (current_id(&f).await, current_key(&f).await);
    let report = f.run(0, json!({"Compromised": "both"})).await;
    assert_eq!(action(&report, "external_id"), "rotated", "{report:#}");
    assert_eq!(action(&report, "access_key"), "rotated", "{report:#}");
    let entry = incident(&report);
    assert_eq!(entry["action"], "revoked", "{report:#}");
    assert_eq!(entry["command"], "Compromised");
    let stopped: Vec<&str> = entry["stopped_working"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["what"].as_str().unwrap())
        .collect();
    assert_eq!(stopped[0], "the previous external ID");
    assert_eq!(stopped[1], format!("the previous access key {old_key}"));
    assert!(stopped[2].starts_with("sessions issued before "));
    assert!(
        !report.to_string().contains(&old_id),
        "no external ID in the report"
    );
    assert_settled(&f, &old_id, &old_key).await;
    assert!(revoked(&f).await.is_some());
}

/// One ID accepted, the AWSCURRENT one and new; one key, the AWSCURRENT one and new.
async fn assert_settled(f: &Fixture, old_id: &str, old_key: &str) {
    let (id, key) = (current_id(f).await, current_key(f).await);
    assert_ne!(id, old_id);
    assert_ne!(key, old_key);
    let role = f.cloud.iam_of(TRUSTING).get_role(&f.name).await.unwrap();
    assert_eq!(policy::accepted_external_ids(&role.trust_policy), vec![id]);
    let keys = f
        .cloud
        .iam_of(TRUSTED)
        .list_access_keys(&f.user)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0].id, key);
}

#[tokio::test]
async fn compromised_external_id_leaves_the_key_alone() {
    let f = link("inc-ext").await;
    let old_key = current_key(&f).await;
    let report = f.run(0, json!({"Compromised": "external-id"})).await;
    assert_eq!(action(&report, "external_id"), "rotated", "{report:#}");
    assert!(report["links"][0].get("access_key").is_none(), "{report:#}");
    assert_eq!(current_key(&f).await, old_key);
    let role = f.cloud.iam_of(TRUSTING).get_role(&f.name).await.unwrap();
    assert_eq!(policy::accepted_external_ids(&role.trust_policy).len(), 1);
}

/// Right after a scheduled rotation (a previous ID and key in their grace period), the
/// leaked value is the new one: the previous ones stop at once and the current is replaced.
#[tokio::test]
async fn compromised_during_a_grace_period_retires_both_old_values() {
    let f = link("inc-grace").await;
    let (first_id, first_key) = (current_id(&f).await, current_key(&f).await);
    f.run(0, json!({"Force": true})).await;
    let (second_id, second_key) = (current_id(&f).await, current_key(&f).await);
    let report = f.run(1, json!({"Compromised": "both"})).await;
    assert_eq!(incident(&report)["action"], "revoked", "{report:#}");
    for old in [&first_id, &second_id] {
        assert_settled(&f, old, &first_key).await;
    }
    assert_settled(&f, &second_id, &second_key).await;
}

#[tokio::test]
async fn dry_runs_list_what_would_change_and_write_nothing() {
    let f = link("inc-dry").await;
    let before = snapshot(&f).await;
    for event in [
        json!({"Revoke": true}),
        json!({"Suspend": true, "Reason": "r"}),
        json!({"Compromised": "both"}),
    ] {
        let mut event = event;
        event["DryRun"] = json!(true);
        let report = f.run(0, event.clone()).await;
        assert_eq!(report["dry_run"], true);
        let planned = [
            &report["links"][0]["incident"]["action"],
            &report["links"][0]["external_id"]["action"],
        ];
        assert!(planned.contains(&&json!("planned")), "{event}: {report:#}");
        assert_eq!(snapshot(&f).await, before, "{event}");
    }
    let report = f
        .run(0, json!({"Suspend": true, "Reason": "r", "DryRun": true}))
        .await;
    assert!(incident(&report)["detail"]
        .as_str()
        .unwrap()
        .starts_with("would Record"));
}

/// The writes (and proofs) a command makes, as (op, nth call): where a run can stop.
fn boundaries(calls: &[Op]) -> Vec<(Op, u32)> {
    let writes = [
        Op::PutRolePolicy,
        Op::TagRole,
        Op::UntagRole,
        Op::UpdateTrustPolicy,
        Op::SetAccessKeyStatus,
        Op::SetPolicyDocument,
        Op::PutSecretValue,
        Op::MoveStage,
        Op::RemoveStage,
        Op::TagSecret,
        Op::CreateAccessKey,
        Op::DeleteAccessKey,
        Op::AssumeRole,
        Op::CallerIdentity,
    ];
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for op in calls {
        let n = seen.entry(*op).or_insert(0u32);
        *n += 1;
        if writes.contains(op) {
            out.push((*op, *n));
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
enum Scenario {
    Revoke,
    Suspend,
    Resume,
    Compromised,
}

impl Scenario {
    fn event(self) -> Value {
        match self {
            Self::Revoke => json!({"Revoke": true}),
            Self::Suspend => json!({"Suspend": true, "Reason": "crash test"}),
            Self::Resume => json!({"Resume": true}),
            Self::Compromised => json!({"Compromised": "both"}),
        }
    }

    /// A fresh link as the command finds it, and the state to compare with after it.
    async fn setup(self, name: &str) -> (Fixture, Value, String, String) {
        let f = link(name).await;
        let before = snapshot(&f).await;
        if let Self::Resume = self {
            f.run(0, Self::Suspend.event()).await;
        }
        let (id, key) = (current_id(&f).await, current_key(&f).await);
        (f, before, id, key)
    }

    async fn check(self, f: &Fixture, before: &Value, old_id: &str, old_key: &str, case: &str) {
        let now = snapshot(f).await;
        match self {
            Self::Revoke => assert!(revoked(f).await.is_some(), "{case}"),
            Self::Suspend => {
                assert_eq!(now["trust"]["Statement"][1]["Sid"], SUSPENDED_SID, "{case}");
                assert_eq!(now["keys"], json!([[old_key, "Inactive"]]), "{case}");
                assert!(now["tags"]["trustlink:suspended-at"].is_string(), "{case}");
            }
            Self::Resume => assert_eq!(&now, before, "{case}"),
            Self::Compromised => {
                assert_settled(f, old_id, old_key).await;
                assert!(revoked(f).await.is_some(), "{case}");
            }
        }
    }
}

/// A command stopped at any write, before or after it, then run again, ends where a clean
/// run does. Where the stop leaves a key nothing recorded (CreateAccessKey, After), the
/// rerun holds it for an operator, who deletes it, as in the rotations' own crash tests.
#[tokio::test]
async fn a_command_stopped_at_any_write_converges_when_run_again() {
    let mut total = 0;
    for scenario in [
        Scenario::Revoke,
        Scenario::Suspend,
        Scenario::Resume,
        Scenario::Compromised,
    ] {
        let (f, ..) = scenario.setup(&format!("inc-probe-{scenario:?}")).await;
        f.run(0, scenario.event()).await;
        let cases = boundaries(&f.faults.calls());
        assert!(!cases.is_empty(), "{scenario:?}");
        for (n, (op, nth)) in cases.iter().enumerate() {
            for when in [When::Before, When::After] {
                let case = format!("{scenario:?}: {op} #{nth} {when:?}");
                let name = format!("inc-crash-{scenario:?}-{n}-{when:?}");
                let (f, before, old_id, old_key) = scenario.setup(&name).await;
                f.faults.arm(*op, *nth, when);
                let first = f.run(0, scenario.event()).await;
                assert!(f.faults.fired(), "{case}: never struck: {first:#}");
                f.faults.disarm();
                let mut rerun = f.run(1, scenario.event()).await;
                if (*op, when) == (Op::CreateAccessKey, When::After) {
                    held_then_deleted(&f, &old_key, &rerun, &case).await;
                    rerun = f.run(0, scenario.event()).await;
                }
                let entry = incident(&rerun);
                assert_ne!(entry["action"], "failed", "{case}: {rerun:#}");
                scenario.check(&f, &before, &old_id, &old_key, &case).await;
                total += 1;
            }
        }
    }
    println!("{total} crash cases converged");
    assert!(total >= 30, "{total}");
}

/// The key a stopped run made and never recorded: left alone and named, then deleted by the
/// operator.
async fn held_then_deleted(f: &Fixture, old_key: &str, report: &Value, case: &str) {
    let detail = report["links"][0]["access_key"]["detail"].as_str().unwrap();
    assert!(detail.contains("someone else's"), "{case}: {detail}");
    let trusted = f.cloud.iam_of(TRUSTED);
    let keys = trusted.list_access_keys(&f.user).await.unwrap();
    let current = current_key(f).await;
    for k in keys.iter().filter(|k| k.id != old_key && k.id != current) {
        assert!(detail.contains(&k.id), "{case}: {detail}");
        trusted.delete_access_key(&f.user, &k.id).await.unwrap();
    }
}
