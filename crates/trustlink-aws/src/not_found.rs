//! Not-found as an answer rather than a failure: a read of something absent says "none",
//! a delete of something absent is done.

use crate::AwsError;

pub trait NotFoundExt<T> {
    /// `NotFound` becomes `Ok(None)`; every other error stays.
    fn optional(self) -> Result<Option<T>, AwsError>;
    /// `NotFound` becomes `Ok(())` (the value, if any, is dropped); every other error stays.
    fn ok_if_not_found(self) -> Result<(), AwsError>;
}

impl<T> NotFoundExt<T> for Result<T, AwsError> {
    fn optional(self) -> Result<Option<T>, AwsError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn ok_if_not_found(self) -> Result<(), AwsError> {
        self.optional().map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn err(kind: ErrorKind) -> Result<u8, AwsError> {
        Err(AwsError::new("iam:GetRole", kind, "m"))
    }

    #[test]
    fn not_found_is_none_and_other_errors_stay() {
        assert_eq!(Ok::<u8, AwsError>(3).optional(), Ok(Some(3)));
        assert_eq!(err(ErrorKind::NotFound).optional(), Ok(None));
        assert_eq!(
            err(ErrorKind::AccessDenied).optional(),
            Err(AwsError::new("iam:GetRole", ErrorKind::AccessDenied, "m"))
        );
    }

    #[test]
    fn not_found_is_done_and_other_errors_stay() {
        assert_eq!(Ok::<u8, AwsError>(3).ok_if_not_found(), Ok(()));
        assert_eq!(err(ErrorKind::NotFound).ok_if_not_found(), Ok(()));
        assert!(err(ErrorKind::Throttled).ok_if_not_found().is_err());
    }
}
