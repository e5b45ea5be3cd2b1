//! The server INVITE transaction (RFC 3261 17.2.1) merged with the UAS core's 2xx
//! retransmission (13.3.1.4, as amended by RFC 6026's Accepted state).
//!
//! One machine owns every response to one INVITE: the 100 Trying, the final answer, its
//! retransmissions until the ACK, and the verdict when no ACK comes. Keeping both halves
//! together means a retransmitted INVITE always gets exactly the last response again.
//!
//! Inputs carry `now`; everything the owner must do comes out of
//! [`InviteServer::poll_output`], the next wake-up out of [`InviteServer::poll_timeout`].

use super::timers::{Backoff, Timers};
use std::collections::VecDeque;
use std::time::Instant;

/// Where the transaction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InviteState {
    /// The INVITE is being processed; only provisional answers were sent.
    Proceeding,
    /// A 2xx was sent; retransmitting it until the ACK (RFC 6026 Accepted).
    Accepted,
    /// A 3xx-6xx was sent; retransmitting it (UDP) until the ACK.
    Completed,
    /// The ACK arrived for a final answer; absorbing stray ACKs for a while.
    Confirmed,
    /// Done; the owner may drop the machine.
    Terminated,
}

/// What the owner must do, in the order the transaction decided it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InviteOutput {
    /// Send this response (the first time it is sent).
    Send(Vec<u8>),
    /// Send these bytes to the peer again (a timer fired, or the INVITE came again).
    Retransmit(Vec<u8>),
    /// The first ACK of our 2xx arrived: the owner passes that ACK to the dialog (it may
    /// carry the SDP answer of a late offer). Later ACKs, and ACKs of error answers, are
    /// absorbed without an output.
    Acknowledged,
    /// 64*T1 passed without an ACK for our 2xx: the UAS must hang up with a BYE
    /// (RFC 3261 13.3.1.4).
    AckTimeout,
    /// 64*T1 passed without an ACK for our error answer: the peer is gone.
    Abandoned,
}

/// Server INVITE transaction and 2xx retransmission.
#[derive(Debug)]
pub struct InviteServer {
    state: InviteState,
    reliable: bool,
    timers: Timers,
    last_response: Vec<u8>,
    last_status: u16,
    retransmit: Option<Backoff>,
    give_up_at: Option<Instant>,
    terminate_at: Option<Instant>,
    out: VecDeque<InviteOutput>,
}

impl InviteServer {
    /// A transaction for an INVITE that just arrived; `reliable` is true over TCP.
    pub fn new(reliable: bool, timers: Timers) -> Self {
        InviteServer {
            state: InviteState::Proceeding,
            reliable,
            timers,
            last_response: Vec::new(),
            last_status: 0,
            retransmit: None,
            give_up_at: None,
            terminate_at: None,
            out: VecDeque::with_capacity(2),
        }
    }

    /// The next output to carry out.
    pub fn poll_output(&mut self) -> Option<InviteOutput> {
        crate::queue::pop_or_release(&mut self.out)
    }

    /// Current state.
    pub fn state(&self) -> InviteState {
        self.state
    }

    /// True once the transaction is over (or due to end at `now`): its owner no longer
    /// needs to stay reachable for retransmissions and ACKs.
    pub fn is_terminated(&self, now: Instant) -> bool {
        self.state == InviteState::Terminated || self.terminate_at.is_some_and(|t| now >= t)
    }

    /// Status of the last response sent (0 if none yet).
    pub fn last_status(&self) -> u16 {
        self.last_status
    }

    /// The owner answers the INVITE at `now`: queues the response to send and arms the
    /// timers it needs. Responses after the final one are ignored (nothing is queued).
    pub fn respond(&mut self, status: u16, bytes: Vec<u8>, now: Instant) {
        if self.state != InviteState::Proceeding {
            return;
        }
        self.last_status = status;
        self.out.push_back(InviteOutput::Send(bytes.clone()));
        self.last_response = bytes;
        match status {
            100..=199 => {}
            200..=299 => {
                // 2xx is retransmitted end to end whatever the transport (13.3.1.4).
                self.state = InviteState::Accepted;
                self.retransmit = Some(Backoff::start(now, self.timers.t1, self.timers.t2));
                self.give_up_at = Some(now + self.timers.timeout_64t1());
            }
            _ => {
                self.state = InviteState::Completed;
                if !self.reliable {
                    self.retransmit = Some(Backoff::start(now, self.timers.t1, self.timers.t2));
                }
                self.give_up_at = Some(now + self.timers.timeout_64t1());
            }
        }
    }

