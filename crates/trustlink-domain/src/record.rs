//! What a link owns, as recorded on its `trustlink/<LinkName>` secret (tags: not secret, read
//! by the rotator and by Delete), and the JSON of the two secrets consumers read.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::policy::Principal;
use crate::rules::{AccountId, IamArn};
use crate::secret::{ExternalId, SecretAccessKey, SecretText};
use crate::spec::RotationSettings;

pub const SECRET_PREFIX: &str = "trustlink/";
pub const ACCESS_KEY_SUFFIX: &str = "/access-key";

pub fn external_id_secret_name(link_name: &str) -> String {
    format!("{SECRET_PREFIX}{link_name}")
}

pub fn access_key_secret_name(link_name: &str) -> String {
    format!("{SECRET_PREFIX}{link_name}{ACCESS_KEY_SUFFIX}")
}

/// The grant policy's name in the trusted account.
pub fn grant_policy_name(link_name: &str) -> String {
    format!("TrustLink-{link_name}")
}

pub mod tag {
    pub const LINK: &str = "trustlink:link";
    pub const ROLE_ARN: &str = "trustlink:role-arn";
    pub const TRUSTED_PRINCIPAL: &str = "trustlink:trusted-principal";
    pub const GRANT_POLICY_ARN: &str = "trustlink:grant-policy-arn";
    pub const USER_CREATED: &str = "trustlink:user-created";
    pub const ACCESS_KEY: &str = "trustlink:access-key";
    pub const EXTERNAL_ID_DAYS: &str = "trustlink:external-id-days";
    pub const ACCESS_KEY_DAYS: &str = "trustlink:access-key-days";
    pub const GRACE_HOURS: &str = "trustlink:grace-hours";
    /// Epoch seconds of the last external ID change (creation counts).
    pub const EXTERNAL_ID_ROTATED_AT: &str = "trustlink:external-id-rotated-at";
    /// Epoch seconds of the last access key change.
    pub const ACCESS_KEY_ROTATED_AT: &str = "trustlink:access-key-rotated-at";
    /// On the access key secret while a key is being created: the user's key ids before it.
    pub const KEYS_BEFORE_CREATE: &str = "trustlink:keys-before-create";
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRecord {
    pub link_name: String,
    pub role_arn: String,
    pub trusted_principal: Principal,
    pub grant_policy_arn: Option<String>,
    /// The trusted user was created by this link (and so may be deleted with it).
    pub user_created: bool,
    pub access_key: bool,
    pub rotation: RotationSettings,
    pub external_id_rotated_at: Option<i64>,
    pub access_key_rotated_at: Option<i64>,
}

impl LinkRecord {
    pub fn to_tags(&self) -> BTreeMap<String, String> {
        let mut t = BTreeMap::new();
        t.insert(tag::LINK.into(), self.link_name.clone());
        t.insert(tag::ROLE_ARN.into(), self.role_arn.clone());
        t.insert(tag::TRUSTED_PRINCIPAL.into(), self.trusted_principal.arn());
        t.insert(
            tag::GRANT_POLICY_ARN.into(),
            self.grant_policy_arn.clone().unwrap_or_default(),
        );
        t.insert(tag::USER_CREATED.into(), self.user_created.to_string());
        t.insert(tag::ACCESS_KEY.into(), self.access_key.to_string());
        t.insert(
            tag::EXTERNAL_ID_DAYS.into(),
            self.rotation.external_id_days.to_string(),
        );
        t.insert(
            tag::ACCESS_KEY_DAYS.into(),
            self.rotation.access_key_days.to_string(),
        );
        t.insert(
            tag::GRACE_HOURS.into(),
            self.rotation.grace_hours.to_string(),
        );
        if let Some(at) = self.external_id_rotated_at {
            t.insert(tag::EXTERNAL_ID_ROTATED_AT.into(), at.to_string());
        }
        if let Some(at) = self.access_key_rotated_at {
            t.insert(tag::ACCESS_KEY_ROTATED_AT.into(), at.to_string());
        }
        t
    }

