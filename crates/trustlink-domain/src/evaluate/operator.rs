//! Condition operators: reading a name such as `ForAllValues:StringNotLikeIfExists` and its
//! policy values, and testing one context value against those values.
//!
//! Policy values are typed once, when the document is read, so a malformed value is an
//! error up front rather than a silent mismatch. Their `Debug` shows only how many there
//! are: the values of `sts:ExternalId` are secrets.

use std::fmt;

use ipnet::IpNet;
use jiff::Timestamp;
use serde_json::Value;

use super::context::CtxValue;
use super::glob;
use super::problem::{Problem, ValuesProblem};
use super::values::{parse_bool, parse_cidr, parse_date, parse_number};

/// `ForAllValues:` / `ForAnyValue:`, for multivalued keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetQualifier {
    ForAllValues,
    ForAnyValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// What an operator compares, with its negation folded out (`StringNotLike` is `Like`,
/// negated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    IpAddress,
    /// ArnEquals and ArnLike: IAM documents both as the same wildcard match.
    Arn,
    Null,
}

/// One parsed operator name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Operator {
    pub(crate) name: String,
    pub(crate) set: Option<SetQualifier>,
    pub(crate) family: Family,
    pub(crate) negated: bool,
    pub(crate) if_exists: bool,
}

/// Base operator names (without set prefix or `IfExists`) to (family, negated).
const BASES: &[(&str, Family, bool)] = &[
    ("StringEquals", Family::StringEquals, false),
    ("StringNotEquals", Family::StringEquals, true),
    (
        "StringEqualsIgnoreCase",
        Family::StringEqualsIgnoreCase,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Family::StringEqualsIgnoreCase,
        true,
    ),
    ("StringLike", Family::StringLike, false),
    ("StringNotLike", Family::StringLike, true),
    ("NumericEquals", Family::Numeric(Cmp::Eq), false),
    ("NumericNotEquals", Family::Numeric(Cmp::Eq), true),
    ("NumericLessThan", Family::Numeric(Cmp::Lt), false),
    ("NumericLessThanEquals", Family::Numeric(Cmp::Le), false),
    ("NumericGreaterThan", Family::Numeric(Cmp::Gt), false),
    ("NumericGreaterThanEquals", Family::Numeric(Cmp::Ge), false),
    ("DateEquals", Family::Date(Cmp::Eq), false),
    ("DateNotEquals", Family::Date(Cmp::Eq), true),
    ("DateLessThan", Family::Date(Cmp::Lt), false),
    ("DateLessThanEquals", Family::Date(Cmp::Le), false),
    ("DateGreaterThan", Family::Date(Cmp::Gt), false),
    ("DateGreaterThanEquals", Family::Date(Cmp::Ge), false),
    ("Bool", Family::Bool, false),
    ("IpAddress", Family::IpAddress, false),
    ("NotIpAddress", Family::IpAddress, true),
    ("ArnEquals", Family::Arn, false),
    ("ArnLike", Family::Arn, false),
    ("ArnNotEquals", Family::Arn, true),
    ("ArnNotLike", Family::Arn, true),
    ("Null", Family::Null, false),
];

impl Operator {
    /// Reads an operator name as IAM spells it (operator names are case-sensitive).
    pub(crate) fn parse(name: &str) -> Result<Self, Problem> {
        let (set, rest) = if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (Some(SetQualifier::ForAllValues), rest)
        } else if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), rest)
        } else {
            (None, name)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        let Some(&(_, family, negated)) = BASES.iter().find(|(b, ..)| *b == base) else {
            return Err(Problem::UnsupportedOperator(name.to_string()));
        };
        if family == Family::Null && (if_exists || set.is_some()) {
            return Err(Problem::QualifiedNull(name.to_string()));
        }
        Ok(Self {
            name: name.to_string(),
            set,
            family,
            negated,
            if_exists,
        })
    }
}

/// The values one key is compared with, typed for its operator.
#[derive(Clone, PartialEq)]
pub(crate) enum PolicyValues {
    Strings(Vec<String>),
    Numbers(Vec<f64>),
    Dates(Vec<Timestamp>),
    Bools(Vec<bool>),
    Cidrs(Vec<IpNet>),
}

impl fmt::Debug for PolicyValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = match self {
            Self::Strings(v) => v.len(),
            Self::Numbers(v) => v.len(),
            Self::Dates(v) => v.len(),
            Self::Bools(v) => v.len(),
            Self::Cidrs(v) => v.len(),
        };
        write!(f, "PolicyValues({n} values)")
    }
}

/// The policy's value or list of values as text. IAM takes strings, numbers and booleans.
fn texts(raw: &Value) -> Result<Vec<String>, ValuesProblem> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(ValuesProblem::NotScalars),
    };
    match raw {
        Value::Array(list) if list.is_empty() => Err(ValuesProblem::EmptyList),
        Value::Array(list) => list.iter().map(one).collect(),
        single => one(single).map(|s| vec![s]),
    }
}

/// Every text converted by `parse`, or the reason. Never names the value itself.
fn typed<T>(
    texts: Vec<String>,
    parse: fn(&str) -> Option<T>,
    what: &'static str,
) -> Result<Vec<T>, ValuesProblem> {
    texts
        .iter()
        .map(|t| parse(t).ok_or(ValuesProblem::NotA(what)))
        .collect()
}

