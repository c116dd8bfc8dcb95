//! A panic in a run becomes a plain error. Left to itself, lambda_runtime catches the panic
//! and answers the invocation with its message ("Lambda panicked: ..."), which Lambda logs
//! and hands to the on-failure destination; a panic message can quote anything, a secret
//! included. The message is withheld here, and the panic hook (installed in `main`) logs
//! only where it happened.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use serde_json::Value;

use crate::RotatorError;

/// Runs `work`; a panic inside it is [`RotatorError::Panicked`].
pub async fn contain<F>(work: F) -> Result<Value, RotatorError>
where
    F: Future<Output = Result<Value, RotatorError>>,
{
    match AssertUnwindSafe(work).catch_unwind().await {
        Ok(result) => result,
        Err(_payload) => {
            // The payload is not logged either: it is the message.
            tracing::error!("the rotation run panicked");
            Err(RotatorError::Panicked)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_answers_without_its_message() {
        let e = contain(async { panic!("ExternalIdSecretValue0001") })
            .await
            .unwrap_err();
        let diagnostic = lambda_runtime::Diagnostic::from(e);
        assert_eq!(
            diagnostic.error_message,
            "internal error (see the function's logs)"
        );
        assert!(!diagnostic
            .error_message
            .contains("ExternalIdSecretValue0001"));
        assert!(!diagnostic.error_type.contains("ExternalIdSecretValue0001"));
    }

    #[tokio::test]
    async fn results_pass_through() {
        assert_eq!(
            contain(async { Ok(Value::Null) }).await.unwrap(),
            Value::Null
        );
        let e = contain(async { Err(RotatorError::Panicked) }).await;
        assert!(matches!(e, Err(RotatorError::Panicked)));
    }
}
