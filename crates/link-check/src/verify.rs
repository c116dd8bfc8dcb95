//! Verify: does each link work, and is its external ID enforced? Live probes with the link's
//! own access key (the consumer's view), the policy evaluator offline for what a probe from
//! here cannot meet (MFA, source IP, time window) and for links without a managed key.

use serde::Serialize;
use serde_json::Value;
use tracing::info;
use trustlink_aws::ports::{Cloud, Credentials, Roles, Secrets, Sts, AWSCURRENT};
use trustlink_aws::{probe, AwsError, ErrorKind};
use trustlink_domain::arn;
use trustlink_domain::evaluate::{evaluate_trust, Decision, RequestContext};
use trustlink_domain::policy::ASSUME_ROLE;
use trustlink_domain::record::{self, AccessKeySecret, LinkRecord};
use trustlink_domain::{ExternalId, Principal};

use crate::links::{self, LinkState};
use crate::trust::Gates;
use crate::{iso, Check, Checker, LinkCheckError};

/// The session name of every probe, so CloudTrail shows them for what they are.
pub const PROBE_SESSION: &str = "trustlink-link-check";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Gated,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Gated => "gated",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkResult {
    pub link: String,
    pub result: Outcome,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifySummary {
    pub links: usize,
    pub pass: usize,
    pub fail: usize,
    pub gated: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub links: Vec<LinkResult>,
    pub summary: VerifySummary,
}

pub async fn run<C: Cloud>(
    checker: &Checker<C>,
    wanted: Option<&[String]>,
) -> Result<VerifyReport, LinkCheckError> {
    let secrets = checker.cloud.secrets();
    let all = links::discover(&secrets)
        .await
        .map_err(LinkCheckError::Discovery)?;
    let mut results = Vec::new();
    for name in wanted.unwrap_or_default() {
        if !all.iter().any(|l| &l.link_name == name) {
            let detail = format!("no link named {name} in this hub (no secret trustlink/{name})");
            results.push(LinkResult {
                link: name.clone(),
                result: Outcome::Fail,
                checks: vec![Check::new("link", false, detail)],
            });
        }
    }
    let chosen = all
        .into_iter()
        .filter(|l| wanted.is_none_or(|w| w.contains(&l.link_name)));
    let futures = chosen.map(|record| verify_link(checker, record));
    results.extend(futures::future::join_all(futures).await);
    results.sort_by(|a, b| a.link.cmp(&b.link));
    for r in &results {
        let failed: Vec<&str> = r
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.as_str())
            .collect();
        info!(
            link = r.link,
            result = r.result.as_str(),
            failed = failed.join(","),
            "verify result"
        );
    }
    let count = |o| results.iter().filter(|r| r.result == o).count();
    let summary = VerifySummary {
        links: results.len(),
        pass: count(Outcome::Pass),
        fail: count(Outcome::Fail),
        gated: count(Outcome::Gated),
    };
    Ok(VerifyReport {
        links: results,
        summary,
    })
}

async fn verify_link<C: Cloud>(checker: &Checker<C>, record: LinkRecord) -> LinkResult {
    let link = record.link_name.clone();
    let (checks, gated) = match gather_and_check(checker, record).await {
        Ok(done) => done,
        Err(check) => (vec![check], false),
    };
    let result = match (checks.iter().all(|c| c.ok), gated) {
        (false, _) => Outcome::Fail,
        (true, true) => Outcome::Gated,
        (true, false) => Outcome::Pass,
    };
    LinkResult {
        link,
        result,
        checks,
    }
}

