//! Creating, updating and deleting a trust link: both ends, the external ID, the secrets.
//!
//! Create and Update converge the world onto the specification, so a duplicate delivery of a
//! request finds its own earlier work (tagged `trustlink:link`) and adopts it. Everything an
//! invocation creates is logged in an undo list; a failure rolls exactly that back.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};
use tracing::{info, warn};
use trustlink_aws::ports::{
    AccessKeys, Cloud, Credentials, KeyStatus, Policies, RoleDefinition, RoleInfo, Roles, Secrets,
    Sts, Users, AWSCURRENT, AWSPENDING, AWSPREVIOUS,
};
use trustlink_aws::AwsError;
use trustlink_domain::policy::{self, Principal};
use trustlink_domain::record::{self, tag, AccessKeySecret, ExternalIdSecret, LinkRecord};
use trustlink_domain::withheld::Withheld;
use trustlink_domain::{AccountId, ExternalId, LinkSpec, Settings};

use crate::error::{invalid, AtStep, LinkError};

/// How long verification keeps retrying through IAM's eventual consistency.
#[derive(Debug, Clone, Copy)]
pub struct VerifyBounds {
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for VerifyBounds {
    /// About a minute in all: new keys and roles usually work within ten seconds.
    fn default() -> Self {
        Self {
            attempts: 12,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

/// What Create and Update return: the `Fn::GetAtt` attributes.
#[derive(Debug, Clone)]
pub struct LinkOutput {
    pub role_arn: String,
    pub role_name: String,
    pub external_id_secret_arn: String,
    pub access_key_secret_arn: Option<String>,
    pub external_id: ExternalId,
    /// How the link was verified, for the log.
    pub verified_by: &'static str,
}

/// Create, or Update of the resource whose physical id (role ARN) is given.
#[derive(Debug, Clone, Copy)]
pub enum Mode<'a> {
    Create,
    Update { physical_id: &'a str },
}

pub struct LinkService<C> {
    cloud: C,
    settings: Settings,
    verify: VerifyBounds,
}

/// What this invocation did that a failure must undo, newest last. Logged as it is
/// undone; its `Debug` names what and where, never a document or a secret value.
enum Undo {
    User {
        account: AccountId,
        name: String,
    },
    Role {
        account: AccountId,
        name: String,
    },
    Secret {
        name: String,
    },
    GrantPolicy {
        account: AccountId,
        arn: String,
    },
    GrantAttachment {
        account: AccountId,
        principal: Principal,
        arn: String,
    },
    GrantDocument {
        account: AccountId,
        arn: String,
        document: Value,
    },
    AccessKey {
        account: AccountId,
        user: String,
        id: String,
    },
    /// A deleted link's secret this invocation restored: schedule it for deletion again.
    RestoredSecret {
        name: String,
    },
    /// A replacement pointed the link's secret at the new role: point it back.
    SecretValue {
        name: String,
        value: ExternalIdSecret,
        tags: BTreeMap<String, String>,
    },
}

impl std::fmt::Debug for Undo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Undo::User { account, name } => write!(f, "User({account}, {name})"),
            Undo::Role { account, name } => write!(f, "Role({account}, {name})"),
            Undo::Secret { name } => write!(f, "Secret({name})"),
            Undo::RestoredSecret { name } => write!(f, "RestoredSecret({name})"),
            Undo::GrantPolicy { account, arn } => write!(f, "GrantPolicy({account}, {arn})"),
            Undo::GrantAttachment {
                account,
                principal,
                arn,
            } => write!(f, "GrantAttachment({account}, {}, {arn})", principal.arn()),
            Undo::GrantDocument {
                account,
                arn,
                document,
            } => write!(
                f,
                "GrantDocument({account}, {arn}, {:?})",
                Withheld(document)
            ),
            Undo::AccessKey { account, user, id } => {
                write!(f, "AccessKey({account}, {user}, {id})")
            }
            Undo::SecretValue { name, .. } => write!(f, "SecretValue({name})"),
        }
    }
}

/// The link's access key secret before anything is written.
enum KeySecret {
    Absent,
    Deleted,
    Live {
        arn: String,
        stored: Option<AccessKeySecret>,
    },
}

/// What the link's secret says about the link before anything is written.
enum LinkSecret {
    Absent,
    /// Scheduled for deletion: a deleted link's, keeping its name for the recovery window.
    Deleted,
    Live(Box<Existing>),
}

/// A step's future boxed behind `dyn`: nested by value, the futures of all the steps make
/// a type too deep for the compiler's layout computation in callers.
pub(crate) fn erased<'a, T>(
    f: impl std::future::Future<Output = T> + Send + 'a,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>> {
    Box::pin(f)
}

/// Deliveries of one request race for each piece; each lost race costs one more attempt.
const RACE_ATTEMPTS: u32 = 6;

/// Growing pauses with jitter, so that racing deliveries fall out of step.
fn race_pause(attempt: u32) -> Duration {
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() % 250)
        .unwrap_or_default();
    Duration::from_millis(200 * u64::from(attempt) + u64::from(jitter))
}

/// The one external ID a link's role accepts, when it accepts exactly one.
fn sole_external_id(role: &RoleInfo) -> Option<ExternalId> {
    match policy::accepted_external_ids(&role.trust_policy).as_slice() {
        [only] => ExternalId::parse("ExternalId", only).ok(),
        _ => None,
    }
}

/// The link as its secret records it.
struct Existing {
    arn: String,
    record: LinkRecord,
    current: ExternalIdSecret,
    /// AWSPENDING / AWSPREVIOUS values: IDs a rotation still honours.
    rotating: Vec<String>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn secret_read_policy(principal_arn: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "TrustedPrincipalReadsItsLink",
        "Effect": "Allow",
        "Principal": {"AWS": principal_arn},
        "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        "Resource": "*"
    }]})
}

