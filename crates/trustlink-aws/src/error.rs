//! SDK errors mapped at the boundary into what a caller decides on.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What kind of refusal an AWS call met, in the terms callers decide on: a delete of
/// something `NotFound` is done, a create that is `AlreadyExists` may be ours from an
/// earlier attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    LimitExceeded,
    Throttled,
    AccessDenied,
    Invalid,
    Other,
}

impl ErrorKind {
    /// The words `Display` puts between the operation and the message (none for `Other`).
    fn label(self) -> Option<&'static str> {
        match self {
            Self::NotFound => Some("not found"),
            Self::AlreadyExists => Some("already exists"),
            Self::LimitExceeded => Some("limit exceeded"),
            Self::Throttled => Some("throttled"),
            Self::AccessDenied => Some("access denied"),
            Self::Invalid => Some("invalid request"),
            Self::Other => None,
        }
    }
}

/// An AWS call that failed: which operation (e.g. `iam:CreateRole`), what kind of
/// refusal, and the service's message.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsError {
    pub operation: &'static str,
    pub kind: ErrorKind,
    pub message: String,
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind.label() {
            Some(label) => write!(f, "{}: {label}: {}", self.operation, self.message),
            None => write!(f, "{}: {}", self.operation, self.message),
        }
    }
}

/// Written as the enum this type was (`NotFound { operation: .., message: .. }`), so
/// logs and reports that show it read as they did.
impl std::fmt::Debug for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(&format!("{:?}", self.kind))
            .field("operation", &self.operation)
            .field("message", &self.message)
            .finish()
    }
}

impl std::error::Error for AwsError {}

impl AwsError {
    pub fn new(operation: &'static str, kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            operation,
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    pub fn is_already_exists(&self) -> bool {
        self.kind == ErrorKind::AlreadyExists
    }

    pub fn other(operation: &'static str, message: impl Into<String>) -> Self {
        Self::new(operation, ErrorKind::Other, message)
    }

    /// Maps an error code of IAM, STS or Secrets Manager.
    pub fn from_code(operation: &'static str, code: Option<&str>, message: String) -> Self {
        let kind = match code.unwrap_or_default() {
            "NoSuchEntity" | "ResourceNotFoundException" => ErrorKind::NotFound,
            "EntityAlreadyExists" | "ResourceExistsException" => ErrorKind::AlreadyExists,
            "LimitExceeded" | "LimitExceededException" => ErrorKind::LimitExceeded,
            "Throttling" | "ThrottlingException" | "TooManyRequestsException" => {
                ErrorKind::Throttled
            }
            "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "InvalidClientTokenId"
            | "ExpiredToken"
            | "SignatureDoesNotMatch" => ErrorKind::AccessDenied,
            "MalformedPolicyDocument"
            | "InvalidInput"
            | "ValidationError"
            | "InvalidParameterException"
            | "InvalidRequestException"
            | "InvalidParameterValue"
            | "PackedPolicyTooLarge" => ErrorKind::Invalid,
            "" => ErrorKind::Other,
            code => return Self::other(operation, format!("{code}: {message}")),
        };
        Self::new(operation, kind, message)
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
        assert_eq!(e("LimitExceeded").kind(), ErrorKind::LimitExceeded);
        assert_eq!(e("Throttling").kind(), ErrorKind::Throttled);
        assert_eq!(e("AccessDenied").kind(), ErrorKind::AccessDenied);
        assert_eq!(e("MalformedPolicyDocument").kind(), ErrorKind::Invalid);
        assert_eq!(e("Weird").kind(), ErrorKind::Other);
        assert_eq!(e("Weird").to_string(), "iam:X: Weird: m");
        assert_eq!(e("NoSuchEntity").to_string(), "iam:X: not found: m");
    }

    #[test]
    fn display_and_debug_read_as_before() {
        let e = |k| AwsError::new("sts:AssumeRole", k, "m");
        let shown: Vec<String> = [
            ErrorKind::NotFound,
            ErrorKind::AlreadyExists,
            ErrorKind::LimitExceeded,
            ErrorKind::Throttled,
            ErrorKind::AccessDenied,
            ErrorKind::Invalid,
            ErrorKind::Other,
        ]
        .into_iter()
        .map(|k| e(k).to_string())
        .collect();
        assert_eq!(
            shown,
            [
                "sts:AssumeRole: not found: m",
                "sts:AssumeRole: already exists: m",
                "sts:AssumeRole: limit exceeded: m",
                "sts:AssumeRole: throttled: m",
                "sts:AssumeRole: access denied: m",
                "sts:AssumeRole: invalid request: m",
                "sts:AssumeRole: m",
            ]
        );
        assert_eq!(
            format!("{:?}", e(ErrorKind::AccessDenied)),
            r#"AccessDenied { operation: "sts:AssumeRole", message: "m" }"#
        );
    }
}
