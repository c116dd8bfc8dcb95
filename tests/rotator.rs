//! The rotator against moto: full cycles of both rotations, holds, room-making, dry runs,
//! concurrent runs, and a crash at every step boundary of both rotations.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rotator::{Limits, OffsetClock, Rotator};
use serde_json::{json, Value};
use trustlink_aws::ports::{AccessKeys, KeyStatus, Op, Policies, Secrets, Sts, AWSPREVIOUS};
use trustlink_aws::AccountAccess;
use trustlink_domain::policy;
use trustlink_domain::record;
use trustlink_domain::rotation::HOUR;
use trustlink_tests::faults::{Faults, FaultyCloud, When};
use trustlink_tests::links::*;
use trustlink_tests::rotator_support::{held_until_an_operator_deletes, snapshot, unrecorded_key};
use trustlink_tests::*;

fn limits() -> Limits {
    Limits {
        concurrency: 4,
        verify_attempts: 5,
        verify_delay: Duration::from_millis(100),
    }
}

fn rotator_for<C: trustlink_aws::ports::Cloud>(cloud: C, clock: &OffsetClock) -> Rotator<C> {
    Rotator::new(cloud, Arc::new(clock.clone()), limits())
}

async fn run<C: trustlink_aws::ports::Cloud>(r: &Rotator<C>, event: Value) -> Value {
    rotator::handle(r, &event)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn force(link: &Link) -> Value {
    json!({"Force": true, "Links": [link.name]})
}

fn only(link: &Link) -> Value {
    json!({"Links": [link.name]})
}

fn action<'a>(report: &'a Value, kind: &str) -> &'a str {
    report["links"][0][kind]["action"]
        .as_str()
        .unwrap_or_default()
}

fn rotation() -> Value {
    json!({"ExternalIdDays": 90, "AccessKeyDays": 90, "GraceHours": 24})
}

#[tokio::test]
async fn external_id_full_cycle() {
    let logs = capture_logs();
    let access = access().await;
    let link = create_link(&access, "rot-ext-", false, rotation()).await;
    let clock = OffsetClock::default();
    let r = rotator_for(access.clone(), &clock);
    let old = current_external_id(&access, &link).await;

    let report = run(&r, force(&link)).await;
    assert_eq!(action(&report, "external_id"), "rotated", "{report:#}");
    let new = current_external_id(&access, &link).await;
    remember_secret(&new);
    assert_ne!(new, old);
    let mut both = vec![old.clone(), new.clone()];
    both.sort();
    assert_eq!(
        accepted_ids(&access, &link).await,
        both,
        "both IDs are accepted during the grace period"
    );
    assert_eq!(
        external_id_at(&access, &link, AWSPREVIOUS).await.as_deref(),
        Some(old.as_str())
    );
    let role = trusting_role(&access, &link).await;
    assert!(
        policy::admits(&role.trust_policy, &link.principal, &old)
            && policy::admits(&role.trust_policy, &link.principal, &new)
    );
    assert_eq!(
        role.trust_policy["Statement"][0]["Action"], "sts:AssumeRole",
        "the rest of the policy is kept"
    );

    // Before the grace period ends nothing changes.
    clock.advance(23 * HOUR);
    let trust_before = role.trust_policy.clone();
    let report = run(&r, only(&link)).await;
    assert_eq!(action(&report, "external_id"), "waiting", "{report:#}");
    let role = trusting_role(&access, &link).await;
    assert_eq!(role.trust_policy, trust_before);

    // After it, only the new ID is accepted.
    clock.advance(2 * HOUR);
    let report = run(&r, only(&link)).await;
    assert_eq!(action(&report, "external_id"), "retired", "{report:#}");
    assert_eq!(accepted_ids(&access, &link).await, vec![new.clone()]);
    assert_invariants(&access, &link, "after the cycle").await;
    let report = run(&r, only(&link)).await;
    assert_eq!(
        action(&report, "external_id"),
        "skipped",
        "settled: {report:#}"
    );
    assert_logs_clean(&logs);
}

