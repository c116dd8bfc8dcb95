//! SDK errors mapped at the boundary into what a caller decides on.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What went wrong with an AWS call, in the terms callers decide on: a delete of something
/// `NotFound` is done, a create that is `AlreadyExists` may be ours from an earlier attempt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    #[error("{operation}: not found: {message}")]
    NotFound {
        operation: &'static str,
        message: String,
    },
    #[error("{operation}: already exists: {message}")]
    AlreadyExists {
        operation: &'static str,
        message: String,
    },
    #[error("{operation}: limit exceeded: {message}")]
    LimitExceeded {
        operation: &'static str,
        message: String,
    },
    #[error("{operation}: throttled: {message}")]
    Throttled {
        operation: &'static str,
        message: String,
    },
    #[error("{operation}: access denied: {message}")]
    AccessDenied {
        operation: &'static str,
        message: String,
    },
    #[error("{operation}: invalid request: {message}")]
    Invalid {
        operation: &'static str,
        message: String,
    },
    #[error("{operation}: {message}")]
    Other {
        operation: &'static str,
        message: String,
    },
}

impl AwsError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    pub fn is_already_exists(&self) -> bool {
        matches!(self, Self::AlreadyExists { .. })
    }

    pub fn other(operation: &'static str, message: impl Into<String>) -> Self {
        Self::Other {
            operation,
            message: message.into(),
        }
    }

    /// Maps an error code of IAM, STS or Secrets Manager.
    pub fn from_code(operation: &'static str, code: Option<&str>, message: String) -> Self {
        match code.unwrap_or_default() {
            "NoSuchEntity" | "ResourceNotFoundException" => Self::NotFound { operation, message },
            "EntityAlreadyExists" | "ResourceExistsException" => {
                Self::AlreadyExists { operation, message }
            }
            "LimitExceeded" | "LimitExceededException" => {
                Self::LimitExceeded { operation, message }
            }
            "Throttling" | "ThrottlingException" | "TooManyRequestsException" => {
                Self::Throttled { operation, message }
            }
            "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "InvalidClientTokenId"
            | "ExpiredToken"
            | "SignatureDoesNotMatch" => Self::AccessDenied { operation, message },
            "MalformedPolicyDocument"
            | "InvalidInput"
            | "ValidationError"
            | "InvalidParameterException"
            | "InvalidRequestException"
            | "InvalidParameterValue"
            | "PackedPolicyTooLarge" => Self::Invalid { operation, message },
            "" => Self::Other { operation, message },
            code => Self::Other {
                operation,
                message: format!("{code}: {message}"),
            },
        }
    }
}

/// The adapters call this on every SDK error; `operation` is e.g. `iam:CreateRole`.
pub(crate) fn map_sdk<E, R>(operation: &'static str) -> impl FnOnce(SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |err| match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            AwsError::from_code(
                operation,
                e.code(),
                e.message().unwrap_or("no message").to_string(),
            )
        }
        SdkError::TimeoutError(_) => AwsError::other(operation, "timed out"),
        SdkError::DispatchFailure(d) => AwsError::other(
            operation,
            format!(
                "could not reach the service ({})",
                if d.is_timeout() {
                    "timeout"
                } else if d.is_io() {
                    "connection error"
                } else {
                    "dispatch failure"
                }
            ),
        ),
        // Construction and response errors carry no secret, only SDK diagnostics.
        other => AwsError::other(
            operation,
            format!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(other)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_decisions() {
        let e = |c| AwsError::from_code("iam:X", Some(c), "m".into());
        assert!(e("NoSuchEntity").is_not_found());
        assert!(e("ResourceNotFoundException").is_not_found());
        assert!(e("EntityAlreadyExists").is_already_exists());
        assert!(e("ResourceExistsException").is_already_exists());
        assert!(matches!(e("LimitExceeded"), AwsError::LimitExceeded { .. }));
        assert!(matches!(e("Throttling"), AwsError::Throttled { .. }));
        assert!(matches!(e("AccessDenied"), AwsError::AccessDenied { .. }));
        assert!(matches!(
            e("MalformedPolicyDocument"),
            AwsError::Invalid { .. }
        ));
        assert_eq!(e("Weird").to_string(), "iam:X: Weird: m");
        assert_eq!(e("NoSuchEntity").to_string(), "iam:X: not found: m");
    }
}
