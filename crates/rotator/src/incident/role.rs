//! The link's role as the incident commands find it: its account and name from the record.

use trustlink_domain::record::{self, LinkRecord};
use trustlink_domain::AccountId;

use crate::rotation::{StepError, StepResult};

/// Where the link's role is.
#[derive(Debug, Clone)]
pub(crate) struct RoleOf {
    pub account: AccountId,
    pub name: String,
}

pub(crate) fn role_of(rec: &LinkRecord) -> StepResult<RoleOf> {
    let (account, name) = record::role_of_arn(&rec.role_arn)
        .ok_or_else(|| StepError::Record(format!("{} is not a role ARN", rec.role_arn)))?;
    Ok(RoleOf { account, name })
}
