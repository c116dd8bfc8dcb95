use trustlink_aws::AwsError;
use trustlink_domain::record::SecretParseError;
use trustlink_domain::ValidationErrors;

/// Why a link could not be made. Every text is safe for a CloudFormation reason and a log.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The request is wrong; nothing was written.
    #[error("{0}")]
    Invalid(#[from] ValidationErrors),
    /// Something that exists is in the way and is not this link's.
    #[error("{0}")]
    Conflict(String),
    /// A secret of the link's holds what trustlink does not write: in the way, as a conflict.
    #[error("{0}")]
    UnreadableSecret(#[from] SecretParseError),
    #[error("{step}: {source}")]
    Aws {
        step: &'static str,
        source: AwsError,
    },
    #[error("verification failed: {0}")]
    Verify(String),
    /// Another delivery of the same request created `{0}` meanwhile (retried, then a Conflict).
    #[error("{0} was created concurrently")]
    Race(String),
    /// The trusted user has two access keys; one may be a concurrent delivery's, about to be
    /// stored (retried, then a Conflict).
    #[error("user {0} has two access keys")]
    KeysFull(String),
}

pub(crate) trait AtStep<T> {
    fn at(self, step: &'static str) -> Result<T, LinkError>;
}

impl<T> AtStep<T> for Result<T, AwsError> {
    fn at(self, step: &'static str) -> Result<T, LinkError> {
        self.map_err(|source| LinkError::Aws { step, source })
    }
}

pub(crate) fn invalid(field: &str, rule: impl Into<String>) -> LinkError {
    LinkError::Invalid(trustlink_domain::ValidationError::new(field, rule).into())
}
