//! Links made with the real trust-link code, for the rotator's tests, and the invariants of
//! docs/design.md checked against AWS as it is.

use std::time::Duration;

use serde_json::{json, Value};
use trust_link::{LinkService, VerifyBounds};
use trustlink_aws::ports::{
    AccessKeys, Credentials, KeyStatus, RoleInfo, Roles, Secrets, Sts, AWSCURRENT, AWSPENDING,
};
use trustlink_aws::AccountAccess;
use trustlink_domain::policy;
use trustlink_domain::record::{self, tag, AccessKeySecret, ExternalIdSecret};
use trustlink_domain::{LinkSpec, Settings};

pub use crate::fixtures::{access, account, TRUSTED, TRUSTING};

/// A created link.
#[derive(Debug, Clone)]
pub struct Link {
    pub name: String,
    pub role: String,
    pub role_arn: String,
    pub user: Option<String>,
    pub principal: String,
}

/// Creates a link with the real trust-link code: with a managed user and key, or a partner
/// account's root as the principal.
pub async fn create_link(
    access: &AccountAccess,
    prefix: &str,
    with_key: bool,
    rotation: Value,
) -> Link {
    let name = crate::unique(prefix);
    let user = crate::unique("RotUser");
    let principal = if with_key {
        format!("arn:aws:iam::{TRUSTED}:user/{user}")
    } else {
        format!("arn:aws:iam::{TRUSTED}:root")
    };
    let mut props = json!({
        "LinkName": name, "TrustingAccount": TRUSTING, "TrustedPrincipal": principal, "Rotation": rotation,
        "Role": {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]},
    });
    if with_key {
        props["TrustedSide"] = json!({"Grant": true, "CreateUser": true, "AccessKey": true});
    }
    let spec = LinkSpec::from_properties(&props).unwrap();
    let service = LinkService::new(
        access.clone(),
        Settings::default(),
        VerifyBounds {
            attempts: 5,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(400),
        },
    );
    let out = service
        .create(&spec)
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e}"));
    crate::remember_secret(out.external_id.expose());
    Link {
        role: name.clone(),
        name,
        role_arn: out.role_arn,
        user: with_key.then_some(user),
        principal,
    }
}

pub async fn current_external_id(access: &AccountAccess, link: &Link) -> String {
    let v = access
        .secrets()
        .get_secret_value(&record::external_id_secret_name(&link.name), AWSCURRENT)
        .await
        .unwrap();
    ExternalIdSecret::parse(&v.text)
        .unwrap()
        .external_id
        .expose()
        .to_string()
}

pub async fn external_id_at(access: &AccountAccess, link: &Link, stage: &str) -> Option<String> {
    match access
        .secrets()
        .get_secret_value(&record::external_id_secret_name(&link.name), stage)
        .await
    {
        Ok(v) => Some(
            ExternalIdSecret::parse(&v.text)
                .unwrap()
                .external_id
                .expose()
                .to_string(),
        ),
        Err(e) if e.is_not_found() => None,
        Err(e) => panic!("{e}"),
    }
}

/// The link's role in the trusting account, as IAM has it now.
pub async fn trusting_role(access: &AccountAccess, link: &Link) -> RoleInfo {
    access
        .iam(&account(TRUSTING))
        .await
        .unwrap()
        .get_role(&link.role)
        .await
        .unwrap()
}

pub async fn accepted_ids(access: &AccountAccess, link: &Link) -> Vec<String> {
    let role = trusting_role(access, link).await;
    policy::accepted_external_ids(&role.trust_policy)
}

pub async fn current_key(access: &AccountAccess, link: &Link) -> AccessKeySecret {
    let v = access
        .secrets()
        .get_secret_value(&record::access_key_secret_name(&link.name), AWSCURRENT)
        .await
        .unwrap();
    let key = AccessKeySecret::parse(&v.text).unwrap();
    crate::remember_secret(key.secret_access_key.expose());
    key
}

pub fn credentials(key: &AccessKeySecret) -> Credentials {
    Credentials {
        access_key_id: key.access_key_id.clone(),
        secret_access_key: key.secret_access_key.clone(),
        session_token: None,
    }
}

/// docs/design.md's invariants, now: the AWSCURRENT external ID is accepted by the trust policy;
/// the AWSCURRENT key is active and works.
pub async fn assert_invariants(access: &AccountAccess, link: &Link, when: &str) {
    let id = current_external_id(access, link).await;
    let role = trusting_role(access, link).await;
    assert!(
        policy::admits(&role.trust_policy, &link.principal, &id),
        "{when}: the AWSCURRENT external ID is not accepted"
    );
    if let Some(user) = &link.user {
        let key = current_key(access, link).await;
        let keys = access
            .iam(&account(TRUSTED))
            .await
            .unwrap()
            .list_access_keys(user)
            .await
            .unwrap();
        let k = keys.iter().find(|k| k.id == key.access_key_id);
        assert!(
            k.is_some_and(|k| k.status == KeyStatus::Active),
            "{when}: the AWSCURRENT key is not active: {keys:?}"
        );
        let me = access.sts_as(&credentials(&key)).caller_identity().await;
        assert_eq!(
            me.map(|m| m.arn).ok().as_deref(),
            Some(link.principal.as_str()),
            "{when}: the AWSCURRENT key does not work"
        );
    }
}

/// A finished rotation: one accepted ID, the AWSCURRENT one and new; one key, the AWSCURRENT
/// one and new; no pending label, no creation in progress.
pub async fn assert_settled(
    access: &AccountAccess,
    link: &Link,
    old_id: &str,
    old_key: Option<&str>,
    when: &str,
) {
    assert_invariants(access, link, when).await;
    let id = current_external_id(access, link).await;
    assert_ne!(id, old_id, "{when}: the external ID was not rotated");
    assert_eq!(
        accepted_ids(access, link).await,
        vec![id.clone()],
        "{when}: only the current ID is accepted"
    );
    assert_eq!(
        external_id_at(access, link, AWSPENDING).await,
        None,
        "{when}: a pending external ID is left"
    );
    if let (Some(user), Some(old_key)) = (&link.user, old_key) {
        let key = current_key(access, link).await;
        assert_ne!(
            key.access_key_id, old_key,
            "{when}: the key was not rotated"
        );
        let keys = access
            .iam(&account(TRUSTED))
            .await
            .unwrap()
            .list_access_keys(user)
            .await
            .unwrap();
        assert_eq!(
            keys.iter().map(|k| k.id.clone()).collect::<Vec<_>>(),
            vec![key.access_key_id.clone()],
            "{when}: one key, the current one"
        );
        let name = record::access_key_secret_name(&link.name);
        assert!(
            access
                .secrets()
                .get_secret_value(&name, AWSPENDING)
                .await
                .unwrap_err()
                .is_not_found(),
            "{when}: a pending key is left"
        );
        let tags = access.secrets().describe_secret(&name).await.unwrap().tags;
        assert!(
            tags.get(tag::KEYS_BEFORE_CREATE)
                .is_none_or(|v| v.is_empty()),
            "{when}: a key creation is still marked"
        );
    }
}
