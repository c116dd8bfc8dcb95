//! `Custom::TrustLink` end to end: the real handler, CloudFormation played over real HTTP on
//! loopback, AWS played by moto. Accounts: hub 123456789012, trusting 111122223333, trusted
//! 444455556666 (both reached through their TrustLinkAdmin role).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trustlink_aws::ports::*;
use trustlink_aws::AccountAccess;
use trustlink_domain::policy::{self, grant_policy, trust_policy};
use trustlink_domain::record::{AccessKeySecret, ExternalIdSecret};
use trustlink_domain::{AccountId, Conditions, LinkSpec, Principal, SecretText};
use trustlink_tests::cfn::request;
use trustlink_tests::*;

use trustlink_tests::fixtures::{access, account, reason, status, TRUSTED, TRUSTING};
use trustlink_tests::resource::Harness;

/// The classic scenario, with names unique to this test.
fn classic(link: &str, role: &str, user: &str) -> Value {
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
                "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                "Resource": ["arn:aws:s3:::dev-*", "arn:aws:s3:::dev-*/*"]}]}},
            "Tags": [{"Key": "team", "Value": "data"}]
        },
        "TrustedPrincipal": format!("arn:aws:iam::{TRUSTED}:user/{user}"),
        "ExternalId": format!("UniqueExternalId{}", link.len() * 7919),
        "Conditions": {"RequireMfa": "true"},
        "TrustedSide": {"Grant": "true", "CreateUser": "true", "AccessKey": "true"},
        "Rotation": {"ExternalIdDays": "90", "AccessKeyDays": "90", "GraceHours": "24"}
    })
}

async fn secret_value(access: &AccountAccess, name: &str, stage: &str) -> SecretText {
    access
        .secrets()
        .get_secret_value(name, stage)
        .await
        .unwrap()
        .text
}

/// Asserts nothing of link `link` (role `role`, user `user`) exists in either account.
async fn assert_nothing_left(access: &AccountAccess, link: &str, role: &str, user: &str) {
    let trusting = access.iam(&account(TRUSTING)).await.unwrap();
    let trusted = access.iam(&account(TRUSTED)).await.unwrap();
    assert!(
        trusting.get_role(role).await.unwrap_err().is_not_found(),
        "role {role} left behind"
    );
    assert!(
        trusted.get_user(user).await.unwrap_err().is_not_found(),
        "user {user} left behind"
    );
    let grant = format!("arn:aws:iam::{TRUSTED}:policy/trustlink/TrustLink-{link}");
    assert!(
        !trusted.policy_exists(&grant).await.unwrap(),
        "grant {grant} left behind"
    );
    for name in [
        format!("trustlink/{link}"),
        format!("trustlink/{link}/access-key"),
    ] {
        match access.secrets().describe_secret(&name).await {
            Err(e) => assert!(e.is_not_found(), "{e}"),
            Ok(d) => assert!(d.scheduled_for_deletion, "secret {name} left behind"),
        }
    }
}

/// The classic runbook's check, with the AWS CLI: assume the role with the link's key and
/// external ID, then ask who we are.
fn runbook_check(key: &AccessKeySecret, role_arn: &str, external_id: &str) -> String {
    let aws = workspace_root().join(".venv/bin/aws");
    assert!(
        aws.exists(),
        "the AWS CLI is not installed: run `make setup`"
    );
    let run = |args: &[&str], key_id: &str, secret: &str, token: Option<&str>| -> Value {
        let mut cmd = std::process::Command::new(&aws);
        cmd.args(args).args(["--output", "json"]);
        for (k, v) in function_env() {
            cmd.env(k, v);
        }
        cmd.env("AWS_ACCESS_KEY_ID", key_id)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env_remove("AWS_PROFILE");
        match token {
            Some(t) => cmd.env("AWS_SESSION_TOKEN", t),
            None => cmd.env_remove("AWS_SESSION_TOKEN"),
        };
        let out = cmd.output().expect("run the aws CLI");
        assert!(
            out.status.success(),
            "aws {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("aws prints JSON")
    };
    let assumed = run(
        // STS requires a session name of at least two characters.
        &[
            "sts",
            "assume-role",
            "--role-arn",
            role_arn,
            "--role-session-name",
            "runbook",
            "--external-id",
            external_id,
        ],
        &key.access_key_id,
        key.secret_access_key.expose(),
        None,
    );
    let c = &assumed["Credentials"];
    let me = run(
        &["sts", "get-caller-identity"],
        c["AccessKeyId"].as_str().unwrap(),
        c["SecretAccessKey"].as_str().unwrap(),
        c["SessionToken"].as_str(),
    );
    me["Arn"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn lifecycle_create_update_in_place_replace_delete() {
    let logs = capture_logs();
    let access = access().await;
    let h = Harness::new(access.clone()).await;
    let (link, role, user) = (
        unique("dev-cross-account-"),
        unique("CrossAccountDeveloperRole"),
        unique("DevUser"),
    );
    let props = classic(&link, &role, &user);
    let external_id = props["ExternalId"].as_str().unwrap().to_string();
    remember_secret(&external_id);

    // Create.
    let created = h.send("Create", None, &props, None).await;
    assert_eq!(status(&created), "SUCCESS", "{}", reason(&created));
    let role_arn = format!("arn:aws:iam::{TRUSTING}:role/cross-account/{role}");
    assert_eq!(created["PhysicalResourceId"], json!(role_arn));
    assert_eq!(created["NoEcho"], json!(true));
    let data = &created["Data"];
    assert_eq!(data["RoleArn"], json!(role_arn));
    assert_eq!(data["RoleName"], json!(role));
    assert_eq!(data["ExternalId"], json!(external_id));
    assert!(data["ExternalIdSecretArn"]
        .as_str()
        .unwrap()
        .contains(&format!(":secret:trustlink/{link}")));
    assert!(data["AccessKeySecretArn"]
        .as_str()
        .unwrap()
        .contains(&format!(":secret:trustlink/{link}/access-key")));

    // Exactly the expected role, trust policy and policies in the trusting account.
    let trusting = access.iam(&account(TRUSTING)).await.unwrap();
    let trusted = access.iam(&account(TRUSTED)).await.unwrap();
    let got = trusting.get_role(&role).await.unwrap();
    let principal = Principal::parse("p", &format!("arn:aws:iam::{TRUSTED}:user/{user}")).unwrap();
    let mfa = Conditions {
        require_mfa: true,
        ..Default::default()
    };
    assert_eq!(
        got.trust_policy,
        trust_policy(&principal, &[&external_id], &mfa)
    );
    assert_eq!(got.path, "/cross-account/");
    assert_eq!(got.max_session_duration, Some(3600));
    assert_eq!(got.tags.get("team").map(String::as_str), Some("data"));
    assert_eq!(
        trusting.list_attached_role_policies(&role).await.unwrap(),
        vec!["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    );
    assert_eq!(
        trusting.list_role_policies(&role).await.unwrap(),
        vec!["S3DevAccess"]
    );
    assert_eq!(
        trusting
            .get_role_policy(&role, "S3DevAccess")
            .await
            .unwrap(),
        props["Role"]["InlinePolicies"]["S3DevAccess"]
    );

    // The trusted side: the user, its grant on exactly this role, one key.
    let grant_arn = format!("arn:aws:iam::{TRUSTED}:policy/trustlink/TrustLink-{link}");
    assert_eq!(
        trusted
            .get_user(&user)
            .await
            .unwrap()
            .tags
            .get("trustlink:link"),
        Some(&link)
    );
    assert_eq!(
        trusted.list_attached_user_policies(&user).await.unwrap(),
        vec![grant_arn.clone()]
    );
    assert_eq!(
        trusted.get_policy_document(&grant_arn).await.unwrap(),
        grant_policy(&role_arn, &[&external_id])
    );
    let keys = trusted.list_access_keys(&user).await.unwrap();
    assert_eq!(keys.len(), 1);

    // The secrets: what a consumer needs.
    let id_secret = ExternalIdSecret::parse(
        &secret_value(&access, &format!("trustlink/{link}"), AWSCURRENT).await,
    )
    .unwrap();
    assert_eq!(id_secret.external_id.expose(), external_id);
    assert_eq!(id_secret.role_arn, role_arn);
    assert_eq!(id_secret.trusted_principal, principal.arn());
    let key = AccessKeySecret::parse(
        &secret_value(&access, &format!("trustlink/{link}/access-key"), AWSCURRENT).await,
    )
    .unwrap();
    remember_secret(key.secret_access_key.expose());
    assert_eq!(key.access_key_id, keys[0].id);
    assert_eq!(key.user_name, user);

    // The runbook's check with the AWS CLI.
    assert_eq!(
        runbook_check(&key, &role_arn, &external_id),
        format!("arn:aws:sts::{TRUSTING}:assumed-role/{role}/runbook")
    );

    // In-place update: a policy added, one removed, a condition changed.
    let mut updated = props.clone();
    updated["Role"]["ManagedPolicyArns"] = json!([
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "arn:aws:iam::aws:policy/SecurityAudit"
    ]);
    updated["Role"]["InlinePolicies"] = json!({"LogsRead": {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "logs:GetLogEvents", "Resource": "*"}]}});
    updated["Conditions"] = json!({"RequireMfa": "false", "SourceIpCidrs": ["203.0.113.0/24"]});
    let r = h
        .send("Update", Some(&role_arn), &updated, Some(&props))
        .await;
    assert_eq!(status(&r), "SUCCESS", "{}", reason(&r));
    assert_eq!(
        r["PhysicalResourceId"],
        json!(role_arn),
        "an in-place update keeps the physical id"
    );
    let mut attached = trusting.list_attached_role_policies(&role).await.unwrap();
    attached.sort();
    assert_eq!(
        attached,
        vec![
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "arn:aws:iam::aws:policy/SecurityAudit"
        ]
    );
    assert_eq!(
        trusting.list_role_policies(&role).await.unwrap(),
        vec!["LogsRead"]
    );
    let ip_only = Conditions {
        source_ip_cidrs: vec!["203.0.113.0/24".into()],
        ..Default::default()
    };
    assert_eq!(
        trusting.get_role(&role).await.unwrap().trust_policy,
        trust_policy(&principal, &[&external_id], &ip_only)
    );
    assert_eq!(
        trusted.list_access_keys(&user).await.unwrap()[0].id,
        key.access_key_id,
        "the key is kept"
    );

    // Replacing update: a new role name is a new role and a new physical id.
    let new_role = unique("CrossAccountDeveloperRoleV2");
    let mut replaced = updated.clone();
    replaced["Role"]["Name"] = json!(new_role);
    let r = h
        .send("Update", Some(&role_arn), &replaced, Some(&updated))
        .await;
    assert_eq!(status(&r), "SUCCESS", "{}", reason(&r));
    let new_arn = format!("arn:aws:iam::{TRUSTING}:role/cross-account/{new_role}");
    assert_eq!(r["PhysicalResourceId"], json!(new_arn));
    assert!(
        trusting.get_role(&role).await.is_ok(),
        "the old role stays until CloudFormation deletes it"
    );
    assert!(trusting.get_role(&new_role).await.is_ok());
    assert_eq!(
        trusted.get_policy_document(&grant_arn).await.unwrap(),
        grant_policy(&new_arn, &[&external_id])
    );
    let id_secret = ExternalIdSecret::parse(
        &secret_value(&access, &format!("trustlink/{link}"), AWSCURRENT).await,
    )
    .unwrap();
    assert_eq!(id_secret.role_arn, new_arn);
    assert_eq!(
        id_secret.external_id.expose(),
        external_id,
        "the external ID survives the replacement"
    );

    // CloudFormation's cleanup deletes the old resource: only the old role goes.
    let r = h.send("Delete", Some(&role_arn), &updated, None).await;
    assert_eq!(status(&r), "SUCCESS", "{}", reason(&r));
    assert_eq!(r["PhysicalResourceId"], json!(role_arn));
    assert!(trusting.get_role(&role).await.unwrap_err().is_not_found());
    assert!(trusting.get_role(&new_role).await.is_ok());
    assert!(
        !access
            .secrets()
            .describe_secret(&format!("trustlink/{link}"))
            .await
            .unwrap()
            .scheduled_for_deletion
    );
    assert!(trusted.get_user(&user).await.is_ok());

    // Delete: nothing the link owned is left, in either account.
    let r = h.send("Delete", Some(&new_arn), &replaced, None).await;
    assert_eq!(status(&r), "SUCCESS", "{}", reason(&r));
    assert_nothing_left(&access, &link, &new_role, &user).await;
    // A second Delete of something already gone succeeds.
    let r = h.send("Delete", Some(&new_arn), &replaced, None).await;
    assert_eq!(status(&r), "SUCCESS", "{}", reason(&r));

    assert_logs_clean(&logs);
}

#[tokio::test]
async fn partner_link_generates_an_external_id_and_builds_only_the_trusting_end() {
    let logs = capture_logs();
    let access = access().await;
    let h = Harness::new(access.clone()).await;
    let link = unique("partner-readonly-");
    let props = json!({"LinkName": link, "TrustingAccount": TRUSTING, "TrustedPrincipal": TRUSTED,
        "Role": {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}});
    let r = h.send("Create", None, &props, None).await;
    assert_eq!(status(&r), "SUCCESS", "{}", reason(&r));
    let generated = r["Data"]["ExternalId"].as_str().unwrap().to_string();
    remember_secret(&generated);
    assert!(generated.len() >= 32);
    assert_eq!(
        r["PhysicalResourceId"],
        json!(format!("arn:aws:iam::{TRUSTING}:role/trustlink/{link}"))
    );
    assert!(r["Data"].get("AccessKeySecretArn").is_none());
    let trust = access
        .iam(&account(TRUSTING))
        .await
        .unwrap()
        .get_role(&link)
        .await
        .unwrap()
        .trust_policy;
    assert!(policy::admits(
        &trust,
        &format!("arn:aws:iam::{TRUSTED}:root"),
        &generated
    ));
    assert_eq!(
        policy::accepted_external_ids(&trust),
        vec![generated.clone()]
    );

    let r = h
        .send(
            "Delete",
            Some(r["PhysicalResourceId"].as_str().unwrap()),
            &props,
            None,
        )
        .await;
    assert_eq!(status(&r), "SUCCESS", "{}", reason(&r));
    assert!(access
        .iam(&account(TRUSTING))
        .await
        .unwrap()
        .get_role(&link)
        .await
        .unwrap_err()
        .is_not_found());
    assert_logs_clean(&logs);
}

#[tokio::test]
async fn bad_requests_fail_with_a_reason_and_leave_nothing() {
    let logs = capture_logs();
    let access = access().await;
    let h = Harness::new(access.clone()).await;
    let (link, role, user) = (unique("bad-"), unique("BadRole"), unique("BadUser"));
    let base = classic(&link, &role, &user);
    let with = |pointer: &str, v: Value| {
        let mut p = base.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        p.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(key.to_string(), v);
        p
    };
    let without = |pointer: &str| {
        let mut p = base.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        p.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(key);
        p
    };
    // A role of the same name that is not this link's: it must survive the failed Create.
    let squatter = unique("Squatter");
    let trusting = access.iam(&account(TRUSTING)).await.unwrap();
    trusting
        .create_role(&RoleDefinition {
            name: squatter.clone(),
            path: "/cross-account/".into(),
            description: None,
            max_session_duration: None,
            trust_policy: trust_policy(
                &Principal::parse("p", TRUSTED).unwrap(),
                &["SomeoneElsesId"],
                &Conditions::default(),
            ),
            permissions_boundary: None,
            tags: Default::default(),
        })
        .await
        .unwrap();
    let no_user = format!("TrustedPrincipal: user {user} does not exist in account {TRUSTED}");
    let squatted = format!(
        "Role.Name: role arn:aws:iam::{TRUSTING}:role/cross-account/{squatter} already exists"
    );
    let cases: Vec<(Value, &str)> = vec![
        (with("/TrustingAccount", json!("11112222333")), "TrustingAccount: '11112222333' is not an AWS account id"),
        (with("/TrustedPrincipal", json!("*")), "TrustedPrincipal: a wildcard principal is refused"),
        (with("/TrustedPrincipal", json!("arn:aws:iam::*:root")), "a wildcard principal is refused"),
        (with("/ExternalId", json!("has a space")), "ExternalId: may contain only letters, digits and _+=,.@:/- (found whitespace)"),
        (with("/ExternalId", json!("x")), "ExternalId: must be 2 to 1224 characters long (got 1)"),
        (with("/ExternalId", json!("x".repeat(1225))), "ExternalId: must be 2 to 1224 characters long (got 1225)"),
        (with("/Role/MaxSessionDuration", json!("100")), "Role.MaxSessionDuration: must be between 3600 and 43200 seconds (got 100)"),
        (with("/Conditions", json!({"NotBefore": "2026-12-31T00:00:00Z", "NotAfter": "2026-01-01T00:00:00Z"})), "Conditions.NotAfter: must be later than NotBefore"),
        (with("/Colour", json!("blue")), "Colour: unknown property"),
        (with("/Role/InlinePolicies", json!({"S3": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}})), "Role.InlinePolicies.S3.Statement[0].Resource: is required (a statement needs exactly one of Resource or NotResource)"),
        (with("/Role/ManagedPolicyArns", json!(["arn:aws:iam::aws:policy/NoSuchPolicyAnywhere"])), "Role.ManagedPolicyArns[0]: managed policy 'arn:aws:iam::aws:policy/NoSuchPolicyAnywhere' does not exist"),
        (with("/Role/ManagedPolicyArns", json!(["arn:aws:iam::aws:policy/AdministratorAccess"])), "Role.ManagedPolicyArns[0]: 'arn:aws:iam::aws:policy/AdministratorAccess' is not in this deployment's managed policy allow-list"),
        (with("/Conditions", json!({"SourceIpCidrs": (0..120).map(|i| format!("10.{i}.0.0/16")).collect::<Vec<_>>()})), "TrustPolicy: would be"),
        (with("/Role/Name", json!("r".repeat(65))), "Role.Name: must be 1 to 64 characters long (got 65)"),
        (with("/Role/Path", json!("/not-allowed/")), "Role.Path: '/not-allowed/' is outside the paths this deployment may create roles under"),
        (without("/LinkName"), "LinkName: is required"),
        (without("/TrustedPrincipal"), "TrustedPrincipal: is required"),
        (with("/Conditions", json!({"RequireMfa": "maybe"})), "Conditions.RequireMfa: must be true or false"),
        (with("/Conditions", json!({"SourceIpCidrs": ["203.0.113.0/33"]})), "Conditions.SourceIpCidrs[0]: '203.0.113.0/33' is not an IPv4 or IPv6 CIDR block"),
        (with("/TrustedSide", json!({"AccessKey": "true"})), "TrustedSide.AccessKey: needs Grant: true"),
        (with("/TrustedSide", json!({"Grant": "true"})), &no_user),
        (with("/Role/Name", json!(squatter)), &squatted),
        (with("/Role/Tags", json!([{"Key": "aws:reserved", "Value": "x"}])), "Role.Tags[0].Key: 'aws:reserved' uses the reserved prefix aws:"),
        (with("/Role", json!("CrossAccountDeveloperRole")), "Role: must be an object"),
    ];
    let mut failed_ids = Vec::new();
    for (props, expected) in &cases {
        let r = h.send("Create", None, props, None).await;
        assert_eq!(status(&r), "FAILED", "expected FAILED for {expected}");
        assert!(
            reason(&r).contains(expected),
            "\n got: {}\nwant: {expected}",
            reason(&r)
        );
        assert!(
            !reason(&r).contains("UniqueExternalId"),
            "the reason carries no external ID"
        );
        failed_ids.push(r["PhysicalResourceId"].as_str().unwrap().to_string());
    }
    assert!(cases.len() >= 20);

    // Malformed requests that still carry a ResponseURL get FAILED too.
    for (event, expected) in [
        (
            json!({"RequestType": "Upsert", "ResponseURL": h.cfn.response_url("malformed-1"), "RequestId": "malformed-1",
                "StackId": "s", "LogicalResourceId": "L", "ResourceType": "Custom::TrustLink", "ResourceProperties": base}),
            "Upsert",
        ),
        (
            json!({"ResponseURL": h.cfn.response_url("malformed-2"), "RequestId": "malformed-2", "StackId": "s",
                "LogicalResourceId": "L", "ResourceType": "Custom::TrustLink", "ResourceProperties": base}),
            "RequestType",
        ),
        (
            json!({"RequestType": "Create", "ResponseURL": h.cfn.response_url("malformed-3"), "RequestId": "malformed-3", "StackId": "s",
                "LogicalResourceId": "L", "ResourceType": "Custom::TrustLink", "ResourceProperties": "{not json"}),
            "must be an object",
        ),
    ] {
        let id = event["RequestId"].as_str().unwrap().to_string();
        let _ = h.invoke(event, Duration::from_secs(30)).await;
        let r = h.cfn.response(&id, Duration::from_secs(5)).await;
        assert_eq!(status(&r), "FAILED");
        assert!(reason(&r).contains(expected), "{}", reason(&r));
    }
    // No ResponseURL, or not a request at all: nothing can be answered; the invocation errors.
    let mut no_url = request("Create", "no-url", None, &base, None, "unused");
    no_url.as_object_mut().unwrap().remove("ResponseURL");
    assert!(h.invoke(no_url, Duration::from_secs(30)).await.is_err());
    assert!(h
        .invoke(json!("this is not a request"), Duration::from_secs(30))
        .await
        .is_err());

    // Nothing was left behind, in either account, and the squatter's role is untouched.
    assert_nothing_left(&access, &link, &role, &user).await;
    assert!(
        trusting.get_role(&squatter).await.is_ok(),
        "a role the link does not own is never deleted"
    );

    // A later Delete of a failed Create succeeds.
    for id in failed_ids.iter().take(3) {
        let r = h.send("Delete", Some(id), &base, None).await;
        assert_eq!(status(&r), "SUCCESS", "{}", reason(&r));
    }
    assert!(trusting.get_role(&squatter).await.is_ok());
    trusting.delete_role(&squatter).await.unwrap();
    assert_logs_clean(&logs);
}

#[tokio::test]
async fn duplicate_create_delivers_one_link() {
    let logs = capture_logs();
    let access = access().await;
    let h = Harness::new(access.clone()).await;
    let (link, role, user) = (unique("dup-"), unique("DupRole"), unique("DupUser"));
    let mut props = classic(&link, &role, &user);
    props.as_object_mut().unwrap().remove("ExternalId");
    let id = h.next_id();
    let event = request("Create", &id, None, &props, None, &h.cfn.response_url(&id));

    // CloudFormation may deliver the same request twice, even at the same time.
    let (a, b) = tokio::join!(
        h.invoke(event.clone(), Duration::from_secs(120)),
        h.invoke(event.clone(), Duration::from_secs(120))
    );
    a.unwrap();
    b.unwrap();
    h.invoke(event, Duration::from_secs(120)).await.unwrap();
    let responses = h.cfn.responses(&id);
    assert_eq!(responses.len(), 3);
    for r in &responses {
        assert_eq!(status(r), "SUCCESS", "{}", reason(r));
        assert_eq!(r["PhysicalResourceId"], responses[0]["PhysicalResourceId"]);
        assert_eq!(
            r["Data"]["ExternalId"], responses[0]["Data"]["ExternalId"],
            "one external ID"
        );
        assert_eq!(
            r["Data"]["AccessKeySecretArn"],
            responses[0]["Data"]["AccessKeySecretArn"]
        );
    }
    remember_secret(responses[0]["Data"]["ExternalId"].as_str().unwrap());
    let trusted = access.iam(&account(TRUSTED)).await.unwrap();
    let keys = trusted.list_access_keys(&user).await.unwrap();
    assert_eq!(keys.len(), 1, "one access key, not one per delivery");
    let key = AccessKeySecret::parse(
        &secret_value(&access, &format!("trustlink/{link}/access-key"), AWSCURRENT).await,
    )
    .unwrap();
    remember_secret(key.secret_access_key.expose());
    assert_eq!(key.access_key_id, keys[0].id);

    let r = h
        .send(
            "Delete",
            responses[0]["PhysicalResourceId"].as_str(),
            &props,
            None,
        )
        .await;
    assert_eq!(status(&r), "SUCCESS", "{}", reason(&r));
    assert_nothing_left(&access, &link, &role, &user).await;
    assert_logs_clean(&logs);
}

/// A cloud that counts every call, panics or stalls on demand.
#[derive(Clone)]
struct Instrumented {
    inner: AccountAccess,
    calls: Arc<AtomicU32>,
    panic: bool,
    stall: Option<Duration>,
}

impl Cloud for Instrumented {
    type Iam = <AccountAccess as Cloud>::Iam;
    type Sts = <AccountAccess as Cloud>::Sts;
    type Secrets = <AccountAccess as Cloud>::Secrets;

    async fn home_account(&self) -> trustlink_aws::ports::AwsResult<AccountId> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(d) = self.stall {
            tokio::time::sleep(d).await;
        }
        Cloud::home_account(&self.inner).await
    }
    async fn iam(&self, account: &AccountId) -> trustlink_aws::ports::AwsResult<Self::Iam> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.panic {
            panic!("injected failure while holding ExternalId=UniqueExternalIdPanic99");
        }
        if let Some(d) = self.stall {
            tokio::time::sleep(d).await;
        }
        Cloud::iam(&self.inner, account).await
    }
    fn secrets(&self) -> Self::Secrets {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Cloud::secrets(&self.inner)
    }
    fn sts_as(&self, credentials: &Credentials) -> Self::Sts {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Cloud::sts_as(&self.inner, credentials)
    }
}

async fn instrumented(
    panic: bool,
    stall: Option<Duration>,
) -> (Harness<Instrumented>, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let cloud = Instrumented {
        inner: access().await,
        calls: calls.clone(),
        panic,
        stall,
    };
    (Harness::new(cloud).await, calls)
}

#[tokio::test]
async fn delete_of_a_failed_create_answers_success_without_touching_iam() {
    let logs = capture_logs();
    let (h, calls) = instrumented(false, None).await;
    let props = with_bad_account(classic(
        &unique("never-"),
        &unique("NeverRole"),
        &unique("NeverUser"),
    ));
    let r = h.send("Create", None, &props, None).await;
    assert_eq!(status(&r), "FAILED");
    let physical = r["PhysicalResourceId"].as_str().unwrap().to_string();
    assert!(
        cfn_custom_resource::is_failed_create_id(&physical),
        "{physical}"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "invalid input is refused before any AWS call"
    );

    let r = h.send("Delete", Some(&physical), &props, None).await;
    assert_eq!(status(&r), "SUCCESS", "{}", reason(&r));
    assert_eq!(r["PhysicalResourceId"], json!(physical));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "no AWS call for a Delete of a failed Create"
    );
    assert_logs_clean(&logs);
}

fn with_bad_account(mut p: Value) -> Value {
    p["TrustingAccount"] = json!("not-an-account");
    p
}

#[tokio::test]
async fn a_handler_panic_answers_failed() {
    let logs = capture_logs();
    let (h, _) = instrumented(true, None).await;
    let props = classic(
        &unique("panic-"),
        &unique("PanicRole"),
        &unique("PanicUser"),
    );
    let r = h.send("Create", None, &props, None).await;
    assert_eq!(status(&r), "FAILED");
    assert!(
        !reason(&r).contains("UniqueExternalIdPanic99"),
        "a panic message never reaches the reason"
    );
    remember_secret("UniqueExternalIdPanic99");
    assert_logs_clean(&logs);
}

#[tokio::test]
async fn a_handler_that_would_outlive_the_deadline_answers_failed_before_it() {
    let logs = capture_logs();
    let (h, _) = instrumented(false, Some(Duration::from_secs(60))).await;
    let props = classic(&unique("slow-"), &unique("SlowRole"), &unique("SlowUser"));
    let start = Instant::now();
    let r = h
        .send_with_deadline("Create", None, &props, None, Duration::from_secs(4))
        .await;
    let took = start.elapsed();
    assert_eq!(status(&r), "FAILED");
    assert!(
        took < Duration::from_secs(4),
        "answered after {took:?}, past the deadline"
    );
    assert!(
        reason(&r).to_lowercase().contains("deadline")
            || reason(&r).to_lowercase().contains("time"),
        "{}",
        reason(&r)
    );
    assert_logs_clean(&logs);
}

#[tokio::test]
async fn a_response_url_that_fails_twice_with_503_still_gets_the_response() {
    let logs = capture_logs();
    let access = access().await;
    let h = Harness::new(access).await;
    let id = h.next_id();
    h.cfn.fail_next(&id, 2);
    let gone = format!(
        "arn:aws:iam::{TRUSTING}:role/trustlink/{}",
        unique("AlreadyGone")
    );
    let event = request(
        "Delete",
        &id,
        Some(&gone),
        &json!({"LinkName": unique("gone-")}),
        None,
        &h.cfn.response_url(&id),
    );
    h.invoke(event, Duration::from_secs(60)).await.unwrap();
    let puts = h.cfn.puts(&id);
    assert_eq!(
        puts.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        vec![503, 503, 200]
    );
    let r = &h.cfn.responses(&id)[0];
    assert_eq!(
        status(r),
        "SUCCESS",
        "a Delete of something already gone succeeds: {}",
        reason(r)
    );
    assert_eq!(r["PhysicalResourceId"], json!(gone));
    assert_logs_clean(&logs);
}

#[test]
fn the_classic_event_files_parse() {
    for name in [
        "create.json",
        "update-in-place.json",
        "update-replace.json",
        "delete.json",
    ] {
        let path = workspace_root().join("events/trust-link").join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let event: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(event["ResourceType"], "Custom::TrustLink");
        LinkSpec::from_properties(&event["ResourceProperties"])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