/// The checks of one link, and whether it is gated. `Err`: it could not even be read.
async fn gather_and_check<C: Cloud>(
    checker: &Checker<C>,
    record: LinkRecord,
) -> Result<(Vec<Check>, bool), Check> {
    let now = checker.clock.now();
    let secrets = checker.cloud.secrets();
    let key_wanted = record.access_key;
    let state = LinkState::load(&secrets, record).await.map_err(|e| {
        Check::new(
            "secret",
            false,
            format!("reading the link secret failed: {e}"),
        )
    })?;
    let (account, role_name) = state
        .record
        .role()
        .ok_or_else(|| Check::new("role", false, "the link record names no valid role ARN"))?;
    let role = match checker.cloud.iam(&account).await {
        Ok(iam) => iam.get_role(&role_name).await,
        Err(e) => Err(e),
    };
    let role = match role {
        Ok(r) => r,
        Err(e) if e.is_not_found() => {
            return Err(Check::new(
                "role",
                false,
                format!("the role {} does not exist", state.record.role_arn),
            ))
        }
        Err(e) => {
            return Err(Check::new(
                "role",
                false,
                format!("reading the role failed: {e}"),
            ))
        }
    };
    let mut checks = vec![Check::new("role", true, format!("{} exists", role.arn))];
    checks.extend(offline_checks(&role.trust_policy, &state, now));
    let gates = Gates::of(&role.trust_policy);
    if !gates.is_empty() {
        let detail = format!("live probes skipped: {}", gates.describe());
        checks.push(Check::new("gated", true, detail));
        return Ok((checks, true));
    }
    if !key_wanted {
        checks.push(Check::new(
            "live-probes",
            true,
            "not run: the link has no managed access key (the trusted principal's credentials are not trustlink's); the evaluator's offline checks stand",
        ));
        return Ok((checks, false));
    }
    match read_key(&secrets, &state.record.link_name).await {
        Ok(creds) => checks.extend(live_checks(&checker.cloud, &state, &creds, now).await),
        Err(e) => checks.push(Check::new(
            "access-key",
            false,
            format!("reading the access key secret failed: {e}"),
        )),
    }
    Ok((checks, false))
}

async fn read_key(secrets: &impl Secrets, link: &str) -> Result<Credentials, AwsError> {
    let v = secrets
        .get_secret_value(&record::access_key_secret_name(link), AWSCURRENT)
        .await?;
    let key = AccessKeySecret::parse(&v.text)
        .map_err(|e| AwsError::other("secretsmanager:GetSecretValue", e.to_string()))?;
    Ok(Credentials {
        access_key_id: key.access_key_id,
        secret_access_key: key.secret_access_key,
        session_token: None,
    })
}

/// The context of the link's own principal, meeting every gate the policy sets (MFA now,
/// an address of the first allowed range, its organization): what a consumer would bring.
pub fn probe_context(
    principal: &Principal,
    policy: &Value,
    now: i64,
) -> Result<RequestContext, String> {
    let at = jiff::Timestamp::from_second(now).map_err(|e| e.to_string())?;
    let mut ctx = match principal {
        Principal::Role {
            partition,
            account,
            name,
            ..
        } => {
            let session = arn::assumed_role(*partition, account, name, PROBE_SESSION);
            RequestContext::for_session(&session, &principal.arn(), at)
        }
        _ => RequestContext::new(&principal.arn(), at),
    }
    .map_err(|e| e.to_string())?;
    let gates = Gates::of(policy);
    if gates.mfa || gates.mfa_max_age {
        ctx.mfa_present = Some(true);
        ctx.mfa_age_seconds = Some(0);
    }
    ctx.source_ip = gates
        .source_ips
        .iter()
        .find_map(|c| c.split('/').next()?.parse().ok());
    ctx.principal_org_id = required_org(policy);
    Ok(ctx)
}

fn required_org(policy: &Value) -> Option<String> {
    let statements = policy.get("Statement")?;
    let list: Vec<&Value> = match statements {
        Value::Array(a) => a.iter().collect(),
        one => vec![one],
    };
    list.iter().find_map(|s| {
        let block = s.get("Condition")?.get("StringEquals")?.as_object()?;
        let (_, v) = block
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("aws:PrincipalOrgID"))?;
        v.as_str().map(String::from)
    })
}

fn decide(
    policy: &Value,
    ctx: &RequestContext,
    id: Option<&ExternalId>,
) -> Result<Decision, String> {
    let mut ctx = ctx.clone();
    ctx.external_id = id.cloned();
    evaluate_trust(policy, &ctx, ASSUME_ROLE).map_err(|e| e.to_string())
}

