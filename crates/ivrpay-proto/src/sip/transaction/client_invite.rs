//! The client INVITE transaction (RFC 3261 17.1.1, as amended by RFC 6026), used for the
//! INVITE and re-INVITEs `ivrpay call` sends: Timer A retransmits the request over UDP
//! (T1, doubling without a cap), Timer B gives up after 64*T1 without any answer, a
//! provisional answer stops both, a 2xx is handed to the TU (which ACKs it, every time it
//! comes again, for Timer M), and an error answer is acknowledged here, by the
//! transaction, for Timer D.
//!
//! It knows the request's bytes and the few header values its ACK copies; it does not
//! know dialogs, SDP or sockets.

use super::timers::{Backoff, Timers};
use crate::sip::message::{self, MessageBuilder, Method, Request, Response, SipMessage};
use crate::sip::normalise::Framing;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Timer D over UDP (RFC 3261 table 4: "> 32 s for UDP"), independent of T1: it covers
/// the time a server may keep retransmitting its error answer.
pub const TIMER_D_UDP: Duration = Duration::from_secs(32);

/// Why a transaction could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ClientInviteError {
    /// The bytes given are not a parsable message.
    #[error("the request does not parse: {0}")]
    Unparsable(#[from] message::ParseError),
    /// The bytes given are a response, or a request other than INVITE.
    #[error("not an INVITE request")]
    NotAnInvite,
}

/// Where the transaction stands (RFC 3261 figure 5, RFC 6026 figure 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientInviteState {
    /// The INVITE was sent; no answer yet (Timers A and B run).
    Calling,
    /// A provisional answer came; waiting for the final one without a limit.
    Proceeding,
    /// A 2xx came; further 2xx are passed to the TU until Timer M (RFC 6026 7.2).
    Accepted,
    /// An error answer came and was ACKed; its retransmissions are ACKed until Timer D.
    Completed,
    /// Done; the owner may drop the machine.
    Terminated,
}

/// What the owner must do, in order.
#[derive(Clone, Debug)]
pub enum ClientInviteOutput {
    /// Send these bytes to the peer: the INVITE, a retransmission of it, or the ACK of
    /// an error answer.
    Transmit(Vec<u8>),
    /// A response for the TU: every 1xx, every 2xx (retransmissions too, so the TU
    /// sends its ACK again), and the first 3xx-6xx.
    Response(Response),
    /// Timer B fired: no answer at all (the TU treats it like a 408).
    Timeout,
}

/// The header values of the INVITE that its non-2xx ACK copies (RFC 3261 17.1.1.3).
#[derive(Clone, Debug)]
struct AckBase {
    uri: String,
    via: String,
    routes: Vec<String>,
    from: String,
    call_id: String,
    cseq: u32,
}

/// One INVITE we sent and its retransmission and acknowledgement state.
#[derive(Debug)]
pub struct ClientInvite {
    state: ClientInviteState,
    reliable: bool,
    timers: Timers,
    request: Vec<u8>,
    branch: String,
    base: AckBase,
    ack: Option<Vec<u8>>,
    retransmit: Option<Backoff>,
    timeout_at: Option<Instant>,
    terminate_at: Option<Instant>,
    out: VecDeque<ClientInviteOutput>,
}

impl ClientInvite {
    /// Starts the transaction; the INVITE comes out as the first `Transmit`. `reliable`
    /// is true over TCP (no Timer A, Timer D zero).
    pub fn new(request: Vec<u8>, reliable: bool, timers: Timers, now: Instant) -> Result<Self, ClientInviteError> {
        let req = match message::parse(&request, Framing::Datagram)? {
            SipMessage::Request(r) if r.method == Method::Invite => r,
            _ => return Err(ClientInviteError::NotAnInvite),
        };
        let base = ack_base(&req);
        let mut tx = ClientInvite {
            state: ClientInviteState::Calling,
            reliable,
            timers,
            branch: req.core.branch,
            base,
            ack: None,
            // Timer A doubles without the T2 cap (17.1.1.2); Timer B ends it first.
            retransmit: (!reliable).then(|| Backoff::start(now, timers.t1, timers.timeout_64t1())),
            timeout_at: Some(now + timers.timeout_64t1()),
            terminate_at: None,
            out: VecDeque::new(),
            request,
        };
        tx.out.push_back(ClientInviteOutput::Transmit(tx.request.clone()));
        Ok(tx)
    }

    /// The branch of the INVITE's Via: the transaction id responses are matched on.
    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// The INVITE's CSeq number.
    pub fn cseq(&self) -> u32 {
        self.base.cseq
    }

    /// Current state.
    pub fn state(&self) -> ClientInviteState {
        self.state
    }

