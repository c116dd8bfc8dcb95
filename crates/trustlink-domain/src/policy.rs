//! The policy documents of a trust link: the trusting role's trust policy, the trusted
//! principal's grant, and reading a trust policy back from IAM.

use serde_json::{json, Map, Value};

use crate::arn::{self, Partition};
use crate::error::ValidationError;
use crate::rules::{self, AccountId, IamArn};
use crate::spec::Conditions;

pub const POLICY_VERSION: &str = "2012-10-17";
pub const ASSUME_ROLE: &str = "sts:AssumeRole";
pub const EXTERNAL_ID_KEY: &str = "sts:ExternalId";

/// Who may assume the role: a whole account (its root), a user or a role, in a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Account {
        partition: Partition,
        account: AccountId,
    },
    User {
        partition: Partition,
        account: AccountId,
        path: String,
        name: String,
    },
    Role {
        partition: Partition,
        account: AccountId,
        path: String,
        name: String,
    },
}

impl Principal {
    /// [`Principal::parse_in`] with a bare account id taken to be in the default partition:
    /// for values that are ARNs (as every recorded principal is), whose partition they carry.
    pub fn parse(field: &str, value: &str) -> Result<Self, ValidationError> {
        Self::parse_in(field, value, Partition::default())
    }

    /// An account id (in `partition`), `arn:<p>:iam::<acct>:root`, or a user or role ARN.
    /// Wildcards are refused: a trust policy that admits `*` (or `arn:aws:iam::*:...`) hands
    /// the role to anyone.
    pub fn parse_in(
        field: &str,
        value: &str,
        partition: Partition,
    ) -> Result<Self, ValidationError> {
        if value.contains('*') || value.contains('?') {
            return Err(ValidationError::new(
                field,
                "a wildcard principal is refused",
            ));
        }
        if !value.starts_with("arn:") {
            return AccountId::parse(field, value)
                .map(|account| Self::Account { partition, account });
        }
        let unsupported = || {
            ValidationError::new(
                field,
                format!(
                    "'{}' must be an account id, or the ARN of an account root, a user or a role",
                    crate::error::excerpt(value)
                ),
            )
        };
        let arn = IamArn::parse(field, value)?;
        if arn.account == "aws" {
            return Err(unsupported());
        }
        let account = AccountId::parse(field, &arn.account)?;
        let partition = arn.partition;
        let named = |kind: &str| -> Result<(String, String), ValidationError> {
            rules::check_path(field, &arn.path)?;
            rules::check_name(&format!("{field} ({kind} name)"), &arn.name, 64)?;
            Ok((arn.path.clone(), arn.name.clone()))
        };
        match arn.kind.as_str() {
            "root" if arn.name.is_empty() => Ok(Self::Account { partition, account }),
            "user" => named("user").map(|(path, name)| Self::User {
                partition,
                account,
                path,
                name,
            }),
            "role" => named("role").map(|(path, name)| Self::Role {
                partition,
                account,
                path,
                name,
            }),
            _ => Err(unsupported()),
        }
    }

    pub fn account(&self) -> &AccountId {
        match self {
            Self::Account { account, .. }
            | Self::User { account, .. }
            | Self::Role { account, .. } => account,
        }
    }

    pub fn partition(&self) -> Partition {
        match self {
            Self::Account { partition, .. }
            | Self::User { partition, .. }
            | Self::Role { partition, .. } => *partition,
        }
    }

    /// The ARN IAM shows in a trust policy.
    pub fn arn(&self) -> String {
        match self {
            Self::Account { partition, account } => arn::account_root(*partition, account),
            Self::User {
                partition,
                account,
                path,
                name,
            } => arn::user(*partition, account, path, name),
            Self::Role {
                partition,
                account,
                path,
                name,
            } => arn::role(*partition, account, path, name),
        }
    }

    /// The user or role name, `None` for an account.
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Account { .. } => None,
            Self::User { name, .. } | Self::Role { name, .. } => Some(name),
        }
    }
}

/// Shown as its ARN (not secret: the trust policy names it).
impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.arn())
    }
}

/// One value, or a list when there are several: what a hand-written policy has.
fn one_or_many(values: &[&str]) -> Value {
    match values {
        [one] => json!(one),
        many => json!(many),
    }
}

