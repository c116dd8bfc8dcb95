//! The names of `docs/contract.json` are the code's names: secret names and fields, the
//! record's tag keys, the properties a link accepts, the settings and their defaults, the
//! binaries. A rename in either place fails here.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::{json, Value};
use trustlink_domain::record::{self, tag, AccessKeySecret, ExternalIdSecret};
use trustlink_domain::{spec, ExternalId, LinkSpec, SecretAccessKey, Settings};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn contract() -> Value {
    let text =
        std::fs::read_to_string(root().join("docs/contract.json")).expect("docs/contract.json");
    serde_json::from_str(&text).expect("docs/contract.json is JSON")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

fn keys(text: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(text).unwrap();
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn secret_names_and_fields() {
    let c = &contract()["secrets"];
    assert_eq!(c["prefix"], json!(record::SECRET_PREFIX));
    assert_eq!(c["access_key_suffix"], json!(record::ACCESS_KEY_SUFFIX));
    assert_eq!(
        record::external_id_secret_name("<LinkName>"),
        c["external_id_name"].as_str().unwrap()
    );
    assert_eq!(
        record::access_key_secret_name("<LinkName>"),
        c["access_key_name"].as_str().unwrap()
    );
    assert_eq!(
        record::grant_policy_name("<LinkName>"),
        contract()["grant_policy_name"].as_str().unwrap()
    );
    let id = ExternalIdSecret {
        external_id: ExternalId::parse("ExternalId", "ContractId0001").unwrap(),
        role_arn: "arn:aws:iam::111122223333:role/trustlink/r".into(),
        trusted_principal: "arn:aws:iam::444455556666:user/u".into(),
        link_name: "l".into(),
    };
    let mut want = strings(&c["external_id_fields"]);
    want.sort();
    assert_eq!(keys(id.to_text().expose()), want);
    let key = AccessKeySecret {
        access_key_id: "AKIAEXAMPLE".into(),
        secret_access_key: SecretAccessKey::new("s".repeat(40)),
        user_name: "u".into(),
    };
    let mut want = strings(&c["access_key_fields"]);
    want.sort();
    assert_eq!(keys(key.to_text().expose()), want);
}

#[test]
fn record_tag_keys() {
    let c = &contract()["tags"];
    let code = [
        ("link", tag::LINK),
        ("role_arn", tag::ROLE_ARN),
        ("trusted_principal", tag::TRUSTED_PRINCIPAL),
        ("grant_policy_arn", tag::GRANT_POLICY_ARN),
        ("user_created", tag::USER_CREATED),
        ("access_key", tag::ACCESS_KEY),
        ("external_id_days", tag::EXTERNAL_ID_DAYS),
        ("access_key_days", tag::ACCESS_KEY_DAYS),
        ("grace_hours", tag::GRACE_HOURS),
        ("external_id_rotated_at", tag::EXTERNAL_ID_ROTATED_AT),
        ("access_key_rotated_at", tag::ACCESS_KEY_ROTATED_AT),
        ("keys_before_create", tag::KEYS_BEFORE_CREATE),
    ];
    assert_eq!(
        c.as_object().unwrap().len(),
        code.len(),
        "every tag key is in the contract"
    );
    for (name, key) in code {
        assert_eq!(c[name], json!(key), "tag {name}");
    }
}

/// Every property the contract names is accepted, and a name outside it is refused.
#[test]
fn properties_and_defaults() {
    let c = contract();
    let p = &c["properties"];
    let full = json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:trust-link",
        "LinkName": "contract",
        "TrustingAccount": "111122223333",
        "Role": {"Name": "R", "Path": "/trustlink/", "Description": "d", "MaxSessionDuration": "3600",
                 "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                 "InlinePolicies": {"P": {"Version": "2012-10-17", "Statement": [
                     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}},
                 "PermissionsBoundary": "arn:aws:iam::aws:policy/ReadOnlyAccess",
                 "Tags": [{"Key": "k", "Value": "v"}]},
        "TrustedPrincipal": "arn:aws:iam::444455556666:user/u",
        "ExternalId": "ContractId0001",
        "Conditions": {"RequireMfa": "true", "MfaMaxAgeSeconds": "3600", "SourceIpCidrs": ["203.0.113.0/24"],
                       "NotBefore": "2026-01-01T00:00:00Z", "NotAfter": "2027-01-01T00:00:00Z",
                       "PrincipalOrgId": "o-abc123"},
        "TrustedSide": {"Grant": "true", "CreateUser": "true", "AccessKey": "true"},
        "Rotation": {"ExternalIdDays": "90", "AccessKeyDays": "90", "GraceHours": "24"}
    });
    let have = |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(have(&full), strings(&p["top"]).into_iter().collect());
    for group in ["Role", "Conditions", "TrustedSide", "Rotation"] {
        assert_eq!(
            have(&full[group]),
            strings(&p[group]).into_iter().collect(),
            "{group}"
        );
    }
    LinkSpec::from_properties(&full).expect("every contract property is accepted");
    let mut extra = full.clone();
    extra["Role"]["Colour"] = json!("blue");
    let err = LinkSpec::from_properties(&extra).unwrap_err().to_string();
    assert!(err.contains("Role.Colour: unknown property"), "{err}");

    let d = &c["defaults"];
    assert_eq!(d["Role.Path"], json!(spec::DEFAULT_ROLE_PATH));
    assert_eq!(
        d["Rotation.ExternalIdDays"],
        json!(spec::DEFAULT_ROTATION_DAYS)
    );
    assert_eq!(
        d["Rotation.AccessKeyDays"],
        json!(spec::DEFAULT_ROTATION_DAYS)
    );
    assert_eq!(d["Rotation.GraceHours"], json!(spec::DEFAULT_GRACE_HOURS));
}

