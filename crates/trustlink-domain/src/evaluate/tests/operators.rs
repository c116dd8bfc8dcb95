//! Every condition operator, positive and negated, present and absent keys, IfExists, set
//! qualifiers and case-insensitive keys: one row each, run through `evaluate_trust`.

use serde_json::{json, Value};

use super::{bare, full, session, Row};
use crate::evaluate::{evaluate_trust, RequestContext};

fn v6() -> RequestContext {
    let mut ctx = full();
    ctx.source_ip = Some("2001:db8::5".parse().unwrap());
    ctx
}

/// Whether a statement allowing anyone `sts:AssumeRole` under `condition` admits `ctx`.
fn admits(condition: &Value, ctx: &RequestContext) -> bool {
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole", "Condition": condition}]});
    evaluate_trust(&policy, ctx, "sts:AssumeRole")
        .unwrap()
        .is_allowed()
}

fn run(rows: Vec<Row>) -> usize {
    for (condition, ctx, expected) in &rows {
        assert_eq!(admits(condition, &ctx()), *expected, "{condition}");
    }
    rows.len()
}

const ARN_KEY: &str = "aws:PrincipalArn";

#[test]
fn string_operators() {
    let ext = "sts:ExternalId";
    let rows: Vec<Row> = vec![
        (json!({"StringEquals": {ext: "abc-123"}}), full, true),
        (json!({"StringEquals": {ext: "wrong"}}), full, false),
        (
            json!({"StringEquals": {ext: ["wrong", "abc-123"]}}),
            full,
            true,
        ),
        (json!({"StringEquals": {ext: "ABC-123"}}), full, false),
        (json!({"StringEquals": {ext: "abc-123"}}), bare, false),
        (
            json!({"StringEqualsIfExists": {ext: "abc-123"}}),
            full,
            true,
        ),
        (json!({"StringEqualsIfExists": {ext: "wrong"}}), full, false),
        (
            json!({"StringEqualsIfExists": {ext: "abc-123"}}),
            bare,
            true,
        ),
        (json!({"StringNotEquals": {ext: "wrong"}}), full, true),
        (json!({"StringNotEquals": {ext: "abc-123"}}), full, false),
        (
            json!({"StringNotEquals": {ext: ["wrong", "abc-123"]}}),
            full,
            false,
        ),
        (json!({"StringNotEquals": {ext: "abc-123"}}), bare, true),
        (
            json!({"StringNotEqualsIfExists": {ext: "abc-123"}}),
            full,
            false,
        ),
        (
            json!({"StringNotEqualsIfExists": {ext: "abc-123"}}),
            bare,
            true,
        ),
        (
            json!({"StringEqualsIgnoreCase": {ext: "ABC-123"}}),
            full,
            true,
        ),
        (
            json!({"StringEqualsIgnoreCase": {ext: "abd-123"}}),
            full,
            false,
        ),
        (
            json!({"StringEqualsIgnoreCase": {ext: "abc-123"}}),
            bare,
            false,
        ),
        (
            json!({"StringEqualsIgnoreCaseIfExists": {ext: "x"}}),
            bare,
            true,
        ),
        (
            json!({"StringNotEqualsIgnoreCase": {ext: "ABC-123"}}),
            full,
            false,
        ),
        (
            json!({"StringNotEqualsIgnoreCase": {ext: "xyz"}}),
            full,
            true,
        ),
        (
            json!({"StringNotEqualsIgnoreCase": {ext: "xyz"}}),
            bare,
            true,
        ),
        (
            json!({"StringNotEqualsIgnoreCaseIfExists": {ext: "ABC-123"}}),
            full,
            false,
        ),
        (
            json!({"StringLike": {ARN_KEY: "arn:aws:iam::444455556666:user/*"}}),
            full,
            true,
        ),
        (
            json!({"StringLike": {ARN_KEY: "arn:aws:iam::*:user/Dev????"}}),
            full,
            true,
        ),
        (
            json!({"StringLike": {ARN_KEY: "arn:aws:iam::*:user/Dev???"}}),
            full,
            false,
        ),
        (
            json!({"StringLike": {ARN_KEY: ["*:role/*", "*:user/*"]}}),
            full,
            true,
        ),
        (json!({"StringLike": {ARN_KEY: "*:role/*"}}), full, false),
        (json!({"StringLike": {ARN_KEY: "*:USER/*"}}), full, false),
        (json!({"StringLike": {ext: "abc-*"}}), bare, false),
        (json!({"StringLikeIfExists": {ext: "abc-*"}}), bare, true),
        (json!({"StringLikeIfExists": {ext: "xyz*"}}), full, false),
        (json!({"StringNotLike": {ARN_KEY: "*:role/*"}}), full, true),
        (
            json!({"StringNotLike": {ARN_KEY: ["*:role/*", "*:user/*"]}}),
            full,
            false,
        ),
        (json!({"StringNotLike": {ext: "abc-*"}}), bare, true),
        (
            json!({"StringNotLikeIfExists": {ext: "abc-*"}}),
            full,
            false,
        ),
        (json!({"StringNotLikeIfExists": {ext: "abc-*"}}), bare, true),
        (
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}),
            full,
            true,
        ),
        (
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-other"}}),
            full,
            false,
        ),
        (
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}),
            bare,
            false,
        ),
        (
            json!({"StringEquals": {"aws:PrincipalAccount": "444455556666"}}),
            bare,
            true,
        ),
        (
            json!({"StringEquals": {"aws:PrincipalAccount": 444455556666u64}}),
            bare,
            true,
        ),
        (
            json!({"StringEquals": {"aws:PrincipalTag/Team": "Blue"}}),
            full,
            true,
        ),
        (
            json!({"StringEquals": {"aws:PrincipalTag/Team": "blue"}}),
            full,
            false,
        ),
        (
            json!({"StringEquals": {"aws:PrincipalTag/Team": "Blue"}}),
            bare,
            false,
        ),
    ];
    assert_eq!(run(rows), 44);
}

