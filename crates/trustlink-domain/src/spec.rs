//! The specification of one trust link, as a `Custom::TrustLink` declares it.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::arn::{self, Partition};
use crate::error::{ValidationError, ValidationErrors};
use crate::identity_policy;
use crate::policy::{self, Principal};
use crate::props::Props;
use crate::rules::{self, AccountId, Timestamp};
use crate::secret::ExternalId;

pub const DEFAULT_ROLE_PATH: &str = "/trustlink/";
pub const DEFAULT_ROTATION_DAYS: u32 = 90;
pub const DEFAULT_GRACE_HOURS: u32 = 24;

/// A validated `Custom::TrustLink`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkSpec {
    pub link_name: String,
    /// Where the function, and so the role, lives (IAM trusts only within a partition).
    pub partition: Partition,
    /// `None`: the function's own account.
    pub trusting_account: Option<AccountId>,
    pub role: RoleSpec,
    pub trusted_principal: Principal,
    /// `None`: generate one.
    pub external_id: Option<ExternalId>,
    pub conditions: Conditions,
    pub trusted_side: TrustedSide,
    pub rotation: RotationSettings,
}

/// Its `Debug` shows the inline policies' names and shapes, never their documents.
#[derive(Clone, PartialEq)]
pub struct RoleSpec {
    /// `None`: the link name.
    pub name: Option<String>,
    pub path: String,
    pub description: Option<String>,
    pub max_session_duration: Option<u32>,
    pub managed_policy_arns: Vec<String>,
    pub inline_policies: BTreeMap<String, Value>,
    pub permissions_boundary: Option<String>,
    pub tags: Vec<Tag>,
}

impl std::fmt::Debug for RoleSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inline: BTreeMap<&str, crate::withheld::Withheld<'_>> = self
            .inline_policies
            .iter()
            .map(|(name, doc)| (name.as_str(), crate::withheld::Withheld(doc)))
            .collect();
        f.debug_struct("RoleSpec")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("managed_policy_arns", &self.managed_policy_arns)
            .field("inline_policies", &inline)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// Extra conditions of the trust policy, ANDed as IAM does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    pub require_mfa: bool,
    pub mfa_max_age_seconds: Option<u64>,
    pub source_ip_cidrs: Vec<String>,
    pub not_before: Option<Timestamp>,
    pub not_after: Option<Timestamp>,
    pub principal_org_id: Option<String>,
}

/// What trustlink manages in the trusted account. All off: the trusted side is a partner's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrustedSide {
    pub grant: bool,
    pub create_user: bool,
    pub access_key: bool,
}

