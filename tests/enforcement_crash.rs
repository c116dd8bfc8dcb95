//! A rotation stopped at every step boundary, on fakecloud only, with a consumer using the
//! link throughout (every 50 ms: read AWSCURRENT, assume the role with it): at no boundary,
//! before or after the write, is the consumer refused, and reruns converge.
//!
//! The rotator's own crash test (tests/rotator.rs) checks the invariants by reading the
//! policies back; this one has AWS, as fakecloud plays it, decide.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rotator::{Limits, OffsetClock, Rotator};
use serde_json::{json, Value};
use trustlink_aws::ports::Op;
use trustlink_aws::AccountAccess;
use trustlink_domain::rotation::HOUR;
use trustlink_tests::enforce::*;
use trustlink_tests::fakecloud::{self, Function};
use trustlink_tests::faults::{Faults, FaultyCloud, When};
use trustlink_tests::links::*;
use trustlink_tests::rotator_support::{held_until_an_operator_deletes, unrecorded_key};
use trustlink_tests::*;

fn limits() -> Limits {
    Limits {
        concurrency: 4,
        verify_attempts: 5,
        verify_delay: Duration::from_millis(100),
    }
}

fn rotation() -> Value {
    json!({"Rotation": {"ExternalIdDays": 90, "AccessKeyDays": 90, "GraceHours": 24}})
}

fn force(link: &Link) -> Value {
    json!({"Force": true, "Links": [link.name]})
}

fn only(link: &Link) -> Value {
    json!({"Links": [link.name]})
}

/// The write and verify steps of a whole rotation (both kinds, through both grace periods),
/// as (op, nth call): where a run can stop. Generic over how `Faults` names an operation (a
/// name or an enum): the steps are matched on the operation's name, case and `_` ignored.
async fn boundaries<Op: std::fmt::Debug + Clone + PartialEq>(
    link_access: &AccountAccess,
    access: &AccountAccess,
    calls: impl FnOnce(&Faults) -> Vec<Op>,
) -> Vec<(Op, u32)> {
    let link = create_link_with(link_access, "enf-probe-", rotation()).await;
    let faults = Faults::new();
    let clock = OffsetClock::default();
    let r = Rotator::new(
        FaultyCloud::new(access.clone(), faults.clone()),
        Arc::new(clock.clone()),
        limits(),
    );
    let _ = Box::pin(rotator::handle(&r, &force(&link))).await;
    for _ in 0..3 {
        clock.advance(25 * HOUR);
        let _ = Box::pin(rotator::handle(&r, &only(&link))).await;
    }
    let steps = [
        "put_secret_value",
        "update_trust_policy",
        "set_policy_document",
        "move_stage",
        "remove_stage",
        "tag_secret",
        "create_access_key",
        "delete_access_key",
        "set_access_key_status",
        "caller_identity",
        "assume_role",
    ];
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let steps: Vec<String> = steps.iter().map(|s| norm(s)).collect();
    let mut out: Vec<(Op, u32)> = Vec::new();
    let mut seen: Vec<(Op, u32)> = Vec::new();
    for op in calls(&faults) {
        let n = match seen.iter_mut().find(|(o, _)| *o == op) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                seen.push((op.clone(), 1));
                1
            }
        };
        if steps.contains(&norm(&format!("{op:?}"))) {
            out.push((op, n));
        }
    }
    out
}

