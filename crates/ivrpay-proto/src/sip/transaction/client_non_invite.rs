//! The client non-INVITE transaction (RFC 3261 17.1.2), used for the BYE ivrpay sends
//! when a call flow hangs up: retransmitted over UDP by Timer E (T1 doubling to T2, then
//! every T2 once a provisional answer came), abandoned by Timer F after 64*T1.

use super::timers::{Backoff, Timers};
use std::time::{Duration, Instant};

/// What the owner learns from the transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientOutput {
    /// Send the request again.
    Retransmit(Vec<u8>),
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
    final_status: Option<u16>,
    timers: Timers,
    reliable: bool,
}

impl ClientNonInvite {
    /// Starts the transaction; the caller sends `request` now.
    pub fn new(request: Vec<u8>, reliable: bool, timers: Timers, now: Instant) -> Self {
        ClientNonInvite {
            request,
            retransmit: (!reliable).then(|| Backoff::start(now, timers.t1, timers.t2)),
            timeout_at: Some(now + timers.timeout_64t1()),
            terminate_at: None,
            final_status: None,
            timers,
            reliable,
        }
    }

    /// A response matched this transaction. Returns the status if it is the first final
    /// answer (the owner acts on it once).
    pub fn on_response(&mut self, status: u16, now: Instant) -> Option<u16> {
        if self.final_status.is_some() {
            return None;
        }
        if status < 200 {
            if let Some(b) = self.retransmit.as_mut() {
                b.set_interval(now, self.timers.t2);
            }
            return None;
        }
        self.final_status = Some(status);
        self.retransmit = None;
        self.timeout_at = None;
        // Timer K absorbs retransmitted responses.
        let linger = if self.reliable { Duration::ZERO } else { self.timers.t4 };
        self.terminate_at = Some(now + linger);
        Some(status)
    }

    /// The next instant the machine needs to wake.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.retransmit.map(|b| b.next()), self.timeout_at, self.terminate_at].into_iter().flatten().min()
    }

    /// Runs due timers.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<ClientOutput> {
        if self.timeout_at.is_some_and(|t| now >= t) {
            self.timeout_at = None;
            self.retransmit = None;
            self.terminate_at = Some(now);
            return Some(ClientOutput::Timeout);
        }
        if let Some(b) = self.retransmit.as_mut() {
            if b.fire(now) {
                return Some(ClientOutput::Retransmit(self.request.clone()));
            }
        }
        None
    }

    /// True when the transaction is over (answered and Timer K passed, or timed out).
    pub fn is_terminated(&self, now: Instant) -> bool {
        self.terminate_at.is_some_and(|t| now >= t)
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
            if let Some(o) = tx.handle_timeout(at) {
                out.push(((at - t0).as_millis(), o));
            }
        }
        out
    }

    #[test]
    fn bye_is_retransmitted_by_timer_e_and_abandoned_by_timer_f() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(b"BYE".to_vec(), false, Timers::default(), t0);
        let out = run(&mut tx, t0, t0 + Duration::from_secs(40));
        let times: Vec<u128> = out.iter().map(|(t, _)| *t).collect();
        assert_eq!(&times[..5], &[500, 1500, 3500, 7500, 11500]);
        assert_eq!(out.last().unwrap(), &(32_000, ClientOutput::Timeout));
    }

    #[test]
    fn provisional_answer_slows_retransmission_to_t2() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(b"BYE".to_vec(), false, Timers::default(), t0);
        assert_eq!(tx.on_response(100, t0 + Duration::from_millis(100)), None);
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_millis(4100)));
    }

    #[test]
    fn final_answer_stops_retransmission_once() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(b"BYE".to_vec(), false, Timers::default(), t0);
        assert_eq!(tx.on_response(200, t0), Some(200));
        assert_eq!(tx.on_response(200, t0), None);
        assert!(run(&mut tx, t0, t0 + Duration::from_secs(40)).is_empty());
        assert!(tx.is_terminated(t0 + Duration::from_secs(5)));
    }

    #[test]
    fn no_retransmission_over_tcp_but_timer_f_still_runs() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(b"BYE".to_vec(), true, Timers::default(), t0);
        let out = run(&mut tx, t0, t0 + Duration::from_secs(40));
        assert_eq!(out, vec![(32_000, ClientOutput::Timeout)]);
    }
}
