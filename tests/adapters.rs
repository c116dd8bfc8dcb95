//! Every adapter operation against a real local AWS (moto), in the hub account and, through
//! the admin role, in a member account.

use std::collections::BTreeMap;

use serde_json::json;
use trustlink_aws::ports::*;
use trustlink_aws::{AccountAccess, ErrorKind};
use trustlink_domain::policy::{grant_policy, trust_policy};
use trustlink_domain::{AccountId, Conditions, Principal, SecretText};
use trustlink_tests::*;

async fn access() -> AccountAccess {
    bootstrap_member_account(MEMBER_ACCOUNT).await;
    AccountAccess::new(hub_config().await, trustlink_aws::DEFAULT_ADMIN_ROLE_NAME)
}

fn account(id: &str) -> AccountId {
    AccountId::parse("account", id).unwrap()
}

fn dev_user_trust(external_id: &str) -> serde_json::Value {
    let principal = Principal::parse("p", "arn:aws:iam::444455556666:user/DevUser").unwrap();
    trust_policy(
        &principal,
        &[external_id],
        &Conditions {
            require_mfa: true,
            ..Default::default()
        },
    )
}

/// The role half of a link, in `account`: create with every attribute, attach an AWS managed
/// and a customer managed policy, inline policies, rewrite the trust policy, tear down.
async fn role_lifecycle(access: &AccountAccess, account_id: &str) {
    let iam = access.iam(&account(account_id)).await.unwrap();
    let name = unique("AdapterRole");
    let boundary_name = unique("Boundary");
    let boundary_doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]});
    let boundary = iam
        .create_policy("/trustlink/", &boundary_name, "boundary", &boundary_doc)
        .await
        .unwrap();
    assert_eq!(
        boundary,
        format!("arn:aws:iam::{account_id}:policy/trustlink/{boundary_name}")
    );

    let definition = RoleDefinition {
        name: name.clone(),
        path: "/cross-account/".into(),
        description: Some("Developers of 444455556666".into()),
        max_session_duration: Some(7200),
        trust_policy: dev_user_trust("UniqueExternalId12345"),
        permissions_boundary: Some(boundary.clone()),
        tags: BTreeMap::from([("team".to_string(), "data".to_string())]),
    };
    let created = iam.create_role(&definition).await.unwrap();
    assert_eq!(
        created.arn,
        format!("arn:aws:iam::{account_id}:role/cross-account/{name}")
    );

    let role = iam.get_role(&name).await.unwrap();
    assert_eq!(role.path, "/cross-account/");
    assert_eq!(
        role.description.as_deref(),
        Some("Developers of 444455556666")
    );
    assert_eq!(role.max_session_duration, Some(7200));
    assert_eq!(
        role.trust_policy, definition.trust_policy,
        "GetRole's URL-encoded document reads back equal"
    );
    assert_eq!(
        role.permissions_boundary.as_deref(),
        Some(boundary.as_str())
    );
    assert_eq!(role.tags.get("team").map(String::as_str), Some("data"));

    let again = iam.create_role(&definition).await.unwrap_err();
    assert!(again.is_already_exists(), "{again}");

    // Permissions: an AWS managed policy and a customer managed one.
    assert!(iam
        .policy_exists("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .await
        .unwrap());
    assert!(!iam
        .policy_exists("arn:aws:iam::aws:policy/NoSuchPolicyAtAll")
        .await
        .unwrap());
    let custom_name = unique("S3Dev");
    let custom_doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::dev-*/*"}]});
    let custom = iam
        .create_policy("/trustlink/", &custom_name, "dev buckets", &custom_doc)
        .await
        .unwrap();
    assert_eq!(iam.get_policy_document(&custom).await.unwrap(), custom_doc);
    iam.attach_role_policy(&name, "arn:aws:iam::aws:policy/ReadOnlyAccess")
        .await
        .unwrap();
    iam.attach_role_policy(&name, &custom).await.unwrap();
    let mut attached = iam.list_attached_role_policies(&name).await.unwrap();
    attached.sort();
    let mut expected = vec![
        "arn:aws:iam::aws:policy/ReadOnlyAccess".to_string(),
        custom.clone(),
    ];
    expected.sort();
    assert_eq!(attached, expected);
    let missing = iam
        .attach_role_policy(&name, "arn:aws:iam::aws:policy/NoSuchPolicyAtAll")
        .await
        .unwrap_err();
    assert!(missing.is_not_found(), "{missing}");

    // A new default version replaces the document.
    let custom_doc2 = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::dev-*"}]});
    for _ in 0..6 {
        // More than IAM's five versions: old ones must be cleaned up on the way.
        iam.set_policy_document(&custom, &custom_doc2)
            .await
            .unwrap();
    }
    assert_eq!(iam.get_policy_document(&custom).await.unwrap(), custom_doc2);

    // Inline policies.
    iam.put_role_policy(&name, "S3DevAccess", &custom_doc)
        .await
        .unwrap();
    iam.put_role_policy(&name, "Extra", &custom_doc2)
        .await
        .unwrap();
    let mut inline = iam.list_role_policies(&name).await.unwrap();
    inline.sort();
    assert_eq!(inline, vec!["Extra", "S3DevAccess"]);
    assert_eq!(
        iam.get_role_policy(&name, "S3DevAccess").await.unwrap(),
        custom_doc
    );
    iam.delete_role_policy(&name, "Extra").await.unwrap();
    assert_eq!(
        iam.list_role_policies(&name).await.unwrap(),
        vec!["S3DevAccess"]
    );
    assert!(iam
        .get_role_policy(&name, "Extra")
        .await
        .unwrap_err()
        .is_not_found());

    // Rewrite the trust policy, the description and session length, the boundary and tags.
    let rotated = dev_user_trust("SecondExternalId6789");
    iam.update_trust_policy(&name, &rotated).await.unwrap();
    iam.update_role(&name, Some("changed"), Some(3600))
        .await
        .unwrap();
    iam.set_permissions_boundary(&name, None).await.unwrap();
    iam.tag_role(
        &name,
        &BTreeMap::from([("owner".to_string(), "platform".to_string())]),
    )
    .await
    .unwrap();
    iam.untag_role(&name, &["team".to_string()]).await.unwrap();
    let role = iam.get_role(&name).await.unwrap();
    assert_eq!(role.trust_policy, rotated);
    assert_eq!(role.description.as_deref(), Some("changed"));
    assert_eq!(role.max_session_duration, Some(3600));
    assert_eq!(role.permissions_boundary, None);
    assert_eq!(
        role.tags,
        BTreeMap::from([("owner".to_string(), "platform".to_string())])
    );

    // Tear down everything.
    iam.delete_role_policy(&name, "S3DevAccess").await.unwrap();
    iam.detach_role_policy(&name, "arn:aws:iam::aws:policy/ReadOnlyAccess")
        .await
        .unwrap();
    iam.detach_role_policy(&name, &custom).await.unwrap();
    assert!(iam
        .list_attached_role_policies(&name)
        .await
        .unwrap()
        .is_empty());
    iam.delete_role(&name).await.unwrap();
    iam.delete_policy(&custom).await.unwrap();
    iam.delete_policy(&boundary).await.unwrap();
    assert!(iam.get_role(&name).await.unwrap_err().is_not_found());
    assert!(
        iam.delete_role(&name).await.unwrap_err().is_not_found(),
        "a second delete says NotFound"
    );
    assert!(!iam.policy_exists(&custom).await.unwrap());
}

#[tokio::test]
async fn roles_and_policies_in_the_hub() {
    role_lifecycle(&access().await, HUB_ACCOUNT).await;
}

#[tokio::test]
async fn roles_and_policies_in_a_member_account_land_there() {
    let access = access().await;
    role_lifecycle(&access, MEMBER_ACCOUNT).await;

    // And something created there is not in the hub.
    let member = access.iam(&account(MEMBER_ACCOUNT)).await.unwrap();
    let hub = access.iam(&account(HUB_ACCOUNT)).await.unwrap();
    let name = unique("OnlyInMember");
    let role = member
        .create_role(&RoleDefinition {
            name: name.clone(),
            path: "/trustlink/".into(),
            description: None,
            max_session_duration: None,
            trust_policy: dev_user_trust("UniqueExternalId12345"),
            permissions_boundary: None,
            tags: BTreeMap::new(),
        })
        .await
        .unwrap();
    assert!(role
        .arn
        .starts_with(&format!("arn:aws:iam::{MEMBER_ACCOUNT}:")));
    assert!(hub.get_role(&name).await.unwrap_err().is_not_found());
    let me = access
        .sts(&account(MEMBER_ACCOUNT))
        .await
        .unwrap()
        .caller_identity()
        .await
        .unwrap();
    assert_eq!(me.account, MEMBER_ACCOUNT);
    assert!(
        me.arn.contains(":assumed-role/TrustLinkAdmin/"),
        "{}",
        me.arn
    );
    member.delete_role(&name).await.unwrap();
}

/// The trusted side: a user, the grant attached to it, its access keys.
async fn user_lifecycle(access: &AccountAccess, account_id: &str) -> Vec<String> {
    let iam = access.iam(&account(account_id)).await.unwrap();
    let user = unique("DevUser");
    let tags = BTreeMap::from([("trustlink:link".to_string(), "adapters".to_string())]);
    let created = iam.create_user("/", &user, &tags).await.unwrap();
    assert_eq!(
        created.arn,
        format!("arn:aws:iam::{account_id}:user/{user}")
    );
    let got = iam.get_user(&user).await.unwrap();
    assert_eq!(got.tags, tags);

    let role_arn = format!(
        "arn:aws:iam::111122223333:role/cross-account/{}",
        unique("Target")
    );
    let grant = grant_policy(&role_arn, &["UniqueExternalId12345"]);
    let grant_arn = iam
        .create_policy("/trustlink/", &unique("TrustLink-grant-"), "grant", &grant)
        .await
        .unwrap();
    iam.attach_user_policy(&user, &grant_arn).await.unwrap();
    assert_eq!(
        iam.list_attached_user_policies(&user).await.unwrap(),
        vec![grant_arn.clone()]
    );
    assert_eq!(iam.get_policy_document(&grant_arn).await.unwrap(), grant);

    let first = iam.create_access_key(&user).await.unwrap();
    let second = iam.create_access_key(&user).await.unwrap();
    let third = iam.create_access_key(&user).await.unwrap_err();
    assert_eq!(third.kind(), ErrorKind::LimitExceeded, "{third}");
    let keys = iam.list_access_keys(&user).await.unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys
        .iter()
        .all(|k| k.status == KeyStatus::Active && k.created > 0));

    // The new key works, as its owner.
    let as_user = access.sts_as(&Credentials {
        access_key_id: first.id.clone(),
        secret_access_key: first.secret.clone(),
        session_token: None,
    });
    let me = as_user.caller_identity().await.unwrap();
    assert_eq!(me.arn, created.arn);
    assert!(
        iam.access_key_last_used(&first.id).await.unwrap().is_some(),
        "moto records the use"
    );
    assert_eq!(iam.access_key_last_used(&second.id).await.unwrap(), None);

    iam.set_access_key_status(&user, &first.id, KeyStatus::Inactive)
        .await
        .unwrap();
    let keys = iam.list_access_keys(&user).await.unwrap();
    assert_eq!(
        keys.iter().find(|k| k.id == first.id).unwrap().status,
        KeyStatus::Inactive
    );
    iam.delete_access_key(&user, &first.id).await.unwrap();
    iam.delete_access_key(&user, &second.id).await.unwrap();
    assert!(iam.list_access_keys(&user).await.unwrap().is_empty());
    assert!(iam
        .delete_access_key(&user, &first.id)
        .await
        .unwrap_err()
        .is_not_found());

    iam.detach_user_policy(&user, &grant_arn).await.unwrap();
    iam.delete_policy(&grant_arn).await.unwrap();
    iam.delete_user(&user).await.unwrap();
    assert!(iam.get_user(&user).await.unwrap_err().is_not_found());
    vec![
        first.secret.expose().to_string(),
        second.secret.expose().to_string(),
    ]
}

#[tokio::test]
async fn users_grants_and_access_keys() {
    let logs = capture_logs();
    let access = access().await;
    let mut secrets = user_lifecycle(&access, HUB_ACCOUNT).await;
    secrets.extend(user_lifecycle(&access, MEMBER_ACCOUNT).await);
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_no_secret_in("the logs", &logs.text(), &refs);
}

#[tokio::test]
async fn secrets_and_staging_labels() {
    let logs = capture_logs();
    let secrets = access().await.secrets();
    let name = format!("trustlink/{}", unique("adapters-"));
    let v1 = SecretText::new(r#"{"ExternalId":"FirstExternalIdValue1"}"#);
    let v2 = SecretText::new(r#"{"ExternalId":"SecondExternalIdValue2"}"#);
    let tags = BTreeMap::from([("trustlink:link".to_string(), "adapters".to_string())]);
    let arn = secrets
        .create_secret(
            &name,
            "external id",
            &v1,
            &tags,
            None,
            Some("0f8a1c4e-0000-4000-8000-000000000001"),
        )
        .await
        .unwrap();
    assert!(arn.starts_with(&format!(
        "arn:aws:secretsmanager:{REGION}:{HUB_ACCOUNT}:secret:{name}"
    )));
    let dup = secrets
        .create_secret(&name, "external id", &v1, &tags, None, None)
        .await
        .unwrap_err();
    assert!(dup.is_already_exists(), "{dup}");

    let current = secrets.get_secret_value(&name, AWSCURRENT).await.unwrap();
    assert_eq!(current.text, v1);
    let token = "0f8a1c4e-0000-4000-8000-000000000002";
    let pending_id = secrets
        .put_secret_value(&name, &v2, &[AWSPENDING], token)
        .await
        .unwrap();
    // The same request again is a no-op (how a retried rotation step stays idempotent).
    assert_eq!(
        secrets
            .put_secret_value(&name, &v2, &[AWSPENDING], token)
            .await
            .unwrap(),
        pending_id
    );
    assert_eq!(
        secrets
            .get_secret_value(&name, AWSPENDING)
            .await
            .unwrap()
            .text,
        v2
    );
    assert_eq!(
        secrets
            .get_secret_value(&name, AWSCURRENT)
            .await
            .unwrap()
            .text,
        v1
    );

    secrets
        .move_stage(&name, AWSCURRENT, &pending_id, Some(&current.version_id))
        .await
        .unwrap();
    assert_eq!(
        secrets
            .get_secret_value(&name, AWSCURRENT)
            .await
            .unwrap()
            .text,
        v2
    );
    assert_eq!(
        secrets
            .get_secret_value(&name, AWSPREVIOUS)
            .await
            .unwrap()
            .text,
        v1
    );
    secrets
        .remove_stage(&name, AWSPENDING, &pending_id)
        .await
        .unwrap();
    assert!(secrets
        .get_secret_value(&name, AWSPENDING)
        .await
        .unwrap_err()
        .is_not_found());

    let described = secrets.describe_secret(&name).await.unwrap();
    assert_eq!(described.arn, arn);
    assert_eq!(described.tags, tags);
    assert!(!described.scheduled_for_deletion);
    let stages_of = |id: &str| {
        described
            .versions
            .iter()
            .find(|v| v.version_id == id)
            .unwrap()
            .stages
            .clone()
    };
    assert_eq!(stages_of(&pending_id), vec![AWSCURRENT]);
    assert_eq!(stages_of(&current.version_id), vec![AWSPREVIOUS]);

    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::444455556666:user/DevUser"},
        "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]});
    secrets.put_resource_policy(&name, &policy).await.unwrap();
    secrets
        .tag_secret(
            &name,
            &BTreeMap::from([("trustlink:grace-hours".to_string(), "24".to_string())]),
        )
        .await
        .unwrap();
    let listed = secrets.list_secrets("trustlink/").await.unwrap();
    let entry = listed
        .iter()
        .find(|s| s.name == name)
        .expect("listed by prefix");
    assert_eq!(
        entry.tags.get("trustlink:grace-hours").map(String::as_str),
        Some("24")
    );
    assert!(secrets
        .list_secrets("nottrustlink/")
        .await
        .unwrap()
        .iter()
        .all(|s| s.name != name));

    secrets.delete_secret(&name, Some(7)).await.unwrap();
    assert!(
        secrets
            .describe_secret(&name)
            .await
            .unwrap()
            .scheduled_for_deletion
    );
    secrets.restore_secret(&name).await.unwrap();
    assert!(
        !secrets
            .describe_secret(&name)
            .await
            .unwrap()
            .scheduled_for_deletion
    );
    secrets.delete_secret(&name, None).await.unwrap();
    assert!(secrets
        .describe_secret(&name)
        .await
        .unwrap_err()
        .is_not_found());

    assert_no_secret_in(
        "the logs",
        &logs.text(),
        &["FirstExternalIdValue1", "SecondExternalIdValue2"],
    );
}

#[tokio::test]
async fn assume_role_and_call_as_the_role() {
    let logs = capture_logs();
    let access = access().await;
    let sts = access.sts(&account(HUB_ACCOUNT)).await.unwrap();
    let me = sts.caller_identity().await.unwrap();
    assert_eq!(me.account, HUB_ACCOUNT);

    let role_arn = format!("arn:aws:iam::{MEMBER_ACCOUNT}:role/trustlink/Consumer");
    let creds = sts
        .assume_role(&role_arn, "s", Some("UniqueExternalId12345"))
        .await
        .unwrap();
    let shown = format!("{creds:?}");
    assert!(
        !shown.contains(creds.secret_access_key.expose()),
        "Debug of credentials redacts the secret key"
    );
    let as_role = access.sts_as(&creds).caller_identity().await.unwrap();
    assert_eq!(as_role.account, MEMBER_ACCOUNT);
    assert_eq!(
        as_role.arn,
        format!("arn:aws:sts::{MEMBER_ACCOUNT}:assumed-role/Consumer/s")
    );

    let session = creds.session_token.as_ref().unwrap().expose().to_string();
    assert_no_secret_in(
        "the logs",
        &logs.text(),
        &[creds.secret_access_key.expose(), &session],
    );
}

#[tokio::test]
async fn errors_name_the_operation_and_never_carry_a_secret() {
    let access = access().await;
    let iam = access.iam(&account(HUB_ACCOUNT)).await.unwrap();
    let e = iam.get_role("NoSuchRoleAnywhere").await.unwrap_err();
    assert!(e.is_not_found());
    assert!(e.to_string().starts_with("iam:GetRole: not found:"), "{e}");

    let secrets = access.secrets();
    let name = format!("trustlink/{}", unique("errors-"));
    let value = SecretText::new(r#"{"ExternalId":"NeverInAnErrorText99"}"#);
    secrets
        .create_secret(&name, "d", &value, &BTreeMap::new(), None, None)
        .await
        .unwrap();
    let e = secrets
        .create_secret(&name, "d", &value, &BTreeMap::new(), None, None)
        .await
        .unwrap_err();
    assert_no_secret_in("an error", &format!("{e} {e:?}"), &["NeverInAnErrorText99"]);
    secrets.delete_secret(&name, None).await.unwrap();
}