#[tokio::test]
async fn access_key_full_cycle_with_grant_updates() {
    let logs = capture_logs();
    let access = access().await;
    let link = create_link(&access, "rot-key-", true, rotation()).await;
    let clock = OffsetClock::default();
    let r = rotator_for(access.clone(), &clock);
    let user = link.user.clone().unwrap();
    let iam = access.iam(&account(TRUSTED)).await.unwrap();
    let old_key = current_key(&access, &link).await;
    let old_id = current_external_id(&access, &link).await;

    let report = run(&r, force(&link)).await;
    assert_eq!(action(&report, "access_key"), "rotated", "{report:#}");
    assert_eq!(action(&report, "external_id"), "rotated", "{report:#}");
    let new_key = current_key(&access, &link).await;
    // The key creation is finished: no marker is left to hold up the next steps.
    let key_secret = record::access_key_secret_name(&link.name);
    let tags = access
        .secrets()
        .describe_secret(&key_secret)
        .await
        .unwrap()
        .tags;
    assert_eq!(
        tags.get(record::tag::KEYS_BEFORE_CREATE)
            .map(String::as_str),
        Some(""),
        "{tags:?}"
    );
    assert_ne!(new_key.access_key_id, old_key.access_key_id);
    let me = access
        .sts_as(&credentials(&new_key))
        .caller_identity()
        .await
        .unwrap();
    assert_eq!(me.arn, link.principal, "the new AWSCURRENT key works");
    let status = |keys: &Vec<trustlink_aws::ports::AccessKeyInfo>, id: &str| {
        keys.iter().find(|k| k.id == id).map(|k| k.status)
    };
    let keys = iam.list_access_keys(&user).await.unwrap();
    assert_eq!(
        status(&keys, &old_key.access_key_id),
        Some(KeyStatus::Active),
        "the old key works during the grace period"
    );
    // The grant follows the external ID: both accepted.
    let new_id = current_external_id(&access, &link).await;
    let grant = format!(
        "arn:aws:iam::{TRUSTED}:policy/trustlink/TrustLink-{}",
        link.name
    );
    let doc = iam.get_policy_document(&grant).await.unwrap();
    let mut ids = vec![old_id.clone(), new_id.clone()];
    ids.sort();
    let mut got: Vec<String> = serde_json::from_value(
        doc["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"].clone(),
    )
    .unwrap();
    got.sort();
    assert_eq!(got, ids);

    clock.advance(25 * HOUR);
    let report = run(&r, only(&link)).await;
    assert_eq!(action(&report, "access_key"), "deactivated", "{report:#}");
    let keys = iam.list_access_keys(&user).await.unwrap();
    assert_eq!(
        status(&keys, &old_key.access_key_id),
        Some(KeyStatus::Inactive)
    );
    assert_eq!(
        status(&keys, &new_key.access_key_id),
        Some(KeyStatus::Active)
    );

    clock.advance(24 * HOUR);
    let report = run(&r, only(&link)).await;
    assert_eq!(action(&report, "access_key"), "deleted", "{report:#}");
    assert_settled(
        &access,
        &link,
        &old_id,
        Some(&old_key.access_key_id),
        "after the key cycle",
    )
    .await;
    assert_eq!(
        iam.get_policy_document(&grant).await.unwrap()["Statement"][0]["Condition"]["StringEquals"]
            ["sts:ExternalId"],
        json!(new_id)
    );
    assert_logs_clean(&logs);
}

