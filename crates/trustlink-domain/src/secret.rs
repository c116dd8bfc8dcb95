//! Values that must never reach a log line, an error message or a response without NoEcho.
//!
//! Each type keeps its value private; `Debug` and `Display` print a fixed marker, and the
//! value is reachable only through an explicit `expose()` call, which is easy to grep for.

use std::fmt;

use crate::error::ValidationError;

/// What every redacting type prints instead of its value.
pub const REDACTED: &str = "<redacted>";

macro_rules! redacting_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The secret itself. Call only to hand it to AWS or to a NoEcho response.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), REDACTED)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(REDACTED)
            }
        }
    };
}

redacting_type!(
    /// The `sts:ExternalId` a consumer passes to AssumeRole.
    ExternalId
);
redacting_type!(
    /// The secret half of an IAM access key.
    SecretAccessKey
);
redacting_type!(
    /// An STS session token.
    SessionToken
);
redacting_type!(
    /// The text of a secret as Secrets Manager stores it (JSON holding an external ID or a key).
    SecretText
);

impl SecretText {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
}

impl SecretAccessKey {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
}

impl SessionToken {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
}

/// STS accepts 2..=1224 characters of `[\w+=,.@:/-]`.
pub const EXTERNAL_ID_MIN: usize = 2;
pub const EXTERNAL_ID_MAX: usize = 1224;
/// Generated IDs: 48 characters of a 62-letter alphabet, about 285 bits.
pub const GENERATED_EXTERNAL_ID_LEN: usize = 48;

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

pub fn is_external_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c)
}

impl ExternalId {
    /// Validates a user-supplied external ID. The error never contains the value.
    pub fn parse(field: &str, value: &str) -> Result<Self, ValidationError> {
        let len = value.chars().count();
        if !(EXTERNAL_ID_MIN..=EXTERNAL_ID_MAX).contains(&len) {
            return Err(ValidationError::new(
                field,
                format!(
                    "must be {EXTERNAL_ID_MIN} to {EXTERNAL_ID_MAX} characters long (got {len})"
                ),
            ));
        }
        if let Some(bad) = value.chars().find(|c| !is_external_id_char(*c)) {
            let shown = if bad.is_whitespace() {
                "whitespace".to_string()
            } else {
                format!("'{bad}'")
            };
            return Err(ValidationError::new(
                field,
                format!("may contain only letters, digits and _+=,.@:/- (found {shown})"),
            ));
        }
        Ok(Self(value.to_string()))
    }

    /// A fresh ID from the operating system's CSPRNG.
    pub fn generate() -> Self {
        Self(random_string(GENERATED_EXTERNAL_ID_LEN))
    }
}

/// A fresh `ClientRequestToken` for a secret write: as random as an external ID (Secrets
/// Manager wants 32 to 64 characters), and not a secret.
pub fn request_token() -> String {
    random_string(GENERATED_EXTERNAL_ID_LEN)
}

/// `len` characters drawn uniformly from `[A-Za-z0-9]` with the OS CSPRNG
/// (rejection sampling, so no modulo bias).
fn random_string(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::getrandom(&mut buf).expect("the operating system's CSPRNG is unavailable");
        for b in buf {
            // 248 = 4 * 62: bytes at or above it would bias the first letters.
            if b < 248 && out.len() < len {
                out.push(ALPHANUMERIC[(b % 62) as usize] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_long_valid_and_distinct() {
        let a = ExternalId::generate();
        let b = ExternalId::generate();
        assert!(a.expose().len() >= 32);
        assert_ne!(a, b);
        assert!(ExternalId::parse("ExternalId", a.expose()).is_ok());
    }

    #[test]
    fn generated_ids_use_the_whole_alphabet() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            seen.extend(ExternalId::generate().expose().chars());
        }
        assert_eq!(seen.len(), 62);
    }

    #[test]
    fn debug_and_display_redact() {
        let id = ExternalId::parse("ExternalId", "UniqueExternalId12345").unwrap();
        let key = SecretAccessKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        let token = SessionToken::new("FwoGZXIvYXdzEXAMPLETOKEN");
        for shown in [
            format!("{id:?} {id}"),
            format!("{key:?} {key}"),
            format!("{token:?} {token}"),
        ] {
            assert!(shown.contains(REDACTED), "{shown}");
            assert!(!shown.contains("Unique"));
            assert!(!shown.contains("wJalr"));
            assert!(!shown.contains("FwoG"));
        }
    }

    #[test]
    fn external_id_rules() {
        let e = ExternalId::parse("ExternalId", "a").unwrap_err();
        assert_eq!(
            e.to_string(),
            "ExternalId: must be 2 to 1224 characters long (got 1)"
        );
        let e = ExternalId::parse("ExternalId", "has space").unwrap_err();
        assert_eq!(
            e.to_string(),
            "ExternalId: may contain only letters, digits and _+=,.@:/- (found whitespace)"
        );
        let e = ExternalId::parse("ExternalId", "semi;colon").unwrap_err();
        assert!(e.to_string().contains("(found ';')"));
        assert!(!e.to_string().contains("semi"));
        let e = ExternalId::parse("ExternalId", &"x".repeat(1225)).unwrap_err();
        assert!(e.to_string().contains("got 1225"));
        assert!(ExternalId::parse("ExternalId", "ab").is_ok());
        assert!(ExternalId::parse("ExternalId", "a_b+c=d,e.f@g:h/i-j").is_ok());
    }
}
