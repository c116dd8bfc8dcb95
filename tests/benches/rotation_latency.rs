//! `make bench-rotation`: a forced rotation of 200 links with 40 ms added to every AWS call
//! (as on AWS; moto answers in a millisecond), at concurrency 1 and 8, through the recording
//! proxy so the calls are counted too. A measurement for docs/scaling.md, not a test: nothing
//! here has a time threshold.
//!
//! The links are partner links (only the trusting end, the cheapest to make); a keyed link's
//! rotation makes about 35 calls instead of 13 (tests/calls.rs), so its time scales by that.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::Region;
use aws_credential_types::Credentials;
use futures::StreamExt;
use rotator::{Limits, OffsetClock, Rotator};
use serde_json::{json, Value};
use trustlink_tests::links::{access, create_link};
use trustlink_tests::recorder::{Recorder, Tally};
use trustlink_tests::{moto, REGION};

const LINKS: usize = 200;
const LATENCY: Duration = Duration::from_millis(40);

async fn rotator_through(
    recorder: &Recorder,
    concurrency: usize,
) -> Rotator<trustlink_aws::AccountAccess> {
    let config = trustlink_aws::config::loader()
        .endpoint_url(recorder.endpoint())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "bench"))
        .load()
        .await;
    let cloud = trustlink_aws::AccountAccess::new(config, trustlink_aws::DEFAULT_ADMIN_ROLE_NAME);
    Rotator::new(
        cloud,
        Arc::new(OffsetClock::default()),
        Limits {
            concurrency,
            verify_attempts: 10,
            verify_delay: Duration::from_secs(2),
        },
    )
}

async fn run(recorder: &Recorder, concurrency: usize, event: Value, what: &str) {
    let r = rotator_through(recorder, concurrency).await;
    recorder.take();
    let started = Instant::now();
    let report = rotator::handle(&r, &event)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let took = started.elapsed();
    let tally = Tally::of(&recorder.take());
    assert_eq!(
        report["summary"]["failed"],
        json!(0),
        "{what}: {:#}",
        report["summary"]
    );
    println!(
        "{what:<40} concurrency {concurrency:>2}: {:>7.1} s, {} calls ({:.1} per link; iam {}, sts {}, secretsmanager {}), summary {}",
        took.as_secs_f64(),
        tally.total,
        tally.total as f64 / LINKS as f64,
        tally.service("iam"),
        tally.service("sts"),
        tally.service("secretsmanager"),
        report["summary"]
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let access = access().await;
    let prefix = format!("bench-lat-{}-", std::process::id());
    let links: Vec<String> = futures::stream::iter(0..LINKS)
        .map(|_| {
            let access = access.clone();
            let prefix = prefix.clone();
            async move {
                create_link(
                    &access,
                    &prefix,
                    false,
                    json!({"ExternalIdDays": 90, "GraceHours": 24}),
                )
                .await
                .name
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let recorder = Recorder::start(moto().port, LATENCY).await;
    let force = json!({"Force": true, "Links": links});
    let end_grace = json!({"EndGrace": true, "Links": links});
    println!(
        "{LINKS} partner links, {} ms added to every AWS call",
        LATENCY.as_millis()
    );
    run(&recorder, 1, force.clone(), "forced rotation").await;
    run(&recorder, 8, end_grace.clone(), "EndGrace").await;
    run(&recorder, 8, force, "forced rotation").await;
    run(&recorder, 8, end_grace, "EndGrace").await;
}
