//! What is wrong with a cross-account role or a link, decided from facts already read (no
//! I/O): the finding kinds of an audit, each with its severity and the exact fix.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;
use trustlink_domain::arn::{self, Partition};
use trustlink_domain::rotation::{DAY, HOUR};
use trustlink_domain::{policy, Principal};

use crate::iso;
use crate::links::LinkState;
use crate::trust::{self, assume_statements, principal_account};

/// Inline policies trustlink itself puts on link roles (the deny of revoked sessions):
/// never drift. The one place that knows their names.
pub const TRUSTLINK_OWNED_INLINE_POLICIES: &[&str] =
    &[trustlink_domain::incident::REVOKE_POLICY_NAME];

/// The AWS managed policy that grants everything (its ARN is in the role's partition).
pub const ADMINISTRATOR_ACCESS: &str = "AdministratorAccess";

/// Whether `policy_arn` is [`ADMINISTRATOR_ACCESS`], in whichever partition it names.
fn is_administrator_access(policy_arn: &str) -> bool {
    Partition::of_arn(policy_arn)
        .is_some_and(|p| policy_arn == arn::aws_managed_policy(p, ADMINISTRATOR_ACCESS))
}

/// The rotation period assumed for a link that does not rotate.
pub const DEFAULT_MAX_AGE_DAYS: i64 = 90;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    NoExternalId,
    WildcardPrincipal,
    UnusedRole,
    OldExternalId,
    OldAccessKey,
    Drift,
    Orphan,
    AdminAccess,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::NoExternalId,
        Kind::WildcardPrincipal,
        Kind::UnusedRole,
        Kind::OldExternalId,
        Kind::OldAccessKey,
        Kind::Drift,
        Kind::Orphan,
        Kind::AdminAccess,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::NoExternalId => "no-external-id",
            Kind::WildcardPrincipal => "wildcard-principal",
            Kind::UnusedRole => "unused-role",
            Kind::OldExternalId => "old-external-id",
            Kind::OldAccessKey => "old-access-key",
            Kind::Drift => "drift",
            Kind::Orphan => "orphan",
            Kind::AdminAccess => "admin-access",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Kind::WildcardPrincipal | Kind::AdminAccess | Kind::Drift => Severity::High,
            Kind::NoExternalId | Kind::OldExternalId | Kind::OldAccessKey | Kind::Orphan => {
                Severity::Medium
            }
            Kind::UnusedRole => Severity::Low,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: Kind,
    pub severity: Severity,
    pub account: String,
    pub resource: String,
    pub link: Option<String>,
    pub detail: String,
    pub fix: String,
}

impl Finding {
    fn new(kind: Kind, account: &str, resource: &str, link: Option<&str>) -> Self {
        Self {
            kind,
            severity: kind.severity(),
            account: account.into(),
            resource: resource.into(),
            link: link.map(String::from),
            detail: String::new(),
            fix: String::new(),
        }
    }

    fn says(mut self, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        self.detail = detail.into();
        self.fix = fix.into();
        self
    }
}

/// A cross-account role as read from IAM.
#[derive(Debug, Clone)]
pub struct RoleFacts {
    pub account: String,
    pub arn: String,
    pub name: String,
    pub trust_policy: Value,
    pub created: i64,
    pub last_used: Option<i64>,
    /// Its `trustlink:link` tag.
    pub link_tag: Option<String>,
    pub attached: Vec<String>,
    /// Inline policies and the documents of attached customer managed ones: (name or ARN, document).
    pub documents: Vec<(String, Value)>,
    pub inline: Vec<String>,
}

pub struct Rules<'a> {
    pub now: i64,
    pub unused_days: u32,
    /// trustlink's own member roles (admin, read-only): they trust exactly the hub's
    /// function roles, by aws:PrincipalArn, and need no external ID.
    pub own_roles: &'a [&'a str],
    /// Names of the links of this hub.
    pub links: &'a BTreeSet<String>,
}

const UPDATE_TRUST: &str = "aws iam update-assume-role-policy --role-name";