/// The evaluator's view: the current ID accepted, no ID and a wrong one refused, the
/// previous one accepted exactly while its grace lasts.
pub fn offline_checks(policy: &Value, state: &LinkState, now: i64) -> Vec<Check> {
    let ctx = match probe_context(&state.record.trusted_principal, policy, now) {
        Ok(c) => c,
        Err(e) => {
            return vec![Check::new(
                "offline",
                false,
                format!("cannot evaluate: {e}"),
            )]
        }
    };
    let wrong = ExternalId::generate();
    let eval = |id: Option<&ExternalId>| decide(policy, &ctx, id);
    let mut checks = Vec::new();
    let current = eval(Some(&state.current));
    checks.push(match &current {
        Ok(d) => Check::new(
            "offline-current-id",
            d.is_allowed(),
            format!("the trust policy with AWSCURRENT: {d}"),
        ),
        Err(e) => Check::new(
            "offline-current-id",
            false,
            format!("the trust policy cannot be read: {e}"),
        ),
    });
    for (name, id, what) in [
        ("offline-no-external-id", None, "without an external ID"),
        (
            "offline-wrong-external-id",
            Some(&wrong),
            "with a wrong external ID",
        ),
    ] {
        if let Ok(d) = eval(id) {
            let detail = if d.is_allowed() {
                format!("external ID not enforced: {what} the trust policy allows ({d})")
            } else {
                format!("{what}: {d}")
            };
            checks.push(Check::new(name, !d.is_allowed(), detail));
        }
    }
    if let (Some(_), Ok(d)) = (&state.previous, eval(state.previous.as_ref())) {
        checks.push(previous_check(
            "offline-previous-id",
            state,
            now,
            d.is_allowed(),
        ));
    }
    checks
}

/// Whether accepting (or refusing) the previous ID is right at `now`.
fn previous_check(name: &str, state: &LinkState, now: i64, accepted: bool) -> Check {
    let end = state
        .grace_ends()
        .map(iso)
        .unwrap_or_else(|| "an unknown time".into());
    match (state.previous_in_grace(now), accepted) {
        (true, true) => Check::new(name, true, format!("the previous ID is accepted, as it should until {end}")),
        (true, false) => Check::new(name, false, format!("the previous ID is refused, but its grace lasts until {end}: consumers that have not re-read the secret are locked out")),
        (false, false) => Check::new(name, true, format!("the previous ID is refused: its grace ended at {end}")),
        (false, true) => Check::new(name, false, format!("the previous ID is still accepted, though its grace ended at {end}")),
    }
}

/// Whether STS refused the call as unauthorized (not throttled, not unreachable).
pub fn is_denied(e: &AwsError) -> bool {
    e.kind() == ErrorKind::AccessDenied
}

/// Probes as the consumer: with the link's own key, assume the role with AWSCURRENT and ask
/// who we are; then without an external ID, with a wrong one, and with the previous one.
async fn live_checks<C: Cloud>(
    cloud: &C,
    state: &LinkState,
    creds: &Credentials,
    now: i64,
) -> Vec<Check> {
    let probe = Probe {
        sts: cloud.sts_as(creds),
        role_arn: &state.record.role_arn,
    };
    let mut checks = Vec::new();
    match probe.assume(Some(&state.current)).await {
        Ok(session) => {
            checks.push(Check::new(
                "live-current-id",
                true,
                "AssumeRole with the link's key and AWSCURRENT succeeded",
            ));
            let expected = probe::session_arn(probe.role_arn, PROBE_SESSION).unwrap_or_default();
            checks.push(identity_check(cloud, &session, &expected).await);
        }
        Err(e) => checks.push(Check::new(
            "live-current-id",
            false,
            format!("AssumeRole with the link's key and AWSCURRENT failed: {e}"),
        )),
    }
    let wrong = ExternalId::generate();
    for (name, id, what) in [
        ("live-no-external-id", None, "without an external ID"),
        (
            "live-wrong-external-id",
            Some(&wrong),
            "with a wrong external ID",
        ),
    ] {
        checks.push(match probe.assume(id).await {
            Ok(_) => Check::new(
                name,
                false,
                format!("external ID not enforced: AssumeRole {what} succeeded"),
            ),
            Err(e) if is_denied(&e) => {
                Check::new(name, true, format!("AssumeRole {what} was denied"))
            }
            Err(e) => Check::new(
                name,
                false,
                format!("AssumeRole {what} failed otherwise than denied: {e}"),
            ),
        });
    }
    if let Some(prev) = &state.previous {
        checks.push(match probe.assume(Some(prev)).await {
            Ok(_) => previous_check("live-previous-id", state, now, true),
            Err(e) if is_denied(&e) => previous_check("live-previous-id", state, now, false),
            Err(e) => Check::new(
                "live-previous-id",
                false,
                format!("AssumeRole with the previous ID failed otherwise than denied: {e}"),
            ),
        });
    }
    checks
}

