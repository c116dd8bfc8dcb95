//! The real `trust-link` binary, run as Lambda runs it: a separate process polling a Lambda
//! runtime API (the emulator in `trustlink-tests`), CloudFormation played over real HTTP on
//! loopback, AWS played by moto. The classic event files drive it: Create, Delete, and a
//! Create with a bad TrustingAccount. Everything the process prints, at `RUST_LOG=trace`, is
//! then scanned for the external ID, the access key's secret and the ResponseURL signature.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use trustlink_aws::ports::{Roles, Secrets, Users, AWSCURRENT};
use trustlink_aws::AccountAccess;
use trustlink_tests::cfn::{CloudFormation, URL_SIGNATURE};
use trustlink_tests::fixtures::{account, reason, status, TRUSTED, TRUSTING};
use trustlink_tests::function::{assert_json_lines, Function};
use trustlink_tests::lambda_api::{Outcome, RuntimeApi};
use trustlink_tests::*;

/// The external ID of `events/trust-link/create.json`.
const EXTERNAL_ID: &str = "UniqueExternalId12345";
/// How long each invocation may take (the function's Lambda timeout in the template is longer;
/// against moto a Create takes seconds).
const INVOCATION: Duration = Duration::from_secs(120);

/// An event file of `events/trust-link`, with this run's names and ResponseURL.
fn event_file(name: &str, link: &str, role: &str, user: &str, response_url: &str) -> Value {
    let path = workspace_root().join("events/trust-link").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut event: Value = serde_json::from_str(&text).unwrap();
    let props = &mut event["ResourceProperties"];
    assert_eq!(
        props["ExternalId"],
        json!(EXTERNAL_ID),
        "{name}: the external ID this test scans for"
    );
    props["LinkName"] = json!(link);
    props["Role"]["Name"] = json!(role);
    props["TrustedPrincipal"] = json!(format!("arn:aws:iam::{TRUSTED}:user/{user}"));
    event["ResponseURL"] = json!(response_url);
    event
}

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_trust-link"))
}

/// Lambda's environment for the function, AWS at `endpoint` (default: moto itself), at the
/// most verbose level an operator can choose: the binary's own caps must hold at it.
fn function_process_env(api: &RuntimeApi, endpoint: Option<String>) -> Vec<(String, String)> {
    let mut env = api.env("trustlink-trust-link");
    env.extend(function_env());
    if let Some(endpoint) = endpoint {
        env.push(("AWS_ENDPOINT_URL".into(), endpoint));
    }
    env.push((
        "TRUSTLINK_ROLE_PATHS".into(),
        "/trustlink/,/cross-account/".into(),
    ));
    env.push(("RUST_LOG".into(), "trace".into()));
    env
}

