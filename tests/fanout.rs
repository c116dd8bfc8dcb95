//! Fan-out on SQS through the real `rotator` binary (run as Lambda runs it, behind the
//! runtime API emulator), against moto's SQS on the same server; its AWS calls go through the
//! recording proxy, so the planner's `ListSecrets` pages are counted on the wire.
//!
//! The test plays the SQS event source mapping over real HTTP: it receives from the queue,
//! invokes the binary with an SQS event, deletes the records the answer does not name in
//! `batchItemFailures`, and lets the named ones' visibility time out to receive them again,
//! until moto's redrive moves them to the dead-letter queue.
//!
//! What makes each link need work: the binary reads the system clock and moto stamps every
//! secret version with its own now, so no link can be due by age within a test (the unit tests
//! of `rotator::fanout` cover that on the in-memory cloud with a moved clock). Each link is left
//! as a rotation interrupted right after it wrote the new external ID at AWSPENDING: a
//! scheduled, unforced run must finish it (accept the ID, prove it, make it AWSCURRENT), the
//! same path a due rotation takes after its first step.
//!
//! Its own test binary: the scheduled run plans every link of the hub.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use futures::StreamExt;
use serde_json::{json, Value};
use trust_link::{LinkService, VerifyBounds};
use trustlink_aws::ports::{Secrets, AWSCURRENT, AWSPENDING, AWSPREVIOUS};
use trustlink_aws::AccountAccess;
use trustlink_domain::record::{self, ExternalIdSecret};
use trustlink_domain::{ExternalId, LinkSpec, SecretText, Settings};
use trustlink_tests::function::{assert_json_lines, Function};
use trustlink_tests::lambda_api::{Outcome, RuntimeApi};
use trustlink_tests::recorder::{Recorder, Tally};
use trustlink_tests::*;

/// Three trusting accounts, a hundred links each.
const ACCOUNTS: [&str; 3] = ["111122223333", "222233334444", "333344445555"];
const PER_ACCOUNT: usize = 100;
/// The partner account every link trusts (its root: no trusted-side writes).
const PARTNER: &str = "444455556666";
/// Deliveries of a failing message before the redrive moves it to the dead-letter queue.
const MAX_RECEIVES: usize = 3;
/// Short, so a failed record comes back within the test (the template sets 5,400 s).
const VISIBILITY_SECONDS: i32 = 2;
const INVOCATION: Duration = Duration::from_secs(600);

struct Queues {
    sqs: aws_sdk_sqs::Client,
    url: String,
    arn: String,
    dlq_url: String,
}

/// A FIFO queue with a FIFO dead-letter queue, as infra/template.yaml makes them.
async fn queues() -> Queues {
    let sqs = aws_sdk_sqs::Client::new(&hub_config().await);
    let dlq_url = create_queue(&sqs, "trustlink-rotation-dlq.fifo", &[]).await;
    let dlq_arn = attribute(&sqs, &dlq_url, QueueAttributeName::QueueArn).await;
    let redrive =
        json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES}).to_string();
    let url = create_queue(
        &sqs,
        "trustlink-rotation.fifo",
        &[
            (
                QueueAttributeName::VisibilityTimeout,
                VISIBILITY_SECONDS.to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive),
        ],
    )
    .await;
    let arn = attribute(&sqs, &url, QueueAttributeName::QueueArn).await;
    Queues {
        sqs,
        url,
        arn,
        dlq_url,
    }
}

async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> String {
    let mut req = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::FifoQueue, "true");
    for (k, v) in attributes {
        req = req.attributes(k.clone(), v);
    }
    let out = req.send().await.expect("create the queue");
    out.queue_url().expect("a queue URL").to_string()
}

async fn attribute(sqs: &aws_sdk_sqs::Client, url: &str, name: QueueAttributeName) -> String {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(name.clone())
        .send()
        .await
        .expect("queue attributes");
    out.attributes()
        .and_then(|a| a.get(&name))
        .cloned()
        .unwrap_or_default()
}

