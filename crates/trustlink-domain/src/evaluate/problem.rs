//! Why a policy document is one IAM would refuse, as a type: each rule its own variant, so a
//! caller matches on the rule and the text is written once. Never carries a condition value.

/// A broken rule of the policy language, in the element it is in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("a policy document must be a JSON object")]
    DocumentNotAnObject,
    #[error("unknown element '{0}'")]
    UnknownElement(String),
    #[error("Version must be \"2012-10-17\" or \"2008-10-17\"")]
    BadVersion,
    #[error("Statement must be an object or a list of objects")]
    BadStatementList,
    #[error("a statement must be an object")]
    StatementNotAnObject,
    #[error("Sid must be a string")]
    SidNotAString,
    #[error("Effect must be \"Allow\" or \"Deny\"")]
    BadEffect,
    #[error("a statement needs Action or NotAction")]
    NoAction,
    #[error("action '{0}' must be \"*\" or service:action")]
    BadAction(String),
    #[error("a trust policy has no Resource or NotResource")]
    ResourceInTrustPolicy,
    #[error("a statement needs Resource or NotResource")]
    NoResource,
    /// An element and its negation together (`Action` and `NotAction`).
    #[error("a statement has {element} or {negation}, not both")]
    ElementAndNegation {
        element: &'static str,
        negation: &'static str,
    },
    #[error("{0} must list strings")]
    NotAllStrings(&'static str),
    #[error("{0} must be a string or a non-empty list of strings")]
    NotStringOrList(&'static str),
    #[error("an identity policy has no Principal or NotPrincipal")]
    PrincipalInIdentityPolicy,
    #[error("IAM refuses NotPrincipal in a role trust policy")]
    NotPrincipalInTrustPolicy,
    #[error("NotPrincipal is supported only with \"Effect\": \"Deny\"")]
    NotPrincipalWithAllow,
    #[error("a statement needs a Principal")]
    NoPrincipal,
    #[error("a principal must be \"*\" or an object such as {{\"AWS\": ...}}")]
    BadPrincipalShape,
    #[error("principal type '{0}' is not one IAM knows")]
    UnknownPrincipalType(String),
    #[error("principals of type {0} must be strings")]
    PrincipalsNotAllStrings(String),
    #[error("principals of type {0} must be a string or a non-empty list of strings")]
    PrincipalsNotStringOrList(String),
    #[error("principal '{0}': a wildcard must stand alone as \"*\"")]
    PartialWildcardPrincipal(String),
    #[error("principal '{0}' is not an account id, an ARN or \"*\"")]
    NotAPrincipal(String),
    #[error("Condition must be an object")]
    ConditionNotAnObject,
    #[error("condition operator '{0}' is not supported")]
    UnsupportedOperator(String),
    #[error("condition operator '{0}': Null takes no IfExists or set prefix")]
    QualifiedNull(String),
    #[error("condition operator '{0}' must map keys to values")]
    OperatorNotAMap(String),
    /// The values of one key, never shown: they may be external IDs.
    #[error("condition {operator} {key}: {why}")]
    BadConditionValues {
        operator: String,
        key: String,
        why: ValuesProblem,
    },
}

/// What is wrong with the values of one condition key (which are never shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValuesProblem {
    #[error("values must be strings, numbers or booleans")]
    NotScalars,
    #[error("has an empty list of values")]
    EmptyList,
    /// A value is not of the operator's type (`a number`, `true or false`).
    #[error("a value is not {0}")]
    NotA(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::{evaluate_trust, PolicyError, RequestContext};
    use serde_json::json;

    fn problem_of(policy: serde_json::Value) -> PolicyError {
        let ctx = RequestContext::new(
            "arn:aws:iam::444455556666:root",
            jiff::Timestamp::UNIX_EPOCH,
        )
        .unwrap();
        evaluate_trust(&policy, &ctx, "sts:AssumeRole").unwrap_err()
    }

    #[test]
    fn callers_match_on_the_rule_and_no_condition_value_is_shown() {
        let e = problem_of(json!({"Version": "2020-01-01", "Statement": []}));
        assert_eq!((e.statement, &e.problem), (None, &Problem::BadVersion));
        let e = problem_of(
            json!({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": "*"},
            "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "SecretLooking42x"}}}]}),
        );
        assert_eq!(e.statement, Some(0));
        assert_eq!(
            e.problem,
            Problem::BadConditionValues {
                operator: "NumericLessThan".into(),
                key: "aws:MultiFactorAuthAge".into(),
                why: ValuesProblem::NotA("a number"),
            }
        );
        assert!(!format!("{e} {e:?}").contains("SecretLooking42x"), "{e}");
    }
}