impl PolicyValues {
    /// Reads the policy values of a key for `family`.
    pub(crate) fn parse(family: Family, raw: &Value) -> Result<Self, ValuesProblem> {
        let texts = texts(raw)?;
        Ok(match family {
            Family::StringEquals | Family::StringEqualsIgnoreCase | Family::StringLike => {
                Self::Strings(texts)
            }
            Family::Arn => Self::Strings(texts),
            Family::Numeric(_) => Self::Numbers(typed(texts, parse_number, "a number")?),
            Family::Date(_) => Self::Dates(typed(
                texts,
                parse_date,
                "an ISO 8601 date or epoch seconds",
            )?),
            Family::Bool | Family::Null => Self::Bools(typed(texts, parse_bool, "true or false")?),
            Family::IpAddress => Self::Cidrs(typed(texts, parse_cidr, "an IP address or CIDR")?),
        })
    }

    /// The `Null` operator's values.
    pub(crate) fn bools(&self) -> &[bool] {
        match self {
            Self::Bools(b) => b,
            _ => &[],
        }
    }
}

fn compare<T: PartialOrd>(cmp: Cmp, context: T, policy: T) -> bool {
    match cmp {
        Cmp::Eq => context == policy,
        Cmp::Lt => context < policy,
        Cmp::Le => context <= policy,
        Cmp::Gt => context > policy,
        Cmp::Ge => context >= policy,
    }
}

/// ArnLike: each of the six colon-separated parts matched on its own (so `*` does not run
/// across a colon), case-sensitively; anything that is not six parts does not match.
fn arn_matches(pattern: &str, arn: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    p.len() == 6 && a.len() == 6 && p.iter().zip(&a).all(|(p, a)| glob::matches(p, a))
}

/// Whether one context value matches at least one policy value, before any negation.
/// A context value of the wrong type (a word where a number is needed) matches nothing.
pub(crate) fn matches_any(family: Family, value: &CtxValue<'_>, policy: &PolicyValues) -> bool {
    match (family, policy) {
        (Family::StringEquals, PolicyValues::Strings(p)) => {
            let v = value.as_text();
            p.iter().any(|p| *p == v)
        }
        (Family::StringEqualsIgnoreCase, PolicyValues::Strings(p)) => {
            let v = value.as_text().to_lowercase();
            p.iter().any(|p| p.to_lowercase() == v)
        }
        (Family::StringLike, PolicyValues::Strings(p)) => {
            let v = value.as_text();
            p.iter().any(|p| glob::matches(p, &v))
        }
        (Family::Arn, PolicyValues::Strings(p)) => {
            let v = value.as_text();
            p.iter().any(|p| arn_matches(p, &v))
        }
        (Family::Numeric(cmp), PolicyValues::Numbers(p)) => value
            .as_number()
            .is_some_and(|v| p.iter().any(|&p| compare(cmp, v, p))),
        (Family::Date(cmp), PolicyValues::Dates(p)) => value
            .as_date()
            .is_some_and(|v| p.iter().any(|&p| compare(cmp, v, p))),
        (Family::Bool, PolicyValues::Bools(p)) => value.as_bool().is_some_and(|v| p.contains(&v)),
        (Family::IpAddress, PolicyValues::Cidrs(p)) => value
            .as_ip()
            .is_some_and(|ip| p.iter().any(|net| net.contains(&ip))),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operator_names() {
        // (name, set qualifier, family, negated, IfExists)
        let rows = [
            ("StringEquals", None, Family::StringEquals, false, false),
            (
                "StringNotLikeIfExists",
                None,
                Family::StringLike,
                true,
                true,
            ),
            (
                "ForAllValues:StringNotEqualsIgnoreCase",
                Some(SetQualifier::ForAllValues),
                Family::StringEqualsIgnoreCase,
                true,
                false,
            ),
            (
                "ForAnyValue:ArnLikeIfExists",
                Some(SetQualifier::ForAnyValue),
                Family::Arn,
                false,
                true,
            ),
            (
                "NumericLessThanEquals",
                None,
                Family::Numeric(Cmp::Le),
                false,
                false,
            ),
            ("DateNotEquals", None, Family::Date(Cmp::Eq), true, false),
            ("NotIpAddressIfExists", None, Family::IpAddress, true, true),
            ("BoolIfExists", None, Family::Bool, false, true),
            ("Null", None, Family::Null, false, false),
        ];
        for (name, set, family, negated, if_exists) in rows {
            let op = Operator::parse(name).unwrap();
            assert_eq!(
                (op.set, op.family, op.negated, op.if_exists),
                (set, family, negated, if_exists),
                "{name}"
            );
        }
        for bad in [
            "stringequals",
            "StringEqual",
            "ForSomeValues:StringEquals",
            "IfExists",
            "BinaryEquals",
            "NullIfExists",
            "ForAllValues:Null",
        ] {
            assert!(Operator::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn policy_values_hide_themselves() {
        let v =
            PolicyValues::parse(Family::StringEquals, &json!(["Secret-1", "Secret-2"])).unwrap();
        assert_eq!(format!("{v:?}"), "PolicyValues(2 values)");
    }
}
