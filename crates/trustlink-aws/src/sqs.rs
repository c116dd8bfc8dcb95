//! The rotator's fan-out queue over `aws-sdk-sqs`: one FIFO queue, known by its URL.

use aws_config::SdkConfig;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;

use crate::error::map_sdk;
use crate::ports::{AwsResult, Queue, QueueMessage, RefusedMessage};
use crate::AwsError;

#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    /// The queue at `url`, reached with the functions' own configuration (region, endpoint,
    /// retries).
    pub fn new(config: &SdkConfig, url: impl Into<String>) -> Self {
        Self {
            client: Client::new(config),
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

/// A batch entry's id is its position: unique within the batch, as SQS requires.
fn entry(index: usize, m: &QueueMessage) -> AwsResult<SendMessageBatchRequestEntry> {
    SendMessageBatchRequestEntry::builder()
        .id(index.to_string())
        .message_body(&m.body)
        .message_group_id(&m.group_id)
        .message_deduplication_id(&m.deduplication_id)
        .build()
        .map_err(|e| AwsError::other(SEND, e.to_string()))
}

/// SendMessageBatch is authorised by the `sqs:SendMessage` action: the label is the action
/// the role must be granted.
const SEND: &str = "sqs:SendMessage";

impl Queue for SqsQueue {
    async fn send_message_batch(
        &self,
        messages: &[QueueMessage],
    ) -> AwsResult<Vec<RefusedMessage>> {
        let entries = messages
            .iter()
            .enumerate()
            .map(|(i, m)| entry(i, m))
            .collect::<AwsResult<Vec<_>>>()?;
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(map_sdk("sqs:SendMessage"))?;
        out.failed()
            .iter()
            .map(|f| {
                let index = f.id().parse().map_err(|_| {
                    AwsError::other(SEND, format!("a refusal names no entry sent ({})", f.id()))
                })?;
                Ok(RefusedMessage {
                    index,
                    sender_fault: f.sender_fault(),
                    reason: format!("{}: {}", f.code(), f.message().unwrap_or("no message")),
                })
            })
            .collect()
    }
}