#[test]
fn bool_and_null() {
    let mfa = "aws:MultiFactorAuthPresent";
    let rows: Vec<Row> = vec![
        (json!({"Bool": {mfa: "true"}}), full, true),
        (json!({"Bool": {mfa: true}}), full, true),
        (json!({"Bool": {mfa: "TRUE"}}), full, true),
        (json!({"Bool": {mfa: "false"}}), full, false),
        // AWS: Bool on an absent key does not match, whichever value it asks for.
        (json!({"Bool": {mfa: "true"}}), bare, false),
        (json!({"Bool": {mfa: "false"}}), bare, false),
        (json!({"BoolIfExists": {mfa: "true"}}), bare, true),
        (json!({"BoolIfExists": {mfa: "false"}}), bare, true),
        (json!({"BoolIfExists": {mfa: "false"}}), full, false),
        (json!({"BoolIfExists": {mfa: "true"}}), full, true),
        (json!({"Null": {"sts:ExternalId": "true"}}), bare, true),
        (json!({"Null": {"sts:ExternalId": "true"}}), full, false),
        (json!({"Null": {"sts:ExternalId": "false"}}), full, true),
        (json!({"Null": {"sts:ExternalId": false}}), bare, false),
        (json!({"Null": {"aws:TokenIssueTime": "true"}}), bare, true),
        (json!({"Null": {"aws:CurrentTime": "true"}}), bare, false),
        (
            json!({"Null": {"sts:ExternalId": ["true", "false"]}}),
            bare,
            true,
        ),
    ];
    assert_eq!(run(rows), 17);
}