/// Messages in the queue: visible and in flight.
async fn depth(q: &Queues, url: &str) -> usize {
    let mut n = 0;
    for a in [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ] {
        n += attribute(&q.sqs, url, a)
            .await
            .parse::<usize>()
            .unwrap_or(0);
    }
    n
}

/// A link trusting the partner account's root, made with the real trust-link code.
async fn create_link(access: &AccountAccess, trusting: &str, name: &str) -> String {
    let props = json!({
        "LinkName": name, "TrustingAccount": trusting,
        "TrustedPrincipal": format!("arn:aws:iam::{PARTNER}:root"),
        "Role": {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]},
    });
    let spec = LinkSpec::from_properties(&props).unwrap();
    let verify = VerifyBounds {
        attempts: 5,
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(400),
    };
    let service = LinkService::new(access.clone(), Settings::default(), verify);
    let out = service
        .create(&spec)
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e}"));
    remember_secret(out.external_id.expose());
    out.role_arn
}

/// Leaves `name` as a rotation stopped right after writing its new ID at AWSPENDING (see the
/// module's note): `text` is that version, the new ID's secret. Returns the version id.
async fn interrupted(access: &AccountAccess, name: &str, text: &SecretText) -> String {
    let secret = record::external_id_secret_name(name);
    // A ClientRequestToken is 32 to 64 characters.
    let token = format!("fanout-pending-{name}-{}", "0".repeat(32));
    access
        .secrets()
        .put_secret_value(&secret, text, &[AWSPENDING], &token)
        .await
        .expect("write the pending version")
}

fn pending_text(name: &str, role_arn: &str) -> (String, SecretText) {
    let id = ExternalId::generate();
    let shown = id.expose().to_string();
    let text = ExternalIdSecret {
        external_id: id,
        role_arn: role_arn.into(),
        trusted_principal: format!("arn:aws:iam::{PARTNER}:root"),
        link_name: name.into(),
    }
    .to_text();
    (shown, text)
}

/// The link secret's versions and their stages.
async fn versions(access: &AccountAccess, name: &str) -> BTreeMap<String, Vec<String>> {
    let d = access
        .secrets()
        .describe_secret(&record::external_id_secret_name(name))
        .await
        .unwrap();
    d.versions
        .into_iter()
        .map(|v| (v.version_id, v.stages))
        .collect()
}

/// What the test saw while playing the event source mapping.
#[derive(Default)]
struct Drained {
    invocations: usize,
    records: usize,
    /// Message id of each record named failed, per invocation.
    failures: Vec<Vec<String>>,
    /// Body of every record named failed.
    failed_bodies: Vec<String>,
    /// The message group and body of every record received.
    grouped: Vec<(String, String)>,
}

