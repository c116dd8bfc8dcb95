//! Diagnose: why an `sts:AssumeRole` is (or would be) denied, walking the troubleshooting
//! table for real: the role exists; no explicit deny; the trust policy admits the caller;
//! the external ID (compared with the link's, never shown); each condition; the caller's
//! identity policies allow `sts:AssumeRole` on the role; the session duration.

use serde::Serialize;
use serde_json::Value;
use tracing::info;
use trustlink_aws::ports::{Cloud, Inventory, Policies, Roles, Users};
use trustlink_aws::AwsError;
use trustlink_domain::arn::{self, Partition};
use trustlink_domain::evaluate::{
    evaluate_identity, evaluate_trust, Decision, FailReason, FailedCondition, RequestContext,
};
use trustlink_domain::policy::{self, ASSUME_ROLE, EXTERNAL_ID_KEY};
use trustlink_domain::record::{self, role_of_arn};
use trustlink_domain::AccountId;

use crate::command::DiagnoseRequest;
use crate::links::{self, IdMatch, LinkState};
use crate::{Check, Checker};

/// A role session may assume another role for at most this long.
pub const ROLE_CHAINING_MAX_SECONDS: u32 = 3600;
pub const DEFAULT_MAX_SESSION_SECONDS: u32 = 3600;

/// What link-check cannot see, named in every diagnosis instead of guessed.
pub const NOT_SEEN: &[&str] = &[
    "service control policies (SCPs) of both accounts' organizations",
    "resource control policies (RCPs)",
    "session policies passed with the request",
    "permissions boundaries of the caller",
];

/// Why the request is denied, in the order the troubleshooting table asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    RoleNotFound,
    ExplicitDeny,
    PrincipalNotTrusted,
    ExternalIdMissing,
    ExternalIdWrong,
    ExternalIdRetired,
    MfaRequired,
    MfaTooOld,
    SourceIp,
    OutsideTimeWindow,
    OrgMismatch,
    CallerNotGranted,
    RoleChainingLimit,
    DurationTooLong,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::RoleNotFound => "role-not-found",
            Cause::ExplicitDeny => "explicit-deny",
            Cause::PrincipalNotTrusted => "principal-not-trusted",
            Cause::ExternalIdMissing => "external-id-missing",
            Cause::ExternalIdWrong => "external-id-wrong",
            Cause::ExternalIdRetired => "external-id-retired",
            Cause::MfaRequired => "mfa-required",
            Cause::MfaTooOld => "mfa-too-old",
            Cause::SourceIp => "source-ip",
            Cause::OutsideTimeWindow => "outside-time-window",
            Cause::OrgMismatch => "org-mismatch",
            Cause::CallerNotGranted => "caller-not-granted",
            Cause::RoleChainingLimit => "role-chaining-limit",
            Cause::DurationTooLong => "duration-too-long",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allowed,
    Denied,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Denied => "denied",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub verdict: Verdict,
    pub cause: Option<Cause>,
    pub checks: Vec<Check>,
    pub fix: Option<String>,
    pub caller: String,
    pub role_arn: String,
    pub link: Option<String>,
    pub source: String,
    pub not_seen: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DiagnoseError {
    #[error("RoleArn: '{0}' is not an IAM role ARN (arn:aws:iam::<account>:role/<path><name>)")]
    BadRole(String),
    #[error("Caller: {0}")]
    BadCaller(String),
    #[error("reading {what} failed: {source}")]
    Read { what: String, source: AwsError },
}

