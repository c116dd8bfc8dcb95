//! Everything read and decided before the first write: the accounts and their clients, the
//! role and the link as they exist, the external ID and the IDs the trust policy accepts.
//! A request that fails here has written nothing.

use std::collections::BTreeSet;

use trustlink_aws::ports::{Cloud, RoleInfo, Roles, Secrets, AWSCURRENT, AWSPENDING, AWSPREVIOUS};
use trustlink_aws::NotFoundExt;
use trustlink_domain::policy;
use trustlink_domain::record::{self, tag, ExternalIdSecret, LinkRecord};
use trustlink_domain::{AccountId, ExternalId, LinkSpec};

use super::{LinkService, Mode};
use crate::error::{AtStep, LinkError};

/// The link as its secret records it.
pub(super) struct Existing {
    pub arn: String,
    pub record: LinkRecord,
    pub current: ExternalIdSecret,
    /// AWSPENDING / AWSPREVIOUS values: IDs a rotation still honours.
    pub rotating: Vec<String>,
}

/// What the link's secret says about the link before anything is written.
enum LinkSecret {
    Absent,
    /// Scheduled for deletion: a deleted link's, keeping its name for the recovery window.
    Deleted,
    Live(Box<Existing>),
}

pub(super) struct Plan<'a, C: Cloud> {
    pub spec: &'a LinkSpec,
    pub trusting: AccountId,
    pub trusted: AccountId,
    pub role_arn: String,
    pub role_name: String,
    pub principal_arn: String,
    pub secret_name: String,
    /// The external ID first, then the IDs a rotation (or this change) still honours.
    pub accepted: Vec<String>,
    pub external_id: ExternalId,
    pub id_changed: bool,
    /// The link secret is a deleted link's, scheduled for deletion.
    pub link_secret_deleted: bool,
    /// The role ARN this Update replaces.
    pub replacing: Option<String>,
    pub trusting_iam: C::Iam,
    /// Only when the trusted side is managed.
    pub trusted_iam: Option<C::Iam>,
    pub secrets: C::Secrets,
    pub existing_role: Option<RoleInfo>,
    pub existing: Option<Existing>,
}

impl<C: Cloud> Plan<'_, C> {
    pub fn accepted(&self) -> Vec<&str> {
        self.accepted.iter().map(String::as_str).collect()
    }

    pub fn link(&self) -> &str {
        &self.spec.link_name
    }

    /// The link's record as it was before this request.
    pub fn previous(&self) -> Option<&LinkRecord> {
        self.existing.as_ref().map(|e| &e.record)
    }
}

impl<'a, C: Cloud> Plan<'a, C> {
    pub async fn read(
        service: &LinkService<C>,
        spec: &'a LinkSpec,
        mode: Mode<'_>,
    ) -> Result<Plan<'a, C>, LinkError> {
        let (trusting, role_arn) = service.role_arn(spec).await?;
        let trusted = spec.trusted_principal.account().clone();
        let trusting_iam = service
            .cloud
            .iam(&trusting)
            .await
            .at("access the trusting account")?;
        let trusted_iam = match spec.trusted_side.is_managed() {
            true => Some(
                service
                    .cloud
                    .iam(&trusted)
                    .await
                    .at("access the trusted account")?,
            ),
            false => None,
        };
        let secrets = service.cloud.secrets();
        let secret_name = record::external_id_secret_name(&spec.link_name);
        service.check_deployment_rules(spec, &trusting_iam).await?;
        let existing_role = link_role(&trusting_iam, spec, &trusting, &role_arn).await?;
        let (existing, link_secret_deleted) = match read_existing(&secrets, &secret_name).await? {
            LinkSecret::Absent => (None, false),
            LinkSecret::Deleted => (None, true),
            LinkSecret::Live(e) => (Some(*e), false),
        };
        let replacing = replacing(spec, existing.as_ref(), mode, &role_arn)?;
        if let Some(iam) = &trusted_iam {
            if !spec.trusted_side.create_user {
                service
                    .check_principal_exists(iam, &spec.trusted_principal)
                    .await?;
            }
        }
        let mut plan = Plan {
            spec,
            role_name: spec.role_name().to_string(),
            principal_arn: spec.trusted_principal.arn(),
            external_id: choose_external_id(spec, existing.as_ref(), existing_role.as_ref()),
            id_changed: false,
            accepted: Vec::new(),
            trusting,
            trusted,
            role_arn,
            secret_name,
            link_secret_deleted,
            replacing,
            trusting_iam,
            trusted_iam,
            secrets,
            existing_role,
            existing,
        };
        plan.id_changed = plan
            .existing
            .as_ref()
            .is_some_and(|e| e.current.external_id != plan.external_id);
        plan.accepted = plan.accepted_ids().await;
        Ok(plan)
    }

    /// The external ID first, then the IDs a rotation (or this change) still honours, as
    /// long as the trust policy still accepts them: they stay until the rotator's grace ends.
    async fn accepted_ids(&self) -> Vec<String> {
        let mut accepted = vec![self.external_id.expose().to_string()];
        let Some(e) = &self.existing else {
            return accepted;
        };
        let mut honoured: BTreeSet<String> = e.rotating.iter().cloned().collect();
        if self.id_changed {
            honoured.insert(e.current.external_id.expose().to_string());
        }
        let old_trust = match (&self.existing_role, &self.replacing) {
            (Some(r), _) => Some(r.trust_policy.clone()),
            (None, Some(old)) => match record::role_of_arn(old) {
                Some((acct, name)) if acct == self.trusting => self
                    .trusting_iam
                    .get_role(&name)
                    .await
                    .ok()
                    .map(|r| r.trust_policy),
                _ => None,
            },
            _ => None,
        };
        let still = old_trust
            .map(|p| policy::accepted_external_ids(&p))
            .unwrap_or_default();
        for id in still {
            if honoured.contains(&id) && !accepted.contains(&id) {
                accepted.push(id);
            }
        }
        accepted
    }
}

