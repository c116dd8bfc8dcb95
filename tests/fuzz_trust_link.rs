//! Fuzzing the whole `Custom::TrustLink` handler (issue 9): generated bad Creates played to
//! the real `TrustLinkResource` over real HTTP (CloudFormation's ResponseURL served on
//! loopback), AWS played by moto. For each: no panic, exactly one answer, FAILED with a
//! reason that names the property that was broken, and nothing left in either account.
//!
//! Every case breaks one element of a valid link with a value that is wrong for it (long
//! unicode, wrong types, huge or fractional numbers, near-miss policy values), so a SUCCESS
//! is a finding, not noise. The values come from proptest strategies drawn with a fixed seed:
//! the same cases run everywhere.

use std::time::Duration;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestRunner};
use serde_json::{json, Map, Value};
use trustlink_aws::ports::*;
use trustlink_aws::AccountAccess;
use trustlink_domain::error::excerpt;
use trustlink_domain::LinkSpec;
use trustlink_tests::cfn::request;
use trustlink_tests::fixtures::{account, TRUSTED, TRUSTING};
use trustlink_tests::resource::Harness;
use trustlink_tests::*;

/// Rounds over [`TARGETS`]: each element is broken this many times, with different values.
const ROUNDS: usize = 2;

/// The contract's top-level properties: a reason must start with one of them.
const PROPERTIES: &[&str] = &[
    "LinkName",
    "TrustingAccount",
    "Role",
    "TrustedPrincipal",
    "ExternalId",
    "Conditions",
    "TrustedSide",
    "Rotation",
];