#[tokio::test]
async fn an_old_key_used_after_the_switch_is_held_and_reported() {
    let logs = capture_logs();
    let access = access().await;
    let link = create_link(&access, "rot-hold-", true, rotation()).await;
    let clock = OffsetClock::default();
    let r = rotator_for(access.clone(), &clock);
    let old_key = current_key(&access, &link).await;
    run(&r, force(&link)).await;
    tokio::time::sleep(Duration::from_millis(1100)).await; // last-used times have one-second resolution
                                                           // A consumer still uses the old key after the switch.
    access
        .sts_as(&credentials(&old_key))
        .caller_identity()
        .await
        .unwrap();

    clock.advance(25 * HOUR);
    let report = run(&r, only(&link)).await;
    assert_eq!(action(&report, "access_key"), "held", "{report:#}");
    let detail = report["links"][0]["access_key"]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&old_key.access_key_id) && detail.contains("used"),
        "{detail}"
    );
    let keys = access
        .iam(&account(TRUSTED))
        .await
        .unwrap()
        .list_access_keys(link.user.as_ref().unwrap())
        .await
        .unwrap();
    assert_eq!(
        keys.iter()
            .find(|k| k.id == old_key.access_key_id)
            .unwrap()
            .status,
        KeyStatus::Active,
        "held active"
    );
    assert_eq!(report["summary"]["held"], json!(1));

    let report = run(&r, json!({"Links": [link.name], "ReleaseHolds": true})).await;
    assert_eq!(action(&report, "access_key"), "deactivated", "{report:#}");
    assert_logs_clean(&logs);
}

#[tokio::test]
async fn a_user_that_already_has_two_keys() {
    let logs = capture_logs();
    let access = access().await;
    let clock = OffsetClock::default();
    let r = rotator_for(access.clone(), &clock);
    let iam = access.iam(&account(TRUSTED)).await.unwrap();

    // An inactive second key is retired: it goes to make room.
    let link = create_link(&access, "rot-room-", true, rotation()).await;
    let user = link.user.clone().unwrap();
    let extra = iam.create_access_key(&user).await.unwrap();
    remember_secret(extra.secret.expose());
    iam.set_access_key_status(&user, &extra.id, KeyStatus::Inactive)
        .await
        .unwrap();
    let old_key = current_key(&access, &link).await;
    let report = run(&r, force(&link)).await;
    assert_eq!(action(&report, "access_key"), "rotated", "{report:#}");
    let ids: Vec<String> = iam
        .list_access_keys(&user)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert!(
        !ids.contains(&extra.id) && ids.contains(&old_key.access_key_id) && ids.len() == 2,
        "{ids:?}"
    );

    // An active second key is not ours to remove: held, and said why.
    let link = create_link(&access, "rot-noroom-", true, rotation()).await;
    let user = link.user.clone().unwrap();
    let extra = iam.create_access_key(&user).await.unwrap();
    remember_secret(extra.secret.expose());
    let before = current_key(&access, &link).await;
    let report = run(&r, force(&link)).await;
    assert_eq!(action(&report, "access_key"), "held", "{report:#}");
    assert!(report["links"][0]["access_key"]["detail"]
        .as_str()
        .unwrap()
        .contains(&extra.id));
    assert_eq!(
        current_key(&access, &link).await.access_key_id,
        before.access_key_id
    );
    assert_eq!(
        iam.list_access_keys(&user).await.unwrap().len(),
        2,
        "nothing deleted"
    );
    assert_invariants(&access, &link, "held for room").await;
    assert_logs_clean(&logs);
}

