//! IAM's and STS's own rules for the values a link is made of. Every check returns a
//! [`ValidationError`] that names the field and the rule; none echoes a secret.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::arn::Partition;
use crate::error::{excerpt, ValidationError};

/// IAM's default quota for a role trust policy, whitespace not counted.
pub const TRUST_POLICY_MAX_CHARS: usize = 2048;
/// IAM's quota for all inline policies of one role together, whitespace not counted.
pub const ROLE_INLINE_POLICIES_MAX_CHARS: usize = 10_240;
/// IAM's quota for a managed policy document, whitespace not counted.
pub const MANAGED_POLICY_MAX_CHARS: usize = 6_144;
pub const MAX_SESSION_DURATION: std::ops::RangeInclusive<u32> = 3600..=43200;
pub const MAX_TAGS: usize = 50;
pub const MAX_MANAGED_POLICIES_PER_ROLE: usize = 20;

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(field: &str, value: &str) -> Result<Self, ValidationError> {
        if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(value.to_string()))
        } else {
            Err(ValidationError::new(
                field,
                format!(
                    "'{}' is not an AWS account id (exactly 12 digits)",
                    excerpt(value)
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// Role, user, inline policy and link names: 1..=max characters of `[\w+=,.@-]`.
pub fn check_name(field: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    let len = value.chars().count();
    if len == 0 || len > max {
        return Err(ValidationError::new(
            field,
            format!("must be 1 to {max} characters long (got {len})"),
        ));
    }
    if let Some(bad) = value.chars().find(|c| !is_name_char(*c)) {
        return Err(ValidationError::new(
            field,
            format!("may contain only letters, digits and _+=,.@- (found '{bad}')"),
        ));
    }
    Ok(())
}

/// IAM paths: `/` alone, or `/`-delimited segments starting and ending with `/`,
/// up to 512 printable ASCII characters, no empty segment.
pub fn check_path(field: &str, value: &str) -> Result<(), ValidationError> {
    let rule = "must start and end with '/', at most 512 printable ASCII characters, no '//'";
    if value.is_empty()
        || value.len() > 512
        || !value.starts_with('/')
        || !value.ends_with('/')
        || value.contains("//")
        || !value.bytes().all(|b| (0x21..=0x7e).contains(&b))
    {
        return Err(ValidationError::new(
            field,
            format!("'{}' {rule}", excerpt(value)),
        ));
    }
    Ok(())
}

pub fn check_description(field: &str, value: &str) -> Result<(), ValidationError> {
    let len = value.chars().count();
    if len > 1000 {
        return Err(ValidationError::new(
            field,
            format!("must be at most 1000 characters (got {len})"),
        ));
    }
    let ok = |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{a1}'..='\u{ff}');
    if let Some(bad) = value.chars().find(|c| !ok(*c)) {
        return Err(ValidationError::new(
            field,
            format!(
                "contains a character IAM does not accept (U+{:04X})",
                bad as u32
            ),
        ));
    }
    Ok(())
}

pub fn check_max_session_duration(field: &str, value: u32) -> Result<(), ValidationError> {
    if MAX_SESSION_DURATION.contains(&value) {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            format!("must be between 3600 and 43200 seconds (got {value})"),
        ))
    }
}

/// The parts of an IAM ARN `arn:<partition>:iam::<account>:<kind>/<path><name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamArn {
    pub partition: Partition,
    /// `aws` for AWS managed policies, otherwise a 12-digit account id.
    pub account: String,
    pub kind: String,
    pub path: String,
    pub name: String,
}

impl IamArn {
    pub fn parse(field: &str, value: &str) -> Result<Self, ValidationError> {
        let bad =
            |why: &str| ValidationError::new(field, format!("'{}' is not {why}", excerpt(value)));
        let mut parts = value.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad("an IAM ARN (arn:aws:iam::<account>:<type>/<name>)"));
        };
        let Some(partition) = Partition::parse(partition) else {
            return Err(bad(
                "an IAM ARN of a known partition (aws, aws-cn, aws-us-gov)",
            ));
        };
        if account != "aws" && AccountId::parse(field, account).is_err() {
            return Err(bad("an IAM ARN with a 12-digit account id"));
        }
        let (kind, rest) = match resource.split_once('/') {
            Some((k, r)) => (k, r),
            None => (resource, ""),
        };
        let (path, name) = match rest.rfind('/') {
            Some(i) => (format!("/{}", &rest[..=i]), &rest[i + 1..]),
            None => ("/".to_string(), rest),
        };
        Ok(Self {
            partition,
            account: account.to_string(),
            kind: kind.to_string(),
            path,
            name: name.to_string(),
        })
    }
}

