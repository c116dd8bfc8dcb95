//! Evaluating policies the way AWS does, for the parts of the policy language trust links
//! use: Principal/NotPrincipal, Action/NotAction, Resource/NotResource, and the String,
//! Numeric, Date, Bool, IpAddress, Arn and Null condition operators with `IfExists` and the
//! `ForAllValues:`/`ForAnyValue:` set qualifiers. Plain data in, a [`Decision`] out: no I/O.
//!
//! Not evaluated: policy variables (`${aws:username}` is compared literally), Binary
//! operators, service principals, and the combination of several policy types (trust policy
//! plus the caller's identity policies, boundaries, SCPs) into one cross-account answer.

mod condition;
mod context;
mod decision;
mod document;
mod glob;
mod operator;
mod principal;
mod problem;
mod values;

#[cfg(test)]
mod tests;

pub use condition::{ConditionRef, FailReason, FailedCondition};
pub use context::{ContextError, RequestContext};
pub use decision::{
    evaluate_identity, evaluate_resource, evaluate_trust, Decision, NearMiss, StatementRef,
};
pub use document::PolicyError;
pub use problem::{Problem, ValuesProblem};
