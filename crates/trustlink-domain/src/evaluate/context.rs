//! The request context: what AWS knows about a request when it evaluates a policy, and the
//! condition keys it answers to (key names compared case-insensitively, as IAM does).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use jiff::Timestamp;

use crate::secret::ExternalId;

/// A request as policies see it. Build it with [`RequestContext::new`] (a user or an
/// account root) or [`RequestContext::for_session`] (an assumed-role session), then set
/// the optional fields: `None` means the key is absent from the request, which is not the
/// same as a false or empty value (see the operators' absent-key rules).
#[derive(Debug, Clone)]
pub struct RequestContext {
    principal_arn: String,
    session_arn: Option<String>,
    principal_account: String,
    /// `aws:CurrentTime` and `aws:EpochTime`: always present.
    pub current_time: Timestamp,
    /// `aws:SourceIp`.
    pub source_ip: Option<IpAddr>,
    /// `aws:MultiFactorAuthPresent`: absent with long-term credentials.
    pub mfa_present: Option<bool>,
    /// `aws:MultiFactorAuthAge`.
    pub mfa_age_seconds: Option<u64>,
    /// `sts:ExternalId`: a secret, so it stays redacted in this type's `Debug`.
    pub external_id: Option<ExternalId>,
    /// `aws:PrincipalOrgID`.
    pub principal_org_id: Option<String>,
    /// `aws:PrincipalTag/<key>` (tag keys compared case-insensitively, values exactly).
    pub principal_tags: BTreeMap<String, String>,
    /// `aws:TokenIssueTime`: present only with temporary credentials.
    pub token_issue_time: Option<Timestamp>,
    /// Any other key, single- or multivalued (`aws:TagKeys`, `sts:TransitiveTagKeys`, ...).
    /// An empty list is the same as an absent key.
    pub other: BTreeMap<String, Vec<String>>,
}

/// Why a context could not be built. Names the rule, and the ARN (ARNs are not secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ContextError(String);

/// One value of a key, typed as the context holds it; operators convert as they need.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CtxValue<'a> {
    Text(Cow<'a, str>),
    Bool(bool),
    Number(i64),
    Ip(IpAddr),
    Time(Timestamp),
}

/// `arn:<partition>:<service>::<account>:<resource>` split, or `None`.
fn split_arn(arn: &str) -> Option<(&str, &str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let (region, account, resource) = (parts.next()?, parts.next()?, parts.next()?);
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    (prefix == "arn" && !partition.is_empty() && region.is_empty() && account_ok)
        .then_some((partition, service, account, resource))
}

impl RequestContext {
    /// A request by an IAM user (`arn:aws:iam::ACCT:user/PATH/NAME`) or an account root
    /// (`arn:aws:iam::ACCT:root`). Role sessions go through [`Self::for_session`].
    pub fn new(principal_arn: &str, current_time: Timestamp) -> Result<Self, ContextError> {
        let bad = || {
            ContextError(format!(
                "'{principal_arn}' is not the ARN of an IAM user or account root"
            ))
        };
        let (_, service, account, resource) = split_arn(principal_arn).ok_or_else(bad)?;
        let named_user = resource
            .strip_prefix("user/")
            .is_some_and(|rest| !rest.is_empty() && !rest.ends_with('/'));
        if service != "iam" || !(resource == "root" || named_user) {
            return Err(bad());
        }
        Ok(Self::bare(
            principal_arn.to_string(),
            None,
            account.to_string(),
            current_time,
        ))
    }

    /// A request by an assumed-role session (`arn:aws:sts::ACCT:assumed-role/NAME/SESSION`)
    /// of the role `arn:aws:iam::ACCT:role/PATH/NAME`. `aws:PrincipalArn` is the role's ARN
    /// (AWS documents that it names the role, not the session), which is why both are needed:
    /// the session ARN carries no path.
    pub fn for_session(
        session_arn: &str,
        role_arn: &str,
        current_time: Timestamp,
    ) -> Result<Self, ContextError> {
        let session = split_arn(session_arn)
            .filter(|(_, service, _, _)| *service == "sts")
            .and_then(|(p, _, a, r)| Some((p, a, r.strip_prefix("assumed-role/")?)))
            .and_then(|(p, a, r)| r.split_once('/').map(|(name, s)| (p, a, name, s)))
            .filter(|(_, _, name, s)| !name.is_empty() && !s.is_empty() && !s.contains('/'));
        let Some((partition, account, name, _)) = session else {
            return Err(ContextError(format!(
                "'{session_arn}' is not an assumed-role session ARN"
            )));
        };
        let role = split_arn(role_arn)
            .filter(|(_, service, _, r)| *service == "iam" && r.starts_with("role/"))
            .map(|(p, _, a, r)| (p, a, r.rsplit('/').next().unwrap_or_default()));
        if role != Some((partition, account, name)) {
            return Err(ContextError(format!(
                "'{role_arn}' is not the role of session '{session_arn}'"
            )));
        }
        Ok(Self::bare(
            role_arn.to_string(),
            Some(session_arn.to_string()),
            account.to_string(),
            current_time,
        ))
    }