/// A valid link with every element a case can break.
fn base(link: &str, role: &str, user: &str) -> Value {
    json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:trustlink-trust-link",
        "LinkName": link,
        "TrustingAccount": TRUSTING,
        "Role": {
            "Name": role,
            "Path": "/cross-account/",
            "Description": "Developers of 444455556666",
            "MaxSessionDuration": "3600",
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
            "InlinePolicies": {"S3DevAccess": {"Version": "2012-10-17", "Statement": [{
                "Sid": "Dev", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::dev-*/*"],
                "Condition": {"StringEquals": {"aws:PrincipalTag/team": "data"}}}]}},
            "Tags": [{"Key": "team", "Value": "data"}]
        },
        "TrustedPrincipal": format!("arn:aws:iam::{TRUSTED}:user/{user}"),
        "ExternalId": format!("FuzzExternalId{}", link.len() * 7919),
        "Conditions": {"RequireMfa": "true", "MfaMaxAgeSeconds": "3600", "SourceIpCidrs": ["203.0.113.0/24"],
            "NotBefore": "2026-01-01T00:00:00Z", "NotAfter": "2036-01-01T00:00:00Z", "PrincipalOrgId": "o-abc123"},
        "TrustedSide": {"Grant": "true", "CreateUser": "true", "AccessKey": "true"},
        "Rotation": {"ExternalIdDays": "90", "AccessKeyDays": "90", "GraceHours": "24"}
    })
}

/// What an element holds, and so which values are certainly wrong for it.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Boolean,
    Number,
    List,
    Object,
    PolicyDocument,
    Version,
    Action,
    Resource,
    Effect,
    Condition,
    Principal,
    Tags,
    /// A top-level property nobody knows, under a generated name.
    UnknownProperty,
}

const TARGETS: &[(&str, Kind)] = &[
    ("/LinkName", Kind::Text),
    ("/TrustingAccount", Kind::Text),
    ("/Role", Kind::Object),
    ("/Role/Name", Kind::Text),
    ("/Role/Path", Kind::Text),
    ("/Role/Description", Kind::Text),
    ("/Role/MaxSessionDuration", Kind::Number),
    ("/Role/ManagedPolicyArns", Kind::List),
    ("/Role/PermissionsBoundary", Kind::Text),
    ("/Role/InlinePolicies", Kind::Object),
    ("/Role/InlinePolicies/S3DevAccess", Kind::PolicyDocument),
    ("/Role/InlinePolicies/S3DevAccess/Version", Kind::Version),
    (
        "/Role/InlinePolicies/S3DevAccess/Statement/0/Action",
        Kind::Action,
    ),
    (
        "/Role/InlinePolicies/S3DevAccess/Statement/0/Resource",
        Kind::Resource,
    ),
    (
        "/Role/InlinePolicies/S3DevAccess/Statement/0/Effect",
        Kind::Effect,
    ),
    (
        "/Role/InlinePolicies/S3DevAccess/Statement/0/Sid",
        Kind::Text,
    ),
    (
        "/Role/InlinePolicies/S3DevAccess/Statement/0/Condition",
        Kind::Condition,
    ),
    (
        "/Role/InlinePolicies/S3DevAccess/Statement/0/Principal",
        Kind::Principal,
    ),
    ("/Role/Tags", Kind::Tags),
    ("/Role/Tags/0/Key", Kind::Text),
    ("/Role/Tags/0/Value", Kind::Text),
    ("/TrustedPrincipal", Kind::Text),
    ("/ExternalId", Kind::Text),
    ("/Conditions", Kind::Object),
    ("/Conditions/RequireMfa", Kind::Boolean),
    ("/Conditions/MfaMaxAgeSeconds", Kind::Number),
    ("/Conditions/SourceIpCidrs", Kind::List),
    ("/Conditions/NotBefore", Kind::Text),
    ("/Conditions/NotAfter", Kind::Text),
    ("/Conditions/PrincipalOrgId", Kind::Text),
    ("/TrustedSide", Kind::Object),
    ("/TrustedSide/Grant", Kind::Boolean),
    ("/TrustedSide/CreateUser", Kind::Boolean),
    ("/TrustedSide/AccessKey", Kind::Boolean),
    ("/Rotation", Kind::Object),
    ("/Rotation/ExternalIdDays", Kind::Number),
    ("/Rotation/AccessKeyDays", Kind::Number),
    ("/Rotation/GraceHours", Kind::Number),
    ("", Kind::UnknownProperty),
];

/// Over 1,000 characters (longer than any text property may be) with an emoji in it (which
/// no name, id, ARN, time, description or policy accepts); any other characters around it.
fn long_unicode() -> BoxedStrategy<String> {
    (
        proptest::collection::vec(any::<char>(), 0..1500),
        1001usize..1600,
    )
        .prop_map(|(chars, len)| {
            let mut s: String = chars.into_iter().collect();
            s.push('\u{1F600}');
            while s.chars().count() < len {
                s.push_str("\u{e9}\u{4e2d}\u{1F600}");
            }
            s
        })
        .boxed()
}

fn text() -> BoxedStrategy<Value> {
    long_unicode().prop_map(Value::String).boxed()
}

fn nested() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..4).prop_map(Value::Array),
            proptest::collection::btree_map("\\PC{1,12}", inner, 1..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
    // A container that is never a valid scalar.
    .prop_map(|v| json!({"nested": v}))
    .boxed()
}

fn huge_or_fractional() -> BoxedStrategy<Value> {
    prop_oneof![
        (i64::MIN..0).prop_map(Value::from),
        prop_oneof![Just(1e300), Just(-1e300), Just(3600.5), Just(0.1)].prop_map(|f| json!(f)),
    ]
    .boxed()
}

/// Values certainly wrong for an element of `kind`.
fn bad_value(kind: Kind) -> BoxedStrategy<Value> {
    let boolean = || any::<bool>().prop_map(Value::Bool).boxed();
    let number = || prop_oneof![huge_or_fractional(), any::<u64>().prop_map(Value::from)].boxed();
    let list_of =
        |v: BoxedStrategy<Value>| proptest::collection::vec(v, 1..3).prop_map(Value::Array);
    let unknown_key = || {
        ("[\\p{L}\\p{N}]{1,300}", text())
            .prop_map(|(k, v)| json!({ format!("X{k}"): v }))
            .boxed()
    };
    match kind {
        Kind::Text => prop_oneof![text(), boolean(), nested(), list_of(nested())].boxed(),
        Kind::Boolean => prop_oneof![text(), number(), nested(), list_of(boolean())].boxed(),
        Kind::Number => prop_oneof![text(), boolean(), nested(), huge_or_fractional()].boxed(),
        Kind::List => prop_oneof![
            text(),
            boolean(),
            nested(),
            list_of(text()),
            list_of(nested())
        ]
        .boxed(),
        Kind::Object => prop_oneof![
            text(),
            boolean(),
            number(),
            list_of(nested()),
            unknown_key()
        ]
        .boxed(),
        Kind::PolicyDocument => prop_oneof![
            text(),
            boolean(),
            number(),
            list_of(nested()),
            unknown_key()
        ]
        .boxed(),
        Kind::Version => {
            prop_oneof![text(), Just(json!("2008-10-17")), number(), boolean()].boxed()
        }
        Kind::Action => prop_oneof![
            text(),
            Just(json!("s3:Get:Object")),
            Just(json!("*:GetObject")),
            Just(json!(["s3:GetObject", "TRUE"])),
            number(),
        ]
        .boxed(),
        Kind::Resource => prop_oneof![
            text(),
            Just(json!("TRUE")),
            Just(json!("0.0.0.0/0")),
            Just(json!(["arn:aws:s3:::ok", "arn:aws:s3"])),
            number(),
            boolean(),
        ]
        .boxed(),
        Kind::Effect => prop_oneof![text(), Just(json!("allow")), boolean()].boxed(),
        Kind::Condition => prop_oneof![
            text(),
            "[A-Z][a-z]{3,20}".prop_map(|op| json!({ format!("{op}Equalz"): {"aws:x": "y"} })),
            Just(json!({"StringEquals": "aws:x"})),
            Just(json!({"StringEquals": {"SourceIp": "y"}})),
        ]
        .boxed(),
        Kind::Principal => prop_oneof![Just(json!("*")), Just(json!({"AWS": "*"})), text()].boxed(),
        Kind::Tags => "[a-z]{1,20}"
            .prop_flat_map(|k| {
                let upper = k.to_uppercase();
                prop_oneof![Just(upper), Just(k.clone())].prop_map(
                    move |other| json!([{"Key": k, "Value": "a"}, {"Key": other, "Value": "b"}]),
                )
            })
            .boxed(),
        Kind::UnknownProperty => unknown_key(),
    }
}

/// `Role.InlinePolicies.S3DevAccess.Statement[0].Action` for its JSON pointer.
fn display_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        if seg.parse::<usize>().is_ok() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

/// One generated case: the properties and the field its reason must name.
struct Case {
    props: Value,
    names: String,
    /// The generated top-level property, when the case adds one.
    unknown: Option<String>,
    link: String,
    role: String,
    user: String,
}

fn case(target: &str, kind: Kind, v: Value) -> Case {
    let (link, role, user) = (unique("fz-"), unique("FzRole"), unique("FzUser"));
    let mut props = base(&link, &role, &user);
    let mut unknown = None;
    let names = match (kind, v) {
        (Kind::UnknownProperty, Value::Object(extra)) => {
            let key = extra.keys().next().unwrap().clone();
            props.as_object_mut().unwrap().extend(extra);
            unknown = Some(excerpt(&key));
            excerpt(&key)
        }
        (_, v) => {
            let (parent, key) = target.rsplit_once('/').unwrap();
            match props.pointer_mut(parent).unwrap() {
                Value::Object(m) => m.insert(key.to_string(), v),
                Value::Array(a) => {
                    Some(std::mem::replace(&mut a[key.parse::<usize>().unwrap()], v))
                }
                _ => unreachable!("{parent} is a container"),
            };
            display_path(target)
        }
    };
    Case {
        props,
        names,
        unknown,
        link,
        role,
        user,
    }
}

fn cases() -> Vec<Case> {
    let mut runner = TestRunner::new(Config {
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x6675_7a7a_5f74_6c6b),
        failure_persistence: None,
        ..Config::default()
    });
    let mut out = Vec::new();
    for _ in 0..ROUNDS {
        for (target, kind) in TARGETS {
            let v = bad_value(*kind).new_tree(&mut runner).unwrap().current();
            out.push(case(target, *kind, v));
        }
    }
    out
}

/// Nothing of the case's link is in either account: no role, no user, no grant, no secret.
async fn assert_nothing_left(access: &AccountAccess, c: &Case, what: &str) {
    let trusting = access.iam(&account(TRUSTING)).await.unwrap();
    let trusted = access.iam(&account(TRUSTED)).await.unwrap();
    assert!(
        trusting.get_role(&c.role).await.unwrap_err().is_not_found(),
        "{what}: role {} left behind",
        c.role
    );
    assert!(
        trusted.get_user(&c.user).await.unwrap_err().is_not_found(),
        "{what}: user {} left behind",
        c.user
    );
    let grant = format!(
        "arn:aws:iam::{TRUSTED}:policy/trustlink/TrustLink-{}",
        c.link
    );
    assert!(
        !trusted.policy_exists(&grant).await.unwrap(),
        "{what}: grant {grant} left behind"
    );
    for name in [
        format!("trustlink/{}", c.link),
        format!("trustlink/{}/access-key", c.link),
    ] {
        match access.secrets().describe_secret(&name).await {
            Err(e) => assert!(e.is_not_found(), "{what}: {e}"),
            Ok(d) => assert!(
                d.scheduled_for_deletion,
                "{what}: secret {name} left behind"
            ),
        }
    }
}

/// The reason's first error names one of the contract's properties, or `unknown`: the
/// request's own property that the contract does not have.
fn starts_with_a_property(reason: &str, unknown: Option<&str>) -> bool {
    let first = reason
        .strip_prefix("invalid properties: ")
        .unwrap_or(reason);
    PROPERTIES.iter().copied().chain(unknown).any(|p| {
        first
            .strip_prefix(p)
            .is_some_and(|rest| rest.starts_with(['.', '[', ':', ' ']))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_bad_creates_fail_naming_the_property_and_leave_nothing() {
    let logs = capture_logs();
    let started = std::time::Instant::now();
    let access = links::access().await;
    let h = Harness::new(access.clone()).await;
    let probe = base("fz-probe", "FzProbe", "FzProbeUser");
    assert!(
        LinkSpec::from_properties(&probe).is_ok(),
        "the base link must be valid, or no case tests what it breaks"
    );
    let cases = cases();
    assert_eq!(cases.len(), TARGETS.len() * ROUNDS);
    for (i, c) in cases.iter().enumerate() {
        // The base's external IDs only: a generated one is not a secret anybody holds.
        if let Some(id) = c.props["ExternalId"]
            .as_str()
            .filter(|e| e.starts_with("FuzzExternalId"))
        {
            remember_secret(id);
        }
        let id = format!("fuzz-{}-{i}", std::process::id());
        let event = request(
            "Create",
            &id,
            None,
            &c.props,
            None,
            &h.cfn.response_url(&id),
        );
        let what = format!("case {i} ({})", c.names);
        h.invoke(event, Duration::from_secs(120))
            .await
            .expect("delivered");
        // Every PUT, accepted or not: a second answer is as wrong as none.
        assert_eq!(h.cfn.puts(&id).len(), 1, "{what}: exactly one answer");
        let r = &h.cfn.responses(&id)[0];
        let reason = r["Reason"].as_str().unwrap_or_default();
        assert_eq!(r["Status"], "FAILED", "{what}: {}", excerpt(reason));
        assert!(
            !reason.contains("internal error"),
            "{what}: the handler panicked: {}",
            excerpt(reason)
        );
        assert!(
            starts_with_a_property(reason, c.unknown.as_deref()),
            "{what}: the reason names no property: {}",
            excerpt(reason)
        );
        assert!(
            reason.contains(&c.names),
            "{what}: the reason does not name {}: {}",
            c.names,
            excerpt(reason)
        );
        assert_nothing_left(&access, c, &what).await;
    }
    assert_logs_clean(&logs);
    eprintln!(
        "{} generated bad Creates in {:?}",
        cases.len(),
        started.elapsed()
    );
}

/// The reason check must be able to fail.
#[test]
fn the_reason_check_catches_a_reason_without_a_property() {
    assert!(starts_with_a_property(
        "invalid properties: Role.Tags: key 'a' is given twice",
        None
    ));
    assert!(starts_with_a_property(
        "TrustedPrincipal: user x does not exist",
        None
    ));
    assert!(!starts_with_a_property(
        "internal error: the resource handler panicked",
        None
    ));
    assert!(!starts_with_a_property(
        "MalformedPolicyDocument: Resource TRUE must be in ARN format or \"*\"",
        None
    ));
    assert!(!starts_with_a_property(
        "invalid properties: RoleX: y",
        None
    ));
    assert!(starts_with_a_property(
        "invalid properties: Xé: unknown property",
        Some("Xé")
    ));
    assert_eq!(
        display_path("/Role/InlinePolicies/S3DevAccess/Statement/0/Action"),
        "Role.InlinePolicies.S3DevAccess.Statement[0].Action"
    );
}
