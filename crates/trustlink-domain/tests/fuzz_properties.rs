//! Fuzzing the property parser (issue 9): valid `Custom::TrustLink` properties with one
//! element replaced by a generated JSON value (long unicode, huge and odd numbers, nested
//! objects and lists, nulls, booleans, near-miss policy values). Whatever comes in, the parser
//! must not panic, and every error must name a property the request has.
//!
//! Deterministic: a fixed seed and ChaCha, so a failure here fails the same way everywhere;
//! no failure persistence (the case that failed is printed, shrunk, by proptest).

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};
use trustlink_domain::error::excerpt;
use trustlink_domain::LinkSpec;

const SECRET_EXTERNAL_ID: &str = "UniqueExternalId12345";

/// The classic link spec.rs's tests parse, with every optional element filled in, so each
/// has a place to be fuzzed.
fn base() -> Value {
    let mut v: Value =
        serde_json::from_str(include_str!("fixtures/classic_link.json")).expect("the fixture");
    assert_eq!(v["ExternalId"], SECRET_EXTERNAL_ID);
    v["Role"]["InlinePolicies"]["S3DevAccess"]["Statement"] = json!([{
        "Sid": "Dev", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::dev-*/*",
        "Condition": {"StringEquals": {"aws:PrincipalTag/team": "data"}}}]);
    v["Role"]["PermissionsBoundary"] = json!("arn:aws:iam::aws:policy/PowerUserAccess");
    v["Conditions"] = json!({"RequireMfa": "true", "MfaMaxAgeSeconds": "3600", "SourceIpCidrs": ["203.0.113.0/24"],
        "NotBefore": "2026-01-01T00:00:00Z", "NotAfter": "2026-12-31T23:59:59Z", "PrincipalOrgId": "o-abc123"});
    v
}

/// Every element of [`base`] that can be replaced, as JSON pointers; `""` is the whole
/// request, and a pointer to a key the base lacks adds it.
const TARGETS: &[&str] = &[
    "",
    "/LinkName",
    "/TrustingAccount",
    "/Role",
    "/Role/Name",
    "/Role/Path",
    "/Role/Description",
    "/Role/MaxSessionDuration",
    "/Role/ManagedPolicyArns",
    "/Role/ManagedPolicyArns/0",
    "/Role/InlinePolicies",
    "/Role/InlinePolicies/S3DevAccess",
    "/Role/InlinePolicies/S3DevAccess/Version",
    "/Role/InlinePolicies/S3DevAccess/Id",
    "/Role/InlinePolicies/S3DevAccess/Statement",
    "/Role/InlinePolicies/S3DevAccess/Statement/0",
    "/Role/InlinePolicies/S3DevAccess/Statement/0/Sid",
    "/Role/InlinePolicies/S3DevAccess/Statement/0/Effect",
    "/Role/InlinePolicies/S3DevAccess/Statement/0/Action",
    "/Role/InlinePolicies/S3DevAccess/Statement/0/Action/0",
    "/Role/InlinePolicies/S3DevAccess/Statement/0/NotAction",
    "/Role/InlinePolicies/S3DevAccess/Statement/0/Resource",
    "/Role/InlinePolicies/S3DevAccess/Statement/0/Principal",
    "/Role/InlinePolicies/S3DevAccess/Statement/0/Condition",
    "/Role/InlinePolicies/S3DevAccess/Statement/0/Condition/StringEquals",
    "/Role/InlinePolicies/S3DevAccess/Statement/0/Condition/StringEquals/aws:PrincipalTag~1team",
    // trustlink's own inline policy name (a Revoke's), which a spec may not declare.
    "/Role/InlinePolicies/TrustLinkRevokeSessions",
    "/Role/PermissionsBoundary",
    "/Role/Tags",
    "/Role/Tags/0",
    "/Role/Tags/0/Key",
    "/Role/Tags/0/Value",
    "/Role/Tags/1",
    "/TrustedPrincipal",
    "/ExternalId",
    "/Conditions",
    "/Conditions/RequireMfa",
    "/Conditions/MfaMaxAgeSeconds",
    "/Conditions/SourceIpCidrs",
    "/Conditions/SourceIpCidrs/0",
    "/Conditions/NotBefore",
    "/Conditions/NotAfter",
    "/Conditions/PrincipalOrgId",
    "/TrustedSide",
    "/TrustedSide/Grant",
    "/TrustedSide/CreateUser",
    "/TrustedSide/AccessKey",
    "/Rotation",
    "/Rotation/ExternalIdDays",
    "/Rotation/AccessKeyDays",
    "/Rotation/GraceHours",
    "/Colour",
    "/Role/Colour",
];

/// Strings a fuzzer would take long to find: what broke before, near misses of what is valid,
/// and text that is hard on byte-indexed code.
fn seeds() -> Vec<String> {
    vec![
        "\u{1F600}".repeat(41),
        "é".repeat(5000),
        format!("a{}", "中".repeat(300)),
        "e\u{301}".repeat(100),
        "\u{202E}reversed".into(),
        "\u{0}nul".into(),
        String::new(),
        " ".into(),
        "true".into(),
        "FALSE".into(),
        "2012-10-17".into(),
        "2008-10-17".into(),
        "*".into(),
        "s3:Get:Object".into(),
        "TRUE".into(),
        "0.0.0.0/0".into(),
        "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
        "arn:aws:s3:::\u{4e2d}".into(),
        "${aws:username}".into(),
        "18446744073709551616".into(),
        "-1".into(),
        "1e308".into(),
        "2026-01-01T00:00:00+0\u{e9}:00".into(),
        "2026-01-01T00:00:00\u{e9}".into(),
        "x".repeat(70_000),
    ]
}

fn seeded_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(seeds()),
        2 => "\\PC{0,300}",
        1 => "[ -~]{0,80}",
        1 => proptest::collection::vec(any::<char>(), 0..2000).prop_map(|c| c.into_iter().collect()),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => prop_oneof![Just(1e308), Just(-0.0), Just(3600.5), any::<f64>()]
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        6 => seeded_string().prop_map(Value::String),
    ]
}

/// Any JSON value: leaves, and lists and objects of them up to a few levels deep, with keys
/// that are sometimes the ones the parser knows.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        proptest::sample::select(vec![
            "Version",
            "Statement",
            "Effect",
            "Action",
            "Resource",
            "Condition",
            "Key",
            "Value",
            "Name",
            "Grant",
            "StringEquals",
            "aws:SourceIp",
        ])
        .prop_map(String::from),
        seeded_string().prop_map(|s| s.chars().take(200).collect()),
    ];
    leaf().prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// `base` with the element at `pointer` set to `v` (added if the parent lacks it).
fn replaced(pointer: &str, v: Value) -> Value {
    let mut props = base();
    if pointer.is_empty() {
        return v;
    }
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let key = key.replace("~1", "/");
    match props.pointer_mut(parent).unwrap() {
        Value::Object(m) => {
            m.insert(key, v);
        }
        Value::Array(a) => match key.parse::<usize>().unwrap() {
            i if i < a.len() => a[i] = v,
            _ => a.push(v),
        },
        _ => unreachable!("{parent} is a container in base()"),
    }
    props
}

/// The contract's top-level properties: an error may name one the request lacks ("is
/// required").
const PROPERTIES: &[&str] = &[
    "ServiceToken",
    "LinkName",
    "TrustingAccount",
    "Role",
    "TrustedPrincipal",
    "ExternalId",
    "Conditions",
    "TrustedSide",
    "Rotation",
];

/// An error's field names a property: one of the contract's or a top-level key of `input`
/// (cut as errors cut keys), followed by the rest of the path; or the whole request when it
/// is not an object.
fn names_a_property_of(field: &str, input: &Value) -> bool {
    let Some(top) = input.as_object() else {
        return field == "ResourceProperties";
    };
    let known = PROPERTIES.iter().map(|p| p.to_string());
    top.keys().map(|k| excerpt(k)).chain(known).any(|k| {
        field
            .strip_prefix(k.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[', ' ']))
    })
}

fn check(props: &Value) -> Result<(), TestCaseError> {
    let Err(errors) = LinkSpec::from_properties(props) else {
        return Ok(());
    };
    prop_assert!(!errors.0.is_empty(), "an Err without an error");
    for e in &errors.0 {
        prop_assert!(
            names_a_property_of(&e.field, props),
            "'{}' names no property of the request",
            excerpt(&e.to_string())
        );
        prop_assert!(!e.rule.is_empty());
        // A long value is quoted as an excerpt, never whole.
        prop_assert!(
            e.to_string().chars().count() < 1000,
            "error of {} characters: {}",
            e.to_string().chars().count(),
            excerpt(&e.to_string())
        );
    }
    prop_assert!(
        !errors.to_string().contains(SECRET_EXTERNAL_ID),
        "the external ID is in an error"
    );
    Ok(())
}

fn config() -> Config {
    Config {
        cases: 1024,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x7472_7573_746c_696e),
        failure_persistence: None,
        ..Config::default()
    }
}

#[test]
fn the_parser_never_panics_and_every_error_names_a_property() {
    let strategy = (proptest::sample::select(TARGETS), json_value());
    let mut runner = TestRunner::new(config());
    runner
        .run(&strategy, |(pointer, v)| check(&replaced(pointer, v)))
        .unwrap();
}

/// The fuzzer's own check must be able to fail: an error naming nothing of the request.
#[test]
fn the_property_check_catches_an_error_that_names_no_property() {
    let props = base();
    assert!(names_a_property_of("Role.Tags[0].Key", &props));
    assert!(names_a_property_of("TrustedPrincipal (user name)", &props));
    assert!(!names_a_property_of("TrustPolicy", &props));
    assert!(!names_a_property_of("LinkNameX", &props));
    assert!(!names_a_property_of("internal error", &props));
    assert!(names_a_property_of("ResourceProperties", &json!([])));
    let long_key = "\u{1F600}".repeat(300);
    let with_key = replaced(&format!("/{long_key}"), json!(1));
    assert!(names_a_property_of(&excerpt(&long_key), &with_key));
    assert!(!names_a_property_of(&excerpt(&long_key), &props));
}

/// Each seeded string as every scalar of the request, one at a time: the cases that used to
/// panic (issue 9 item 5) are run whatever the random draw.
#[test]
fn every_seeded_string_in_every_place() {
    for pointer in TARGETS {
        for s in &seeds() {
            let props = replaced(pointer, Value::String(s.clone()));
            if let Err(e) = check(&props) {
                panic!("{pointer} = '{}': {e}", excerpt(s));
            }
        }
    }
}
