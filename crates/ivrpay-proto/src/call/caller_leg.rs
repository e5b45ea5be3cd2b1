//! The calling side of a call (`ivrpay call`, and the `Pair` test harness) as a sans-IO
//! state machine: the INVITE through the client INVITE transaction (Timers A/B/M), the
//! ACK of a 2xx built here because it is end-to-end (RFC 3261 13.2.2.4: sent again for
//! each retransmitted 2xx), INFO digits and our BYE through client non-INVITE
//! transactions (Timers E/F), and the server's requests (BYE, INFO, OPTIONS, re-INVITE)
//! answered through server transactions so their retransmissions get the same answer.
//!
//! Same shape as the server's `Call` core: inputs carry `now`, what to send and what
//! happened are polled out, randomness comes from the driver's generator. Re-INVITEs
//! (ours and the server's, with glare) live in `caller_reinvite.rs`.

use crate::sip::admission::ALLOW;
use crate::sip::dialog::{new_branch, new_tag, Dialog};
use crate::sip::message::{self, MessageBuilder, Method, Request, Response, SipMessage};
use crate::sip::normalise::Framing;
use crate::sip::sdp::{self, Direction, LocalMedia, Negotiated};
use crate::sip::transaction::{
    ClientInvite, ClientInviteError, ClientInviteOutput, ClientNonInvite, ClientOutput, NonInviteOutput,
    NonInviteServer, Timers,
};
use rand::rngs::StdRng;
use rand_core::{RngCore, SeedableRng};
use reinvite::{IncomingReInvite, OutgoingReInvite};
use std::collections::VecDeque;
use std::time::Instant;

/// Why the caller leg refused an input or could not start.
#[derive(Debug, thiserror::Error)]
pub enum CallerError {
    /// The bytes received are not a SIP message (a driver skips them).
    #[error("unparsable SIP message: {0}")]
    Unparsable(#[from] message::ParseError),
    /// The INVITE we built was refused by its transaction (a bug in the builder).
    #[error("the INVITE could not start: {0}")]
    Invite(#[from] ClientInviteError),
}

/// What the caller is, decided by its driver (addresses come from its sockets).
#[derive(Clone, Debug)]
pub struct CallerConfig {
    /// Whom to call, `sip:user@host[:port]`: the INVITE's Request-URI and To.
    pub target: String,
    /// Our address-of-record for From, e.g. `sip:caller@127.0.0.1`.
    pub from_uri: String,
    /// `SIP/2.0/UDP host:port` for the Via of our requests.
    pub via: String,
    /// Our Contact header value.
    pub contact: String,
    /// Our RTP address, port and codecs (the INVITE's offer).
    pub media: LocalMedia,
    /// True over TCP: no retransmissions (RFC 3261 17.1.1.2).
    pub reliable: bool,
    /// Transaction timers (T1...).
    pub timers: Timers,
    /// A Call-ID of our choosing (to test what a server makes of a reused one); None
    /// draws one.
    pub call_id: Option<String>,
}

/// How the call ended, for the caller's summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallerEnd {
    /// The INVITE got a final error answer (3xx-6xx) with this status.
    Rejected(u16),
    /// Timer B: no answer at all to the INVITE.
    NoResponse,
    /// The 2xx had no SDP answer we can use: it was ACKed and a BYE sent.
    BadAnswer(String),
    /// The server sent BYE (answered 200).
    RemoteBye,
    /// We hung up; the BYE's final status, or None when Timer F expired.
    Hangup(Option<u16>),
}

/// What the driver must do or may want to know, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallerOutput {
    /// Send these bytes to the server.
    Transmit(Vec<u8>),
    /// A provisional answer to the INVITE (ringing).
    Provisional(u16),
    /// The call was answered (first 2xx) with this status; start media as negotiated.
    Answered(u16, Negotiated),
    /// A re-INVITE (ours or the server's) changed the media.
    MediaUpdate(Negotiated),
    /// Our re-INVITE was refused with this status (491 is retried on its own).
    ReInviteRefused(u16),
    /// The call is over (given once).
    Ended(CallerEnd),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The INVITE is out, no 2xx yet.
    Inviting,
    /// Answered and ACKed.
    Up,
    /// Our BYE is out.
    Ending,
    /// Nothing more will happen to the call (transactions may linger).
    Ended,
}

