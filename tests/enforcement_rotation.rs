//! Enforcement of a rotation, on fakecloud only: a consumer that keeps using the link (every
//! 50 ms: read AWSCURRENT, assume the role with it) is never refused through a forced
//! rotation, the end of the grace period and a scheduled run; the previous external ID and
//! key keep working until the grace period ends and are refused after it.
//!
//! Its own test binary: the scheduled run rotates every link of the hub, so no other test
//! shares this server.

use std::sync::Arc;
use std::time::Duration;

use rotator::{Limits, OffsetClock, Rotator};
use serde_json::{json, Value};
use trustlink_domain::rotation::HOUR;
use trustlink_tests::enforce::*;
use trustlink_tests::fakecloud::{self, Function};
use trustlink_tests::*;

fn action<'a>(report: &'a Value, kind: &str) -> &'a str {
    report["links"][0][kind]["action"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_consumer_is_never_locked_out_and_the_previous_credentials_stop_at_the_end_of_grace() {
    let logs = capture_logs();
    let link_access = fakecloud::access(Function::TrustLink).await;
    let access = fakecloud::access(Function::Rotator).await;
    let base = fakecloud::config_with(aws_credential_types::Credentials::new(
        "unused",
        "unused-secret",
        None,
        None,
        "base",
    ))
    .await;
    let link = create_link_with(
        &link_access,
        "enf-rot-",
        json!({"Rotation": {"ExternalIdDays": 90, "AccessKeyDays": 90, "GraceHours": 24}}),
    )
    .await;
    let (old_id, old_key) = read_current(&access, &link).await.unwrap();
    remember_secret(old_key.secret_access_key.expose());

    let consumer = Consumer::start(access.clone(), base.clone(), link.clone());
    consumer.settle().await;
    assert!(
        consumer.report().assumed >= 2,
        "the consumer works before any rotation: {:?}",
        consumer.report()
    );

    let clock = OffsetClock::default();
    let r = Rotator::new(
        access.clone(),
        Arc::new(clock.clone()),
        Limits {
            concurrency: 4,
            verify_attempts: 5,
            verify_delay: Duration::from_millis(100),
        },
    );
    let run = |event: Value| {
        let r = &r;
        async move {
            rotator::handle(r, &event)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        }
    };

    // A forced rotation: new ID and key are AWSCURRENT, the previous ones still work.
    let report = run(json!({"Force": true, "Links": [link.name]})).await;
    assert_eq!(action(&report, "external_id"), "rotated", "{report:#}");
    assert_eq!(action(&report, "access_key"), "rotated", "{report:#}");
    consumer.settle().await;
    let (new_id, new_key) = read_current(&access, &link).await.unwrap();
    remember_secret(&new_id);
    remember_secret(new_key.secret_access_key.expose());
    assert_ne!(new_id, old_id);
    assert_ne!(new_key.access_key_id, old_key.access_key_id);
    let arn = session_arn(&link, "check");
    for (what, key, id) in [
        ("the new key with the new ID", &new_key, &new_id),
        ("the previous key with the previous ID", &old_key, &old_id),
        ("the new key with the previous ID", &new_key, &old_id),
        ("the previous key with the new ID", &old_key, &new_id),
    ] {
        let r = assume(
            &base,
            key_credentials(key),
            &link.role_arn,
            "check",
            &Presented::id(id),
        )
        .await;
        assert_eq!(
            r.as_ref(),
            Ok(&arn),
            "during the grace period, {what}: {r:?}"
        );
    }

    // A day later but before the grace period is over (23 h of 24), nothing changes.
    clock.advance(23 * HOUR);
    let report = run(json!({"Links": [link.name]})).await;
    assert_eq!(action(&report, "external_id"), "waiting", "{report:#}");
    consumer.settle().await;
    let r = assume(
        &base,
        key_credentials(&old_key),
        &link.role_arn,
        "check",
        &Presented::id(&old_id),
    )
    .await;
    assert_eq!(r.as_ref(), Ok(&arn), "still in the grace period: {r:?}");

    // End the grace period. ReleaseHolds: on AWS, the check just above records a use of
    // the previous key after the switch and the rotator would hold it; fakecloud records key
    // use only for IAM calls (docs/fakecloud.md), so it would not. The same outcome either way.
    let report = run(json!({"Links": [link.name], "EndGrace": true, "ReleaseHolds": true})).await;
    assert_eq!(action(&report, "external_id"), "retired", "{report:#}");
    assert_eq!(action(&report, "access_key"), "deactivated", "{report:#}");
    consumer.settle().await;
    let r = assume(
        &base,
        key_credentials(&new_key),
        &link.role_arn,
        "check",
        &Presented::id(&old_id),
    )
    .await;
    assert_eq!(
        r.map_err(|d| d.code),
        Err("AccessDenied".into()),
        "the previous external ID after the grace period"
    );
    let r = whoami(&base, key_credentials(&old_key)).await;
    assert_eq!(
        r.map_err(|d| d.code),
        Err("InvalidClientTokenId".into()),
        "the previous key after the grace period"
    );
    let r = assume(
        &base,
        key_credentials(&new_key),
        &link.role_arn,
        "check",
        &Presented::id(&new_id),
    )
    .await;
    assert_eq!(r.as_ref(), Ok(&arn), "the current ID and key: {r:?}");

    // The schedule, two grace periods on: the previous key is deleted, nothing else moves.
    clock.advance(26 * HOUR);
    let report = run(
        json!({"version": "0", "id": "enf", "detail-type": "Scheduled Event",
        "source": "aws.events", "detail": {}}),
    )
    .await;
    let ours = report["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["link"] == json!(link.name))
        .unwrap_or_else(|| panic!("the scheduled run saw the link: {report:#}"));
    assert_eq!(ours["access_key"]["action"], "deleted", "{report:#}");
    consumer.settle().await;
    assert_eq!(read_current(&access, &link).await.unwrap().0, new_id);

    let report = consumer.stop().await;
    println!("consumer: {report:?}");
    assert!(
        report.denials.is_empty() && report.read_errors.is_empty(),
        "the consumer was locked out: {report:?}"
    );
    assert!(
        report.generations >= 2,
        "the consumer saw the rotation: {report:?}"
    );
    assert!(
        report.assumed >= 10,
        "the consumer ran throughout: {report:?}"
    );
    assert_logs_clean(&logs);
}