/// A managed policy ARN: AWS managed (`arn:aws:iam::aws:policy/...`) or customer managed.
pub fn check_policy_arn(field: &str, value: &str) -> Result<IamArn, ValidationError> {
    let arn = IamArn::parse(field, value)?;
    if arn.kind != "policy" {
        return Err(ValidationError::new(
            field,
            format!(
                "'{}' is not a managed policy ARN (arn:aws:iam::<account|aws>:policy/<name>)",
                excerpt(value)
            ),
        ));
    }
    check_path(field, &arn.path)?;
    if arn.name.is_empty() || arn.name.len() > 128 || !arn.name.chars().all(is_name_char) {
        return Err(ValidationError::new(
            field,
            format!(
                "'{}' has an invalid policy name (1 to 128 characters of [A-Za-z0-9_+=,.@-])",
                excerpt(value)
            ),
        ));
    }
    Ok(arn)
}

/// An IPv4 or IPv6 address with an optional prefix length, as `aws:SourceIp` takes it.
pub fn check_cidr(field: &str, value: &str) -> Result<(), ValidationError> {
    let bad = || {
        ValidationError::new(
            field,
            format!("'{}' is not an IPv4 or IPv6 CIDR block", excerpt(value)),
        )
    };
    // ipnet for a block, std for a bare address: both are what aws:SourceIp takes.
    let valid = match value.split_once('/') {
        Some(_) => value.parse::<ipnet::IpNet>().is_ok(),
        None => value.parse::<IpAddr>().is_ok(),
    };
    if !valid {
        return Err(bad());
    }
    Ok(())
}

/// An ISO 8601 / RFC 3339 instant (`2026-01-01T00:00:00Z`, fractions and offsets allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    /// Seconds since the Unix epoch, UTC.
    pub epoch_seconds: i64,
}

impl Timestamp {
    pub fn parse(field: &str, value: &str) -> Result<Self, ValidationError> {
        value
            .parse::<jiff::Timestamp>()
            .ok()
            .map(|t| Self {
                epoch_seconds: t.as_second(),
            })
            .ok_or_else(|| {
                ValidationError::new(
                    field,
                    format!(
                        "'{}' is not an ISO 8601 time such as 2026-01-01T00:00:00Z",
                        excerpt(value)
                    ),
                )
            })
    }

