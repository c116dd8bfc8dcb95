//! The Principal and NotPrincipal elements: who a statement is about.
//!
//! A request is made by a chain of identities, outermost first: the account, then the user
//! or role, then the role session (AWS's NotPrincipal documentation describes this order).
//! `Principal` applies when it names any identity of the chain; an account id or
//! `arn:aws:iam::ACCT:root` names the account, so it covers every principal in it, and a
//! role ARN covers each of its sessions. `NotPrincipal` exempts a request only when it names
//! every identity of the chain, which is why AWS asks for the account ARN next to a user's.

use serde_json::Value;

use super::context::RequestContext;
use super::glob;
use super::problem::Problem;

/// One entry of `{"AWS": ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Anyone,
    Account(String),
    Arn(String),
}

/// The AWS principals an element names; other kinds (`Service`, `Federated`) are kept out:
/// they never name the IAM principal of a request context.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Principals {
    entries: Vec<Entry>,
}

const KINDS: &[&str] = &["AWS", "Service", "Federated", "CanonicalUser"];

/// The principals of type `kind`: one string or a non-empty list of them.
fn strings(raw: &Value, kind: &str) -> Result<Vec<String>, Problem> {
    match raw {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(list) if !list.is_empty() => list
            .iter()
            .map(|v| {
                v.as_str()
                    .map(String::from)
                    .ok_or_else(|| Problem::PrincipalsNotAllStrings(kind.to_string()))
            })
            .collect(),
        _ => Err(Problem::PrincipalsNotStringOrList(kind.to_string())),
    }
}

/// `*`, an account id, an account root, or an ARN; IAM refuses partial wildcards here.
fn entry(value: &str) -> Result<Entry, Problem> {
    if value == "*" {
        return Ok(Entry::Anyone);
    }
    if glob::has_wildcard(value) {
        return Err(Problem::PartialWildcardPrincipal(value.to_string()));
    }
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Entry::Account(value.to_string()));
    }
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "iam", "", account, "root"] => Ok(Entry::Account(account.to_string())),
        ["arn", _, _, _, _, _] => Ok(Entry::Arn(value.to_string())),
        // A unique id (AROA..., AIDA...): what IAM shows once the principal is deleted.
        _ if value.bytes().all(|b| b.is_ascii_alphanumeric()) => Ok(Entry::Arn(value.into())),
        _ => Err(Problem::NotAPrincipal(value.to_string())),
    }
}

