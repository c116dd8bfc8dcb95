//! Reading a policy document into statements, refusing what IAM itself refuses (unknown
//! fields, a statement without an action, a Resource in a trust policy, ...). A document
//! that could never be stored in IAM is an error, not a quiet "deny".

use serde_json::{Map, Value};

use super::condition::{parse_block, Condition};
use super::glob;
use super::principal::Principals;
use super::problem::Problem;

/// Which kind of policy a document is: each allows different elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A role's trust policy: Principal, no Resource, no NotPrincipal.
    Trust,
    /// A user's or role's policy: Resource, no Principal.
    Identity,
    /// A resource-based policy: Principal or (with Deny only) NotPrincipal, and Resource.
    Resource,
}

/// A document IAM would refuse. Names the element and rule, never a condition value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy {policy}{}: {problem}", statement.map(|s| format!(", statement {s}")).unwrap_or_default())]
pub struct PolicyError {
    /// Position of the document in the list given (0 for a trust policy).
    pub policy: usize,
    /// Position of the statement in the document, when one is at fault.
    pub statement: Option<usize>,
    pub problem: Problem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatementEffect {
    Allow,
    Deny,
}

/// Action or NotAction, Resource or NotResource: patterns, and whether they are negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Patterns {
    pub(crate) negated: bool,
    pub(crate) patterns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalRule {
    /// Identity policies: the statement is about the principal it is attached to.
    Attached,
    Principal(Principals),
    NotPrincipal(Principals),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    pub(crate) index: usize,
    pub(crate) sid: Option<String>,
    pub(crate) effect: StatementEffect,
    pub(crate) principal: PrincipalRule,
    pub(crate) action: Patterns,
    pub(crate) resource: Option<Patterns>,
    pub(crate) conditions: Vec<Condition>,
}

const STATEMENT_FIELDS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// Every statement of `doc`, read as a policy of `kind`.
pub(crate) fn parse(doc: &Value, kind: Kind, policy: usize) -> Result<Vec<Statement>, PolicyError> {
    let err = |statement, problem: Problem| PolicyError {
        policy,
        statement,
        problem,
    };
    let Value::Object(top) = doc else {
        return Err(err(None, Problem::DocumentNotAnObject));
    };
    if let Some(unknown) = top
        .keys()
        .find(|k| !["Version", "Id", "Statement"].contains(&k.as_str()))
    {
        return Err(err(None, Problem::UnknownElement(unknown.clone())));
    }
    match top.get("Version") {
        None => {}
        Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {}
        Some(_) => return Err(err(None, Problem::BadVersion)),
    }
    let list: Vec<&Value> = match top.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return Err(err(None, Problem::BadStatementList)),
    };
    list.into_iter()
        .enumerate()
        .map(|(i, raw)| statement(raw, i, kind).map_err(|p| err(Some(i), p)))
        .collect()
}

