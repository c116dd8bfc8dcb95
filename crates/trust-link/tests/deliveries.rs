//! What CloudFormation really sends, through the real `trust-link` binary behind a Lambda
//! runtime API, with AWS (moto) 50 ms away as on AWS: concurrent duplicate deliveries of one
//! request for every link shape, duplicate Deletes, requests that can never be answered,
//! delete and re-create of a link name, odd unicode values. Everything the binaries print
//! at `RUST_LOG=trace` is scanned for every secret the tests saw.

use std::path::Path;
use std::time::Duration;

use futures::future::join_all;
use serde_json::{json, Value};
use trustlink_aws::ports::{AccessKeys, Policies, Roles, Secrets, Users, AWSCURRENT};
use trustlink_aws::AccountAccess;
use trustlink_domain::record;
use trustlink_tests::cfn::{self, CloudFormation, URL_SIGNATURE};
use trustlink_tests::fixtures::{access, account, reason, status, TRUSTED, TRUSTING};
use trustlink_tests::function::{assert_json_lines, Function};
use trustlink_tests::lambda_api::{Outcome, RuntimeApi};
use trustlink_tests::latency::LatencyProxy;
use trustlink_tests::*;

const INVOCATION: Duration = Duration::from_secs(180);
/// What every AWS call costs on AWS, roughly; moto answers in about a millisecond.
const LATENCY: Duration = Duration::from_millis(50);
/// Deliveries of one request started at once.
const DUPLICATES: usize = 3;

/// The Lambda side: a runtime API, CloudFormation's ResponseURL server, AWS behind a
/// latency proxy, and `n` function processes polling for events (Lambda runs one instance
/// per concurrent invocation).
struct Stage {
    api: RuntimeApi,
    cfn: CloudFormation,
    proxy: LatencyProxy,
    functions: Vec<Function>,
}

impl Stage {
    async fn start(n: usize) -> Self {
        bootstrap_member_account(TRUSTING).await;
        bootstrap_member_account(TRUSTED).await;
        let api = RuntimeApi::start().await;
        let cfn = CloudFormation::start().await;
        let proxy = LatencyProxy::start(moto().port, LATENCY).await;
        let mut env = api.env("trustlink-trust-link");
        env.extend(function_env());
        env.push(("AWS_ENDPOINT_URL".into(), proxy.endpoint()));
        env.push(("RUST_LOG".into(), "trace".into()));
        let binary = Path::new(env!("CARGO_BIN_EXE_trust-link"));
        let functions = (0..n)
            .map(|_| Function::spawn(binary, env.clone()))
            .collect();
        Self {
            api,
            cfn,
            proxy,
            functions,
        }
    }

    /// Delivers `event` (request `request_id`) `copies` times at once, as separate
    /// invocations, and returns every answer CloudFormation received for it.
    async fn deliver(&mut self, request_id: &str, event: &Value, copies: usize) -> Vec<Value> {
        let mut event = event.clone();
        event["RequestId"] = json!(request_id);
        event["ResponseURL"] = json!(self.cfn.response_url(request_id));
        let ids: Vec<String> = (0..copies)
            .map(|i| format!("{request_id}-delivery-{i}"))
            .collect();
        let invocations = ids
            .iter()
            .map(|id| self.api.invoke(id, event.clone(), INVOCATION));
        for outcome in join_all(invocations).await {
            assert!(
                matches!(outcome, Outcome::Response(_)),
                "an invocation of {request_id} ended in an error: {outcome:?}"
            );
        }
        for f in &mut self.functions {
            f.assert_running();
        }
        let answers = self.cfn.responses(request_id);
        assert_eq!(
            answers.len(),
            copies,
            "each delivery of {request_id} answers exactly once: {answers:?}"
        );
        answers
    }

    fn output(self) -> String {
        self.functions.into_iter().map(Function::stop).collect()
    }
}

/// Every answer SUCCESS, all with the same physical id and Data.
fn assert_all_agree(answers: &[Value], what: &str) -> Value {
    for a in answers {
        assert_eq!(status(a), "SUCCESS", "{what}: {}", reason(a));
        assert_eq!(
            a["PhysicalResourceId"], answers[0]["PhysicalResourceId"],
            "{what}: one physical id"
        );
        assert_eq!(a["Data"], answers[0]["Data"], "{what}: the same Data");
    }
    answers[0].clone()
}

#[derive(Clone, Copy, Debug)]
enum Shape {
    /// The partner link: only the trusting end.
    Partner,
    /// A grant on an existing user.
    Grant,
    /// Grant, created user and managed access key.
    GrantUserKey,
}

struct Names {
    link: String,
    role: String,
    user: String,
}

