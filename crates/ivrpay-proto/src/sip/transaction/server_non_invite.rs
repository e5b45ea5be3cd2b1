//! The server non-INVITE transaction (RFC 3261 17.2.2) for BYE, OPTIONS, INFO, CANCEL
//! and re-INVITE's companions: the answer is kept and resent when the request arrives
//! again, until Timer J (64*T1 over UDP, zero over TCP) lets it go.

use super::timers::Timers;
use std::time::{Duration, Instant};

/// One non-INVITE request we answered (or are answering).
#[derive(Debug)]
pub struct NonInviteServer {
    response: Option<Vec<u8>>,
    terminate_at: Option<Instant>,
    linger: Duration,
}

impl NonInviteServer {
    /// A transaction for a request that just arrived.
    pub fn new(reliable: bool, timers: Timers) -> Self {
        let linger = if reliable { Duration::ZERO } else { timers.timeout_64t1() };
        NonInviteServer { response: None, terminate_at: None, linger }
    }

    /// Records the final response being sent now and starts Timer J.
    pub fn respond(&mut self, bytes: Vec<u8>, now: Instant) {
        if self.response.is_none() {
            self.response = Some(bytes);
            self.terminate_at = Some(now + self.linger);
        }
    }

    /// The request arrived again: what to send back (nothing while still Trying).
    pub fn on_retransmission(&self) -> Option<&[u8]> {
        self.response.as_deref()
    }

    /// When the transaction may be dropped.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.terminate_at
    }

    /// True once Timer J has fired.
    pub fn is_terminated(&self, now: Instant) -> bool {
        self.terminate_at.is_some_and(|t| now >= t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_is_resent_until_timer_j() {
        let t0 = Instant::now();
        let mut tx = NonInviteServer::new(false, Timers::default());
        assert_eq!(tx.on_retransmission(), None);
        tx.respond(b"200 BYE".to_vec(), t0);
        tx.respond(b"other".to_vec(), t0);
        assert_eq!(tx.on_retransmission(), Some(&b"200 BYE"[..]));
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
        assert!(!tx.is_terminated(t0 + Duration::from_secs(31)));
        assert!(tx.is_terminated(t0 + Duration::from_secs(32)));
    }

    #[test]
    fn timer_j_is_zero_over_tcp() {
        let t0 = Instant::now();
        let mut tx = NonInviteServer::new(true, Timers::default());
        tx.respond(b"200".to_vec(), t0);
        assert!(tx.is_terminated(t0));
    }
}