/// One call placed by us.
pub struct CallerLeg {
    config: CallerConfig,
    call_id: String,
    local_tag: String,
    from: String,
    phase: Phase,
    invite: ClientInvite,
    invite_cseq: u32,
    dialog: Option<Dialog>,
    /// The ACK of the first 2xx, sent again for each retransmission of it.
    ack: Option<Vec<u8>>,
    /// A hang-up asked for before the answer: the BYE follows the 2xx.
    hangup_asked: bool,
    ended: bool,
    bye: Option<(String, ClientNonInvite)>,
    infos: Vec<(String, ClientNonInvite)>,
    servers: Vec<(String, NonInviteServer)>,
    reinvite: Option<OutgoingReInvite>,
    incoming: Vec<IncomingReInvite>,
    /// Our SDP's o= version, raised with each offer or answer that changes it.
    sdp_version: u64,
    /// Seed of the generator for later branches (same reason as `SipLeg`'s).
    rng_seed: u64,
    out: VecDeque<CallerOutput>,
}

impl CallerLeg {
    /// Places the call: the INVITE (with our SDP offer) is the first `Transmit`. Call-ID,
    /// tag and branch come from `rng`, owned by the driver, so runs are reproducible.
    pub fn new(config: CallerConfig, rng: &mut dyn RngCore, now: Instant) -> Result<CallerLeg, CallerError> {
        let drawn = format!("{:016x}@ivrpay-caller", rng.next_u64());
        let call_id = config.call_id.clone().unwrap_or(drawn);
        let local_tag = new_tag(rng);
        let from = format!("<{}>;tag={local_tag}", config.from_uri);
        let branch = new_branch(rng);
        let invite_cseq = 1;
        let bytes = MessageBuilder::request(Method::Invite, &config.target)
            .header("Via", &format!("{};branch={branch};rport", config.via))
            .header("Max-Forwards", "70")
            .header("From", &from)
            .header("To", &format!("<{}>", config.target))
            .header("Call-ID", &call_id)
            .header("CSeq", &format!("{invite_cseq} INVITE"))
            .header("Contact", &config.contact)
            .header("Allow", ALLOW)
            .header("User-Agent", "ivrpay-caller")
            .body("application/sdp", sdp::offer(&config.media, Direction::SendRecv).into_bytes())
            .build();
        let invite = ClientInvite::new(bytes, config.reliable, config.timers, now)?;
        let mut leg = CallerLeg {
            rng_seed: rng.next_u64(),
            call_id,
            local_tag,
            from,
            phase: Phase::Inviting,
            invite,
            invite_cseq,
            dialog: None,
            ack: None,
            hangup_asked: false,
            ended: false,
            bye: None,
            infos: Vec::new(),
            servers: Vec::new(),
            reinvite: None,
            incoming: Vec::new(),
            sdp_version: config.media.session_version,
            out: VecDeque::new(),
            config,
        };
        leg.drain_invite(now);
        Ok(leg)
    }

    /// The call's Call-ID (ours: we placed the call).
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// True while the call is answered and not hung up.
    pub fn is_up(&self) -> bool {
        self.phase == Phase::Up
    }

    /// True once the call ended and no transaction needs the leg any more: a driver
    /// may drop it.
    pub fn is_finished(&self, now: Instant) -> bool {
        self.phase == Phase::Ended
            && self.invite.is_terminated(now)
            && self.bye.as_ref().is_none_or(|(_, t)| t.is_terminated(now))
            && self.infos.iter().all(|(_, t)| t.is_terminated(now))
            && self.servers.iter().all(|(_, t)| t.is_terminated(now))
            && self.reinvite.as_ref().is_none_or(|r| r.is_terminated(now))
            && self.incoming.iter().all(|r| r.is_terminated(now))
    }

    /// The next output to carry out.
    pub fn poll_output(&mut self) -> Option<CallerOutput> {
        crate::queue::pop_or_release(&mut self.out)
    }

