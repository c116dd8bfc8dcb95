//! The `trust-link` function: `Custom::TrustLink` for CloudFormation.

#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod error;
pub mod link;
pub mod resource;

pub use error::LinkError;
pub use link::{LinkOutput, LinkService, Mode, VerifyBounds};
pub use resource::TrustLinkResource;
