//! Reading a trust policy the way an auditor does: who of another account it admits to
//! `sts:AssumeRole`, under which conditions, and what a caller must bring (MFA, an address,
//! a time) that a probe cannot.

use serde_json::Value;
use trustlink_domain::policy::EXTERNAL_ID_KEY;

/// An Allow statement of a trust policy that lets someone `sts:AssumeRole`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeStatement {
    /// AWS principals (`*`, account ids, ARNs); `*` too for `Principal: "*"` and NotPrincipal.
    pub principals: Vec<String>,
    /// `Operator key` for every condition, e.g. `StringEquals sts:ExternalId`.
    pub conditions: Vec<String>,
    /// A non-negated, non-IfExists String condition on `sts:ExternalId`.
    pub requires_external_id: bool,
    /// A condition pins the caller's account or organization.
    pub pins_account_or_org: bool,
}

/// One string or a list of them, as policies write both.
pub(crate) fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

/// The statements of a policy, one or a list.
pub(crate) fn statements(policy: &Value) -> Vec<&Value> {
    match policy.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => Vec::new(),
    }
}

fn allows_assume_role(s: &Value) -> bool {
    let action = strings(s.get("Action"));
    s.get("Effect").and_then(Value::as_str) == Some("Allow")
        && action
            .iter()
            .any(|a| ["sts:assumerole", "sts:*", "*"].contains(&a.to_ascii_lowercase().as_str()))
}

/// The AWS principals of a statement.
fn principals(s: &Value) -> Vec<String> {
    if s.get("NotPrincipal").is_some() {
        return vec!["*".into()];
    }
    match s.get("Principal") {
        Some(Value::String(star)) if star == "*" => vec!["*".into()],
        Some(p @ Value::Object(_)) => strings(p.get("AWS")),
        _ => Vec::new(),
    }
}

/// Every `Operator key` of a statement's Condition block.
fn conditions(s: &Value) -> Vec<(String, String)> {
    let Some(block) = s.get("Condition").and_then(Value::as_object) else {
        return Vec::new();
    };
    block
        .iter()
        .filter_map(|(op, keys)| Some((op, keys.as_object()?)))
        .flat_map(|(op, keys)| keys.keys().map(move |k| (op.clone(), k.clone())))
        .collect()
}

fn positive_string(op: &str) -> bool {
    let op = op.to_ascii_lowercase();
    (op == "stringequals" || op == "stringlike" || op == "stringequalsignorecase")
        && !op.ends_with("ifexists")
}

pub fn assume_statements(policy: &Value) -> Vec<AssumeStatement> {
    statements(policy)
        .into_iter()
        .filter(|s| allows_assume_role(s))
        .map(|s| {
            let conds = conditions(s);
            let requires_external_id = conds
                .iter()
                .any(|(op, k)| positive_string(op) && k.eq_ignore_ascii_case(EXTERNAL_ID_KEY));
            let pins_account_or_org = conds.iter().any(|(op, k)| {
                let k = k.to_ascii_lowercase();
                let op = op.to_ascii_lowercase();
                !op.contains("not")
                    && !op.ends_with("ifexists")
                    && [
                        "aws:principalaccount",
                        "aws:principalorgid",
                        "aws:principalorgpaths",
                        "aws:sourceaccount",
                    ]
                    .contains(&k.as_str())
            });
            AssumeStatement {
                principals: principals(s),
                conditions: conds.iter().map(|(op, k)| format!("{op} {k}")).collect(),
                requires_external_id,
                pins_account_or_org,
            }
        })
        .filter(|s| !s.principals.is_empty())
        .collect()
}

