//! IAM's grammar for identity-based policies (a role's inline policies), checked before
//! anything is written. IAM refuses a bad document with a MalformedPolicyDocument that names
//! neither the property nor the statement; here every problem names the element it is in
//! (`.Statement[1].Action`) and the rule, and all of them are reported at once.
//!
//! No problem carries a document: policies may hold external IDs in their conditions, so a
//! rule quotes at most an [`excerpt`] of the one value it is about.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value};

use crate::error::{excerpt, ValidationError, ValidationErrors};

/// The only policy language version accepted: the one that has policy variables.
pub const POLICY_VERSION: &str = "2012-10-17";

const DOCUMENT_ELEMENTS: [&str; 3] = ["Version", "Id", "Statement"];
const STATEMENT_ELEMENTS: [&str; 7] = [
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// IAM's condition operators, without the `IfExists` suffix and the set prefixes; `Null`
/// is apart, as it takes no `IfExists`.
const CONDITION_OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
];

/// One broken rule of a policy document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyRule {
    #[error("must be a JSON policy document (an object with Version and Statement)")]
    NotADocument,
    #[error("unknown policy element (expected one of Version, Id, Statement)")]
    UnknownDocumentElement,
    #[error("{}", version_rule(.0.as_deref()))]
    Version(Option<String>),
    #[error("must be a string")]
    NotAString,
    #[error("must be a statement object or a non-empty list of them")]
    Statement,
    #[error("must be an object")]
    StatementNotAnObject,
    #[error("unknown statement element (expected one of Sid, Effect, Action, NotAction, Resource, NotResource, Condition)")]
    UnknownStatementElement,
    #[error("is not allowed in an identity-based policy: the role's policies apply to whoever holds the role, and who may assume it is the trust policy's business")]
    Principal,
    #[error("may contain only ASCII letters and digits (got '{0}')")]
    Sid(String),
    #[error("'{0}' is used by more than one statement; statement ids must be unique in a policy")]
    DuplicateSid(String),
    #[error("must be \"Allow\" or \"Deny\"")]
    Effect,
    /// Neither `Action` nor `NotAction` (or the Resource pair): the element is the positive one.
    #[error("is required (a statement needs exactly one of {0} or Not{0})")]
    Missing(&'static str),
    /// Both of a pair: the element is the negative one.
    #[error("cannot be given together with {0} (a statement needs exactly one of {0} or Not{0})")]
    Both(&'static str),
    #[error("must be a string or a non-empty list of strings")]
    NotStrings,
    #[error("'{0}' is not an action: service:Action (a service of letters, digits and -, the action of letters and digits with * and ? wildcards), or *")]
    Action(String),
    #[error("'{0}' is not a resource: an ARN arn:partition:service:region:account:resource (wildcards allowed), or *")]
    Resource(String),
    #[error("must map condition operators to objects of condition keys")]
    ConditionShape,
    #[error("'{0}' is not an IAM condition operator (such as StringEquals, ArnLike, IpAddress, Bool or Null; with an IfExists suffix and a ForAllValues: or ForAnyValue: prefix allowed)")]
    ConditionOperator(String),
    #[error("'{0}' must map condition keys to a value or a list of values")]
    ConditionBlock(String),
    #[error("'{0}' is not a condition key (vendor:key, such as aws:SourceIp)")]
    ConditionKey(String),
    #[error("'{0}' must be a string, a number, a boolean or a list of them")]
    ConditionValue(String),
    #[error("contains U+{0:04X}, which IAM does not accept in a policy (only tab, line feed, carriage return and U+0020 to U+00FF)")]
    Character(u32),
}

fn version_rule(got: Option<&str>) -> String {
    let why = "the current policy language; policy variables such as ${aws:username} need it";
    match got {
        None => format!("must be \"{POLICY_VERSION}\" and is missing ({why})"),
        Some(v) => format!("must be \"{POLICY_VERSION}\", not '{v}' ({why})"),
    }
}

/// A broken rule and where in the document: `""` (the document), `.Version`,
/// `.Statement[2].Action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    pub at: String,
    pub rule: PolicyRule,
}

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.rule)
    }
}

