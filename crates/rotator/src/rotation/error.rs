//! Why a step failed. Every text is safe for logs and the report: AWS's messages, names and
//! ids, never a secret value.

use trustlink_aws::AwsError;

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// An AWS call failed; kept whole so a caller can match on its kind.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// A link secret or record that does not read (the text names the field, not a value).
    #[error("{0}")]
    Record(String),
    /// The stage a step works on is gone (another run moved it since the observation).
    #[error("no {0}")]
    Missing(&'static str),
    #[error("the trust policy of {role_arn} has no sts:ExternalId condition to rotate")]
    NoExternalIdCondition { role_arn: String },
    #[error("the trust policy does not admit the pending external ID yet")]
    NotAdmittedYet,
    #[error("the trust policy of {role_arn} refuses {principal} with the pending external ID")]
    Refused { role_arn: String, principal: String },
    #[error("assuming the role with the pending external ID failed: {0}")]
    AssumeFailed(AwsError),
    #[error("assumed {got} instead of {expected}")]
    AssumedWrongRole { got: String, expected: String },
    #[error("the new key does not work yet: {0}")]
    KeyNotWorking(AwsError),
    #[error("the new key acts as {got} instead of {expected}")]
    KeyActsAs { got: String, expected: String },
    #[error("did not settle within {0} steps")]
    Unsettled(usize),
}

pub type StepResult<T> = Result<T, StepError>;

impl StepError {
    /// A record or secret parse failure, whatever type its error is.
    pub(crate) fn record(e: impl std::fmt::Display) -> Self {
        Self::Record(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trustlink_aws::ErrorKind;

    /// The report shows the AWS error exactly as its own `Display` does.
    #[test]
    fn aws_errors_read_as_themselves_and_keep_their_kind() {
        let aws = AwsError::new("iam:GetRole", ErrorKind::NotFound, "no role X");
        let e = StepError::from(aws.clone());
        assert_eq!(e.to_string(), aws.to_string());
        assert!(matches!(e, StepError::Aws(a) if a.kind() == ErrorKind::NotFound));
        assert_eq!(
            StepError::KeyNotWorking(aws.clone()).to_string(),
            format!("the new key does not work yet: {aws}")
        );
        assert_eq!(
            StepError::Missing("pending key").to_string(),
            "no pending key"
        );
        assert_eq!(
            StepError::Unsettled(12).to_string(),
            "did not settle within 12 steps"
        );
    }
}
