//! Transaction timer values (RFC 3261 17.1.1.1 and table 4) and the doubling back-off
//! shared by timers A, E, G and the 2xx retransmission.

use std::time::{Duration, Instant};

/// T1, T2 and T4. Configurable because a trunk over a slow link may want a larger T1,
/// and tests want the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate, 500 ms by default.
    pub t1: Duration,
    /// Cap of the retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    pub t2: Duration,
    /// How long a message may linger in the network, 5 s.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers { t1: Duration::from_millis(500), t2: Duration::from_secs(4), t4: Duration::from_secs(5) }
    }
}

impl Timers {
    /// 64*T1: how long a transaction waits for an answer or an ACK before giving up.
    pub fn timeout_64t1(&self) -> Duration {
        self.t1 * 64
    }
}

/// A retransmission schedule that starts at T1 and doubles up to a cap, measured from
/// the instant of each send so a late wake-up does not bunch retransmissions together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    next: Instant,
    interval: Duration,
    cap: Duration,
}

impl Backoff {
    /// Starts the schedule at `now` with the first retransmission at `now + first`.
    pub fn start(now: Instant, first: Duration, cap: Duration) -> Self {
        Backoff { next: now + first, interval: first, cap }
    }

    /// When the next retransmission is due.
    pub fn next(&self) -> Instant {
        self.next
    }

    /// True (and the schedule advanced) when a retransmission is due at `now`.
    pub fn fire(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.interval = (self.interval * 2).min(self.cap);
        self.next = now + self.interval;
        true
    }

    /// Used in the Proceeding state of a client non-INVITE transaction: once a
    /// provisional answer arrived, retransmit every T2 (RFC 3261 17.1.2.2).
    pub fn set_interval(&mut self, now: Instant, interval: Duration) {
        self.interval = interval;
        self.next = now + interval;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let t0 = Instant::now();
        let t = Timers::default();
        let mut b = Backoff::start(t0, t.t1, t.t2);
        let mut fired = Vec::new();
        let mut now = t0;
        while now < t0 + Duration::from_secs(20) {
            now = b.next();
            assert!(b.fire(now));
            fired.push((now - t0).as_millis());
        }
        assert_eq!(&fired[..6], &[500, 1500, 3500, 7500, 11500, 15500]);
        assert!(!b.fire(now), "does not fire twice at the same instant");
    }
}