/// Every broken rule of an identity-based policy document, in document order.
pub fn problems(doc: &Value) -> Vec<PolicyProblem> {
    let mut out = Problems::default();
    let Some(obj) = doc.as_object() else {
        out.push("", PolicyRule::NotADocument);
        return out.0;
    };
    for key in obj.keys() {
        if !DOCUMENT_ELEMENTS.contains(&key.as_str()) {
            out.push(
                format!(".{}", excerpt(key)),
                PolicyRule::UnknownDocumentElement,
            );
        }
    }
    match obj.get("Version") {
        Some(Value::String(v)) if v == POLICY_VERSION => {}
        Some(Value::String(v)) => out.push(".Version", PolicyRule::Version(Some(excerpt(v)))),
        Some(other) => out.push(
            ".Version",
            PolicyRule::Version(Some(excerpt(&other.to_string()))),
        ),
        None => out.push(".Version", PolicyRule::Version(None)),
    }
    match obj.get("Id") {
        None | Some(Value::String(_)) => out.text(".Id", obj.get("Id")),
        Some(_) => out.push(".Id", PolicyRule::NotAString),
    }
    let statements: Vec<&Value> = match obj.get("Statement") {
        Some(Value::Array(a)) if !a.is_empty() => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => {
            out.push(".Statement", PolicyRule::Statement);
            return out.0;
        }
    };
    let mut sids = BTreeSet::new();
    for (i, st) in statements.iter().enumerate() {
        let at = format!(".Statement[{i}]");
        match st.as_object() {
            Some(st) => check_statement(&at, st, &mut sids, &mut out),
            None => out.push(at, PolicyRule::StatementNotAnObject),
        }
    }
    out.0
}

/// Checks `doc` as inline policy `field` (`Role.InlinePolicies.<Name>`), recording each
/// problem as `<field><at>: <rule>`.
pub fn check(field: &str, doc: &Value, errors: &mut ValidationErrors) {
    for p in problems(doc) {
        errors.push(ValidationError::new(
            format!("{field}{}", p.at),
            p.rule.to_string(),
        ));
    }
}

#[derive(Default)]
struct Problems(Vec<PolicyProblem>);

impl Problems {
    fn push(&mut self, at: impl Into<String>, rule: PolicyRule) {
        self.0.push(PolicyProblem {
            at: at.into(),
            rule,
        });
    }

    /// Records a character IAM refuses in any string of `v` (keys included).
    fn text(&mut self, at: &str, v: Option<&Value>) {
        if let Some(c) = v.and_then(first_refused_char) {
            self.push(at, PolicyRule::Character(c as u32));
        }
    }
}

fn first_refused_char(v: &Value) -> Option<char> {
    let refused = |s: &str| s.chars().find(|c| !is_policy_char(*c));
    match v {
        Value::String(s) => refused(s),
        Value::Array(a) => a.iter().find_map(first_refused_char),
        Value::Object(m) => m
            .iter()
            .find_map(|(k, v)| refused(k).or_else(|| first_refused_char(v))),
        _ => None,
    }
}

/// IAM's character set for policy documents.
fn is_policy_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}')
}

fn check_statement(
    at: &str,
    st: &Map<String, Value>,
    sids: &mut BTreeSet<String>,
    out: &mut Problems,
) {
    for key in st.keys() {
        let rule = match key.as_str() {
            k if STATEMENT_ELEMENTS.contains(&k) => continue,
            "Principal" | "NotPrincipal" => PolicyRule::Principal,
            _ => PolicyRule::UnknownStatementElement,
        };
        out.push(format!("{at}.{}", excerpt(key)), rule);
    }
    match st.get("Sid") {
        None => {}
        Some(Value::String(s)) if !s.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            out.push(format!("{at}.Sid"), PolicyRule::Sid(excerpt(s)));
        }
        Some(Value::String(s)) if !s.is_empty() && !sids.insert(s.clone()) => {
            out.push(format!("{at}.Sid"), PolicyRule::DuplicateSid(excerpt(s)));
        }
        Some(Value::String(_)) => {}
        Some(_) => out.push(format!("{at}.Sid"), PolicyRule::NotAString),
    }
    match st.get("Effect").and_then(Value::as_str) {
        Some("Allow" | "Deny") => {}
        _ => out.push(format!("{at}.Effect"), PolicyRule::Effect),
    }
    check_pair(at, st, "Action", is_action, PolicyRule::Action, out);
    check_pair(at, st, "Resource", is_resource, PolicyRule::Resource, out);
    if let Some(c) = st.get("Condition") {
        check_condition(&format!("{at}.Condition"), c, out);
    }
}

