//! The incident commands where AWS decides, on fakecloud only (it evaluates trust policies,
//! explicit Deny first): while a link is suspended its principal cannot assume the role, and
//! after Resume it can again; after Compromised the previous external ID is refused and the
//! previous key does not authenticate, while the new AWSCURRENT values work.

use std::sync::Arc;
use std::time::Duration;

use rotator::{Limits, OffsetClock, Rotator};
use serde_json::{json, Value};
use trustlink_aws::AccountAccess;
use trustlink_tests::enforce::*;
use trustlink_tests::fakecloud::{self, Function};
use trustlink_tests::links::{Link, TRUSTED};
use trustlink_tests::*;

struct World {
    access: AccountAccess,
    base: aws_config::SdkConfig,
    rotator: Rotator<AccountAccess>,
}

async fn world() -> World {
    let access = fakecloud::access(Function::Rotator).await;
    let base = fakecloud::config_with(aws_credential_types::Credentials::new(
        "unused",
        "unused-secret",
        None,
        None,
        "base",
    ))
    .await;
    let limits = Limits {
        concurrency: 4,
        verify_attempts: 10,
        verify_delay: Duration::from_millis(100),
    };
    let rotator = Rotator::new(access.clone(), Arc::new(OffsetClock::default()), limits);
    World {
        access,
        base,
        rotator,
    }
}

async fn link(prefix: &str) -> Link {
    let link_access = fakecloud::access(Function::TrustLink).await;
    create_link_with(&link_access, prefix, json!({})).await
}

async fn run(w: &World, link: &Link, mut event: Value) -> Value {
    event["Links"] = json!([link.name]);
    rotator::handle(&w.rotator, &event)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Assumes the link's role with the AWSCURRENT key and ID, as a consumer does.
async fn consumer(w: &World, link: &Link) -> Result<String, Denied> {
    let (id, key) = read_current(&w.access, link).await.unwrap();
    remember_secret(key.secret_access_key.expose());
    assume(
        &w.base,
        key_credentials(&key),
        &link.role_arn,
        "consumer",
        &Presented::id(&id),
    )
    .await
}

#[tokio::test]
async fn a_suspended_link_refuses_its_principal_until_resumed() {
    let logs = capture_logs();
    let w = world().await;
    let link = link("enf-sus-").await;
    let arn = session_arn(&link, "consumer");
    assert_eq!(consumer(&w, &link).await.as_ref(), Ok(&arn), "works before");
    let (id, key) = read_current(&w.access, &link).await.unwrap();

    let report = run(
        &w,
        &link,
        json!({"Suspend": true, "Reason": "enforcement test"}),
    )
    .await;
    assert_eq!(
        report["links"][0]["incident"]["action"], "suspended",
        "{report:#}"
    );
    // The key is inactive, so it no longer authenticates at all.
    let r = whoami(&w.base, key_credentials(&key)).await;
    assert_eq!(r.map_err(|d| d.code), Err("InvalidClientTokenId".into()));
    // The trust policy's Deny refuses the principal even with a working key: a second key of
    // the same user stands in for "a key the suspension did not know about".
    let admin = fakecloud::member_admin_config(TRUSTED).await;
    let iam = aws_sdk_iam::Client::new(&admin);
    let extra = iam
        .create_access_key()
        .user_name(link.user.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    let extra = extra.access_key().unwrap();
    remember_secret(extra.secret_access_key());
    let extra_creds = aws_credential_types::Credentials::new(
        extra.access_key_id(),
        extra.secret_access_key(),
        None,
        None,
        "extra",
    );
    let r = assume(
        &w.base,
        extra_creds.clone(),
        &link.role_arn,
        "consumer",
        &Presented::id(&id),
    )
    .await;
    assert_eq!(
        r.map_err(|d| d.code),
        Err("AccessDenied".into()),
        "suspended"
    );
    iam.delete_access_key()
        .user_name(link.user.as_deref().unwrap())
        .access_key_id(extra.access_key_id())
        .send()
        .await
        .unwrap();

    let report = run(&w, &link, json!({"Resume": true})).await;
    assert_eq!(
        report["links"][0]["incident"]["action"], "resumed",
        "{report:#}"
    );
    assert_eq!(consumer(&w, &link).await.as_ref(), Ok(&arn), "works again");
    assert_logs_clean(&logs);
}

#[tokio::test]
async fn after_compromised_the_old_values_are_refused_and_the_new_ones_work() {
    let logs = capture_logs();
    let w = world().await;
    let link = link("enf-comp-").await;
    let arn = session_arn(&link, "consumer");
    let (old_id, old_key) = read_current(&w.access, &link).await.unwrap();
    remember_secret(old_key.secret_access_key.expose());

    let report = run(&w, &link, json!({"Compromised": "both"})).await;
    assert_eq!(
        report["links"][0]["incident"]["action"], "revoked",
        "{report:#}"
    );
    let (new_id, new_key) = read_current(&w.access, &link).await.unwrap();
    remember_secret(&new_id);
    remember_secret(new_key.secret_access_key.expose());
    assert_ne!(new_id, old_id);

    let r = assume(
        &w.base,
        key_credentials(&new_key),
        &link.role_arn,
        "consumer",
        &Presented::id(&old_id),
    )
    .await;
    assert_eq!(
        r.map_err(|d| d.code),
        Err("AccessDenied".into()),
        "the previous external ID"
    );
    let r = whoami(&w.base, key_credentials(&old_key)).await;
    assert_eq!(
        r.map_err(|d| d.code),
        Err("InvalidClientTokenId".into()),
        "the previous key"
    );
    assert_eq!(
        consumer(&w, &link).await.as_ref(),
        Ok(&arn),
        "AWSCURRENT works"
    );
    assert_no_secret_in("the report", &report.to_string(), &[&old_id, &new_id]);
    assert_logs_clean(&logs);
}