#[test]
fn numeric_operators() {
    let age = "aws:MultiFactorAuthAge";
    let rows: Vec<Row> = vec![
        (json!({"NumericLessThan": {age: "3600"}}), full, true),
        (json!({"NumericLessThan": {age: 3600}}), full, true),
        (json!({"NumericLessThan": {age: "600"}}), full, false),
        (json!({"NumericLessThanEquals": {age: "600"}}), full, true),
        (json!({"NumericLessThanEquals": {age: "599"}}), full, false),
        (json!({"NumericGreaterThan": {age: "599"}}), full, true),
        (json!({"NumericGreaterThan": {age: "600"}}), full, false),
        (
            json!({"NumericGreaterThanEquals": {age: "600"}}),
            full,
            true,
        ),
        (
            json!({"NumericGreaterThanEquals": {age: "600.5"}}),
            full,
            false,
        ),
        (json!({"NumericEquals": {age: "600"}}), full, true),
        (json!({"NumericEquals": {age: ["1", "600.0"]}}), full, true),
        (json!({"NumericEquals": {age: "601"}}), full, false),
        (json!({"NumericNotEquals": {age: "601"}}), full, true),
        (json!({"NumericNotEquals": {age: "600"}}), full, false),
        (
            json!({"NumericNotEquals": {age: ["601", "600"]}}),
            full,
            false,
        ),
        (json!({"NumericNotEquals": {age: "600"}}), bare, true),
        (json!({"NumericLessThan": {age: "3600"}}), bare, false),
        (json!({"NumericGreaterThan": {age: "0"}}), bare, false),
        (
            json!({"NumericLessThanIfExists": {age: "3600"}}),
            bare,
            true,
        ),
        (json!({"NumericLessThanIfExists": {age: "60"}}), full, false),
        (
            json!({"NumericNotEqualsIfExists": {age: "600"}}),
            full,
            false,
        ),
        (
            json!({"NumericEquals": {"aws:EpochTime": super::NOW}}),
            bare,
            true,
        ),
        (
            json!({"NumericLessThan": {"aws:EpochTime": "1780271999"}}),
            bare,
            false,
        ),
        // A context value that is not a number matches no Numeric operator.
        (
            json!({"NumericEquals": {"aws:PrincipalOrgID": "1"}}),
            full,
            false,
        ),
    ];
    assert_eq!(run(rows), 24);
}

#[test]
fn date_operators() {
    let now = "aws:CurrentTime";
    let issued = "aws:TokenIssueTime";
    let rows: Vec<Row> = vec![
        (
            json!({"DateGreaterThan": {now: "2026-01-01T00:00:00Z"}}),
            bare,
            true,
        ),
        (
            json!({"DateGreaterThan": {now: "2026-06-01T00:00:00Z"}}),
            bare,
            false,
        ),
        (
            json!({"DateGreaterThanEquals": {now: "2026-06-01"}}),
            bare,
            true,
        ),
        (
            json!({"DateGreaterThanEquals": {now: "2026-06-01T00:00:01Z"}}),
            bare,
            false,
        ),
        (
            json!({"DateLessThan": {now: "2027-01-01T00:00:00Z"}}),
            bare,
            true,
        ),
        (
            json!({"DateLessThan": {now: "2026-06-01T00:00:00Z"}}),
            bare,
            false,
        ),
        (
            json!({"DateLessThanEquals": {now: "2026-06-01T00:00:00Z"}}),
            bare,
            true,
        ),
        (
            json!({"DateLessThanEquals": {now: "2026-05-31T23:59:59Z"}}),
            bare,
            false,
        ),
        (
            json!({"DateEquals": {now: "2026-06-01T00:00:00Z"}}),
            bare,
            true,
        ),
        (
            json!({"DateEquals": {now: "2026-06-01T02:00:00+02:00"}}),
            bare,
            true,
        ),
        (json!({"DateEquals": {now: "1780272000"}}), bare, true),
        (json!({"DateEquals": {now: 1_780_272_000}}), bare, true),
        (json!({"DateEquals": {now: "2026-06-02"}}), bare, false),
        (json!({"DateNotEquals": {now: "2026-01-01"}}), bare, true),
        (
            json!({"DateNotEquals": {now: "2026-06-01T00:00:00Z"}}),
            bare,
            false,
        ),
        (
            json!({"DateLessThan": {"aws:EpochTime": "2026-06-01T00:00:01Z"}}),
            bare,
            true,
        ),
        (
            json!({"DateLessThan": {"aws:EpochTime": "1780272000"}}),
            bare,
            false,
        ),
        (
            json!({"DateGreaterThan": {issued: "2026-05-31T00:00:00Z"}}),
            full,
            true,
        ),
        (
            json!({"DateGreaterThan": {issued: "2026-06-01T00:00:00Z"}}),
            full,
            false,
        ),
        (
            json!({"DateGreaterThan": {issued: "2026-05-31T00:00:00Z"}}),
            bare,
            false,
        ),
        (
            json!({"DateGreaterThanIfExists": {issued: "2026-05-31T00:00:00Z"}}),
            bare,
            true,
        ),
        (
            json!({"DateGreaterThanIfExists": {issued: "2026-06-01T00:00:00Z"}}),
            full,
            false,
        ),
        (
            json!({"DateNotEquals": {issued: "2026-05-31T00:00:00Z"}}),
            bare,
            true,
        ),
        (
            json!({"DateNotEqualsIfExists": {issued: "2026-05-31T23:00:00Z"}}),
            full,
            false,
        ),
    ];
    assert_eq!(run(rows), 24);
}