/// Findings of one cross-account role, whoever made it.
pub fn role_findings(role: &RoleFacts, rules: &Rules) -> Vec<Finding> {
    let link = role
        .link_tag
        .as_deref()
        .filter(|l| rules.links.contains(*l));
    let new = |kind| Finding::new(kind, &role.account, &role.arn, link);
    let mut out = Vec::new();
    let statements = assume_statements(&role.trust_policy);
    let foreign: Vec<_> = statements
        .iter()
        .filter(|s| {
            s.principals
                .iter()
                .any(|p| principal_account(p) != Some(role.account.as_str()))
        })
        .collect();
    let unprotected: BTreeSet<&str> = foreign
        .iter()
        .filter(|s| !s.requires_external_id)
        .flat_map(|s| s.principals.iter().map(String::as_str))
        .filter(|p| principal_account(p) != Some(role.account.as_str()))
        .collect();
    if !unprotected.is_empty() && !rules.own_roles.contains(&role.name.as_str()) {
        let fix = match link {
            Some(l) => format!("update the stack of link {l}: trust-link rewrites the trust policy with its sts:ExternalId condition"),
            None => format!("add \"Condition\": {{\"StringEquals\": {{\"sts:ExternalId\": \"<a secret shared with the trusted account>\"}}}} to the statements admitting them: {UPDATE_TRUST} {} --policy-document file://trust.json", role.name),
        };
        let who: Vec<&str> = unprotected.into_iter().collect();
        out.push(new(Kind::NoExternalId).says(
            format!(
                "{} may assume the role without an external ID",
                who.join(", ")
            ),
            fix,
        ));
    }
    if foreign
        .iter()
        .any(|s| s.principals.iter().any(|p| trust::is_wildcard(p)) && !s.pins_account_or_org)
    {
        out.push(new(Kind::WildcardPrincipal).says(
            "the trust policy admits any principal of any account (\"*\") without a condition on aws:PrincipalAccount or aws:PrincipalOrgID",
            format!("replace the \"*\" principal with the trusted account's principal ARN, or add \"Condition\": {{\"StringEquals\": {{\"aws:PrincipalOrgID\": \"o-...\"}}}}: {UPDATE_TRUST} {} --policy-document file://trust.json", role.name),
        ));
    }
    out.extend(unused(role, rules).map(|(detail, fix)| new(Kind::UnusedRole).says(detail, fix)));
    out.extend(admin_access(role).map(|(detail, fix)| new(Kind::AdminAccess).says(detail, fix)));
    if let Some(tag) = role
        .link_tag
        .as_deref()
        .filter(|l| !rules.links.contains(*l))
    {
        out.push(Finding::new(Kind::Orphan, &role.account, &role.arn, Some(tag)).says(
            format!("the role is tagged trustlink:link={tag}, but the hub has no secret trustlink/{tag}: its link is gone"),
            format!("if nothing uses it: detach its policies (aws iam list-attached-role-policies --role-name {0}; aws iam detach-role-policy ...; aws iam delete-role-policy ...), then aws iam delete-role --role-name {0}", role.name),
        ));
    }
    out
}

fn unused(role: &RoleFacts, rules: &Rules) -> Option<(String, String)> {
    let limit = i64::from(rules.unused_days) * DAY;
    let detail = match role.last_used {
        Some(t) if rules.now - t > limit => format!(
            "last used {} ({} days ago; the limit is {} days)",
            iso(t),
            (rules.now - t) / DAY,
            rules.unused_days
        ),
        None if rules.now - role.created > limit => format!(
            "never used since it was created {} ({} days ago; the limit is {} days)",
            iso(role.created),
            (rules.now - role.created) / DAY,
            rules.unused_days
        ),
        _ => return None,
    };
    let fix = match role.link_tag.as_deref() {
        Some(l) => format!("if the link is no longer needed, delete the stack that declares link {l} (trustlink removes both ends)"),
        None => format!("if nobody needs it: detach its policies, then aws iam delete-role --role-name {}", role.name),
    };
    Some((detail, fix))
}