    /// `None` when the tags are not a link's (a secret someone else put under `trustlink/`, or
    /// one whose trusted principal is not a principal trustlink could have written).
    pub fn from_tags(tags: &BTreeMap<String, String>) -> Option<Self> {
        let get = |k: &str| tags.get(k).filter(|v| !v.is_empty()).cloned();
        let num = |k: &str, d: u32| get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
        let d = RotationSettings::default();
        Some(Self {
            link_name: get(tag::LINK)?,
            role_arn: get(tag::ROLE_ARN)?,
            trusted_principal: Principal::parse(
                tag::TRUSTED_PRINCIPAL,
                &get(tag::TRUSTED_PRINCIPAL)?,
            )
            .ok()?,
            grant_policy_arn: get(tag::GRANT_POLICY_ARN),
            user_created: get(tag::USER_CREATED).as_deref() == Some("true"),
            access_key: get(tag::ACCESS_KEY).as_deref() == Some("true"),
            rotation: RotationSettings {
                external_id_days: num(tag::EXTERNAL_ID_DAYS, d.external_id_days),
                access_key_days: num(tag::ACCESS_KEY_DAYS, d.access_key_days),
                grace_hours: num(tag::GRACE_HOURS, d.grace_hours),
            },
            external_id_rotated_at: get(tag::EXTERNAL_ID_ROTATED_AT).and_then(|v| v.parse().ok()),
            access_key_rotated_at: get(tag::ACCESS_KEY_ROTATED_AT).and_then(|v| v.parse().ok()),
        })
    }

    /// The trusting account and role name, from the role ARN.
    pub fn role(&self) -> Option<(AccountId, String)> {
        role_of_arn(&self.role_arn)
    }
}

/// `arn:aws:iam::<account>:role/<path><name>` into its account and name.
pub fn role_of_arn(arn: &str) -> Option<(AccountId, String)> {
    let parsed = IamArn::parse("role", arn).ok()?;
    if parsed.kind != "role" || parsed.name.is_empty() {
        return None;
    }
    Some((AccountId::parse("role", &parsed.account).ok()?, parsed.name))
}

/// Why a secret's JSON could not be read. Names the secret and the field, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretParseError {
    #[error("{what} is not JSON")]
    NotJson { what: &'static str },
    #[error("{what} has no {field}")]
    MissingField {
        what: &'static str,
        field: &'static str,
    },
    /// `rule` is the broken rule of [`ExternalId::parse`], which never echoes the value.
    #[error("{what} holds an invalid external ID ({rule})")]
    InvalidExternalId { what: &'static str, rule: String },
}

/// The string fields of a secret's JSON.
struct SecretFields {
    what: &'static str,
    json: Value,
}

impl SecretFields {
    fn parse(text: &SecretText, what: &'static str) -> Result<Self, SecretParseError> {
        let json =
            serde_json::from_str(text.expose()).map_err(|_| SecretParseError::NotJson { what })?;
        Ok(Self { what, json })
    }

    fn get(&self, field: &'static str) -> Result<String, SecretParseError> {
        self.json
            .get(field)
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or(SecretParseError::MissingField {
                what: self.what,
                field,
            })
    }
}

/// `trustlink/<LinkName>`: all a consumer needs to assume the role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdSecret {
    pub external_id: ExternalId,
    pub role_arn: String,
    pub trusted_principal: String,
    pub link_name: String,
}

impl ExternalIdSecret {
    pub fn to_text(&self) -> SecretText {
        SecretText::new(
            json!({
                "ExternalId": self.external_id.expose(),
                "RoleArn": self.role_arn,
                "TrustedPrincipal": self.trusted_principal,
                "LinkName": self.link_name,
            })
            .to_string(),
        )
    }

    /// The error names what is wrong, never the value.
    pub fn parse(text: &SecretText) -> Result<Self, SecretParseError> {
        let what = "the external ID secret";
        let fields = SecretFields::parse(text, what)?;
        let field = |k: &'static str| fields.get(k);
        Ok(Self {
            external_id: ExternalId::parse("ExternalId", &field("ExternalId")?)
                .map_err(|e| SecretParseError::InvalidExternalId { what, rule: e.rule })?,
            role_arn: field("RoleArn")?,
            trusted_principal: field("TrustedPrincipal")?,
            link_name: field("LinkName").unwrap_or_default(),
        })
    }
}

/// `trustlink/<LinkName>/access-key`: the managed user's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeySecret {
    pub access_key_id: String,
    pub secret_access_key: SecretAccessKey,
    pub user_name: String,
}

impl AccessKeySecret {
    pub fn to_text(&self) -> SecretText {
        SecretText::new(
            json!({
                "AccessKeyId": self.access_key_id,
                "SecretAccessKey": self.secret_access_key.expose(),
                "UserName": self.user_name,
            })
            .to_string(),
        )
    }

