//! Incident response on a link, free of I/O: the documents trustlink writes (the revoke-sessions
//! policy, the suspension's deny statement), the record a suspension leaves on the role, and the
//! deciders of the rotator's `Revoke`, `Suspend` and `Resume` commands. Like the rotations'
//! deciders ([`crate::rotation`]), each decides the next step from what it observes only, so a
//! run stopped at any write is resumed by the next one.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::error::ValidationError;
use crate::policy::{statements, strings, POLICY_VERSION};
use crate::rotation::KeyView;
use crate::rules::Timestamp;

/// The role's inline policy that denies every action to sessions issued before a time: IAM's
/// "Revoke active sessions", under a name trustlink owns (the console's is
/// `AWSRevokeOlderSessions`).
pub const REVOKE_POLICY_NAME: &str = "TrustLinkRevokeSessions";

/// Every inline policy trustlink itself writes on a link's role; a link spec may not declare one.
pub const OWN_INLINE_POLICIES: &[&str] = &[REVOKE_POLICY_NAME];

/// The `Sid` of the trust policy statement that refuses the trusted principal while the link is
/// suspended. Only trustlink writes or removes a statement with this `Sid`.
pub const SUSPENDED_SID: &str = "TrustLinkSuspended";

/// The condition key the revoke policy compares: when the session's credentials were issued.
const TOKEN_ISSUE_TIME: &str = "aws:TokenIssueTime";

/// The role's tags a suspension writes: who asked, when, why, and which access key it
/// deactivated, so that `Resume` undoes exactly that.
pub mod tag {
    pub const SUSPENDED_AT: &str = "trustlink:suspended-at";
    pub const SUSPENDED_BY: &str = "trustlink:suspended-by";
    pub const SUSPENDED_REASON: &str = "trustlink:suspended-reason";
    /// Empty: the suspension deactivated no key.
    pub const SUSPENDED_KEY: &str = "trustlink:suspended-key";
    pub const ALL: [&str; 4] = [SUSPENDED_AT, SUSPENDED_BY, SUSPENDED_REASON, SUSPENDED_KEY];
}

/// Who asked for a suspension when the invocation carried no caller identity.
pub const UNKNOWN_CALLER: &str = "unknown";

/// What leaked, in the words of the `Compromised` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compromised {
    ExternalId,
    AccessKey,
    Both,
}

impl Compromised {
    pub const NAMES: [&'static str; 3] = ["external-id", "access-key", "both"];

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "external-id" => Some(Self::ExternalId),
            "access-key" => Some(Self::AccessKey),
            "both" => Some(Self::Both),
            _ => None,
        }
    }

    pub fn external_id(self) -> bool {
        matches!(self, Self::ExternalId | Self::Both)
    }

    pub fn access_key(self) -> bool {
        matches!(self, Self::AccessKey | Self::Both)
    }
}

/// IAM's revoke-sessions document: every action denied to sessions issued before `before`.
pub fn revoke_policy(before: i64) -> Value {
    json!({"Version": POLICY_VERSION, "Statement": [{
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"DateLessThan": {TOKEN_ISSUE_TIME: Timestamp::from_epoch_seconds(before).to_iso8601()}},
    }]})
}

/// The time a revoke policy denies sessions before, if `doc` is one trustlink wrote.
pub fn revoked_before(doc: &Value) -> Option<i64> {
    let text = doc
        .get("Statement")?
        .get(0)?
        .get("Condition")?
        .get("DateLessThan")?
        .get(TOKEN_ISSUE_TIME)?
        .as_str()?;
    Some(Timestamp::parse(TOKEN_ISSUE_TIME, text).ok()?.epoch_seconds)
}

/// The statement that refuses `principal` every action the trust policy allows it
/// (`sts:AssumeRole`, and `sts:TagSession` or `sts:SetSourceIdentity` where allowed).
pub fn suspended_statement(trust: &Value, principal: &str) -> Value {
    let mut actions = vec!["sts:AssumeRole".to_string()];
    for st in statements(trust) {
        let names_principal = strings(st.get("Principal").and_then(|p| p.get("AWS")))
            .iter()
            .any(|p| p == principal);
        if st.get("Effect").and_then(Value::as_str) != Some("Allow") || !names_principal {
            continue;
        }
        for a in strings(st.get("Action")) {
            if !actions.iter().any(|x| x.eq_ignore_ascii_case(&a)) && a.starts_with("sts:") {
                actions.push(a);
            }
        }
    }
    let action = if actions.len() == 1 {
        json!(actions[0])
    } else {
        json!(actions)
    };
    json!({"Sid": SUSPENDED_SID, "Effect": "Deny", "Principal": {"AWS": principal}, "Action": action})
}

