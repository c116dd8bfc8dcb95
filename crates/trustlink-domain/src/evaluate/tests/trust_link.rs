//! The trust policy trustlink builds (`policy::trust_policy`) admits exactly the trusted
//! principal passing a current external ID and meeting every condition, and each way of
//! failing is named by the one condition that failed.

use jiff::Timestamp;
use serde_json::Value;

use super::{at, ROLE, SESSION, USER};
use crate::evaluate::{evaluate_trust, Decision, FailReason, RequestContext};
use crate::policy::{trust_policy, Principal, ASSUME_ROLE};
use crate::rules::Timestamp as RuleTime;
use crate::secret::ExternalId;
use crate::spec::Conditions;

fn conditions() -> Conditions {
    Conditions {
        require_mfa: true,
        mfa_max_age_seconds: Some(3600),
        source_ip_cidrs: vec!["203.0.113.0/24".into(), "2001:db8::/32".into()],
        not_before: Some(RuleTime::parse("t", "2026-01-01T00:00:00Z").unwrap()),
        not_after: Some(RuleTime::parse("t", "2026-12-31T23:59:59Z").unwrap()),
        principal_org_id: Some("o-a1b2c3d4e5".into()),
    }
}

fn link_policy() -> Value {
    let principal = Principal::parse("TrustedPrincipal", USER).unwrap();
    trust_policy(
        &principal,
        &["CurrentId-0001", "NextId-0002"],
        &conditions(),
    )
}

/// DevUser, passing the current ID, with MFA 10 minutes old, from an allowed address, in
/// the window, in the organization.
fn good() -> RequestContext {
    let mut ctx = RequestContext::new(USER, at("2026-06-01T00:00:00Z")).unwrap();
    ctx.external_id = Some(ExternalId::parse("ExternalId", "CurrentId-0001").unwrap());
    ctx.mfa_present = Some(true);
    ctx.mfa_age_seconds = Some(600);
    ctx.source_ip = Some("203.0.113.7".parse().unwrap());
    ctx.principal_org_id = Some("o-a1b2c3d4e5".into());
    ctx
}

/// The single condition that failed, or a panic naming the decision.
fn only_failure(d: &Decision) -> (String, String, FailReason) {
    let Decision::ImplicitDeny { near_misses } = d else {
        panic!("not an implicit deny: {d}")
    };
    let [miss] = near_misses.as_slice() else {
        panic!("{d}")
    };
    let [failed] = miss.failed.as_slice() else {
        panic!("{d}")
    };
    let c = &failed.condition;
    (c.operator.clone(), c.key.clone(), failed.reason)
}

#[test]
fn admits_the_trusted_principal_with_a_current_id() {
    let policy = link_policy();
    assert!(evaluate_trust(&policy, &good(), ASSUME_ROLE)
        .unwrap()
        .is_allowed());
    // During a rotation, both the previous and the next ID work.
    let mut next = good();
    next.external_id = Some(ExternalId::parse("ExternalId", "NextId-0002").unwrap());
    assert!(evaluate_trust(&policy, &next, ASSUME_ROLE)
        .unwrap()
        .is_allowed());
    // An IPv6 address in the allowed v6 range.
    let mut v6 = good();
    v6.source_ip = Some("2001:db8:1::9".parse().unwrap());
    assert!(evaluate_trust(&policy, &v6, ASSUME_ROLE)
        .unwrap()
        .is_allowed());
    // Only sts:AssumeRole is granted.
    let d = evaluate_trust(&policy, &good(), "sts:TagSession").unwrap();
    assert_eq!(
        d,
        Decision::ImplicitDeny {
            near_misses: vec![]
        }
    );
}

