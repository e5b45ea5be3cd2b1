//! The leg's own timers (beside its transactions'), as one bounded table keyed by an
//! enum instead of one `Option<Instant>` field per deadline: `poll_timeout` is the
//! minimum of the table and the transactions, and a new timer is one more variant.
//! Pure data: no clock is read here, every instant comes from the leg's inputs.

use std::time::Instant;

/// A deadline the leg itself keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegTimer {
    /// Ringing is over: send the 200 (the configured answer delay).
    Answer,
    /// The call reached its maximum duration: hang up.
    MaxDuration,
    /// No RTP from the caller for too long: hang up (paused while on hold).
    MediaInactivity,
}

impl LegTimer {
    const COUNT: usize = 3;

    fn index(self) -> usize {
        match self {
            LegTimer::Answer => 0,
            LegTimer::MaxDuration => 1,
            LegTimer::MediaInactivity => 2,
        }
    }
}

/// When each [`LegTimer`] is due; unarmed timers are `None`.
#[derive(Clone, Copy, Debug, Default)]
pub struct LegTimers([Option<Instant>; LegTimer::COUNT]);

impl LegTimers {
    /// Arms (or re-arms) `timer` for `at`.
    pub fn set(&mut self, timer: LegTimer, at: Instant) {
        self.0[timer.index()] = Some(at);
    }

    /// Disarms `timer`.
    pub fn clear(&mut self, timer: LegTimer) {
        self.0[timer.index()] = None;
    }

    /// Disarms every timer (the call ended).
    pub fn clear_all(&mut self) {
        self.0 = [None; LegTimer::COUNT];
    }

    /// True while `timer` is armed.
    pub fn is_armed(&self, timer: LegTimer) -> bool {
        self.0[timer.index()].is_some()
    }

    /// True when `timer` is armed and due at `now`.
    pub fn is_due(&self, timer: LegTimer, now: Instant) -> bool {
        self.0[timer.index()].is_some_and(|t| now >= t)
    }

    /// The earliest armed deadline.
    pub fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_table_wakes_at_its_earliest_armed_timer() {
        let t0 = Instant::now();
        let mut t = LegTimers::default();
        assert_eq!(t.next(), None);
        t.set(LegTimer::MaxDuration, t0 + Duration::from_secs(600));
        t.set(LegTimer::MediaInactivity, t0 + Duration::from_secs(30));
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(30)));
        assert!(t.is_due(LegTimer::MediaInactivity, t0 + Duration::from_secs(30)));
        assert!(!t.is_due(LegTimer::Answer, t0 + Duration::from_secs(30)));
        t.clear(LegTimer::MediaInactivity);
        assert!(!t.is_armed(LegTimer::MediaInactivity));
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(600)));
        t.clear_all();
        assert_eq!(t.next(), None);
    }
}
