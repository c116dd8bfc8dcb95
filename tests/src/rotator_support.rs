//! Helpers shared by the rotator's tests (`tests/rotator.rs`, `crates/rotator/tests`).

use serde_json::{json, Value};
use trustlink_aws::ports::{AccessKeys, Op, Secrets};
use trustlink_aws::AccountAccess;
use trustlink_domain::record;

use crate::faults::When;
use crate::links::{account, current_key, trusting_role, Link, TRUSTED};

/// Everything a rotation could change, to compare before and after: the trust policy, the
/// versions, stages and tags of both secrets, and the user's keys with their status. No
/// secret value is in it (version ids and key ids are not secrets).
pub async fn snapshot(access: &AccountAccess, link: &Link) -> Value {
    let role = trusting_role(access, link).await;
    let secrets = access.secrets();
    let mut s = json!({"trust": role.trust_policy});
    for name in [
        record::external_id_secret_name(&link.name),
        record::access_key_secret_name(&link.name),
    ] {
        if let Ok(d) = secrets.describe_secret(&name).await {
            let versions: Vec<Value> = d
                .versions
                .iter()
                .map(|v| json!([v.version_id, v.stages]))
                .collect();
            s[name] = json!({"versions": versions, "tags": d.tags});
        }
    }
    if let Some(user) = &link.user {
        let keys = access
            .iam(&account(TRUSTED))
            .await
            .unwrap()
            .list_access_keys(user)
            .await
            .unwrap();
        s["keys"] = json!(keys
            .iter()
            .map(|k| json!([k.id, format!("{:?}", k.status)]))
            .collect::<Vec<_>>());
    }
    s
}

/// The key a run stopped right after CreateAccessKey (`After`: made, its id never returned)
/// left on the user: the one that is neither the old key nor AWSCURRENT.
pub async fn unrecorded_key(
    access: &AccountAccess,
    link: &Link,
    old_key: &str,
    op: Op,
    when: When,
) -> Option<String> {
    if (op, when) != (Op::CreateAccessKey, When::After) {
        return None;
    }
    let current = current_key(access, link).await.access_key_id;
    let keys = access
        .iam(&account(TRUSTED))
        .await
        .unwrap()
        .list_access_keys(link.user.as_deref().unwrap())
        .await
        .unwrap();
    let made = keys
        .into_iter()
        .find(|k| k.id != old_key && k.id != current);
    Some(made.expect("the stopped run made a key").id)
}

/// Killed right after CreateAccessKey returned: nothing recorded the new key's id, so nothing
/// proves it is trustlink's rather than someone else's. The rerun leaves it alone and reports
/// it, naming it; an operator who sees it unused deletes it (done here), and the rotation
/// resumes.
pub async fn held_until_an_operator_deletes(
    access: &AccountAccess,
    link: &Link,
    made: &str,
    report: &Value,
    case: &str,
) {
    assert_eq!(
        report["links"][0]["access_key"]["action"],
        json!("held"),
        "{case}: {report:#}"
    );
    let detail = report["links"][0]["access_key"]["detail"].as_str().unwrap();
    assert!(detail.contains(made), "{case}: {detail}");
    let iam = access.iam(&account(TRUSTED)).await.unwrap();
    let user = link.user.as_deref().unwrap();
    let keys = iam.list_access_keys(user).await.unwrap();
    assert!(
        keys.iter().any(|k| k.id == made),
        "{case}: deleted: {keys:?}"
    );
    iam.delete_access_key(user, made).await.unwrap();
}