/// The event source mapping: receive up to ten, invoke, delete what did not fail; until the
/// queue is empty (failed records come back after their visibility timeout).
async fn drain(q: &Queues, api: &RuntimeApi, function: &mut Function, tag: &str) -> Drained {
    let mut seen = Drained::default();
    while depth(q, &q.url).await > 0 {
        let out = q
            .sqs
            .receive_message()
            .queue_url(&q.url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        let messages = out.messages().to_vec();
        if messages.is_empty() {
            continue;
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attributes: BTreeMap<String, String> = m
                    .attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({"messageId": m.message_id(), "receiptHandle": m.receipt_handle(),
                       "body": m.body(), "attributes": attributes, "messageAttributes": {},
                       "md5OfBody": m.md5_of_body(), "eventSource": "aws:sqs",
                       "eventSourceARN": q.arn, "awsRegion": REGION})
            })
            .collect();
        seen.grouped.extend(records.iter().map(|r| {
            let group = r["attributes"]["MessageGroupId"]
                .as_str()
                .unwrap_or_default();
            (
                group.to_string(),
                r["body"].as_str().unwrap_or_default().to_string(),
            )
        }));
        let id = format!("{tag}-{}", seen.invocations);
        seen.invocations += 1;
        seen.records += records.len();
        let outcome = api
            .invoke(&id, json!({ "Records": records }), INVOCATION)
            .await;
        function.assert_running();
        let Outcome::Response(answer) = outcome else {
            panic!(
                "a worker invocation failed: {outcome:?}\n{}",
                function.text()
            );
        };
        let failed: Vec<String> = answer["batchItemFailures"]
            .as_array()
            .unwrap_or_else(|| panic!("not a partial batch response: {answer}"))
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
            .collect();
        for m in &messages {
            let message_id = m.message_id().unwrap_or_default().to_string();
            if failed.contains(&message_id) {
                seen.failed_bodies
                    .push(m.body().unwrap_or_default().to_string());
                continue;
            }
            q.sqs
                .delete_message()
                .queue_url(&q.url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete a done record");
        }
        seen.failures.push(failed);
    }
    seen
}

async fn dead_letters(q: &Queues) -> Vec<String> {
    let out = q
        .sqs
        .receive_message()
        .queue_url(&q.dlq_url)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("receive from the dead-letter queue");
    out.messages()
        .iter()
        .map(|m| m.body().unwrap_or_default().to_string())
        .collect()
}

fn scheduled(time: &str) -> Value {
    json!({"version": "0", "id": format!("fanout-{time}"), "detail-type": "Scheduled Event",
           "source": "aws.events", "account": HUB_ACCOUNT, "time": time, "region": REGION,
           "resources": ["arn:aws:events:us-east-1:123456789012:rule/trustlink-rotation-schedule"],
           "detail": {}})
}

/// Invokes the planner with `event`; its answer.
async fn plan(api: &RuntimeApi, function: &mut Function, id: &str, event: Value) -> Value {
    match api.invoke(id, event, INVOCATION).await {
        Outcome::Response(r) => r,
        other => panic!("planning failed: {other:?}\n{}", function.text()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_run_fans_300_links_out_and_the_workers_rotate_each_once() {
    let access = links::access().await;
    for account in ACCOUNTS {
        bootstrap_member_account(account).await;
    }
    let names: Vec<(usize, String)> = (0..ACCOUNTS.len() * PER_ACCOUNT)
        .map(|i| (i, format!("fan-{i:03}")))
        .collect();
    let made: Vec<(String, String)> = futures::stream::iter(names)
        .map(|(i, name)| {
            let access = access.clone();
            async move {
                let role_arn = create_link(&access, ACCOUNTS[i % ACCOUNTS.len()], &name).await;
                (name, role_arn)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    // One broken link: the version its interrupted rotation left is not a link secret.
    let broken = "fan-007".to_string();
    let mut pending = BTreeMap::new();
    let mut secrets = Vec::new();
    for (name, role_arn) in &made {
        if *name == broken {
            interrupted(&access, name, &SecretText::new("not a link secret")).await;
            continue;
        }
        let (id, text) = pending_text(name, role_arn);
        pending.insert(name.clone(), interrupted(&access, name, &text).await);
        remember_secret(&id);
        secrets.push(id);
    }
    let before: BTreeMap<String, BTreeMap<String, Vec<String>>> =
        futures::stream::iter(made.iter().map(|(n, _)| n.clone()))
            .map(|n| {
                let access = access.clone();
                async move { (n.clone(), versions(&access, &n).await) }
            })
            .buffer_unordered(16)
            .collect()
            .await;

    let q = queues().await;
    let recorder = Recorder::start(moto().port, Duration::ZERO).await;
    let api = RuntimeApi::start().await;
    let mut env = api.env("trustlink-rotator");
    env.extend(function_env());
    for (k, v) in env.iter_mut() {
        if k == "AWS_ENDPOINT_URL" {
            *v = recorder.endpoint();
        }
    }
    env.push(("TRUSTLINK_ROTATION_QUEUE_URL".into(), q.url.clone()));
    env.push(("RUST_LOG".into(), "info".into()));
    let mut function = Function::spawn(&binaries::binary("rotator"), env);

    // The schedule plans every link, one ListSecrets page per 100 secrets, and rotates none.
    recorder.take();
    let first = plan(
        &api,
        &mut function,
        "plan-1",
        scheduled("2026-12-02T06:00:00Z"),
    )
    .await;
    let calls = Tally::of(&recorder.take());
    assert_eq!(
        first,
        json!({"planned": {"links": 300, "accounts": 3, "batches": 30}}),
        "{calls}"
    );
    assert_eq!(calls.operation("secretsmanager:ListSecrets"), 3, "{calls}");
    assert_eq!(calls.operation("sqs:SendMessageBatch"), 30, "{calls}");
    assert_eq!(
        calls.service("iam"),
        0,
        "the planner writes nothing: {calls}"
    );
    assert_eq!(depth(&q, &q.url).await, 300);
    // A second delivery of the same scheduled event enqueues nothing new.
    let again = plan(
        &api,
        &mut function,
        "plan-1-again",
        scheduled("2026-12-02T06:00:00Z"),
    )
    .await;
    assert_eq!(again, first);
    assert_eq!(depth(&q, &q.url).await, 300, "deduplicated");
    for (name, v) in &before {
        assert_eq!(
            &versions(&access, name).await,
            v,
            "{name}: planning changed it"
        );
    }

    // The workers rotate every link; the broken one is the only failure, on every delivery,
    // and lands in the dead-letter queue.
    let seen = drain(&q, &api, &mut function, "work").await;
    println!(
        "worker: {} invocations, {} records, {} failures",
        seen.invocations,
        seen.records,
        seen.failed_bodies.len()
    );
    assert!(
        seen.failures.iter().all(|f| f.len() <= 1),
        "{:?}",
        seen.failures
    );
    let broken_body = json!({"Links": [broken]}).to_string();
    assert_eq!(seen.failed_bodies, vec![broken_body.clone(); MAX_RECEIVES]);
    assert_eq!(
        seen.records,
        300 + MAX_RECEIVES - 1,
        "each good record once"
    );
    // Each link's message is in its trusting account's group.
    let groups: BTreeSet<&str> = seen.grouped.iter().map(|(g, _)| g.as_str()).collect();
    assert_eq!(groups, ACCOUNTS.into_iter().collect());
    for (group, body) in &seen.grouped {
        let link: Value = serde_json::from_str(body).unwrap();
        let name = link["Links"][0].as_str().unwrap();
        let (_, role_arn) = made.iter().find(|(n, _)| n == name).unwrap();
        assert!(
            role_arn.contains(&format!("::{group}:")),
            "{name} in group {group}"
        );
    }
    assert_eq!(dead_letters(&q).await, vec![broken_body]);
    for (name, v) in &pending {
        let now = versions(&access, name).await;
        assert_eq!(
            now.len(),
            2,
            "{name}: one rotation, no other version: {now:?}"
        );
        assert_eq!(
            now[v],
            vec![AWSCURRENT.to_string()],
            "{name}: the new ID is current"
        );
        let previous: Vec<&String> = now.keys().filter(|k| *k != v).collect();
        assert_eq!(now[previous[0]], vec![AWSPREVIOUS.to_string()], "{name}");
    }

    // The next schedule plans them all again; the workers find nothing due: nothing rotates
    // twice.
    let second = plan(
        &api,
        &mut function,
        "plan-2",
        scheduled("2026-12-03T06:00:00Z"),
    )
    .await;
    assert_eq!(second["planned"]["links"], json!(300));
    let after: BTreeMap<String, BTreeMap<String, Vec<String>>> =
        futures::stream::iter(pending.keys().cloned())
            .map(|n| {
                let access = access.clone();
                async move { (n.clone(), versions(&access, &n).await) }
            })
            .buffer_unordered(16)
            .collect()
            .await;
    let seen = drain(&q, &api, &mut function, "work-2").await;
    assert_eq!(
        seen.failed_bodies.len(),
        MAX_RECEIVES,
        "only the broken link fails"
    );
    for (name, v) in &after {
        assert_eq!(&versions(&access, name).await, v, "{name} rotated twice");
    }

    let output = function.stop();
    assert_json_lines(&output);
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_no_secret_in("the rotator binary's output", &output, &refs);
}
