//! link-check's settings, read once from the environment.

use trustlink_domain::{AccountId, Settings};

/// The default of `TRUSTLINK_UNUSED_DAYS`.
pub const DEFAULT_UNUSED_DAYS: u32 = 90;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSettings {
    /// trustlink's admin role in member accounts (`TRUSTLINK_ADMIN_ROLE_NAME`).
    pub admin_role_name: String,
    /// The role link-check assumes in member accounts (`TRUSTLINK_READ_ROLE_NAME`; the
    /// template sets the read-only `TrustLinkAudit`; default: the admin role).
    pub read_role_name: String,
    /// Where grant policies live (`TRUSTLINK_POLICY_PATH`): orphans are looked for there.
    pub policy_path: String,
    /// Accounts audited besides the hub and the links' accounts (`TRUSTLINK_AUDIT_ACCOUNTS`).
    pub audit_accounts: Vec<AccountId>,
    /// A role not used for this many days is `unused-role` (`TRUSTLINK_UNUSED_DAYS`).
    pub unused_days: u32,
    /// Shifts the clock (`TRUSTLINK_CLOCK_OFFSET_SECONDS`): for tests and drills only.
    pub clock_offset_seconds: i64,
}

impl Default for CheckSettings {
    fn default() -> Self {
        let base = Settings::default();
        Self {
            read_role_name: base.admin_role_name.clone(),
            admin_role_name: base.admin_role_name,
            policy_path: base.policy_path,
            audit_accounts: Vec::new(),
            unused_days: DEFAULT_UNUSED_DAYS,
            clock_offset_seconds: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Base(#[from] trustlink_domain::ValidationError),
    #[error("{name}: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl CheckSettings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let base = Settings::from_lookup(&get)?;
        let audit_accounts = get("TRUSTLINK_AUDIT_ACCOUNTS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|a| AccountId::parse("TRUSTLINK_AUDIT_ACCOUNTS", a))
            .collect::<Result<Vec<_>, _>>()?;
        let number = |name: &'static str| -> Result<Option<i64>, SettingsError> {
            match get(name).filter(|v| !v.trim().is_empty()) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| SettingsError::Invalid {
                        name,
                        reason: format!("'{v}' is not a whole number"),
                    }),
            }
        };
        let unused_days = match number("TRUSTLINK_UNUSED_DAYS")? {
            None => DEFAULT_UNUSED_DAYS,
            Some(d) if (1..=3650).contains(&d) => d as u32,
            Some(d) => {
                return Err(SettingsError::Invalid {
                    name: "TRUSTLINK_UNUSED_DAYS",
                    reason: format!("{d} is not between 1 and 3650"),
                })
            }
        };
        let read_role_name = get("TRUSTLINK_READ_ROLE_NAME")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| base.admin_role_name.clone());
        Ok(Self {
            read_role_name,
            admin_role_name: base.admin_role_name,
            policy_path: base.policy_path,
            audit_accounts,
            unused_days,
            clock_offset_seconds: number("TRUSTLINK_CLOCK_OFFSET_SECONDS")?.unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_environment() {
        let s = CheckSettings::from_lookup(|k| match k {
            "TRUSTLINK_AUDIT_ACCOUNTS" => Some("111122223333, 444455556666".into()),
            "TRUSTLINK_UNUSED_DAYS" => Some("30".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.audit_accounts.len(), 2);
        assert_eq!(s.unused_days, 30);
        assert_eq!(s.clock_offset_seconds, 0);
        assert_eq!(s.read_role_name, "TrustLinkAdmin");
        assert_eq!(
            CheckSettings::from_lookup(|_| None).unwrap().unused_days,
            90
        );
        for (k, v) in [
            ("TRUSTLINK_AUDIT_ACCOUNTS", "12"),
            ("TRUSTLINK_UNUSED_DAYS", "0"),
            ("TRUSTLINK_UNUSED_DAYS", "ninety"),
        ] {
            let e = CheckSettings::from_lookup(|key| (key == k).then(|| v.to_string()));
            assert!(e.is_err(), "{k}={v}");
        }
    }
}
