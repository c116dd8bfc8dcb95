//! Each step against the in-memory cloud: no AWS, moto or Python (`cargo test --lib`).

use serde_json::{json, Value};
use trustlink_aws::ports::{AccessKeys, Cloud, Policies, Roles, Secrets, Users, AWSCURRENT};
use trustlink_aws::MemoryCloud;
use trustlink_domain::clock::{Clock, OffsetClock, SystemClock};
use trustlink_domain::policy;
use trustlink_domain::record::LinkRecord;
use trustlink_domain::{LinkSpec, Settings};

use super::link_secret::Written;
use super::plan::Plan;
use super::undo::Undo;
use super::{LinkService, Mode, VerifyBounds};
use crate::LinkError;

const TRUSTING: &str = "111122223333";
const TRUSTED: &str = "444455556666";

fn props(link: &str) -> Value {
    json!({
        "LinkName": link,
        "TrustingAccount": TRUSTING,
        "Role": {"Name": format!("{link}-role"),
                 "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                 "InlinePolicies": {"Read": {"Version": "2012-10-17", "Statement": [
                     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}}},
        "TrustedPrincipal": format!("arn:aws:iam::{TRUSTED}:user/{link}-user"),
        "ExternalId": "StepTestExternalId01",
        "TrustedSide": {"Grant": "true", "CreateUser": "true", "AccessKey": "true"}
    })
}

fn spec(p: &Value) -> LinkSpec {
    LinkSpec::from_properties(p).expect("valid properties")
}

fn service() -> (LinkService<MemoryCloud>, MemoryCloud) {
    let cloud = MemoryCloud::with_accounts(&[TRUSTING, TRUSTED]);
    let fast = VerifyBounds {
        attempts: 2,
        first_delay: std::time::Duration::from_millis(1),
        max_delay: std::time::Duration::from_millis(1),
    };
    (
        LinkService::new(cloud.clone(), Settings::default(), fast),
        cloud,
    )
}

async fn plan<'a>(s: &LinkService<MemoryCloud>, spec: &'a LinkSpec) -> Plan<'a, MemoryCloud> {
    Plan::read(s, spec, Mode::Create)
        .await
        .expect("the plan reads")
}

#[tokio::test]
async fn the_plan_reads_and_writes_nothing() {
    let (s, cloud) = service();
    let spec = spec(&props("p1"));
    let p = plan(&s, &spec).await;
    assert_eq!(p.accepted, vec!["StepTestExternalId01".to_string()]);
    assert!(p.existing.is_none() && p.existing_role.is_none() && !p.id_changed);
    assert!(cloud.iam_of(TRUSTING).get_role("p1-role").await.is_err());
    assert!(cloud
        .secrets()
        .describe_secret("trustlink/p1")
        .await
        .is_err());
}

#[tokio::test]
async fn a_link_in_china_gets_its_role_and_grant_arns_in_aws_cn() {
    let (s, _) = service();
    let mut p = props("cn1");
    p["ServiceToken"] = json!(format!(
        "arn:aws-cn:lambda:cn-north-1:{TRUSTING}:function:t"
    ));
    p["TrustedPrincipal"] = json!(format!("arn:aws-cn:iam::{TRUSTED}:user/cn1-user"));
    let spec = spec(&p);
    let plan = plan(&s, &spec).await;
    assert_eq!(
        plan.role_arn,
        format!("arn:aws-cn:iam::{TRUSTING}:role/trustlink/cn1-role")
    );
    assert_eq!(
        s.grant_arn(&plan),
        format!("arn:aws-cn:iam::{TRUSTED}:policy/trustlink/TrustLink-cn1")
    );
    let trust = policy::trust_policy(&spec.trusted_principal, &plan.accepted(), &spec.conditions);
    assert_eq!(
        trust["Statement"][0]["Principal"]["AWS"],
        format!("arn:aws-cn:iam::{TRUSTED}:user/cn1-user")
    );
}

#[tokio::test]
async fn the_plan_refuses_a_role_of_someone_else() {
    let (s, _) = service();
    let spec = spec(&props("p2"));
    let p = plan(&s, &spec).await;
    let mut undo = Vec::new();
    s.role(&p, &mut undo).await.unwrap();
    let mut other = props("p2b");
    other["Role"]["Name"] = json!("p2-role");
    let other = self::spec(&other);
    let err = Plan::read(&s, &other, Mode::Create).await.err().unwrap();
    assert!(
        matches!(err, LinkError::Conflict(ref m) if m.starts_with("Role.Name:")),
        "{err}"
    );
}