    fn bare(arn: String, session: Option<String>, account: String, now: Timestamp) -> Self {
        Self {
            principal_arn: arn,
            session_arn: session,
            principal_account: account,
            current_time: now,
            source_ip: None,
            mfa_present: None,
            mfa_age_seconds: None,
            external_id: None,
            principal_org_id: None,
            principal_tags: BTreeMap::new(),
            token_issue_time: None,
            other: BTreeMap::new(),
        }
    }

    /// `aws:PrincipalArn`: the user, the root, or (for a session) the role.
    pub fn principal_arn(&self) -> &str {
        &self.principal_arn
    }

    /// The assumed-role session ARN, for a session.
    pub fn session_arn(&self) -> Option<&str> {
        self.session_arn.as_deref()
    }

    /// `aws:PrincipalAccount`.
    pub fn principal_account(&self) -> &str {
        &self.principal_account
    }

    /// The identities AWS checks a principal as, outermost first: the account root, then
    /// the user or role, then the session (the order its NotPrincipal documentation gives).
    pub(crate) fn identities(&self) -> Vec<String> {
        let root = self.root_arn();
        let mut out = vec![root.clone()];
        if self.principal_arn != root {
            out.push(self.principal_arn.clone());
        }
        out.extend(self.session_arn.clone());
        out
    }

    /// `arn:<partition>:iam::<account>:root` of the principal's account.
    pub(crate) fn root_arn(&self) -> String {
        let partition = split_arn(&self.principal_arn).map_or("aws", |(p, ..)| p);
        format!("arn:{partition}:iam::{}:root", self.principal_account)
    }

    /// The values of condition key `key` (any case), or `None` when the request lacks it.
    pub(crate) fn lookup(&self, key: &str) -> Option<Vec<CtxValue<'_>>> {
        match key.to_ascii_lowercase().as_str() {
            "sts:externalid" => one(self.external_id.as_ref().map(|e| text(e.expose()))),
            "aws:multifactorauthpresent" => one(self.mfa_present.map(CtxValue::Bool)),
            "aws:multifactorauthage" => one(self
                .mfa_age_seconds
                .map(|a| CtxValue::Number(i64::try_from(a).unwrap_or(i64::MAX)))),
            "aws:sourceip" => one(self.source_ip.map(CtxValue::Ip)),
            "aws:currenttime" => one(Some(CtxValue::Time(self.current_time))),
            // Epoch seconds: a number to Numeric operators, a date to Date operators.
            "aws:epochtime" => one(Some(CtxValue::Number(self.current_time.as_second()))),
            "aws:principalorgid" => one(self.principal_org_id.as_deref().map(text)),
            "aws:principalarn" => one(Some(text(&self.principal_arn))),
            "aws:principalaccount" => one(Some(text(&self.principal_account))),
            "aws:tokenissuetime" => one(self.token_issue_time.map(CtxValue::Time)),
            _ => self.lookup_tag_or_other(key),
        }
    }

    fn lookup_tag_or_other(&self, key: &str) -> Option<Vec<CtxValue<'_>>> {
        const TAG: &str = "aws:principaltag/";
        let prefix = key.get(..TAG.len());
        if prefix.is_some_and(|p| p.eq_ignore_ascii_case(TAG)) {
            let tag = key.get(TAG.len()..).unwrap_or_default();
            return self
                .principal_tags
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(tag))
                .map(|(_, v)| vec![text(v)]);
        }
        self.other
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, values)| values.iter().map(|v| text(v)).collect::<Vec<_>>())
            .filter(|values| !values.is_empty())
    }
}

fn one(value: Option<CtxValue<'_>>) -> Option<Vec<CtxValue<'_>>> {
    value.map(|v| vec![v])
}

fn text(s: &str) -> CtxValue<'_> {
    CtxValue::Text(Cow::Borrowed(s))
}