    /// True when a response belongs to this transaction (RFC 3261 17.1.3).
    pub fn matches(&self, resp: &Response) -> bool {
        resp.core.branch == self.branch && resp.core.cseq_method == Method::Invite
    }

    /// A response arrived; responses of other transactions are ignored.
    pub fn on_response(&mut self, resp: Response, now: Instant) {
        if !self.matches(&resp) {
            return;
        }
        use ClientInviteState::*;
        match (self.state, resp.status) {
            (Calling | Proceeding, 100..=199) => {
                // 17.1.1.2: Proceeding stops Timer A; Timer B only applies in Calling.
                self.state = Proceeding;
                self.retransmit = None;
                self.timeout_at = None;
                self.out.push_back(ClientInviteOutput::Response(resp));
            }
            (Calling | Proceeding, 200..=299) => {
                // RFC 6026 7.2: Accepted, Timer M = 64*T1 whatever the transport.
                self.state = Accepted;
                self.stop_timers(now + self.timers.timeout_64t1());
                self.out.push_back(ClientInviteOutput::Response(resp));
            }
            (Accepted, 200..=299) => self.out.push_back(ClientInviteOutput::Response(resp)),
            (Calling | Proceeding, 300..) => {
                // 17.1.1.2: ACK it, pass it up, Timer D.
                self.state = Completed;
                let linger = if self.reliable { Duration::ZERO } else { TIMER_D_UDP };
                self.stop_timers(now + linger);
                let ack = self.build_ack(&resp);
                self.out.push_back(ClientInviteOutput::Transmit(ack.clone()));
                self.ack = Some(ack);
                self.out.push_back(ClientInviteOutput::Response(resp));
            }
            (Completed, 300..) => {
                // A retransmitted error answer: the ACK again, nothing for the TU.
                if let Some(ack) = &self.ack {
                    self.out.push_back(ClientInviteOutput::Transmit(ack.clone()));
                }
            }
            _ => {}
        }
    }

    fn stop_timers(&mut self, terminate_at: Instant) {
        self.retransmit = None;
        self.timeout_at = None;
        self.terminate_at = Some(terminate_at);
    }

    /// The ACK of an error answer: the INVITE's Request-URI, top Via (same branch),
    /// Route, From, Call-ID and CSeq number, and the response's To (RFC 3261 17.1.1.3).
    fn build_ack(&self, resp: &Response) -> Vec<u8> {
        let b = &self.base;
        let mut m = MessageBuilder::request(Method::Ack, &b.uri).header("Via", &b.via).header("Max-Forwards", "70");
        for r in &b.routes {
            m = m.header("Route", r);
        }
        m.header("From", &b.from)
            .header("To", resp.headers.get("To").unwrap_or_default())
            .header("Call-ID", &b.call_id)
            .header("CSeq", &format!("{} ACK", b.cseq))
            .build()
    }

    /// The next instant the machine needs to wake.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.retransmit.map(|b| b.next()), self.timeout_at, self.terminate_at].into_iter().flatten().min()
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.terminate_at.is_some_and(|t| now >= t) {
            self.state = ClientInviteState::Terminated;
            self.terminate_at = None;
            return;
        }
        if self.timeout_at.is_some_and(|t| now >= t) {
            // Timer B (17.1.1.2): still Calling, give up.
            self.state = ClientInviteState::Terminated;
            self.retransmit = None;
            self.timeout_at = None;
            self.out.push_back(ClientInviteOutput::Timeout);
            return;
        }
        if let Some(b) = self.retransmit.as_mut() {
            if b.fire(now) {
                self.out.push_back(ClientInviteOutput::Transmit(self.request.clone()));
            }
        }
    }

    /// The next output to carry out.
    pub fn poll_output(&mut self) -> Option<ClientInviteOutput> {
        crate::queue::pop_or_release(&mut self.out)
    }

    /// True once the transaction is over (or due to end at `now`).
    pub fn is_terminated(&self, now: Instant) -> bool {
        self.state == ClientInviteState::Terminated || self.terminate_at.is_some_and(|t| now >= t)
    }
}

fn ack_base(req: &Request) -> AckBase {
    let h = &req.headers;
    AckBase {
        uri: req.uri.clone(),
        via: h.get_all("Via").first().map(|v| v.to_string()).unwrap_or_default(),
        routes: h.get_all("Route").into_iter().map(str::to_string).collect(),
        from: h.get("From").unwrap_or_default().to_string(),
        call_id: req.core.call_id.clone(),
        cseq: req.core.cseq,
    }
}

#[cfg(test)]
#[path = "client_invite_tests.rs"]
mod tests;