/// An Allow of every action on every resource, without a condition.
fn allows_everything(document: &Value) -> bool {
    let list = trust::strings;
    trust::statements(document).iter().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Allow")
            && s.get("Condition").is_none()
            && list(s.get("Action")).iter().any(|a| a == "*" || a == "*:*")
            && list(s.get("Resource")).iter().any(|r| r == "*")
    })
}

fn admin_access(role: &RoleFacts) -> Option<(String, String)> {
    if let Some(admin) = role.attached.iter().find(|a| is_administrator_access(a)) {
        return Some((
            "AdministratorAccess is attached: whoever the trust policy admits administers this account".into(),
            format!("aws iam detach-role-policy --role-name {} --policy-arn {admin} (attach only what the consumer needs)", role.name),
        ));
    }
    let (name, _) = role.documents.iter().find(|(_, d)| allows_everything(d))?;
    let fix = if name.starts_with("arn:") {
        format!(
            "aws iam detach-role-policy --role-name {} --policy-arn {name}",
            role.name
        )
    } else {
        format!("aws iam delete-role-policy --role-name {} --policy-name {name} (or narrow its Allow of * on *)", role.name)
    };
    Some((
        format!("policy {name} allows every action (\"*\") on every resource"),
        fix,
    ))
}

/// The trusted side's grant, as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantState {
    NotManaged,
    Attached,
    Detached,
    Missing,
}

/// A link with what IAM says about it.
pub struct LinkFacts<'a> {
    pub state: &'a LinkState,
    pub account: String,
    /// `None`: the role does not exist.
    pub role: Option<&'a RoleFacts>,
    pub grant: GrantState,
    /// When the AWSCURRENT access key was switched to (or created), if the link has one.
    pub key_since: Option<i64>,
}

/// Drift and age of one link.
pub fn link_findings(f: &LinkFacts, now: i64) -> Vec<Finding> {
    let r = &f.state.record;
    let link = Some(r.link_name.as_str());
    let drift = |detail: String, fix: String| {
        Finding::new(Kind::Drift, &f.account, &r.role_arn, link).says(detail, fix)
    };
    let update = format!("update (or re-deploy) the stack that declares link {}: trust-link rewrites the role's trust policy and grant from the link", r.link_name);
    let mut out = Vec::new();
    match f.role {
        None => out.push(drift(
            "the link's role does not exist".into(),
            update.clone(),
        )),
        Some(role) => out.extend(
            trust_drift(f.state, role, now)
                .into_iter()
                .map(|d| drift(d, update.clone())),
        ),
    }
    let grant = r.grant_policy_arn.as_deref().unwrap_or_default();
    match f.grant {
        GrantState::Missing => out.push(drift(
            format!("the grant policy {grant} does not exist"),
            update.clone(),
        )),
        GrantState::Detached => out.push(drift(
            format!(
                "the grant policy {grant} is not attached to {}",
                r.trusted_principal
            ),
            attach_command(&r.trusted_principal, grant),
        )),
        GrantState::NotManaged | GrantState::Attached => {}
    }
    out.extend(age_findings(f, now));
    out
}

fn attach_command(principal: &Principal, policy_arn: &str) -> String {
    let name = principal.name().unwrap_or_default();
    if matches!(principal, Principal::Role { .. }) {
        format!("aws iam attach-role-policy --role-name {name} --policy-arn {policy_arn}")
    } else {
        format!("aws iam attach-user-policy --user-name {name} --policy-arn {policy_arn}")
    }
}

