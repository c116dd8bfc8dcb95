//! The rotator's incident commands against moto (issue 14): Revoke puts and moves the deny,
//! Suspend then Resume returns every document and key to its earlier state, a scheduled run
//! during a suspension changes nothing, Compromised replaces the values with no grace, a run
//! stopped at a write converges when run again, trust-link's Update keeps what the commands
//! added and its Delete removes it, and no secret reaches a log line or a result.
//! Enforcement (refused, working) is proven on fakecloud: `tests/enforcement_incident.rs`.

use std::sync::Arc;
use std::time::Duration;

use rotator::{Limits, OffsetClock, Rotator};
use serde_json::{json, Value};
use trustlink_aws::ports::{AccessKeys, Cloud, Op, Policies, Roles, Sts};
use trustlink_aws::{AccountAccess, NotFoundExt};
use trustlink_domain::incident::{revoked_before, REVOKE_POLICY_NAME, SUSPENDED_SID};
use trustlink_domain::rotation::HOUR;
use trustlink_domain::LinkSpec;
use trustlink_tests::faults::{Faults, FaultyCloud, When};
use trustlink_tests::links::*;
use trustlink_tests::*;

fn rotator_for<C: Cloud>(cloud: C, clock: &OffsetClock) -> Rotator<C> {
    let limits = Limits {
        concurrency: 4,
        verify_attempts: 5,
        verify_delay: Duration::from_millis(100),
    };
    Rotator::new(cloud, Arc::new(clock.clone()), limits)
}

/// Runs `event` for `link` (its `Links` set); the report, scanned for the link's secrets.
async fn run<C: Cloud>(r: &Rotator<C>, access: &AccountAccess, link: &Link, event: Value) -> Value {
    let mut event = event;
    event["Links"] = json!([link.name]);
    let report = rotator::handle(r, &event)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    no_secret_in_report(access, link, &report).await;
    report
}

async fn no_secret_in_report(access: &AccountAccess, link: &Link, report: &Value) {
    let id = current_external_id(access, link).await;
    let key = current_key(access, link).await;
    assert_no_secret_in(
        "the report",
        &report.to_string(),
        &[&id, key.secret_access_key.expose()],
    );
}

fn rotation() -> Value {
    json!({"ExternalIdDays": 90, "AccessKeyDays": 90, "GraceHours": 24})
}

fn incident(report: &Value) -> &Value {
    &report["links"][0]["incident"]
}

fn grant_arn(link: &Link) -> String {
    format!(
        "arn:aws:iam::{TRUSTED}:policy/trustlink/TrustLink-{}",
        link.name
    )
}

/// Every document and key an incident command may touch, document by document: the trust
/// policy, the role's tags and inline policies, the grant, the keys with their status.
async fn documents(access: &AccountAccess, link: &Link) -> Value {
    let role = trusting_role(access, link).await;
    let trusting = access.iam(&account(TRUSTING)).await.unwrap();
    let trusted = access.iam(&account(TRUSTED)).await.unwrap();
    let keys = trusted
        .list_access_keys(link.user.as_deref().unwrap())
        .await
        .unwrap();
    json!({
        "trust": role.trust_policy,
        "tags": role.tags,
        "inline": trusting.list_role_policies(&link.role).await.unwrap(),
        "grant": trusted.get_policy_document(&grant_arn(link)).await.unwrap(),
        "keys": keys.iter().map(|k| json!([k.id, format!("{:?}", k.status)])).collect::<Vec<_>>(),
    })
}