fn ignore_not_found(r: Result<(), AwsError>) -> Result<(), AwsError> {
    match r {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// Whether the trust policy's extra conditions (MFA, source IP, time window) could stop the
/// function itself from assuming the role with the link's key.
fn conditions_gate_assume(spec: &LinkSpec) -> bool {
    let c = &spec.conditions;
    c.require_mfa
        || c.mfa_max_age_seconds.is_some()
        || !c.source_ip_cidrs.is_empty()
        || c.not_before.is_some_and(|t| t.epoch_seconds > now())
        || c.not_after.is_some()
        || c.principal_org_id.is_some()
}

impl<C: Cloud> LinkService<C> {
    pub fn new(cloud: C, settings: Settings, verify: VerifyBounds) -> Self {
        Self {
            cloud,
            settings,
            verify,
        }
    }

    pub fn cloud(&self) -> &C {
        &self.cloud
    }

    pub async fn create(&self, spec: &LinkSpec) -> Result<LinkOutput, LinkError> {
        self.apply(spec, Mode::Create).await
    }

    /// In place when the role keeps its ARN, else a replacement: a new role (a new physical
    /// id); the old one is left for CloudFormation's Delete.
    pub async fn update(
        &self,
        spec: &LinkSpec,
        physical_id: &str,
    ) -> Result<LinkOutput, LinkError> {
        self.apply(spec, Mode::Update { physical_id }).await
    }

    /// The role ARN the specification resolves to, and the trusting account.
    pub async fn role_arn(&self, spec: &LinkSpec) -> Result<(AccountId, String), LinkError> {
        let trusting = match &spec.trusting_account {
            Some(a) => a.clone(),
            None => self
                .cloud
                .home_account()
                .await
                .at("sts:GetCallerIdentity")?,
        };
        let arn = spec.role_arn(&trusting);
        Ok((trusting, arn))
    }

    /// Rules of this deployment (role paths, the managed policy allow-list) and of the world
    /// (policies and principals exist): all checked before the first write.
    async fn check_deployment_rules(
        &self,
        spec: &LinkSpec,
        trusting: &C::Iam,
    ) -> Result<(), LinkError> {
        let mut errors = trustlink_domain::ValidationErrors::default();
        if !self.settings.allows_role_path(&spec.role.path) {
            errors.push(trustlink_domain::ValidationError::new(
                "Role.Path",
                format!(
                    "'{}' is outside the paths this deployment may create roles under ({})",
                    spec.role.path,
                    self.settings
                        .role_paths
                        .as_deref()
                        .unwrap_or_default()
                        .join(", ")
                ),
            ));
        }
        let mut to_check: Vec<(String, &str)> = spec
            .role
            .managed_policy_arns
            .iter()
            .enumerate()
            .map(|(i, arn)| (format!("Role.ManagedPolicyArns[{i}]"), arn.as_str()))
            .collect();
        for (field, arn) in &to_check {
            if !self.settings.allows_managed_policy(arn) {
                errors.push(trustlink_domain::ValidationError::new(
                    field,
                    format!("'{arn}' is not in this deployment's managed policy allow-list"),
                ));
            }
        }
        if let Some(b) = &spec.role.permissions_boundary {
            to_check.push(("Role.PermissionsBoundary".into(), b.as_str()));
        }
        for (field, arn) in to_check {
            if !trusting.policy_exists(arn).await.at("iam:GetPolicy")? {
                errors.push(trustlink_domain::ValidationError::new(
                    field,
                    format!("managed policy '{arn}' does not exist in the trusting account"),
                ));
            }
        }
        errors.into_result(()).map_err(LinkError::from)
    }

    /// Reads only: a link secret scheduled for deletion belongs to a deleted link and is
    /// reported as such, to be restored (and undone on failure) by the step that writes it.
    async fn read_existing(
        &self,
        secrets: &C::Secrets,
        name: &str,
    ) -> Result<LinkSecret, LinkError> {
        let described = match secrets.describe_secret(name).await {
            Ok(d) if d.scheduled_for_deletion => return Ok(LinkSecret::Deleted),
            Ok(d) => d,
            Err(e) if e.is_not_found() => return Ok(LinkSecret::Absent),
            Err(e) => return Err(e).at("secretsmanager:DescribeSecret"),
        };
        let Some(record) = LinkRecord::from_tags(&described.tags) else {
            return Err(LinkError::Conflict(format!(
                "LinkName: secret {name} exists but is not a trustlink link's; remove it or choose another LinkName"
            )));
        };
        let current = secrets
            .get_secret_value(name, AWSCURRENT)
            .await
            .at("secretsmanager:GetSecretValue")?;
        let current = ExternalIdSecret::parse(&current.text).map_err(LinkError::Conflict)?;
        let mut rotating = Vec::new();
        for stage in [AWSPENDING, AWSPREVIOUS] {
            match secrets.get_secret_value(name, stage).await {
                Ok(v) => {
                    if let Ok(s) = ExternalIdSecret::parse(&v.text) {
                        rotating.push(s.external_id.expose().to_string());
                    }
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e).at("secretsmanager:GetSecretValue"),
            }
        }
        Ok(LinkSecret::Live(Box::new(Existing {
            arn: described.arn,
            record,
            current,
            rotating,
        })))
    }

    /// A duplicate delivery running at the same time may create a piece between our read and
    /// our write. Then nothing is rolled back (the other delivery may already use what we
    /// made, and we may use what it made): the attempt starts over, reads again and adopts
    /// what exists. Only a real failure rolls back, and only what this invocation created.
    async fn apply(&self, spec: &LinkSpec, mode: Mode<'_>) -> Result<LinkOutput, LinkError> {
        let mut undo = Vec::new();
        let mut attempt = 1;
        let result = loop {
            match erased(self.apply_once(spec, mode, &mut undo)).await {
                Err(LinkError::Race(what)) if attempt < RACE_ATTEMPTS => {
                    info!(link = %spec.link_name, what = %what, attempt, "another request created it meanwhile; converging");
                    tokio::time::sleep(race_pause(attempt)).await;
                    attempt += 1;
                }
                Err(LinkError::KeysFull(user)) if attempt < RACE_ATTEMPTS => {
                    info!(link = %spec.link_name, user = %user, attempt, "the user has two keys; a concurrent delivery may be storing one");
                    tokio::time::sleep(race_pause(attempt)).await;
                    attempt += 1;
                }
                Err(LinkError::KeysFull(user)) => {
                    break Err(LinkError::Conflict(format!(
                        "TrustedSide.AccessKey: user {user} already has two access keys; delete one so trustlink can manage the link's key"
                    )))
                }
                Err(LinkError::Race(what)) => {
                    break Err(LinkError::Conflict(format!(
                        "LinkName: {what} of link {} keeps being changed by another request",
                        spec.link_name
                    )))
                }
                other => break other,
            }
        };
        if let Err(e) = &result {
            if !undo.is_empty() {
                warn!(link = %spec.link_name, error = %e, undo_steps = undo.len(), "rolling back");
                self.rollback(std::mem::take(&mut undo)).await;
            }
        }
        result
    }

    async fn apply_once(
        &self,
        spec: &LinkSpec,
        mode: Mode<'_>,
        undo: &mut Vec<Undo>,
    ) -> Result<LinkOutput, LinkError> {
        let (trusting, role_arn) = self.role_arn(spec).await?;
        let role_name = spec.role_name().to_string();
        let trusted = spec.trusted_principal.account().clone();
        let trusting_iam = self
            .cloud
            .iam(&trusting)
            .await
            .at("access the trusting account")?;
        let trusted_iam = if spec.trusted_side.is_managed() {
            Some(
                self.cloud
                    .iam(&trusted)
                    .await
                    .at("access the trusted account")?,
            )
        } else {
            None
        };
        let secrets = self.cloud.secrets();
        let secret_name = record::external_id_secret_name(&spec.link_name);

        // Reads and checks: nothing is written until all pass.
        self.check_deployment_rules(spec, &trusting_iam).await?;
        let existing_role = match trusting_iam.get_role(&role_name).await {
            Ok(r) => Some(r),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e).at("iam:GetRole"),
        };
        if let Some(r) = &existing_role {
            if r.tags.get(tag::LINK) != Some(&spec.link_name) || r.arn != role_arn {
                return Err(LinkError::Conflict(format!(
                    "Role.Name: role {} already exists in account {trusting} and is not managed by link {}",
                    r.arn, spec.link_name
                )));
            }
        }
        let (existing, link_secret_deleted) =
            match self.read_existing(&secrets, &secret_name).await? {
                LinkSecret::Absent => (None, false),
                LinkSecret::Deleted => (None, true),
                LinkSecret::Live(e) => (Some(*e), false),
            };
        let replacing = match (&existing, mode) {
            (Some(e), _) if e.record.role_arn == role_arn => None,
            (Some(e), Mode::Update { physical_id }) if e.record.role_arn == physical_id => {
                Some(physical_id)
            }
            (Some(e), _) => {
                return Err(LinkError::Conflict(format!(
                    "LinkName: link {} already exists in this hub for role {}",
                    spec.link_name, e.record.role_arn
                )))
            }
            (None, _) => None,
        };
        let principal = &spec.trusted_principal;
        let principal_arn = principal.arn();
        if let Some(iam) = &trusted_iam {
            if !spec.trusted_side.create_user {
                self.check_principal_exists(iam, principal).await?;
            }
        }

        // The external ID: as given, else the link's current one, else the one of the link's
        // role when a concurrent delivery made the role but not yet the secret (deliveries of
        // one request must agree on it), else a new one.
        let external_id = spec
            .external_id
            .clone()
            .or_else(|| existing.as_ref().map(|e| e.current.external_id.clone()))
            .or_else(|| existing_role.as_ref().and_then(sole_external_id))
            .unwrap_or_else(ExternalId::generate);
        let id_changed = existing
            .as_ref()
            .is_some_and(|e| e.current.external_id != external_id);
        // IDs a rotation (or this change) still honours stay accepted until the rotator's grace ends.
        let mut accepted: Vec<String> = vec![external_id.expose().to_string()];
        if let Some(e) = &existing {
            let mut honoured: BTreeSet<String> = e.rotating.iter().cloned().collect();
            if id_changed {
                honoured.insert(e.current.external_id.expose().to_string());
            }
            let old_role = match (&existing_role, replacing) {
                (Some(r), _) => Some(r.trust_policy.clone()),
                (None, Some(old)) => match record::role_of_arn(old) {
                    Some((acct, name)) if acct == trusting => trusting_iam
                        .get_role(&name)
                        .await
                        .ok()
                        .map(|r| r.trust_policy),
                    _ => None,
                },
                _ => None,
            };
            let still = old_role
                .map(|p| policy::accepted_external_ids(&p))
                .unwrap_or_default();
            for id in still {
                if honoured.contains(&id) && !accepted.contains(&id) {
                    accepted.push(id);
                }
            }
        }
        let accepted_refs: Vec<&str> = accepted.iter().map(String::as_str).collect();

        let ctx = Ctx {
            spec,
            trusting: &trusting,
            trusted: &trusted,
            role_arn: &role_arn,
            role_name: &role_name,
            principal_arn: &principal_arn,
            secret_name: &secret_name,
            accepted: &accepted_refs,
            external_id: &external_id,
            id_changed,
            link_secret_deleted,
        };
        let result = erased(self.build(
            &ctx,
            &trusting_iam,
            trusted_iam.as_ref(),
            &secrets,
            existing_role.as_ref(),
            existing.as_ref(),
            undo,
        ))
        .await;
        if let Ok(out) = &result {
            info!(link = %spec.link_name, role_arn = %out.role_arn, verified_by = out.verified_by,
                  replaced = replacing.is_some(), "link in place");
        }
        result
    }

    async fn check_principal_exists(
        &self,
        iam: &C::Iam,
        principal: &Principal,
    ) -> Result<(), LinkError> {
        let (kind, found) = match principal {
            Principal::User { name, .. } => ("user", iam.get_user(name).await.map(|_| ())),
            Principal::Role { name, .. } => ("role", iam.get_role(name).await.map(|_| ())),
            Principal::Account { .. } => return Ok(()),
        };
        match found {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Err(invalid(
                "TrustedPrincipal",
                format!(
                    "{kind} {} does not exist in account {}{}",
                    principal.name().unwrap_or_default(),
                    principal.account(),
                    if kind == "user" {
                        " (set TrustedSide.CreateUser: true to create it)"
                    } else {
                        ""
                    }
                ),
            )),
            Err(e) => Err(e).at("read the trusted principal"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn build(
        &self,
        ctx: &Ctx<'_>,
        trusting_iam: &C::Iam,
        trusted_iam: Option<&C::Iam>,
        secrets: &C::Secrets,
        existing_role: Option<&RoleInfo>,
        existing: Option<&Existing>,
        undo: &mut Vec<Undo>,
    ) -> Result<LinkOutput, LinkError> {
        let spec = ctx.spec;
        let link = spec.link_name.as_str();
        let previous = existing.map(|e| &e.record);

        // 1. The trusted user, when the link is to create it (it must exist before a trust
        //    policy can name it).
        let mut user_created =
            previous.is_some_and(|r| r.user_created && r.trusted_principal == ctx.principal_arn);
        if let (Some(iam), Principal::User { path, name, .. }) =
            (trusted_iam, &spec.trusted_principal)
        {
            if spec.trusted_side.create_user {
                match iam.get_user(name).await {
                    Ok(u) => {
                        user_created |= u.tags.get(tag::LINK).map(String::as_str) == Some(link)
                    }
                    Err(e) if e.is_not_found() => {
                        let tags = BTreeMap::from([(tag::LINK.to_string(), link.to_string())]);
                        match iam.create_user(path, name, &tags).await {
                            Ok(_) => {}
                            Err(e) if e.is_already_exists() => {
                                return Err(LinkError::Race("the trusted user".into()))
                            }
                            Err(e) => return Err(e).at("iam:CreateUser"),
                        }
                        undo.push(Undo::User {
                            account: ctx.trusted.clone(),
                            name: name.clone(),
                        });
                        user_created = true;
                        info!(link, user = %ctx.principal_arn, "created the trusted user");
                    }
                    Err(e) => return Err(e).at("iam:GetUser"),
                }
            }
        }

        // 2. The trusting role and its trust policy.
        let trust = policy::trust_policy(&spec.trusted_principal, ctx.accepted, &spec.conditions);
        let mut role_tags: BTreeMap<String, String> = spec
            .role
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        role_tags.insert(tag::LINK.into(), link.into());
        match existing_role {
            None => {
                let def = RoleDefinition {
                    name: ctx.role_name.to_string(),
                    path: spec.role.path.clone(),
                    description: spec.role.description.clone(),
                    max_session_duration: spec.role.max_session_duration,
                    trust_policy: trust.clone(),
                    permissions_boundary: spec.role.permissions_boundary.clone(),
                    tags: role_tags.clone(),
                };
                match trusting_iam.create_role(&def).await {
                    Ok(_) => {}
                    Err(e) if e.is_already_exists() => {
                        return Err(LinkError::Race("the role".into()))
                    }
                    Err(e) => return Err(e).at("iam:CreateRole"),
                }
                undo.push(Undo::Role {
                    account: ctx.trusting.clone(),
                    name: ctx.role_name.to_string(),
                });
                info!(
                    link,
                    role_arn = ctx.role_arn,
                    accepted_ids = ctx.accepted.len(),
                    "created the role"
                );
            }
            Some(role) => {
                if role.trust_policy != trust {
                    trusting_iam
                        .update_trust_policy(ctx.role_name, &trust)
                        .await
                        .at("iam:UpdateAssumeRolePolicy")?;
                    info!(
                        link,
                        role_arn = ctx.role_arn,
                        accepted_ids = ctx.accepted.len(),
                        "rewrote the trust policy"
                    );
                }
                let duration = spec.role.max_session_duration.or(Some(3600));
                if role.description != spec.role.description
                    || role.max_session_duration != duration
                {
                    trusting_iam
                        .update_role(
                            ctx.role_name,
                            spec.role.description.as_deref(),
                            spec.role.max_session_duration,
                        )
                        .await
                        .at("iam:UpdateRole")?;
                }
                if role.permissions_boundary != spec.role.permissions_boundary {
                    trusting_iam
                        .set_permissions_boundary(
                            ctx.role_name,
                            spec.role.permissions_boundary.as_deref(),
                        )
                        .await
                        .at("iam:PutRolePermissionsBoundary")?;
                }
                let stale: Vec<String> = role
                    .tags
                    .keys()
                    .filter(|k| !role_tags.contains_key(*k))
                    .cloned()
                    .collect();
                trusting_iam
                    .untag_role(ctx.role_name, &stale)
                    .await
                    .at("iam:UntagRole")?;
                if role.tags != role_tags {
                    trusting_iam
                        .tag_role(ctx.role_name, &role_tags)
                        .await
                        .at("iam:TagRole")?;
                }
            }
        }

        // 3. Permissions: attach what is new, detach what is gone; the same for inline policies.
        let attached: BTreeSet<String> = trusting_iam
            .list_attached_role_policies(ctx.role_name)
            .await
            .at("iam:ListAttachedRolePolicies")?
            .into_iter()
            .collect();
        let wanted: BTreeSet<String> = spec.role.managed_policy_arns.iter().cloned().collect();
        for arn in wanted.difference(&attached) {
            trusting_iam
                .attach_role_policy(ctx.role_name, arn)
                .await
                .at("iam:AttachRolePolicy")?;
            info!(link, policy_arn = %arn, "attached a managed policy");
        }
        for arn in attached.difference(&wanted) {
            ignore_not_found(trusting_iam.detach_role_policy(ctx.role_name, arn).await)
                .at("iam:DetachRolePolicy")?;
            info!(link, policy_arn = %arn, "detached a managed policy");
        }
        let inline: BTreeSet<String> = trusting_iam
            .list_role_policies(ctx.role_name)
            .await
            .at("iam:ListRolePolicies")?
            .into_iter()
            .collect();
        for (name, doc) in &spec.role.inline_policies {
            trusting_iam
                .put_role_policy(ctx.role_name, name, doc)
                .await
                .at("iam:PutRolePolicy")?;
        }
        for name in inline
            .iter()
            .filter(|n| !spec.role.inline_policies.contains_key(*n))
        {
            ignore_not_found(trusting_iam.delete_role_policy(ctx.role_name, name).await)
                .at("iam:DeleteRolePolicy")?;
            info!(link, policy = %name, "deleted an inline policy");
        }

        // 4. The trusted side's grant: a policy of trustlink's own, attached to the principal.
        let grant_arn = format!(
            "arn:aws:iam::{}:policy{}{}",
            ctx.trusted,
            self.settings.policy_path,
            record::grant_policy_name(link)
        );
        let grant_wanted = spec.trusted_side.grant;
        if let (Some(iam), true) = (trusted_iam, grant_wanted) {
            let doc = policy::grant_policy(ctx.role_arn, ctx.accepted);
            match iam
                .create_policy(
                    &self.settings.policy_path,
                    &record::grant_policy_name(link),
                    "trustlink grant",
                    &doc,
                )
                .await
            {
                Ok(_) => undo.push(Undo::GrantPolicy {
                    account: ctx.trusted.clone(),
                    arn: grant_arn.clone(),
                }),
                Err(e) if e.is_already_exists() => {
                    let old = iam
                        .get_policy_document(&grant_arn)
                        .await
                        .at("iam:GetPolicyVersion")?;
                    if old != doc {
                        iam.set_policy_document(&grant_arn, &doc)
                            .await
                            .at("iam:CreatePolicyVersion")?;
                        undo.push(Undo::GrantDocument {
                            account: ctx.trusted.clone(),
                            arn: grant_arn.clone(),
                            document: old,
                        });
                    }
                }
                Err(e) => return Err(e).at("iam:CreatePolicy"),
            }
            if !self
                .grant_attached(iam, &spec.trusted_principal, &grant_arn)
                .await?
            {
                self.attach_grant(iam, &spec.trusted_principal, &grant_arn)
                    .await?;
                undo.push(Undo::GrantAttachment {
                    account: ctx.trusted.clone(),
                    principal: spec.trusted_principal.clone(),
                    arn: grant_arn.clone(),
                });
            }
            info!(link, principal = ctx.principal_arn, policy_arn = %grant_arn, "grant in place");
        }

        // 5. The access key, kept in its own secret.
        let key_secret_name = record::access_key_secret_name(link);
        let mut key_secret_arn = None;
        let mut key_for_verify = None;
        if let (Some(iam), true, Principal::User { name: user, .. }) = (
            trusted_iam,
            spec.trusted_side.access_key,
            &spec.trusted_principal,
        ) {
            let (arn, key) =
                erased(self.ensure_access_key(ctx, iam, secrets, user, &key_secret_name, undo))
                    .await?;
            key_secret_arn = Some(arn);
            key_for_verify = Some(key);
        }

        // 6. The link's secret: the external ID, and the record of what the link owns.
        let rec = LinkRecord {
            link_name: link.to_string(),
            role_arn: ctx.role_arn.to_string(),
            trusted_principal: ctx.principal_arn.to_string(),
            grant_policy_arn: grant_wanted.then(|| grant_arn.clone()),
            user_created,
            access_key: spec.trusted_side.access_key,
            rotation: spec.rotation,
            external_id_rotated_at: match previous {
                Some(p) if !ctx.id_changed => p.external_id_rotated_at,
                _ => Some(now()),
            },
            access_key_rotated_at: match previous {
                Some(p) if p.access_key && spec.trusted_side.access_key => {
                    p.access_key_rotated_at.or(Some(now()))
                }
                _ => spec.trusted_side.access_key.then(now),
            },
        };
        let value = ExternalIdSecret {
            external_id: ctx.external_id.clone(),
            role_arn: ctx.role_arn.to_string(),
            trusted_principal: ctx.principal_arn.to_string(),
            link_name: link.to_string(),
        };
        let external_id_secret_arn = match existing {
            None if ctx.link_secret_deleted => {
                self.reuse_deleted_secret(secrets, ctx.secret_name, &value.to_text(), undo)
                    .await?;
                secrets
                    .tag_secret(ctx.secret_name, &rec.to_tags())
                    .await
                    .at("secretsmanager:TagResource")?;
                info!(
                    link,
                    secret = ctx.secret_name,
                    "stored the external ID in the deleted link's secret"
                );
                secrets
                    .describe_secret(ctx.secret_name)
                    .await
                    .at("secretsmanager:DescribeSecret")?
                    .arn
            }
            None => {
                let arn = match secrets
                    .create_secret(
                        ctx.secret_name,
                        &format!("trustlink: external ID of link {link}"),
                        &value.to_text(),
                        &rec.to_tags(),
                        self.settings.secrets_kms_key_id.as_deref(),
                        None,
                    )
                    .await
                {
                    Ok(arn) => arn,
                    // A concurrent duplicate delivery got there first.
                    Err(e) if e.is_already_exists() => {
                        return Err(LinkError::Race("the link secret".into()))
                    }
                    Err(e) => return Err(e).at("secretsmanager:CreateSecret"),
                };
                undo.push(Undo::Secret {
                    name: ctx.secret_name.to_string(),
                });
                info!(link, secret = ctx.secret_name, "stored the external ID");
                arn
            }
            Some(e) => {
                if e.current != value {
                    secrets
                        .put_secret_value(
                            ctx.secret_name,
                            &value.to_text(),
                            &[AWSCURRENT],
                            ExternalId::generate().expose(),
                        )
                        .await
                        .at("secretsmanager:PutSecretValue")?;
                    undo.push(Undo::SecretValue {
                        name: ctx.secret_name.to_string(),
                        value: e.current.clone(),
                        tags: e.record.to_tags(),
                    });
                    info!(
                        link,
                        secret = ctx.secret_name,
                        external_id_changed = ctx.id_changed,
                        "updated the link secret"
                    );
                }
                if e.record != rec {
                    secrets
                        .tag_secret(ctx.secret_name, &rec.to_tags())
                        .await
                        .at("secretsmanager:TagResource")?;
                }
                e.arn.clone()
            }
        };
        secrets
            .put_resource_policy(ctx.secret_name, &secret_read_policy(ctx.principal_arn))
            .await
            .at("secretsmanager:PutResourcePolicy")?;

        // 7. What the previous specification had and this one does not.
        if let Some(prev) = previous {
            erased(self.retire_previous(
                ctx,
                prev,
                trusted_iam,
                secrets,
                &grant_arn,
                &key_secret_name,
            ))
            .await?;
        }

        // 8. Prove it works.
        let verified_by = erased(self.verify(ctx, trusting_iam, key_for_verify.as_ref())).await?;
        Ok(LinkOutput {
            role_arn: ctx.role_arn.to_string(),
            role_name: ctx.role_name.to_string(),
            external_id_secret_arn,
            access_key_secret_arn: key_secret_arn,
            external_id: ctx.external_id.clone(),
            verified_by,
        })
    }

    async fn grant_attached(
        &self,
        iam: &C::Iam,
        principal: &Principal,
        arn: &str,
    ) -> Result<bool, LinkError> {
        let attached = match principal {
            Principal::User { name, .. } => iam.list_attached_user_policies(name).await,
            Principal::Role { name, .. } => iam.list_attached_role_policies(name).await,
            Principal::Account { .. } => return Ok(true),
        };
        match attached {
            Ok(list) => Ok(list.iter().any(|a| a == arn)),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e).at("list the principal's policies"),
        }
    }

    async fn attach_grant(
        &self,
        iam: &C::Iam,
        principal: &Principal,
        arn: &str,
    ) -> Result<(), LinkError> {
        match principal {
            Principal::User { name, .. } => iam
                .attach_user_policy(name, arn)
                .await
                .at("iam:AttachUserPolicy"),
            Principal::Role { name, .. } => iam
                .attach_role_policy(name, arn)
                .await
                .at("iam:AttachRolePolicy"),
            Principal::Account { .. } => Ok(()),
        }
    }

    async fn detach_grant(iam: &C::Iam, principal_arn: &str, arn: &str) -> Result<(), AwsError> {
        match Principal::parse("p", principal_arn) {
            Ok(Principal::User { name, .. }) => {
                ignore_not_found(iam.detach_user_policy(&name, arn).await)
            }
            Ok(Principal::Role { name, .. }) => {
                ignore_not_found(iam.detach_role_policy(&name, arn).await)
            }
            _ => Ok(()),
        }
    }

    /// Reuses the key in the link's key secret while it is still the user's and active;
    /// otherwise creates one and stores it. When a concurrent delivery stores its key first,
    /// ours is deleted at once (we know it is ours: we just made it) and theirs is adopted.
    async fn ensure_access_key(
        &self,
        ctx: &Ctx<'_>,
        iam: &C::Iam,
        secrets: &C::Secrets,
        user: &str,
        secret_name: &str,
        undo: &mut Vec<Undo>,
    ) -> Result<(String, AccessKeySecret), LinkError> {
        let keys = iam.list_access_keys(user).await.at("iam:ListAccessKeys")?;
        let state = self.read_key_secret(secrets, secret_name).await?;
        if let KeySecret::Live {
            arn,
            stored: Some(s),
        } = &state
        {
            let live = keys
                .iter()
                .any(|k| k.id == s.access_key_id && k.status == KeyStatus::Active);
            if s.user_name == user && live {
                secrets
                    .put_resource_policy(secret_name, &secret_read_policy(ctx.principal_arn))
                    .await
                    .at("secretsmanager:PutResourcePolicy")?;
                return Ok((arn.clone(), s.clone()));
            }
        }
        let key = match iam.create_access_key(user).await {
            Ok(k) => k,
            // Two keys: a concurrent delivery's may be one of them, about to be stored.
            Err(AwsError::LimitExceeded { .. }) => return Err(LinkError::KeysFull(user.into())),
            Err(e) => return Err(e).at("iam:CreateAccessKey"),
        };
        undo.push(Undo::AccessKey {
            account: ctx.trusted.clone(),
            user: user.to_string(),
            id: key.id.clone(),
        });
        info!(link = %ctx.spec.link_name, user, access_key_id = %key.id, "created an access key");
        let value = AccessKeySecret {
            access_key_id: key.id.clone(),
            secret_access_key: key.secret,
            user_name: user.to_string(),
        };
        let stored = self
            .store_key(ctx, secrets, secret_name, &value, state, undo)
            .await;
        let arn = match stored {
            Err(LinkError::Race(what)) => {
                // Not rolled back with the rest: a retry adopts the other delivery's key.
                ignore_not_found(iam.delete_access_key(user, &value.access_key_id).await)
                    .at("iam:DeleteAccessKey")?;
                undo.retain(
                    |u| !matches!(u, Undo::AccessKey { id, .. } if *id == value.access_key_id),
                );
                return Err(LinkError::Race(what));
            }
            other => other?,
        };
        secrets
            .put_resource_policy(secret_name, &secret_read_policy(ctx.principal_arn))
            .await
            .at("secretsmanager:PutResourcePolicy")?;
        Ok((arn, value))
    }

    async fn read_key_secret(
        &self,
        secrets: &C::Secrets,
        name: &str,
    ) -> Result<KeySecret, LinkError> {
        let arn = match secrets.describe_secret(name).await {
            Ok(d) if d.scheduled_for_deletion => return Ok(KeySecret::Deleted),
            Ok(d) => d.arn,
            Err(e) if e.is_not_found() => return Ok(KeySecret::Absent),
            Err(e) => return Err(e).at("secretsmanager:DescribeSecret"),
        };
        let stored = match secrets.get_secret_value(name, AWSCURRENT).await {
            Ok(v) => Some(AccessKeySecret::parse(&v.text).map_err(LinkError::Conflict)?),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e).at("secretsmanager:GetSecretValue"),
        };
        Ok(KeySecret::Live { arn, stored })
    }

    /// Stores a new key as AWSCURRENT of the key secret; `Race` when a concurrent delivery
    /// stored its own key instead.
    async fn store_key(
        &self,
        ctx: &Ctx<'_>,
        secrets: &C::Secrets,
        name: &str,
        value: &AccessKeySecret,
        state: KeySecret,
        undo: &mut Vec<Undo>,
    ) -> Result<String, LinkError> {
        let link = ctx.spec.link_name.as_str();
        let tags = BTreeMap::from([(tag::LINK.to_string(), link.to_string())]);
        match state {
            KeySecret::Live { arn, .. } => {
                secrets
                    .put_secret_value(
                        name,
                        &value.to_text(),
                        &[AWSCURRENT],
                        ExternalId::generate().expose(),
                    )
                    .await
                    .at("secretsmanager:PutSecretValue")?;
                let now_current = secrets
                    .get_secret_value(name, AWSCURRENT)
                    .await
                    .at("secretsmanager:GetSecretValue")?;
                match AccessKeySecret::parse(&now_current.text) {
                    Ok(s) if s.access_key_id == value.access_key_id => Ok(arn),
                    _ => Err(LinkError::Race("the access key secret".into())),
                }
            }
            KeySecret::Deleted => {
                self.reuse_deleted_secret(secrets, name, &value.to_text(), undo)
                    .await?;
                secrets
                    .tag_secret(name, &tags)
                    .await
                    .at("secretsmanager:TagResource")?;
                Ok(secrets
                    .describe_secret(name)
                    .await
                    .at("secretsmanager:DescribeSecret")?
                    .arn)
            }
            KeySecret::Absent => {
                let created = secrets
                    .create_secret(
                        name,
                        &format!("trustlink: access key of link {link}"),
                        &value.to_text(),
                        &tags,
                        self.settings.secrets_kms_key_id.as_deref(),
                        None,
                    )
                    .await;
                match created {
                    Ok(arn) => {
                        undo.push(Undo::Secret {
                            name: name.to_string(),
                        });
                        Ok(arn)
                    }
                    Err(e) if e.is_already_exists() => {
                        Err(LinkError::Race("the access key secret".into()))
                    }
                    Err(e) => Err(e).at("secretsmanager:CreateSecret"),
                }
            }
        }
    }

    /// Brings back a deleted link's secret (scheduled for deletion, its name still taken)
    /// with `text` as its AWSCURRENT value. A failure schedules it for deletion again.
    async fn reuse_deleted_secret(
        &self,
        secrets: &C::Secrets,
        name: &str,
        text: &trustlink_domain::SecretText,
        undo: &mut Vec<Undo>,
    ) -> Result<(), LinkError> {
        secrets
            .restore_secret(name)
            .await
            .at("secretsmanager:RestoreSecret")?;
        undo.push(Undo::RestoredSecret {
            name: name.to_string(),
        });
        // A rotation the deleted link left half-done is not this link's to resume.
        let described = secrets
            .describe_secret(name)
            .await
            .at("secretsmanager:DescribeSecret")?;
        for v in described
            .versions
            .iter()
            .filter(|v| v.stages.iter().any(|s| s == AWSPENDING))
        {
            secrets
                .remove_stage(name, AWSPENDING, &v.version_id)
                .await
                .at("secretsmanager:UpdateSecretVersionStage")?;
        }
        secrets
            .put_secret_value(name, text, &[AWSCURRENT], ExternalId::generate().expose())
            .await
            .at("secretsmanager:PutSecretValue")?;
        info!(
            secret = name,
            "restored a deleted link's secret for the new link"
        );
        Ok(())
    }

    /// Removes what an earlier specification of this link had and this one has not: a grant
    /// on another principal, a grant no longer wanted, a key no longer wanted, a user the link
    /// created that is no longer its principal.
    async fn retire_previous(
        &self,
        ctx: &Ctx<'_>,
        prev: &LinkRecord,
        trusted_iam: Option<&C::Iam>,
        secrets: &C::Secrets,
        grant_arn: &str,
        key_secret_name: &str,
    ) -> Result<(), LinkError> {
        let spec = ctx.spec;
        let link = spec.link_name.as_str();
        let principal_changed = prev.trusted_principal != ctx.principal_arn;
        let Ok(prev_principal) = Principal::parse("p", &prev.trusted_principal) else {
            return Ok(());
        };
        let prev_iam = match trusted_iam {
            Some(iam) if !principal_changed => iam.clone(),
            _ => {
                if prev.grant_policy_arn.is_none() && !prev.access_key && !prev.user_created {
                    return Ok(());
                }
                self.cloud
                    .iam(prev_principal.account())
                    .await
                    .at("access the previous trusted account")?
            }
        };
        if let Some(old_grant) = &prev.grant_policy_arn {
            let keep = spec.trusted_side.grant && old_grant == grant_arn;
            if principal_changed || !keep {
                Self::detach_grant(&prev_iam, &prev.trusted_principal, old_grant)
                    .await
                    .at("detach the previous grant")?;
            }
            if !keep {
                ignore_not_found(prev_iam.delete_policy(old_grant).await).at("iam:DeletePolicy")?;
                info!(link, policy_arn = %old_grant, "deleted the previous grant");
            }
        }
        let key_kept = spec.trusted_side.access_key && !principal_changed;
        if prev.access_key && !key_kept {
            self.delete_key_secret(
                &prev_iam,
                secrets,
                key_secret_name,
                prev_principal.name().unwrap_or_default(),
                None,
            )
            .await?;
        }
        if prev.user_created && principal_changed {
            if let Principal::User { name, .. } = &prev_principal {
                delete_user_fully(&prev_iam, name)
                    .await
                    .at("delete the previous user")?;
                info!(link, user = %prev.trusted_principal, "deleted the user this link had created");
            }
        }
        Ok(())
    }

    /// Deletes the keys a link's key secret holds (every stage) and the secret.
    async fn delete_key_secret(
        &self,
        iam: &C::Iam,
        secrets: &C::Secrets,
        secret_name: &str,
        user: &str,
        recovery_days: Option<i64>,
    ) -> Result<(), LinkError> {
        for stage in [AWSCURRENT, AWSPENDING, AWSPREVIOUS] {
            match secrets.get_secret_value(secret_name, stage).await {
                Ok(v) => {
                    if let Ok(k) = AccessKeySecret::parse(&v.text) {
                        let owner = if k.user_name.is_empty() {
                            user
                        } else {
                            &k.user_name
                        };
                        ignore_not_found(iam.delete_access_key(owner, &k.access_key_id).await)
                            .at("iam:DeleteAccessKey")?;
                        info!(secret = secret_name, access_key_id = %k.access_key_id, "deleted an access key");
                    }
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e).at("secretsmanager:GetSecretValue"),
            }
        }
        ignore_not_found(secrets.delete_secret(secret_name, recovery_days).await)
            .at("secretsmanager:DeleteSecret")?;
        Ok(())
    }

    async fn verify(
        &self,
        ctx: &Ctx<'_>,
        trusting_iam: &C::Iam,
        key: Option<&AccessKeySecret>,
    ) -> Result<&'static str, LinkError> {
        let spec = ctx.spec;
        // Read back: the role, its trust policy, its permissions.
        let role = trusting_iam
            .get_role(ctx.role_name)
            .await
            .at("verify: iam:GetRole")?;
        for id in ctx.accepted {
            if !policy::admits(&role.trust_policy, ctx.principal_arn, id) {
                return Err(LinkError::Verify(format!(
                    "the trust policy of {} does not admit {} with the link's external ID",
                    ctx.role_arn, ctx.principal_arn
                )));
            }
        }
        let attached: BTreeSet<String> = trusting_iam
            .list_attached_role_policies(ctx.role_name)
            .await
            .at("verify: iam:ListAttachedRolePolicies")?
            .into_iter()
            .collect();
        let wanted: BTreeSet<String> = spec.role.managed_policy_arns.iter().cloned().collect();
        let inline: BTreeSet<String> = trusting_iam
            .list_role_policies(ctx.role_name)
            .await
            .at("verify: iam:ListRolePolicies")?
            .into_iter()
            .collect();
        let inline_wanted: BTreeSet<String> = spec.role.inline_policies.keys().cloned().collect();
        if attached != wanted || inline != inline_wanted {
            return Err(LinkError::Verify(format!(
                "the permissions of {} do not match the specification",
                ctx.role_arn
            )));
        }
        let Some(key) = key else {
            return Ok("read back the role, trust policy and permissions");
        };

        let key_creds = Credentials {
            access_key_id: key.access_key_id.clone(),
            secret_access_key: key.secret_access_key.clone(),
            session_token: None,
        };
        let as_user = self.cloud.sts_as(&key_creds);
        if conditions_gate_assume(spec) {
            // MFA, source IP or time conditions: the function cannot meet them itself, so it
            // proves the key works and the trust policy admits it.
            let me = self
                .retrying("the link's access key", || as_user.caller_identity())
                .await?;
            if me.arn != ctx.principal_arn {
                return Err(LinkError::Verify(format!(
                    "the link's access key belongs to {}, not {}",
                    me.arn, ctx.principal_arn
                )));
            }
            return Ok("access key works as the principal; trust policy read back (conditions need the consumer)");
        }
        let session = "trustlink-verify";
        let expected = format!(
            "arn:aws:sts::{}:assumed-role/{}/{session}",
            ctx.trusting, ctx.role_name
        );
        let id = ctx.external_id.expose().to_string();
        let me = self
            .retrying(
                "assuming the role with the link's key and external ID",
                || async {
                    let creds = as_user
                        .assume_role(ctx.role_arn, session, Some(&id))
                        .await?;
                    self.cloud.sts_as(&creds).caller_identity().await
                },
            )
            .await?;
        if me.arn != expected {
            return Err(LinkError::Verify(format!(
                "assumed {} instead of {expected}",
                me.arn
            )));
        }
        Ok("assumed the role with the link's key and external ID")
    }

    async fn retrying<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T, LinkError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, AwsError>>,
    {
        let mut delay = self.verify.first_delay;
        let mut last = None;
        for n in 1..=self.verify.attempts.max(1) {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    info!(what, attempt = n, error = %e, "not yet working; IAM may still be propagating");
                    last = Some(e);
                }
            }
            if n < self.verify.attempts {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(self.verify.max_delay);
            }
        }
        Err(LinkError::Verify(format!(
            "{what} still failed after {} attempts: {}",
            self.verify.attempts,
            last.map(|e| e.to_string()).unwrap_or_default()
        )))
    }

    /// Undoes, newest first, what a failed invocation created. Best effort: a step that
    /// fails is logged and the rest still run.
    async fn rollback(&self, undo: Vec<Undo>) {
        let secrets = self.cloud.secrets();
        for step in undo.into_iter().rev() {
            let result: Result<(), AwsError> = async {
                match &step {
                    Undo::User { account, name } => {
                        delete_user_fully(&self.cloud.iam(account).await?, name).await
                    }
                    Undo::Role { account, name } => {
                        delete_role_fully(&self.cloud.iam(account).await?, name).await
                    }
                    // Nothing of value was in it yet: delete without a recovery window.
                    Undo::Secret { name } => {
                        ignore_not_found(secrets.delete_secret(name, None).await)
                    }
                    Undo::RestoredSecret { name } => {
                        ignore_not_found(secrets.delete_secret(name, Some(7)).await)
                    }
                    Undo::GrantPolicy { account, arn } => {
                        ignore_not_found(self.cloud.iam(account).await?.delete_policy(arn).await)
                    }
                    Undo::GrantAttachment {
                        account,
                        principal,
                        arn,
                    } => {
                        Self::detach_grant(&self.cloud.iam(account).await?, &principal.arn(), arn)
                            .await
                    }
                    Undo::GrantDocument {
                        account,
                        arn,
                        document,
                    } => {
                        self.cloud
                            .iam(account)
                            .await?
                            .set_policy_document(arn, document)
                            .await
                    }
                    Undo::AccessKey { account, user, id } => ignore_not_found(
                        self.cloud
                            .iam(account)
                            .await?
                            .delete_access_key(user, id)
                            .await,
                    ),
                    Undo::SecretValue { name, value, tags } => {
                        secrets
                            .put_secret_value(
                                name,
                                &value.to_text(),
                                &[AWSCURRENT],
                                ExternalId::generate().expose(),
                            )
                            .await?;
                        secrets.tag_secret(name, tags).await
                    }
                }
            }
            .await;
            match result {
                Ok(()) => info!(step = ?step, "rolled back"),
                Err(e) => warn!(step = ?step, error = %e, "could not roll back"),
            }
        }
    }

    /// Deletes what the link whose role ARN is `physical_id` owns. What is already gone counts
    /// as deleted; what the link did not create (a pre-existing user, a role of another link,
    /// a secret now pointing at a replacement role) is left alone.
    pub async fn delete(
        &self,
        physical_id: &str,
        link_name_hint: Option<&str>,
    ) -> Result<(), LinkError> {
        let Some((account, role_name)) = record::role_of_arn(physical_id) else {
            warn!(physical_id, "not a role ARN: nothing of ours to delete");
            return Ok(());
        };
        let iam = self
            .cloud
            .iam(&account)
            .await
            .at("access the trusting account")?;
        let role = match iam.get_role(&role_name).await {
            Ok(r) => Some(r),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e).at("iam:GetRole"),
        };
        let link_name = link_name_hint
            .map(String::from)
            .or_else(|| role.as_ref().and_then(|r| r.tags.get(tag::LINK).cloned()));
        if let Some(link) = &link_name {
            erased(self.delete_shared_parts(link, physical_id)).await?;
        }
        match role {
            Some(r) if link_name.is_some() && r.tags.get(tag::LINK) == link_name.as_ref() => {
                delete_role_fully(&iam, &role_name)
                    .await
                    .at("delete the role")?;
                info!(link = ?link_name, role_arn = physical_id, "deleted the role");
            }
            Some(_) => warn!(
                role_arn = physical_id,
                "the role is not managed by this link: left in place"
            ),
            None => info!(role_arn = physical_id, "the role is already gone"),
        }
        Ok(())
    }

    /// The secrets, grant, key and created user, when the link's record still points at
    /// `role_arn` (after a replacement it points at the new role, which keeps them).
    async fn delete_shared_parts(&self, link: &str, role_arn: &str) -> Result<(), LinkError> {
        let secrets = self.cloud.secrets();
        let name = record::external_id_secret_name(link);
        let described = match secrets.describe_secret(&name).await {
            Ok(d) if !d.scheduled_for_deletion => d,
            Ok(_) => return Ok(()),
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e).at("secretsmanager:DescribeSecret"),
        };
        let Some(rec) = LinkRecord::from_tags(&described.tags) else {
            return Ok(());
        };
        if rec.role_arn != role_arn {
            info!(link, owner = %rec.role_arn, "the link's secrets belong to its replacement: kept");
            return Ok(());
        }
        let principal = Principal::parse("p", &rec.trusted_principal).ok();
        let managed = rec.grant_policy_arn.is_some() || rec.access_key || rec.user_created;
        if let (Some(principal), true) = (&principal, managed) {
            let iam = self
                .cloud
                .iam(principal.account())
                .await
                .at("access the trusted account")?;
            if rec.access_key {
                self.delete_key_secret(
                    &iam,
                    &secrets,
                    &record::access_key_secret_name(link),
                    principal.name().unwrap_or_default(),
                    Some(7),
                )
                .await?;
            }
            if let Some(grant) = &rec.grant_policy_arn {
                Self::detach_grant(&iam, &rec.trusted_principal, grant)
                    .await
                    .at("detach the grant")?;
                ignore_not_found(iam.delete_policy(grant).await).at("iam:DeletePolicy")?;
                info!(link, policy_arn = %grant, "deleted the grant");
            }
            if let (true, Principal::User { name, .. }) = (rec.user_created, principal) {
                delete_user_fully(&iam, name).await.at("delete the user")?;
                info!(link, user = %rec.trusted_principal, "deleted the user the link created");
            }
        }
        ignore_not_found(secrets.delete_secret(&name, Some(7)).await)
            .at("secretsmanager:DeleteSecret")?;
        info!(link, secret = %name, "scheduled the link's secrets for deletion");
        Ok(())
    }
}