/// The review's scenario (issue 9, item 8): a rotation stopped right after CreateAccessKey
/// made a key, before anything recorded its id. Someone then removed that key, added one of
/// their own to the user and used it. Nothing proves that key is trustlink's: the reruns
/// leave it alone and say so, naming it.
#[tokio::test]
async fn a_key_someone_added_after_an_interrupted_creation_is_never_deleted() {
    let logs = capture_logs();
    let access = access().await;
    let link = create_link(&access, "rot-foreign-", true, rotation()).await;
    let user = link.user.clone().unwrap();
    let iam = access.iam(&account(TRUSTED)).await.unwrap();
    let old_key = current_key(&access, &link).await.access_key_id;
    let faults = Faults::new();
    faults.arm(Op::CreateAccessKey, 1, When::After);
    let clock = OffsetClock::default();
    let r = rotator_for(FaultyCloud::new(access.clone(), faults.clone()), &clock);
    let report = run(&r, force(&link)).await;
    assert!(faults.fired(), "{report:#}");
    assert_eq!(action(&report, "access_key"), "failed", "{report:#}");

    let made = iam.list_access_keys(&user).await.unwrap();
    let made = made
        .iter()
        .find(|k| k.id != old_key)
        .expect("the stopped run made a key");
    iam.delete_access_key(&user, &made.id).await.unwrap();
    let theirs = iam.create_access_key(&user).await.unwrap();
    remember_secret(theirs.secret.expose());
    let their_credentials = trustlink_aws::ports::Credentials {
        access_key_id: theirs.id.clone(),
        secret_access_key: theirs.secret.clone(),
        session_token: None,
    };
    access
        .sts_as(&their_credentials)
        .caller_identity()
        .await
        .unwrap();

    // Past any creation another run could still be finishing; forced or scheduled, and again.
    for event in [force(&link), only(&link), force(&link)] {
        clock.advance(HOUR);
        let report = run(&r, event).await;
        let keys = iam.list_access_keys(&user).await.unwrap();
        assert!(
            keys.iter()
                .any(|k| k.id == theirs.id && k.status == KeyStatus::Active),
            "their key is gone or disabled: {keys:?}\n{report:#}"
        );
        assert_eq!(action(&report, "access_key"), "held", "{report:#}");
        let detail = report["links"][0]["access_key"]["detail"].as_str().unwrap();
        assert!(
            detail.contains(&theirs.id) && detail.contains("someone else's"),
            "{detail}"
        );
        assert_eq!(current_key(&access, &link).await.access_key_id, old_key);
        assert_invariants(&access, &link, "held on a key that may be someone else's").await;
    }
    assert_logs_clean(&logs);
}

/// The other side of item 8: a run that made a key but could not store it records the key's
/// id in the creation marker, and that proof lets the next run delete it and rotate.
#[tokio::test]
async fn a_key_the_run_could_not_store_is_recorded_and_deleted_by_the_next_run() {
    let logs = capture_logs();
    let access = access().await;
    let link = create_link(&access, "rot-unstored-", true, rotation()).await;
    let user = link.user.clone().unwrap();
    let iam = access.iam(&account(TRUSTED)).await.unwrap();
    let old_key = current_key(&access, &link).await.access_key_id;
    let faults = Faults::new();
    // #1 is the external ID's pending value, #2 the new key's.
    faults.arm(Op::PutSecretValue, 2, When::Before);
    let clock = OffsetClock::default();
    let r = rotator_for(FaultyCloud::new(access.clone(), faults.clone()), &clock);
    let report = run(&r, force(&link)).await;
    assert!(faults.fired(), "{report:#}");
    assert_eq!(action(&report, "access_key"), "failed", "{report:#}");
    let keys = iam.list_access_keys(&user).await.unwrap();
    let made = keys
        .iter()
        .find(|k| k.id != old_key)
        .expect("a key was made");
    let tags = access
        .secrets()
        .describe_secret(&record::access_key_secret_name(&link.name))
        .await
        .unwrap()
        .tags;
    let marker = tags.get(record::tag::KEYS_BEFORE_CREATE).unwrap();
    assert!(marker.ends_with(&format!(":{}", made.id)), "{marker}");

    // No waiting for the creation timeout: the run that recorded the key gave up on it.
    let report = run(&r, force(&link)).await;
    assert_eq!(action(&report, "access_key"), "rotated", "{report:#}");
    let steps = &report["links"][0]["access_key"]["steps"];
    assert_eq!(
        steps[0],
        json!(format!("DeleteOrphan(\"{}\")", made.id)),
        "{report:#}"
    );
    let keys = iam.list_access_keys(&user).await.unwrap();
    assert!(keys.iter().all(|k| k.id != made.id), "{keys:?}");
    assert_invariants(&access, &link, "after the recorded key was deleted").await;
    assert_logs_clean(&logs);
}

