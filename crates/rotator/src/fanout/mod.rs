//! Fan-out on SQS (`TRUSTLINK_ROTATION_QUEUE_URL`): the scheduled run only plans, sending
//! every link to a FIFO queue in one message group per trusting account ([`plan`]); the same
//! function consumes the queue's events, each record one link's command ([`worker`]). So a
//! fleet rotates in as many invocations as it needs, at most `MaximumConcurrency` at once, and
//! one account never sees two workers' IAM writes at a time.

pub mod plan;
#[cfg(test)]
mod testing;
pub mod worker;

use serde_json::Value;
use tracing::info;
use trustlink_aws::ports::{Cloud, Queue, QueueMessage, RefusedMessage};
use trustlink_aws::AwsError;

use crate::command::Command;
use crate::rotate::Rotator;
use crate::RotatorError;

#[derive(Debug, thiserror::Error)]
pub enum FanoutError {
    #[error("sending the planned links to the queue failed: {0}")]
    Queue(#[from] AwsError),
    #[error("the queue refused {refused} planned links; first: {first}")]
    Refused { refused: usize, first: String },
    #[error("not an SQS event: {0}")]
    NotAnSqsEvent(String),
    /// Without it a record cannot be named as failed; the whole batch is retried instead.
    #[error("an SQS record has no messageId")]
    NoMessageId,
}

/// One invocation with fan-out: an SQS event is a worker's batch; the schedule, with a
/// queue, is planned; anything else runs as without a queue ([`crate::handle_invocation`]).
pub async fn handle<C: Cloud, Q: Queue>(
    rotator: &Rotator<C>,
    queue: Option<&Q>,
    event: &Value,
    caller: Option<&str>,
) -> Result<Value, RotatorError> {
    if is_sqs_event(event) {
        return Ok(worker::consume(rotator, event).await?);
    }
    if let Some(queue) = queue {
        if Command::from_event(event)?.scheduled {
            let links = rotator.discover().await?;
            let schedule = plan::schedule_of(event, rotator.clock.now());
            let report = plan::send(queue, &links, &schedule).await?;
            info!(
                links = report.planned.links,
                accounts = report.planned.accounts,
                batches = report.planned.batches,
                "rotation run planned on the queue"
            );
            return Ok(serde_json::to_value(report).expect("the plan report serialises"));
        }
    }
    crate::handle_invocation(rotator, event, caller).await
}

/// Lambda's SQS event: `Records`, each with `eventSource` `aws:sqs`.
pub fn is_sqs_event(event: &Value) -> bool {
    event
        .get("Records")
        .and_then(Value::as_array)
        .is_some_and(|records| {
            !records.is_empty()
                && records
                    .iter()
                    .all(|r| r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs"))
        })
}

/// The queue of a deployment without fan-out: there is none, so it is never asked.
#[derive(Debug, Clone, Copy)]
pub enum NoQueue {}

impl Queue for NoQueue {
    async fn send_message_batch(
        &self,
        _: &[QueueMessage],
    ) -> Result<Vec<RefusedMessage>, AwsError> {
        match *self {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use trustlink_aws::memory::MemoryQueue;
    use trustlink_aws::MemoryCloud;
    use trustlink_domain::rotation::DAY;

    use super::testing::*;
    use super::*;
    use crate::OffsetClock;

    fn scheduled() -> Value {
        json!({"version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events",
               "time": "2026-11-22T06:00:00Z", "detail": {}})
    }

    /// With a queue the schedule only plans: every link is queued, none rotated, though due.
    #[tokio::test]
    async fn the_schedule_with_a_queue_plans_and_rotates_nothing() {
        let cloud = MemoryCloud::with_accounts(&[TRUSTING]);
        let clock = OffsetClock::default();
        for name in ["p-a", "p-b", "p-c"] {
            partner_link(&cloud, name).await;
        }
        let before = current_version(&cloud, "p-a").await;
        clock.advance(2 * DAY);
        cloud.advance(2 * DAY);
        let queue = MemoryQueue::new();
        let r = rotator(&cloud, &clock);
        let out = handle(&r, Some(&queue), &scheduled(), None).await.unwrap();
        assert_eq!(
            out,
            json!({"planned": {"links": 3, "accounts": 1, "batches": 1}})
        );
        let bodies: Vec<String> = queue.messages().into_iter().map(|m| m.body).collect();
        assert_eq!(
            bodies,
            [
                r#"{"Links":["p-a"]}"#,
                r#"{"Links":["p-b"]}"#,
                r#"{"Links":["p-c"]}"#
            ]
        );
        assert!(queue.messages().iter().all(|m| m.group_id == TRUSTING));
        assert_eq!(current_version(&cloud, "p-a").await, before, "only planned");

        // A console command with a queue runs as without one.
        let forced = json!({"Force": true, "Links": ["p-a"]});
        let report = handle(&r, Some(&queue), &forced, None).await.unwrap();
        assert_eq!(report["summary"]["rotated"], json!(1), "{report}");
        assert_eq!(queue.messages().len(), 3, "nothing more queued");
    }

    /// Without a queue the schedule rotates what is due, as before fan-out.
    #[tokio::test]
    async fn the_schedule_without_a_queue_rotates() {
        let cloud = MemoryCloud::with_accounts(&[TRUSTING]);
        let clock = OffsetClock::default();
        partner_link(&cloud, "solo").await;
        clock.advance(2 * DAY);
        cloud.advance(2 * DAY);
        let r = rotator(&cloud, &clock);
        let report = handle(&r, None::<&NoQueue>, &scheduled(), None)
            .await
            .unwrap();
        assert_eq!(report["summary"]["rotated"], json!(1), "{report}");
    }

    #[test]
    fn sqs_events_are_told_by_their_event_source() {
        let record = json!({"messageId": "m", "body": "{}", "eventSource": "aws:sqs"});
        assert!(is_sqs_event(&json!({"Records": [record]})));
        assert!(!is_sqs_event(&json!({"Records": []})));
        assert!(!is_sqs_event(
            &json!({"Records": [{"eventSource": "aws:s3"}]})
        ));
        assert!(!is_sqs_event(
            &json!({"Records": [record, {"eventSource": "aws:sns"}]})
        ));
        assert!(!is_sqs_event(&scheduled()));
        assert!(!is_sqs_event(&json!({"Links": ["Records"]})));
    }
}
