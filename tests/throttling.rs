//! A forced rotation of 200 links while IAM throttles: every 10th IAM request is answered
//! `Throttling` (IAM's real error, by tests/src/throttle.rs in front of moto), and the
//! functions' own retry configuration (adaptive, a partition per service and account) must
//! carry every link through with no failure and no invariant broken (issue 13.7). In a moto
//! server of its own: a forced run over the hub touches every link in it.

use std::sync::Arc;
use std::time::Duration;

use aws_config::Region;
use aws_credential_types::Credentials;
use futures::StreamExt;
use rotator::{Limits, OffsetClock, Rotator};
use serde_json::{json, Value};
use trustlink_aws::AccountAccess;
use trustlink_tests::links::*;
use trustlink_tests::throttle::ThrottleProxy;
use trustlink_tests::{moto, REGION};

const LINKS: usize = 200;
/// One IAM request in this many is throttled: 10%.
const THROTTLE_EVERY: u64 = 10;

/// The hub as the rotator sees it, every call through `proxy`.
async fn access_through(proxy: &ThrottleProxy) -> AccountAccess {
    let config = trustlink_aws::config::loader()
        .endpoint_url(proxy.endpoint())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await;
    AccountAccess::new(config, trustlink_aws::DEFAULT_ADMIN_ROLE_NAME)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_rotation_of_200_links_survives_10_percent_of_iam_throttled() {
    let direct = access().await;
    // Every 10th link has a managed user and key: both rotations run on those.
    let links: Vec<Link> = futures::stream::iter(0..LINKS)
        .map(|n| {
            let access = direct.clone();
            async move {
                let every_90_days =
                    json!({"ExternalIdDays": 90, "AccessKeyDays": 90, "GraceHours": 24});
                create_link(&access, "throttled-", n % 10 == 0, every_90_days).await
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut before = Vec::new();
    for l in &links {
        let key = match l.user {
            Some(_) => Some(current_key(&direct, l).await.access_key_id),
            None => None,
        };
        before.push((current_external_id(&direct, l).await, key));
    }

    let proxy = ThrottleProxy::start(moto().port, THROTTLE_EVERY).await;
    let rotator = Rotator::new(
        access_through(&proxy).await,
        Arc::new(OffsetClock::default()),
        Limits {
            concurrency: 8,
            verify_attempts: 3,
            verify_delay: Duration::from_millis(100),
        },
    );
    let names: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
    let command = json!({"Force": true, "Links": names});
    let report: Value = rotator::handle(&rotator, &command)
        .await
        .unwrap_or_else(|e| panic!("the run failed: {e}"));

    let requests = proxy.requests();
    let iam = requests.get("iam").copied().unwrap_or_default();
    eprintln!(
        "requests by service {requests:?}; IAM answered Throttling {} times; summary {}",
        proxy.throttled(),
        report["summary"]
    );
    assert_eq!(
        proxy.throttled(),
        iam / THROTTLE_EVERY,
        "every 10th IAM request throttled"
    );
    // With retries off, throttles at this rate fail dozens of rotations (83 measured); a run
    // makes about 4 IAM calls per link, so 200 links see about 80 throttles.
    assert!(
        proxy.throttled() >= LINKS as u64 / 4,
        "too few throttles to mean much: {}",
        proxy.throttled()
    );
    let keyed = links.iter().filter(|l| l.user.is_some()).count();
    assert_eq!(report["summary"]["links"], json!(LINKS));
    assert_eq!(
        report["summary"]["failed"],
        json!(0),
        "{:#}",
        report["summary"]
    );
    assert_eq!(report["summary"]["rotated"], json!(LINKS + keyed));
    for (l, (old_id, old_key)) in links.iter().zip(&before) {
        assert_invariants(&direct, l, "after the throttled run").await;
        assert_ne!(
            &current_external_id(&direct, l).await,
            old_id,
            "{}: external ID rotated",
            l.name
        );
        if let Some(old_key) = old_key {
            assert_ne!(
                &current_key(&direct, l).await.access_key_id,
                old_key,
                "{}: key rotated",
                l.name
            );
        }
    }
}