/// What of the trust policy disagrees with the link; names IDs by their stage only.
fn trust_drift(state: &LinkState, role: &RoleFacts, now: i64) -> Vec<String> {
    let r = &state.record;
    let mut out = Vec::new();
    if !policy::admits(
        &role.trust_policy,
        &r.trusted_principal.arn(),
        state.current.expose(),
    ) {
        out.push("the trust policy does not accept the link's AWSCURRENT external ID".into());
    }
    let expected = state.expected_ids(now);
    let extra = policy::accepted_external_ids(&role.trust_policy)
        .iter()
        .filter(|id| !expected.iter().any(|e| e.expose() == id.as_str()))
        .count();
    if extra > 0 {
        out.push(format!("the trust policy accepts {extra} external ID(s) that are neither AWSCURRENT nor the previous one in its grace"));
    }
    let others: BTreeSet<String> = assume_statements(&role.trust_policy)
        .into_iter()
        .flat_map(|s| s.principals)
        .filter(|p| *p != r.trusted_principal.arn())
        .collect();
    if !others.is_empty() {
        let list: Vec<String> = others.into_iter().collect();
        out.push(format!(
            "the trust policy names {} besides the link's principal {}",
            list.join(", "),
            r.trusted_principal
        ));
    }
    for (name, doc) in &role.documents {
        let owned = TRUSTLINK_OWNED_INLINE_POLICIES.contains(&name.as_str());
        if !owned && !name.starts_with("arn:") && denies_everything(doc) {
            out.push(format!(
                "inline policy {name} denies every action: the link's sessions can do nothing"
            ));
        }
    }
    out
}

fn denies_everything(document: &Value) -> bool {
    let statements = match document.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => Vec::new(),
    };
    statements.iter().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Deny")
            && s.get("Condition").is_none()
            && matches!(s.get("Action"), Some(Value::String(a)) if a == "*")
    })
}

fn age_findings(f: &LinkFacts, now: i64) -> Vec<Finding> {
    let r = &f.state.record;
    let link = Some(r.link_name.as_str());
    let grace = i64::from(r.rotation.grace_hours) * HOUR;
    let force = format!("aws lambda invoke --function-name trustlink-rotator --cli-binary-format raw-in-base64-out --payload '{{\"Force\": true, \"Links\": [\"{}\"]}}' /tmp/rotator.json", r.link_name);
    let mut out = Vec::new();
    let mut check = |kind, what: &str, days: u32, since: Option<i64>| {
        let Some(since) = since else { return };
        let period = if days == 0 {
            DEFAULT_MAX_AGE_DAYS
        } else {
            i64::from(days)
        };
        if now - since <= period * DAY + grace {
            return;
        }
        let why = if days == 0 {
            "the link does not rotate it; 90 days is the most it should live"
        } else {
            "its rotation period plus grace is over"
        };
        let fix = if days == 0 {
            format!("set Rotation in the link's stack, or rotate now: {force}")
        } else {
            format!(
                "the rotator should have rotated it (check its log for failed or held): {force}"
            )
        };
        out.push(Finding::new(kind, &f.account, &r.role_arn, link).says(
            format!(
                "the {what} is {} days old (since {}): {why}",
                (now - since) / DAY,
                iso(since)
            ),
            fix,
        ));
    };
    check(
        Kind::OldExternalId,
        "AWSCURRENT external ID",
        r.rotation.external_id_days,
        r.external_id_rotated_at.or(f.state.current_created),
    );
    if r.access_key {
        check(
            Kind::OldAccessKey,
            "AWSCURRENT access key",
            r.rotation.access_key_days,
            f.key_since,
        );
    }
    out
}

