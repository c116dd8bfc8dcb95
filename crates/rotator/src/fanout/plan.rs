//! The planner: a scheduled run with a queue sends every link to it, one message per link,
//! grouped by trusting account, instead of rotating them itself.
//!
//! Every link is planned, not only those due: what is due is decided on the staging labels,
//! the trust policy and the user's keys (a pending ID to finish, a grace period that ended, a
//! key to deactivate), which the listing's tags do not hold. The worker observes the link and
//! decides with the same deciders as an unqueued run; a link with nothing to do costs it one
//! observation.

use serde::Serialize;
use serde_json::{json, Value};
use trustlink_aws::ports::{Queue, QueueMessage, QUEUE_BATCH_BYTES, QUEUE_BATCH_ENTRIES};
use trustlink_domain::record::LinkRecord;

use super::FanoutError;

/// The message group of a link whose role ARN names no account: the worker fails it, so it
/// ends in the dead-letter queue where an operator sees it.
const NO_ACCOUNT_GROUP: &str = "no-account";

/// How many times a refused message is sent again before the run fails.
const RESENDS: usize = 2;

/// What a planning run sent: its result JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanReport {
    pub planned: Planned,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Planned {
    pub links: usize,
    pub accounts: usize,
    pub batches: usize,
}

/// The messages for `links`, in batches SendMessageBatch takes: sorted by trusting account
/// (its message group) and name, at most [`QUEUE_BATCH_ENTRIES`] and [`QUEUE_BATCH_BYTES`]
/// each. `schedule` names the scheduled event, so that a second delivery of it sends the same
/// deduplication ids and enqueues nothing new.
pub fn plan(links: &[LinkRecord], schedule: &str) -> Vec<Vec<QueueMessage>> {
    let mut messages: Vec<QueueMessage> = links.iter().map(|l| message(l, schedule)).collect();
    messages.sort_by(|a, b| (&a.group_id, &a.body).cmp(&(&b.group_id, &b.body)));
    let mut batches: Vec<Vec<QueueMessage>> = Vec::new();
    let mut bytes = 0;
    for m in messages {
        let full = batches.last().is_none_or(|b| {
            b.len() == QUEUE_BATCH_ENTRIES || bytes + m.body.len() > QUEUE_BATCH_BYTES
        });
        if full {
            batches.push(Vec::new());
            bytes = 0;
        }
        bytes += m.body.len();
        batches.last_mut().expect("a batch was pushed").push(m);
    }
    batches
}

/// One link's message: the console command that rotates it, as the worker reads it.
fn message(link: &LinkRecord, schedule: &str) -> QueueMessage {
    let group_id = link
        .role()
        .map(|(account, _)| account.to_string())
        .unwrap_or_else(|| NO_ACCOUNT_GROUP.to_string());
    QueueMessage {
        body: json!({"Links": [link.link_name]}).to_string(),
        group_id,
        // Link names are `[A-Za-z0-9+=,.@_-]`, 1 to 64, and the schedule at most 64 of SQS's
        // allowed characters: within the id's 128.
        deduplication_id: format!("{schedule}/{}", link.link_name),
    }
}

/// The scheduled event's `time` (the same in every delivery of one event), else `now` in
/// epoch seconds; only characters a deduplication id may hold.
pub fn schedule_of(event: &Value, now: i64) -> String {
    event
        .get("time")
        .and_then(Value::as_str)
        .filter(|t| {
            !t.is_empty()
                && t.len() <= 64
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b":.+-".contains(&b))
        })
        .map_or_else(|| now.to_string(), String::from)
}

