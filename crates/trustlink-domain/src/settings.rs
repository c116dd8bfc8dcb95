//! Deployment settings both functions read once at start, from the environment the SAM
//! template sets. Pure: the lookup is passed in, so the rules are unit-tested.

use crate::error::ValidationError;
use crate::rules;

pub const DEFAULT_ADMIN_ROLE_NAME: &str = "TrustLinkAdmin";
pub const DEFAULT_POLICY_PATH: &str = "/trustlink/";
/// Links the rotator works on at once, unless `TRUSTLINK_ROTATION_CONCURRENCY` says.
pub const DEFAULT_ROTATION_CONCURRENCY: usize = 8;
/// More at once would only meet IAM's and Secrets Manager's request rate limits.
pub const MAX_ROTATION_CONCURRENCY: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The role trustlink assumes in member accounts.
    pub admin_role_name: String,
    /// Paths under which links may create roles (the deployed IAM policy allows nothing
    /// else); `None`: any, for running the binary outside a deployment.
    pub role_paths: Option<Vec<String>>,
    /// Path of the grant policies trustlink creates in trusted accounts.
    pub policy_path: String,
    /// Managed policies links may attach (`*` matches any run of characters); `None`: any.
    pub managed_policy_allowlist: Option<Vec<String>>,
    /// KMS key for link secrets; `None`: Secrets Manager's default key.
    pub secrets_kms_key_id: Option<String>,
    /// Links the rotator works on at once.
    pub rotation_concurrency: usize,
    /// The FIFO queue the rotator's scheduled run fans the links out to; `None`: the
    /// scheduled run rotates every link itself.
    pub rotation_queue_url: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            admin_role_name: DEFAULT_ADMIN_ROLE_NAME.into(),
            role_paths: None,
            policy_path: DEFAULT_POLICY_PATH.into(),
            managed_policy_allowlist: None,
            secrets_kms_key_id: None,
            rotation_concurrency: DEFAULT_ROTATION_CONCURRENCY,
            rotation_queue_url: None,
        }
    }
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

impl Settings {
    /// Reads `TRUSTLINK_ADMIN_ROLE_NAME`, `TRUSTLINK_ROLE_PATHS`, `TRUSTLINK_POLICY_PATH`,
    /// `TRUSTLINK_MANAGED_POLICY_ALLOWLIST`, `TRUSTLINK_SECRETS_KMS_KEY_ID`,
    /// `TRUSTLINK_ROTATION_CONCURRENCY` and `TRUSTLINK_ROTATION_QUEUE_URL`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ValidationError> {
        let d = Settings::default();
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let admin_role_name = get("TRUSTLINK_ADMIN_ROLE_NAME").unwrap_or(d.admin_role_name);
        rules::check_name("TRUSTLINK_ADMIN_ROLE_NAME", &admin_role_name, 64)?;
        let role_paths = get("TRUSTLINK_ROLE_PATHS").map(|v| list(&v));
        for p in role_paths.iter().flatten() {
            rules::check_path("TRUSTLINK_ROLE_PATHS", p)?;
        }
        let policy_path = get("TRUSTLINK_POLICY_PATH").unwrap_or(d.policy_path);
        rules::check_path("TRUSTLINK_POLICY_PATH", &policy_path)?;
        let rotation_concurrency = match get("TRUSTLINK_ROTATION_CONCURRENCY") {
            Some(v) => concurrency("TRUSTLINK_ROTATION_CONCURRENCY", &v)?,
            None => d.rotation_concurrency,
        };
        let rotation_queue_url = get("TRUSTLINK_ROTATION_QUEUE_URL")
            .map(|v| queue_url("TRUSTLINK_ROTATION_QUEUE_URL", &v))
            .transpose()?;
        Ok(Self {
            admin_role_name,
            role_paths,
            policy_path,
            managed_policy_allowlist: get("TRUSTLINK_MANAGED_POLICY_ALLOWLIST").map(|v| list(&v)),
            secrets_kms_key_id: get("TRUSTLINK_SECRETS_KMS_KEY_ID"),
            rotation_concurrency,
            rotation_queue_url,
        })
    }

    pub fn from_env() -> Result<Self, ValidationError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Whether a role at `path` is one this deployment may create (at or under a role path).
    pub fn allows_role_path(&self, path: &str) -> bool {
        match &self.role_paths {
            None => true,
            Some(paths) => paths
                .iter()
                .any(|allowed| path.starts_with(allowed.as_str())),
        }
    }

    pub fn allows_managed_policy(&self, arn: &str) -> bool {
        match &self.managed_policy_allowlist {
            None => true,
            Some(patterns) => patterns.iter().any(|p| glob_match(p, arn)),
        }
    }
}

/// A whole number from 1 to [`MAX_ROTATION_CONCURRENCY`]; the error shows the value (a
/// setting, not a secret).
fn concurrency(field: &str, value: &str) -> Result<usize, ValidationError> {
    match value.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_ROTATION_CONCURRENCY).contains(&n) => Ok(n),
        _ => Err(ValidationError::new(
            field,
            format!("must be a whole number from 1 to {MAX_ROTATION_CONCURRENCY} (got {value:?})"),
        )),
    }
}