    /// The INVITE arrived again: queues the last response, if any, again (17.2.1).
    pub fn on_invite_retransmission(&mut self, _now: Instant) {
        match self.state {
            InviteState::Proceeding | InviteState::Accepted | InviteState::Completed
                if !self.last_response.is_empty() =>
            {
                self.out.push_back(InviteOutput::Retransmit(self.last_response.clone()));
            }
            _ => {}
        }
    }

    /// An ACK for this INVITE arrived. The first ACK of a 2xx queues
    /// [`InviteOutput::Acknowledged`]; later ACKs, and ACKs of error answers, are
    /// absorbed.
    pub fn on_ack(&mut self, now: Instant) {
        match self.state {
            InviteState::Accepted => {
                self.state = InviteState::Confirmed;
                self.retransmit = None;
                self.give_up_at = None;
                // Keep absorbing retransmitted INVITEs/ACKs for 64*T1 (RFC 6026 Timer L).
                self.terminate_at = Some(now + self.timers.timeout_64t1());
                self.out.push_back(InviteOutput::Acknowledged);
            }
            InviteState::Completed => {
                self.state = InviteState::Confirmed;
                self.retransmit = None;
                self.give_up_at = None;
                let linger = if self.reliable { std::time::Duration::ZERO } else { self.timers.t4 };
                self.terminate_at = Some(now + linger);
            }
            _ => {}
        }
    }

