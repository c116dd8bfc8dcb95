//! Acting as a consumer would, to prove a new value works before it becomes AWSCURRENT,
//! retrying through IAM's eventual consistency (a new key or trust policy takes seconds to
//! work everywhere) with the shared probe's one retry, bounded by the rotator's limits.

use std::future::Future;

use trustlink_aws::ports::{Cloud, Credentials};
use trustlink_aws::probe::{self, Backoff};
use trustlink_aws::AwsError;
use trustlink_domain::record::AccessKeySecret;

use crate::{Limits, Rotator};

/// `Limits::verify_attempts` in all, `Limits::verify_delay` between each.
pub(crate) fn backoff(limits: &Limits) -> Backoff {
    Backoff::fixed(limits.verify_attempts, limits.verify_delay)
}

impl<C: Cloud> Rotator<C> {
    /// `attempt` until it succeeds or the limits are used up; the last error when none
    /// succeeded. `what` names the attempt in the log.
    pub(crate) async fn retrying<T, F, Fut>(&self, what: &str, attempt: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        probe::retrying(backoff(&self.limits), what, attempt).await
    }
}

/// The long-term credentials of a link's key.
pub(crate) fn credentials_of(key: &AccessKeySecret) -> Credentials {
    Credentials {
        access_key_id: key.access_key_id.clone(),
        secret_access_key: key.secret_access_key.clone(),
        session_token: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_limits_are_a_fixed_backoff_of_as_many_attempts() {
        let limits = Limits {
            verify_attempts: 4,
            verify_delay: Duration::from_secs(3),
            ..Limits::default()
        };
        let b = backoff(&limits);
        assert_eq!(b.attempts, 4);
        let pauses: Vec<Duration> = b.pauses().collect();
        assert_eq!(pauses, vec![Duration::from_secs(3); 3]);
    }
}