impl TrustedSide {
    pub fn is_managed(&self) -> bool {
        self.grant || self.create_user || self.access_key
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RotationSettings {
    /// 0: never.
    pub external_id_days: u32,
    /// 0: never.
    pub access_key_days: u32,
    pub grace_hours: u32,
}

impl Default for RotationSettings {
    fn default() -> Self {
        Self {
            external_id_days: DEFAULT_ROTATION_DAYS,
            access_key_days: DEFAULT_ROTATION_DAYS,
            grace_hours: DEFAULT_GRACE_HOURS,
        }
    }
}

impl LinkSpec {
    /// Parses and validates the `ResourceProperties` of a `Custom::TrustLink` request,
    /// reporting every broken rule at once. `ServiceToken` is CloudFormation's: the function's
    /// ARN, read only for the partition the link lives in.
    pub fn from_properties(properties: &Value) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let mut p = Props::new("", properties).map_err(ValidationErrors::from)?;
        let partition = link_partition(p.value("ServiceToken"), p.value("TrustedPrincipal"));

        let link_name = errors.take(
            p.required_string("LinkName")
                .and_then(|n| rules::check_name("LinkName", &n, 64).map(|_| n)),
        );
        let trusting_account = errors
            .take(p.string("TrustingAccount").and_then(|a| {
                a.map(|a| AccountId::parse("TrustingAccount", &a))
                    .transpose()
            }))
            .flatten();
        let role = match p.value("Role") {
            Some(v) => parse_role(v, &mut errors),
            None => Some(RoleSpec::default()),
        };
        let trusted_principal = errors.take(
            p.required_string("TrustedPrincipal")
                .and_then(|s| Principal::parse_in("TrustedPrincipal", &s, partition)),
        );
        let external_id = errors
            .take(
                p.string("ExternalId")
                    .and_then(|s| s.map(|s| ExternalId::parse("ExternalId", &s)).transpose()),
            )
            .flatten();
        let conditions = match p.value("Conditions") {
            Some(v) => parse_conditions(v, &mut errors),
            None => Some(Conditions::default()),
        };
        let trusted_side = match p.value("TrustedSide") {
            Some(v) => parse_trusted_side(v, &mut errors),
            None => Some(TrustedSide::default()),
        };
        let rotation = match p.value("Rotation") {
            Some(v) => parse_rotation(v, &mut errors),
            None => Some(RotationSettings::default()),
        };
        p.finish(&mut errors);

        let (
            Some(link_name),
            Some(role),
            Some(trusted_principal),
            Some(conditions),
            Some(trusted_side),
            Some(rotation),
        ) = (
            link_name,
            role,
            trusted_principal,
            conditions,
            trusted_side,
            rotation,
        )
        else {
            return Err(errors);
        };
        let spec = LinkSpec {
            link_name,
            partition,
            trusting_account,
            role,
            trusted_principal,
            external_id,
            conditions,
            trusted_side,
            rotation,
        };
        spec.check_consistency(&mut errors);
        errors.into_result(spec)
    }

    /// Rules across fields, checked once each field is valid on its own.
    fn check_consistency(&self, errors: &mut ValidationErrors) {
        if self.trusted_principal.partition() != self.partition {
            errors.push(ValidationError::new(
                "TrustedPrincipal",
                format!(
                    "is in partition {}, the function in {}: IAM trusts only within a partition",
                    self.trusted_principal.partition(),
                    self.partition
                ),
            ));
        }
        let ts = &self.trusted_side;
        if ts.is_managed() && matches!(self.trusted_principal, Principal::Account { .. }) {
            errors.push(ValidationError::new(
                "TrustedSide",
                "needs a user or role as TrustedPrincipal (an account root cannot be granted or given a key)",
            ));
        }
        if (ts.create_user || ts.access_key)
            && !matches!(self.trusted_principal, Principal::User { .. })
        {
            errors.push(ValidationError::new(
                "TrustedSide",
                "CreateUser and AccessKey need a user as TrustedPrincipal",
            ));
        }
        if ts.access_key && !ts.grant {
            errors.push(ValidationError::new(
                "TrustedSide.AccessKey",
                "needs Grant: true, or the key could not assume the role",
            ));
        }
        if self.role.managed_policy_arns.len() > rules::MAX_MANAGED_POLICIES_PER_ROLE {
            errors.push(ValidationError::new(
                "Role.ManagedPolicyArns",
                format!(
                    "at most {} managed policies per role (got {})",
                    rules::MAX_MANAGED_POLICIES_PER_ROLE,
                    self.role.managed_policy_arns.len()
                ),
            ));
        }
        // The trust policy must fit while a rotation has two external IDs in it.
        let id_len = self
            .external_id
            .as_ref()
            .map(|e| e.expose().len())
            .unwrap_or(crate::secret::GENERATED_EXTERNAL_ID_LEN);
        let placeholder = "x".repeat(id_len);
        let doc = policy::trust_policy(
            &self.trusted_principal,
            &[placeholder.as_str(), placeholder.as_str()],
            &self.conditions,
        );
        let size = rules::policy_size(&doc);
        if size > rules::TRUST_POLICY_MAX_CHARS {
            errors.push(ValidationError::new(
                "TrustPolicy",
                format!(
                    "would be {size} characters during an external ID rotation, over IAM's quota of {}; \
                     use fewer SourceIpCidrs or a shorter ExternalId",
                    rules::TRUST_POLICY_MAX_CHARS
                ),
            ));
        }
    }

    pub fn role_name(&self) -> &str {
        self.role.name.as_deref().unwrap_or(&self.link_name)
    }

    /// `arn:<partition>:iam::<account>:role<path><name>`.
    pub fn role_arn(&self, trusting_account: &AccountId) -> String {
        arn::role(
            self.partition,
            trusting_account,
            &self.role.path,
            self.role_name(),
        )
    }

    pub fn manages_access_key(&self) -> bool {
        self.trusted_side.access_key
    }
}

/// The link's partition: the function's (its `ServiceToken` ARN), else the trusted principal
/// ARN's, else the default (a request naming neither, such as a bare account id in a test).
fn link_partition(service_token: Option<&Value>, principal: Option<&Value>) -> Partition {
    [service_token, principal]
        .into_iter()
        .flatten()
        .find_map(|v| v.as_str().and_then(Partition::of_arn))
        .unwrap_or_default()
}

impl Default for RoleSpec {
    fn default() -> Self {
        Self {
            name: None,
            path: DEFAULT_ROLE_PATH.to_string(),
            description: None,
            max_session_duration: None,
            managed_policy_arns: Vec::new(),
            inline_policies: BTreeMap::new(),
            permissions_boundary: None,
            tags: Vec::new(),
        }
    }
}

fn parse_role(v: &Value, errors: &mut ValidationErrors) -> Option<RoleSpec> {
    let before = errors.0.len();
    let mut p = match Props::new("Role", v) {
        Ok(p) => p,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let name = errors.take(p.string("Name")).flatten();
    if let Some(n) = &name {
        errors.take(rules::check_name("Role.Name", n, 64));
    }
    let path = errors
        .take(p.string("Path"))
        .flatten()
        .unwrap_or_else(|| DEFAULT_ROLE_PATH.to_string());
    errors.take(rules::check_path("Role.Path", &path));
    let description = errors.take(p.string("Description")).flatten();
    if let Some(d) = &description {
        errors.take(rules::check_description("Role.Description", d));
    }
    let max_session_duration = errors
        .take(p.number("MaxSessionDuration"))
        .flatten()
        .map(|n| {
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            errors.take(rules::check_max_session_duration(
                "Role.MaxSessionDuration",
                n,
            ));
            n
        });
    let managed_policy_arns = errors
        .take(p.string_list("ManagedPolicyArns"))
        .unwrap_or_default();
    let mut seen = std::collections::BTreeSet::new();
    for (i, arn) in managed_policy_arns.iter().enumerate() {
        errors.take(rules::check_policy_arn(
            &format!("Role.ManagedPolicyArns[{i}]"),
            arn,
        ));
        if !seen.insert(arn) {
            errors.push(ValidationError::new(
                "Role.ManagedPolicyArns",
                format!("'{}' is listed twice", crate::error::excerpt(arn)),
            ));
        }
    }
    let inline_policies = parse_inline_policies(p.value("InlinePolicies"), errors);
    let permissions_boundary = errors.take(p.string("PermissionsBoundary")).flatten();
    if let Some(b) = &permissions_boundary {
        errors.take(rules::check_policy_arn("Role.PermissionsBoundary", b));
    }
    let tags = parse_tags(p.value("Tags"), errors);
    p.finish(errors);
    (errors.0.len() == before).then_some(RoleSpec {
        name,
        path,
        description,
        max_session_duration,
        managed_policy_arns,
        inline_policies,
        permissions_boundary,
        tags,
    })
}

/// `Role.InlinePolicies`: names to documents (or to documents as JSON strings), each checked
/// against IAM's grammar, all of them together against IAM's size quota.
fn parse_inline_policies(
    v: Option<&Value>,
    errors: &mut ValidationErrors,
) -> BTreeMap<String, Value> {
    let mut inline_policies = BTreeMap::new();
    match v {
        None => {}
        Some(Value::Object(map)) => {
            for (name, doc) in map {
                let field = format!("Role.InlinePolicies.{}", crate::error::excerpt(name));
                errors.take(rules::check_name(&field, name, 128));
                errors.take(check_not_trustlinks_own(&field, name));
                // CloudFormation users sometimes pass the document as a JSON string.
                let doc = match doc {
                    Value::String(s) => match serde_json::from_str::<Value>(s) {
                        Ok(d) => d,
                        Err(_) => {
                            errors.push(ValidationError::new(
                                &field,
                                "is a string that is not a JSON policy document",
                            ));
                            continue;
                        }
                    },
                    d => d.clone(),
                };
                let doc = coerce_policy_document(doc);
                identity_policy::check(&field, &doc, errors);
                inline_policies.insert(name.clone(), doc);
            }
            check_inline_size(&inline_policies, errors);
        }
        Some(_) => errors.push(ValidationError::new(
            "Role.InlinePolicies",
            "must map policy names to policy documents",
        )),
    }
    inline_policies
}

/// A spec's inline policy may not take the name of one trustlink writes itself: a Revoke
/// would replace the user's policy, and the next Update would put it back over the Revoke's.
/// IAM does not distinguish policy names by case, so neither does this check.
fn check_not_trustlinks_own(field: &str, name: &str) -> Result<(), ValidationError> {
    match crate::incident::OWN_INLINE_POLICIES
        .iter()
        .find(|own| name.eq_ignore_ascii_case(own))
    {
        Some(own) => Err(ValidationError::new(
            field,
            format!("'{own}' is trustlink's own inline policy name (names compared as IAM does, ignoring case); choose another"),
        )),
        None => Ok(()),
    }
}

/// IAM's quota on a role's inline policies, all of them together, whitespace not counted.
fn check_inline_size(policies: &BTreeMap<String, Value>, errors: &mut ValidationErrors) {
    let inline: usize = policies.values().map(rules::policy_size).sum();
    if inline > rules::ROLE_INLINE_POLICIES_MAX_CHARS {
        errors.push(ValidationError::new(
            "Role.InlinePolicies",
            format!(
                "together {inline} characters (whitespace not counted), over IAM's quota of {} per role",
                rules::ROLE_INLINE_POLICIES_MAX_CHARS
            ),
        ));
    }
}

/// CloudFormation turns booleans and numbers inside a policy into strings, which IAM
/// accepts as they are; nothing to undo, but `null`s from YAML anchors are dropped.
fn coerce_policy_document(doc: Value) -> Value {
    match doc {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, coerce_policy_document(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(coerce_policy_document).collect()),
        other => other,
    }
}

fn parse_tags(v: Option<&Value>, errors: &mut ValidationErrors) -> Vec<Tag> {
    let Some(v) = v else { return Vec::new() };
    let Some(items) = v.as_array() else {
        errors.push(ValidationError::new(
            "Role.Tags",
            "must be a list of {Key, Value}",
        ));
        return Vec::new();
    };
    // With their positions, to say which items are duplicates.
    let mut tags = Vec::new();
    if items.len() > rules::MAX_TAGS {
        errors.push(ValidationError::new(
            "Role.Tags",
            format!("at most {} tags (got {})", rules::MAX_TAGS, items.len()),
        ));
    }
    for (i, item) in items.iter().enumerate() {
        let field = format!("Role.Tags[{i}]");
        let mut p = match Props::new(&field, item) {
            Ok(p) => p,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let key = errors.take(p.required_string("Key"));
        let value = errors.take(p.string("Value")).flatten().unwrap_or_default();
        p.finish(errors);
        if let Some(key) = key {
            if errors
                .take(rules::check_tag(&field, &key, &value))
                .is_some()
            {
                tags.push((i, Tag { key, value }));
            }
        }
    }
    for d in rules::duplicate_tag_keys(tags.iter().map(|(i, t)| (*i, t.key.as_str()))) {
        errors.push(ValidationError::new("Role.Tags", d.to_string()));
    }
    tags.into_iter().map(|(_, t)| t).collect()
}

fn parse_conditions(v: &Value, errors: &mut ValidationErrors) -> Option<Conditions> {
    let before = errors.0.len();
    let mut p = match Props::new("Conditions", v) {
        Ok(p) => p,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let require_mfa = errors
        .take(p.boolean("RequireMfa"))
        .flatten()
        .unwrap_or(false);
    let mfa_max_age_seconds = errors.take(p.number("MfaMaxAgeSeconds")).flatten();
    if mfa_max_age_seconds == Some(0) {
        errors.push(ValidationError::new(
            "Conditions.MfaMaxAgeSeconds",
            "must be at least 1",
        ));
    }
    let source_ip_cidrs = errors
        .take(p.string_list("SourceIpCidrs"))
        .unwrap_or_default();
    for (i, c) in source_ip_cidrs.iter().enumerate() {
        errors.take(rules::check_cidr(
            &format!("Conditions.SourceIpCidrs[{i}]"),
            c,
        ));
    }
    let mut time = |key: &'static str, errors: &mut ValidationErrors| {
        let field = format!("Conditions.{key}");
        errors
            .take(p.string(key))
            .flatten()
            .and_then(|s| errors.take(Timestamp::parse(&field, &s)))
    };
    let not_before = time("NotBefore", errors);
    let not_after = time("NotAfter", errors);
    if let (Some(b), Some(a)) = (not_before, not_after) {
        if b >= a {
            errors.push(ValidationError::new(
                "Conditions.NotAfter",
                format!("must be later than NotBefore ({} is not after {})", a, b),
            ));
        }
    }
    let principal_org_id = errors.take(p.string("PrincipalOrgId")).flatten();
    if let Some(o) = &principal_org_id {
        errors.take(rules::check_org_id("Conditions.PrincipalOrgId", o));
    }
    p.finish(errors);
    (errors.0.len() == before).then_some(Conditions {
        require_mfa,
        mfa_max_age_seconds,
        source_ip_cidrs,
        not_before,
        not_after,
        principal_org_id,
    })
}

fn parse_trusted_side(v: &Value, errors: &mut ValidationErrors) -> Option<TrustedSide> {
    let before = errors.0.len();
    let mut p = match Props::new("TrustedSide", v) {
        Ok(p) => p,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let grant = errors.take(p.boolean("Grant")).flatten().unwrap_or(false);
    let create_user = errors
        .take(p.boolean("CreateUser"))
        .flatten()
        .unwrap_or(false);
    let access_key = errors
        .take(p.boolean("AccessKey"))
        .flatten()
        .unwrap_or(false);
    p.finish(errors);
    (errors.0.len() == before).then_some(TrustedSide {
        grant,
        create_user,
        access_key,
    })
}

fn parse_rotation(v: &Value, errors: &mut ValidationErrors) -> Option<RotationSettings> {
    let before = errors.0.len();
    let mut p = match Props::new("Rotation", v) {
        Ok(p) => p,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let d = RotationSettings::default();
    let mut bounded =
        |key: &'static str, default: u32, max: u64, errors: &mut ValidationErrors| match errors
            .take(p.number(key))
            .flatten()
        {
            Some(n) if n > max => {
                errors.push(ValidationError::new(
                    format!("Rotation.{key}"),
                    format!("must be at most {max} (got {n})"),
                ));
                default
            }
            Some(n) => n as u32,
            None => default,
        };
    let external_id_days = bounded("ExternalIdDays", d.external_id_days, 3650, errors);
    let access_key_days = bounded("AccessKeyDays", d.access_key_days, 3650, errors);
    let grace_hours = bounded("GraceHours", d.grace_hours, 24 * 90, errors);
    p.finish(errors);
    (errors.0.len() == before).then_some(RotationSettings {
        external_id_days,
        access_key_days,
        grace_hours,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The README's classic link, as CloudFormation sends it (strings for scalars); the
    /// property fuzzer (tests/fuzz_properties.rs) starts from the same file.
    fn classic() -> Value {
        serde_json::from_str(include_str!("../tests/fixtures/classic_link.json")).unwrap()
    }

    #[test]
    fn debug_of_a_spec_shows_no_document_and_no_external_id() {
        let mut props = classic();
        props["Role"]["InlinePolicies"]["S3DevAccess"]["Statement"][0]["Sid"] =
            json!("SecretLookingSid0123");
        let spec = LinkSpec::from_properties(&props).unwrap();
        let shown = format!("{spec:?}");
        assert!(shown.contains("S3DevAccess"), "{shown}");
        assert!(!shown.contains("SecretLookingSid0123"), "{shown}");
        assert!(!shown.contains("UniqueExternalId12345"), "{shown}");
    }

    fn errors_of(props: Value) -> String {
        LinkSpec::from_properties(&props).unwrap_err().to_string()
    }

    fn with(mut base: Value, pointer: &str, v: Value) -> Value {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        base.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(key.to_string(), v);
        base
    }

    #[test]
    fn parses_the_classic_link_with_string_scalars() {
        let spec = LinkSpec::from_properties(&classic()).unwrap();
        assert_eq!(spec.link_name, "dev-cross-account");
        assert_eq!(
            spec.trusting_account.as_ref().unwrap().as_str(),
            "111122223333"
        );
        assert_eq!(spec.role_name(), "CrossAccountDeveloperRole");
        assert_eq!(spec.role.max_session_duration, Some(3600));
        assert!(spec.conditions.require_mfa);
        assert_eq!(spec.conditions.mfa_max_age_seconds, Some(3600));
        assert_eq!(
            spec.trusted_side,
            TrustedSide {
                grant: true,
                create_user: true,
                access_key: true
            }
        );
        assert_eq!(spec.rotation.grace_hours, 24);
        assert_eq!(
            spec.role_arn(spec.trusting_account.as_ref().unwrap()),
            "arn:aws:iam::111122223333:role/cross-account/CrossAccountDeveloperRole"
        );
        assert_eq!(
            spec.external_id.as_ref().unwrap().expose(),
            "UniqueExternalId12345"
        );
    }

    #[test]
    fn defaults() {
        let spec = LinkSpec::from_properties(&json!({
            "LinkName": "partner-readonly",
            "TrustedPrincipal": "444455556666"
        }))
        .unwrap();
        assert_eq!(spec.role_name(), "partner-readonly");
        assert_eq!(spec.role.path, "/trustlink/");
        assert!(spec.trusting_account.is_none());
        assert!(spec.external_id.is_none());
        assert!(!spec.trusted_side.is_managed());
        assert_eq!(
            spec.rotation,
            RotationSettings {
                external_id_days: 90,
                access_key_days: 90,
                grace_hours: 24
            }
        );
        assert_eq!(
            spec.trusted_principal.arn(),
            "arn:aws:iam::444455556666:root"
        );
    }

    #[test]
    fn the_partition_comes_from_the_function_or_the_principal_never_a_literal() {
        let cn = with(
            with(
                classic(),
                "/ServiceToken",
                json!("arn:aws-cn:lambda:cn-north-1:111122223333:function:trust-link"),
            ),
            "/TrustedPrincipal",
            json!("arn:aws-cn:iam::444455556666:user/DevUser"),
        );
        let spec = LinkSpec::from_properties(&cn).unwrap();
        assert_eq!(spec.partition, Partition::AwsCn);
        assert_eq!(
            spec.role_arn(spec.trusting_account.as_ref().unwrap()),
            "arn:aws-cn:iam::111122223333:role/cross-account/CrossAccountDeveloperRole"
        );
        assert_eq!(
            spec.trusted_principal.arn(),
            "arn:aws-cn:iam::444455556666:user/DevUser"
        );
        // A bare account id is in the function's partition; with no ServiceToken, in the
        // principal's.
        let gov = LinkSpec::from_properties(&json!({
            "ServiceToken": "arn:aws-us-gov:lambda:us-gov-west-1:111122223333:function:t",
            "LinkName": "l", "TrustedPrincipal": "444455556666"}))
        .unwrap();
        assert_eq!(
            gov.trusted_principal.arn(),
            "arn:aws-us-gov:iam::444455556666:root"
        );
        let no_token = LinkSpec::from_properties(&json!({
            "LinkName": "l", "TrustedPrincipal": "arn:aws-us-gov:iam::444455556666:role/R"}))
        .unwrap();
        assert_eq!(no_token.partition, Partition::AwsUsGov);
        assert_eq!(
            no_token.role_arn(no_token.trusted_principal.account()),
            "arn:aws-us-gov:iam::444455556666:role/trustlink/l"
        );
        let across = with(
            cn,
            "/ServiceToken",
            json!("arn:aws:lambda:us-east-1:111122223333:function:trust-link"),
        );
        assert_eq!(
            errors_of(across),
            "TrustedPrincipal: is in partition aws-cn, the function in aws: IAM trusts only within a partition"
        );
    }

    #[test]
    fn inline_policy_given_as_a_json_string() {
        let props = with(
            classic(),
            "/Role/InlinePolicies",
            json!({"S3": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}]}"}),
        );
        let spec = LinkSpec::from_properties(&props).unwrap();
        assert_eq!(
            spec.role.inline_policies["S3"]["Statement"][0]["Action"],
            "s3:GetObject"
        );
    }

    /// One failing case per rule, each with the field it names and the rule it states.
    #[test]
    fn every_rule_has_a_failing_case() {
        let cases: Vec<(Value, &str)> = vec![
            (with(classic(), "/LinkName", json!("bad name")), "LinkName: may contain only letters, digits and _+=,.@- (found ' ')"),
            (with(classic(), "/LinkName", json!("l".repeat(65))), "LinkName: must be 1 to 64 characters long (got 65)"),
            (with(classic(), "/TrustingAccount", json!("1111")), "TrustingAccount: '1111' is not an AWS account id (exactly 12 digits)"),
            (with(classic(), "/TrustedPrincipal", json!("*")), "TrustedPrincipal: a wildcard principal is refused"),
            (with(classic(), "/TrustedPrincipal", json!("arn:aws:iam::444455556666:group/Devs")), "TrustedPrincipal: 'arn:aws:iam::444455556666:group/Devs' must be an account id, or the ARN of an account root, a user or a role"),
            (with(classic(), "/ExternalId", json!("x")), "ExternalId: must be 2 to 1224 characters long (got 1)"),
            (with(classic(), "/ExternalId", json!("has space")), "ExternalId: may contain only letters, digits and _+=,.@:/- (found whitespace)"),
            (with(classic(), "/Role/Name", json!("r".repeat(65))), "Role.Name: must be 1 to 64 characters long (got 65)"),
            (with(classic(), "/Role/Path", json!("no-slashes")), "Role.Path: 'no-slashes' must start and end with '/'"),
            (with(classic(), "/Role/MaxSessionDuration", json!("100")), "Role.MaxSessionDuration: must be between 3600 and 43200 seconds (got 100)"),
            (with(classic(), "/Role/MaxSessionDuration", json!("an hour")), "Role.MaxSessionDuration: must be a whole number of at least 0 (got 'an hour')"),
            (with(classic(), "/Role/ManagedPolicyArns", json!(["ReadOnlyAccess"])), "Role.ManagedPolicyArns[0]: 'ReadOnlyAccess' is not an IAM ARN"),
            (with(classic(), "/Role/PermissionsBoundary", json!("arn:aws:iam::111122223333:role/x")), "Role.PermissionsBoundary: 'arn:aws:iam::111122223333:role/x' is not a managed policy ARN"),
            (with(classic(), "/Role/InlinePolicies", json!({"S3": {"Statement": []}})), "Role.InlinePolicies.S3.Version: must be \"2012-10-17\" and is missing"),
            (with(classic(), "/Role/InlinePolicies", json!({"S3": "{not json"})), "Role.InlinePolicies.S3: is a string that is not a JSON policy document"),
            (with(classic(), "/Role/InlinePolicies", json!({"bad name": {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}})), "Role.InlinePolicies.bad name: may contain only"),
            (with(classic(), "/Role/InlinePolicies", json!({"trustlinkREVOKESessions": {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}})), "Role.InlinePolicies.trustlinkREVOKESessions: 'TrustLinkRevokeSessions' is trustlink's own inline policy name"),
            (with(classic(), "/Role/Tags", json!([{"Key": "aws:x", "Value": "y"}])), "Role.Tags[0].Key: 'aws:x' uses the reserved prefix aws:"),
            (with(classic(), "/Role/Description", json!("d".repeat(1001))), "Role.Description: must be at most 1000 characters"),
            (with(classic(), "/Role/Colour", json!("blue")), "Role.Colour: unknown property (expected one of Description, InlinePolicies, ManagedPolicyArns, MaxSessionDuration, Name, Path, PermissionsBoundary, Tags)"),
            (with(classic(), "/Unknown", json!("x")), "Unknown: unknown property (expected one of "),
            (with(classic(), "/Conditions/RequireMfa", json!("yes")), "Conditions.RequireMfa: must be true or false (got \"yes\")"),
            (with(classic(), "/Conditions/MfaMaxAgeSeconds", json!("0")), "Conditions.MfaMaxAgeSeconds: must be at least 1"),
            (with(classic(), "/Conditions/SourceIpCidrs", json!(["203.0.113.0/33"])), "Conditions.SourceIpCidrs[0]: '203.0.113.0/33' is not an IPv4 or IPv6 CIDR block"),
            (with(classic(), "/Conditions/NotBefore", json!("tomorrow")), "Conditions.NotBefore: 'tomorrow' is not an ISO 8601 time"),
            (with(with(classic(), "/Conditions/NotBefore", json!("2026-12-31T23:59:59Z")), "/Conditions/NotAfter", json!("2026-01-01T00:00:00Z")), "Conditions.NotAfter: must be later than NotBefore"),
            (with(classic(), "/Conditions/PrincipalOrgId", json!("org-1")), "Conditions.PrincipalOrgId: 'org-1' is not an AWS Organizations id"),
            (with(classic(), "/TrustedSide/Grant", json!("maybe")), "TrustedSide.Grant: must be true or false"),
            (with(classic(), "/TrustedSide/Grant", json!("false")), "TrustedSide.AccessKey: needs Grant: true"),
            (with(classic(), "/TrustedPrincipal", json!("arn:aws:iam::444455556666:role/Dev")), "TrustedSide: CreateUser and AccessKey need a user as TrustedPrincipal"),
            (with(classic(), "/TrustedPrincipal", json!("444455556666")), "TrustedSide: needs a user or role as TrustedPrincipal"),
            (with(classic(), "/Rotation/GraceHours", json!("100000")), "Rotation.GraceHours: must be at most 2160 (got 100000)"),
            (with(classic(), "/Conditions/SourceIpCidrs", json!((0..120).map(|i| format!("10.{i}.0.0/16")).collect::<Vec<_>>())), "TrustPolicy: would be "),
            (json!({"TrustedPrincipal": "444455556666"}), "LinkName: is required"),
            (json!({"LinkName": "x"}), "TrustedPrincipal: is required"),
            (json!("not an object"), "ResourceProperties: must be an object"),
        ];
        for (props, expected) in cases {
            let got = errors_of(props);
            assert!(got.contains(expected), "\n got: {got}\nwant: {expected}");
        }
    }

    /// Issue 9, item 5: a long non-ASCII value used to be cut for the error message at a byte
    /// index inside a character, and the panic reached CloudFormation as "internal error".
    #[test]
    fn long_unicode_values_are_refused_naming_the_field() {
        let long = "\u{1F600}é中".repeat(400);
        for (pointer, field) in [
            (
                "/TrustedSide/CreateUser",
                "TrustedSide.CreateUser: must be true or false",
            ),
            (
                "/Conditions/RequireMfa",
                "Conditions.RequireMfa: must be true or false",
            ),
            (
                "/Role/MaxSessionDuration",
                "Role.MaxSessionDuration: must be a whole number",
            ),
            ("/TrustingAccount", "TrustingAccount: '"),
            ("/Role/Path", "Role.Path: '"),
            ("/Conditions/NotBefore", "Conditions.NotBefore: '"),
        ] {
            let got = errors_of(with(classic(), pointer, json!(long)));
            assert!(got.starts_with(field), "\n got: {got}\nwant: {field}");
            assert!(
                got.len() < 600,
                "{pointer}: the value is quoted whole: {got}"
            );
        }
    }

    /// Issue 9, item 7: each of these used to reach IAM and come back as IAM's own message,
    /// naming no property (or, for exact duplicate tag keys, to pass without a word).
    #[test]
    fn inline_policies_and_tags_are_checked_before_iam() {
        let policy =
            |statement: Value| json!({"P": {"Version": "2012-10-17", "Statement": [statement]}});
        let st = |action: &str, resource: &str| json!({"Effect": "Allow", "Action": action, "Resource": resource});
        let cases: Vec<(Value, &str)> = vec![
            (with(classic(), "/Role/InlinePolicies", policy(st("s3:Get:Object", "*"))),
                "Role.InlinePolicies.P.Statement[0].Action: 's3:Get:Object' is not an action"),
            (with(classic(), "/Role/InlinePolicies", policy(st("s3:GetObject", "TRUE"))),
                "Role.InlinePolicies.P.Statement[0].Resource: 'TRUE' is not a resource"),
            (with(classic(), "/Role/InlinePolicies", policy(st("s3:GetObject", "0.0.0.0/0"))),
                "Role.InlinePolicies.P.Statement[0].Resource: '0.0.0.0/0' is not a resource"),
            (with(classic(), "/Role/InlinePolicies", policy(st("s3:GetObject", "\u{4e2d}\u{6587}"))),
                "Role.InlinePolicies.P.Statement[0].Resource: contains U+4E2D"),
            (with(classic(), "/Role/InlinePolicies", json!({"P": {"Version": "2008-10-17", "Statement": st("s3:*", "*")}})),
                "Role.InlinePolicies.P.Version: must be \"2012-10-17\", not '2008-10-17' (the current policy language; policy variables such as ${aws:username} need it)"),
            (with(classic(), "/Role/InlinePolicies", json!({"P": "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\",\"Principal\":\"*\"}}"})),
                "Role.InlinePolicies.P.Statement[0].Principal: is not allowed in an identity-based policy"),
            (with(classic(), "/Role/InlinePolicies", json!({"P": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"StringEqualz": {"aws:x": "y"}}}]}})),
                "Role.InlinePolicies.P.Statement[0].Condition: 'StringEqualz' is not an IAM condition operator"),
            (with(classic(), "/Role/Tags", json!([{"Key": "team", "Value": "a"}, {"Key": "Team", "Value": "b"}])),
                "Role.Tags: keys 'team' and 'Team' differ only in case, and IAM compares tag keys case-insensitively (items 0 and 1)"),
            (with(classic(), "/Role/Tags", json!([{"Key": "team", "Value": "a"}, {"Key": "team", "Value": "a"}])),
                "Role.Tags: key 'team' is given twice (items 0 and 1)"),
        ];
        for (props, expected) in cases {
            let errs = LinkSpec::from_properties(&props).unwrap_err();
            assert_eq!(errs.0.len(), 1, "{errs}");
            let got = format!("{}", errs.0[0]);
            assert!(got.starts_with(expected), "\n got: {got}\nwant: {expected}");
        }
    }

    #[test]
    fn inline_policies_together_fit_iams_quota_per_role() {
        let big = |n: usize| {
            let actions: Vec<String> = (0..n)
                .map(|i| format!("s3:GetObjectVersion{i:04}"))
                .collect();
            json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": actions, "Resource": "*"}})
        };
        let one = big(200);
        assert!(rules::policy_size(&one) < rules::ROLE_INLINE_POLICIES_MAX_CHARS);
        let fits = with(classic(), "/Role/InlinePolicies", json!({"A": one}));
        assert!(LinkSpec::from_properties(&fits).is_ok());
        // Each under the quota, together over it; reported with a broken rule elsewhere.
        let over = with(
            with(
                classic(),
                "/Role/InlinePolicies",
                json!({"A": big(200), "B": big(200)}),
            ),
            "/Role/Path",
            json!("bad"),
        );
        let got = errors_of(over);
        assert!(got.contains("Role.Path: 'bad'"), "{got}");
        assert!(
            got.contains("Role.InlinePolicies: together ")
                && got.contains("over IAM's quota of 10240 per role"),
            "{got}"
        );
    }

    #[test]
    fn every_policy_problem_is_reported_with_the_other_errors() {
        let props = with(
            with(classic(), "/LinkName", json!("bad name")),
            "/Role/InlinePolicies",
            json!({"P": {"Version": "2008-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:a:b", "Resource": "TRUE"}]}}),
        );
        let fields: Vec<String> = LinkSpec::from_properties(&props)
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "LinkName",
                "Role.InlinePolicies.P.Version",
                "Role.InlinePolicies.P.Statement[0].Action",
                "Role.InlinePolicies.P.Statement[0].Resource"
            ]
        );
    }

    #[test]
    fn all_broken_rules_are_reported_together_without_the_external_id() {
        let props = with(
            with(classic(), "/TrustingAccount", json!("1")),
            "/ExternalId",
            json!("secret value with spaces"),
        );
        let errs = LinkSpec::from_properties(&props).unwrap_err();
        assert_eq!(errs.0.len(), 2, "{errs}");
        assert!(!errs.to_string().contains("secret value"));
    }
}