#[test]
fn ip_operators() {
    let ip = "aws:SourceIp";
    let rows: Vec<Row> = vec![
        (json!({"IpAddress": {ip: "203.0.113.0/24"}}), full, true),
        (json!({"IpAddress": {ip: "203.0.113.7"}}), full, true),
        (json!({"IpAddress": {ip: "203.0.113.8/32"}}), full, false),
        (json!({"IpAddress": {ip: "198.51.100.0/24"}}), full, false),
        (
            json!({"IpAddress": {ip: ["198.51.100.0/24", "203.0.113.0/24"]}}),
            full,
            true,
        ),
        (json!({"IpAddress": {ip: "2001:db8::/32"}}), full, false),
        (json!({"IpAddress": {ip: "2001:db8::/32"}}), v6, true),
        (json!({"IpAddress": {ip: "2001:db8::5"}}), v6, true),
        (json!({"IpAddress": {ip: "2001:db9::/32"}}), v6, false),
        (json!({"IpAddress": {ip: "203.0.113.0/24"}}), v6, false),
        (json!({"IpAddress": {ip: "0.0.0.0/0"}}), full, true),
        (json!({"IpAddress": {ip: "::/0"}}), v6, true),
        (json!({"IpAddress": {ip: "203.0.113.0/24"}}), bare, false),
        (
            json!({"IpAddressIfExists": {ip: "203.0.113.0/24"}}),
            bare,
            true,
        ),
        (
            json!({"IpAddressIfExists": {ip: "198.51.100.0/24"}}),
            full,
            false,
        ),
        (json!({"NotIpAddress": {ip: "198.51.100.0/24"}}), full, true),
        (json!({"NotIpAddress": {ip: "203.0.113.0/24"}}), full, false),
        (
            json!({"NotIpAddress": {ip: ["198.51.100.0/24", "203.0.113.0/24"]}}),
            full,
            false,
        ),
        (json!({"NotIpAddress": {ip: "2001:db8::/32"}}), v6, false),
        (json!({"NotIpAddress": {ip: "2001:db8::/32"}}), full, true),
        (json!({"NotIpAddress": {ip: "203.0.113.0/24"}}), bare, true),
        (
            json!({"NotIpAddressIfExists": {ip: "203.0.113.0/24"}}),
            full,
            false,
        ),
        (
            json!({"NotIpAddressIfExists": {ip: "203.0.113.0/24"}}),
            bare,
            true,
        ),
    ];
    assert_eq!(run(rows), 23);
}