fn names(tag: &str) -> Names {
    let pid = std::process::id();
    Names {
        link: unique(&format!("dl-{tag}-{pid}-")),
        role: unique(&format!("DlRole{tag}{pid}-")),
        user: unique(&format!("DlUser{tag}{pid}-")),
    }
}

/// Properties of `shape`, with a generated external ID: deliveries must agree on one.
fn properties(shape: Shape, n: &Names) -> Value {
    let mut p = json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:trustlink-trust-link",
        "LinkName": n.link,
        "TrustingAccount": TRUSTING,
        "Role": {
            "Name": n.role,
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
            "InlinePolicies": {"Read": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::dl-*/*"}]}},
            "Tags": [{"Key": "team", "Value": "data"}]
        },
        "TrustedPrincipal": format!("arn:aws:iam::{TRUSTED}:user/{}", n.user),
        "Rotation": {"ExternalIdDays": "90", "AccessKeyDays": "90", "GraceHours": "24"}
    });
    match shape {
        Shape::Partner => {}
        Shape::Grant => p["TrustedSide"] = json!({"Grant": "true"}),
        Shape::GrantUserKey => {
            p["TrustedSide"] = json!({"Grant": "true", "CreateUser": "true", "AccessKey": "true"})
        }
    }
    p
}

fn grant_arn(link: &str) -> String {
    format!("arn:aws:iam::{TRUSTED}:policy/trustlink/TrustLink-{link}")
}

/// One link in both accounts, exactly as one delivery would have made it; returns the
/// secrets it holds, to scan the logs for.
/// The AWSCURRENT value of the secret `name`, as JSON.
async fn current_json(access: &AccountAccess, name: &str) -> Value {
    let text = access
        .secrets()
        .get_secret_value(name, AWSCURRENT)
        .await
        .unwrap()
        .text;
    serde_json::from_str(text.expose()).unwrap()
}

async fn assert_one_link(shape: Shape, n: &Names, data: &Value) -> Vec<String> {
    let access = access().await;
    let trusting = access.iam(&account(TRUSTING)).await.unwrap();
    let trusted = access.iam(&account(TRUSTED)).await.unwrap();
    let role = trusting.get_role(&n.role).await.unwrap();
    let current = current_json(&access, &record::external_id_secret_name(&n.link)).await;
    let external_id = current["ExternalId"].as_str().unwrap().to_string();
    assert_eq!(
        data["ExternalId"],
        json!(external_id),
        "{shape:?}: Data holds the stored ID"
    );
    assert_eq!(
        trustlink_domain::policy::accepted_external_ids(&role.trust_policy),
        vec![external_id.clone()],
        "{shape:?}: the trust policy accepts exactly the stored ID"
    );
    let mut secrets = vec![external_id];
    if matches!(shape, Shape::Partner) {
        return secrets;
    }
    let grants = trusted.list_attached_user_policies(&n.user).await.unwrap();
    assert_eq!(
        grants,
        vec![grant_arn(&n.link)],
        "{shape:?}: one grant, attached once"
    );
    if matches!(shape, Shape::GrantUserKey) {
        let keys = trusted.list_access_keys(&n.user).await.unwrap();
        let stored = current_json(&access, &record::access_key_secret_name(&n.link)).await;
        let ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(
            ids,
            vec![stored["AccessKeyId"].as_str().unwrap()],
            "{shape:?}: exactly one key, the stored one"
        );
        secrets.push(stored["SecretAccessKey"].as_str().unwrap().to_string());
    }
    secrets
}

async fn assert_nothing_left(shape: Shape, n: &Names) {
    let access = access().await;
    let trusting = access.iam(&account(TRUSTING)).await.unwrap();
    let trusted = access.iam(&account(TRUSTED)).await.unwrap();
    assert!(
        trusting.get_role(&n.role).await.unwrap_err().is_not_found(),
        "{shape:?}: role {} left behind",
        n.role
    );
    assert!(
        !trusted.policy_exists(&grant_arn(&n.link)).await.unwrap(),
        "{shape:?}: grant left behind"
    );
    if matches!(shape, Shape::GrantUserKey) {
        assert!(
            trusted.get_user(&n.user).await.unwrap_err().is_not_found(),
            "{shape:?}: created user left behind"
        );
    }
    assert_link_secrets_deleted(&access, &n.link).await;
}

/// Both secrets of `link` are gone or scheduled for deletion: no live residue.
async fn assert_link_secrets_deleted(access: &AccountAccess, link: &str) {
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

/// Create, Update and Delete, each delivered three times at once, for one link shape.
async fn duplicates_converge(shape: Shape, tag: &str) -> (String, Vec<String>) {
    let mut stage = Stage::start(DUPLICATES).await;
    let n = names(tag);
    if matches!(shape, Shape::Grant) {
        let access = access().await;
        let trusted = access.iam(&account(TRUSTED)).await.unwrap();
        trusted
            .create_user("/", &n.user, &Default::default())
            .await
            .unwrap();
    }
    let props = properties(shape, &n);
    let create = cfn::request("Create", "", None, &props, None, "");
    let answers = stage
        .deliver(&format!("{tag}-create"), &create, DUPLICATES)
        .await;
    let created = assert_all_agree(&answers, &format!("{shape:?} Create"));
    let role_arn = format!("arn:aws:iam::{TRUSTING}:role/trustlink/{}", n.role);
    assert_eq!(created["PhysicalResourceId"], json!(role_arn));
    let secrets = assert_one_link(shape, &n, &created["Data"]).await;

    let mut changed = props.clone();
    changed["Role"]["Description"] = json!("changed by an update");
    changed["Role"]["Tags"] = json!([{"Key": "team", "Value": "platform"}]);
    let update = cfn::request("Update", "", Some(&role_arn), &changed, Some(&props), "");
    let answers = stage
        .deliver(&format!("{tag}-update"), &update, DUPLICATES)
        .await;
    let updated = assert_all_agree(&answers, &format!("{shape:?} Update"));
    assert_eq!(updated["PhysicalResourceId"], json!(role_arn));
    assert_eq!(
        updated["Data"], created["Data"],
        "{shape:?}: an in-place update keeps the link's attributes"
    );
    let role = access()
        .await
        .iam(&account(TRUSTING))
        .await
        .unwrap()
        .get_role(&n.role)
        .await
        .unwrap();
    assert_eq!(role.description.as_deref(), Some("changed by an update"));
    assert_one_link(shape, &n, &updated["Data"]).await;

    let delete = cfn::request("Delete", "", Some(&role_arn), &changed, None, "");
    let answers = stage
        .deliver(&format!("{tag}-delete"), &delete, DUPLICATES)
        .await;
    for a in &answers {
        assert_eq!(status(a), "SUCCESS", "{shape:?} Delete: {}", reason(a));
        assert_eq!(a["PhysicalResourceId"], json!(role_arn));
    }
    assert_nothing_left(shape, &n).await;
    (stage.output(), secrets)
}

fn assert_clean_output(output: &str, secrets: &[String]) {
    assert_json_lines(output);
    let mut all: Vec<&str> = secrets.iter().map(String::as_str).collect();
    all.push(URL_SIGNATURE);
    assert_no_secret_in("the trust-link binaries' output", output, &all);
    // A policy document or spec printed with `{:?}` shows serde_json's Debug form.
    assert!(
        !output.contains("Object {"),
        "a JSON document was Debug-printed into the logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_of_a_partner_link_converge() {
    let (output, secrets) = duplicates_converge(Shape::Partner, "p").await;
    assert_clean_output(&output, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_of_a_grant_link_converge() {
    let (output, secrets) = duplicates_converge(Shape::Grant, "g").await;
    assert_clean_output(&output, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_of_a_managed_user_and_key_link_converge() {
    let (output, secrets) = duplicates_converge(Shape::GrantUserKey, "k").await;
    assert_clean_output(&output, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_that_cannot_be_answered_makes_no_aws_call() {
    let mut stage = Stage::start(1).await;
    let n = names("u");
    let props = properties(Shape::GrantUserKey, &n);
    for (i, url) in [
        "ftp://cfn-responses.example.com/r?X-Amz-Signature=0123456789abcdef",
        "not a url at all",
    ]
    .into_iter()
    .enumerate()
    {
        let event = cfn::request("Create", &format!("u-{i}"), None, &props, None, url);
        let outcome = stage
            .api
            .invoke(&format!("u-{i}-delivery"), event, INVOCATION)
            .await;
        assert!(
            matches!(&outcome, Outcome::Error(e) if e.to_string().contains("not an http(s) URL")),
            "{url}: {outcome:?}"
        );
    }
    stage.functions[0].assert_running();
    assert_eq!(
        stage.proxy.connections(),
        0,
        "refused before the first AWS call"
    );
    let access = access().await;
    let trusting = access.iam(&account(TRUSTING)).await.unwrap();
    assert!(trusting.get_role(&n.role).await.unwrap_err().is_not_found());
    let output = stage.output();
    assert_clean_output(&output, &["0123456789abcdef".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_link_name_deleted_and_created_again_leaves_no_secret_behind() {
    let mut stage = Stage::start(1).await;
    let n = names("r");
    let props = properties(Shape::Partner, &n);
    let role_arn = |role: &str| format!("arn:aws:iam::{TRUSTING}:role/trustlink/{role}");
    let access = access().await;
    let mut secrets = Vec::new();

    // Create, Delete, then Create again under another role name, then Delete.
    let create = cfn::request("Create", "", None, &props, None, "");
    let first = stage.deliver("r-create-1", &create, 1).await.remove(0);
    assert_eq!(status(&first), "SUCCESS", "{}", reason(&first));
    secrets.push(first["Data"]["ExternalId"].as_str().unwrap().to_string());
    let delete = cfn::request("Delete", "", Some(&role_arn(&n.role)), &props, None, "");
    let gone = stage.deliver("r-delete-1", &delete, 1).await.remove(0);
    assert_eq!(status(&gone), "SUCCESS", "{}", reason(&gone));
    assert_link_secrets_deleted(&access, &n.link).await;

    let mut renamed = props.clone();
    let new_role = format!("{}New", n.role);
    renamed["Role"]["Name"] = json!(new_role);
    let create = cfn::request("Create", "", None, &renamed, None, "");
    let again = stage.deliver("r-create-2", &create, 1).await.remove(0);
    assert_eq!(
        status(&again),
        "SUCCESS",
        "a deleted link's name is free again: {}",
        reason(&again)
    );
    secrets.push(again["Data"]["ExternalId"].as_str().unwrap().to_string());
    assert_ne!(
        again["Data"]["ExternalId"], first["Data"]["ExternalId"],
        "a new link gets a new external ID"
    );
    let delete = cfn::request("Delete", "", Some(&role_arn(&new_role)), &renamed, None, "");
    let gone = stage.deliver("r-delete-2", &delete, 1).await.remove(0);
    assert_eq!(status(&gone), "SUCCESS", "{}", reason(&gone));
    assert_link_secrets_deleted(&access, &n.link).await;

    // A Create of the deleted name that fails late (a managed policy that does not exist),
    // then the Delete CloudFormation sends for it.
    let mut failing = props.clone();
    failing["Role"]["ManagedPolicyArns"] = json!(["arn:aws:iam::aws:policy/NoSuchPolicyAtAll"]);
    let create = cfn::request("Create", "", None, &failing, None, "");
    let failed = stage.deliver("r-create-3", &create, 1).await.remove(0);
    assert_eq!(status(&failed), "FAILED");
    assert!(
        reason(&failed).contains("Role.ManagedPolicyArns[0]"),
        "{}",
        reason(&failed)
    );
    let failed_id = failed["PhysicalResourceId"].as_str().unwrap().to_string();
    let delete = cfn::request("Delete", "", Some(&failed_id), &failing, None, "");
    let gone = stage.deliver("r-delete-3", &delete, 1).await.remove(0);
    assert_eq!(status(&gone), "SUCCESS", "{}", reason(&gone));
    assert_link_secrets_deleted(&access, &n.link).await;
    assert!(access
        .iam(&account(TRUSTING))
        .await
        .unwrap()
        .get_role(&n.role)
        .await
        .unwrap_err()
        .is_not_found());
    assert_clean_output(&stage.output(), &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn long_unicode_values_fail_naming_the_property_without_a_panic() {
    let mut stage = Stage::start(1).await;
    let n = names("x");
    let long: String = "é€😀ß".repeat(400);
    for (i, (field, set)) in [
        (
            "TrustedSide.CreateUser",
            Box::new(|p: &mut Value, v: &str| p["TrustedSide"]["CreateUser"] = json!(v))
                as Box<dyn Fn(&mut Value, &str)>,
        ),
        (
            "Conditions.RequireMfa",
            Box::new(|p: &mut Value, v: &str| p["Conditions"] = json!({"RequireMfa": v})),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut props = properties(Shape::GrantUserKey, &n);
        set(&mut props, &long);
        let create = cfn::request("Create", "", None, &props, None, "");
        let answer = stage.deliver(&format!("x-{i}"), &create, 1).await.remove(0);
        assert_eq!(status(&answer), "FAILED");
        assert!(
            reason(&answer).contains(field) && !reason(&answer).contains("internal error"),
            "{field}: {}",
            reason(&answer)
        );
    }
    let access = access().await;
    assert!(access
        .iam(&account(TRUSTING))
        .await
        .unwrap()
        .get_role(&n.role)
        .await
        .unwrap_err()
        .is_not_found());
    let output = stage.output();
    assert!(
        !output.contains("panicked"),
        "the binary panicked:\n{output}"
    );
    assert_clean_output(&output, &[]);
}
