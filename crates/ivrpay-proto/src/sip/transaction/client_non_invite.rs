//! The client non-INVITE transaction (RFC 3261 17.1.2), used for the BYE ivrpay sends
//! when a call flow hangs up: retransmitted over UDP by Timer E (T1 doubling to T2, then
//! every T2 once a provisional answer came), abandoned by Timer F after 64*T1.
//!
//! Like every core here it is fed inputs with `now` and polled: what to send and what
//! happened come out of [`ClientNonInvite::poll_output`], the next wake-up out of
//! [`ClientNonInvite::poll_timeout`]. It knows no socket and reads no clock.

use super::timers::{Backoff, Timers};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What the owner learns from the transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientOutput {
    /// Send the request (its first transmission, queued when the transaction starts).
    Send(Vec<u8>),
    /// Send the request again.
    Retransmit(Vec<u8>),
    /// The first final answer arrived with this status; the owner acts on it once.
    Answered(u16),
    /// Timer F fired: no final answer; the peer is gone (treat like a 408).
    Timeout,
}

/// A request we sent and its retransmission state.
#[derive(Debug)]
pub struct ClientNonInvite {
    request: Vec<u8>,
    retransmit: Option<Backoff>,
    timeout_at: Option<Instant>,
    terminate_at: Option<Instant>,
    terminated: bool,
    final_status: Option<u16>,
    timers: Timers,
    reliable: bool,
    out: VecDeque<ClientOutput>,
}

impl ClientNonInvite {
    /// Starts the transaction at `now`; its first transmission is the first output.
    pub fn new(request: Vec<u8>, reliable: bool, timers: Timers, now: Instant) -> Self {
        let mut out = VecDeque::with_capacity(2);
        out.push_back(ClientOutput::Send(request.clone()));
        ClientNonInvite {
            request,
            retransmit: (!reliable).then(|| Backoff::start(now, timers.t1, timers.t2)),
            timeout_at: Some(now + timers.timeout_64t1()),
            terminate_at: None,
            terminated: false,
            final_status: None,
            timers,
            reliable,
            out,
        }
    }

    /// The next output to carry out.
    pub fn poll_output(&mut self) -> Option<ClientOutput> {
        crate::queue::pop_or_release(&mut self.out)
    }

    /// A response matched this transaction. The first final answer is queued as
    /// [`ClientOutput::Answered`]; later ones are absorbed.
    pub fn on_response(&mut self, status: u16, now: Instant) {
        if self.final_status.is_some() {
            return;
        }
        if status < 200 {
            if let Some(b) = self.retransmit.as_mut() {
                b.set_interval(now, self.timers.t2);
            }
            return;
        }
        self.final_status = Some(status);
        self.retransmit = None;
        self.timeout_at = None;
        // Timer K absorbs retransmitted responses.
        let linger = if self.reliable { Duration::ZERO } else { self.timers.t4 };
        self.terminate_at = Some(now + linger);
        self.out.push_back(ClientOutput::Answered(status));
    }

    /// The next instant the machine needs to wake (none once terminated).
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.retransmit.map(|b| b.next()), self.timeout_at, self.terminate_at].into_iter().flatten().min()
    }

    /// Runs every timer due at `now`, queueing what they produce.
    pub fn handle_timeout(&mut self, now: Instant) {
        while self.poll_timeout().is_some_and(|t| now >= t) {
            self.fire_one(now);
        }
    }

    fn fire_one(&mut self, now: Instant) {
        if self.terminate_at.is_some_and(|t| now >= t) {
            self.terminate_at = None;
            self.terminated = true;
        } else if self.timeout_at.is_some_and(|t| now >= t) {
            self.timeout_at = None;
            self.retransmit = None;
            self.terminate_at = Some(now);
            self.out.push_back(ClientOutput::Timeout);
        } else if let Some(b) = self.retransmit.as_mut() {
            if b.fire(now) {
                self.out.push_back(ClientOutput::Retransmit(self.request.clone()));
            }
        }
    }

    /// True when the transaction is over (answered and Timer K passed, or timed out).
    pub fn is_terminated(&self, now: Instant) -> bool {
        self.terminated || self.terminate_at.is_some_and(|t| now >= t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(tx: &mut ClientNonInvite, t0: Instant, until: Instant) -> Vec<(u128, ClientOutput)> {
        let mut out = Vec::new();
        while let Some(at) = tx.poll_timeout().filter(|a| *a <= until) {
            if tx.is_terminated(at) {
                break;
            }
            tx.handle_timeout(at);
            while let Some(o) = tx.poll_output() {
                out.push(((at - t0).as_millis(), o));
            }
        }
        out
    }

    fn started(reliable: bool, t0: Instant) -> ClientNonInvite {
        let mut tx = ClientNonInvite::new(b"BYE".to_vec(), reliable, Timers::default(), t0);
        assert_eq!(tx.poll_output(), Some(ClientOutput::Send(b"BYE".to_vec())));
        assert_eq!(tx.poll_output(), None);
        tx
    }

    #[test]
    fn bye_is_retransmitted_by_timer_e_and_abandoned_by_timer_f() {
        let t0 = Instant::now();
        let mut tx = started(false, t0);
        let out = run(&mut tx, t0, t0 + Duration::from_secs(40));
        let times: Vec<u128> = out.iter().map(|(t, _)| *t).collect();
        assert_eq!(&times[..5], &[500, 1500, 3500, 7500, 11500]);
        assert_eq!(out.last().unwrap(), &(32_000, ClientOutput::Timeout));
    }

    #[test]
    fn provisional_answer_slows_retransmission_to_t2() {
        let t0 = Instant::now();
        let mut tx = started(false, t0);
        tx.on_response(100, t0 + Duration::from_millis(100));
        assert_eq!(tx.poll_output(), None);
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_millis(4100)));
    }

    #[test]
    fn final_answer_stops_retransmission_once() {
        let t0 = Instant::now();
        let mut tx = started(false, t0);
        tx.on_response(200, t0);
        assert_eq!(tx.poll_output(), Some(ClientOutput::Answered(200)));
        tx.on_response(200, t0);
        assert_eq!(tx.poll_output(), None);
        assert!(run(&mut tx, t0, t0 + Duration::from_secs(40)).is_empty());
        assert!(tx.is_terminated(t0 + Duration::from_secs(5)));
    }

    #[test]
    fn no_retransmission_over_tcp_but_timer_f_still_runs() {
        let t0 = Instant::now();
        let mut tx = started(true, t0);
        let out = run(&mut tx, t0, t0 + Duration::from_secs(40));
        assert_eq!(out, vec![(32_000, ClientOutput::Timeout)]);
    }

    #[test]
    fn a_terminated_transaction_asks_for_no_more_wake_ups() {
        let t0 = Instant::now();
        let mut tx = started(false, t0);
        tx.on_response(200, t0);
        tx.handle_timeout(t0 + Duration::from_secs(5));
        assert!(tx.is_terminated(t0 + Duration::from_secs(5)));
        assert_eq!(tx.poll_timeout(), None);
    }
}
