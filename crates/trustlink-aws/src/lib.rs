//! Adapters: IAM, STS and Secrets Manager behind narrow port traits ([`ports`]), implemented
//! over the AWS SDK for Rust. SDK types stop here; errors become [`AwsError`].

pub mod accounts;
pub mod config;
mod error;
mod iam;
pub mod logging;
pub mod ports;
mod secrets;
mod sts;

pub use accounts::{AccountAccess, DEFAULT_ADMIN_ROLE_NAME};
pub use config::load_sdk_config;
pub use error::AwsError;
pub use iam::IamAdapter;
pub use secrets::SecretsAdapter;
pub use sts::StsAdapter;