/// The trust policy of the trusting role: the principal may `sts:AssumeRole` when it passes
/// one of `external_ids` and meets every condition.
pub fn trust_policy(
    principal: &Principal,
    external_ids: &[&str],
    conditions: &Conditions,
) -> Value {
    let mut condition = Map::new();
    let mut string_equals = Map::new();
    if !external_ids.is_empty() {
        string_equals.insert(EXTERNAL_ID_KEY.into(), one_or_many(external_ids));
    }
    if let Some(org) = &conditions.principal_org_id {
        string_equals.insert("aws:PrincipalOrgID".into(), json!(org));
    }
    if !string_equals.is_empty() {
        condition.insert("StringEquals".into(), Value::Object(string_equals));
    }
    if conditions.require_mfa {
        condition.insert("Bool".into(), json!({"aws:MultiFactorAuthPresent": "true"}));
    }
    if let Some(age) = conditions.mfa_max_age_seconds {
        condition.insert(
            "NumericLessThan".into(),
            json!({"aws:MultiFactorAuthAge": age.to_string()}),
        );
    }
    if !conditions.source_ip_cidrs.is_empty() {
        let cidrs: Vec<&str> = conditions
            .source_ip_cidrs
            .iter()
            .map(String::as_str)
            .collect();
        condition.insert(
            "IpAddress".into(),
            json!({"aws:SourceIp": one_or_many(&cidrs)}),
        );
    }
    if let Some(t) = conditions.not_before {
        condition.insert(
            "DateGreaterThan".into(),
            json!({"aws:CurrentTime": t.to_iso8601()}),
        );
    }
    if let Some(t) = conditions.not_after {
        condition.insert(
            "DateLessThan".into(),
            json!({"aws:CurrentTime": t.to_iso8601()}),
        );
    }
    let mut statement = json!({
        "Effect": "Allow",
        "Principal": {"AWS": principal.arn()},
        "Action": ASSUME_ROLE,
    });
    if !condition.is_empty() {
        statement["Condition"] = Value::Object(condition);
    }
    json!({"Version": POLICY_VERSION, "Statement": [statement]})
}

/// The trusted side's grant: `sts:AssumeRole` on exactly `role_arn`, with the same
/// external ID condition as the trust policy.
pub fn grant_policy(role_arn: &str, external_ids: &[&str]) -> Value {
    let mut statement = json!({
        "Effect": "Allow",
        "Action": ASSUME_ROLE,
        "Resource": role_arn,
    });
    if !external_ids.is_empty() {
        statement["Condition"] =
            json!({"StringEquals": {EXTERNAL_ID_KEY: one_or_many(external_ids)}});
    }
    json!({"Version": POLICY_VERSION, "Statement": [statement]})
}

/// Why a policy document IAM returned could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyParseError {
    #[error("policy document is not valid UTF-8 after URL decoding")]
    NotUtf8,
    /// serde_json's account of where the JSON breaks (a position and what was expected).
    #[error("policy document is not JSON: {0}")]
    NotJson(String),
}

/// Reads a policy document as IAM returns it: URL-encoded (GetRole) or plain JSON.
pub fn parse_policy_document(text: &str) -> Result<Value, PolicyParseError> {
    let decoded = if text.trim_start().starts_with('{') {
        text.to_string()
    } else {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map_err(|_| PolicyParseError::NotUtf8)?
            .into_owned()
    };
    serde_json::from_str(&decoded).map_err(|e| PolicyParseError::NotJson(e.to_string()))
}

/// A policy's statements, whether `Statement` is one object or a list of them.
pub(crate) fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => Vec::new(),
    }
}

/// A policy element that is one string or a list of them, as a list (other values: none).
pub(crate) fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

fn allows_assume_role(statement: &Value) -> bool {
    statement.get("Effect").and_then(Value::as_str) == Some("Allow")
        && strings(statement.get("Action"))
            .iter()
            .any(|a| a.eq_ignore_ascii_case(ASSUME_ROLE) || a == "sts:*" || a == "*")
}

/// The condition-key map of operator `op` in `statement`, keys compared as IAM does
/// (operators case-sensitive, keys case-insensitive).
fn condition_values(statement: &Value, op: &str, key: &str) -> Option<Vec<String>> {
    let block = statement.get("Condition")?.get(op)?.as_object()?;
    block
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| strings(Some(v)))
}

/// What an `sts:AssumeRole` statement of a trust policy accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedBy {
    pub principals: Vec<String>,
    /// `None`: the statement does not ask for an external ID at all.
    pub external_ids: Option<Vec<String>>,
}

/// Every Allow `sts:AssumeRole` statement of a trust policy: its AWS principals and
/// the external IDs it accepts.
pub fn accepted_by(trust_policy: &Value) -> Vec<AcceptedBy> {
    statements(trust_policy)
        .into_iter()
        .filter(|s| allows_assume_role(s))
        .map(|s| AcceptedBy {
            principals: strings(s.get("Principal").and_then(|p| p.get("AWS"))),
            external_ids: condition_values(s, "StringEquals", EXTERNAL_ID_KEY),
        })
        .collect()
}