/// The caller as policies see it, and whether it is a role session (role chaining).
struct Caller {
    ctx: RequestContext,
    chained: bool,
    /// The user or role whose identity policies count; `None` for an account root.
    identity: Option<(AccountId, IdentityKind, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdentityKind {
    User,
    Role,
}

/// Steps of the walk: every check made, and each failure's cause and fix.
#[derive(Default)]
struct Walk {
    checks: Vec<Check>,
    causes: Vec<(Cause, String)>,
    not_seen: Vec<String>,
}

impl Walk {
    fn pass(&mut self, name: &str, detail: impl Into<String>) {
        self.checks.push(Check::new(name, true, detail));
    }
    fn fail(
        &mut self,
        name: &str,
        detail: impl Into<String>,
        cause: Cause,
        fix: impl Into<String>,
    ) {
        self.checks.push(Check::new(name, false, detail));
        self.causes.push((cause, fix.into()));
    }
}

pub async fn run<C>(checker: &Checker<C>, req: &DiagnoseRequest) -> Result<Diagnosis, DiagnoseError>
where
    C: Cloud,
    C::Iam: Inventory,
{
    let now = req.at.unwrap_or_else(|| checker.clock.now());
    let (account, role_name) =
        role_of_arn(&req.role_arn).ok_or_else(|| DiagnoseError::BadRole(req.role_arn.clone()))?;
    let read = |what: String| move |source| DiagnoseError::Read { what, source };
    let iam = checker
        .cloud
        .iam(&account)
        .await
        .map_err(read(format!("account {account}")))?;
    let mut walk = Walk::default();
    let link = find_link(checker, &req.role_arn)
        .await
        .map_err(read("the link secrets".into()))?;
    let role = match iam.get_role(&role_name).await {
        Ok(role) => Some(role),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(read(format!("the role {}", req.role_arn))(e)),
    };
    match &role {
        None => walk.fail(
            "role",
            format!("no role {role_name} in account {account}"),
            Cause::RoleNotFound,
            role_not_found_fix(&account, &role_name, link.as_ref()),
        ),
        Some(r) => walk.pass("role", format!("{} exists", r.arn)),
    }
    if let Some(role) = &role {
        let caller = caller(checker, req, now).await?;
        trust_steps(
            &mut walk,
            &role.trust_policy,
            &caller,
            req,
            link.as_ref(),
            now,
        );
        identity_steps(&mut walk, checker, &caller, &role.trust_policy, req).await;
        duration_steps(
            &mut walk,
            req,
            &caller,
            role.max_session_duration,
            &role_name,
        );
    }
    Ok(conclude(walk, req, link.map(|l| l.record.link_name)))
}

fn conclude(mut walk: Walk, req: &DiagnoseRequest, link: Option<String>) -> Diagnosis {
    walk.causes.sort_by_key(|(c, _)| *c);
    let first = walk.causes.first().cloned();
    let mut not_seen: Vec<String> = NOT_SEEN.iter().map(|s| s.to_string()).collect();
    not_seen.extend(walk.not_seen);
    let d = Diagnosis {
        verdict: if first.is_some() {
            Verdict::Denied
        } else {
            Verdict::Allowed
        },
        cause: first.as_ref().map(|(c, _)| *c),
        checks: walk.checks,
        fix: first.map(|(_, f)| f),
        caller: req.caller.clone(),
        role_arn: req.role_arn.clone(),
        link,
        source: req.source.clone(),
        not_seen,
    };
    info!(
        verdict = d.verdict.as_str(),
        cause = d.cause.map(Cause::as_str),
        caller = d.caller,
        role_arn = d.role_arn,
        link = d.link,
        source = d.source,
        "diagnosis"
    );
    d
}

async fn find_link<C: Cloud>(
    checker: &Checker<C>,
    role_arn: &str,
) -> Result<Option<LinkState>, AwsError> {
    let secrets = checker.cloud.secrets();
    let records = links::discover(&secrets).await?;
    match records.into_iter().find(|r| r.role_arn == role_arn) {
        Some(r) => LinkState::load(&secrets, r).await.map(Some),
        None => Ok(None),
    }
}

fn role_not_found_fix(account: &AccountId, name: &str, link: Option<&LinkState>) -> String {
    match link {
        Some(l) => format!("the link {0} names this role but it is gone: update or re-deploy the stack that declares link {0}", l.record.link_name),
        None => format!("check the account and the role's name: aws iam get-role --role-name {name} (in account {account}); a link's consumers read RoleArn from its secret (aws secretsmanager get-secret-value --secret-id trustlink/<LinkName> --version-stage AWSCURRENT)"),
    }
}

/// Builds the request context of the caller, as AWS would see it.
async fn caller<C>(
    checker: &Checker<C>,
    req: &DiagnoseRequest,
    now: i64,
) -> Result<Caller, DiagnoseError>
where
    C: Cloud,
    C::Iam: Inventory,
{
    let at =
        jiff::Timestamp::from_second(now).map_err(|e| DiagnoseError::BadCaller(e.to_string()))?;
    let bad = |e: trustlink_domain::evaluate::ContextError| DiagnoseError::BadCaller(e.to_string());
    let parts: Vec<&str> = req.caller.splitn(6, ':').collect();
    let parsed = match parts.as_slice() {
        ["arn", p, service, _, account, resource] => {
            Partition::parse(p).map(|p| (p, *service, *account, *resource))
        }
        _ => None,
    };
    let Some((partition, service, account, resource)) = parsed else {
        return Err(DiagnoseError::BadCaller(format!(
            "'{}' is not a user, role, root or assumed-role session ARN",
            req.caller
        )));
    };
    let acct = AccountId::parse("Caller", account).map_err(|e| DiagnoseError::BadCaller(e.rule))?;
    let (mut ctx, chained, identity) = if service == "sts" {
        let name = resource
            .strip_prefix("assumed-role/")
            .and_then(|r| r.split('/').next())
            .unwrap_or_default();
        let role_arn = match &req.caller_role_arn {
            Some(arn) => arn.clone(),
            None => session_role(checker, partition, &acct, name).await,
        };
        (
            RequestContext::for_session(&req.caller, &role_arn, at).map_err(bad)?,
            true,
            Some((acct, IdentityKind::Role, name.to_string())),
        )
    } else if let Some(path_name) = resource.strip_prefix("role/") {
        let name = path_name.rsplit('/').next().unwrap_or_default().to_string();
        let session = arn::assumed_role(partition, &acct, &name, "diagnose");
        (
            RequestContext::for_session(&session, &req.caller, at).map_err(bad)?,
            true,
            Some((acct, IdentityKind::Role, name)),
        )
    } else {
        let ctx = RequestContext::new(&req.caller, at).map_err(bad)?;
        let identity = resource.strip_prefix("user/").map(|p| {
            (
                acct,
                IdentityKind::User,
                p.rsplit('/').next().unwrap_or_default().to_string(),
            )
        });
        (ctx, false, identity)
    };
    ctx.external_id = req.external_id.clone();
    ctx.source_ip = req.source_ip;
    ctx.mfa_present = req.mfa_present;
    ctx.mfa_age_seconds = req.mfa_age_seconds;
    Ok(Caller {
        ctx,
        chained,
        identity,
    })
}

/// The ARN of a session's role, with its path when the caller's account can be read.
async fn session_role<C: Cloud>(
    checker: &Checker<C>,
    partition: Partition,
    account: &AccountId,
    name: &str,
) -> String {
    if let Ok(iam) = checker.cloud.iam(account).await {
        if let Ok(role) = iam.get_role(name).await {
            return role.arn;
        }
    }
    arn::role(partition, account, "/", name)
}

fn trust_steps(
    walk: &mut Walk,
    policy: &Value,
    caller: &Caller,
    req: &DiagnoseRequest,
    link: Option<&LinkState>,
    now: i64,
) {
    external_id_step(walk, policy, req, link, now);
    let decision = match evaluate_trust(policy, &caller.ctx, ASSUME_ROLE) {
        Ok(d) => d,
        Err(e) => {
            walk.fail(
                "trust-policy",
                format!("the trust policy cannot be evaluated: {e}"),
                Cause::PrincipalNotTrusted,
                "fix the trust policy document",
            );
            return;
        }
    };
    match &decision {
        Decision::Allowed { .. } => walk.pass("trust-policy", format!("the trust policy admits the caller: {decision}")),
        Decision::ExplicitDeny { statement, .. } => walk.fail("trust-policy", format!("{decision}"), Cause::ExplicitDeny, format!("{statement} of the role's trust policy denies this caller: remove or narrow it (aws iam update-assume-role-policy)")),
        Decision::ImplicitDeny { near_misses } if near_misses.is_empty() => {
            let trusted = policy::accepted_by(policy).into_iter().flat_map(|a| a.principals).collect::<Vec<_>>().join(", ");
            let fix = match link {
                Some(l) => format!("the link {} admits only {}: call with that principal's credentials", l.record.link_name, l.record.trusted_principal),
                None => format!("the trust policy admits only {trusted}: call as one of them, or add the caller to the trust policy (aws iam update-assume-role-policy)"),
            };
            walk.fail("trust-policy", format!("the trust policy does not admit {} (it admits {trusted})", caller.ctx.principal_arn()), Cause::PrincipalNotTrusted, fix);
        }
        Decision::ImplicitDeny { near_misses } => {
            let best = near_misses.iter().min_by_key(|m| m.failed.len()).expect("not empty");
            walk.checks.push(Check::new("trust-policy", false, format!("{} admits the caller, but conditions failed", best.statement)));
            for failed in &best.failed {
                condition_step(walk, failed, req, link, now);
            }
        }
    }
}

fn external_id_step(
    walk: &mut Walk,
    policy: &Value,
    req: &DiagnoseRequest,
    link: Option<&LinkState>,
    now: i64,
) {
    let required = crate::trust::assume_statements(policy)
        .iter()
        .any(|s| s.requires_external_id);
    match (&req.external_id, link, required) {
        (None, _, true) => walk.checks.push(Check::new("external-id", false, "no external ID was sent; the trust policy requires one")),
        (None, _, false) => walk.pass("external-id", "none sent, none required"),
        (Some(_), _, false) => walk.pass("external-id", "the role does not require an external ID: AWS ignores the one sent (so it protects nothing)"),
        (Some(id), Some(l), true) => {
            let m = l.classify(id, now);
            walk.checks.push(Check::new("external-id", m == IdMatch::Current || matches!(m, IdMatch::PreviousInGrace { .. }), format!("the external ID sent {}", m.describe())));
        }
        (Some(_), None, true) => walk.checks.push(Check::new("external-id", true, "the role is not a trustlink link: the ID is judged by the trust policy alone")),
    }
}

fn secret_hint(link: Option<&LinkState>) -> String {
    let name = link
        .map(|l| l.record.link_name.as_str())
        .unwrap_or("<LinkName>");
    format!(
        "aws secretsmanager get-secret-value --secret-id {} --version-stage AWSCURRENT",
        record::external_id_secret_name(name)
    )
}

/// One failed condition of the trust statement that came closest.
fn condition_step(
    walk: &mut Walk,
    failed: &FailedCondition,
    req: &DiagnoseRequest,
    link: Option<&LinkState>,
    now: i64,
) {
    let key = failed.condition.key.to_ascii_lowercase();
    let detail = failed.to_string();
    let (cause, fix) = match (key.as_str(), failed.reason) {
        ("sts:externalid", FailReason::KeyAbsent) => (Cause::ExternalIdMissing, format!("pass --external-id with the link's AWSCURRENT value: {}", secret_hint(link))),
        ("sts:externalid", _) => {
            let m = match (&req.external_id, link) {
                (Some(id), Some(l)) => l.classify(id, now),
                _ => IdMatch::None,
            };
            let cause = if matches!(m, IdMatch::PreviousRetired { .. }) { Cause::ExternalIdRetired } else { Cause::ExternalIdWrong };
            let fix = if m == IdMatch::Current {
                format!("the trust policy does not accept the link's AWSCURRENT ID (drift): update the stack of link {}", link.map(|l| l.record.link_name.as_str()).unwrap_or_default())
            } else {
                format!("the external ID was rotated or mistyped: read it again from AWSCURRENT: {}", secret_hint(link))
            };
            (cause, fix)
        }
        ("aws:multifactorauthpresent", _) | ("aws:multifactorauthage", FailReason::KeyAbsent) => (Cause::MfaRequired, "call with an MFA session: add --serial-number arn:aws:iam::<account>:mfa/<user> --token-code <code> (or get-session-token with MFA first)".to_string()),
        ("aws:multifactorauthage", _) => (Cause::MfaTooOld, "the MFA authentication is older than the trust policy allows (aws:MultiFactorAuthAge): authenticate with MFA again".to_string()),
        ("aws:sourceip", _) => (Cause::SourceIp, "call from an address the trust policy's aws:SourceIp allows (a NAT or VPN egress in the link's SourceIpCidrs), or change the link's Conditions.SourceIpCidrs".to_string()),
        ("aws:currenttime" | "aws:epochtime", _) => (Cause::OutsideTimeWindow, "the trust policy admits requests only inside its aws:CurrentTime window: change the link's Conditions.NotBefore/NotAfter if the window is wrong".to_string()),
        ("aws:principalorgid" | "aws:principalorgpaths", _) => (Cause::OrgMismatch, "the caller must belong to the organization the trust policy names (aws:PrincipalOrgID); link-check cannot see the caller's organization: check it with aws organizations describe-organization in the caller's account".to_string()),
        _ => (Cause::PrincipalNotTrusted, format!("the trust policy's condition {} rejects this caller", failed.condition)),
    };
    walk.fail(
        &format!("condition {}", failed.condition),
        detail,
        cause,
        fix,
    );
}

async fn identity_steps<C>(
    walk: &mut Walk,
    checker: &Checker<C>,
    caller: &Caller,
    trust: &Value,
    req: &DiagnoseRequest,
) where
    C: Cloud,
    C::Iam: Inventory,
{
    let Some((account, kind, name)) = &caller.identity else {
        walk.pass(
            "identity-policies",
            "an account root may call sts:AssumeRole without an identity policy",
        );
        return;
    };
    let role_account = req.role_arn.split(':').nth(4).unwrap_or_default();
    let named = policy::accepted_by(trust)
        .iter()
        .any(|a| a.principals.iter().any(|p| p == caller.ctx.principal_arn()));
    if account.as_str() == role_account && named {
        walk.pass(
            "identity-policies",
            "same account, and the trust policy names the caller: no identity policy is needed",
        );
        return;
    }
    let documents = match identity_documents(checker, account, *kind, name).await {
        Ok(d) => d,
        Err(e) => {
            walk.checks.push(Check::new(
                "identity-policies",
                true,
                format!("not read: {e}"),
            ));
            walk.not_seen.push(format!(
                "the identity policies of {} (account {account} cannot be read: {e})",
                req.caller
            ));
            return;
        }
    };
    let refs: Vec<&Value> = documents.iter().collect();
    match evaluate_identity(&refs, &caller.ctx, ASSUME_ROLE, &req.role_arn) {
        Ok(d @ Decision::Allowed { .. }) => walk.pass("identity-policies", format!("the caller's policies allow sts:AssumeRole on the role: {d}")),
        Ok(d @ Decision::ExplicitDeny { .. }) => walk.fail("identity-policies", d.to_string(), Cause::ExplicitDeny, "a policy of the caller denies sts:AssumeRole on this role: remove or narrow that statement"),
        Ok(Decision::ImplicitDeny { near_misses }) if only_external_id(&near_misses) => walk.checks.push(Check::new("identity-policies", false, "the caller's policies allow sts:AssumeRole on the role only with the right external ID (their own sts:ExternalId condition)")),
        Ok(d) => walk.fail("identity-policies", format!("none of the caller's {} policies allows sts:AssumeRole on {}: {d}", documents.len(), req.role_arn), Cause::CallerNotGranted, grant_fix(*kind, name, &req.role_arn)),
        Err(e) => walk.checks.push(Check::new("identity-policies", false, format!("a policy of the caller cannot be evaluated: {e}"))),
    }
}

/// Whether every near miss failed only on `sts:ExternalId` (a grant with the link's ID).
fn only_external_id(near_misses: &[trustlink_domain::evaluate::NearMiss]) -> bool {
    !near_misses.is_empty()
        && near_misses.iter().all(|m| {
            m.failed
                .iter()
                .all(|f| f.condition.key.eq_ignore_ascii_case(EXTERNAL_ID_KEY))
        })
}

fn grant_fix(kind: IdentityKind, name: &str, role_arn: &str) -> String {
    let doc = format!("'{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Resource\":\"{role_arn}\"}}]}}'");
    match kind {
        IdentityKind::User => format!("for a link with TrustedSide.Grant, update its stack (the grant is re-attached); otherwise: aws iam put-user-policy --user-name {name} --policy-name AssumeTrustLinkRole --policy-document {doc}"),
        IdentityKind::Role => format!("aws iam put-role-policy --role-name {name} --policy-name AssumeTrustLinkRole --policy-document {doc}"),
    }
}

/// Every identity policy of a user (attached, inline, its groups') or a role.
async fn identity_documents<C>(
    checker: &Checker<C>,
    account: &AccountId,
    kind: IdentityKind,
    name: &str,
) -> Result<Vec<Value>, AwsError>
where
    C: Cloud,
    C::Iam: Inventory,
{
    let iam = checker.cloud.iam(account).await?;
    let mut docs = Vec::new();
    let (attached, inline) = match kind {
        IdentityKind::User => (
            iam.list_attached_user_policies(name).await?,
            iam.list_user_policies(name).await?,
        ),
        IdentityKind::Role => (
            iam.list_attached_role_policies(name).await?,
            iam.list_role_policies(name).await?,
        ),
    };
    for p in &inline {
        docs.push(match kind {
            IdentityKind::User => iam.get_user_policy(name, p).await?,
            IdentityKind::Role => iam.get_role_policy(name, p).await?,
        });
    }
    let mut managed = attached;
    if kind == IdentityKind::User {
        for group in iam.list_groups_for_user(name).await? {
            for p in iam.list_group_policies(&group).await? {
                docs.push(iam.get_group_policy(&group, &p).await?);
            }
            managed.extend(iam.list_attached_group_policies(&group).await?);
        }
    }
    for arn in managed {
        docs.push(iam.get_policy_document(&arn).await?);
    }
    Ok(docs)
}

fn duration_steps(
    walk: &mut Walk,
    req: &DiagnoseRequest,
    caller: &Caller,
    max: Option<u32>,
    role: &str,
) {
    let Some(asked) = req.duration_seconds else {
        walk.pass(
            "duration",
            "no DurationSeconds asked: the default of 3600 s applies",
        );
        return;
    };
    let max = max.unwrap_or(DEFAULT_MAX_SESSION_SECONDS);
    if caller.chained && asked > ROLE_CHAINING_MAX_SECONDS {
        walk.fail("role-chaining", format!("the caller is a role session; a chained session lasts at most {ROLE_CHAINING_MAX_SECONDS} s, {asked} s were asked"), Cause::RoleChainingLimit, format!("ask for --duration-seconds {ROLE_CHAINING_MAX_SECONDS} or less (or call with long-term credentials)"));
    }
    if asked > max {
        walk.fail("duration", format!("{asked} s asked, the role's MaxSessionDuration is {max} s"), Cause::DurationTooLong, format!("ask for --duration-seconds {max} or less, or raise it: aws iam update-role --role-name {role} --max-session-duration {asked} (for a link: Role.MaxSessionDuration)"));
    } else {
        walk.pass(
            "duration",
            format!("{asked} s asked, within MaxSessionDuration {max} s"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use trustlink_domain::policy::{trust_policy, Principal};
    use trustlink_domain::{Conditions, ExternalId};

    const USER: &str = "arn:aws:iam::444455556666:user/DevUser";

    fn request(id: Option<&str>) -> DiagnoseRequest {
        DiagnoseRequest {
            caller: USER.into(),
            caller_role_arn: None,
            role_arn: "arn:aws:iam::111122223333:role/trustlink/r".into(),
            external_id: id.map(|i| ExternalId::parse("e", i).unwrap()),
            source_ip: Some("198.51.100.1".parse().unwrap()),
            mfa_present: None,
            mfa_age_seconds: None,
            duration_seconds: None,
            at: Some(1_800_000_000),
            source: "console".into(),
        }
    }

    fn walk(policy: &Value, req: &DiagnoseRequest) -> Option<Cause> {
        let at = jiff::Timestamp::from_second(req.at.unwrap()).unwrap();
        let mut ctx = RequestContext::new(&req.caller, at).unwrap();
        ctx.external_id = req.external_id.clone();
        ctx.source_ip = req.source_ip;
        ctx.mfa_present = req.mfa_present;
        ctx.mfa_age_seconds = req.mfa_age_seconds;
        let caller = Caller {
            ctx,
            chained: false,
            identity: None,
        };
        let mut w = Walk::default();
        trust_steps(&mut w, policy, &caller, req, None, req.at.unwrap());
        let d = conclude(w, req, None);
        assert!(!serde_json::to_string(&d).unwrap().contains("CurrentId123"));
        d.cause
    }

    #[test]
    fn each_condition_names_its_cause() {
        let p = Principal::parse("p", USER).unwrap();
        let plain = trust_policy(&p, &["CurrentId123"], &Conditions::default());
        assert_eq!(walk(&plain, &request(Some("CurrentId123"))), None);
        assert_eq!(walk(&plain, &request(None)), Some(Cause::ExternalIdMissing));
        assert_eq!(
            walk(&plain, &request(Some("Wrong123"))),
            Some(Cause::ExternalIdWrong)
        );
        let other = trust_policy(
            &Principal::parse("p", "arn:aws:iam::444455556666:user/Other").unwrap(),
            &["CurrentId123"],
            &Conditions::default(),
        );
        assert_eq!(
            walk(&other, &request(Some("CurrentId123"))),
            Some(Cause::PrincipalNotTrusted)
        );
        let mfa = trust_policy(
            &p,
            &["CurrentId123"],
            &Conditions {
                require_mfa: true,
                ..Default::default()
            },
        );
        assert_eq!(
            walk(&mfa, &request(Some("CurrentId123"))),
            Some(Cause::MfaRequired)
        );
        let age = trust_policy(
            &p,
            &["CurrentId123"],
            &Conditions {
                require_mfa: true,
                mfa_max_age_seconds: Some(600),
                ..Default::default()
            },
        );
        let mut old = request(Some("CurrentId123"));
        old.mfa_present = Some(true);
        old.mfa_age_seconds = Some(3600);
        assert_eq!(walk(&age, &old), Some(Cause::MfaTooOld));
        let ip = trust_policy(
            &p,
            &["CurrentId123"],
            &Conditions {
                source_ip_cidrs: vec!["203.0.113.0/24".into()],
                ..Default::default()
            },
        );
        assert_eq!(
            walk(&ip, &request(Some("CurrentId123"))),
            Some(Cause::SourceIp)
        );
        let window = trust_policy(
            &p,
            &["CurrentId123"],
            &Conditions {
                not_after: Some(
                    trustlink_domain::Timestamp::parse("t", "2020-01-01T00:00:00Z").unwrap(),
                ),
                ..Default::default()
            },
        );
        assert_eq!(
            walk(&window, &request(Some("CurrentId123"))),
            Some(Cause::OutsideTimeWindow)
        );
        let org = trust_policy(
            &p,
            &["CurrentId123"],
            &Conditions {
                principal_org_id: Some("o-abc123".into()),
                ..Default::default()
            },
        );
        assert_eq!(
            walk(&org, &request(Some("CurrentId123"))),
            Some(Cause::OrgMismatch)
        );
        let deny = json!({"Statement": [plain["Statement"][0].clone(), {"Effect": "Deny", "Principal": {"AWS": USER}, "Action": "sts:AssumeRole"}]});
        assert_eq!(
            walk(&deny, &request(Some("CurrentId123"))),
            Some(Cause::ExplicitDeny)
        );
    }

    #[test]
    fn durations() {
        let ctx = RequestContext::new(USER, jiff::Timestamp::from_second(0).unwrap()).unwrap();
        for (chained, asked, max, cause) in [
            (false, 3600, None, None),
            (false, 7200, None, Some(Cause::DurationTooLong)),
            (false, 7200, Some(43200), None),
            (true, 7200, Some(43200), Some(Cause::RoleChainingLimit)),
        ] {
            let caller = Caller {
                ctx: ctx.clone(),
                chained,
                identity: None,
            };
            let mut req = request(None);
            req.duration_seconds = Some(asked);
            let mut w = Walk::default();
            duration_steps(&mut w, &req, &caller, max, "r");
            assert_eq!(
                conclude(w, &req, None).cause,
                cause,
                "{chained} {asked} {max:?}"
            );
        }
    }
}