    /// The next instant this machine needs to be woken, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.retransmit.map(|b| b.next()), self.give_up_at, self.terminate_at].into_iter().flatten().min()
    }

    /// Runs every timer due at `now`, queueing what they produce.
    pub fn handle_timeout(&mut self, now: Instant) {
        while self.poll_timeout().is_some_and(|t| now >= t) {
            self.fire_one(now);
        }
    }

    fn fire_one(&mut self, now: Instant) {
        if self.terminate_at.is_some_and(|at| now >= at) {
            self.state = InviteState::Terminated;
            self.terminate_at = None;
        } else if self.give_up_at.is_some_and(|at| now >= at) {
            let out = match self.state {
                InviteState::Accepted => InviteOutput::AckTimeout,
                _ => InviteOutput::Abandoned,
            };
            self.state = InviteState::Terminated;
            self.retransmit = None;
            self.give_up_at = None;
            self.out.push_back(out);
        } else if let Some(b) = self.retransmit.as_mut() {
            if b.fire(now) {
                self.out.push_back(InviteOutput::Retransmit(self.last_response.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn drive(tx: &mut InviteServer, from: Instant, until: Instant) -> Vec<(u128, InviteOutput)> {
        let mut out = Vec::new();
        while let Some(at) = tx.poll_timeout() {
            if at > until {
                break;
            }
            tx.handle_timeout(at);
            while let Some(o) = tx.poll_output() {
                out.push(((at - from).as_millis(), o));
            }
        }
        out
    }

    /// Answers at `now` and returns what the transaction queued for it.
    fn respond(tx: &mut InviteServer, status: u16, bytes: &[u8], now: Instant) -> Vec<InviteOutput> {
        tx.respond(status, bytes.to_vec(), now);
        std::iter::from_fn(|| tx.poll_output()).collect()
    }

    fn retransmission(tx: &mut InviteServer, now: Instant) -> Option<Vec<u8>> {
        tx.on_invite_retransmission(now);
        match tx.poll_output() {
            Some(InviteOutput::Retransmit(b)) => Some(b),
            None => None,
            Some(other) => panic!("{other:?}"),
        }
    }

    /// Feeds an ACK and says whether it was the first ACK of a 2xx.
    fn ack(tx: &mut InviteServer, now: Instant) -> bool {
        tx.on_ack(now);
        match tx.poll_output() {
            Some(InviteOutput::Acknowledged) => true,
            None => false,
            Some(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn two_hundred_is_retransmitted_doubling_to_t2_until_ack() {
        let t0 = Instant::now();
        let mut tx = InviteServer::new(false, Timers::default());
        assert_eq!(respond(&mut tx, 100, b"100", t0), [InviteOutput::Send(b"100".to_vec())]);
        assert_eq!(retransmission(&mut tx, t0), Some(b"100".to_vec()));
        assert_eq!(respond(&mut tx, 200, b"200", t0), [InviteOutput::Send(b"200".to_vec())]);
        let out = drive(&mut tx, t0, t0 + Duration::from_millis(8000));
        let times: Vec<u128> = out.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, vec![500, 1500, 3500, 7500]);
        assert!(out.iter().all(|(_, o)| *o == InviteOutput::Retransmit(b"200".to_vec())));
        assert!(ack(&mut tx, t0 + Duration::from_millis(8000)));
        assert!(!ack(&mut tx, t0 + Duration::from_millis(8001)), "a second ACK is absorbed");
        assert_eq!(tx.state(), InviteState::Confirmed);
        assert!(drive(&mut tx, t0, t0 + Duration::from_secs(100)).is_empty());
        assert_eq!(tx.state(), InviteState::Terminated);
    }

    #[test]
    fn missing_ack_for_two_hundred_means_bye_after_64_t1() {
        let t0 = Instant::now();
        let mut tx = InviteServer::new(false, Timers::default());
        respond(&mut tx, 200, b"200", t0);
        let out = drive(&mut tx, t0, t0 + Duration::from_secs(60));
        let (at, last) = out.last().unwrap();
        assert_eq!((*at, last), (32_000, &InviteOutput::AckTimeout));
        // 500, 1500, 3500, 7500 then every 4 s until 32 s: 11.5 .. 31.5 = 6 more.
        assert_eq!(out.len() - 1, 4 + 6);
        assert_eq!(tx.state(), InviteState::Terminated);
    }

    #[test]
    fn two_hundred_is_retransmitted_over_tcp_too() {
        let t0 = Instant::now();
        let mut tx = InviteServer::new(true, Timers::default());
        respond(&mut tx, 200, b"200", t0);
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_millis(500)));
    }

    #[test]
    fn error_answer_is_retransmitted_over_udp_and_ack_absorbed() {
        let t0 = Instant::now();
        let mut tx = InviteServer::new(false, Timers::default());
        respond(&mut tx, 486, b"486", t0);
        let out = drive(&mut tx, t0, t0 + Duration::from_millis(2000));
        assert_eq!(out.len(), 2);
        assert_eq!(retransmission(&mut tx, t0 + Duration::from_millis(2000)), Some(b"486".to_vec()));
        assert!(!ack(&mut tx, t0 + Duration::from_millis(2000)), "ACK of a non-2xx is absorbed");
        assert_eq!(tx.state(), InviteState::Confirmed);
        // Timer I = T4 over UDP.
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_millis(7000)));
        assert!(drive(&mut tx, t0, t0 + Duration::from_secs(8)).is_empty());
        assert_eq!(tx.state(), InviteState::Terminated);
    }

    #[test]
    fn error_answer_over_tcp_is_not_retransmitted_and_times_out() {
        let t0 = Instant::now();
        let mut tx = InviteServer::new(true, Timers::default());
        respond(&mut tx, 487, b"487", t0);
        let out = drive(&mut tx, t0, t0 + Duration::from_secs(40));
        assert_eq!(out, vec![(32_000, InviteOutput::Abandoned)]);
    }

    #[test]
    fn nothing_is_sent_after_the_final_answer() {
        let t0 = Instant::now();
        let mut tx = InviteServer::new(false, Timers::default());
        assert_eq!(respond(&mut tx, 487, b"487", t0), [InviteOutput::Send(b"487".to_vec())]);
        assert!(respond(&mut tx, 200, b"200", t0).is_empty(), "nothing queued after the final answer");
        assert_eq!(tx.last_status(), 487);
    }
}
