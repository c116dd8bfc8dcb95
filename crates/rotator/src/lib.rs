//! The `rotator` function: rotates external IDs and access keys without a lockout.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod clock;
pub mod command;
pub mod fanout;
pub mod guard;
mod incident;
pub mod metrics;
pub mod report;
pub mod rotate;
pub mod rotation;

pub use clock::{Clock, OffsetClock, SystemClock};
pub use command::{Command, CommandError, Incident};
pub use report::{Action, RunReport};
pub use rotate::{Limits, Rotator};

use serde_json::Value;
use trustlink_aws::ports::Cloud;

#[derive(Debug, thiserror::Error)]
pub enum RotatorError {
    #[error(transparent)]
    BadCommand(#[from] CommandError),
    #[error("listing the links failed: {0}")]
    Discovery(#[from] trustlink_aws::AwsError),
    /// Scheduled runs fail when a link failed, so the alarm and the on-failure destination see it.
    #[error("{failed} of {total} links failed ({names}); first: {first}")]
    LinksFailed {
        failed: usize,
        total: usize,
        names: String,
        first: String,
    },
    /// Fan-out: planning on the queue, or an SQS event that is not one.
    #[error(transparent)]
    Fanout(#[from] fanout::FanoutError),
    /// The run panicked; the message is withheld (see [`guard`]).
    #[error("internal error (see the function's logs)")]
    Panicked,
}

/// One invocation: the scheduled event rotates what is due; console events force, filter or
/// dry-run. Returns the run's report as JSON.
pub async fn handle<C: Cloud>(rotator: &Rotator<C>, event: &Value) -> Result<Value, RotatorError> {
    handle_invocation(rotator, event, None).await
}

/// [`handle`], with the invocation's caller identity (from the Lambda context, when it has
/// one), which a suspension records as who asked.
pub async fn handle_invocation<C: Cloud>(
    rotator: &Rotator<C>,
    event: &Value,
    caller: Option<&str>,
) -> Result<Value, RotatorError> {
    let mut command = Command::from_event(event)?;
    command.requested_by = caller.map(String::from);
    let report = rotator.run(&command).await?;
    let failed = report.failed_links();
    if command.scheduled && !failed.is_empty() {
        return Err(RotatorError::LinksFailed {
            failed: failed.len(),
            total: report.links.len(),
            names: failed.join(", "),
            first: report.first_failure().unwrap_or_default(),
        });
    }
    Ok(serde_json::to_value(&report).expect("the report serialises"))
}

/// How Lambda reports the error: its kind as the type, its text (never a secret) as the message.
impl From<RotatorError> for lambda_runtime::Diagnostic {
    fn from(e: RotatorError) -> Self {
        let error_type = match &e {
            RotatorError::BadCommand(_) => "BadCommand",
            RotatorError::Discovery(_) => "Discovery",
            RotatorError::LinksFailed { .. } => "LinksFailed",
            RotatorError::Fanout(_) => "Fanout",
            RotatorError::Panicked => "Panicked",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}