/// `Action`/`NotAction` or `Resource`/`NotResource`: exactly one of the pair, a string or a
/// non-empty list of strings, each of the right shape. One problem per element: the first
/// bad value is enough to find the rest.
fn check_pair(
    at: &str,
    st: &Map<String, Value>,
    positive: &'static str,
    shape_ok: fn(&str) -> bool,
    bad_value: fn(String) -> PolicyRule,
    out: &mut Problems,
) {
    let negative = format!("Not{positive}");
    let (name, value) = match (st.get(positive), st.get(&negative)) {
        (None, None) => return out.push(format!("{at}.{positive}"), PolicyRule::Missing(positive)),
        (Some(_), Some(_)) => {
            return out.push(format!("{at}.{negative}"), PolicyRule::Both(positive))
        }
        (Some(v), None) => (positive.to_string(), v),
        (None, Some(v)) => (negative, v),
    };
    let at = format!("{at}.{name}");
    let items: Vec<Option<&str>> = match value {
        Value::String(s) => vec![Some(s.as_str())],
        Value::Array(a) if !a.is_empty() => a.iter().map(Value::as_str).collect(),
        _ => return out.push(at, PolicyRule::NotStrings),
    };
    let Some(items) = items.into_iter().collect::<Option<Vec<&str>>>() else {
        return out.push(at, PolicyRule::NotStrings);
    };
    if let Some(c) = items
        .iter()
        .find_map(|s| s.chars().find(|c| !is_policy_char(*c)))
    {
        return out.push(at, PolicyRule::Character(c as u32));
    }
    if let Some(bad) = items.iter().find(|s| !shape_ok(s)) {
        out.push(at, bad_value(excerpt(bad)));
    }
}

/// `*`, or `service:action`: IAM matches both parts case-insensitively, so the service may be
/// written in capitals too; one colon only (`s3:Get:Object` names no action).
fn is_action(s: &str) -> bool {
    if s == "*" {
        return true;
    }
    let Some((service, action)) = s.split_once(':') else {
        return false;
    };
    let service_ok = !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let action_ok = !action.is_empty()
        && action
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"*?_-".contains(&b));
    service_ok && action_ok
}

/// `*`, or `arn:partition:service:region:account:resource`, wildcards and policy variables
/// allowed; region and account may be empty (`arn:aws:s3:::bucket`), the resource may not.
fn is_resource(s: &str) -> bool {
    if s == "*" {
        return true;
    }
    // `${aws:username}` has a colon of its own: a variable stands for a wildcard here.
    let masked = mask_variables(s);
    let parts: Vec<&str> = masked.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    let part = |p: &str, extra: &[u8]| {
        p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"*?".contains(&b) || extra.contains(&b))
    };
    arn == "arn"
        && !partition.is_empty()
        && part(partition, b"-")
        && !service.is_empty()
        && part(service, b"-")
        && part(region, b"-")
        && part(account, b"-")
        && !resource.is_empty()
}

