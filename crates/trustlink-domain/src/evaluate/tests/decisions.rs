//! Evaluation logic: explicit deny, allow, implicit deny; Principal forms and NotPrincipal;
//! Action, NotAction, Resource and NotResource; what a decision tells, and what it never does.

use serde_json::{json, Value};

use super::{bare, full, session, Row, ROLE, SESSION, USER};
use crate::evaluate::{
    evaluate_identity, evaluate_resource, evaluate_trust, Decision, FailReason, RequestContext,
};

fn trust(statements: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn allow_assume(principal: Value) -> Value {
    json!({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})
}

fn decide(policy: &Value, ctx: &RequestContext, action: &str) -> Decision {
    evaluate_trust(policy, ctx, action).unwrap()
}

#[test]
fn explicit_deny_beats_allow_in_either_order() {
    let allow = allow_assume(json!({"AWS": USER}));
    let deny = json!({"Sid": "NoOne", "Effect": "Deny", "Principal": "*", "Action": "sts:*"});
    for statements in [json!([allow, deny]), json!([deny, allow])] {
        let d = decide(&trust(statements), &full(), "sts:AssumeRole");
        let Decision::ExplicitDeny { statement, .. } = &d else {
            panic!("{d}")
        };
        assert_eq!(statement.sid.as_deref(), Some("NoOne"));
        assert!(
            d.to_string().starts_with("explicitly denied by statement"),
            "{d}"
        );
    }
    // A Deny whose condition fails does not apply; the Allow decides.
    let deny_without_mfa = json!({"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole",
        "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}});
    let policy = trust(json!([allow, deny_without_mfa]));
    assert!(decide(&policy, &full(), "sts:AssumeRole").is_allowed());
    let mut no_mfa = full();
    no_mfa.mfa_present = None;
    assert!(matches!(
        decide(&policy, &no_mfa, "sts:AssumeRole"),
        Decision::ExplicitDeny { .. }
    ));
    // Nothing applies: implicit deny, with nothing near.
    let d = decide(&trust(json!([allow])), &full(), "sts:TagSession");
    assert_eq!(
        d,
        Decision::ImplicitDeny {
            near_misses: vec![]
        }
    );
    assert_eq!(
        d.to_string(),
        "implicitly denied: no Allow statement applies to this principal and action"
    );
}

#[test]
fn principal_forms_in_a_trust_policy() {
    // (Principal element, request, allowed)
    let rows: Vec<Row> = vec![
        (json!("*"), full, true),
        (json!({"AWS": "*"}), session, true),
        (json!({"AWS": "444455556666"}), full, true),
        (json!({"AWS": "444455556666"}), session, true),
        (json!({"AWS": "arn:aws:iam::444455556666:root"}), full, true),
        (
            json!({"AWS": "arn:aws:iam::111122223333:root"}),
            full,
            false,
        ),
        (json!({"AWS": USER}), full, true),
        (json!({"AWS": [ROLE, USER]}), full, true),
        (
            json!({"AWS": "arn:aws:iam::444455556666:user/Other"}),
            full,
            false,
        ),
        (json!({"AWS": ROLE}), session, true),
        (json!({"AWS": ROLE}), full, false),
        (json!({"AWS": SESSION}), session, true),
        (
            json!({"AWS": "arn:aws:sts::444455556666:assumed-role/Deployer/other"}),
            session,
            false,
        ),
        (json!({"Service": "lambda.amazonaws.com"}), full, false),
    ];
    for (principal, ctx, expected) in rows {
        let d = decide(
            &trust(json!([allow_assume(principal.clone())])),
            &ctx(),
            "sts:AssumeRole",
        );
        assert_eq!(d.is_allowed(), expected, "{principal}: {d}");
    }
}

#[test]
fn not_principal_in_a_resource_policy() {
    let bucket = "arn:aws:s3:::reports/q1.csv";
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Read", "Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"},
        {"Sid": "OnlyDevUser", "Effect": "Deny",
         "NotPrincipal": {"AWS": [USER, "arn:aws:iam::444455556666:root"]},
         "Action": "s3:*", "Resource": "arn:aws:s3:::reports/*"}]});
    let d = evaluate_resource(&policy, &full(), "s3:GetObject", bucket).unwrap();
    assert!(d.is_allowed(), "{d}");
    // The session is not named (nor its role): denied, as AWS would.
    let d = evaluate_resource(&policy, &session(), "s3:GetObject", bucket).unwrap();
    assert!(
        matches!(&d, Decision::ExplicitDeny { statement, .. } if statement.index == 1),
        "{d}"
    );
    // Naming the user without its account is not enough: AWS checks the account first.
    let user_only = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "NotPrincipal": {"AWS": USER}, "Action": "s3:*", "Resource": "*"}]});
    let d = evaluate_resource(&user_only, &full(), "s3:GetObject", bucket).unwrap();
    assert!(matches!(d, Decision::ExplicitDeny { .. }));
}

