//! The fixtures every test file shares: the accounts, access to them, the settings and
//! verification bounds the handlers run with, and readers of CloudFormation answers.

use std::time::Duration;

use serde_json::Value;
use trust_link::VerifyBounds;
use trustlink_aws::AccountAccess;
use trustlink_domain::{AccountId, Settings};

/// The trusting account of the test links (reached through its TrustLinkAdmin role).
pub const TRUSTING: &str = "111122223333";
/// The trusted account of the test links.
pub const TRUSTED: &str = "444455556666";

pub fn account(id: &str) -> AccountId {
    AccountId::parse("account", id).unwrap()
}

/// The hub's view of every account, with the member accounts provisioned.
pub async fn access() -> AccountAccess {
    crate::bootstrap_member_account(TRUSTING).await;
    crate::bootstrap_member_account(TRUSTED).await;
    AccountAccess::new(
        crate::hub_config().await,
        trustlink_aws::DEFAULT_ADMIN_ROLE_NAME,
    )
}

/// A deployment's settings: the role paths and managed policies the tests use.
pub fn settings() -> Settings {
    Settings {
        role_paths: Some(vec!["/trustlink/".into(), "/cross-account/".into()]),
        managed_policy_allowlist: Some(vec![
            "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
            "arn:aws:iam::aws:policy/SecurityAudit".into(),
            "arn:aws:iam::aws:policy/NoSuchPolicy*".into(),
        ]),
        ..Settings::default()
    }
}

/// Verification that gives up in about a second: moto is consistent at once.
pub fn fast_verify() -> VerifyBounds {
    VerifyBounds {
        attempts: 5,
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(400),
    }
}

/// The Status of a CloudFormation answer.
pub fn status(r: &Value) -> &str {
    r["Status"].as_str().unwrap_or_default()
}

/// The Reason of a CloudFormation answer.
pub fn reason(r: &Value) -> &str {
    r["Reason"].as_str().unwrap_or_default()
}