#[tokio::test]
async fn the_trusted_user_is_created_once_and_adopted_after() {
    let (s, cloud) = service();
    let spec = spec(&props("u1"));
    let mut undo = Vec::new();
    assert!(s
        .trusted_user(&plan(&s, &spec).await, &mut undo)
        .await
        .unwrap());
    assert!(matches!(undo.as_slice(), [Undo::User { .. }]));
    let mut again = Vec::new();
    assert!(s
        .trusted_user(&plan(&s, &spec).await, &mut again)
        .await
        .unwrap());
    assert!(again.is_empty(), "an adopted user is not ours to undo");
    assert!(cloud.iam_of(TRUSTED).get_user("u1-user").await.is_ok());
}

#[tokio::test]
async fn the_role_is_created_and_an_existing_one_brought_in_line() {
    let (s, cloud) = service();
    let spec = spec(&props("r1"));
    let mut undo = Vec::new();
    s.role(&plan(&s, &spec).await, &mut undo).await.unwrap();
    let iam = cloud.iam_of(TRUSTING);
    let role = iam.get_role("r1-role").await.unwrap();
    assert_eq!(
        policy::accepted_external_ids(&role.trust_policy),
        vec!["StepTestExternalId01"]
    );
    let mut changed = props("r1");
    changed["ExternalId"] = json!("StepTestExternalId02");
    changed["Role"]["Description"] = json!("changed");
    let changed = self::spec(&changed);
    s.role(&plan(&s, &changed).await, &mut undo).await.unwrap();
    let role = iam.get_role("r1-role").await.unwrap();
    assert_eq!(
        policy::accepted_external_ids(&role.trust_policy),
        vec!["StepTestExternalId02"]
    );
    assert_eq!(role.description.as_deref(), Some("changed"));
    assert_eq!(undo.len(), 1, "only the creation is undone");
}

#[tokio::test]
async fn permissions_attach_what_is_new_and_drop_what_is_gone() {
    let (s, cloud) = service();
    let spec = spec(&props("m1"));
    let mut undo = Vec::new();
    s.role(&plan(&s, &spec).await, &mut undo).await.unwrap();
    let iam = cloud.iam_of(TRUSTING);
    iam.put_role_policy(
        "m1-role",
        "Stale",
        &json!({"Version": "2012-10-17", "Statement": []}),
    )
    .await
    .unwrap();
    s.permissions(&plan(&s, &spec).await, false).await.unwrap();
    assert_eq!(
        iam.list_attached_role_policies("m1-role").await.unwrap(),
        vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".to_string()]
    );
    assert_eq!(
        iam.list_role_policies("m1-role").await.unwrap(),
        vec!["Read".to_string()]
    );
}

#[tokio::test]
async fn the_grant_is_made_attached_and_its_document_kept_in_line() {
    let (s, cloud) = service();
    let spec = spec(&props("g1"));
    let mut undo = Vec::new();
    s.trusted_user(&plan(&s, &spec).await, &mut undo)
        .await
        .unwrap();
    let arn = s
        .grant(&plan(&s, &spec).await, false, &mut undo)
        .await
        .unwrap();
    let iam = cloud.iam_of(TRUSTED);
    assert_eq!(
        iam.list_attached_user_policies("g1-user").await.unwrap(),
        vec![arn.clone()]
    );
    let mut changed = props("g1");
    changed["ExternalId"] = json!("StepTestExternalId02");
    let changed = self::spec(&changed);
    let mut again = Vec::new();
    s.grant(&plan(&s, &changed).await, false, &mut again)
        .await
        .unwrap();
    assert!(
        matches!(again.as_slice(), [Undo::GrantDocument { .. }]),
        "{again:?}"
    );
    let doc = iam.get_policy_document(&arn).await.unwrap();
    assert!(doc.to_string().contains("StepTestExternalId02"));
}

#[tokio::test]
async fn the_access_key_is_made_stored_and_reused() {
    let (s, cloud) = service();
    let spec = spec(&props("k1"));
    let mut undo = Vec::new();
    s.trusted_user(&plan(&s, &spec).await, &mut undo)
        .await
        .unwrap();
    let (arn, key) = s
        .access_key(&plan(&s, &spec).await, &mut undo)
        .await
        .unwrap()
        .unwrap();
    let (again, same) = s
        .access_key(&plan(&s, &spec).await, &mut undo)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (arn, key.access_key_id.clone()),
        (again, same.access_key_id)
    );
    let keys = cloud
        .iam_of(TRUSTED)
        .list_access_keys("k1-user")
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "reused, not made again");
}