/// Issue 9, item 10: a forced rotation during a grace period is `waiting` (the grace ends by
/// itself; nothing needs an operator), in the words docs/deploying.md uses for it.
#[tokio::test]
async fn a_forced_rotation_during_a_grace_period_is_waiting_as_documented() {
    const WORDS: &str = "a forced rotation waits for the grace period";
    let docs = std::fs::read_to_string(workspace_root().join("docs/deploying.md")).unwrap();
    let docs = docs.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        docs.contains(&format!("`waiting`, with a `detail` that begins \"{WORDS}")),
        "docs/deploying.md promises this wording for the case"
    );
    let held = docs
        .split("`held` (")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("docs/deploying.md defines `held`");
    assert!(
        !held.contains("forced"),
        "held is not the forced case: {held}"
    );

    let logs = capture_logs();
    let access = access().await;
    let link = create_link(&access, "rot-forced-grace-", true, rotation()).await;
    let clock = OffsetClock::default();
    let r = rotator_for(access.clone(), &clock);
    let report = run(&r, force(&link)).await;
    assert_eq!(action(&report, "access_key"), "rotated", "{report:#}");
    let before = snapshot(&access, &link).await;
    clock.advance(HOUR);
    let report = run(&r, force(&link)).await;
    for kind in ["external_id", "access_key"] {
        assert_eq!(action(&report, kind), "waiting", "{kind}: {report:#}");
        let detail = report["links"][0][kind]["detail"].as_str().unwrap();
        assert!(detail.starts_with(WORDS), "{kind}: {detail}");
        assert!(detail.contains("force again"), "{kind}: {detail}");
    }
    assert_eq!(report["summary"]["held"], json!(0), "{report:#}");
    assert_eq!(report["summary"]["waiting"], json!(2), "{report:#}");
    assert_eq!(
        snapshot(&access, &link).await,
        before,
        "nothing rotated again"
    );
    assert_logs_clean(&logs);
}

#[tokio::test]
async fn a_dry_run_changes_nothing() {
    let logs = capture_logs();
    let access = access().await;
    let link = create_link(&access, "rot-dry-", true, rotation()).await;
    let clock = OffsetClock::default();
    let r = rotator_for(access.clone(), &clock);
    let before = snapshot(&access, &link).await;
    let report = run(
        &r,
        json!({"Force": true, "DryRun": true, "Links": [link.name]}),
    )
    .await;
    assert_eq!(report["dry_run"], json!(true));
    assert_eq!(action(&report, "external_id"), "planned", "{report:#}");
    assert_eq!(action(&report, "access_key"), "planned", "{report:#}");
    assert!(report["links"][0]["external_id"]["detail"]
        .as_str()
        .unwrap()
        .contains("CreatePending"));
    assert_eq!(
        snapshot(&access, &link).await,
        before,
        "a dry run changes nothing"
    );
    assert_logs_clean(&logs);
}

#[tokio::test]
async fn two_runs_at_once_leave_a_consistent_result() {
    let logs = capture_logs();
    let access = access().await;
    let link = create_link(&access, "rot-twice-", true, rotation()).await;
    let clock = OffsetClock::default();
    let (a, b) = (
        rotator_for(access.clone(), &clock),
        rotator_for(access.clone(), &clock),
    );
    let old_id = current_external_id(&access, &link).await;
    let old_key = current_key(&access, &link).await;
    let event = force(&link);
    let (ra, rb) = tokio::join!(rotator::handle(&a, &event), rotator::handle(&b, &event));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    // Whichever run wins each step, the rotation took effect and nothing is inconsistent.
    for r in [&ra, &rb] {
        for kind in ["external_id", "access_key"] {
            let a = action(r, kind);
            assert!(
                ["rotated", "failed", "waiting", "held"].contains(&a),
                "{kind}: {a}\n{r:#}"
            );
        }
    }
    assert_ne!(
        current_external_id(&access, &link).await,
        old_id,
        "rotated:\n{ra:#}\n{rb:#}"
    );
    assert_ne!(
        current_key(&access, &link).await.access_key_id,
        old_key.access_key_id,
        "rotated:\n{ra:#}\n{rb:#}"
    );
    assert_invariants(&access, &link, "after two runs at once").await;
    for _ in 0..3 {
        clock.advance(25 * HOUR);
        run(&a, only(&link)).await;
    }
    assert_settled(
        &access,
        &link,
        &old_id,
        Some(&old_key.access_key_id),
        "after two runs at once settle",
    )
    .await;
    assert_logs_clean(&logs);
}