/// Whether the trust policy has the suspension's deny statement.
pub fn is_suspended(trust: &Value) -> bool {
    statements(trust).iter().any(|s| is_suspension(s))
}

/// `trust` with the suspension's deny statement appended (as the last statement); unchanged
/// when it has one already.
pub fn with_suspension(trust: &Value, principal: &str) -> Value {
    if is_suspended(trust) {
        return trust.clone();
    }
    let deny = suspended_statement(trust, principal);
    let mut out = trust.clone();
    let mut list: Vec<Value> = statements(trust).into_iter().cloned().collect();
    list.push(deny);
    out["Statement"] = Value::Array(list);
    out
}

/// `trust` without the suspension's deny statement, every other statement as it was.
pub fn without_suspension(trust: &Value) -> Value {
    let mut out = trust.clone();
    if let Some(Value::Array(list)) = out.get_mut("Statement") {
        list.retain(|s| !is_suspension(s));
    }
    out
}

fn is_suspension(statement: &Value) -> bool {
    statement.get("Sid").and_then(Value::as_str) == Some(SUSPENDED_SID)
}

/// A suspension as the role's tags record it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspension {
    /// Epoch seconds.
    pub at: i64,
    pub by: String,
    pub reason: String,
    /// The access key it deactivated (the link's AWSCURRENT key, when it was active).
    pub key: Option<String>,
}

impl Suspension {
    pub fn to_tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (tag::SUSPENDED_AT.to_string(), self.at.to_string()),
            (tag::SUSPENDED_BY.to_string(), self.by.clone()),
            (tag::SUSPENDED_REASON.to_string(), self.reason.clone()),
            (
                tag::SUSPENDED_KEY.to_string(),
                self.key.clone().unwrap_or_default(),
            ),
        ])
    }

    /// `None`: the role is not suspended (no `trustlink:suspended-at`, or not a number).
    pub fn from_tags(tags: &BTreeMap<String, String>) -> Option<Self> {
        let at = tags.get(tag::SUSPENDED_AT)?.parse().ok()?;
        let get = |k: &str| tags.get(k).cloned().unwrap_or_default();
        Some(Self {
            at,
            by: get(tag::SUSPENDED_BY),
            reason: get(tag::SUSPENDED_REASON),
            key: Some(get(tag::SUSPENDED_KEY)).filter(|k| !k.is_empty()),
        })
    }
}

/// The longest `Reason` (and caller) a role tag holds.
pub const TAG_VALUE_MAX: usize = 256;

/// A suspension's `Reason` becomes a role tag value: 1 to 256 characters of letters, digits,
/// spaces and `_ . : / = + - @` (IAM's tag value rule).
pub fn check_reason(field: &str, reason: &str) -> Result<(), ValidationError> {
    if reason.trim().is_empty() {
        return Err(ValidationError::new(
            field,
            "give the reason for the suspension (1 to 256 characters)",
        ));
    }
    if reason.chars().count() > TAG_VALUE_MAX {
        return Err(ValidationError::new(
            field,
            "at most 256 characters (it is kept in a role tag)",
        ));
    }
    if !reason.chars().all(tag_value_char) {
        return Err(ValidationError::new(
            field,
            "only letters, digits, spaces and _ . : / = + - @ (it is kept in a role tag)",
        ));
    }
    Ok(())
}

fn tag_value_char(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c)
}

/// A caller identity made fit for a tag value: the characters IAM refuses become `_`.
pub fn caller_tag(caller: Option<&str>) -> String {
    match caller.filter(|c| !c.is_empty()) {
        None => UNKNOWN_CALLER.into(),
        Some(c) => c
            .chars()
            .map(|ch| if tag_value_char(ch) { ch } else { '_' })
            .take(TAG_VALUE_MAX)
            .collect(),
    }
}

#[derive(Clone, PartialEq, Eq)]
pub enum RevokeStep {
    /// Put the revoke policy, denying sessions issued before `before`.
    Put { before: i64 },
    /// Sessions issued before `before` are denied already (by this run or a later one).
    Done { before: i64 },
}

/// The step as the report and the decision log write it: the date as the policy holds it
/// (`Put { before: 2026-12-02T02:52:00Z }`), not epoch seconds.
impl std::fmt::Debug for RevokeStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (name, before) = match self {
            Self::Put { before } => ("Put", before),
            Self::Done { before } => ("Done", before),
        };
        let at = Timestamp::from_epoch_seconds(*before).to_iso8601();
        write!(f, "{name} {{ before: {at} }}")
    }
}

impl RevokeStep {
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Done { .. })
    }
}