    /// The earliest instant `handle_timeout` is needed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.invite.poll_timeout(), self.bye.as_ref().and_then(|(_, t)| t.poll_timeout())]
            .into_iter()
            .chain(self.infos.iter().map(|(_, t)| t.poll_timeout()))
            .chain(self.servers.iter().map(|(_, t)| t.poll_timeout()))
            .chain(self.reinvite.iter().map(|r| r.poll_timeout()))
            .chain(self.incoming.iter().map(|r| r.poll_timeout()))
            .flatten()
            .min()
    }

    /// Bytes arrived from the server (over UDP, one datagram).
    pub fn handle_input(&mut self, bytes: &[u8], now: Instant) -> Result<(), CallerError> {
        let msg = message::parse(bytes, Framing::Datagram)?;
        self.handle_message(msg, now);
        Ok(())
    }

    /// A parsed message arrived from the server; other calls' messages are ignored.
    pub fn handle_message(&mut self, msg: SipMessage, now: Instant) {
        match msg {
            SipMessage::Response(r) if r.core.call_id == self.call_id => self.on_response(r, now),
            SipMessage::Request(r) if r.core.call_id == self.call_id => self.on_request(r, now),
            _ => {}
        }
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.invite.handle_timeout(now);
        self.drain_invite(now);
        if let Some((_, tx)) = self.bye.as_mut() {
            tx.handle_timeout(now);
        }
        self.drain_bye();
        for (_, tx) in self.infos.iter_mut() {
            tx.handle_timeout(now);
        }
        self.drain_infos();
        self.infos.retain(|(_, t)| !t.is_terminated(now));
        for (_, tx) in self.servers.iter_mut() {
            tx.handle_timeout(now);
        }
        self.servers.retain(|(_, t)| !t.is_terminated(now));
        self.reinvite_timeouts(now);
    }

    /// We hang up: BYE once answered; asked before the answer, the BYE follows the 2xx
    /// (no CANCEL: the server answers at once).
    pub fn hang_up(&mut self, now: Instant) {
        match self.phase {
            Phase::Inviting => self.hangup_asked = true,
            Phase::Up => self.send_bye(now),
            Phase::Ending | Phase::Ended => {}
        }
    }

    /// Sends a DTMF key by SIP INFO (`application/dtmf-relay`); ignored unless up.
    pub fn send_info_digit(&mut self, digit: char, duration_ms: u32, now: Instant) {
        if self.phase != Phase::Up {
            return;
        }
        let body = format!("Signal={digit}\r\nDuration={duration_ms}\r\n");
        let Some((b, branch)) = self.in_dialog(Method::Info) else { return };
        let bytes = b.body("application/dtmf-relay", body.into_bytes()).build();
        self.infos.push((branch, ClientNonInvite::new(bytes, self.config.reliable, self.config.timers, now)));
        self.drain_infos();
    }

    /// A fresh generator for one draw, re-seeded from the last (see `rng_seed`).
    fn rng(&mut self) -> StdRng {
        let mut rng = StdRng::seed_from_u64(self.rng_seed);
        self.rng_seed = rng.next_u64();
        rng
    }

    /// The next in-dialog request on a fresh branch; None before the answer (no dialog).
    fn in_dialog(&mut self, method: Method) -> Option<(MessageBuilder, String)> {
        let branch = new_branch(&mut self.rng());
        let (via, contact) = (self.config.via.clone(), self.config.contact.clone());
        let dialog = self.dialog.as_mut()?;
        Some((dialog.next_request(method, &branch, &via, &contact), branch))
    }

    fn push(&mut self, o: CallerOutput) {
        self.out.push_back(o);
    }

    fn end(&mut self, how: CallerEnd) {
        self.phase = Phase::Ended;
        if !std::mem::replace(&mut self.ended, true) {
            self.out.push_back(CallerOutput::Ended(how));
        }
    }

    fn send_bye(&mut self, now: Instant) {
        let Some((b, branch)) = self.in_dialog(Method::Bye) else { return };
        let tx = ClientNonInvite::new(b.build(), self.config.reliable, self.config.timers, now);
        self.bye = Some((branch, tx));
        self.phase = Phase::Ending;
        self.drain_bye();
    }

    fn drain_invite(&mut self, now: Instant) {
        while let Some(o) = self.invite.poll_output() {
            match o {
                ClientInviteOutput::Transmit(b) => self.out.push_back(CallerOutput::Transmit(b)),
                ClientInviteOutput::Response(r) if r.status < 200 => {
                    self.out.push_back(CallerOutput::Provisional(r.status))
                }
                ClientInviteOutput::Response(r) if r.status < 300 => self.on_2xx(r, now),
                ClientInviteOutput::Response(r) => self.end(CallerEnd::Rejected(r.status)),
                ClientInviteOutput::Timeout => self.end(CallerEnd::NoResponse),
            }
        }
    }

    /// A 2xx to the INVITE: the first forms the dialog and is ACKed (then media, or a
    /// BYE when its SDP is unusable); a retransmission means our ACK was lost: again.
    fn on_2xx(&mut self, resp: Response, now: Instant) {
        if let Some(ack) = &self.ack {
            self.out.push_back(CallerOutput::Transmit(ack.clone()));
            return;
        }
        let dialog = Dialog::from_2xx(&self.from, &self.local_tag, self.invite_cseq, &resp);
        let branch = new_branch(&mut self.rng());
        let ack = dialog.ack(self.invite_cseq, &branch, &self.config.via, &self.config.contact).build();
        self.dialog = Some(dialog);
        self.ack = Some(ack.clone());
        self.out.push_back(CallerOutput::Transmit(ack));
        self.phase = Phase::Up;
        let negotiated = std::str::from_utf8(&resp.body)
            .map_err(|e| e.to_string())
            .and_then(|t| sdp::parse(t).map_err(|e| e.to_string()))
            .and_then(|a| sdp::negotiate_from_answer(&a, &self.config.media).map_err(|e| e.to_string()));
        match negotiated {
            Ok(n) => {
                self.out.push_back(CallerOutput::Answered(resp.status, n));
                if self.hangup_asked {
                    self.send_bye(now);
                }
            }
            Err(e) => {
                self.send_bye(now);
                self.end(CallerEnd::BadAnswer(e));
            }
        }
    }

    fn drain_bye(&mut self) {
        let Some((_, tx)) = self.bye.as_mut() else { return };
        let mut answered = None;
        while let Some(o) = tx.poll_output() {
            match o {
                ClientOutput::Send(b) | ClientOutput::Retransmit(b) => self.out.push_back(CallerOutput::Transmit(b)),
                ClientOutput::Answered(s) => answered = Some(Some(s)),
                ClientOutput::Timeout => answered = Some(None),
            }
        }
        if let Some(status) = answered {
            self.end(CallerEnd::Hangup(status));
        }
    }

    fn drain_infos(&mut self) {
        for (_, tx) in self.infos.iter_mut() {
            while let Some(o) = tx.poll_output() {
                if let ClientOutput::Send(b) | ClientOutput::Retransmit(b) = o {
                    self.out.push_back(CallerOutput::Transmit(b));
                }
            }
        }
    }

    fn on_response(&mut self, resp: Response, now: Instant) {
        let branch = resp.core.branch.clone();
        if self.invite.matches(&resp) {
            if self.invite.is_terminated(now) && (200..300).contains(&resp.status) {
                // Past Timer M the transaction is gone, but a late 2xx still wants its ACK.
                self.out.extend(self.ack.clone().map(CallerOutput::Transmit));
                return;
            }
            self.invite.on_response(resp, now);
            return self.drain_invite(now);
        }
        if self.reinvite.as_ref().is_some_and(|r| r.matches(&resp)) {
            return self.on_reinvite_response(resp, now);
        }
        if let Some((_, tx)) = self.bye.as_mut().filter(|(b, _)| *b == branch) {
            tx.on_response(resp.status, now);
            return self.drain_bye();
        }
        if let Some((_, tx)) = self.infos.iter_mut().find(|(b, _)| *b == branch) {
            tx.on_response(resp.status, now);
            self.drain_infos();
        }
    }

    fn on_request(&mut self, req: Request, now: Instant) {
        match req.method {
            Method::Invite => self.on_server_reinvite(req, now),
            Method::Ack => self.on_server_ack(&req, now),
            _ => self.on_non_invite(req, now),
        }
    }

    /// BYE, INFO, OPTIONS (200) and anything else (405) from the server, each in its
    /// own server transaction: a retransmission gets the same answer, not a second end.
    fn on_non_invite(&mut self, req: Request, now: Instant) {
        if let Some((_, tx)) = self.servers.iter_mut().find(|(b, _)| *b == req.core.branch) {
            tx.on_retransmission(now);
            return self.drain_servers();
        }
        let in_dialog = self.dialog.as_ref().is_some_and(|d| d.matches(&req));
        let (status, reason) = match req.method {
            _ if !in_dialog => (481, "Call/Transaction Does Not Exist"),
            Method::Bye | Method::Info | Method::Options => (200, "OK"),
            _ => (405, "Method Not Allowed"),
        };
        let mut b = req.reply(status, reason, None);
        if status == 405 {
            b = b.header("Allow", ALLOW);
        }
        self.respond_non_invite(&req, b.build(), now);
        if req.method == Method::Bye && status == 200 {
            self.end(CallerEnd::RemoteBye);
        }
    }

    fn respond_non_invite(&mut self, req: &Request, bytes: Vec<u8>, now: Instant) {
        let mut tx = NonInviteServer::new(self.config.reliable, self.config.timers);
        tx.respond(bytes, now);
        self.servers.push((req.core.branch.clone(), tx));
        self.drain_servers();
    }

    fn drain_servers(&mut self) {
        for (_, tx) in self.servers.iter_mut() {
            while let Some(NonInviteOutput::Send(b) | NonInviteOutput::Retransmit(b)) = tx.poll_output() {
                self.out.push_back(CallerOutput::Transmit(b));
            }
        }
    }
}

#[path = "caller_reinvite.rs"]
mod reinvite;