fn statement(raw: &Value, index: usize, kind: Kind) -> Result<Statement, Problem> {
    let Value::Object(fields) = raw else {
        return Err(Problem::StatementNotAnObject);
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !STATEMENT_FIELDS.contains(&k.as_str()))
    {
        return Err(Problem::UnknownElement(unknown.clone()));
    }
    let sid = match fields.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(Problem::SidNotAString),
    };
    let effect = match fields.get("Effect").and_then(Value::as_str) {
        Some("Allow") => StatementEffect::Allow,
        Some("Deny") => StatementEffect::Deny,
        _ => return Err(Problem::BadEffect),
    };
    let action = either(fields, "Action", "NotAction")?.ok_or(Problem::NoAction)?;
    if let Some(bad) = action.patterns.iter().find(|a| !is_action(a)) {
        return Err(Problem::BadAction(bad.clone()));
    }
    let resource = either(fields, "Resource", "NotResource")?;
    let principal = principal_rule(fields, kind, effect)?;
    match (kind, &resource) {
        (Kind::Trust, Some(_)) => return Err(Problem::ResourceInTrustPolicy),
        (Kind::Identity | Kind::Resource, None) => return Err(Problem::NoResource),
        _ => {}
    }
    let conditions = fields
        .get("Condition")
        .map(parse_block)
        .transpose()?
        .unwrap_or_default();
    Ok(Statement {
        index,
        sid,
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

/// `*`, or `service:pattern` with a service IAM could know.
fn is_action(a: &str) -> bool {
    a == "*"
        || a.split_once(':').is_some_and(|(service, name)| {
            !service.is_empty() && !glob::has_wildcard(service) && !name.is_empty()
        })
}

/// The element `yes` or its negation `no`: at most one of them, strings or a list of them.
fn either(
    fields: &Map<String, Value>,
    yes: &'static str,
    no: &'static str,
) -> Result<Option<Patterns>, Problem> {
    let (negated, raw) = match (fields.get(yes), fields.get(no)) {
        (Some(_), Some(_)) => {
            return Err(Problem::ElementAndNegation {
                element: yes,
                negation: no,
            })
        }
        (Some(raw), None) => (false, raw),
        (None, Some(raw)) => (true, raw),
        (None, None) => return Ok(None),
    };
    let name = if negated { no } else { yes };
    let patterns = match raw {
        Value::String(s) => vec![s.clone()],
        Value::Array(list) if !list.is_empty() => list
            .iter()
            .map(|v| v.as_str().map(String::from))
            .collect::<Option<Vec<_>>>()
            .ok_or(Problem::NotAllStrings(name))?,
        _ => return Err(Problem::NotStringOrList(name)),
    };
    Ok(Some(Patterns { negated, patterns }))
}

fn principal_rule(
    fields: &Map<String, Value>,
    kind: Kind,
    effect: StatementEffect,
) -> Result<PrincipalRule, Problem> {
    let (principal, not_principal) = (fields.get("Principal"), fields.get("NotPrincipal"));
    match (kind, principal, not_principal) {
        (Kind::Identity, None, None) => Ok(PrincipalRule::Attached),
        (Kind::Identity, ..) => Err(Problem::PrincipalInIdentityPolicy),
        (_, Some(_), Some(_)) => Err(Problem::ElementAndNegation {
            element: "Principal",
            negation: "NotPrincipal",
        }),
        (_, Some(raw), None) => Principals::parse(raw).map(PrincipalRule::Principal),
        // IAM's current NotPrincipal documentation: never in a role trust policy, and only
        // with Deny elsewhere.
        (Kind::Trust, None, Some(_)) => Err(Problem::NotPrincipalInTrustPolicy),
        (_, None, Some(_)) if effect == StatementEffect::Allow => {
            Err(Problem::NotPrincipalWithAllow)
        }
        (_, None, Some(raw)) => Principals::parse(raw).map(PrincipalRule::NotPrincipal),
        (_, None, None) => Err(Problem::NoPrincipal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(statement: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": [statement]})
    }

    #[test]
    fn reads_a_trust_statement() {
        let d = doc(
            json!({"Sid": "Link", "Effect": "Allow", "Principal": {"AWS": "444455556666"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {"StringEquals": {"sts:ExternalId": ["a1", "b2"]}, "Bool": {"aws:MultiFactorAuthPresent": true}}}),
        );
        let s = parse(&d, Kind::Trust, 0).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].sid.as_deref(), Some("Link"));
        assert_eq!(s[0].action.patterns.len(), 2);
        assert_eq!(s[0].conditions.len(), 2);
        // A single statement object, not in a list, is a policy too.
        let single =
            json!({"Statement": {"Effect": "Deny", "Principal": "*", "NotAction": "sts:*"}});
        assert!(parse(&single, Kind::Trust, 0).unwrap()[0].action.negated);
    }

    #[test]
    fn refuses_what_iam_refuses() {
        let allow = |extra: Value| {
            let mut s = json!({"Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": "sts:AssumeRole"});
            for (k, v) in extra.as_object().unwrap() {
                s[k] = v.clone();
            }
            s
        };
        // (document, kind, expected problem fragment)
        let rows = [
            (json!([]), Kind::Trust, "must be a JSON object"),
            (
                json!({"Statement": []    , "Extra": 1}),
                Kind::Trust,
                "unknown element 'Extra'",
            ),
            (
                json!({"Version": "2020-01-01", "Statement": []}),
                Kind::Trust,
                "Version",
            ),
            (
                json!({"Version": "2012-10-17"}),
                Kind::Trust,
                "Statement must be",
            ),
            (doc(json!("x")), Kind::Trust, "must be an object"),
            (
                doc(allow(json!({"Effect": "allow"}))),
                Kind::Trust,
                "Effect",
            ),
            (doc(allow(json!({"Sid": 1}))), Kind::Trust, "Sid"),
            (
                doc(allow(json!({"Bogus": 1}))),
                Kind::Trust,
                "unknown element 'Bogus'",
            ),
            (
                doc(allow(json!({"NotAction": "sts:*"}))),
                Kind::Trust,
                "not both",
            ),
            (
                doc(allow(json!({"Action": "AssumeRole"}))),
                Kind::Trust,
                "service:action",
            ),
            (
                doc(allow(json!({"Action": "*:AssumeRole"}))),
                Kind::Trust,
                "service:action",
            ),
            (
                doc(allow(json!({"Action": []}))),
                Kind::Trust,
                "non-empty list",
            ),
            (
                doc(allow(json!({"Action": [1]}))),
                Kind::Trust,
                "must list strings",
            ),
            (
                doc(allow(json!({"Resource": "*"}))),
                Kind::Trust,
                "no Resource",
            ),
            (
                doc(json!({"Effect": "Allow", "Action": "sts:AssumeRole"})),
                Kind::Trust,
                "needs a Principal",
            ),
            (
                doc(
                    json!({"Effect": "Deny", "NotPrincipal": {"AWS": "444455556666"}, "Action": "sts:AssumeRole"}),
                ),
                Kind::Trust,
                "NotPrincipal",
            ),
            (
                doc(json!({"Effect": "Allow", "Principal": "*"})),
                Kind::Trust,
                "needs Action",
            ),
            (
                doc(allow(json!({"Condition": {"StringEquals": "x"}}))),
                Kind::Trust,
                "must map keys",
            ),
            (
                doc(allow(json!({"Condition": {"StringEqualz": {"k": "v"}}}))),
                Kind::Trust,
                "not supported",
            ),
            (
                doc(allow(json!({"Condition": {"NullIfExists": {"k": "true"}}}))),
                Kind::Trust,
                "Null takes no",
            ),
            (
                doc(allow(
                    json!({"Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "soon"}}}),
                )),
                Kind::Trust,
                "not a number",
            ),
            (
                doc(allow(
                    json!({"Condition": {"DateLessThan": {"aws:CurrentTime": "someday"}}}),
                )),
                Kind::Trust,
                "ISO 8601",
            ),
            (
                doc(allow(
                    json!({"Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/40"}}}),
                )),
                Kind::Trust,
                "CIDR",
            ),
            (
                doc(allow(
                    json!({"Condition": {"Bool": {"aws:MultiFactorAuthPresent": "yes"}}}),
                )),
                Kind::Trust,
                "true or false",
            ),
            (
                doc(allow(
                    json!({"Condition": {"StringEquals": {"sts:ExternalId": []}}}),
                )),
                Kind::Trust,
                "empty list",
            ),
            (
                doc(allow(
                    json!({"Condition": {"StringEquals": {"sts:ExternalId": {"a": 1}}}}),
                )),
                Kind::Trust,
                "strings, numbers",
            ),
            (
                doc(json!({"Effect": "Allow", "Action": "s3:GetObject"})),
                Kind::Identity,
                "needs Resource",
            ),
            (
                doc(
                    json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}),
                ),
                Kind::Identity,
                "no Principal",
            ),
            (
                doc(
                    json!({"Effect": "Allow", "NotPrincipal": "*", "Action": "s3:GetObject", "Resource": "*"}),
                ),
                Kind::Resource,
                "only with",
            ),
            (
                doc(
                    json!({"Effect": "Deny", "Principal": "*", "NotPrincipal": "*", "Action": "s3:GetObject", "Resource": "*"}),
                ),
                Kind::Resource,
                "not both",
            ),
        ];
        for (d, kind, fragment) in rows {
            let e = parse(&d, kind, 3).unwrap_err();
            assert!(e.to_string().contains(fragment), "{d}: {e}");
            assert_eq!(e.policy, 3);
        }
    }

    #[test]
    fn errors_never_show_condition_values() {
        let d = doc(
            json!({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole",
            "Condition": {"DateLessThan": {"sts:ExternalId": "TopSecretExternal1"}}}),
        );
        let e = parse(&d, Kind::Trust, 0).unwrap_err();
        assert_eq!(e.statement, Some(0));
        assert!(e.to_string().contains("DateLessThan sts:ExternalId"), "{e}");
        assert!(!format!("{e} {e:?}").contains("TopSecret"));
        let d = doc(
            json!({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "TopSecretExternal1"}}}),
        );
        let s = parse(&d, Kind::Trust, 0).unwrap();
        assert!(!format!("{s:?}").contains("TopSecret"));
    }
}
