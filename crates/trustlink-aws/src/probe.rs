//! Probing a link as its consumer would: assume the role with the link's key and external
//! ID, ask who we are, and compare with the session the role should give. IAM is eventually
//! consistent (a new key or trust policy takes seconds to work everywhere), so probes retry
//! with the backoff the caller passes.

use std::future::Future;
use std::time::Duration;

use tracing::info;

use crate::ports::{CallerIdentity, Cloud, Credentials, Sts};
use crate::AwsError;
use trustlink_domain::arn;
use trustlink_domain::rules::IamArn;
use trustlink_domain::AccountId;

/// How long a probe keeps trying: `attempts` in all, the pause doubling from `first_delay`
/// up to `max_delay` (equal delays: a fixed pause).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Backoff {
    pub fn fixed(attempts: u32, delay: Duration) -> Self {
        Self {
            attempts,
            first_delay: delay,
            max_delay: delay,
        }
    }

    /// The pauses between the attempts, in order.
    pub fn pauses(&self) -> impl Iterator<Item = Duration> + '_ {
        let mut next = self.first_delay;
        (1..self.attempts.max(1)).map(move |_| {
            let now = next;
            next = (next * 2).min(self.max_delay);
            now
        })
    }
}

impl Default for Backoff {
    /// About a minute in all: new keys and roles usually work within ten seconds.
    fn default() -> Self {
        Self {
            attempts: 12,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

/// Runs `attempt` until it succeeds or the backoff is used up; the last error then.
pub async fn retrying<T, F, Fut>(
    backoff: Backoff,
    what: &str,
    mut attempt: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let mut pauses = backoff.pauses();
    let mut n = 1;
    loop {
        let error = match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        info!(what, attempt = n, error = %error, "not yet working; IAM may still be propagating");
        match pauses.next() {
            Some(pause) => tokio::time::sleep(pause).await,
            None => return Err(error),
        }
        n += 1;
    }
}

/// Assumes `role_arn` with `key` (and `external_id`), then asks STS who that session is.
pub async fn assume_and_identify<C: Cloud>(
    cloud: &C,
    key: &Credentials,
    role_arn: &str,
    session: &str,
    external_id: Option<&str>,
) -> Result<CallerIdentity, AwsError> {
    let creds = cloud
        .sts_as(key)
        .assume_role(role_arn, session, external_id)
        .await?;
    cloud.sts_as(&creds).caller_identity().await
}

/// The ARN of session `session` of the role `role_arn`
/// (`arn:<partition>:sts::<account>:assumed-role/<name>/<session>`, the partition and
/// account taken from the role's ARN); `None` when `role_arn` is not a role ARN.
pub fn session_arn(role_arn: &str, session: &str) -> Option<String> {
    let role = IamArn::parse("RoleArn", role_arn).ok()?;
    let account = AccountId::parse("RoleArn", &role.account).ok()?;
    (role.kind == "role" && !role.name.is_empty())
        .then(|| arn::assumed_role(role.partition, &account, &role.name, session))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn pauses_double_up_to_the_ceiling() {
        let b = Backoff {
            attempts: 5,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
        let ms: Vec<u128> = b.pauses().map(|d| d.as_millis()).collect();
        assert_eq!(ms, vec![100, 200, 300, 300]);
        let fixed: Vec<u128> = Backoff::fixed(3, Duration::from_secs(2))
            .pauses()
            .map(|d| d.as_millis())
            .collect();
        assert_eq!(fixed, vec![2000, 2000]);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_until_success_or_the_last_attempt() {
        let calls = AtomicU32::new(0);
        let b = Backoff::fixed(3, Duration::from_secs(1));
        let r = retrying(b, "t", || async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            if n < 2 {
                Err(AwsError::new(
                    "sts:AssumeRole",
                    ErrorKind::AccessDenied,
                    "not yet",
                ))
            } else {
                Ok(n)
            }
        })
        .await;
        assert_eq!(r.unwrap(), 2);
        calls.store(0, Ordering::SeqCst);
        let r: Result<(), _> = retrying(b, "t", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(AwsError::new(
                "sts:AssumeRole",
                ErrorKind::AccessDenied,
                "never",
            ))
        })
        .await;
        assert!(r.unwrap_err().to_string().contains("never"));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            3,
            "exactly the attempts, no more"
        );
    }

    #[test]
    fn session_arns_keep_the_roles_partition_and_drop_its_path() {
        assert_eq!(
            session_arn("arn:aws:iam::111122223333:role/trustlink/R", "s").as_deref(),
            Some("arn:aws:sts::111122223333:assumed-role/R/s")
        );
        assert_eq!(
            session_arn("arn:aws-cn:iam::111122223333:role/R", "s").as_deref(),
            Some("arn:aws-cn:sts::111122223333:assumed-role/R/s")
        );
        assert_eq!(session_arn("arn:aws:iam::111122223333:user/U", "s"), None);
    }
}
