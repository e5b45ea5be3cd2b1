//! The server non-INVITE transaction (RFC 3261 17.2.2) for BYE, OPTIONS, INFO, CANCEL
//! and re-INVITE's companions: the answer is kept and resent when the request arrives
//! again, until Timer J (64*T1 over UDP, zero over TCP) lets it go.
//!
//! Inputs carry `now`; the bytes to send come out of [`NonInviteServer::poll_output`],
//! the next wake-up out of [`NonInviteServer::poll_timeout`].

use super::timers::Timers;
use std::time::{Duration, Instant};

/// What the owner must send for this transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NonInviteOutput {
    /// Send the final response (the first time).
    Send(Vec<u8>),
    /// The request arrived again: send the same response again.
    Retransmit(Vec<u8>),
}

/// One non-INVITE request we answered (or are answering).
#[derive(Debug)]
pub struct NonInviteServer {
    response: Option<Vec<u8>>,
    terminate_at: Option<Instant>,
    terminated: bool,
    linger: Duration,
    /// A non-INVITE transaction sends at most one thing per input: no queue needed.
    out: Option<NonInviteOutput>,
}

impl NonInviteServer {
    /// A transaction for a request that just arrived.
    pub fn new(reliable: bool, timers: Timers) -> Self {
        let linger = if reliable { Duration::ZERO } else { timers.timeout_64t1() };
        NonInviteServer { response: None, terminate_at: None, terminated: false, linger, out: None }
    }

    /// The next output to carry out.
    pub fn poll_output(&mut self) -> Option<NonInviteOutput> {
        self.out.take()
    }

    /// The owner answers at `now`: queues the final response and starts Timer J. Only
    /// the first answer counts.
    pub fn respond(&mut self, bytes: Vec<u8>, now: Instant) {
        if self.response.is_none() {
            self.out = Some(NonInviteOutput::Send(bytes.clone()));
            self.response = Some(bytes);
            self.terminate_at = Some(now + self.linger);
        }
    }

    /// The request arrived again: queues the answer again (nothing while still Trying).
    pub fn on_retransmission(&mut self, _now: Instant) {
        if let Some(b) = &self.response {
            self.out = Some(NonInviteOutput::Retransmit(b.clone()));
        }
    }

    /// When the transaction may be dropped (none once it was).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.terminate_at
    }

    /// Runs Timer J if it is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.terminate_at.is_some_and(|t| now >= t) {
            self.terminate_at = None;
            self.terminated = true;
        }
    }

    /// True once Timer J has fired (or is due at `now`).
    pub fn is_terminated(&self, now: Instant) -> bool {
        self.terminated || self.terminate_at.is_some_and(|t| now >= t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retransmission(tx: &mut NonInviteServer, now: Instant) -> Option<Vec<u8>> {
        tx.on_retransmission(now);
        match tx.poll_output() {
            Some(NonInviteOutput::Retransmit(b)) => Some(b),
            None => None,
            Some(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn answer_is_resent_until_timer_j() {
        let t0 = Instant::now();
        let mut tx = NonInviteServer::new(false, Timers::default());
        assert_eq!(retransmission(&mut tx, t0), None);
        tx.respond(b"200 BYE".to_vec(), t0);
        assert_eq!(tx.poll_output(), Some(NonInviteOutput::Send(b"200 BYE".to_vec())));
        tx.respond(b"other".to_vec(), t0);
        assert_eq!(tx.poll_output(), None);
        assert_eq!(retransmission(&mut tx, t0), Some(b"200 BYE".to_vec()));
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
        assert!(!tx.is_terminated(t0 + Duration::from_secs(31)));
        assert!(tx.is_terminated(t0 + Duration::from_secs(32)));
        tx.handle_timeout(t0 + Duration::from_secs(32));
        assert_eq!(tx.poll_timeout(), None);
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