#[test]
fn each_way_of_failing_names_its_condition() {
    let policy = link_policy();
    type Change = fn(&mut RequestContext);
    // (what is wrong, change to the good request, operator, key, reason)
    let rows: Vec<(&str, Change, &str, &str, FailReason)> = vec![
        (
            "wrong external ID",
            |c| c.external_id = Some(ExternalId::parse("x", "Guess-9999").unwrap()),
            "StringEquals",
            "sts:ExternalId",
            FailReason::ValueMismatch,
        ),
        (
            "missing external ID",
            |c| c.external_id = None,
            "StringEquals",
            "sts:ExternalId",
            FailReason::KeyAbsent,
        ),
        (
            "no MFA key",
            |c| c.mfa_present = None,
            "Bool",
            "aws:MultiFactorAuthPresent",
            FailReason::KeyAbsent,
        ),
        (
            "MFA not used",
            |c| c.mfa_present = Some(false),
            "Bool",
            "aws:MultiFactorAuthPresent",
            FailReason::ValueMismatch,
        ),
        (
            "MFA too old",
            |c| c.mfa_age_seconds = Some(7200),
            "NumericLessThan",
            "aws:MultiFactorAuthAge",
            FailReason::ValueMismatch,
        ),
        (
            "MFA exactly at the limit",
            |c| c.mfa_age_seconds = Some(3600),
            "NumericLessThan",
            "aws:MultiFactorAuthAge",
            FailReason::ValueMismatch,
        ),
        (
            "wrong source IP",
            |c| c.source_ip = Some("198.51.100.1".parse().unwrap()),
            "IpAddress",
            "aws:SourceIp",
            FailReason::ValueMismatch,
        ),
        (
            "wrong v6 source IP",
            |c| c.source_ip = Some("2001:db9::1".parse().unwrap()),
            "IpAddress",
            "aws:SourceIp",
            FailReason::ValueMismatch,
        ),
        (
            "no source IP (via a service)",
            |c| c.source_ip = None,
            "IpAddress",
            "aws:SourceIp",
            FailReason::KeyAbsent,
        ),
        (
            "before the window",
            |c| c.current_time = at("2025-12-31T23:59:59Z"),
            "DateGreaterThan",
            "aws:CurrentTime",
            FailReason::ValueMismatch,
        ),
        (
            "at the window's start",
            |c| c.current_time = at("2026-01-01T00:00:00Z"),
            "DateGreaterThan",
            "aws:CurrentTime",
            FailReason::ValueMismatch,
        ),
        (
            "after the window",
            |c| c.current_time = at("2027-01-01T00:00:00Z"),
            "DateLessThan",
            "aws:CurrentTime",
            FailReason::ValueMismatch,
        ),
        (
            "wrong organization",
            |c| c.principal_org_id = Some("o-zzzzzzzzzz".into()),
            "StringEquals",
            "aws:PrincipalOrgID",
            FailReason::ValueMismatch,
        ),
        (
            "no organization",
            |c| c.principal_org_id = None,
            "StringEquals",
            "aws:PrincipalOrgID",
            FailReason::KeyAbsent,
        ),
    ];
    for (what, change, operator, key, reason) in &rows {
        let mut ctx = good();
        change(&mut ctx);
        let d = evaluate_trust(&policy, &ctx, ASSUME_ROLE).unwrap();
        let expected = (operator.to_string(), key.to_string(), *reason);
        assert_eq!(only_failure(&d), expected, "{what}: {d}");
        let shown = format!("{d} {d:?}");
        assert!(
            !shown.contains("CurrentId") && !shown.contains("NextId") && !shown.contains("Guess"),
            "{shown}"
        );
    }
    assert_eq!(rows.len(), 14);
    // Long-term keys carry neither MFA key: both conditions are named.
    let mut ctx = good();
    (ctx.mfa_present, ctx.mfa_age_seconds) = (None, None);
    let d = evaluate_trust(&policy, &ctx, ASSUME_ROLE).unwrap();
    let Decision::ImplicitDeny { near_misses } = &d else {
        panic!("{d}")
    };
    let mut keys: Vec<&str> = near_misses[0]
        .failed
        .iter()
        .map(|f| f.condition.key.as_str())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        ["aws:MultiFactorAuthAge", "aws:MultiFactorAuthPresent"]
    );
}

#[test]
fn other_principals_are_not_near_misses() {
    let policy = link_policy();
    let mut other = RequestContext::new(
        "arn:aws:iam::444455556666:user/Other",
        at("2026-06-01T00:00:00Z"),
    )
    .unwrap();
    other.external_id = good().external_id;
    assert_eq!(
        evaluate_trust(&policy, &other, ASSUME_ROLE).unwrap(),
        Decision::ImplicitDeny {
            near_misses: vec![]
        }
    );
}

#[test]
fn account_and_role_links_admit_sessions() {
    let now = Timestamp::from_second(super::NOW).unwrap();
    let mut ctx = RequestContext::for_session(SESSION, ROLE, now).unwrap();
    ctx.external_id = Some(ExternalId::parse("x", "CurrentId-0001").unwrap());
    for trusted in ["444455556666", ROLE] {
        let principal = Principal::parse("TrustedPrincipal", trusted).unwrap();
        let policy = trust_policy(&principal, &["CurrentId-0001"], &Conditions::default());
        assert!(
            evaluate_trust(&policy, &ctx, ASSUME_ROLE)
                .unwrap()
                .is_allowed(),
            "{trusted}"
        );
    }
    // A link to the user does not admit the role's sessions; a link without IDs asks for none.
    let user = Principal::parse("TrustedPrincipal", USER).unwrap();
    let policy = trust_policy(&user, &[], &Conditions::default());
    assert!(!evaluate_trust(&policy, &ctx, ASSUME_ROLE)
        .unwrap()
        .is_allowed());
    let role = Principal::parse("TrustedPrincipal", ROLE).unwrap();
    let policy = trust_policy(&role, &[], &Conditions::default());
    ctx.external_id = None;
    assert!(evaluate_trust(&policy, &ctx, ASSUME_ROLE)
        .unwrap()
        .is_allowed());
}