#[tokio::test]
async fn a_rotation_stopped_at_any_step_never_locks_a_consumer_out() {
    let logs = capture_logs();
    let link_access = fakecloud::access(Function::TrustLink).await;
    let access = fakecloud::access(Function::Rotator).await;
    let boundaries = boundaries(&link_access, &access, |f| f.calls()).await;
    assert!(
        boundaries.len() >= 15,
        "both rotations have their steps: {boundaries:?}"
    );
    println!(
        "{} step boundaries, each faulted before and after, with a consumer: {boundaries:?}",
        boundaries.len()
    );
    let cases: Vec<(Op, u32, When)> = boundaries
        .iter()
        .flat_map(|(op, n)| [(*op, *n, When::Before), (*op, *n, When::After)])
        .collect();
    let results: Vec<(String, ConsumerReport)> = futures::stream::iter(cases.clone())
        .map(|(op, nth, when)| {
            let (link_access, access) = (link_access.clone(), access.clone());
            async move {
                let case = format!("{op:?} #{nth} {when:?}");
                let base = fakecloud::config_with(aws_credential_types::Credentials::new(
                    "unused",
                    "unused-secret",
                    None,
                    None,
                    "base",
                ))
                .await;
                let link = create_link_with(&link_access, "enf-crash-", rotation()).await;
                let (old_id, old_key) = read_current(&access, &link).await.unwrap();
                let consumer = Consumer::start(access.clone(), base, link.clone());
                consumer.settle().await;
                let faults = Faults::new();
                faults.arm(op, nth, when);
                let clock = OffsetClock::default();
                let r = Rotator::new(
                    FaultyCloud::new(access.clone(), faults.clone()),
                    Arc::new(clock.clone()),
                    limits(),
                );
                // Runs until the fault strikes; the consumer re-reads between runs (what the
                // grace period is for: the clock jumps a day, the consumer's does not).
                let _ = Box::pin(rotator::handle(&r, &force(&link))).await;
                consumer.settle().await;
                for _ in 0..3 {
                    if faults.fired() {
                        break;
                    }
                    clock.advance(25 * HOUR);
                    let _ = Box::pin(rotator::handle(&r, &only(&link))).await;
                    consumer.settle().await;
                }
                assert!(faults.fired(), "{case}: the fault never struck");
                faults.disarm();
                let key_secret = trustlink_domain::record::access_key_secret_name(&link.name);
                let (id_now, key_now) = read_current(&access, &link).await.unwrap();
                let id_started = id_now != old_id
                    || external_id_at(&access, &link, trustlink_aws::ports::AWSPENDING)
                        .await
                        .is_some();
                let key_started = key_now.access_key_id != old_key.access_key_id || {
                    use trustlink_aws::ports::Secrets;
                    access
                        .secrets()
                        .get_secret_value(&key_secret, trustlink_aws::ports::AWSPENDING)
                        .await
                        .is_ok()
                };
                let unrecorded =
                    unrecorded_key(&access, &link, &old_key.access_key_id, op, when).await;
                clock.advance(HOUR);
                let rerun = Box::pin(rotator::handle(
                    &r,
                    &if id_started && key_started {
                        only(&link)
                    } else {
                        force(&link)
                    },
                ))
                .await;
                consumer.settle().await;
                // Killed right after CreateAccessKey returned: nothing proves the new key is
                // trustlink's, so the rerun holds and names it until an operator deletes it.
                if let Some(made) = unrecorded {
                    let report = rerun.unwrap_or_else(|e| panic!("{case}: {e}"));
                    held_until_an_operator_deletes(&access, &link, &made, &report, &case).await;
                    let _ = Box::pin(rotator::handle(&r, &force(&link))).await;
                    consumer.settle().await;
                }
                for _ in 0..3 {
                    clock.advance(25 * HOUR);
                    let _ = Box::pin(rotator::handle(&r, &only(&link))).await;
                    consumer.settle().await;
                }
                assert_settled(
                    &access,
                    &link,
                    &old_id,
                    Some(&old_key.access_key_id),
                    &format!("{case}: after reruns"),
                )
                .await;
                // AWS agrees: the previous ID and key are refused now, the current ones work.
                let (id, key) = read_current(&access, &link).await.unwrap();
                remember_secret(&id);
                remember_secret(key.secret_access_key.expose());
                let base = fakecloud::config_with(aws_credential_types::Credentials::new(
                    "unused",
                    "unused-secret",
                    None,
                    None,
                    "base",
                ))
                .await;
                let r = assume(
                    &base,
                    key_credentials(&key),
                    &link.role_arn,
                    "end",
                    &Presented::id(&old_id),
                )
                .await;
                assert_eq!(
                    r.map_err(|d| d.code),
                    Err("AccessDenied".into()),
                    "{case}: the previous ID"
                );
                let report = consumer.stop().await;
                (case, report)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert_eq!(results.len(), cases.len());
    let mut locked_out = Vec::new();
    for (case, report) in &results {
        if !report.denials.is_empty() || !report.read_errors.is_empty() || report.assumed == 0 {
            locked_out.push(format!("{case}: {report:?}"));
        }
    }
    let total: u64 = results.iter().map(|(_, r)| r.assumed).sum();
    println!(
        "{} cases, {total} successful AssumeRole calls by the consumers",
        results.len()
    );
    assert!(
        locked_out.is_empty(),
        "a consumer was refused at {} of {} boundaries:\n{}",
        locked_out.len(),
        results.len(),
        locked_out.join("\n")
    );
    assert_logs_clean(&logs);
}