/// An SQS FIFO queue's URL, `https://<host>/<account id>/<name>.fifo` (`http` for a local
/// emulator); the name is 1 to 80 of `[A-Za-z0-9_-]` ending in `.fifo`. Only a FIFO queue has
/// the message groups that keep one account's links to one worker at a time.
fn queue_url(field: &str, value: &str) -> Result<String, ValidationError> {
    let value = value.trim();
    let path = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .and_then(|rest| rest.split_once('/'))
        .filter(|(host, _)| !host.is_empty() && !host.contains(char::is_whitespace));
    let ok = path
        .and_then(|(_, path)| path.split_once('/'))
        .is_some_and(|(account, name)| {
            let stem = name.strip_suffix(".fifo").unwrap_or_default();
            account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && !stem.is_empty()
                && name.len() <= 80
                && stem
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(value.to_string())
    } else {
        Err(ValidationError::new(
            field,
            format!(
                "must be an SQS FIFO queue URL, https://sqs.<region>.amazonaws.com/<account id>/<name>.fifo (got {value:?})"
            ),
        ))
    }
}

/// `*` matches any run of characters, everything else itself (as IAM's ArnLike does).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Settings, ValidationError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(from(&[]).unwrap(), Settings::default());
        // Outside a deployment nothing restricts paths; the template always sets them.
        assert!(Settings::default().allows_role_path("/cross-account/"));
        let s = from(&[
            ("TRUSTLINK_ROLE_PATHS", "/trustlink/, /cross-account/"),
            (
                "TRUSTLINK_MANAGED_POLICY_ALLOWLIST",
                "arn:aws:iam::aws:policy/ReadOnlyAccess,arn:aws:iam::*:policy/team/*",
            ),
        ])
        .unwrap();
        assert!(s.allows_role_path("/cross-account/"));
        assert!(s.allows_role_path("/trustlink/partners/"));
        assert!(!s.allows_role_path("/"));
        assert!(s.allows_managed_policy("arn:aws:iam::aws:policy/ReadOnlyAccess"));
        assert!(s.allows_managed_policy("arn:aws:iam::111122223333:policy/team/S3"));
        assert!(!s.allows_managed_policy("arn:aws:iam::aws:policy/AdministratorAccess"));
        assert!(Settings::default()
            .allows_managed_policy("arn:aws:iam::aws:policy/AdministratorAccess"));
    }

    #[test]
    fn bad_settings_name_the_variable() {
        assert_eq!(
            from(&[("TRUSTLINK_ROLE_PATHS", "trustlink")])
                .unwrap_err()
                .field,
            "TRUSTLINK_ROLE_PATHS"
        );
        assert_eq!(
            from(&[("TRUSTLINK_ADMIN_ROLE_NAME", "a b")])
                .unwrap_err()
                .field,
            "TRUSTLINK_ADMIN_ROLE_NAME"
        );
    }

    #[test]
    fn rotation_concurrency_is_read_and_checked() {
        assert_eq!(from(&[]).unwrap().rotation_concurrency, 8);
        assert_eq!(
            from(&[("TRUSTLINK_ROTATION_CONCURRENCY", " 3 ")])
                .unwrap()
                .rotation_concurrency,
            3
        );
        for bad in ["0", "-1", "eight", "2.5", "65"] {
            let e = from(&[("TRUSTLINK_ROTATION_CONCURRENCY", bad)]).unwrap_err();
            assert_eq!(e.field, "TRUSTLINK_ROTATION_CONCURRENCY", "{bad}");
            assert_eq!(
                e.to_string(),
                format!(
                    "TRUSTLINK_ROTATION_CONCURRENCY: must be a whole number from 1 to 64 (got {bad:?})"
                )
            );
        }
    }

    #[test]
    fn rotation_queue_url_is_read_and_checked() {
        assert_eq!(from(&[]).unwrap().rotation_queue_url, None);
        for good in [
            "https://sqs.us-east-1.amazonaws.com/123456789012/trustlink-rotation.fifo",
            "http://127.0.0.1:5000/123456789012/q_1.fifo",
        ] {
            let s = from(&[("TRUSTLINK_ROTATION_QUEUE_URL", good)]).unwrap();
            assert_eq!(s.rotation_queue_url.as_deref(), Some(good));
        }
        for bad in [
            "sqs.us-east-1.amazonaws.com/123456789012/q.fifo",
            "https://sqs.us-east-1.amazonaws.com/123456789012/standard-queue",
            "https://sqs.us-east-1.amazonaws.com/1234/q.fifo",
            "https://sqs.us-east-1.amazonaws.com/123456789012/.fifo",
            "https://sqs.us-east-1.amazonaws.com/123456789012/a b.fifo",
            "https:///123456789012/q.fifo",
            "ftp://sqs.us-east-1.amazonaws.com/123456789012/q.fifo",
        ] {
            let e = from(&[("TRUSTLINK_ROTATION_QUEUE_URL", bad)]).unwrap_err();
            assert_eq!(e.field, "TRUSTLINK_ROTATION_QUEUE_URL", "{bad}");
            assert!(e.rule.contains("SQS FIFO queue URL"), "{bad}: {e}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("a*c", "abbbc"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "a-b-c"));
        assert!(!glob_match("a*b*c", "a-c-b"));
        assert!(!glob_match("abc", "abcd"));
        assert!(!glob_match("ab*ba", "aba"));
    }
}