/// A user or grant policy tagged or named by trustlink whose link is gone.
pub fn orphan(account: &str, resource: &str, link: &str, what: &str, fix: String) -> Finding {
    Finding::new(Kind::Orphan, account, resource, Some(link)).says(
        format!("{what} belongs to link {link}, but the hub has no secret trustlink/{link}: its link is gone"),
        fix,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use trustlink_domain::record::LinkRecord;
    use trustlink_domain::{ExternalId, RotationSettings};

    const OWN: &str = "111122223333";
    const NOW: i64 = 2_000_000_000;

    fn role(trust: Value) -> RoleFacts {
        RoleFacts {
            account: OWN.into(),
            arn: format!("arn:aws:iam::{OWN}:role/r"),
            name: "r".into(),
            trust_policy: trust,
            created: NOW - DAY,
            last_used: None,
            link_tag: None,
            attached: vec![],
            documents: vec![],
            inline: vec![],
        }
    }

    fn kinds(role: &RoleFacts, links: &BTreeSet<String>) -> Vec<Kind> {
        let rules = Rules {
            now: NOW,
            unused_days: 90,
            own_roles: &["TrustLinkAdmin"],
            links,
        };
        role_findings(role, &rules)
            .into_iter()
            .map(|f| f.kind)
            .collect()
    }

    fn allow(principal: Value, condition: Option<Value>) -> Value {
        let mut s = json!({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"});
        if let Some(c) = condition {
            s["Condition"] = c;
        }
        json!({"Version": "2012-10-17", "Statement": [s]})
    }

    #[test]
    fn one_kind_per_fault() {
        let none = BTreeSet::new();
        let partner = json!({"AWS": "arn:aws:iam::444455556666:root"});
        let with_id = Some(json!({"StringEquals": {"sts:ExternalId": "x"}}));
        assert_eq!(
            kinds(&role(allow(partner.clone(), with_id.clone())), &none),
            vec![]
        );
        assert_eq!(
            kinds(&role(allow(partner.clone(), None)), &none),
            vec![Kind::NoExternalId]
        );
        // IfExists is no protection: the key may simply be left out.
        let if_exists = Some(json!({"StringEqualsIfExists": {"sts:ExternalId": "x"}}));
        assert_eq!(
            kinds(&role(allow(partner.clone(), if_exists)), &none),
            vec![Kind::NoExternalId]
        );
        assert_eq!(
            kinds(&role(allow(json!("*"), with_id.clone())), &none),
            vec![Kind::WildcardPrincipal]
        );
        let org =
            Some(json!({"StringEquals": {"sts:ExternalId": "x", "aws:PrincipalOrgID": "o-1"}}));
        assert_eq!(kinds(&role(allow(json!({"AWS": "*"}), org)), &none), vec![]);
        let mut old = role(allow(partner.clone(), with_id.clone()));
        old.created = NOW - 91 * DAY;
        assert_eq!(kinds(&old, &none), vec![Kind::UnusedRole]);
        old.last_used = Some(NOW - 10 * DAY);
        assert_eq!(kinds(&old, &none), vec![]);
        old.last_used = Some(NOW - 100 * DAY);
        assert_eq!(kinds(&old, &none), vec![Kind::UnusedRole]);
        let mut admin = role(allow(partner.clone(), with_id.clone()));
        admin.attached = vec!["arn:aws:iam::aws:policy/AdministratorAccess".into()];
        assert_eq!(kinds(&admin, &none), vec![Kind::AdminAccess]);
        admin.attached = vec!["arn:aws-cn:iam::aws:policy/AdministratorAccess".into()];
        assert_eq!(kinds(&admin, &none), vec![Kind::AdminAccess]);
        admin.attached = vec![format!("arn:aws:iam::{OWN}:policy/AdministratorAccess")];
        assert_eq!(kinds(&admin, &none), vec![]);
        admin.attached.clear();
        admin.documents = vec![(
            "Everything".into(),
            json!({"Statement": {"Effect": "Allow", "Action": "*:*", "Resource": "*"}}),
        )];
        assert_eq!(kinds(&admin, &none), vec![Kind::AdminAccess]);
        let mut tagged = role(allow(partner.clone(), with_id.clone()));
        tagged.link_tag = Some("gone".into());
        assert_eq!(kinds(&tagged, &none), vec![Kind::Orphan]);
        assert_eq!(
            kinds(&tagged, &BTreeSet::from(["gone".to_string()])),
            vec![]
        );
        let mut own_admin = role(allow(
            json!({"AWS": "arn:aws:iam::123456789012:root"}),
            None,
        ));
        own_admin.name = "TrustLinkAdmin".into();
        assert_eq!(kinds(&own_admin, &none), vec![]);
    }

    fn state(rotated_days_ago: i64, days: u32) -> LinkState {
        LinkState {
            record: LinkRecord {
                link_name: "l".into(),
                role_arn: format!("arn:aws:iam::{OWN}:role/r"),
                trusted_principal: Principal::parse("p", "arn:aws:iam::444455556666:user/u")
                    .unwrap(),
                grant_policy_arn: Some(
                    "arn:aws:iam::444455556666:policy/trustlink/TrustLink-l".into(),
                ),
                user_created: true,
                access_key: true,
                rotation: RotationSettings {
                    external_id_days: days,
                    access_key_days: days,
                    grace_hours: 24,
                },
                external_id_rotated_at: Some(NOW - rotated_days_ago * DAY),
                access_key_rotated_at: None,
            },
            current: ExternalId::parse("e", "CurrentId123").unwrap(),
            current_created: None,
            previous: Some(ExternalId::parse("e", "PreviousId123").unwrap()),
        }
    }

    fn link_kinds(
        trust: Value,
        s: &LinkState,
        grant: GrantState,
        key_since: Option<i64>,
    ) -> Vec<(Kind, String)> {
        let mut r = role(trust);
        r.link_tag = Some("l".into());
        let f = LinkFacts {
            state: s,
            account: OWN.into(),
            role: Some(&r),
            grant,
            key_since,
        };
        link_findings(&f, NOW)
            .into_iter()
            .map(|f| (f.kind, f.detail))
            .collect()
    }

    #[test]
    fn drift_and_age() {
        let user = json!({"AWS": "arn:aws:iam::444455556666:user/u"});
        let good = allow(
            user.clone(),
            Some(json!({"StringEquals": {"sts:ExternalId": "CurrentId123"}})),
        );
        let s = state(10, 30);
        assert_eq!(
            link_kinds(good.clone(), &s, GrantState::Attached, Some(NOW)),
            vec![]
        );
        let found = link_kinds(good.clone(), &s, GrantState::Detached, Some(NOW));
        assert_eq!(found.len(), 1);
        assert!(found[0].1.contains("not attached"));
        let stale = allow(
            user.clone(),
            Some(json!({"StringEquals": {"sts:ExternalId": ["CurrentId123", "PreviousId123"]}})),
        );
        let found = link_kinds(stale, &s, GrantState::Attached, Some(NOW));
        assert_eq!(
            found.iter().map(|f| f.0).collect::<Vec<_>>(),
            vec![Kind::Drift]
        );
        assert!(!found[0].1.contains("PreviousId123"));
        let wrong = allow(
            json!({"AWS": "arn:aws:iam::444455556666:user/other"}),
            Some(json!({"StringEquals": {"sts:ExternalId": "Other123"}})),
        );
        let found = link_kinds(wrong, &s, GrantState::Missing, Some(NOW));
        assert_eq!(found.len(), 4, "{found:?}");
        let old = state(32, 30);
        let found: Vec<Kind> = link_kinds(
            good.clone(),
            &old,
            GrantState::Attached,
            Some(NOW - 40 * DAY),
        )
        .into_iter()
        .map(|f| f.0)
        .collect();
        assert_eq!(found, vec![Kind::OldExternalId, Kind::OldAccessKey]);
        assert_eq!(
            link_kinds(good.clone(), &state(89, 0), GrantState::Attached, Some(NOW)),
            vec![]
        );
        assert_eq!(
            link_kinds(good, &state(92, 0), GrantState::Attached, Some(NOW)).len(),
            1
        );
    }

    #[test]
    fn trustlinks_own_deny_is_not_drift() {
        let user = json!({"AWS": "arn:aws:iam::444455556666:user/u"});
        let good = allow(
            user,
            Some(json!({"StringEquals": {"sts:ExternalId": "CurrentId123"}})),
        );
        let deny = json!({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]});
        let s = state(1, 30);
        for (name, drift) in [
            (TRUSTLINK_OWNED_INLINE_POLICIES[0], false),
            ("Blocker", true),
        ] {
            let mut r = role(good.clone());
            r.documents = vec![(name.into(), deny.clone())];
            let f = LinkFacts {
                state: &s,
                account: OWN.into(),
                role: Some(&r),
                grant: GrantState::Attached,
                key_since: None,
            };
            assert_eq!(!link_findings(&f, NOW).is_empty(), drift, "{name}");
        }
    }
}
