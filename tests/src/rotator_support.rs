//! Helpers shared by the rotator's tests (`tests/rotator.rs`, `crates/rotator/tests`).

use serde_json::{json, Value};
use trustlink_aws::ports::{AccessKeys, Secrets};
use trustlink_aws::AccountAccess;
use trustlink_domain::record;

use crate::links::{account, trusting_role, Link, TRUSTED};

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
