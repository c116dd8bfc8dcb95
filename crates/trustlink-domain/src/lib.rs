//! The domain of trustlink, free of any AWS SDK: what a trust link is, the rules it must
//! follow, the policy documents it is made of, and the secrets it carries.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod arn;
pub mod clock;
pub mod error;
pub mod evaluate;
pub mod identity_policy;
pub mod incident;
pub mod policy;
mod props;
pub mod record;
pub mod rotation;
pub mod rules;
pub mod secret;
pub mod self_assume;
pub mod settings;
pub mod spec;
pub mod withheld;

pub use arn::Partition;
pub use error::{ValidationError, ValidationErrors};
pub use policy::Principal;
pub use rules::{AccountId, Timestamp};
pub use secret::{ExternalId, SecretAccessKey, SecretText, SessionToken};
pub use settings::Settings;
pub use spec::{Conditions, LinkSpec, RoleSpec, RotationSettings, Tag, TrustedSide};