/// `revoked`: the date of the role's revoke policy, if it has one. A revoke never moves the
/// date back: a later one already denies everything this one would.
pub fn next_revoke_step(revoked: Option<i64>, wanted: i64) -> RevokeStep {
    match revoked {
        Some(t) if t >= wanted => RevokeStep::Done { before: t },
        _ => RevokeStep::Put { before: wanted },
    }
}

/// A link as a suspension or resumption observes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuspendView {
    /// The role's suspension tags.
    pub suspension: Option<Suspension>,
    /// The trust policy has the deny statement.
    pub denied: bool,
    /// The link's AWSCURRENT key id, with a managed key.
    pub current_key: Option<String>,
    /// The managed user's keys (empty without one).
    pub keys: Vec<KeyView>,
}

impl SuspendView {
    fn key(&self, id: &str) -> Option<&KeyView> {
        self.keys.iter().find(|k| k.id == id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuspendStep {
    /// Tag the role with the suspension first, so a run stopped after any later write is
    /// seen as suspended (the rotations skip the link) and resumed exactly.
    Record(Suspension),
    /// Add the deny statement to the trust policy.
    Deny,
    Deactivate(String),
    /// Suspended: tags, deny, and the recorded key inactive.
    Done(Suspension),
}

impl SuspendStep {
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Done(_))
    }
}

/// `asked`: the suspension this run would record (its `key` is filled in here). A link
/// already suspended keeps its first record (who, when, why).
pub fn next_suspend_step(v: &SuspendView, asked: &Suspension) -> SuspendStep {
    let Some(s) = &v.suspension else {
        let key = v
            .current_key
            .as_ref()
            .filter(|id| v.key(id).is_some_and(|k| k.active))
            .cloned();
        return SuspendStep::Record(Suspension {
            key,
            ..asked.clone()
        });
    };
    if !v.denied {
        return SuspendStep::Deny;
    }
    match &s.key {
        Some(id) if v.key(id).is_some_and(|k| k.active) => SuspendStep::Deactivate(id.clone()),
        _ => SuspendStep::Done(s.clone()),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumeStep {
    /// Reactivate the key the suspension deactivated (and no other).
    Reactivate(String),
    /// Remove the deny statement from the trust policy.
    Allow,
    /// Remove the suspension's tags, last: until then the link is still suspended.
    Forget,
    /// Nothing of a suspension is left.
    Done,
}

impl ResumeStep {
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Done)
    }
}

/// The reverse of [`next_suspend_step`], in the reverse order.
pub fn next_resume_step(v: &SuspendView) -> ResumeStep {
    if let Some(id) = v.suspension.as_ref().and_then(|s| s.key.as_ref()) {
        if v.key(id).is_some_and(|k| !k.active) {
            return ResumeStep::Reactivate(id.clone());
        }
    }
    if v.denied {
        return ResumeStep::Allow;
    }
    if v.suspension.is_some() {
        return ResumeStep::Forget;
    }
    ResumeStep::Done
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{trust_policy, Principal};
    use crate::Conditions;

    const USER: &str = "arn:aws:iam::444455556666:user/DevUser";

    fn trust() -> Value {
        let p = Principal::parse("p", USER).unwrap();
        trust_policy(&p, &["id-one"], &Conditions::default())
    }

    #[test]
    fn the_revoke_policy_is_iams_form_and_reads_back() {
        let t = 1_795_000_000;
        let doc = revoke_policy(t);
        assert_eq!(
            doc,
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*",
                "Resource": "*", "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2026-11-18T11:06:40Z"}}}]})
        );
        assert_eq!(revoked_before(&doc), Some(t));
        assert_eq!(revoked_before(&trust()), None);
    }

    #[test]
    fn a_revoke_moves_the_date_forward_never_back() {
        assert_eq!(next_revoke_step(None, 10), RevokeStep::Put { before: 10 });
        assert_eq!(
            format!("{:?}", RevokeStep::Put { before: 1796177848 }),
            "Put { before: 2026-12-02T02:17:28Z }"
        );
        assert_eq!(
            next_revoke_step(Some(5), 10),
            RevokeStep::Put { before: 10 }
        );
        assert_eq!(
            next_revoke_step(Some(10), 10),
            RevokeStep::Done { before: 10 }
        );
        assert_eq!(
            next_revoke_step(Some(20), 10),
            RevokeStep::Done { before: 20 }
        );
    }

    #[test]
    fn the_suspension_is_added_and_removed_exactly_and_survives_a_rotation() {
        let before = trust();
        let suspended = with_suspension(&before, USER);
        assert!(is_suspended(&suspended) && !is_suspended(&before));
        assert_eq!(
            suspended["Statement"][1],
            json!({"Sid": "TrustLinkSuspended", "Effect": "Deny",
                "Principal": {"AWS": USER}, "Action": "sts:AssumeRole"})
        );
        assert_eq!(with_suspension(&suspended, USER), suspended, "idempotent");
        // A rotation's rewrite of the external IDs keeps the deny.
        let mut rotated = suspended.clone();
        crate::policy::set_external_ids(&mut rotated, &["id-one", "id-two"]);
        assert!(is_suspended(&rotated));
        assert_eq!(without_suspension(&suspended), before);
        assert_eq!(without_suspension(&before), before);
    }

    #[test]
    fn the_deny_covers_the_session_actions_the_allow_grants() {
        let mut t = trust();
        t["Statement"][0]["Action"] = json!(["sts:AssumeRole", "sts:TagSession"]);
        let deny = suspended_statement(&t, USER);
        assert_eq!(deny["Action"], json!(["sts:AssumeRole", "sts:TagSession"]));
    }

    #[test]
    fn a_suspension_round_trips_through_tags() {
        let s = Suspension {
            at: 1,
            by: "us-east-1:abc".into(),
            reason: "partner offboarded".into(),
            key: Some("AKIAOLD".into()),
        };
        assert_eq!(Suspension::from_tags(&s.to_tags()), Some(s.clone()));
        let none = Suspension { key: None, ..s };
        assert_eq!(Suspension::from_tags(&none.to_tags()), Some(none));
        assert_eq!(Suspension::from_tags(&BTreeMap::new()), None);
    }

    #[test]
    fn reasons_follow_the_tag_value_rule() {
        assert!(check_reason("Reason", "INC-4711: key seen in a public repo").is_ok());
        for bad in ["", "  ", "why?", "a;b", &"x".repeat(257)] {
            let e = check_reason("Reason", bad).unwrap_err();
            assert_eq!(e.field, "Reason");
        }
        assert_eq!(caller_tag(None), "unknown");
        assert_eq!(caller_tag(Some("a(b)")), "a_b_");
    }

    fn asked() -> Suspension {
        Suspension {
            at: 100,
            by: "unknown".into(),
            reason: "r".into(),
            key: None,
        }
    }

    fn view(s: Option<Suspension>, denied: bool, active: bool) -> SuspendView {
        SuspendView {
            suspension: s,
            denied,
            current_key: Some("AKIA1".into()),
            keys: vec![KeyView {
                id: "AKIA1".into(),
                active,
            }],
        }
    }

    #[test]
    fn suspend_records_then_denies_then_deactivates() {
        let recorded = Suspension {
            key: Some("AKIA1".into()),
            ..asked()
        };
        assert_eq!(
            next_suspend_step(&view(None, false, true), &asked()),
            SuspendStep::Record(recorded.clone())
        );
        let s = Some(recorded.clone());
        assert_eq!(
            next_suspend_step(&view(s.clone(), false, true), &asked()),
            SuspendStep::Deny
        );
        assert_eq!(
            next_suspend_step(&view(s.clone(), true, true), &asked()),
            SuspendStep::Deactivate("AKIA1".into())
        );
        assert_eq!(
            next_suspend_step(&view(s, true, false), &asked()),
            SuspendStep::Done(recorded)
        );
        // An inactive key is not recorded: Resume must not switch it on.
        assert_eq!(
            next_suspend_step(&view(None, false, false), &asked()),
            SuspendStep::Record(asked())
        );
    }

    #[test]
    fn resume_undoes_exactly_in_reverse() {
        let s = Some(Suspension {
            key: Some("AKIA1".into()),
            ..asked()
        });
        assert_eq!(
            next_resume_step(&view(s.clone(), true, false)),
            ResumeStep::Reactivate("AKIA1".into())
        );
        assert_eq!(
            next_resume_step(&view(s.clone(), true, true)),
            ResumeStep::Allow
        );
        assert_eq!(next_resume_step(&view(s, false, true)), ResumeStep::Forget);
        assert_eq!(next_resume_step(&view(None, false, true)), ResumeStep::Done);
        // A key the suspension did not deactivate stays as it is.
        let no_key = Some(asked());
        assert_eq!(
            next_resume_step(&view(no_key, false, false)),
            ResumeStep::Forget
        );
    }

    #[test]
    fn compromised_names() {
        for name in Compromised::NAMES {
            assert!(Compromised::parse(name).is_some());
        }
        assert!(Compromised::Both.external_id() && Compromised::Both.access_key());
        assert!(!Compromised::AccessKey.external_id());
        assert_eq!(Compromised::parse("secret-key"), None);
    }
}
