//! Deciding a request: AWS's evaluation logic for the statements that apply to it. An
//! explicit deny in any statement wins; otherwise an allow; otherwise the request is
//! implicitly denied. Each decision names the statement that made it, and an implicit deny
//! names, for every Allow statement that applied to the principal and action, the
//! conditions that failed: the material of a diagnosis ("external ID missing", "MFA").

use std::fmt;

use serde_json::Value;

use super::condition::{check, ConditionRef, FailedCondition};
use super::context::RequestContext;
use super::document::{
    parse, Kind, Patterns, PolicyError, PrincipalRule, Statement, StatementEffect,
};
use super::glob;

/// Which statement: its document (0 for a trust policy), its position and its Sid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    pub policy: usize,
    pub index: usize,
    pub sid: Option<String>,
}

impl fmt::Display for StatementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.policy > 0 {
            write!(f, "policy {} ", self.policy)?;
        }
        write!(f, "statement {}", self.index)?;
        match &self.sid {
            Some(sid) => write!(f, " (Sid {sid:?})"),
            None => Ok(()),
        }
    }
}

/// An Allow statement that applied to the principal and action, and what stopped it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearMiss {
    pub statement: StatementRef,
    /// Every condition that failed, in the order they were read; never empty.
    pub failed: Vec<FailedCondition>,
}

impl NearMiss {
    pub fn first_failure(&self) -> Option<&FailedCondition> {
        self.failed.first()
    }
}

/// The outcome of evaluating a request. Its `Debug` and `Display` name operators and keys
/// only, never a condition value, so an external ID cannot leak through a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// An Allow statement applied and every one of its conditions held.
    Allowed {
        statement: StatementRef,
        conditions: Vec<ConditionRef>,
    },
    /// A Deny statement applied and every one of its conditions held.
    ExplicitDeny {
        statement: StatementRef,
        conditions: Vec<ConditionRef>,
    },
    /// Nothing allowed the request. `near_misses` is empty when no Allow statement even
    /// applied to the principal, action and resource.
    ImplicitDeny { near_misses: Vec<NearMiss> },
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed { .. })
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Allowed { statement, .. } => write!(f, "allowed by {statement}"),
            Self::ExplicitDeny { statement, .. } => write!(f, "explicitly denied by {statement}"),
            Self::ImplicitDeny { near_misses } if near_misses.is_empty() => f.write_str(
                "implicitly denied: no Allow statement applies to this principal and action",
            ),
            Self::ImplicitDeny { near_misses } => {
                f.write_str("implicitly denied: ")?;
                let mut first = true;
                for miss in near_misses {
                    for failed in &miss.failed {
                        if !first {
                            f.write_str("; ")?;
                        }
                        first = false;
                        let why = failed.reason.describe();
                        write!(
                            f,
                            "condition {} of {} did not match ({why})",
                            failed.condition, miss.statement
                        )?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// Evaluates a role's trust policy for `action` (usually `sts:AssumeRole`).
pub fn evaluate_trust(
    policy: &Value,
    ctx: &RequestContext,
    action: &str,
) -> Result<Decision, PolicyError> {
    let statements = parse(policy, Kind::Trust, 0)?;
    Ok(decide(&[statements], ctx, action, None))
}

/// Evaluates the identity policies of the requesting principal for `action` on `resource`.
pub fn evaluate_identity(
    policies: &[&Value],
    ctx: &RequestContext,
    action: &str,
    resource: &str,
) -> Result<Decision, PolicyError> {
    let parsed = policies
        .iter()
        .enumerate()
        .map(|(i, p)| parse(p, Kind::Identity, i))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(decide(&parsed, ctx, action, Some(resource)))
}

/// Evaluates a resource-based policy (where NotPrincipal may appear, with Deny).
pub fn evaluate_resource(
    policy: &Value,
    ctx: &RequestContext,
    action: &str,
    resource: &str,
) -> Result<Decision, PolicyError> {
    let statements = parse(policy, Kind::Resource, 0)?;
    Ok(decide(&[statements], ctx, action, Some(resource)))
}

fn decide(
    policies: &[Vec<Statement>],
    ctx: &RequestContext,
    action: &str,
    resource: Option<&str>,
) -> Decision {
    let mut allowed = None;
    let mut near_misses = Vec::new();
    for (policy, statements) in policies.iter().enumerate() {
        for s in statements
            .iter()
            .filter(|s| applies(s, ctx, action, resource))
        {
            let statement = StatementRef {
                policy,
                index: s.index,
                sid: s.sid.clone(),
            };
            let failed: Vec<FailedCondition> = s
                .conditions
                .iter()
                .filter_map(|c| {
                    check(c, ctx).err().map(|reason| FailedCondition {
                        condition: c.reference(),
                        reason,
                    })
                })
                .collect();
            let conditions = || s.conditions.iter().map(|c| c.reference()).collect();
            match (s.effect, failed.is_empty()) {
                // One explicit deny anywhere decides, whatever allowed before it.
                (StatementEffect::Deny, true) => {
                    return Decision::ExplicitDeny {
                        statement,
                        conditions: conditions(),
                    }
                }
                (StatementEffect::Deny, false) => {}
                (StatementEffect::Allow, true) => {
                    allowed.get_or_insert_with(|| (statement, conditions()));
                }
                (StatementEffect::Allow, false) => near_misses.push(NearMiss { statement, failed }),
            }
        }
    }
    match allowed {
        Some((statement, conditions)) => Decision::Allowed {
            statement,
            conditions,
        },
        None => Decision::ImplicitDeny { near_misses },
    }
}

/// Whether the statement is about this principal, action and resource (its conditions
/// aside).
fn applies(s: &Statement, ctx: &RequestContext, action: &str, resource: Option<&str>) -> bool {
    let principal = match &s.principal {
        PrincipalRule::Attached => true,
        PrincipalRule::Principal(p) => p.includes(ctx),
        PrincipalRule::NotPrincipal(p) => !p.exempts(ctx),
    };
    // Action names are case-insensitive; resource ARNs are not.
    let action_ok = matched(&s.action, |p| glob::matches_ignore_case(p, action));
    let resource_ok = match (&s.resource, resource) {
        (Some(r), Some(resource)) => matched(r, |p| glob::matches(p, resource)),
        (None, _) => true,
        (Some(_), None) => false,
    };
    principal && action_ok && resource_ok
}

fn matched(patterns: &Patterns, matches: impl Fn(&str) -> bool) -> bool {
    patterns.patterns.iter().any(|p| matches(p)) != patterns.negated
}