/// The steps of a whole rotation (both kinds, through both grace periods) that write or
/// verify, as (op, nth call): the boundaries where a run can stop.
async fn boundaries(access: &AccountAccess) -> Vec<(Op, u32)> {
    let link = create_link(access, "rot-probe-", true, rotation()).await;
    let faults = Faults::new();
    let clock = OffsetClock::default();
    let r = rotator_for(FaultyCloud::new(access.clone(), faults.clone()), &clock);
    scenario(&r, &clock, &link).await;
    let mut seen = std::collections::HashMap::new();
    let mut out = Vec::new();
    for op in faults.calls() {
        let n = seen.entry(op).or_insert(0u32);
        *n += 1;
        let steps = [
            Op::PutSecretValue,
            Op::UpdateTrustPolicy,
            Op::SetPolicyDocument,
            Op::MoveStage,
            Op::RemoveStage,
            Op::TagSecret,
            Op::CreateAccessKey,
            Op::DeleteAccessKey,
            Op::SetAccessKeyStatus,
            Op::CallerIdentity,
            Op::AssumeRole,
        ];
        if steps.contains(&op) {
            out.push((op, *n));
        }
    }
    out
}

/// A forced rotation, then runs through both grace periods.
async fn scenario<C: trustlink_aws::ports::Cloud>(
    r: &Rotator<C>,
    clock: &OffsetClock,
    link: &Link,
) {
    let _ = rotator::handle(r, &force(link)).await;
    for _ in 0..3 {
        clock.advance(25 * HOUR);
        let _ = rotator::handle(r, &only(link)).await;
    }
}

#[tokio::test]
async fn a_run_stopped_at_any_step_keeps_the_invariants_and_a_rerun_converges() {
    let logs = capture_logs();
    let access = access().await;
    let boundaries = boundaries(&access).await;
    assert!(
        boundaries.len() >= 15,
        "both rotations have their steps: {boundaries:?}"
    );
    println!(
        "{} step boundaries, each faulted before and after: {boundaries:?}",
        boundaries.len()
    );
    let cases: Vec<(Op, u32, When)> = boundaries
        .iter()
        .flat_map(|(op, n)| [(*op, *n, When::Before), (*op, *n, When::After)])
        .collect();
    let results: Vec<()> = futures::stream::iter(cases.clone())
        .map(|(op, nth, when)| {
            let access = access.clone();
            async move {
                let case = format!("{op} #{nth} {when:?}");
                let link = create_link(&access, "rot-crash-", true, rotation()).await;
                let old_id = current_external_id(&access, &link).await;
                let old_key = current_key(&access, &link).await.access_key_id;
                let faults = Faults::new();
                faults.arm(op, nth, when);
                let clock = OffsetClock::default();
                let r = rotator_for(FaultyCloud::new(access.clone(), faults.clone()), &clock);
                // Runs until the fault strikes; the invariants hold after every run.
                let _ = rotator::handle(&r, &force(&link)).await;
                assert_invariants(&access, &link, &format!("{case}: after the first run")).await;
                for _ in 0..3 {
                    if faults.fired() {
                        break;
                    }
                    clock.advance(25 * HOUR);
                    let _ = rotator::handle(&r, &only(&link)).await;
                    assert_invariants(&access, &link, &format!("{case}: after a later run")).await;
                }
                assert!(faults.fired(), "{case}: the fault never struck");
                // Reruns converge: rotated, nothing lost, nothing duplicated. Force only if
                // the stopped run never got the rotation going.
                faults.disarm();
                let started = rotation_started(&access, &link, &old_id, &old_key).await;
                let unrecorded = unrecorded_key(&access, &link, &old_key, op, when).await;
                // An hour on: past any key creation another run could still be making.
                clock.advance(HOUR);
                let rerun =
                    rotator::handle(&r, &if started { only(&link) } else { force(&link) }).await;
                assert_invariants(&access, &link, &format!("{case}: after the rerun")).await;
                if let Some(made) = unrecorded {
                    let report = rerun.unwrap_or_else(|e| panic!("{case}: {e}"));
                    held_until_an_operator_deletes(&access, &link, &made, &report, &case).await;
                    let _ = rotator::handle(&r, &force(&link)).await;
                }
                for _ in 0..3 {
                    clock.advance(25 * HOUR);
                    let _ = rotator::handle(&r, &only(&link)).await;
                }
                assert_settled(
                    &access,
                    &link,
                    &old_id,
                    Some(&old_key),
                    &format!("{case}: after reruns"),
                )
                .await;
            }
        })
        .buffer_unordered(12)
        .collect()
        .await;
    assert_eq!(results.len(), cases.len());
    assert_logs_clean(&logs);
}