/// Sends every batch; a message the queue refused on its side is sent again, up to
/// [`RESENDS`] times (its deduplication id makes a resend of a taken one harmless).
pub async fn send<Q: Queue>(
    queue: &Q,
    links: &[LinkRecord],
    schedule: &str,
) -> Result<PlanReport, FanoutError> {
    let batches = plan(links, schedule);
    for batch in &batches {
        let mut pending = batch.clone();
        for attempt in 0..=RESENDS {
            let refused = queue.send_message_batch(&pending).await?;
            let Some(first) = refused.first() else {
                break;
            };
            if attempt == RESENDS || refused.iter().any(|r| r.sender_fault) {
                return Err(FanoutError::Refused {
                    refused: refused.len(),
                    first: first.reason.clone(),
                });
            }
            pending = refused.iter().map(|r| pending[r.index].clone()).collect();
        }
    }
    let mut accounts: Vec<&str> = batches
        .iter()
        .flatten()
        .map(|m| m.group_id.as_str())
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    Ok(PlanReport {
        planned: Planned {
            links: links.len(),
            accounts: accounts.len(),
            batches: batches.len(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use trustlink_aws::memory::MemoryQueue;
    use trustlink_domain::policy::Principal;
    use trustlink_domain::RotationSettings;

    pub(crate) fn link(name: &str, account: &str) -> LinkRecord {
        LinkRecord {
            link_name: name.into(),
            role_arn: format!("arn:aws:iam::{account}:role/trustlink/{name}"),
            trusted_principal: Principal::parse("p", "arn:aws:iam::444455556666:root").unwrap(),
            grant_policy_arn: None,
            user_created: false,
            access_key: false,
            rotation: RotationSettings::default(),
            external_id_rotated_at: None,
            access_key_rotated_at: None,
        }
    }

    fn fleet(per_account: usize) -> Vec<LinkRecord> {
        // Interleaved, so that grouping has something to do.
        (0..per_account)
            .flat_map(|i| {
                ["111111111111", "222222222222", "333333333333"]
                    .map(|a| link(&format!("l{i:03}-{}", &a[..1]), a))
            })
            .collect()
    }

    #[test]
    fn batches_hold_at_most_ten_sorted_by_account() {
        let batches = plan(&fleet(25), "2026-11-22T06:00:00Z");
        assert_eq!(
            batches.len(),
            8,
            "75 links: ten each, one account after another"
        );
        assert!(batches.iter().all(|b| b.len() <= QUEUE_BATCH_ENTRIES));
        let groups: Vec<&str> = batches
            .iter()
            .flatten()
            .map(|m| m.group_id.as_str())
            .collect();
        let mut sorted = groups.clone();
        sorted.sort_unstable();
        assert_eq!(groups, sorted, "one account's messages are contiguous");
        assert_eq!(groups.iter().filter(|g| **g == "222222222222").count(), 25);
        let m = &batches[0][0];
        assert_eq!(m.group_id, "111111111111");
        assert_eq!(m.body, r#"{"Links":["l000-1"]}"#);
        assert_eq!(m.deduplication_id, "2026-11-22T06:00:00Z/l000-1");
    }

    #[test]
    fn deduplication_ids_are_per_link_and_schedule() {
        let links = fleet(4);
        let once = plan(&links, "t1");
        assert_eq!(
            once,
            plan(&links, "t1"),
            "a second delivery plans the same ids"
        );
        let ids: Vec<String> = once
            .iter()
            .flatten()
            .map(|m| m.deduplication_id.clone())
            .collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), links.len());
        let other: Vec<String> = plan(&links, "t2")
            .iter()
            .flatten()
            .map(|m| m.deduplication_id.clone())
            .collect();
        assert!(
            ids.iter().all(|id| !other.contains(id)),
            "the next schedule is new work"
        );
    }

    #[test]
    fn a_batch_stays_under_the_byte_limit() {
        // The longest link names a link may have: still ten to a batch, far below the limit.
        let long: Vec<LinkRecord> = (0..30)
            .map(|i| link(&format!("{i:02}{}", "n".repeat(62)), "111111111111"))
            .collect();
        for batch in plan(&long, "t") {
            let bytes: usize = batch.iter().map(|m| m.body.len()).sum();
            assert!(bytes <= QUEUE_BATCH_BYTES && batch.len() <= QUEUE_BATCH_ENTRIES);
            assert!(batch.iter().all(|m| m.deduplication_id.len() <= 128));
        }
    }

    #[test]
    fn the_schedule_is_the_events_time() {
        let event = json!({"time": "2026-11-22T06:00:00Z"});
        assert_eq!(schedule_of(&event, 7), "2026-11-22T06:00:00Z");
        assert_eq!(schedule_of(&json!({}), 7), "7");
        assert_eq!(schedule_of(&json!({"time": "a b"}), 7), "7");
    }

    /// The message, its ids and the result are docs/contract.json's.
    #[tokio::test]
    async fn the_messages_and_result_are_the_contracts() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/contract.json");
        let contract: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let c = &contract["rotator_fanout"];
        let m = message(&link("<LinkName>", "111111111111"), "<schedule time>");
        assert_eq!(
            serde_json::from_str::<Value>(&m.body).unwrap(),
            c["message_body"]
        );
        assert_eq!(json!(m.deduplication_id), c["deduplication_id"]);
        let report = send(&MemoryQueue::new(), &fleet(1), "t").await.unwrap();
        let report = serde_json::to_value(report).unwrap();
        let keys: Vec<&String> = report["planned"].as_object().unwrap().keys().collect();
        let mut want: Vec<&str> = c["plan_result"]["planned"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        want.sort_unstable();
        assert_eq!(keys, want);
    }

    #[tokio::test]
    async fn a_duplicate_delivery_enqueues_nothing_twice() {
        let queue = MemoryQueue::new();
        let links = fleet(10);
        let report = send(&queue, &links, "t1").await.unwrap();
        assert_eq!(
            report.planned,
            Planned {
                links: 30,
                accounts: 3,
                batches: 3
            }
        );
        send(&queue, &links, "t1").await.unwrap();
        assert_eq!(queue.batches().len(), 6, "both deliveries sent");
        assert_eq!(queue.messages().len(), 30, "the second enqueued nothing");
    }

    #[tokio::test]
    async fn refused_messages_are_resent_then_fail_the_run() {
        let queue = MemoryQueue::new();
        queue.refuse_group("222222222222");
        let e = send(&queue, &fleet(3), "t").await.unwrap_err();
        assert!(matches!(&e, FanoutError::Refused { refused: 3, .. }), "{e}");
        assert_eq!(
            queue.batches().len(),
            1 + RESENDS,
            "sent, then resent the refused"
        );
        assert_eq!(queue.batches()[1].len(), 3, "only the refused are resent");
        assert_eq!(
            queue.messages().len(),
            6,
            "the other accounts' links are queued"
        );
    }
}