impl fmt::Display for RequestContext {
    /// Who is asking, never what they pass: the external ID stays out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.session_arn {
            Some(session) => write!(f, "{session} (role {})", self.principal_arn),
            None => f.write_str(&self.principal_arn),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::from_second(1_767_225_600).unwrap()
    }

    #[test]
    fn principals_are_checked() {
        let ok = [
            "arn:aws:iam::444455556666:user/DevUser",
            "arn:aws:iam::444455556666:user/path/DevUser",
            "arn:aws:iam::444455556666:root",
            "arn:aws-cn:iam::444455556666:root",
        ];
        for arn in ok {
            assert!(RequestContext::new(arn, now()).is_ok(), "{arn}");
        }
        let bad = [
            "",
            "444455556666",
            "arn:aws:iam::44445555666:user/x",
            "arn:aws:iam:us-east-1:444455556666:user/x",
            "arn:aws:iam::444455556666:user/",
            "arn:aws:iam::444455556666:role/R",
            "arn:aws:sts::444455556666:assumed-role/R/s",
            "arn:aws:s3:::bucket",
        ];
        for arn in bad {
            assert!(RequestContext::new(arn, now()).is_err(), "{arn}");
        }
    }

    #[test]
    fn sessions_name_their_role() {
        let s = "arn:aws:sts::444455556666:assumed-role/Deployer/ci-run";
        let ctx =
            RequestContext::for_session(s, "arn:aws:iam::444455556666:role/ci/Deployer", now())
                .unwrap();
        assert_eq!(
            ctx.principal_arn(),
            "arn:aws:iam::444455556666:role/ci/Deployer"
        );
        assert_eq!(ctx.session_arn(), Some(s));
        assert_eq!(ctx.principal_account(), "444455556666");
        assert_eq!(
            ctx.identities(),
            [
                "arn:aws:iam::444455556666:root",
                "arn:aws:iam::444455556666:role/ci/Deployer",
                s
            ]
        );
        for role in [
            "arn:aws:iam::444455556666:role/Other",
            "arn:aws:iam::111122223333:role/Deployer",
            "arn:aws:iam::444455556666:user/Deployer",
        ] {
            assert!(
                RequestContext::for_session(s, role, now()).is_err(),
                "{role}"
            );
        }
        let role = "arn:aws:iam::444455556666:role/Deployer";
        for session in [
            "arn:aws:sts::444455556666:assumed-role/Deployer",
            "arn:aws:sts::444455556666:assumed-role/Deployer/",
            "arn:aws:iam::444455556666:assumed-role/Deployer/x",
        ] {
            assert!(
                RequestContext::for_session(session, role, now()).is_err(),
                "{session}"
            );
        }
    }

    #[test]
    fn keys_are_case_insensitive_and_absent_when_unset() {
        let mut ctx = RequestContext::new("arn:aws:iam::444455556666:user/DevUser", now()).unwrap();
        assert_eq!(ctx.lookup("sts:externalid"), None);
        assert_eq!(ctx.lookup("aws:MultiFactorAuthPresent"), None);
        assert_eq!(ctx.lookup("aws:TokenIssueTime"), None);
        assert_eq!(
            ctx.lookup("AWS:PRINCIPALACCOUNT"),
            Some(vec![text("444455556666")])
        );
        assert_eq!(
            ctx.lookup("aws:epochtime"),
            Some(vec![CtxValue::Number(1_767_225_600)])
        );
        ctx.external_id = Some(ExternalId::parse("x", "secret-id-1").unwrap());
        ctx.mfa_present = Some(false);
        ctx.principal_tags.insert("Team".into(), "Blue".into());
        ctx.other
            .insert("aws:TagKeys".into(), vec!["a".into(), "b".into()]);
        ctx.other.insert("aws:Empty".into(), vec![]);
        assert_eq!(
            ctx.lookup("STS:ExternalId"),
            Some(vec![text("secret-id-1")])
        );
        assert_eq!(
            ctx.lookup("aws:multifactorauthpresent"),
            Some(vec![CtxValue::Bool(false)])
        );
        assert_eq!(
            ctx.lookup("aws:principaltag/team"),
            Some(vec![text("Blue")])
        );
        assert_eq!(ctx.lookup("aws:PrincipalTag/Other"), None);
        assert_eq!(ctx.lookup("aws:tagkeys").map(|v| v.len()), Some(2));
        assert_eq!(ctx.lookup("aws:empty"), None);
        let shown = format!("{ctx:?} {ctx}");
        assert!(!shown.contains("secret-id-1"), "{shown}");
    }
}
