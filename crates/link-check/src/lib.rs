//! The `link-check` function: does a trust link work (Verify), is every cross-account role
//! safe (Audit), and why does an AssumeRole fail (Diagnose). Reads IAM and the link secrets,
//! assumes link roles only to probe them; never writes anything.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod audit;
pub mod command;
pub mod diagnose;
pub mod findings;
pub mod links;
pub mod metrics;
pub mod settings;
pub mod trust;
pub mod verify;

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use trustlink_aws::ports::{Cloud, Inventory};

pub use command::{Command, CommandError};
pub use settings::{CheckSettings, SettingsError};

/// The one clock of the product; the binary runs an [`OffsetClock`] shifted by
/// `TRUSTLINK_CLOCK_OFFSET_SECONDS` (0 unless a drill sets it).
pub use trustlink_domain::clock::{Clock, OffsetClock, SystemClock};

/// One step of a verification or a diagnosis: what was checked, whether it held, and why.
/// `detail` never holds a secret: external IDs are named by their stage, never shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    pub fn new(name: &str, ok: bool, detail: impl Into<String>) -> Self {
        Self {
            name: name.to_string(),
            ok,
            detail: detail.into(),
        }
    }
}

/// An epoch time as ISO 8601 (`2026-11-23T06:47:02Z`).
pub fn iso(epoch: i64) -> String {
    jiff::Timestamp::from_second(epoch)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| epoch.to_string())
}

/// What link-check works with: the cloud (IAM of any account, STS, the hub's secrets), its
/// settings and a clock.
pub struct Checker<C> {
    pub cloud: C,
    pub settings: CheckSettings,
    pub clock: Arc<dyn Clock>,
}

impl<C> Checker<C> {
    pub fn new(cloud: C, settings: CheckSettings, clock: Arc<dyn Clock>) -> Self {
        Self {
            cloud,
            settings,
            clock,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LinkCheckError {
    #[error(transparent)]
    BadCommand(#[from] CommandError),
    #[error("listing the links failed: {0}")]
    Discovery(trustlink_aws::AwsError),
    #[error("the diagnosis could not be made: {0}")]
    Diagnose(#[from] diagnose::DiagnoseError),
}

/// How Lambda reports the error: its kind as the type, its text (never a secret) as the message.
impl From<LinkCheckError> for lambda_runtime::Diagnostic {
    fn from(e: LinkCheckError) -> Self {
        let error_type = match &e {
            LinkCheckError::BadCommand(_) => "BadCommand",
            LinkCheckError::Discovery(_) => "Discovery",
            LinkCheckError::Diagnose(_) => "Diagnose",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}

/// One invocation: a console command, the daily schedule (an audit), or a CloudTrail event
/// of a failed AssumeRole (a diagnosis). Returns the result as JSON; writes its metrics.
/// Each command's future is boxed: nested by value, the binary's future grows past the
/// compiler's query depth limit (no `recursion_limit` needed).
pub async fn handle<C>(checker: &Checker<C>, event: &Value) -> Result<Value, LinkCheckError>
where
    C: Cloud,
    C::Iam: Inventory,
{
    let value = match Command::from_event(event)? {
        Command::Verify { links } => {
            let report = Box::pin(verify::run(checker, links.as_deref())).await?;
            metrics::emit(&metrics::for_verify(&report), checker.clock.as_ref());
            serde_json::to_value(&report)
        }
        Command::Audit { accounts, .. } => {
            let report = Box::pin(audit::run(checker, accounts.as_deref())).await?;
            metrics::emit(&metrics::for_audit(&report), checker.clock.as_ref());
            serde_json::to_value(&report)
        }
        Command::Diagnose(request) => {
            let report = Box::pin(diagnose::run(checker, &request)).await?;
            metrics::emit(&metrics::for_diagnosis(&report), checker.clock.as_ref());
            serde_json::to_value(&report)
        }
    };
    Ok(value.expect("reports serialise"))
}