#[test]
fn actions_and_not_actions() {
    // (Action element, requested action, allowed)
    let rows = [
        (json!({"Action": "sts:AssumeRole"}), "sts:AssumeRole", true),
        (json!({"Action": "STS:assumerole"}), "sts:AssumeRole", true),
        (json!({"Action": "sts:AssumeRole"}), "STS:ASSUMEROLE", true),
        (json!({"Action": "sts:Assume*"}), "sts:AssumeRole", true),
        (json!({"Action": "sts:Assume*"}), "sts:TagSession", false),
        (json!({"Action": "sts:*"}), "sts:TagSession", true),
        (json!({"Action": "*"}), "sts:SetSourceIdentity", true),
        (json!({"Action": "sts:?agSession"}), "sts:TagSession", true),
        (
            json!({"Action": ["sts:TagSession", "sts:AssumeRole"]}),
            "sts:AssumeRole",
            true,
        ),
        (json!({"Action": "iam:*"}), "sts:AssumeRole", false),
        (json!({"NotAction": "iam:*"}), "sts:AssumeRole", true),
        (json!({"NotAction": "sts:*"}), "sts:AssumeRole", false),
        (
            json!({"NotAction": ["sts:TagSession", "sts:AssumeRole"]}),
            "sts:AssumeRole",
            false,
        ),
        (
            json!({"NotAction": "STS:TAGSESSION"}),
            "sts:TagSession",
            false,
        ),
    ];
    for (element, action, expected) in rows {
        let mut statement = json!({"Effect": "Allow", "Principal": "*"});
        for (k, v) in element.as_object().unwrap() {
            statement[k] = v.clone();
        }
        let d = decide(&trust(json!([statement])), &bare(), action);
        assert_eq!(d.is_allowed(), expected, "{element} {action}");
    }
}