#[tokio::test]
async fn the_link_secret_holds_the_id_and_the_record() {
    let (s, cloud) = service();
    // The record's times are the service's clock's: moved a year on, they are a year on.
    let year = 365 * 86_400;
    let s = s.with_clock(std::sync::Arc::new(OffsetClock::new(year)));
    let before = SystemClock.now() + year;
    let spec = spec(&props("s1"));
    let p = plan(&s, &spec).await;
    let mut undo = Vec::new();
    let written = Written {
        user_created: true,
        grant_arn: "arn:aws:iam::444455556666:policy/trustlink/TrustLink-s1",
    };
    s.link_secret(&p, &written, &mut undo).await.unwrap();
    let secrets = cloud.secrets();
    let d = secrets.describe_secret("trustlink/s1").await.unwrap();
    let record = LinkRecord::from_tags(&d.tags).unwrap();
    assert!(record.user_created && record.access_key);
    let after = SystemClock.now() + year;
    for stamp in [record.external_id_rotated_at, record.access_key_rotated_at] {
        assert!(
            stamp.is_some_and(|t| (before..=after).contains(&t)),
            "{stamp:?}"
        );
    }
    let v = secrets
        .get_secret_value("trustlink/s1", AWSCURRENT)
        .await
        .unwrap();
    assert!(v.text.expose().contains("StepTestExternalId01"));
    assert!(matches!(undo.as_slice(), [Undo::Secret { .. }]));
}

#[tokio::test]
async fn a_deleted_links_secret_is_restored_and_undone_on_failure() {
    let (s, cloud) = service();
    let spec = spec(&props("d1"));
    s.create(&spec).await.unwrap();
    s.delete(
        "arn:aws:iam::111122223333:role/trustlink/d1-role",
        Some("d1"),
    )
    .await
    .unwrap();
    let p = plan(&s, &spec).await;
    assert!(p.link_secret_deleted);
    let mut undo = Vec::new();
    let written = Written {
        user_created: false,
        grant_arn: "",
    };
    s.link_secret(&p, &written, &mut undo).await.unwrap();
    assert!(
        !cloud
            .secrets()
            .describe_secret("trustlink/d1")
            .await
            .unwrap()
            .scheduled_for_deletion
    );
    s.rollback(undo).await;
    assert!(
        cloud
            .secrets()
            .describe_secret("trustlink/d1")
            .await
            .unwrap()
            .scheduled_for_deletion
    );
}

#[tokio::test]
async fn a_full_create_verifies_and_delete_leaves_nothing() {
    let (s, cloud) = service();
    let mut p = props("f1");
    p.as_object_mut().unwrap().remove("ExternalId");
    let spec = spec(&p);
    let out = s.create(&spec).await.unwrap();
    assert_eq!(
        out.verified_by,
        "assumed the role with the link's key and external ID"
    );
    s.delete(&out.role_arn, Some("f1")).await.unwrap();
    assert!(cloud
        .iam_of(TRUSTING)
        .get_role("f1-role")
        .await
        .unwrap_err()
        .is_not_found());
    assert!(cloud
        .iam_of(TRUSTED)
        .get_user("f1-user")
        .await
        .unwrap_err()
        .is_not_found());
    assert!(
        cloud
            .secrets()
            .describe_secret("trustlink/f1")
            .await
            .unwrap()
            .scheduled_for_deletion
    );
}

#[tokio::test]
async fn a_gated_link_is_verified_by_its_key_alone() {
    let (s, _) = service();
    let mut p = props("v1");
    p["Conditions"] = json!({"RequireMfa": "true"});
    let out = s.create(&spec(&p)).await.unwrap();
    assert!(
        out.verified_by
            .starts_with("access key works as the principal"),
        "{}",
        out.verified_by
    );
}

#[tokio::test]
async fn dropping_the_grant_retires_it() {
    let (s, cloud) = service();
    let spec = spec(&props("x1"));
    s.create(&spec).await.unwrap();
    let mut p = props("x1");
    p["TrustedSide"] = json!({"Grant": "false"});
    p["TrustedPrincipal"] = json!(TRUSTED);
    let out = s
        .update(
            &self::spec(&p),
            "arn:aws:iam::111122223333:role/trustlink/x1-role",
        )
        .await
        .unwrap();
    assert!(out.access_key_secret_arn.is_none());
    let grant = "arn:aws:iam::444455556666:policy/trustlink/TrustLink-x1";
    assert!(!cloud.iam_of(TRUSTED).policy_exists(grant).await.unwrap());
    assert!(cloud
        .iam_of(TRUSTED)
        .get_user("x1-user")
        .await
        .unwrap_err()
        .is_not_found());
}