    pub fn parse(text: &SecretText) -> Result<Self, SecretParseError> {
        let fields = SecretFields::parse(text, "the access key secret")?;
        let field = |k: &'static str| fields.get(k);
        Ok(Self {
            access_key_id: field("AccessKeyId")?,
            secret_access_key: SecretAccessKey::new(field("SecretAccessKey")?),
            user_name: field("UserName")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> LinkRecord {
        LinkRecord {
            link_name: "dev-cross-account".into(),
            role_arn: "arn:aws:iam::111122223333:role/cross-account/CrossAccountDeveloperRole"
                .into(),
            trusted_principal: Principal::parse("p", "arn:aws:iam::444455556666:user/DevUser")
                .unwrap(),
            grant_policy_arn: Some(
                "arn:aws:iam::444455556666:policy/trustlink/TrustLink-dev-cross-account".into(),
            ),
            user_created: true,
            access_key: true,
            rotation: RotationSettings {
                external_id_days: 30,
                access_key_days: 0,
                grace_hours: 2,
            },
            external_id_rotated_at: Some(1_767_225_600),
            access_key_rotated_at: None,
        }
    }

    #[test]
    fn record_round_trips_through_tags() {
        let r = record();
        let tags = r.to_tags();
        assert!(tags.len() <= 50 && tags.values().all(|v| v.len() <= 256));
        assert_eq!(LinkRecord::from_tags(&tags), Some(r.clone()));
        assert_eq!(
            r.role(),
            Some((
                AccountId::parse("a", "111122223333").unwrap(),
                "CrossAccountDeveloperRole".into()
            ))
        );
        let mut partial = tags.clone();
        partial.remove(tag::ROLE_ARN);
        assert_eq!(LinkRecord::from_tags(&partial), None);
    }

    #[test]
    fn every_principal_form_round_trips_through_the_tags() {
        for partition in crate::arn::Partition::ALL {
            let p = partition.as_str();
            let forms = [
                format!("arn:{p}:iam::444455556666:root"),
                format!("arn:{p}:iam::444455556666:user/DevUser"),
                format!("arn:{p}:iam::444455556666:user/team/dev/DevUser"),
                format!("arn:{p}:iam::444455556666:role/Deployer"),
                format!("arn:{p}:iam::444455556666:role/ci/Deployer"),
            ];
            let bare = Principal::parse_in("p", "444455556666", partition).unwrap();
            let parsed = forms.iter().map(|f| Principal::parse("p", f).unwrap());
            for principal in parsed.chain([bare]) {
                let r = LinkRecord {
                    trusted_principal: principal.clone(),
                    ..record()
                };
                let back = LinkRecord::from_tags(&r.to_tags()).expect("a link's tags");
                assert_eq!(back.trusted_principal, principal);
                assert_eq!(back.trusted_principal.partition(), partition);
                assert_eq!(back, r);
            }
        }
        let mut tags = record().to_tags();
        tags.insert(
            tag::TRUSTED_PRINCIPAL.into(),
            "arn:aws:iam::444455556666:group/G".into(),
        );
        assert_eq!(LinkRecord::from_tags(&tags), None);
    }

    #[test]
    fn secrets_round_trip_and_redact() {
        let s = ExternalIdSecret {
            external_id: ExternalId::parse("e", "UniqueExternalId12345").unwrap(),
            role_arn: "arn:aws:iam::111122223333:role/x".into(),
            trusted_principal: "arn:aws:iam::444455556666:user/DevUser".into(),
            link_name: "l".into(),
        };
        assert_eq!(ExternalIdSecret::parse(&s.to_text()).unwrap(), s);
        assert!(!format!("{s:?}").contains("UniqueExternalId12345"));
        let k = AccessKeySecret {
            access_key_id: "AKIAEXAMPLE".into(),
            secret_access_key: SecretAccessKey::new("wJalrXUtnFEMIEXAMPLE"),
            user_name: "DevUser".into(),
        };
        assert_eq!(AccessKeySecret::parse(&k.to_text()).unwrap(), k);
        assert!(!format!("{k:?}").contains("wJalr"));
        let err = ExternalIdSecret::parse(&SecretText::new(
            r#"{"ExternalId":"a b","RoleArn":"r","TrustedPrincipal":"p"}"#,
        ))
        .unwrap_err();
        assert!(matches!(err, SecretParseError::InvalidExternalId { .. }));
        assert!(!err.to_string().contains("a b"), "{err}");
        assert_eq!(
            AccessKeySecret::parse(&SecretText::new(r#"{"AccessKeyId":"AKIAX"}"#)).unwrap_err(),
            SecretParseError::MissingField {
                what: "the access key secret",
                field: "SecretAccessKey"
            }
        );
        assert_eq!(
            ExternalIdSecret::parse(&SecretText::new("not json"))
                .unwrap_err()
                .to_string(),
            "the external ID secret is not JSON"
        );
    }
}
