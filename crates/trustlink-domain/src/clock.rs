//! The one clock of every function: what time it is, in seconds since the Unix epoch. Tests
//! and drills move an [`OffsetClock`] forward so grace periods and rotation ages need no
//! waiting; production runs on the [`SystemClock`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub trait Clock: Send + Sync {
    fn now(&self) -> i64;

    /// Milliseconds since the Unix epoch (metric timestamps); by default `now` in milliseconds.
    fn now_ms(&self) -> i64 {
        self.now().saturating_mul(1000)
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl SystemClock {
    fn since_epoch() -> std::time::Duration {
        // Before 1970 only on a broken host: epoch 0 rather than a panic.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        i64::try_from(Self::since_epoch().as_secs()).unwrap_or(i64::MAX)
    }

    fn now_ms(&self) -> i64 {
        i64::try_from(Self::since_epoch().as_millis()).unwrap_or(i64::MAX)
    }
}

/// The system clock plus an offset, which clones share and which can be moved while running
/// (a test jumping past a grace period; a drill's `TRUSTLINK_CLOCK_OFFSET_SECONDS`).
#[derive(Debug, Clone, Default)]
pub struct OffsetClock {
    offset: Arc<AtomicI64>,
}

impl OffsetClock {
    /// The system clock shifted by `seconds`.
    pub fn new(seconds: i64) -> Self {
        Self {
            offset: Arc::new(AtomicI64::new(seconds)),
        }
    }

    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::SeqCst);
    }

    pub fn offset(&self) -> i64 {
        self.offset.load(Ordering::SeqCst)
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> i64 {
        SystemClock.now() + self.offset()
    }

    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.offset().saturating_mul(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_clock_moves_with_its_clones_and_keeps_milliseconds_in_step() {
        let clock = OffsetClock::new(3600);
        let seen_by_other = clock.clone();
        clock.advance(86_400);
        assert_eq!(seen_by_other.offset(), 90_000);
        // Bracketed by two system readings: no assumption about how long a read takes.
        let before = SystemClock.now_ms();
        let (shifted_ms, shifted) = (seen_by_other.now_ms(), seen_by_other.now());
        let after = SystemClock.now_ms();
        assert!(before + 90_000_000 <= shifted_ms && shifted_ms <= after + 90_000_000);
        assert!(before / 1000 + 90_000 <= shifted && shifted <= after / 1000 + 90_000);
        assert!(SystemClock.now() > 1_700_000_000, "a plausible epoch time");
    }
}
