//! The worker: an SQS event from the fan-out queue, each record a console command naming its
//! links. The answer names only the records whose links failed (`batchItemFailures`), so
//! Lambda deletes the others and SQS delivers the failed ones again, and after the queue's
//! `maxReceiveCount` moves them to its dead-letter queue.
//!
//! AWS suggests a FIFO consumer stop at its first failure, for the messages of a group to keep
//! their order. Here each message is one link's own work: order within an account does not
//! matter, only that one worker at a time writes to it, which the message group already
//! ensures. So every record is worked and only the failed ones are named.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::stream::{self, StreamExt};
use serde_json::Value;
use tracing::{info, warn};
use trustlink_aws::ports::{Cloud, Secrets};
use trustlink_aws::{emf, AwsError, ErrorKind};
use trustlink_domain::record::{self, LinkRecord};

use super::FanoutError;
use crate::command::{Command, CommandError};
use crate::metrics;
use crate::report::RunReport;
use crate::rotate::Rotator;

/// Why one record failed. Its text is logged; it names links and rules, never a secret.
#[derive(Debug, thiserror::Error)]
enum RecordError {
    #[error("the record has no body")]
    NoBody,
    #[error("the body is not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error(transparent)]
    BadCommand(#[from] CommandError),
    /// A queued command without `Links` would run every link, past the message groups that
    /// keep one account to one worker.
    #[error("Links: a queued command names its links")]
    Unnamed,
    #[error("looking up link {link} failed: {source}")]
    Lookup { link: String, source: AwsError },
    #[error("{failed} of {total} links failed ({names}); first: {first}")]
    LinksFailed {
        failed: usize,
        total: usize,
        names: String,
        first: String,
    },
}

/// Works every record of `event` and answers Lambda's partial batch response. The batch
/// writes its one metrics object, as a scheduled run does.
pub async fn consume<C: Cloud>(rotator: &Rotator<C>, event: &Value) -> Result<Value, FanoutError> {
    consume_into(rotator, event, emf::print).await
}

/// [`consume`], handing the batch's metrics object to `write`.
async fn consume_into<C: Cloud>(
    rotator: &Rotator<C>,
    event: &Value,
    write: impl FnOnce(&Value),
) -> Result<Value, FanoutError> {
    let event: SqsEvent = serde_json::from_value(event.clone())
        .map_err(|e| FanoutError::NotAnSqsEvent(e.to_string()))?;
    if event.records.iter().any(|r| r.message_id.is_none()) {
        return Err(FanoutError::NoMessageId);
    }
    let mut response = SqsBatchResponse::default();
    let batch = async {
        let outcomes: Vec<(&SqsMessage, Result<RunReport, RecordError>)> =
            stream::iter(&event.records)
                .map(|r| async move { (r, work(rotator, r).await) })
                .buffer_unordered(rotator.limits.concurrency.max(1))
                .collect()
                .await;
        let mut links = Vec::new();
        for (record, outcome) in outcomes {
            let message_id = record.message_id.clone().unwrap_or_default();
            let verdict = outcome.and_then(|report| {
                let verdict = verdict(&report);
                links.extend(report.links);
                verdict
            });
            match verdict {
                Ok(links) => info!(message_id, links, "queued command done"),
                Err(e) => {
                    warn!(message_id, error = %e, "queued command failed; SQS delivers it again");
                    response.add_failure(message_id);
                }
            }
        }
        // The batch's links as one run's, for its metrics.
        Ok(RunReport::new(false, links))
    };
    let _ = metrics::measured_into(batch, write).await;
    info!(
        records = event.records.len(),
        failed = response.batch_item_failures.len(),
        "queue batch finished"
    );
    Ok(serde_json::to_value(&response).expect("the batch response serialises"))
}

/// One record: its command, run on the links it names.
async fn work<C: Cloud>(
    rotator: &Rotator<C>,
    record: &SqsMessage,
) -> Result<RunReport, RecordError> {
    let body = record.body.as_deref().ok_or(RecordError::NoBody)?;
    let event: Value = serde_json::from_str(body).map_err(RecordError::NotJson)?;
    let command = Command::from_event(&event)?;
    let names = command.links.clone().ok_or(RecordError::Unnamed)?;
    let mut links = Vec::new();
    for name in &names {
        links.extend(find(rotator, name).await?);
    }
    Ok(rotator.run_on(links, &command).await)
}

/// A record's run: the number of its links, or which failed.
fn verdict(report: &RunReport) -> Result<usize, RecordError> {
    let failed = report.failed_links();
    if failed.is_empty() {
        return Ok(report.links.len());
    }
    Err(RecordError::LinksFailed {
        failed: failed.len(),
        total: report.links.len(),
        names: failed.join(", "),
        first: report.first_failure().unwrap_or_default(),
    })
}

/// The link named `name`, from its own secret (one DescribeSecret, where discovering every
/// link would list them all for each record); `None` when there is no such link, which the
/// run reports as a failed link.
async fn find<C: Cloud>(
    rotator: &Rotator<C>,
    name: &str,
) -> Result<Option<LinkRecord>, RecordError> {
    let secret = record::external_id_secret_name(name);
    match rotator.cloud.secrets().describe_secret(&secret).await {
        Ok(d) if d.scheduled_for_deletion => Ok(None),
        Ok(d) => Ok(LinkRecord::from_tags(&d.tags).filter(|r| r.link_name == name)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(RecordError::Lookup {
            link: name.to_string(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use trustlink_aws::MemoryCloud;
    use trustlink_domain::rotation::{DAY, HOUR};

    use super::*;
    use crate::fanout::testing::*;
    use crate::OffsetClock;

    /// Only the records whose links failed are named; the due link is rotated by a queued
    /// command that does not force, as the planner sends it.
    #[tokio::test]
    async fn only_the_failed_records_are_named() {
        let cloud = MemoryCloud::with_accounts(&[TRUSTING]);
        let clock = OffsetClock::default();
        for name in ["due-a", "due-b"] {
            partner_link(&cloud, name).await;
        }
        let before = current_version(&cloud, "due-a").await;
        clock.advance(2 * DAY);
        cloud.advance(2 * DAY);
        let event = sqs_event(&[
            r#"{"Links":["due-a"]}"#,
            r#"{"Links":["no-such-link"]}"#,
            "not json",
            r#"{"Force":true}"#,
            r#"{"Links":["due-b"],"Forse":true}"#,
        ]);
        let r = rotator(&cloud, &clock);
        let response = consume(&r, &event).await.unwrap();
        let mut failed = failures(&response);
        failed.sort_unstable();
        assert_eq!(failed, ["m1", "m2", "m3", "m4"], "{response}");
        assert_ne!(
            current_version(&cloud, "due-a").await,
            before,
            "due-a rotated"
        );

        // Delivered again past the grace period (a duplicate, or after a crash): the previous
        // ID is retired, and nothing is due any more.
        let rotated = current_version(&cloud, "due-a").await;
        clock.advance(2 * HOUR);
        cloud.advance(2 * HOUR);
        let again = consume(&r, &sqs_event(&[r#"{"Links":["due-a"]}"#]))
            .await
            .unwrap();
        assert!(failures(&again).is_empty(), "{again}");
        assert_eq!(
            current_version(&cloud, "due-a").await,
            rotated,
            "not rotated twice"
        );
    }

    /// A batch writes one metrics object, with the links of all its records, as a scheduled
    /// run does; the records that failed before a run add none.
    #[tokio::test]
    async fn a_batch_writes_one_metrics_object() {
        let cloud = MemoryCloud::with_accounts(&[TRUSTING]);
        let clock = OffsetClock::default();
        for name in ["m-a", "m-b"] {
            partner_link(&cloud, name).await;
        }
        let event = sqs_event(&[
            r#"{"Links":["m-a"]}"#,
            r#"{"Links":["m-b","no-such-link"]}"#,
            "not json",
        ]);
        let mut written = Vec::new();
        let r = rotator(&cloud, &clock);
        consume_into(&r, &event, |doc| written.push(doc.clone()))
            .await
            .unwrap();
        assert_eq!(written.len(), 1, "{written:?}");
        let doc = &written[0];
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            metrics::NAMESPACE
        );
        assert_eq!(doc["Links"], 3.0, "{doc}");
        assert_eq!(doc["Failures"], 1.0, "{doc}");
    }

    #[tokio::test]
    async fn an_event_that_is_not_sqs_fails_the_batch() {
        let cloud = MemoryCloud::new();
        let r = rotator(&cloud, &OffsetClock::default());
        let e = consume(&r, &json!({"Records": "x"})).await.unwrap_err();
        assert!(matches!(e, FanoutError::NotAnSqsEvent(_)), "{e}");
        let mut event = sqs_event(&[r#"{"Links":["a"]}"#]);
        event["Records"][0]
            .as_object_mut()
            .unwrap()
            .remove("messageId");
        let e = consume(&r, &event).await.unwrap_err();
        assert!(matches!(e, FanoutError::NoMessageId), "{e}");
    }
}
