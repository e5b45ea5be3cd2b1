//! The pacer's schedule, on injected time: sub-tick `n` is due at `start + n * period`,
//! computed from the start rather than by adding sleeps, so a ten-minute call is
//! exactly as long on the wire as on the clock. When the thread falls far behind (the
//! machine stalled), whole 20 ms periods are skipped instead of sent in a burst, and
//! every stream keeps its sub-slot.

use std::time::{Duration, Instant};

/// Ticks further behind than this many periods are skipped rather than sent in a burst:
/// a burst would flood the network and starve the machine; a skipped tick only delays
/// audio.
pub const MAX_CATCH_UP: u32 = 5;

/// The schedule of one pacer thread.
#[derive(Clone, Debug)]
pub struct TickClock {
    start: Instant,
    n: u64,
    ptime: Duration,
    slots: u32,
}

/// What [`TickClock::advance`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Next {
    /// When the next sub-tick is due.
    pub due: Instant,
    /// The tick just run was more than a period late.
    pub late: bool,
    /// Periods skipped to catch up (0 normally).
    pub skipped: u64,
}

impl TickClock {
    /// A schedule of `slots` sub-ticks per `ptime`, starting at `start`.
    pub fn new(start: Instant, ptime: Duration, slots: u32) -> TickClock {
        TickClock { start, n: 0, ptime, slots: slots.max(1) }
    }

    /// The sub-slot the next tick serves.
    pub fn slot(&self) -> usize {
        (self.n % u64::from(self.slots)) as usize
    }

    fn period(&self) -> Duration {
        self.ptime / self.slots
    }

    fn due_of(&self, n: u64) -> Instant {
        // u64 nanoseconds: exact for any call length a phone call can have.
        self.start + Duration::from_nanos(self.period().as_nanos() as u64 * n)
    }

    /// A tick has run at `now`; returns when the next one is due.
    pub fn advance(&mut self, now: Instant) -> Next {
        self.n += 1;
        let mut due = self.due_of(self.n);
        let late = now > due + self.ptime;
        let mut skipped = 0;
        if now > due + self.ptime * MAX_CATCH_UP {
            skipped = ((now - due).as_nanos() / self.ptime.as_nanos()) as u64;
            self.start += Duration::from_nanos(self.ptime.as_nanos() as u64 * skipped);
            due = self.due_of(self.n);
        }
        Next { due, late, skipped }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PTIME: Duration = Duration::from_millis(20);

    #[test]
    fn a_ten_minute_call_does_not_drift_whatever_the_wakeup_jitter() {
        let t0 = Instant::now();
        let mut c = TickClock::new(t0, PTIME, 10);
        let mut now = t0;
        let ticks = 10 * 60 * 50 * 10; // ten minutes of 2 ms sub-ticks
        let mut jitter = 7u64;
        for _ in 0..ticks {
            let next = c.advance(now);
            assert!(!next.late && next.skipped == 0);
            // Wake up to 1.5 ms after the due instant, as a loaded machine does.
            jitter = (jitter * 1_103_515_245 + 12_345) % 1_500_000;
            now = next.due + Duration::from_nanos(jitter);
        }
        assert_eq!(c.due_of(ticks), t0 + Duration::from_secs(600), "no drift after ten minutes");
        assert_eq!(c.slot(), 0);
    }

    #[test]
    fn a_stall_skips_whole_periods_and_keeps_the_sub_slots() {
        let t0 = Instant::now();
        let mut c = TickClock::new(t0, PTIME, 10);
        let mut next = c.advance(t0);
        for _ in 0..2 {
            next = c.advance(next.due);
        }
        assert_eq!(c.slot(), 3);
        // A 50 ms hiccup: late, but caught up tick by tick.
        let n = c.advance(next.due + Duration::from_millis(50));
        assert!(n.late && n.skipped == 0);
        // A 300 ms stall: whole periods skipped, the next due instant is near now and
        // still on the 2 ms grid of the same sub-slot.
        let stalled = n.due + Duration::from_millis(300);
        let n = c.advance(stalled);
        assert!(n.late && n.skipped >= 14, "{n:?}");
        assert!(n.due <= stalled + PTIME && n.due + PTIME * 2 > stalled, "{n:?}");
        assert_eq!((n.due - t0).as_nanos() % Duration::from_millis(2).as_nanos(), 0);
        assert_eq!(c.slot(), 5);
    }
}
