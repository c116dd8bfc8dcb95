//! How long a handler may run before the invocation must answer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// The Lambda deadline (milliseconds since the epoch) as an `Instant`; `None` when the
/// context has none (0), as in a hand-built test context.
pub(crate) fn lambda_deadline(deadline_ms: u64) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    // Lambda sends epoch milliseconds. Local emulators (cargo lambda watch) send the timeout
    // itself, e.g. 600000: a value no epoch deadline of this century can have.
    const DAY_MS: u64 = 86_400_000;
    let left_ms = if deadline_ms + DAY_MS < now_ms {
        deadline_ms
    } else {
        deadline_ms.saturating_sub(now_ms)
    };
    Some(Instant::now() + Duration::from_millis(left_ms))
}

/// How long the handler may run: everything up to the deadline minus the margin, or half
/// of what is left when that is less than twice the margin.
pub(crate) fn handler_budget(deadline: Option<Instant>, margin: Duration) -> Option<Duration> {
    let left = deadline?.saturating_duration_since(Instant::now());
    let reserve = margin.min(left / 2);
    Some(left - reserve)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_in_epoch_ms_and_as_emulators_send_them() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let left = |d: Option<Instant>| d.unwrap().saturating_duration_since(Instant::now());
        let epoch = left(lambda_deadline(now_ms + 30_000));
        assert!(
            epoch > Duration::from_secs(29) && epoch <= Duration::from_secs(30),
            "{epoch:?}"
        );
        // cargo lambda watch sends the timeout, not a time.
        let relative = left(lambda_deadline(600_000));
        assert!(
            relative > Duration::from_secs(599) && relative <= Duration::from_secs(600),
            "{relative:?}"
        );
        // A real deadline just passed stays passed.
        assert_eq!(left(lambda_deadline(now_ms - 1_000)), Duration::ZERO);
        assert_eq!(lambda_deadline(0), None);
    }

    #[test]
    fn budget_reserves_margin_or_half() {
        let now = Instant::now();
        let margin = Duration::from_secs(10);
        let b = handler_budget(Some(now + Duration::from_secs(60)), margin).unwrap();
        assert!(
            b <= Duration::from_secs(50) && b > Duration::from_secs(49),
            "{b:?}"
        );
        let b = handler_budget(Some(now + Duration::from_secs(4)), margin).unwrap();
        assert!(
            b <= Duration::from_secs(2) && b > Duration::from_millis(1900),
            "{b:?}"
        );
        let b = handler_budget(Some(now - Duration::from_secs(1)), margin).unwrap();
        assert_eq!(b, Duration::ZERO);
        assert_eq!(handler_budget(None, margin), None);
    }
}
