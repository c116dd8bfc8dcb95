//! Table tests of the evaluator as a whole: one row per AWS rule, with AWS's outcome.

mod decisions;
mod operators;
mod trust_link;

use jiff::Timestamp;
use serde_json::Value;

use super::RequestContext;
use crate::secret::ExternalId;

/// A table row: an element or condition, the request it is tried with, the AWS outcome.
pub(super) type Row = (Value, fn() -> RequestContext, bool);

pub(super) const USER: &str = "arn:aws:iam::444455556666:user/DevUser";
pub(super) const ROLE: &str = "arn:aws:iam::444455556666:role/ci/Deployer";
pub(super) const SESSION: &str = "arn:aws:sts::444455556666:assumed-role/Deployer/run-1";

/// 2026-06-01T00:00:00Z, the "now" of every test.
pub(super) const NOW: i64 = 1_780_272_000;

pub(super) fn at(iso: &str) -> Timestamp {
    iso.parse().unwrap()
}

/// A user request that has no optional key at all.
pub(super) fn bare() -> RequestContext {
    RequestContext::new(USER, Timestamp::from_second(NOW).unwrap()).unwrap()
}

/// A user request with every key the tests use.
pub(super) fn full() -> RequestContext {
    let mut ctx = bare();
    ctx.external_id = Some(ExternalId::parse("ExternalId", "abc-123").unwrap());
    ctx.mfa_present = Some(true);
    ctx.mfa_age_seconds = Some(600);
    ctx.source_ip = Some("203.0.113.7".parse().unwrap());
    ctx.principal_org_id = Some("o-a1b2c3d4e5".into());
    ctx.principal_tags.insert("Team".into(), "Blue".into());
    ctx.token_issue_time = Some(at("2026-05-31T23:00:00Z"));
    ctx.other
        .insert("aws:TagKeys".into(), vec!["team".into(), "cost".into()]);
    ctx.other.insert("aws:EmptyList".into(), vec![]);
    ctx
}

/// A role session of ROLE with the keys of `full`.
pub(super) fn session() -> RequestContext {
    let base = full();
    let mut ctx =
        RequestContext::for_session(SESSION, ROLE, Timestamp::from_second(NOW).unwrap()).unwrap();
    ctx.external_id = base.external_id;
    ctx.mfa_present = base.mfa_present;
    ctx
}