/// The external IDs a trust policy accepts from anyone (union over its statements).
pub fn accepted_external_ids(trust_policy: &Value) -> Vec<String> {
    let mut ids: Vec<String> = accepted_by(trust_policy)
        .into_iter()
        .flat_map(|a| a.external_ids.unwrap_or_default())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Whether `principal_arn` passing `external_id` is admitted by some statement
/// (the extra conditions such as MFA are the caller's to meet, and not judged here).
pub fn admits(trust_policy: &Value, principal_arn: &str, external_id: &str) -> bool {
    accepted_by(trust_policy).iter().any(|a| {
        a.principals.iter().any(|p| p == principal_arn)
            && a.external_ids
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|i| i == external_id))
    })
}

/// Rewrites the `sts:ExternalId` values of every statement that has them, keeping all other
/// statements, principals and conditions as they are. Returns how many statements changed.
pub fn set_external_ids(policy: &mut Value, external_ids: &[&str]) -> usize {
    let mut changed = 0;
    let list = match policy.get_mut("Statement") {
        Some(Value::Array(a)) => a.iter_mut().collect::<Vec<_>>(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => Vec::new(),
    };
    for st in list {
        let Some(block) = st
            .get_mut("Condition")
            .and_then(|c| c.get_mut("StringEquals"))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let keys: Vec<String> = block
            .keys()
            .filter(|k| k.eq_ignore_ascii_case(EXTERNAL_ID_KEY))
            .cloned()
            .collect();
        for k in keys {
            block.insert(k, one_or_many(external_ids));
            changed += 1;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Timestamp;

    fn dev_user() -> Principal {
        Principal::parse("TrustedPrincipal", "arn:aws:iam::444455556666:user/DevUser").unwrap()
    }

    #[test]
    fn runbook_trust_policy() {
        let doc = trust_policy(
            &dev_user(),
            &["UniqueExternalId12345"],
            &Conditions::default(),
        );
        let expected: Value = serde_json::from_str(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/DevUser"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"UniqueExternalId12345"}}}]}"#,
        )
        .unwrap();
        assert_eq!(doc, expected);
    }

    #[test]
    fn each_condition_uses_iams_operator_and_key() {
        let conditions = Conditions {
            require_mfa: true,
            mfa_max_age_seconds: Some(3600),
            source_ip_cidrs: vec!["203.0.113.0/24".into()],
            not_before: Some(Timestamp::parse("t", "2026-01-01T00:00:00Z").unwrap()),
            not_after: Some(Timestamp::parse("t", "2026-12-31T23:59:59Z").unwrap()),
            principal_org_id: Some("o-a1b2c3d4e5".into()),
        };
        let doc = trust_policy(&dev_user(), &["id-one", "id-two"], &conditions);
        let c = &doc["Statement"][0]["Condition"];
        assert_eq!(c["Bool"]["aws:MultiFactorAuthPresent"], "true");
        assert_eq!(c["NumericLessThan"]["aws:MultiFactorAuthAge"], "3600");
        assert_eq!(c["IpAddress"]["aws:SourceIp"], "203.0.113.0/24");
        assert_eq!(
            c["DateGreaterThan"]["aws:CurrentTime"],
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(c["DateLessThan"]["aws:CurrentTime"], "2026-12-31T23:59:59Z");
        assert_eq!(c["StringEquals"]["aws:PrincipalOrgID"], "o-a1b2c3d4e5");
        assert_eq!(
            c["StringEquals"]["sts:ExternalId"],
            json!(["id-one", "id-two"])
        );
        assert_eq!(c.as_object().unwrap().len(), 6);
    }

    #[test]
    fn several_source_ips_are_a_list() {
        let conditions = Conditions {
            source_ip_cidrs: vec!["203.0.113.0/24".into(), "2001:db8::/32".into()],
            ..Default::default()
        };
        let doc = trust_policy(&dev_user(), &["x1"], &conditions);
        assert_eq!(
            doc["Statement"][0]["Condition"]["IpAddress"]["aws:SourceIp"],
            json!(["203.0.113.0/24", "2001:db8::/32"])
        );
    }

    #[test]
    fn principals() {
        assert_eq!(
            Principal::parse("p", "444455556666").unwrap().arn(),
            "arn:aws:iam::444455556666:root"
        );
        assert_eq!(
            Principal::parse("p", "arn:aws:iam::444455556666:root")
                .unwrap()
                .arn(),
            "arn:aws:iam::444455556666:root"
        );
        let role = Principal::parse("p", "arn:aws:iam::444455556666:role/ci/Deployer").unwrap();
        assert_eq!(
            role,
            Principal::Role {
                partition: Partition::Aws,
                account: AccountId::parse("a", "444455556666").unwrap(),
                path: "/ci/".into(),
                name: "Deployer".into()
            }
        );
        assert_eq!(role.arn(), "arn:aws:iam::444455556666:role/ci/Deployer");
        for wildcard in [
            "*",
            "arn:aws:iam::*:root",
            "arn:aws:iam::444455556666:user/*",
        ] {
            assert_eq!(
                Principal::parse("TrustedPrincipal", wildcard)
                    .unwrap_err()
                    .to_string(),
                "TrustedPrincipal: a wildcard principal is refused"
            );
        }
        assert!(Principal::parse("p", "arn:aws:iam::aws:policy/ReadOnlyAccess").is_err());
        assert!(Principal::parse("p", "arn:aws:sts::444455556666:assumed-role/x/y").is_err());
        assert!(Principal::parse("p", "arn:aws:iam::444455556666:user/").is_err());
    }

    #[test]
    fn grant_is_assume_role_on_exactly_the_role() {
        let doc = grant_policy(
            "arn:aws:iam::111122223333:role/cross-account/CrossAccountDeveloperRole",
            &["UniqueExternalId12345"],
        );
        let expected = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",
            "Resource":"arn:aws:iam::111122223333:role/cross-account/CrossAccountDeveloperRole",
            "Condition":{"StringEquals":{"sts:ExternalId":"UniqueExternalId12345"}}}]});
        assert_eq!(doc, expected);
        assert!(rules::check_identity_policy("grant", &doc).is_ok());
    }

    #[test]
    fn reads_back_url_encoded_policies() {
        let doc = trust_policy(
            &dev_user(),
            &["UniqueExternalId12345"],
            &Conditions::default(),
        );
        let text = serde_json::to_string(&doc).unwrap();
        let encoded: String =
            percent_encoding::utf8_percent_encode(&text, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        assert_eq!(parse_policy_document(&encoded).unwrap(), doc);
        assert_eq!(parse_policy_document(&text).unwrap(), doc);
        assert!(matches!(
            parse_policy_document("%7Bnot"),
            Err(PolicyParseError::NotJson(_))
        ));
        assert_eq!(
            parse_policy_document("%FF%FE"),
            Err(PolicyParseError::NotUtf8)
        );
    }

    #[test]
    fn tells_which_ids_and_principals_are_accepted() {
        let mut doc = trust_policy(
            &dev_user(),
            &["old-id"],
            &Conditions {
                require_mfa: true,
                ..Default::default()
            },
        );
        // A statement someone added by hand must survive rotation untouched.
        doc["Statement"].as_array_mut().unwrap().push(json!({
            "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}));
        assert_eq!(accepted_external_ids(&doc), vec!["old-id"]);
        assert!(admits(
            &doc,
            "arn:aws:iam::444455556666:user/DevUser",
            "old-id"
        ));
        assert!(!admits(
            &doc,
            "arn:aws:iam::444455556666:user/DevUser",
            "new-id"
        ));
        assert!(!admits(
            &doc,
            "arn:aws:iam::444455556666:user/Other",
            "old-id"
        ));

        assert_eq!(set_external_ids(&mut doc, &["old-id", "new-id"]), 1);
        assert_eq!(accepted_external_ids(&doc), vec!["new-id", "old-id"]);
        assert!(admits(
            &doc,
            "arn:aws:iam::444455556666:user/DevUser",
            "new-id"
        ));
        assert_eq!(
            doc["Statement"][0]["Condition"]["Bool"]["aws:MultiFactorAuthPresent"],
            "true"
        );
        assert_eq!(
            doc["Statement"][1]["Principal"]["Service"],
            "ec2.amazonaws.com"
        );

        set_external_ids(&mut doc, &["new-id"]);
        assert_eq!(accepted_external_ids(&doc), vec!["new-id"]);
        let by = accepted_by(&doc);
        assert_eq!(
            by[0].principals,
            vec!["arn:aws:iam::444455556666:user/DevUser"]
        );
        assert_eq!(by[1].external_ids, None);
    }

    #[test]
    fn runbook_policy_fits_the_quota() {
        let doc = trust_policy(
            &dev_user(),
            &["UniqueExternalId12345"],
            &Conditions::default(),
        );
        assert!(rules::policy_size(&doc) < rules::TRUST_POLICY_MAX_CHARS);
    }
}
