//! The fault injector on the in-memory cloud: a trust-link Create through
//! `FaultyCloud<MemoryCloud>`, with no moto and no Python. A fault before a write makes the
//! Create fail and roll back; without it, the same Create succeeds on what is left.

use serde_json::{json, Value};
use trustlink_aws::ports::{Op, Roles, Users};
use trustlink_aws::MemoryCloud;
use trustlink_tests::faults::{Faults, FaultyCloud, When};
use trustlink_tests::fixtures::{reason, status, TRUSTED, TRUSTING};
use trustlink_tests::resource::Harness;

/// The classic link of `golden.rs`'s lifecycle, with its names.
fn props() -> Value {
    json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:trustlink-trust-link",
        "LinkName": "golden-classic",
        "TrustingAccount": TRUSTING,
        "Role": {
            "Name": "GoldenRole",
            "Path": "/cross-account/",
            "Description": "Developers of 444455556666",
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
            "InlinePolicies": {"S3DevAccess": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::dev-*/*"]}]}},
            "Tags": [{"Key": "team", "Value": "data"}]
        },
        "TrustedPrincipal": format!("arn:aws:iam::{TRUSTED}:user/GoldenUser"),
        "ExternalId": "GoldenExternalId0001",
        "Conditions": {"RequireMfa": "true"},
        "TrustedSide": {"Grant": "true", "CreateUser": "true", "AccessKey": "true"},
        "Rotation": {"ExternalIdDays": "90", "AccessKeyDays": "90", "GraceHours": "24"}
    })
}

async fn harness() -> (Harness<FaultyCloud<MemoryCloud>>, Faults, MemoryCloud) {
    let cloud = MemoryCloud::with_accounts(&[TRUSTING, TRUSTED]);
    let faults = Faults::new();
    let h = Harness::new(FaultyCloud::new(cloud.clone(), faults.clone())).await;
    (h, faults, cloud)
}

#[tokio::test]
async fn a_create_faulted_before_a_write_rolls_back_and_a_retry_succeeds() {
    let (h, faults, cloud) = harness().await;
    faults.arm(Op::PutRolePolicy, 1, When::Before);
    let failed = h.send("Create", None, &props(), None).await;
    assert!(faults.fired(), "the fault struck");
    assert_eq!(status(&failed), "FAILED", "{failed}");
    assert!(reason(&failed).contains("injected fault"), "{failed}");
    let trusting = cloud.iam_of(TRUSTING);
    let e = trusting.get_role("GoldenRole").await.unwrap_err();
    assert!(e.is_not_found(), "the role was rolled back: {e}");
    let trusted = cloud.iam_of(TRUSTED);
    assert!(trusted
        .get_user("GoldenUser")
        .await
        .unwrap_err()
        .is_not_found());

    faults.clear_calls();
    let created = h.send("Create", None, &props(), None).await;
    assert_eq!(status(&created), "SUCCESS", "{created}");
    let calls = faults.calls();
    assert!(calls.contains(&Op::PutRolePolicy) && calls.contains(&Op::CallerIdentity));
    let role = trusting.get_role("GoldenRole").await.unwrap();
    assert_eq!(created["PhysicalResourceId"], json!(role.arn));
}

/// The in-memory cloud answers so that the handler makes the calls it makes on moto: the
/// Create of the golden lifecycle calls what `tests/golden/trust-link-lifecycle.json` says.
#[tokio::test]
async fn a_clean_create_makes_the_golden_calls() {
    let (h, faults, _) = harness().await;
    let created = h.send("Create", None, &props(), None).await;
    assert_eq!(status(&created), "SUCCESS", "{created}");
    let golden = trustlink_tests::workspace_root().join("tests/golden/trust-link-lifecycle.json");
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(golden).unwrap()).unwrap();
    let calls: Vec<&str> = faults.calls().into_iter().map(|op| op.as_str()).collect();
    assert_eq!(json!(calls), golden[0]["calls"]);
}