struct Ctx<'a> {
    spec: &'a LinkSpec,
    trusting: &'a AccountId,
    trusted: &'a AccountId,
    role_arn: &'a str,
    role_name: &'a str,
    principal_arn: &'a str,
    secret_name: &'a str,
    accepted: &'a [&'a str],
    external_id: &'a ExternalId,
    id_changed: bool,
    /// The link secret is a deleted link's, scheduled for deletion.
    link_secret_deleted: bool,
}

/// A role with its inline and attached policies (IAM refuses to delete a role that has any).
pub async fn delete_role_fully<I: Roles>(iam: &I, name: &str) -> Result<(), AwsError> {
    let run = async {
        for policy in iam.list_role_policies(name).await? {
            ignore_not_found(iam.delete_role_policy(name, &policy).await)?;
        }
        for arn in iam.list_attached_role_policies(name).await? {
            ignore_not_found(iam.detach_role_policy(name, &arn).await)?;
        }
        iam.delete_role(name).await
    };
    ignore_not_found(run.await)
}

/// A user with its keys and attached policies.
pub async fn delete_user_fully<I: Users + AccessKeys>(iam: &I, name: &str) -> Result<(), AwsError> {
    let run = async {
        for key in iam.list_access_keys(name).await? {
            ignore_not_found(iam.delete_access_key(name, &key.id).await)?;
        }
        for arn in iam.list_attached_user_policies(name).await? {
            ignore_not_found(iam.detach_user_policy(name, &arn).await)?;
        }
        iam.delete_user(name).await
    };
    ignore_not_found(run.await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_steps_never_show_a_document_or_a_secret_value() {
        let account = AccountId::parse("a", "444455556666").unwrap();
        let doc = json!({"Statement": [{"Condition": {"StringEquals": {"sts:ExternalId": "s3cr3t-id-value"}}}]});
        let shown = format!(
            "{:?}",
            Undo::GrantDocument {
                account,
                arn: "arn:aws:iam::444455556666:policy/trustlink/TrustLink-x".into(),
                document: doc,
            }
        );
        assert!(shown.contains("TrustLink-x"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