/// Sends `event` through the runtime API as request `id` and returns the one response
/// CloudFormation received for it.
async fn invoke(
    api: &RuntimeApi,
    cfn: &CloudFormation,
    function: &mut Function,
    id: &str,
    mut event: Value,
) -> Value {
    event["RequestId"] = json!(id);
    event["ResponseURL"] = json!(cfn.response_url(id));
    let outcome = api.invoke(id, event, INVOCATION).await;
    function.assert_running();
    assert!(
        matches!(outcome, Outcome::Response(_)),
        "the invocation {id} ended in an error: {outcome:?}; the function printed:\n{}",
        function.text()
    );
    let responses = cfn.responses(id);
    assert_eq!(
        responses.len(),
        1,
        "exactly one response to {id}: {responses:?}"
    );
    assert_eq!(
        cfn.puts(id)[0].0.header("content-type"),
        Some(""),
        "the presigned URL is signed for an empty Content-Type"
    );
    let response = responses.into_iter().next().unwrap();
    assert_eq!(response["RequestId"], json!(id));
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_creates_and_deletes_a_link_through_the_runtime_api() {
    bootstrap_member_account(TRUSTING).await;
    bootstrap_member_account(TRUSTED).await;
    let access = AccountAccess::new(hub_config().await, trustlink_aws::DEFAULT_ADMIN_ROLE_NAME);
    let api = RuntimeApi::start().await;
    let cfn = CloudFormation::start().await;

    let mut function = Function::spawn(binary(), function_process_env(&api, None));

    let pid = std::process::id();
    let (link, role, user) = (
        unique(&format!("rt-dev-cross-account-{pid}-")),
        unique(&format!("RtCrossAccountDeveloperRole{pid}-")),
        unique(&format!("RtDevUser{pid}-")),
    );
    let role_arn = format!("arn:aws:iam::{TRUSTING}:role/cross-account/{role}");

    // Create.
    let create = event_file("create.json", &link, &role, &user, "");
    let created = invoke(
        &api,
        &cfn,
        &mut function,
        &format!("rt-create-{pid}"),
        create,
    )
    .await;
    assert_eq!(status(&created), "SUCCESS", "{}", reason(&created));
    assert_eq!(created["PhysicalResourceId"], json!(role_arn));
    assert_eq!(created["NoEcho"], json!(true));
    let data = &created["Data"];
    assert_eq!(data["RoleArn"], json!(role_arn));
    assert!(
        data["ExternalIdSecretArn"]
            .as_str()
            .is_some_and(|a| a.contains(&format!(":secret:trustlink/{link}"))),
        "{data}"
    );
    assert!(
        data["AccessKeySecretArn"]
            .as_str()
            .is_some_and(|a| a.contains(&format!(":secret:trustlink/{link}/access-key"))),
        "{data}"
    );

    // Both ends exist, each in its own account.
    let trusting = access.iam(&account(TRUSTING)).await.unwrap();
    let trusted = access.iam(&account(TRUSTED)).await.unwrap();
    assert_eq!(trusting.get_role(&role).await.unwrap().arn, role_arn);
    trusted
        .get_user(&user)
        .await
        .unwrap_or_else(|e| panic!("user {user} in {TRUSTED}: {e}"));

    // The access key's secret, to scan for: read before Delete removes it.
    let key_text = access
        .secrets()
        .get_secret_value(&format!("trustlink/{link}/access-key"), AWSCURRENT)
        .await
        .unwrap()
        .text;
    let key: Value = serde_json::from_str(key_text.expose()).unwrap();
    let secret_access_key = key["SecretAccessKey"]
        .as_str()
        .expect("the access key secret has SecretAccessKey")
        .to_string();

    // Delete.
    let mut delete = event_file("delete.json", &link, &role, &user, "");
    delete["PhysicalResourceId"] = json!(role_arn);
    let deleted = invoke(
        &api,
        &cfn,
        &mut function,
        &format!("rt-delete-{pid}"),
        delete,
    )
    .await;
    assert_eq!(status(&deleted), "SUCCESS", "{}", reason(&deleted));
    assert_eq!(deleted["PhysicalResourceId"], json!(role_arn));
    assert!(
        trusting.get_role(&role).await.unwrap_err().is_not_found(),
        "role {role} left behind"
    );
    assert!(
        trusted.get_user(&user).await.unwrap_err().is_not_found(),
        "user {user} left behind"
    );

    // A Create with a bad TrustingAccount: FAILED, saying which property.
    let mut bad = event_file("create.json", &link, &role, &user, "");
    bad["ResourceProperties"]["TrustingAccount"] = json!("not-an-account");
    let failed = invoke(&api, &cfn, &mut function, &format!("rt-bad-{pid}"), bad).await;
    assert_eq!(status(&failed), "FAILED");
    assert!(
        reason(&failed).contains("TrustingAccount"),
        "the reason names the property: {}",
        reason(&failed)
    );
    assert!(
        trusting.get_role(&role).await.unwrap_err().is_not_found(),
        "a failed Create leaves nothing"
    );

    // Everything the process printed: JSON lines, and no secret in them.
    let output = function.stop();
    assert_json_lines(&output);
    assert_no_secret_in(
        "the trust-link binary's output",
        &output,
        &[EXTERNAL_ID, &secret_access_key, URL_SIGNATURE],
    );
}