impl Principals {
    /// Reads `"*"` or `{"AWS": ..., "Service": ...}`.
    pub(crate) fn parse(raw: &Value) -> Result<Self, Problem> {
        let map = match raw {
            Value::String(s) if s == "*" => {
                return Ok(Self {
                    entries: vec![Entry::Anyone],
                })
            }
            Value::Object(map) if !map.is_empty() => map,
            _ => return Err(Problem::BadPrincipalShape),
        };
        let mut entries = Vec::new();
        for (kind, values) in map {
            if !KINDS.contains(&kind.as_str()) {
                return Err(Problem::UnknownPrincipalType(kind.clone()));
            }
            let values = strings(values, kind)?;
            if kind == "AWS" {
                entries.extend(
                    values
                        .iter()
                        .map(|v| entry(v))
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
        }
        Ok(Self { entries })
    }

    fn names(&self, identity: &Entry) -> bool {
        self.entries
            .iter()
            .any(|e| e == &Entry::Anyone || e == identity)
    }

    /// `Principal`: applies when any identity of the request is named.
    pub(crate) fn includes(&self, ctx: &RequestContext) -> bool {
        identities(ctx).iter().any(|id| self.names(id))
    }

    /// `NotPrincipal`: the request is exempt only when every identity of it is named.
    pub(crate) fn exempts(&self, ctx: &RequestContext) -> bool {
        identities(ctx).iter().all(|id| self.names(id))
    }
}

fn identities(ctx: &RequestContext) -> Vec<Entry> {
    let root = ctx.root_arn();
    ctx.identities()
        .into_iter()
        .map(|arn| {
            if arn == root {
                Entry::Account(ctx.principal_account().to_string())
            } else {
                Entry::Arn(arn)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;
    use serde_json::json;

    const ACCT: &str = "444455556666";
    const USER: &str = "arn:aws:iam::444455556666:user/DevUser";
    const ROLE: &str = "arn:aws:iam::444455556666:role/ci/Deployer";
    const SESSION: &str = "arn:aws:sts::444455556666:assumed-role/Deployer/run-1";
    const ROOT: &str = "arn:aws:iam::444455556666:root";

    fn user() -> RequestContext {
        RequestContext::new(USER, Timestamp::UNIX_EPOCH).unwrap()
    }
    fn session() -> RequestContext {
        RequestContext::for_session(SESSION, ROLE, Timestamp::UNIX_EPOCH).unwrap()
    }
    fn root() -> RequestContext {
        RequestContext::new(ROOT, Timestamp::UNIX_EPOCH).unwrap()
    }

    #[test]
    fn principal_forms() {
        // (Principal element, request, applies)
        let rows: Vec<(Value, RequestContext, bool)> = vec![
            (json!("*"), user(), true),
            (json!({"AWS": "*"}), session(), true),
            (json!({"AWS": ACCT}), user(), true),
            (json!({"AWS": ACCT}), session(), true),
            (json!({"AWS": ROOT}), user(), true),
            (json!({"AWS": ROOT}), root(), true),
            (json!({"AWS": "111122223333"}), user(), false),
            (
                json!({"AWS": "arn:aws:iam::111122223333:root"}),
                user(),
                false,
            ),
            (json!({"AWS": USER}), user(), true),
            (
                json!({"AWS": "arn:aws:iam::444455556666:user/Other"}),
                user(),
                false,
            ),
            (json!({"AWS": USER}), root(), false),
            (json!({"AWS": ROLE}), session(), true),
            (
                json!({"AWS": "arn:aws:iam::444455556666:role/Deployer"}),
                session(),
                false,
            ),
            (json!({"AWS": SESSION}), session(), true),
            (
                json!({"AWS": "arn:aws:sts::444455556666:assumed-role/Deployer/run-2"}),
                session(),
                false,
            ),
            (
                json!({"AWS": ["arn:aws:iam::111122223333:root", USER]}),
                user(),
                true,
            ),
            (json!({"Service": "ec2.amazonaws.com"}), user(), false),
            (
                json!({"Service": "ec2.amazonaws.com", "AWS": USER}),
                user(),
                true,
            ),
            (json!({"AWS": "AROAEXAMPLEUNIQUEID"}), session(), false),
        ];
        for (element, ctx, expected) in rows {
            let p = Principals::parse(&element).unwrap();
            assert_eq!(p.includes(&ctx), expected, "{element} for {ctx}");
        }
    }

    #[test]
    fn not_principal_needs_every_identity() {
        // (NotPrincipal element, request, exempt)
        let rows: Vec<(Value, RequestContext, bool)> = vec![
            (json!({"AWS": [USER, ROOT]}), user(), true),
            (json!({"AWS": [USER, ACCT]}), user(), true),
            (json!({"AWS": USER}), user(), false),
            (json!({"AWS": ROOT}), user(), false),
            (json!({"AWS": ROOT}), root(), true),
            (json!({"AWS": [SESSION, ROLE, ROOT]}), session(), true),
            (json!({"AWS": [ROLE, ROOT]}), session(), false),
            (json!({"AWS": [SESSION, ROOT]}), session(), false),
            (json!({"AWS": "*"}), session(), true),
            (
                json!({"AWS": ["arn:aws:iam::111122223333:user/X", "111122223333"]}),
                user(),
                false,
            ),
        ];
        for (element, ctx, expected) in rows {
            let p = Principals::parse(&element).unwrap();
            assert_eq!(p.exempts(&ctx), expected, "{element} for {ctx}");
        }
    }

    #[test]
    fn malformed_principals_are_errors() {
        for bad in [
            json!("444455556666"),
            json!({}),
            json!({"AWS": []}),
            json!({"AWS": 444455556666u64}),
            json!({"AWS": [USER, 1]}),
            json!({"AWS": "arn:aws:iam::*:root"}),
            json!({"AWS": "arn:aws:iam::444455556666:user/*"}),
            json!({"AWS": "not an arn"}),
            json!({"Aws": USER}),
            json!(["*"]),
        ] {
            assert!(Principals::parse(&bad).is_err(), "{bad}");
        }
    }
}
