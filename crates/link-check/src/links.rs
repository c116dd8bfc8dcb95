//! The links of this hub, as the rotator finds them (a link is the `trustlink/<LinkName>`
//! secret whose tags are its own record), with the external IDs each one accepts now.

use trustlink_aws::ports::{Secrets, AWSCURRENT, AWSPREVIOUS};
use trustlink_aws::AwsError;
use trustlink_domain::record::{self, ExternalIdSecret, LinkRecord};
use trustlink_domain::rotation::HOUR;
use trustlink_domain::ExternalId;

use crate::iso;

/// Every link of the hub.
pub async fn discover(secrets: &impl Secrets) -> Result<Vec<LinkRecord>, AwsError> {
    let found = secrets.list_secrets(record::SECRET_PREFIX).await?;
    let mut links: Vec<LinkRecord> = found
        .iter()
        .filter_map(|s| {
            LinkRecord::from_tags(&s.tags)
                .filter(|r| record::external_id_secret_name(&r.link_name) == s.name)
        })
        .collect();
    links.sort_by(|a, b| a.link_name.cmp(&b.link_name));
    Ok(links)
}

/// A link with its external IDs. `Debug` redacts them.
#[derive(Debug, Clone)]
pub struct LinkState {
    pub record: LinkRecord,
    pub current: ExternalId,
    /// When AWSCURRENT was written (epoch seconds), if Secrets Manager says.
    pub current_created: Option<i64>,
    /// AWSPREVIOUS, when it differs from AWSCURRENT.
    pub previous: Option<ExternalId>,
}

/// How a given external ID relates to a link's: the words Diagnose and Verify report,
/// never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdMatch {
    Current,
    PreviousInGrace { until: i64 },
    PreviousRetired { at: i64 },
    None,
}

impl IdMatch {
    pub fn describe(self) -> String {
        match self {
            Self::Current => "matches AWSCURRENT".into(),
            Self::PreviousInGrace { until } => {
                format!("matches the previous ID, accepted until {}", iso(until))
            }
            Self::PreviousRetired { at } => {
                format!("matches the previous ID, retired at {}", iso(at))
            }
            Self::None => "matches none".into(),
        }
    }
}

impl LinkState {
    pub async fn load(secrets: &impl Secrets, record: LinkRecord) -> Result<Self, AwsError> {
        let name = record::external_id_secret_name(&record.link_name);
        let read = |stage| secrets.get_secret_value(&name, stage);
        let current = read(AWSCURRENT).await?;
        let parsed = ExternalIdSecret::parse(&current.text)
            .map_err(|e| AwsError::other("secretsmanager:GetSecretValue", e.to_string()))?;
        let previous = match read(AWSPREVIOUS).await {
            Ok(v) => ExternalIdSecret::parse(&v.text)
                .ok()
                .map(|s| s.external_id)
                .filter(|id| *id != parsed.external_id),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e),
        };
        Ok(Self {
            record,
            current: parsed.external_id,
            current_created: current.created,
            previous,
        })
    }

    /// When the previous ID stops (or stopped) being accepted: the switch plus the grace.
    pub fn grace_ends(&self) -> Option<i64> {
        let switched = self
            .record
            .external_id_rotated_at
            .or(self.current_created)?;
        Some(switched + i64::from(self.record.rotation.grace_hours) * HOUR)
    }

    /// Whether the previous ID may still be accepted at `now`.
    pub fn previous_in_grace(&self, now: i64) -> bool {
        self.previous.is_some() && self.grace_ends().is_some_and(|end| now < end)
    }

    pub fn classify(&self, given: &ExternalId, now: i64) -> IdMatch {
        if *given == self.current {
            return IdMatch::Current;
        }
        if self.previous.as_ref() == Some(given) {
            let end = self.grace_ends().unwrap_or(now);
            return if now < end {
                IdMatch::PreviousInGrace { until: end }
            } else {
                IdMatch::PreviousRetired { at: end }
            };
        }
        IdMatch::None
    }

    /// The IDs the trust policy should accept at `now`.
    pub fn expected_ids(&self, now: i64) -> Vec<&ExternalId> {
        let mut ids = vec![&self.current];
        if self.previous_in_grace(now) {
            ids.extend(self.previous.as_ref());
        }
        ids
    }
}

/// The state of keyed link `l` of `principal` for unit tests: rotated at 1,000,000 with the
/// default periods, AWSCURRENT `CurrentId123` and AWSPREVIOUS `previous`.
#[cfg(test)]
pub(crate) fn test_state(principal: &str, previous: Option<&str>) -> LinkState {
    LinkState {
        record: LinkRecord {
            link_name: "l".into(),
            role_arn: "arn:aws:iam::111122223333:role/trustlink/l".into(),
            trusted_principal: trustlink_domain::Principal::parse("p", principal).unwrap(),
            grant_policy_arn: None,
            user_created: false,
            access_key: true,
            rotation: trustlink_domain::RotationSettings::default(),
            external_id_rotated_at: Some(1_000_000),
            access_key_rotated_at: None,
        },
        current: ExternalId::parse("e", "CurrentId123").unwrap(),
        current_created: None,
        previous: previous.map(|p| ExternalId::parse("e", p).unwrap()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(previous: bool) -> LinkState {
        test_state(
            "arn:aws:iam::444455556666:user/u",
            previous.then_some("PreviousId123"),
        )
    }

    #[test]
    fn classifies_ids_by_stage_and_grace() {
        let s = state(true);
        let id = |v| ExternalId::parse("e", v).unwrap();
        let end = 1_000_000 + 24 * HOUR;
        assert_eq!(s.classify(&id("CurrentId123"), 0), IdMatch::Current);
        assert_eq!(
            s.classify(&id("PreviousId123"), end - 1),
            IdMatch::PreviousInGrace { until: end }
        );
        assert_eq!(
            s.classify(&id("PreviousId123"), end),
            IdMatch::PreviousRetired { at: end }
        );
        assert_eq!(s.classify(&id("Other123"), 0), IdMatch::None);
        assert_eq!(s.expected_ids(end - 1).len(), 2);
        assert_eq!(s.expected_ids(end).len(), 1);
        assert_eq!(state(false).expected_ids(0).len(), 1);
        assert!(IdMatch::PreviousInGrace { until: end }
            .describe()
            .starts_with("matches the previous ID, accepted until 1970-01-13T"));
        assert!(!format!("{s:?}").contains("CurrentId123"));
    }
}