/// Whether both rotations got going (a new AWSCURRENT or an AWSPENDING), so a rerun needs no
/// Force.
async fn rotation_started(
    access: &AccountAccess,
    link: &Link,
    old_id: &str,
    old_key: &str,
) -> bool {
    let key_secret = record::access_key_secret_name(&link.name);
    let id_started = current_external_id(access, link).await != old_id
        || external_id_at(access, link, trustlink_aws::ports::AWSPENDING)
            .await
            .is_some();
    let key_started = current_key(access, link).await.access_key_id != old_key
        || access
            .secrets()
            .get_secret_value(&key_secret, trustlink_aws::ports::AWSPENDING)
            .await
            .is_ok();
    id_started && key_started
}

#[tokio::test]
async fn console_commands_are_checked() {
    let access = access().await;
    let r = rotator_for(access, &OffsetClock::default());
    let e = rotator::handle(&r, &json!({"Froce": true}))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field `Froce`"), "{e}");
    let report = run(&r, json!({"Links": ["no-such-link-anywhere"]})).await;
    assert_eq!(action(&report, "external_id"), "failed");
    assert!(report["links"][0]["external_id"]["detail"]
        .as_str()
        .unwrap()
        .contains("no link named no-such-link-anywhere"));
}

#[test]
fn the_rotator_event_files_parse() {
    for name in [
        "scheduled.json",
        "force-one.json",
        "force-all.json",
        "dry-run.json",
    ] {
        let path = workspace_root().join("events/rotator").join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let event: Value = serde_json::from_str(&text).unwrap();
        let c = rotator::Command::from_event(&event).unwrap_or_else(|e| panic!("{name}: {e}"));
        match name {
            "scheduled.json" => assert!(c.scheduled),
            "force-one.json" => {
                assert!(c.ask.force && c.links.as_ref().is_some_and(|l| l.len() == 1))
            }
            "force-all.json" => assert!(c.ask.force && c.links.is_none()),
            _ => assert!(c.dry_run),
        }
    }
}

#[tokio::test]
async fn only_a_secret_named_after_its_record_is_a_link() {
    let access = access().await;
    let link = create_link(&access, "rot-disc-", false, rotation()).await;
    let name = record::external_id_secret_name(&link.name);
    let tags = access.secrets().describe_secret(&name).await.unwrap().tags;
    // A copy with the same tags under another name (by hand, or a backup) is not a second link.
    let copy = format!("{name}-copy");
    let text = trustlink_domain::SecretText::new("{}");
    access
        .secrets()
        .create_secret(&copy, "copy", &text, &tags, None, None)
        .await
        .unwrap();
    let r = rotator_for(access.clone(), &OffsetClock::default());
    let found: Vec<String> = r
        .discover()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.link_name)
        .filter(|n| *n == link.name)
        .collect();
    assert_eq!(found, vec![link.name.clone()]);
    access.secrets().delete_secret(&copy, None).await.unwrap();
}
