//! A FIFO queue in memory, for the rotator's planning tests: SendMessageBatch's limits, the
//! deduplication of a message id seen before, and every call kept to be inspected.

use std::sync::{Arc, Mutex};

use crate::ports::{
    AwsResult, Queue, QueueMessage, RefusedMessage, QUEUE_BATCH_BYTES, QUEUE_BATCH_ENTRIES,
};

use super::invalid;

const SEND: &str = "sqs:SendMessage";

/// Cheap to clone; clones share the queue.
#[derive(Clone, Debug, Default)]
pub struct MemoryQueue {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// Taken and not dropped as duplicates, in order.
    messages: Vec<QueueMessage>,
    /// Every SendMessageBatch call, as sent.
    batches: Vec<Vec<QueueMessage>>,
    /// Group ids whose messages are refused (a fault on the queue's side), to test retries.
    refuse_groups: Vec<String>,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// The messages the queue holds (duplicates dropped).
    pub fn messages(&self) -> Vec<QueueMessage> {
        self.lock().messages.clone()
    }

    /// Every batch sent, duplicates included.
    pub fn batches(&self) -> Vec<Vec<QueueMessage>> {
        self.lock().batches.clone()
    }

    /// From now on the messages of `group_id` are refused as SQS refuses on an internal error.
    pub fn refuse_group(&self, group_id: &str) {
        self.lock().refuse_groups.push(group_id.to_string());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("the memory queue's lock")
    }
}

impl Queue for MemoryQueue {
    async fn send_message_batch(&self, batch: &[QueueMessage]) -> AwsResult<Vec<RefusedMessage>> {
        if batch.is_empty() || batch.len() > QUEUE_BATCH_ENTRIES {
            return Err(invalid(
                SEND,
                format!(
                    "a batch holds 1 to {QUEUE_BATCH_ENTRIES} entries (got {})",
                    batch.len()
                ),
            ));
        }
        let bytes: usize = batch.iter().map(|m| m.body.len()).sum();
        if bytes > QUEUE_BATCH_BYTES {
            return Err(invalid(
                SEND,
                format!("a batch holds at most {QUEUE_BATCH_BYTES} bytes (got {bytes})"),
            ));
        }
        let mut state = self.lock();
        state.batches.push(batch.to_vec());
        let mut refused = Vec::new();
        for (index, m) in batch.iter().enumerate() {
            if state.refuse_groups.contains(&m.group_id) {
                refused.push(RefusedMessage {
                    index,
                    sender_fault: false,
                    reason: "InternalError: refused by the test".into(),
                });
            } else if !state
                .messages
                .iter()
                .any(|held| held.deduplication_id == m.deduplication_id)
            {
                state.messages.push(m.clone());
            }
        }
        Ok(refused)
    }
}