/// AssumeRole as the link's consumer.
struct Probe<'a, S> {
    sts: S,
    role_arn: &'a str,
}

impl<S: Sts> Probe<'_, S> {
    async fn assume(&self, id: Option<&ExternalId>) -> Result<Credentials, AwsError> {
        let id = id.map(ExternalId::expose);
        self.sts.assume_role(self.role_arn, PROBE_SESSION, id).await
    }
}

async fn identity_check<C: Cloud>(cloud: &C, session: &Credentials, expected: &str) -> Check {
    let name = "live-caller-identity";
    match cloud.sts_as(session).caller_identity().await {
        Ok(me) if me.arn == expected => {
            Check::new(name, true, format!("GetCallerIdentity is {expected}"))
        }
        Ok(me) => Check::new(
            name,
            false,
            format!("GetCallerIdentity is {}, not {expected}", me.arn),
        ),
        Err(e) => Check::new(name, false, format!("GetCallerIdentity failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use trustlink_domain::policy::{trust_policy, Principal};
    use trustlink_domain::Conditions;

    const USER: &str = "arn:aws:iam::444455556666:user/DevUser";

    fn state(previous: Option<&str>) -> LinkState {
        crate::links::test_state(USER, previous)
    }

    fn ok(checks: &[Check], name: &str) -> bool {
        checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no {name}: {checks:?}"))
            .ok
    }

    #[test]
    fn a_trustlink_policy_passes_offline_even_with_mfa_and_ip_gates() {
        let principal = Principal::parse("p", USER).unwrap();
        let conditions = Conditions {
            require_mfa: true,
            source_ip_cidrs: vec!["203.0.113.0/24".into()],
            ..Default::default()
        };
        let policy = trust_policy(&principal, &["CurrentId123"], &conditions);
        let checks = offline_checks(&policy, &state(None), 2_000_000);
        assert!(checks.iter().all(|c| c.ok), "{checks:?}");
        assert!(!Gates::of(&policy).is_empty());
    }

    #[test]
    fn only_an_access_denied_is_a_denial() {
        let e = |kind| AwsError::new("sts:AssumeRole", kind, "m");
        assert!(is_denied(&e(ErrorKind::AccessDenied)));
        assert!(!is_denied(&e(ErrorKind::Throttled)));
        assert!(!is_denied(&e(ErrorKind::Other)));
    }

    #[test]
    fn a_policy_without_an_external_id_is_not_enforced() {
        let policy = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "sts:AssumeRole"}]});
        let checks = offline_checks(&policy, &state(None), 2_000_000);
        assert!(ok(&checks, "offline-current-id"));
        assert!(!ok(&checks, "offline-no-external-id"));
        assert!(checks
            .iter()
            .any(|c| c.detail.contains("external ID not enforced")));
    }

    #[test]
    fn the_previous_id_is_judged_by_its_grace() {
        let principal = Principal::parse("p", USER).unwrap();
        let both = trust_policy(
            &principal,
            &["CurrentId123", "PreviousId123"],
            &Conditions::default(),
        );
        let only = trust_policy(&principal, &["CurrentId123"], &Conditions::default());
        let s = state(Some("PreviousId123"));
        let in_grace = 1_000_000 + 3600;
        let after = 1_000_000 + 25 * 3600;
        assert!(ok(
            &offline_checks(&both, &s, in_grace),
            "offline-previous-id"
        ));
        assert!(!ok(
            &offline_checks(&only, &s, in_grace),
            "offline-previous-id"
        ));
        assert!(ok(&offline_checks(&only, &s, after), "offline-previous-id"));
        assert!(!ok(
            &offline_checks(&both, &s, after),
            "offline-previous-id"
        ));
        let text = format!("{:?}", offline_checks(&both, &s, after));
        assert!(
            !text.contains("CurrentId123") && !text.contains("PreviousId123"),
            "{text}"
        );
    }
}