    pub fn from_epoch_seconds(epoch_seconds: i64) -> Self {
        Self { epoch_seconds }
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`, the form IAM policies use.
    pub fn to_iso8601(&self) -> String {
        match jiff::Timestamp::from_second(self.epoch_seconds) {
            Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            // Outside jiff's range (years -9999..=9999): no policy can hold such a time.
            Err(_) => format!("@{}", self.epoch_seconds),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso8601())
    }
}

/// AWS Organizations ids: `o-` and 10 to 32 lowercase letters or digits.
pub fn check_org_id(field: &str, value: &str) -> Result<(), ValidationError> {
    // Organizations issues 10 to 32 characters; IAM accepts any string in the condition, and
    // docs/design.md's own example (o-abc123) is shorter: only the shape is enforced.
    let ok = value.strip_prefix("o-").is_some_and(|r| {
        (1..=32).contains(&r.len())
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            format!(
                "'{}' is not an AWS Organizations id (o- and up to 32 lowercase letters or digits)",
                excerpt(value)
            ),
        ))
    }
}

/// IAM tag keys (1..=128) and values (0..=256) of `[\p{L}\p{Z}\p{N}_.:/=+\-@]`; `aws:` is reserved.
pub fn check_tag(field: &str, key: &str, value: &str) -> Result<(), ValidationError> {
    let ok = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
    let klen = key.chars().count();
    if klen == 0 || klen > 128 || !key.chars().all(ok) {
        return Err(ValidationError::new(
            format!("{field}.Key"),
            format!(
                "'{}' must be 1 to 128 letters, digits, spaces or _.:/=+-@",
                excerpt(key)
            ),
        ));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(ValidationError::new(
            format!("{field}.Key"),
            format!("'{}' uses the reserved prefix aws:", excerpt(key)),
        ));
    }
    if value.chars().count() > 256 || !value.chars().all(ok) {
        return Err(ValidationError::new(
            format!("{field}.Value"),
            "must be at most 256 letters, digits, spaces or _.:/=+-@",
        ));
    }
    Ok(())
}

/// Two tags of one role whose keys IAM counts as one key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DuplicateTagKey {
    #[error("key '{key}' is given twice (items {first} and {second})")]
    Same {
        key: String,
        first: usize,
        second: usize,
    },
    #[error("keys '{first_key}' and '{second_key}' differ only in case, and IAM compares tag keys case-insensitively (items {first} and {second})")]
    Case {
        first_key: String,
        second_key: String,
        first: usize,
        second: usize,
    },
}

/// Tag keys, each with its position in the list, that IAM would refuse as duplicates
/// ("Duplicate tag keys found"): IAM compares them case-insensitively.
pub fn duplicate_tag_keys<'a>(
    keys: impl IntoIterator<Item = (usize, &'a str)>,
) -> Vec<DuplicateTagKey> {
    let mut seen: std::collections::HashMap<String, (usize, &str)> = Default::default();
    let mut found = Vec::new();
    for (i, key) in keys {
        let Some(&(first, first_key)) = seen.get(&key.to_lowercase()) else {
            seen.insert(key.to_lowercase(), (i, key));
            continue;
        };
        found.push(if first_key == key {
            DuplicateTagKey::Same {
                key: excerpt(key),
                first,
                second: i,
            }
        } else {
            DuplicateTagKey::Case {
                first_key: excerpt(first_key),
                second_key: excerpt(key),
                first,
                second: i,
            }
        });
    }
    found
}

/// The length IAM checks a policy against: its JSON without whitespace outside strings.
pub fn policy_size(document: &serde_json::Value) -> usize {
    serde_json::to_string(document)
        .map(|s| s.chars().filter(|c| !c.is_whitespace()).count())
        .unwrap_or(usize::MAX)
}

/// An identity-based policy document (inline or managed), with every problem it has: see
/// [`crate::identity_policy`].
pub fn check_identity_policy(
    field: &str,
    doc: &serde_json::Value,
) -> Result<(), crate::ValidationErrors> {
    let mut errors = crate::ValidationErrors::default();
    crate::identity_policy::check(field, doc, &mut errors);
    errors.into_result(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg<T: std::fmt::Debug>(r: Result<T, ValidationError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn account_ids() {
        assert!(AccountId::parse("TrustingAccount", "111122223333").is_ok());
        assert_eq!(
            msg(AccountId::parse("TrustingAccount", "12345")),
            "TrustingAccount: '12345' is not an AWS account id (exactly 12 digits)"
        );
        assert!(AccountId::parse("a", "11112222333x").is_err());
        assert!(AccountId::parse("a", "1111222233334").is_err());
    }

    #[test]
    fn names() {
        assert!(check_name("Role.Name", "CrossAccountDeveloperRole", 64).is_ok());
        assert!(check_name("Role.Name", &"r".repeat(64), 64).is_ok());
        assert_eq!(
            msg(check_name("Role.Name", &"r".repeat(65), 64)),
            "Role.Name: must be 1 to 64 characters long (got 65)"
        );
        assert_eq!(
            msg(check_name("Role.Name", "bad/name", 64)),
            "Role.Name: may contain only letters, digits and _+=,.@- (found '/')"
        );
        assert!(check_name("Role.Name", "", 64).is_err());
    }

    #[test]
    fn paths() {
        assert!(check_path("Role.Path", "/").is_ok());
        assert!(check_path("Role.Path", "/cross-account/").is_ok());
        assert!(check_path("Role.Path", "/a/b/").is_ok());
        for bad in [
            "",
            "trustlink/",
            "/trustlink",
            "//",
            "/a b/",
            &format!("/{}/", "a".repeat(511)),
        ] {
            let m = msg(check_path("Role.Path", bad));
            assert!(m.starts_with("Role.Path: "), "{m}");
            assert!(m.contains("must start and end with '/'"), "{m}");
        }
    }

    #[test]
    fn descriptions() {
        assert!(check_description("Role.Description", "Partner read-only access").is_ok());
        assert!(
            msg(check_description("Role.Description", &"d".repeat(1001))).contains("at most 1000")
        );
        assert!(msg(check_description("Role.Description", "emoji \u{1F600}")).contains("U+1F600"));
    }

    #[test]
    fn session_duration() {
        assert!(check_max_session_duration("Role.MaxSessionDuration", 3600).is_ok());
        assert!(check_max_session_duration("Role.MaxSessionDuration", 43200).is_ok());
        assert_eq!(
            msg(check_max_session_duration("Role.MaxSessionDuration", 100)),
            "Role.MaxSessionDuration: must be between 3600 and 43200 seconds (got 100)"
        );
        assert!(check_max_session_duration("x", 43201).is_err());
    }

    #[test]
    fn arns() {
        let a = IamArn::parse("p", "arn:aws:iam::444455556666:user/dev/DevUser").unwrap();
        assert_eq!(
            (
                a.account.as_str(),
                a.kind.as_str(),
                a.path.as_str(),
                a.name.as_str()
            ),
            ("444455556666", "user", "/dev/", "DevUser")
        );
        let a = IamArn::parse("p", "arn:aws:iam::aws:policy/ReadOnlyAccess").unwrap();
        assert_eq!(
            (a.account.as_str(), a.path.as_str(), a.name.as_str()),
            ("aws", "/", "ReadOnlyAccess")
        );
        assert!(msg(IamArn::parse("p", "arn:aws:s3:::bucket")).contains("is not an IAM ARN"));
        assert!(msg(IamArn::parse("p", "arn:aws:iam::12:user/x")).contains("12-digit account id"));
        assert!(
            msg(IamArn::parse("p", "arn:azure:iam::111122223333:user/x"))
                .contains("known partition")
        );
    }

    #[test]
    fn policy_arns() {
        assert!(check_policy_arn(
            "Role.ManagedPolicyArns[0]",
            "arn:aws:iam::aws:policy/ReadOnlyAccess"
        )
        .is_ok());
        assert!(
            check_policy_arn("x", "arn:aws:iam::aws:policy/service-role/AWSLambdaRole").is_ok()
        );
        assert!(check_policy_arn("x", "arn:aws:iam::111122223333:policy/team/S3Dev").is_ok());
        assert_eq!(
            msg(check_policy_arn("Role.ManagedPolicyArns[0]", "arn:aws:iam::111122223333:role/NotAPolicy")),
            "Role.ManagedPolicyArns[0]: 'arn:aws:iam::111122223333:role/NotAPolicy' is not a managed policy ARN (arn:aws:iam::<account|aws>:policy/<name>)"
        );
        assert!(
            msg(check_policy_arn("x", "arn:aws:iam::aws:policy/bad*name"))
                .contains("invalid policy name")
        );
    }

    #[test]
    fn cidrs() {
        for ok in [
            "203.0.113.0/24",
            "203.0.113.7",
            "2001:db8::/32",
            "0.0.0.0/0",
        ] {
            assert!(
                check_cidr("Conditions.SourceIpCidrs[0]", ok).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "203.0.113.0/33",
            "300.0.0.0/8",
            "10.0.0.0/+8",
            "2001:db8::/129",
            "x/8",
        ] {
            assert_eq!(
                msg(check_cidr("Conditions.SourceIpCidrs[0]", bad)),
                format!("Conditions.SourceIpCidrs[0]: '{bad}' is not an IPv4 or IPv6 CIDR block")
            );
        }
    }

    #[test]
    fn timestamps() {
        let t = Timestamp::parse("Conditions.NotBefore", "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(t.epoch_seconds, 1_767_225_600);
        assert_eq!(t.to_iso8601(), "2026-01-01T00:00:00Z");
        let t = Timestamp::parse("x", "2026-01-01T02:00:00.5+02:00").unwrap();
        assert_eq!(t.to_iso8601(), "2026-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::parse("x", "2024-02-29T23:59:59Z")
                .unwrap()
                .to_iso8601(),
            "2024-02-29T23:59:59Z"
        );
        for bad in [
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "yesterday",
        ] {
            assert_eq!(
                msg(Timestamp::parse("Conditions.NotAfter", bad)),
                format!("Conditions.NotAfter: '{bad}' is not an ISO 8601 time such as 2026-01-01T00:00:00Z")
            );
        }
    }

    #[test]
    fn org_ids() {
        assert!(check_org_id("Conditions.PrincipalOrgId", "o-a1b2c3d4e5").is_ok());
        assert!(
            check_org_id("Conditions.PrincipalOrgId", "o-abc123").is_ok(),
            "docs/design.md's example"
        );
        assert!(check_org_id("x", "o-").is_err());
        assert!(msg(check_org_id("Conditions.PrincipalOrgId", "o-ABC"))
            .contains("not an AWS Organizations id"));
        assert!(check_org_id("x", "r-a1b2c3d4e5").is_err());
    }

    #[test]
    fn tags() {
        assert!(check_tag("Role.Tags[0]", "team", "data").is_ok());
        assert_eq!(
            msg(check_tag("Role.Tags[0]", "aws:owner", "x")),
            "Role.Tags[0].Key: 'aws:owner' uses the reserved prefix aws:"
        );
        assert!(msg(check_tag("Role.Tags[0]", "", "x")).contains("Role.Tags[0].Key"));
        assert!(
            msg(check_tag("Role.Tags[0]", "k", &"v".repeat(257))).contains("Role.Tags[0].Value")
        );
        assert!(msg(check_tag("Role.Tags[0]", "k", "semi;colon")).contains("Role.Tags[0].Value"));
    }

    #[test]
    fn duplicate_tag_keys_are_found_case_insensitively() {
        let keys = [
            (0, "team"),
            (1, "Team"),
            (2, "env"),
            (3, "team"),
            (4, "ENV"),
        ];
        let found: Vec<String> = duplicate_tag_keys(keys)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            [
                "keys 'team' and 'Team' differ only in case, and IAM compares tag keys case-insensitively (items 0 and 1)",
                "key 'team' is given twice (items 0 and 3)",
                "keys 'env' and 'ENV' differ only in case, and IAM compares tag keys case-insensitively (items 2 and 4)",
            ]
        );
        assert!(duplicate_tag_keys([(0, "a"), (1, "b")]).is_empty());
    }

    #[test]
    fn policy_size_ignores_whitespace() {
        let doc = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]});
        let compact = serde_json::to_string(&doc).unwrap().len();
        assert_eq!(policy_size(&doc), compact);
        let spaced = json!({"Sid": "a b c"});
        assert_eq!(policy_size(&spaced), "{\"Sid\":\"abc\"}".len());
    }
}
