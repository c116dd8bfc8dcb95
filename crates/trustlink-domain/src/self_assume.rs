//! Whether the function can assume a link's role itself, as a consumer would, with the
//! link's key and external ID: decided from the trust policy with the evaluator, so that
//! every function (trust-link's verify, the rotator's check, link-check's probes) agrees.
//! The function has long-term credentials, no MFA, no organization and an unknown source
//! address: a condition on any of those, or a time window that is not open, gates the link.

use serde_json::Value;

use crate::evaluate::{evaluate_trust, ConditionRef, Decision, RequestContext};
use crate::secret::ExternalId;
use crate::Principal;

const EXTERNAL_ID_KEY: &str = "sts:externalid";

/// What an attempt by the function itself would meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelfAssume {
    /// The trust policy admits the key and external ID as they are.
    Possible,
    /// Only conditions the function cannot meet stand in the way (named, never valued):
    /// a consumer with MFA, the right address or in the right window can.
    Gated(Vec<ConditionRef>),
    /// The principal or the external ID itself is refused, or an explicit deny applies:
    /// no consumer can assume the role this way.
    Refused,
}

/// Evaluates an `sts:AssumeRole` by `principal` with `external_id` at `now` (seconds since
/// the Unix epoch).
pub fn self_assume(
    trust_policy: &Value,
    principal: &Principal,
    external_id: &ExternalId,
    now: i64,
) -> SelfAssume {
    let Ok(now) = jiff::Timestamp::from_second(now) else {
        return SelfAssume::Refused;
    };
    let context = match principal {
        Principal::Role {
            partition,
            account,
            name,
            ..
        } => RequestContext::for_session(
            &crate::arn::assumed_role(*partition, account, name, "trustlink"),
            &principal.arn(),
            now,
        ),
        _ => RequestContext::new(&principal.arn(), now),
    };
    let Ok(mut context) = context else {
        return SelfAssume::Refused;
    };
    context.external_id = Some(external_id.clone());
    match evaluate_trust(trust_policy, &context, "sts:AssumeRole") {
        Ok(Decision::Allowed { .. }) => SelfAssume::Possible,
        Ok(Decision::ImplicitDeny { near_misses }) => {
            let gates = near_misses.iter().find(|m| {
                m.failed
                    .iter()
                    .all(|f| !f.condition.key.eq_ignore_ascii_case(EXTERNAL_ID_KEY))
            });
            match gates {
                Some(m) => {
                    SelfAssume::Gated(m.failed.iter().map(|f| f.condition.clone()).collect())
                }
                None => SelfAssume::Refused,
            }
        }
        Ok(Decision::ExplicitDeny { .. }) | Err(_) => SelfAssume::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::trust_policy;
    use crate::spec::Conditions;
    use crate::Timestamp;

    fn principal() -> Principal {
        Principal::parse("p", "arn:aws:iam::444455556666:user/DevUser").unwrap()
    }

    fn id(s: &str) -> ExternalId {
        ExternalId::parse("ExternalId", s).unwrap()
    }

    fn at(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_second()
    }

    fn decide(conditions: &Conditions, with: &str, now: &str) -> SelfAssume {
        let doc = trust_policy(&principal(), &["CurrentId0001"], conditions);
        self_assume(&doc, &principal(), &id(with), at(now))
    }

    fn keys(d: &SelfAssume) -> Vec<String> {
        match d {
            SelfAssume::Gated(c) => c.iter().map(|c| c.key.to_ascii_lowercase()).collect(),
            other => panic!("expected gated, got {other:?}"),
        }
    }

    fn ts(s: &str) -> Option<Timestamp> {
        Some(Timestamp::parse("t", s).unwrap())
    }

    #[test]
    fn plain_links_are_possible_and_a_wrong_id_is_refused() {
        let none = Conditions::default();
        assert_eq!(
            decide(&none, "CurrentId0001", "2026-06-01T00:00:00Z"),
            SelfAssume::Possible
        );
        assert_eq!(
            decide(&none, "WrongId00001", "2026-06-01T00:00:00Z"),
            SelfAssume::Refused
        );
        let other = Principal::parse("p", "arn:aws:iam::444455556666:user/Other").unwrap();
        let doc = trust_policy(&principal(), &["CurrentId0001"], &none);
        assert_eq!(
            self_assume(
                &doc,
                &other,
                &id("CurrentId0001"),
                at("2026-06-01T00:00:00Z")
            ),
            SelfAssume::Refused
        );
    }

    #[test]
    fn conditions_the_function_cannot_meet_gate_the_link() {
        let now = "2026-06-01T00:00:00Z";
        let mfa = Conditions {
            require_mfa: true,
            ..Default::default()
        };
        assert!(keys(&decide(&mfa, "CurrentId0001", now))
            .contains(&"aws:multifactorauthpresent".into()));
        let ip = Conditions {
            source_ip_cidrs: vec!["203.0.113.0/24".into()],
            ..Default::default()
        };
        assert_eq!(
            keys(&decide(&ip, "CurrentId0001", now)),
            vec!["aws:sourceip"]
        );
        let org = Conditions {
            principal_org_id: Some("o-abc123".into()),
            ..Default::default()
        };
        assert_eq!(
            keys(&decide(&org, "CurrentId0001", now)),
            vec!["aws:principalorgid"]
        );
        // A gated link with the wrong ID is still refused: the ID is what a probe checks.
        assert_eq!(decide(&mfa, "WrongId00001", now), SelfAssume::Refused);
    }

    #[test]
    fn a_time_window_gates_only_when_it_is_not_open() {
        let window = Conditions {
            not_before: ts("2026-01-01T00:00:00Z"),
            not_after: ts("2026-12-31T23:59:59Z"),
            ..Default::default()
        };
        assert_eq!(
            decide(&window, "CurrentId0001", "2026-06-01T00:00:00Z"),
            SelfAssume::Possible
        );
        assert_eq!(
            keys(&decide(&window, "CurrentId0001", "2027-02-01T00:00:00Z")),
            vec!["aws:currenttime"]
        );
        assert_eq!(
            keys(&decide(&window, "CurrentId0001", "2025-02-01T00:00:00Z")),
            vec!["aws:currenttime"]
        );
    }
}