/// The shared settings are exactly the variables `Settings` reads, with the same defaults.
#[test]
fn shared_settings() {
    let c = &contract()["environment"]["shared"];
    let read = Mutex::new(BTreeSet::new());
    let defaults = Settings::from_lookup(|k| {
        read.lock().unwrap().insert(k.to_string());
        None
    })
    .unwrap();
    let read = read.into_inner().unwrap();
    let shared: BTreeSet<String> = c.as_object().unwrap().keys().cloned().collect();
    assert!(
        shared.is_subset(&read),
        "the contract names a shared setting the code does not read: {:?}",
        shared.difference(&read).collect::<Vec<_>>()
    );
    assert_eq!(
        c["TRUSTLINK_ADMIN_ROLE_NAME"],
        json!(defaults.admin_role_name)
    );
    assert_eq!(c["TRUSTLINK_POLICY_PATH"], json!(defaults.policy_path));
    assert_eq!(c["TRUSTLINK_ROLE_PATHS"], Value::Null);
    assert_eq!(defaults.role_paths, None);
}

/// The `"TRUSTLINK_..."` names a source file spells.
fn variables_in(path: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join(path)).expect(path);
    text.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with("TRUSTLINK_"))
        .map(str::to_string)
        .collect()
}

/// link-check's own settings (crates/link-check/src/settings.rs, which this crate cannot
/// depend on, so read as text): the contract names every variable it reads besides the shared
/// ones, and the defaults the code spells.
#[test]
fn link_check_settings() {
    let c = &contract()["environment"]["link-check"];
    let read = Mutex::new(BTreeSet::new());
    Settings::from_lookup(|k| {
        read.lock().unwrap().insert(k.to_string());
        None
    })
    .unwrap();
    let shared = read.into_inner().unwrap();
    let settings_rs = "crates/link-check/src/settings.rs";
    let own: BTreeSet<String> = variables_in(settings_rs)
        .difference(&shared)
        .cloned()
        .collect();
    let named: BTreeSet<String> = c.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        named, own,
        "docs/contract.json's link-check settings vs {settings_rs}"
    );
    let text = std::fs::read_to_string(root().join(settings_rs)).unwrap();
    let unused = format!(
        "pub const DEFAULT_UNUSED_DAYS: u32 = {};",
        c["TRUSTLINK_UNUSED_DAYS"]
    );
    assert!(text.contains(&unused), "{unused}");
    assert_eq!(c["TRUSTLINK_CLOCK_OFFSET_SECONDS"], json!(0));
    // The read-only member role the template passes (AuditRoleName, checked against the
    // template by tools/check_templates.py); unset, link-check reads with the admin role.
    assert!(c["TRUSTLINK_READ_ROLE_NAME"].is_string());
}

/// The binaries the contract names are the `[[bin]]`s of the workspace's crates.
#[test]
fn binaries() {
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let mut in_bin = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_bin = line == "[[bin]]";
            } else if let (true, Some(name)) = (in_bin, line.strip_prefix("name = ")) {
                found.insert(name.trim_matches('"').to_string());
            }
        }
    }
    let want: BTreeSet<String> = strings(&contract()["binaries"]).into_iter().collect();
    assert_eq!(found, want);
}

/// The incident commands' names: the revoke policy, the suspension's statement and tags, the
/// values of `Compromised`.
#[test]
fn incident_names() {
    use trustlink_domain::incident::{self, Compromised};
    let c = &contract()["incident"];
    assert_eq!(c["revoke_policy_name"], json!(incident::REVOKE_POLICY_NAME));
    assert_eq!(c["suspended_sid"], json!(incident::SUSPENDED_SID));
    let tags = &c["suspension_tags"];
    let code = [
        ("at", incident::tag::SUSPENDED_AT),
        ("by", incident::tag::SUSPENDED_BY),
        ("reason", incident::tag::SUSPENDED_REASON),
        ("key", incident::tag::SUSPENDED_KEY),
    ];
    assert_eq!(tags.as_object().unwrap().len(), code.len());
    for (name, key) in code {
        assert_eq!(tags[name], json!(key), "suspension tag {name}");
    }
    assert_eq!(
        strings(&c["compromised_values"]),
        Compromised::NAMES.map(String::from).to_vec()
    );
}
