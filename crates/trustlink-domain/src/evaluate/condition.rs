//! The Condition block: reading it, and deciding it against a request.
//!
//! AWS's rules, as its condition-operator documentation states them: several operators, and
//! several keys under one operator, must all hold (AND); several values for one key are
//! alternatives (OR), which for a negated operator means the request value must match none
//! of them (NOR). A key absent from the request fails every operator except the negated
//! ones, `...IfExists` and `Null`; `ForAllValues` holds on an absent key, `ForAnyValue` does
//! not (not even as `ForAnyValue:...IfExists`: AWS answers false there, as reported on
//! re:Post "ForAnyValue:StringEqualsIfExists behaving unexpectedly").

use std::fmt;

use serde_json::Value;

use super::context::RequestContext;
use super::operator::{matches_any, Family, Operator, PolicyValues, SetQualifier};
use super::problem::Problem;

/// One key under one operator, with its typed policy values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    pub(crate) operator: Operator,
    pub(crate) key: String,
    pub(crate) values: PolicyValues,
}

/// Names a condition for a person: its operator and key, never its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionRef {
    pub operator: String,
    pub key: String,
}

impl fmt::Display for ConditionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.operator, self.key)
    }
}

/// Why a condition did not hold, without saying what the request or the policy held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    /// The request lacks the key (an external ID never passed, MFA not used).
    KeyAbsent,
    /// The request has the key, and `Null: true` asked for it to be absent.
    KeyPresent,
    /// The request has the key, with a value the condition rejects (a wrong external ID).
    ValueMismatch,
}

/// A condition that did not hold, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedCondition {
    pub condition: ConditionRef,
    pub reason: FailReason,
}

impl FailReason {
    /// The reason in words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::KeyAbsent => "the request has no such key",
            Self::KeyPresent => "the request has the key",
            Self::ValueMismatch => "the request's value does not match",
        }
    }
}

impl fmt::Display for FailedCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = self.reason.describe();
        write!(f, "condition {} did not match ({why})", self.condition)
    }
}

impl Condition {
    pub(crate) fn reference(&self) -> ConditionRef {
        ConditionRef {
            operator: self.operator.name.clone(),
            key: self.key.clone(),
        }
    }
}

/// Reads a statement's `Condition` object: `{operator: {key: value-or-values}}`.
pub(crate) fn parse_block(raw: &Value) -> Result<Vec<Condition>, Problem> {
    let Value::Object(operators) = raw else {
        return Err(Problem::ConditionNotAnObject);
    };
    let mut out = Vec::new();
    for (name, keys) in operators {
        let operator = Operator::parse(name)?;
        let Value::Object(keys) = keys else {
            return Err(Problem::OperatorNotAMap(name.clone()));
        };
        for (key, raw_values) in keys {
            let values = PolicyValues::parse(operator.family, raw_values).map_err(|why| {
                Problem::BadConditionValues {
                    operator: name.clone(),
                    key: key.clone(),
                    why,
                }
            })?;
            out.push(Condition {
                operator: operator.clone(),
                key: key.clone(),
                values,
            });
        }
    }
    Ok(out)
}

/// Whether `condition` holds for `ctx`, or why not.
pub(crate) fn check(condition: &Condition, ctx: &RequestContext) -> Result<(), FailReason> {
    let op = &condition.operator;
    let values = ctx.lookup(&condition.key);
    if op.family == Family::Null {
        // `true` asks for the key to be absent, `false` for it to be present.
        let present = values.is_some();
        let holds = condition
            .values
            .bools()
            .iter()
            .any(|&absent| absent != present);
        return match (holds, present) {
            (true, _) => Ok(()),
            (false, true) => Err(FailReason::KeyPresent),
            (false, false) => Err(FailReason::KeyAbsent),
        };
    }
    let Some(values) = values else {
        let holds = match op.set {
            Some(SetQualifier::ForAllValues) => true,
            Some(SetQualifier::ForAnyValue) => false,
            None => op.if_exists || op.negated,
        };
        return if holds {
            Ok(())
        } else {
            Err(FailReason::KeyAbsent)
        };
    };
    // Negation applies per request value: that value must match none of the policy values.
    let one = |v| matches_any(op.family, v, &condition.values) != op.negated;
    let holds = match op.set {
        Some(SetQualifier::ForAllValues) => values.iter().all(one),
        Some(SetQualifier::ForAnyValue) => values.iter().any(one),
        // A single-valued key has one value; a multivalued one without a set qualifier is
        // read as "some value matches", negated as "no value matches".
        None if op.negated => !values
            .iter()
            .any(|v| matches_any(op.family, v, &condition.values)),
        None => values.iter().any(one),
    };
    if holds {
        Ok(())
    } else {
        Err(FailReason::ValueMismatch)
    }
}