/// `${...}` replaced by `*`; an unclosed `${` is left as it is (and fails the shape check).
fn mask_variables(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    // Slicing at what `find` returned for ASCII `${` and `}`: always character boundaries.
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push('*');
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

/// `{operator: {key: value | [values]}}`.
fn check_condition(at: &str, c: &Value, out: &mut Problems) {
    let Some(operators) = c.as_object() else {
        return out.push(at, PolicyRule::ConditionShape);
    };
    for (op, block) in operators {
        if !is_condition_operator(op) {
            out.push(at, PolicyRule::ConditionOperator(excerpt(op)));
            continue;
        }
        let Some(keys) = block.as_object().filter(|k| !k.is_empty()) else {
            out.push(at, PolicyRule::ConditionBlock(op.clone()));
            continue;
        };
        if let Some(ch) = first_refused_char(block) {
            out.push(at, PolicyRule::Character(ch as u32));
            continue;
        }
        for (key, value) in keys {
            if !is_condition_key(key) {
                out.push(at, PolicyRule::ConditionKey(excerpt(key)));
            } else if !is_condition_value(value) {
                out.push(at, PolicyRule::ConditionValue(excerpt(key)));
            }
        }
    }
}

fn is_condition_operator(op: &str) -> bool {
    let op = op
        .strip_prefix("ForAllValues:")
        .or_else(|| op.strip_prefix("ForAnyValue:"))
        .unwrap_or(op);
    let base = op.strip_suffix("IfExists").unwrap_or(op);
    op == "Null" || CONDITION_OPERATORS.contains(&base)
}

/// `vendor:key` (`aws:SourceIp`, `s3:prefix`, `aws:PrincipalTag/team`).
fn is_condition_key(key: &str) -> bool {
    key.split_once(':').is_some_and(|(vendor, name)| {
        !vendor.is_empty()
            && vendor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !name.is_empty()
    })
}

fn is_condition_value(v: &Value) -> bool {
    let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
    match v {
        Value::Array(a) => a.iter().all(scalar),
        v => scalar(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(statement: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": [statement]})
    }

    fn allow(extra: Value) -> Value {
        let mut st = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                st.as_object_mut().unwrap().remove(k);
            } else {
                st[k] = v.clone();
            }
        }
        doc(st)
    }

    fn messages(d: &Value) -> Vec<String> {
        let mut errors = ValidationErrors::default();
        check("Role.InlinePolicies.S3", d, &mut errors);
        errors.0.iter().map(ToString::to_string).collect()
    }

    fn one(d: Value) -> String {
        let m = messages(&d);
        assert_eq!(m.len(), 1, "{m:?}");
        m.into_iter().next().unwrap()
    }

    #[test]
    fn good_documents_pass() {
        for d in [
            json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::dev-*/*"}]}),
            json!({"Version":"2012-10-17","Id":"x","Statement":{"Sid":"S1","Effect":"Deny","NotAction":"iam:*","NotResource":"*"}}),
            allow(json!({"Action": "*"})),
            allow(
                json!({"Action": ["S3:get*", "ec2-instance-connect:SendSSHPublicKey", "s3:Get?bject"]}),
            ),
            allow(
                json!({"Resource": ["arn:aws:iam::*:user/${aws:username}", "arn:${aws:partition}:s3:::b/${aws:PrincipalTag/team}/*"]}),
            ),
            allow(json!({"Resource": "arn:aws:dynamodb:us-east-1:111122223333:table/T/index/*"})),
            allow(json!({"Sid": ""})),
            allow(json!({"Condition": {
                "StringEquals": {"aws:PrincipalTag/team": "data"},
                "ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["a*", "b"]},
                "Bool": {"aws:MultiFactorAuthPresent": "true"},
                "NumericLessThan": {"aws:MultiFactorAuthAge": 3600},
                "Null": {"aws:TokenIssueTime": false},
                "IpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}
            }})),
            allow(json!({"Resource": "arn:aws:s3:::caf\u{e9}"})),
        ] {
            assert_eq!(messages(&d), Vec::<String>::new(), "{d}");
        }
    }

    /// Issue 9 item 7: each of these reached IAM and came back naming no property.
    #[test]
    fn every_rule_has_a_failing_case() {
        let cases: Vec<(Value, &str)> = vec![
            (json!("not a document"), "Role.InlinePolicies.S3: must be a JSON policy document"),
            (json!({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"},"Foo":1}), "Role.InlinePolicies.S3.Foo: unknown policy element"),
            (json!({"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}),
                "Role.InlinePolicies.S3.Version: must be \"2012-10-17\", not '2008-10-17' (the current policy language; policy variables such as ${aws:username} need it)"),
            (json!({"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}), "Role.InlinePolicies.S3.Version: must be \"2012-10-17\" and is missing"),
            (json!({"Version":"2012-10-17","Statement":[]}), "Role.InlinePolicies.S3.Statement: must be a statement object or a non-empty list of them"),
            (json!({"Version":"2012-10-17","Statement":"s3:*"}), "Role.InlinePolicies.S3.Statement: must be a statement object"),
            (json!({"Version":"2012-10-17","Statement":[7]}), "Role.InlinePolicies.S3.Statement[0]: must be an object"),
            (json!({"Version":"2012-10-17","Id":7,"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}), "Role.InlinePolicies.S3.Id: must be a string"),
            (allow(json!({"Effect": "allow"})), "Role.InlinePolicies.S3.Statement[0].Effect: must be \"Allow\" or \"Deny\""),
            (allow(json!({"Effect": null})), "Role.InlinePolicies.S3.Statement[0].Effect: must be"),
            (allow(json!({"Principal": "*"})), "Role.InlinePolicies.S3.Statement[0].Principal: is not allowed in an identity-based policy"),
            (allow(json!({"NotPrincipal": {"AWS": "*"}})), "Role.InlinePolicies.S3.Statement[0].NotPrincipal: is not allowed"),
            (allow(json!({"Extra": 1})), "Role.InlinePolicies.S3.Statement[0].Extra: unknown statement element"),
            (allow(json!({"Sid": "has space"})), "Role.InlinePolicies.S3.Statement[0].Sid: may contain only ASCII letters and digits (got 'has space')"),
            (allow(json!({"Sid": 1})), "Role.InlinePolicies.S3.Statement[0].Sid: must be a string"),
            (allow(json!({"Action": null})), "Role.InlinePolicies.S3.Statement[0].Action: is required (a statement needs exactly one of Action or NotAction)"),
            (allow(json!({"NotAction": "s3:*"})), "Role.InlinePolicies.S3.Statement[0].NotAction: cannot be given together with Action"),
            (allow(json!({"Action": "s3:Get:Object"})), "Role.InlinePolicies.S3.Statement[0].Action: 's3:Get:Object' is not an action: service:Action"),
            (allow(json!({"Action": "s3"})), "Role.InlinePolicies.S3.Statement[0].Action: 's3' is not an action"),
            (allow(json!({"Action": "*:GetObject"})), "Role.InlinePolicies.S3.Statement[0].Action: '*:GetObject' is not an action"),
            (allow(json!({"Action": ["s3:GetObject", ""]})), "Role.InlinePolicies.S3.Statement[0].Action: '' is not an action"),
            (allow(json!({"Action": []})), "Role.InlinePolicies.S3.Statement[0].Action: must be a string or a non-empty list of strings"),
            (allow(json!({"Action": ["s3:GetObject", 7]})), "Role.InlinePolicies.S3.Statement[0].Action: must be a string or a non-empty list"),
            (allow(json!({"Resource": null})), "Role.InlinePolicies.S3.Statement[0].Resource: is required (a statement needs exactly one of Resource or NotResource)"),
            (allow(json!({"NotResource": "*"})), "Role.InlinePolicies.S3.Statement[0].NotResource: cannot be given together with Resource"),
            (allow(json!({"Resource": "TRUE"})), "Role.InlinePolicies.S3.Statement[0].Resource: 'TRUE' is not a resource: an ARN arn:partition:service:region:account:resource (wildcards allowed), or *"),
            (allow(json!({"Resource": "0.0.0.0/0"})), "Role.InlinePolicies.S3.Statement[0].Resource: '0.0.0.0/0' is not a resource"),
            (allow(json!({"Resource": "arn:aws:s3"})), "Role.InlinePolicies.S3.Statement[0].Resource: 'arn:aws:s3' is not a resource"),
            (allow(json!({"Resource": "arn:aws:s3:::"})), "Role.InlinePolicies.S3.Statement[0].Resource: 'arn:aws:s3:::' is not a resource"),
            (allow(json!({"Resource": "arn:aws:s3:::\u{4e2d}"})), "Role.InlinePolicies.S3.Statement[0].Resource: contains U+4E2D, which IAM does not accept in a policy"),
            (allow(json!({"Condition": "x"})), "Role.InlinePolicies.S3.Statement[0].Condition: must map condition operators to objects of condition keys"),
            (allow(json!({"Condition": {"StringEqualz": {"aws:x": "y"}}})), "Role.InlinePolicies.S3.Statement[0].Condition: 'StringEqualz' is not an IAM condition operator"),
            (allow(json!({"Condition": {"NullIfExists": {"aws:x": "y"}}})), "Role.InlinePolicies.S3.Statement[0].Condition: 'NullIfExists' is not an IAM condition operator"),
            (allow(json!({"Condition": {"ForEveryValue:StringEquals": {"aws:x": "y"}}})), "Role.InlinePolicies.S3.Statement[0].Condition: 'ForEveryValue:StringEquals' is not an IAM condition operator"),
            (allow(json!({"Condition": {"StringEquals": "aws:x"}})), "Role.InlinePolicies.S3.Statement[0].Condition: 'StringEquals' must map condition keys to a value or a list of values"),
            (allow(json!({"Condition": {"StringEquals": {"SourceIp": "y"}}})), "Role.InlinePolicies.S3.Statement[0].Condition: 'SourceIp' is not a condition key (vendor:key"),
            (allow(json!({"Condition": {"StringEquals": {"aws:x": {"y": 1}}}})), "Role.InlinePolicies.S3.Statement[0].Condition: 'aws:x' must be a string, a number, a boolean or a list of them"),
            (allow(json!({"Condition": {"StringEquals": {"aws:x": "\u{1F600}"}}})), "Role.InlinePolicies.S3.Statement[0].Condition: contains U+1F600"),
        ];
        for (d, expected) in cases {
            let got = one(d);
            assert!(got.starts_with(expected), "\n got: {got}\nwant: {expected}");
        }
    }

    #[test]
    fn sids_are_unique_in_a_policy() {
        let st = json!({"Sid": "Same", "Effect": "Allow", "Action": "s3:*", "Resource": "*"});
        let d = json!({"Version": "2012-10-17", "Statement": [st, st]});
        assert_eq!(
            one(d),
            "Role.InlinePolicies.S3.Statement[1].Sid: 'Same' is used by more than one statement; statement ids must be unique in a policy"
        );
    }

    #[test]
    fn all_problems_are_reported_at_once_in_document_order() {
        let d = json!({"Version": "2008-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:a:b", "Resource": "TRUE"},
            {"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]});
        let fields: Vec<String> = problems(&d).into_iter().map(|p| p.at).collect();
        assert_eq!(
            fields,
            [
                ".Version",
                ".Statement[0].Action",
                ".Statement[0].Resource",
                ".Statement[1].Effect"
            ]
        );
    }

    #[test]
    fn rules_are_typed_and_quote_only_a_short_value() {
        let long = format!("s3:{}", "\u{e9}:".repeat(5000));
        let p = problems(&allow(json!({"Action": long})));
        let [PolicyProblem {
            rule: PolicyRule::Action(shown),
            ..
        }] = &p[..]
        else {
            panic!("{p:?}")
        };
        assert!(shown.chars().count() <= crate::error::EXCERPT_CHARS + 3);
        // An external ID in a condition is never echoed by a shape problem elsewhere.
        let d = allow(
            json!({"Resource": "TRUE", "Condition": {"StringEquals": {"sts:ExternalId": "SecretExternalId42"}}}),
        );
        assert!(messages(&d)
            .iter()
            .all(|m| !m.contains("SecretExternalId42")));
    }

    #[test]
    fn variables_are_masked_without_slicing_inside_characters() {
        assert_eq!(mask_variables("a${x:y}b${z}"), "a*b*");
        assert_eq!(mask_variables("\u{e9}${\u{4e2d}}\u{e9}"), "\u{e9}*\u{e9}");
        assert_eq!(mask_variables("a${open"), "a${open");
    }
}