async fn revoked(access: &AccountAccess, link: &Link) -> Option<i64> {
    let trusting = access.iam(&account(TRUSTING)).await.unwrap();
    let doc = trusting
        .get_role_policy(&link.role, REVOKE_POLICY_NAME)
        .await
        .optional()
        .unwrap()?;
    revoked_before(&doc)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn revoke_puts_the_deny_with_the_time_and_a_later_revoke_moves_it() {
    let logs = capture_logs();
    let access = access().await;
    let link = create_link(&access, "inc-rev-", true, rotation()).await;
    let clock = OffsetClock::default();
    let r = rotator_for(access.clone(), &clock);
    let asked_at = now();
    let report = run(&r, &access, &link, json!({"Revoke": true})).await;
    assert_eq!(incident(&report)["action"], "revoked", "{report:#}");
    let first = revoked(&access, &link).await.expect("the revoke policy");
    assert!(
        (asked_at..=now()).contains(&first),
        "{first} is the time of the command"
    );
    let doc = access
        .iam(&account(TRUSTING))
        .await
        .unwrap()
        .get_role_policy(&link.role, REVOKE_POLICY_NAME)
        .await
        .unwrap();
    assert_eq!(
        doc,
        trustlink_domain::incident::revoke_policy(first),
        "IAM's form"
    );
    let detail = incident(&report)["detail"].as_str().unwrap();
    assert!(
        detail.contains(&trustlink_domain::Timestamp::from_epoch_seconds(first).to_iso8601()),
        "{detail}"
    );

    clock.advance(3 * HOUR);
    let report = run(&r, &access, &link, json!({"Revoke": true})).await;
    assert_eq!(incident(&report)["action"], "revoked", "{report:#}");
    let second = revoked(&access, &link).await.unwrap();
    assert!(
        second >= first + 3 * HOUR,
        "moved forward: {first} -> {second}"
    );
    assert_logs_clean(&logs);
}

#[tokio::test]
async fn suspend_then_resume_returns_every_document_and_key_and_a_scheduled_run_skips() {
    let logs = capture_logs();
    let access = access().await;
    let link = create_link(&access, "inc-sus-", true, rotation()).await;
    let clock = OffsetClock::default();
    let faults = Faults::new();
    let r = rotator_for(FaultyCloud::new(access.clone(), faults.clone()), &clock);
    let before = documents(&access, &link).await;
    let key = current_key(&access, &link).await.access_key_id;

    let event = json!({"Suspend": true, "Reason": "INC-42: partner offboarded for a day"});
    let report = run(&r, &access, &link, event).await;
    assert_eq!(incident(&report)["action"], "suspended", "{report:#}");
    let during = documents(&access, &link).await;
    let statements = during["trust"]["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2, "{during:#}");
    assert_eq!(
        statements[0], before["trust"]["Statement"][0],
        "the allow is kept"
    );
    assert_eq!(
        statements[1],
        json!({"Sid": SUSPENDED_SID, "Effect": "Deny", "Principal": {"AWS": link.principal}, "Action": "sts:AssumeRole"})
    );
    assert_eq!(during["keys"], json!([[key, "Inactive"]]));
    assert_eq!(during["grant"], before["grant"]);
    let tags = &during["tags"];
    assert_eq!(
        tags["trustlink:suspended-reason"],
        "INC-42: partner offboarded for a day"
    );
    assert_eq!(tags["trustlink:suspended-key"], json!(key));
    assert_eq!(tags["trustlink:suspended-by"], "unknown");

    // Weeks later, long past due, the schedule's decision (no Force; for this link only, as
    // the other tests of this binary share the server): nothing of the link is touched.
    clock.advance(100 * 24 * HOUR);
    faults.clear_calls();
    let report = run(&r, &access, &link, json!({})).await;
    let ours = &report["links"][0];
    assert_eq!(ours["external_id"]["action"], "suspended", "{ours:#}");
    assert_eq!(ours["access_key"]["action"], "suspended", "{ours:#}");
    assert_eq!(report["summary"]["suspended"], 2, "{report:#}");
    assert_eq!(
        faults.calls(),
        vec![Op::ListSecrets, Op::GetRole],
        "only reads"
    );
    assert_eq!(documents(&access, &link).await, during);
    let forced = run(&r, &access, &link, json!({"Force": true})).await;
    assert_eq!(forced["links"][0]["external_id"]["action"], "suspended");
    assert_eq!(documents(&access, &link).await, during);

    let report = run(&r, &access, &link, json!({"Resume": true})).await;
    assert_eq!(incident(&report)["action"], "resumed", "{report:#}");
    let after = documents(&access, &link).await;
    for part in ["trust", "tags", "inline", "grant", "keys"] {
        assert_eq!(
            after[part], before[part],
            "{part} is as before the suspension"
        );
    }
    assert_invariants(&access, &link, "after Resume").await;
    assert_logs_clean(&logs);
}

#[tokio::test]
async fn compromised_both_replaces_the_values_with_no_grace_and_revokes() {
    let logs = capture_logs();
    let access = access().await;
    let link = create_link(&access, "inc-comp-", true, rotation()).await;
    let clock = OffsetClock::default();
    let r = rotator_for(access.clone(), &clock);
    let old_id = current_external_id(&access, &link).await;
    let old_key = current_key(&access, &link).await;

    let report = run(&r, &access, &link, json!({"Compromised": "both"})).await;
    assert_eq!(
        report["links"][0]["external_id"]["action"], "rotated",
        "{report:#}"
    );
    assert_eq!(
        report["links"][0]["access_key"]["action"], "rotated",
        "{report:#}"
    );
    let entry = incident(&report);
    assert_eq!(entry["action"], "revoked", "{report:#}");
    let stopped = entry["stopped_working"].as_array().unwrap();
    assert_eq!(stopped[0]["what"], "the previous external ID");
    assert_eq!(
        stopped[1]["what"],
        json!(format!("the previous access key {}", old_key.access_key_id))
    );
    assert_no_secret_in("the report", &report.to_string(), &[&old_id]);

    // The previous ID is no longer accepted (trust policy and grant), the previous key is gone.
    assert_settled(
        &access,
        &link,
        &old_id,
        Some(&old_key.access_key_id),
        "Compromised",
    )
    .await;
    let grant = access
        .iam(&account(TRUSTED))
        .await
        .unwrap()
        .get_policy_document(&grant_arn(&link))
        .await
        .unwrap();
    let new_id = current_external_id(&access, &link).await;
    assert_eq!(
        grant["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"],
        json!(new_id)
    );
    let new_key = current_key(&access, &link).await;
    let me = access
        .sts_as(&credentials(&new_key))
        .caller_identity()
        .await;
    assert_eq!(me.unwrap().arn, link.principal, "the new key works");
    assert!(revoked(&access, &link).await.is_some());
    assert_logs_clean(&logs);
}

/// On moto, one stop per command at its central write (the every-boundary sweep runs on the
/// memory cloud: `cargo test -p rotator --lib incident`): the rerun converges.
#[tokio::test]
async fn a_command_stopped_at_a_write_converges_when_run_again() {
    let logs = capture_logs();
    let access = access().await;
    let cases = [
        (
            json!({"Suspend": true, "Reason": "crash"}),
            Op::UpdateTrustPolicy,
            When::After,
        ),
        (json!({"Compromised": "both"}), Op::MoveStage, When::After),
        (
            json!({"Compromised": "both"}),
            Op::SetAccessKeyStatus,
            When::Before,
        ),
    ];
    for (event, op, when) in cases {
        let case = format!("{event} {op} {when:?}");
        let link = create_link(&access, "inc-crash-", true, rotation()).await;
        let old_id = current_external_id(&access, &link).await;
        let old_key = current_key(&access, &link).await.access_key_id;
        let faults = Faults::new();
        faults.arm(op, 1, when);
        let clock = OffsetClock::default();
        let r = rotator_for(FaultyCloud::new(access.clone(), faults.clone()), &clock);
        let first = run(&r, &access, &link, event.clone()).await;
        assert!(faults.fired(), "{case}: {first:#}");
        faults.disarm();
        let rerun = run(&r, &access, &link, event.clone()).await;
        assert_ne!(incident(&rerun)["action"], "failed", "{case}: {rerun:#}");
        if event.get("Suspend").is_some() {
            let d = documents(&access, &link).await;
            assert_eq!(d["trust"]["Statement"][1]["Sid"], SUSPENDED_SID, "{case}");
            assert_eq!(d["keys"], json!([[old_key, "Inactive"]]), "{case}");
        } else {
            assert_settled(&access, &link, &old_id, Some(&old_key), &case).await;
        }
    }
    assert_logs_clean(&logs);
}

/// The revoke policy and a suspension are part of the link: trust-link's Update keeps them,
/// its Delete removes the role with them.
#[tokio::test]
async fn trust_links_update_keeps_what_the_commands_added_and_delete_removes_it() {
    let logs = capture_logs();
    let access = access().await;
    let link = create_link(&access, "inc-upd-", true, rotation()).await;
    let r = rotator_for(access.clone(), &OffsetClock::default());
    run(&r, &access, &link, json!({"Revoke": true})).await;
    run(
        &r,
        &access,
        &link,
        json!({"Suspend": true, "Reason": "update test"}),
    )
    .await;
    let suspended = documents(&access, &link).await;

    let props = json!({
        "LinkName": link.name, "TrustingAccount": TRUSTING, "TrustedPrincipal": link.principal,
        "Rotation": {"ExternalIdDays": 30, "AccessKeyDays": 90, "GraceHours": 24},
        "Role": {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"], "Description": "updated"},
        "TrustedSide": {"Grant": true, "CreateUser": true, "AccessKey": true},
    });
    let spec = LinkSpec::from_properties(&props).unwrap();
    let service = trustlink_tests::enforce::service(&access);
    // The update's own verification cannot pass while the link is suspended; what matters
    // here is what it leaves on the role.
    let _ = Box::pin(service.update(&spec, &link.role_arn)).await;
    let updated = documents(&access, &link).await;
    assert_eq!(
        updated["trust"], suspended["trust"],
        "the suspension is kept"
    );
    assert_eq!(
        updated["inline"],
        json!([REVOKE_POLICY_NAME]),
        "the revoke policy is kept"
    );
    for tag in trustlink_domain::incident::tag::ALL {
        assert_eq!(updated["tags"][tag], suspended["tags"][tag], "{tag}");
    }

    Box::pin(service.delete(&link.role_arn, Some(&link.name)))
        .await
        .unwrap();
    let gone = access
        .iam(&account(TRUSTING))
        .await
        .unwrap()
        .get_role(&link.role)
        .await;
    assert!(
        gone.unwrap_err().is_not_found(),
        "the role, its policy and tags are gone"
    );
    assert_logs_clean(&logs);
}
