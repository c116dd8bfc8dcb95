//! The `trust-link` function: `Custom::TrustLink` for CloudFormation.

pub mod error;
pub mod link;

pub use error::LinkError;
pub use link::{LinkOutput, LinkService, Mode, VerifyBounds};