#[test]
fn identity_policies_resources_and_several_documents() {
    let role = "arn:aws:iam::111122223333:role/trustlink/DevRole";
    let grant = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::111122223333:role/trustlink/*"}]});
    // (resource element, resource, allowed)
    let rows = [
        (json!({"Resource": "*"}), role, true),
        (json!({"Resource": role}), role, true),
        (
            json!({"Resource": "arn:aws:iam::111122223333:role/trustlink/*"}),
            role,
            true,
        ),
        (json!({"Resource": "arn:aws:iam::*:role/*"}), role, true),
        (
            json!({"Resource": "arn:aws:iam::111122223333:role/trustlink/devrole"}),
            role,
            false,
        ),
        (
            json!({"Resource": "arn:aws:iam::111122223333:role/other/*"}),
            role,
            false,
        ),
        (
            json!({"Resource": ["arn:aws:iam::111122223333:role/other/*", role]}),
            role,
            true,
        ),
        (
            json!({"NotResource": "arn:aws:iam::111122223333:role/other/*"}),
            role,
            true,
        ),
        (
            json!({"NotResource": "arn:aws:iam::111122223333:role/trustlink/*"}),
            role,
            false,
        ),
    ];
    for (element, resource, expected) in rows {
        let mut statement = json!({"Effect": "Allow", "Action": "sts:AssumeRole"});
        for (k, v) in element.as_object().unwrap() {
            statement[k] = v.clone();
        }
        let policy = json!({"Statement": [statement]});
        let d = evaluate_identity(&[&policy], &full(), "sts:AssumeRole", resource).unwrap();
        assert_eq!(d.is_allowed(), expected, "{element} {resource}");
    }
    // A deny in a second document beats the allow of the first, and is named by document.
    let guard = json!({"Version": "2012-10-17", "Statement": [{"Sid": "NoTrustlinkRoles",
        "Effect": "Deny", "Action": "sts:*", "Resource": "arn:aws:iam::*:role/trustlink/*"}]});
    let d = evaluate_identity(&[&grant, &guard], &full(), "sts:AssumeRole", role).unwrap();
    let Decision::ExplicitDeny { statement, .. } = &d else {
        panic!("{d}")
    };
    assert_eq!((statement.policy, statement.index), (1, 0));
    assert_eq!(
        d.to_string(),
        "explicitly denied by policy 1 statement 0 (Sid \"NoTrustlinkRoles\")"
    );
    assert!(
        evaluate_identity(&[], &full(), "sts:AssumeRole", role).unwrap()
            == Decision::ImplicitDeny {
                near_misses: vec![]
            }
    );
    // A malformed second document is an error naming it.
    let e = evaluate_identity(
        &[&grant, &json!({"Statement": 1})],
        &full(),
        "sts:AssumeRole",
        role,
    )
    .unwrap_err();
    assert_eq!(e.policy, 1);
}

#[test]
fn an_implicit_deny_names_the_failed_conditions_and_never_their_values() {
    let policy = trust(
        json!([{"Sid": "Link", "Effect": "Allow", "Principal": {"AWS": USER},
        "Action": "sts:AssumeRole", "Condition": {
            "StringEquals": {"sts:ExternalId": "TheRealSecret-42"},
            "Bool": {"aws:MultiFactorAuthPresent": "true"}}}]),
    );
    let mut ctx = full();
    ctx.mfa_present = Some(false);
    let d = decide(&policy, &ctx, "sts:AssumeRole");
    let Decision::ImplicitDeny { near_misses } = &d else {
        panic!("{d}")
    };
    assert_eq!(near_misses.len(), 1);
    let mut failed: Vec<(String, String, FailReason)> = near_misses[0]
        .failed
        .iter()
        .map(|f| {
            (
                f.condition.operator.clone(),
                f.condition.key.clone(),
                f.reason,
            )
        })
        .collect();
    failed.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        failed,
        [
            (
                "Bool".to_string(),
                "aws:MultiFactorAuthPresent".to_string(),
                FailReason::ValueMismatch
            ),
            (
                "StringEquals".to_string(),
                "sts:ExternalId".to_string(),
                FailReason::ValueMismatch
            ),
        ]
    );
    assert_eq!(
        near_misses[0].first_failure(),
        near_misses[0].failed.first()
    );
    let shown = format!("{d} {d:?}");
    assert!(
        shown.contains(
            "condition StringEquals sts:ExternalId of statement 0 (Sid \"Link\") did not match"
        ),
        "{shown}"
    );
    assert!(
        !shown.contains("TheRealSecret") && !shown.contains("abc-123"),
        "{shown}"
    );
    // Allowed decisions list the conditions that held, by operator and key only.
    ctx.mfa_present = Some(true);
    ctx.external_id = Some(crate::secret::ExternalId::parse("x", "TheRealSecret-42").unwrap());
    let d = decide(&policy, &ctx, "sts:AssumeRole");
    let Decision::Allowed { conditions, .. } = &d else {
        panic!("{d}")
    };
    assert_eq!(conditions.len(), 2);
    assert!(!format!("{d} {d:?}").contains("TheRealSecret"));
    assert_eq!(d.to_string(), "allowed by statement 0 (Sid \"Link\")");
}

#[test]
fn malformed_documents_are_errors_not_panics() {
    for bad in [
        json!(null),
        json!("policy"),
        json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*"}]}),
        json!({"Statement": [{"Effect": "Deny", "NotPrincipal": {"AWS": USER}, "Action": "sts:AssumeRole"}]}),
        json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::*:root"}, "Action": "sts:AssumeRole"}]}),
        json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": [null]}}}]}),
    ] {
        assert!(
            evaluate_trust(&bad, &full(), "sts:AssumeRole").is_err(),
            "{bad}"
        );
    }
}