/// The role of this link, if it exists; a role of that name that is not this link's is
/// someone else's and stops the request.
async fn link_role<I: Roles>(
    iam: &I,
    spec: &LinkSpec,
    trusting: &AccountId,
    role_arn: &str,
) -> Result<Option<RoleInfo>, LinkError> {
    let Some(role) = iam
        .get_role(spec.role_name())
        .await
        .optional()
        .at("iam:GetRole")?
    else {
        return Ok(None);
    };
    if role.tags.get(tag::LINK) != Some(&spec.link_name) || role.arn != role_arn {
        return Err(LinkError::Conflict(format!(
            "Role.Name: role {} already exists in account {trusting} and is not managed by link {}",
            role.arn, spec.link_name
        )));
    }
    Ok(Some(role))
}

/// The role ARN an Update replaces, or a conflict when the name belongs to another link.
fn replacing(
    spec: &LinkSpec,
    existing: Option<&Existing>,
    mode: Mode<'_>,
    role_arn: &str,
) -> Result<Option<String>, LinkError> {
    match (existing, mode) {
        (Some(e), _) if e.record.role_arn == role_arn => Ok(None),
        (Some(e), Mode::Update { physical_id }) if e.record.role_arn == physical_id => {
            Ok(Some(physical_id.to_string()))
        }
        (Some(e), _) => Err(LinkError::Conflict(format!(
            "LinkName: link {} already exists in this hub for role {}",
            spec.link_name, e.record.role_arn
        ))),
        (None, _) => Ok(None),
    }
}

/// As given, else the link's current one, else the one of the link's role when a concurrent
/// delivery made the role but not yet the secret (deliveries of one request must agree on
/// it), else a new one.
fn choose_external_id(
    spec: &LinkSpec,
    existing: Option<&Existing>,
    existing_role: Option<&RoleInfo>,
) -> ExternalId {
    spec.external_id
        .clone()
        .or_else(|| existing.map(|e| e.current.external_id.clone()))
        .or_else(|| existing_role.and_then(sole_external_id))
        .unwrap_or_else(ExternalId::generate)
}

/// The one external ID a link's role accepts, when it accepts exactly one.
fn sole_external_id(role: &RoleInfo) -> Option<ExternalId> {
    match policy::accepted_external_ids(&role.trust_policy).as_slice() {
        [only] => ExternalId::parse("ExternalId", only).ok(),
        _ => None,
    }
}

/// Reads only: a link secret scheduled for deletion belongs to a deleted link and is
/// reported as such, to be restored (and undone on failure) by the step that writes it.
async fn read_existing<S: Secrets>(secrets: &S, name: &str) -> Result<LinkSecret, LinkError> {
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
    let current_version = current.version_id.clone();
    let current = ExternalIdSecret::parse(&current.text)?;
    let mut rotating = Vec::new();
    // Only the labels DescribeSecret lists on another version than AWSCURRENT's have a value
    // of their own to read.
    let other_version = |stage: &str| {
        described
            .versions
            .iter()
            .any(|v| v.version_id != current_version && v.stages.iter().any(|s| s == stage))
    };
    for stage in [AWSPENDING, AWSPREVIOUS]
        .into_iter()
        .filter(|s| other_version(s))
    {
        let value = secrets.get_secret_value(name, stage).await;
        if let Some(v) = value.optional().at("secretsmanager:GetSecretValue")? {
            if let Ok(s) = ExternalIdSecret::parse(&v.text) {
                rotating.push(s.external_id.expose().to_string());
            }
        }
    }
    Ok(LinkSecret::Live(Box::new(Existing {
        arn: described.arn,
        record,
        current,
        rotating,
    })))
}
