//! Adapters: IAM, STS and Secrets Manager behind narrow port traits ([`ports`]), implemented
//! over the AWS SDK for Rust. SDK types stop here; errors become [`AwsError`].

#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod accounts;
pub mod calls;
pub mod config;
pub mod emf;
mod error;
mod iam;
pub mod logging;
#[cfg(feature = "test-util")]
pub mod memory;
mod not_found;
mod op;
pub mod ports;
pub mod probe;
mod secrets;
mod sqs;
mod sts;

pub use accounts::{AccountAccess, DEFAULT_ADMIN_ROLE_NAME};
pub use config::load_sdk_config;
pub use error::{AwsError, ErrorKind};
pub use iam::IamAdapter;
#[cfg(feature = "test-util")]
pub use memory::MemoryCloud;
pub use not_found::NotFoundExt;
pub use secrets::SecretsAdapter;
pub use sqs::SqsQueue;
pub use sts::StsAdapter;
