//! Audit: every role of the audited accounts whose trust policy admits another account,
//! trustlink's and anyone else's, as an inventory with findings. Reads only.

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt};
use serde::Serialize;
use tracing::{info, warn};
use trustlink_aws::ports::{
    Cloud, Inventory, Policies, RoleSummary, Roles, Secrets, Users, AWSCURRENT,
};
use trustlink_aws::AwsError;
use trustlink_domain::record::{self, tag, LinkRecord};
use trustlink_domain::{arn, AccountId, Principal};

use crate::findings::{self, Finding, GrantState, Kind, LinkFacts, RoleFacts, Rules};
use crate::links::{self, LinkState};
use crate::trust::{assume_statements, foreign_principals};
use crate::{iso, Checker, LinkCheckError};

/// Roles read at once per account.
const CONCURRENCY: usize = 8;

#[derive(Debug, Clone, Serialize)]
pub struct InventoryEntry {
    pub account: String,
    pub role_arn: String,
    pub link: Option<String>,
    pub trusted_principals: Vec<String>,
    pub external_id_required: bool,
    pub conditions: Vec<String>,
    pub created: String,
    pub last_used: Option<String>,
    pub attached_policies: Vec<String>,
    pub inline_policies: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditError {
    pub account: Option<String>,
    pub link: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditSummary {
    pub accounts: usize,
    pub roles: usize,
    pub links: usize,
    pub findings: BTreeMap<&'static str, usize>,
    pub high: usize,
    pub errors: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub inventory: Vec<InventoryEntry>,
    pub findings: Vec<Finding>,
    pub summary: AuditSummary,
    pub errors: Vec<AuditError>,
}

/// What one account holds.
#[derive(Default)]
struct AccountScan {
    roles: Vec<RoleFacts>,
    orphans: Vec<Finding>,
}

pub async fn run<C>(
    checker: &Checker<C>,
    wanted: Option<&[AccountId]>,
) -> Result<AuditReport, LinkCheckError>
where
    C: Cloud,
    C::Iam: Inventory,
{
    let now = checker.clock.now();
    let secrets = checker.cloud.secrets();
    let records = links::discover(&secrets)
        .await
        .map_err(LinkCheckError::Discovery)?;
    let names: BTreeSet<String> = records.iter().map(|r| r.link_name.clone()).collect();
    let accounts: BTreeSet<AccountId> = match wanted {
        Some(list) => list.iter().cloned().collect(),
        None => default_accounts(checker, &records)
            .await
            .map_err(LinkCheckError::Discovery)?,
    };
    let (scans, mut errors) = scan_accounts(checker, &accounts, &names, &records).await;
    let own_roles = [
        checker.settings.admin_role_name.as_str(),
        checker.settings.read_role_name.as_str(),
    ];
    let rules = Rules {
        now,
        unused_days: checker.settings.unused_days,
        own_roles: &own_roles,
        links: &names,
    };
    let mut found: Vec<Finding> = Vec::new();
    for scan in scans.values() {
        found.extend(
            scan.roles
                .iter()
                .flat_map(|r| findings::role_findings(r, &rules)),
        );
        found.extend(scan.orphans.iter().cloned());
    }
    for rec in &records {
        match link_facts_findings(checker, rec, &scans, now).await {
            Ok(f) => found.extend(f),
            Err(e) => errors.push(AuditError {
                account: None,
                link: Some(rec.link_name.clone()),
                detail: e.to_string(),
            }),
        }
    }
    found.sort_by(|a, b| (&a.account, &a.resource, a.kind).cmp(&(&b.account, &b.resource, b.kind)));
    found.dedup();
    let inventory: Vec<InventoryEntry> = scans
        .values()
        .flat_map(|s| s.roles.iter().map(entry))
        .filter(|e| !e.trusted_principals.is_empty())
        .collect();
    Ok(report(
        inventory,
        found,
        errors,
        accounts.len(),
        records.len(),
    ))
}

fn report(
    inventory: Vec<InventoryEntry>,
    found: Vec<Finding>,
    errors: Vec<AuditError>,
    accounts: usize,
    links: usize,
) -> AuditReport {
    for f in &found {
        info!(
            kind = f.kind.as_str(),
            severity = f.severity.as_str(),
            account = f.account,
            resource = f.resource,
            link = f.link,
            detail = f.detail,
            "audit finding"
        );
    }
    for e in &errors {
        warn!(
            account = e.account,
            link = e.link,
            detail = e.detail,
            "audit could not read"
        );
    }
    let mut by_kind: BTreeMap<&'static str, usize> =
        Kind::ALL.iter().map(|k| (k.as_str(), 0)).collect();
    for f in &found {
        *by_kind.entry(f.kind.as_str()).or_default() += 1;
    }
    let summary = AuditSummary {
        accounts,
        roles: inventory.len(),
        links,
        high: found
            .iter()
            .filter(|f| f.severity == findings::Severity::High)
            .count(),
        findings: by_kind,
        errors: errors.len(),
    };
    info!(
        accounts,
        roles = summary.roles,
        links,
        findings = found.len(),
        high = summary.high,
        errors = errors.len(),
        "audit result"
    );
    AuditReport {
        inventory,
        findings: found,
        summary,
        errors,
    }
}

/// Every account's scan, and the accounts that could not be read.
async fn scan_accounts<C>(
    checker: &Checker<C>,
    accounts: &BTreeSet<AccountId>,
    names: &BTreeSet<String>,
    records: &[LinkRecord],
) -> (BTreeMap<String, AccountScan>, Vec<AuditError>)
where
    C: Cloud,
    C::Iam: Inventory,
{
    let mut errors = Vec::new();
    let mut scans = BTreeMap::new();
    for account in accounts {
        match scan_account(checker, account, names, records).await {
            Ok(scan) => {
                scans.insert(account.as_str().to_string(), scan);
            }
            Err(e) => errors.push(AuditError {
                account: Some(account.to_string()),
                link: None,
                detail: e.to_string(),
            }),
        }
    }
    (scans, errors)
}

/// The hub, every account a link names, and `TRUSTLINK_AUDIT_ACCOUNTS`.
async fn default_accounts<C: Cloud>(
    checker: &Checker<C>,
    records: &[LinkRecord],
) -> Result<BTreeSet<AccountId>, AwsError> {
    let mut accounts: BTreeSet<AccountId> =
        checker.settings.audit_accounts.iter().cloned().collect();
    accounts.insert(checker.cloud.home_account().await?);
    for r in records {
        accounts.extend(r.role().map(|(a, _)| a));
        accounts.insert(r.trusted_principal.account().clone());
    }
    Ok(accounts)
}

async fn scan_account<C>(
    checker: &Checker<C>,
    account: &AccountId,
    links: &BTreeSet<String>,
    records: &[LinkRecord],
) -> Result<AccountScan, AwsError>
where
    C: Cloud,
    C::Iam: Inventory,
{
    let iam = checker.cloud.iam(account).await?;
    let roles = iam.list_roles().await?;
    let link_roles: BTreeSet<&str> = records.iter().map(|r| r.role_arn.as_str()).collect();
    let wanted: Vec<RoleSummary> = roles
        .iter()
        .filter(|r| {
            !foreign_principals(&r.trust_policy, account.as_str()).is_empty()
                || link_roles.contains(r.arn.as_str())
        })
        .cloned()
        .collect();
    let facts: Vec<Result<RoleFacts, AwsError>> =
        stream::iter(wanted.iter().map(|r| role_facts(&iam, account, r)))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
    let mut scan = AccountScan::default();
    for f in facts {
        match f {
            Ok(f) => scan.roles.push(f),
            Err(e) if e.is_not_found() => {} // deleted while we read
            Err(e) => return Err(e),
        }
    }
    scan.roles.sort_by(|a, b| a.arn.cmp(&b.arn));
    scan.orphans = orphans(&iam, account, links, &checker.settings.policy_path).await?;
    Ok(scan)
}

async fn role_facts<I: Inventory + Roles + Policies>(
    iam: &I,
    account: &AccountId,
    summary: &RoleSummary,
) -> Result<RoleFacts, AwsError> {
    let role = iam.get_role(&summary.name).await?;
    let usage = iam.role_usage(&summary.name).await?;
    let attached = iam.list_attached_role_policies(&summary.name).await?;
    let inline = iam.list_role_policies(&summary.name).await?;
    let mut documents = Vec::new();
    for name in &inline {
        documents.push((
            name.clone(),
            iam.get_role_policy(&summary.name, name).await?,
        ));
    }
    for arn in attached.iter().filter(|a| !arn::is_aws_managed_policy(a)) {
        documents.push((arn.clone(), iam.get_policy_document(arn).await?));
    }
    Ok(RoleFacts {
        account: account.to_string(),
        arn: role.arn,
        name: role.name,
        trust_policy: role.trust_policy,
        created: usage.created,
        last_used: usage.last_used,
        link_tag: role.tags.get(tag::LINK).cloned(),
        attached,
        documents,
        inline,
    })
}

/// Users tagged by trustlink and grant policies named by it whose link is gone.
async fn orphans<I: Inventory + Users>(
    iam: &I,
    account: &AccountId,
    links: &BTreeSet<String>,
    policy_path: &str,
) -> Result<Vec<Finding>, AwsError> {
    let mut out = Vec::new();
    for user in iam.list_users().await? {
        let tags = match iam.get_user(&user.name).await {
            Ok(u) => u.tags,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e),
        };
        if let Some(link) = tags.get(tag::LINK).filter(|l| !links.contains(*l)) {
            let fix = format!("if nothing uses it: delete its access keys and policies (aws iam list-access-keys --user-name {0}; aws iam list-attached-user-policies --user-name {0}), then aws iam delete-user --user-name {0}", user.name);
            out.push(findings::orphan(
                account.as_str(),
                &user.arn,
                link,
                &format!("the user {}", user.name),
                fix,
            ));
        }
    }
    for policy in iam.list_local_policies(policy_path).await? {
        let Some(link) = policy.name.strip_prefix("TrustLink-") else {
            continue;
        };
        if !links.contains(link) {
            let fix = format!("detach it from every principal (aws iam list-entities-for-policy --policy-arn {0}), then aws iam delete-policy --policy-arn {0}", policy.arn);
            out.push(findings::orphan(
                account.as_str(),
                &policy.arn,
                link,
                &format!("the grant policy {}", policy.name),
                fix,
            ));
        }
    }
    Ok(out)
}

/// Drift and age of one link whose trusting account was scanned.
async fn link_facts_findings<C: Cloud>(
    checker: &Checker<C>,
    rec: &LinkRecord,
    scans: &BTreeMap<String, AccountScan>,
    now: i64,
) -> Result<Vec<Finding>, AwsError> {
    let Some((account, _)) = rec.role() else {
        return Ok(Vec::new());
    };
    let Some(scan) = scans.get(account.as_str()) else {
        return Ok(Vec::new());
    };
    let secrets = checker.cloud.secrets();
    let state = LinkState::load(&secrets, rec.clone()).await?;
    let role = scan.roles.iter().find(|r| r.arn == rec.role_arn);
    let grant = grant_state(checker, rec).await?;
    let key_since = match rec.access_key {
        false => None,
        true => match rec.access_key_rotated_at {
            Some(t) => Some(t),
            None => key_secret_created(&secrets, &rec.link_name).await?,
        },
    };
    let facts = LinkFacts {
        state: &state,
        account: account.to_string(),
        role,
        grant,
        key_since,
    };
    Ok(findings::link_findings(&facts, now))
}

/// When the key secret's AWSCURRENT version was made (GetSecretValue has the version's date;
/// DescribeSecret has none).
async fn key_secret_created(secrets: &impl Secrets, link: &str) -> Result<Option<i64>, AwsError> {
    let current = secrets
        .get_secret_value(&record::access_key_secret_name(link), AWSCURRENT)
        .await?;
    Ok(current.created)
}

async fn grant_state<C: Cloud>(
    checker: &Checker<C>,
    rec: &LinkRecord,
) -> Result<GrantState, AwsError> {
    let Some(arn) = rec.grant_policy_arn.as_deref() else {
        return Ok(GrantState::NotManaged);
    };
    let principal = &rec.trusted_principal;
    // An account root is never granted (the link's rules refuse it).
    if matches!(principal, Principal::Account { .. }) {
        return Ok(GrantState::NotManaged);
    }
    let iam = checker.cloud.iam(principal.account()).await?;
    if !iam.policy_exists(arn).await? {
        return Ok(GrantState::Missing);
    }
    let attached = match principal {
        Principal::Role { name, .. } => iam.list_attached_role_policies(name).await,
        _ => {
            iam.list_attached_user_policies(principal.name().unwrap_or_default())
                .await
        }
    };
    match attached {
        Ok(list) if list.iter().any(|a| a == arn) => Ok(GrantState::Attached),
        Ok(_) => Ok(GrantState::Detached),
        Err(e) if e.is_not_found() => Ok(GrantState::Detached),
        Err(e) => Err(e),
    }
}

fn entry(r: &RoleFacts) -> InventoryEntry {
    let statements = assume_statements(&r.trust_policy);
    let foreign = foreign_principals(&r.trust_policy, &r.account);
    let admitting: Vec<_> = statements
        .iter()
        .filter(|s| s.principals.iter().any(|p| foreign.contains(p)))
        .collect();
    let mut conditions: Vec<String> = admitting
        .iter()
        .flat_map(|s| s.conditions.clone())
        .collect();
    conditions.sort();
    conditions.dedup();
    InventoryEntry {
        account: r.account.clone(),
        role_arn: r.arn.clone(),
        link: r.link_tag.clone(),
        trusted_principals: foreign,
        external_id_required: !admitting.is_empty()
            && admitting.iter().all(|s| s.requires_external_id),
        conditions,
        created: iso(r.created),
        last_used: r.last_used.map(iso),
        attached_policies: r.attached.clone(),
        inline_policies: r.inline.clone(),
    }
}
