//! The wall clock the payments read, passed in rather than read where it is needed: one
//! periodic run (capture, expiry, recovery) judges everything against the instant it was
//! given, and a test moves one party's time (the simulated platform's, for a capture day)
//! without touching anything else.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// UTC milliseconds, as every stored instant is written.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Now, in UTC milliseconds since the epoch.
    fn now_ms(&self) -> i64;
}

/// The system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// The system's clock moved forward by a settable amount: a test's way of letting days
/// pass for one party (the simulated platform capturing on its capture day) while the
/// rest of the system keeps real time.
#[derive(Debug, Default)]
pub struct ShiftedClock {
    shift_ms: AtomicI64,
}

impl ShiftedClock {
    /// The system's time, not shifted yet.
    pub fn new() -> ShiftedClock {
        ShiftedClock::default()
    }

    /// Moves this clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.shift_ms.fetch_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX), Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms().saturating_add(self.shift_ms.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shifted_clock_runs_ahead_by_what_it_was_advanced() {
        let c = ShiftedClock::new();
        let before = SystemClock.now_ms();
        c.advance(Duration::from_secs(86_400));
        let shifted = c.now_ms();
        let after = SystemClock.now_ms();
        assert!(shifted >= before + 86_400_000 && shifted <= after + 86_400_000, "{before} {shifted} {after}");
    }
}
