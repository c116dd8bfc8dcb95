//! One scheduled run over 200 links, in a moto server of its own (a scheduled run touches
//! every link of the hub).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rotator::{Limits, OffsetClock, Rotator};
use serde_json::{json, Value};
use trustlink_domain::rotation::DAY;
use trustlink_tests::links::*;
use trustlink_tests::*;

#[tokio::test]
async fn a_scheduled_run_rotates_200_links_and_reveals_no_secret() {
    let logs = capture_logs();
    let access = access().await;
    let links: Vec<Link> = futures::stream::iter(0..200)
        .map(|_| {
            let access = access.clone();
            async move {
                create_link(
                    &access,
                    "scale-",
                    false,
                    json!({"ExternalIdDays": 1, "GraceHours": 1}),
                )
                .await
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut secrets = Vec::new();
    for l in &links {
        secrets.push(current_external_id(&access, l).await);
    }

    let clock = OffsetClock::default();
    clock.advance(2 * DAY);
    let r = Rotator::new(
        access.clone(),
        Arc::new(clock.clone()),
        Limits {
            concurrency: 16,
            verify_attempts: 3,
            verify_delay: Duration::from_millis(100),
        },
    );
    let scheduled: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("events/rotator/scheduled.json")).unwrap(),
    )
    .unwrap();
    let report = rotator::handle(&r, &scheduled)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["summary"]["links"], json!(200));
    assert_eq!(
        report["summary"]["rotated"],
        json!(200),
        "{:#}",
        report["summary"]
    );
    assert_eq!(report["summary"]["failed"], json!(0));
    for l in &links {
        let now = current_external_id(&access, l).await;
        assert!(!secrets.contains(&now), "{} was rotated", l.name);
        secrets.push(now);
    }

    let text = report.to_string();
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_no_secret_in("the result JSON", &text, &refs);
    for s in &secrets {
        remember_secret(s);
    }
    assert_logs_clean(&logs);
}