#[test]
fn arn_operators() {
    let absent = "aws:SourceArn";
    let rows: Vec<Row> = vec![
        (
            json!({"ArnEquals": {ARN_KEY: "arn:aws:iam::444455556666:user/DevUser"}}),
            full,
            true,
        ),
        (
            json!({"ArnEquals": {ARN_KEY: "arn:aws:iam::444455556666:user/Other"}}),
            full,
            false,
        ),
        // IAM documents ArnEquals and ArnLike as the same wildcard match.
        (
            json!({"ArnEquals": {ARN_KEY: "arn:aws:iam::444455556666:user/*"}}),
            full,
            true,
        ),
        (
            json!({"ArnLike": {ARN_KEY: "arn:aws:iam::*:user/Dev*"}}),
            full,
            true,
        ),
        (
            json!({"ArnLike": {ARN_KEY: "arn:aws:iam::444455556666:role/*"}}),
            full,
            false,
        ),
        (
            json!({"ArnLike": {ARN_KEY: "arn:aws:iam::444455556666:user/devuser"}}),
            full,
            false,
        ),
        // Each colon-separated part matches on its own: `*` does not run across parts.
        (
            json!({"ArnLike": {ARN_KEY: "arn:aws:*:user/DevUser"}}),
            full,
            false,
        ),
        (json!({"ArnLike": {ARN_KEY: "arn:*:*:*:*:*"}}), full, true),
        (
            json!({"ArnLike": {ARN_KEY: "arn:aws:iam::444455556666:role/ci/*"}}),
            session,
            true,
        ),
        (
            json!({"ArnLike": {ARN_KEY: "arn:aws:sts::444455556666:assumed-role/*"}}),
            session,
            false,
        ),
        (json!({"ArnLike": {absent: "arn:aws:s3:::*"}}), full, false),
        (
            json!({"ArnLikeIfExists": {absent: "arn:aws:s3:::*"}}),
            full,
            true,
        ),
        (
            json!({"ArnEqualsIfExists": {ARN_KEY: "arn:aws:iam::444455556666:user/Other"}}),
            full,
            false,
        ),
        (
            json!({"ArnNotEquals": {ARN_KEY: "arn:aws:iam::444455556666:user/Other"}}),
            full,
            true,
        ),
        (
            json!({"ArnNotEquals": {ARN_KEY: "arn:aws:iam::444455556666:user/DevUser"}}),
            full,
            false,
        ),
        (
            json!({"ArnNotEquals": {absent: "arn:aws:s3:::b"}}),
            full,
            true,
        ),
        (
            json!({"ArnNotLike": {ARN_KEY: "arn:aws:iam::*:user/*"}}),
            full,
            false,
        ),
        (
            json!({"ArnNotLike": {ARN_KEY: "arn:aws:iam::*:role/*"}}),
            full,
            true,
        ),
        (
            json!({"ArnNotLike": {absent: "arn:aws:s3:::*"}}),
            full,
            true,
        ),
        (
            json!({"ArnNotLikeIfExists": {ARN_KEY: "arn:aws:iam::*:user/*"}}),
            full,
            false,
        ),
    ];
    assert_eq!(run(rows), 20);
}