/// The account of a principal (`123456789012`, `arn:aws:iam::123456789012:...`); `None`
/// for `*` and for account wildcards.
pub fn principal_account(principal: &str) -> Option<&str> {
    let account = match principal.strip_prefix("arn:") {
        Some(_) => principal.split(':').nth(4)?,
        None => principal,
    };
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// Whether a principal is anyone (`*`, or an ARN with a wildcard account).
pub fn is_wildcard(principal: &str) -> bool {
    principal == "*" || principal_account(principal).is_none()
}

/// The principals of another account than `own` (or of any account) that may assume the role.
pub fn foreign_principals(policy: &Value, own: &str) -> Vec<String> {
    let mut out: Vec<String> = assume_statements(policy)
        .into_iter()
        .flat_map(|s| s.principals)
        .filter(|p| principal_account(p) != Some(own))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What a consumer must bring that a probe from this function cannot: MFA, an address in
/// a range, a time window. Empty: a live probe can meet every condition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gates {
    pub mfa: bool,
    pub mfa_max_age: bool,
    pub source_ips: Vec<String>,
    pub time_window: bool,
}

impl Gates {
    pub fn of(policy: &Value) -> Self {
        let mut g = Gates::default();
        for s in statements(policy)
            .into_iter()
            .filter(|s| allows_assume_role(s))
        {
            for (op, key) in conditions(s) {
                match key.to_ascii_lowercase().as_str() {
                    "aws:multifactorauthpresent" => g.mfa = true,
                    "aws:multifactorauthage" => g.mfa_max_age = true,
                    "aws:sourceip" if !op.to_ascii_lowercase().starts_with("not") => {
                        let values = s["Condition"][op.as_str()][key.as_str()].clone();
                        g.source_ips.extend(strings(Some(&values)));
                    }
                    "aws:sourceip" => g.source_ips.push("(outside a denied range)".into()),
                    "aws:currenttime" | "aws:epochtime" => g.time_window = true,
                    _ => {}
                }
            }
        }
        g.source_ips.sort();
        g.source_ips.dedup();
        g
    }

    pub fn is_empty(&self) -> bool {
        *self == Gates::default()
    }

    /// What a consumer needs, in words.
    pub fn describe(&self) -> String {
        let mut needs = Vec::new();
        if self.mfa || self.mfa_max_age {
            needs.push(if self.mfa_max_age {
                "an MFA-authenticated session (aws:MultiFactorAuthPresent), recent enough for aws:MultiFactorAuthAge: pass --serial-number and --token-code".to_string()
            } else {
                "an MFA-authenticated session (aws:MultiFactorAuthPresent): pass --serial-number and --token-code".to_string()
            });
        }
        if !self.source_ips.is_empty() {
            needs.push(format!("a source IP in {}", self.source_ips.join(", ")));
        }
        if self.time_window {
            needs.push("a time inside the aws:CurrentTime window".into());
        }
        format!("a consumer needs {}", needs.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_who_and_under_what() {
        let policy = json!({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::444455556666:user/u", "111122223333"]},
             "Action": "sts:AssumeRole",
             "Condition": {"StringEquals": {"sts:ExternalId": "x"}, "Bool": {"aws:MultiFactorAuthPresent": "true"},
                           "IpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}}},
            {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole",
             "Condition": {"StringEqualsIfExists": {"sts:ExternalId": "x"}, "StringEquals": {"aws:PrincipalOrgID": "o-1"}}},
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
        ]});
        let s = assume_statements(&policy);
        assert_eq!(s.len(), 2);
        assert!(s[0].requires_external_id && !s[0].pins_account_or_org);
        assert!(!s[1].requires_external_id && s[1].pins_account_or_org);
        assert_eq!(
            foreign_principals(&policy, "111122223333"),
            vec!["*".to_string(), "arn:aws:iam::444455556666:user/u".into()]
        );
        let g = Gates::of(&policy);
        assert!(g.mfa && !g.time_window);
        assert_eq!(g.source_ips, vec!["203.0.113.0/24".to_string()]);
        assert!(g.describe().contains("203.0.113.0/24"));
        assert!(Gates::of(&json!({"Statement": []})).is_empty());
        assert!(is_wildcard("arn:aws:iam::*:root") && !is_wildcard("444455556666"));
    }
}