#[test]
fn set_qualifiers() {
    let keys = "aws:TagKeys";
    let empty = "aws:EmptyList";
    let rows: Vec<Row> = vec![
        (
            json!({"ForAllValues:StringEquals": {keys: ["team", "cost", "owner"]}}),
            full,
            true,
        ),
        (
            json!({"ForAllValues:StringEquals": {keys: "team"}}),
            full,
            false,
        ),
        (
            json!({"ForAllValues:StringEquals": {keys: "team"}}),
            bare,
            true,
        ),
        (
            json!({"ForAllValues:StringEquals": {empty: "team"}}),
            full,
            true,
        ),
        (
            json!({"ForAllValues:StringEqualsIfExists": {keys: "team"}}),
            bare,
            true,
        ),
        (
            json!({"ForAllValues:StringLike": {keys: ["t*", "c*"]}}),
            full,
            true,
        ),
        (
            json!({"ForAllValues:StringNotLike": {keys: "x*"}}),
            full,
            true,
        ),
        (
            json!({"ForAllValues:StringNotLike": {keys: "t*"}}),
            full,
            false,
        ),
        (
            json!({"ForAllValues:StringNotEquals": {keys: "team"}}),
            full,
            false,
        ),
        (
            json!({"ForAnyValue:StringEquals": {keys: "team"}}),
            full,
            true,
        ),
        (
            json!({"ForAnyValue:StringEquals": {keys: ["owner", "cost"]}}),
            full,
            true,
        ),
        (
            json!({"ForAnyValue:StringEquals": {keys: "owner"}}),
            full,
            false,
        ),
        (
            json!({"ForAnyValue:StringEquals": {keys: "team"}}),
            bare,
            false,
        ),
        (
            json!({"ForAnyValue:StringEquals": {empty: "team"}}),
            full,
            false,
        ),
        (
            json!({"ForAnyValue:StringEqualsIfExists": {keys: "team"}}),
            bare,
            false,
        ),
        (
            json!({"ForAnyValue:StringNotEquals": {keys: "team"}}),
            full,
            true,
        ),
        (
            json!({"ForAnyValue:StringNotEquals": {keys: ["team", "cost"]}}),
            full,
            false,
        ),
        (json!({"ForAnyValue:StringLike": {keys: "co*"}}), full, true),
        // A single-valued key is a set of one.
        (
            json!({"ForAnyValue:StringEquals": {"sts:ExternalId": "abc-123"}}),
            full,
            true,
        ),
        (
            json!({"ForAllValues:StringEquals": {"sts:ExternalId": "wrong"}}),
            full,
            false,
        ),
        // Without a qualifier, a multivalued key matches when some value does.
        (json!({"StringEquals": {keys: "cost"}}), full, true),
        (json!({"StringNotEquals": {keys: "cost"}}), full, false),
    ];
    assert_eq!(run(rows), 22);
}

#[test]
fn keys_are_case_insensitive_and_blocks_combine() {
    let rows: Vec<Row> = vec![
        (
            json!({"StringEquals": {"STS:EXTERNALID": "abc-123"}}),
            full,
            true,
        ),
        (
            json!({"Bool": {"AWS:multifactorauthpresent": "true"}}),
            full,
            true,
        ),
        (
            json!({"StringEquals": {"aws:principaltag/team": "Blue"}}),
            full,
            true,
        ),
        (
            json!({"IpAddress": {"AWS:SOURCEIP": "203.0.113.0/24"}}),
            full,
            true,
        ),
        (
            json!({"DateGreaterThan": {"aws:currenttime": "2026-01-01"}}),
            full,
            true,
        ),
        // Operators AND, keys under one operator AND, values of one key OR.
        (
            json!({"StringEquals": {"sts:ExternalId": "abc-123"}, "Bool": {"aws:MultiFactorAuthPresent": "true"}}),
            full,
            true,
        ),
        (
            json!({"StringEquals": {"sts:ExternalId": "abc-123"}, "Bool": {"aws:MultiFactorAuthPresent": "false"}}),
            full,
            false,
        ),
        (
            json!({"StringEquals": {"sts:ExternalId": "abc-123", "aws:PrincipalOrgID": "o-a1b2c3d4e5"}}),
            full,
            true,
        ),
        (
            json!({"StringEquals": {"sts:ExternalId": "abc-123", "aws:PrincipalOrgID": "o-other"}}),
            full,
            false,
        ),
        (
            json!({"StringEquals": {"sts:ExternalId": ["zzz", "abc-123"], "aws:PrincipalOrgID": ["o-other", "o-a1b2c3d4e5"]}}),
            full,
            true,
        ),
        (json!({}), bare, true),
    ];
    assert_eq!(run(rows), 11);
}
