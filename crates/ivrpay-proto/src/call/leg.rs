//! The SIP leg of one answered call, as a sans-IO state machine.
//!
//! It owns the INVITE server transaction, the dialog, the server transactions of
//! in-dialog requests and the client transaction of our BYE, plus the call's guard
//! timers (media inactivity, maximum duration). The call task feeds it messages and
//! instants and carries out its outputs; tests do the same on virtual time.

use crate::sip::admission::{stateless_reply, ACCEPT, ALLOW};
use crate::sip::dialog::{new_tag, Dialog};
use crate::sip::message::{Method, Request, Response};
use crate::sip::sdp::{self, Direction, Negotiated, SessionDescription};
use crate::sip::transaction::{
    ClientNonInvite, ClientOutput, InviteOutput, InviteServer, NonInviteOutput, NonInviteServer, ServerTable,
};
use crate::sip::Flow;
use rand::rngs::StdRng;
use rand_core::{RngCore, SeedableRng};
use reinvite::ReInvite;
use std::collections::VecDeque;
use std::time::Instant;
pub use timers::{LegTimer, LegTimers};
pub use types::{EndReason, LegOutput, Limits, LocalParty};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Ringing,
    Answered,
    Ending,
    Ended,
}

/// The SIP leg state machine.
pub struct SipLeg {
    invite: Request,
    flow: Flow,
    local: LocalParty,
    limits: Limits,
    tx: InviteServer,
    reinvites: Vec<ReInvite>,
    dialog: Dialog,
    phase: Phase,
    offer: Option<SessionDescription>,
    late_offer_sent: bool,
    /// In-dialog requests answered, by branch (bounded: a flood pushes out the oldest).
    nist: ServerTable,
    bye: Option<(String, ClientNonInvite)>,
    /// The leg's own deadlines (answer, maximum duration, media inactivity).
    timers: LegTimers,
    /// The caller is not sending RTP (on hold): the inactivity timeout is paused.
    media_paused: bool,
    last_media: Instant,
    sdp_version: u64,
    /// Seed of the generator for the branches of the requests we send (drawn from the
    /// driver's rng at creation, re-drawn at each use): the leg needs randomness long
    /// after `new`, and 8 bytes per call are cheaper than a generator's state.
    rng_seed: u64,
    out: VecDeque<LegOutput>,
}

impl SipLeg {
    /// Takes charge of an admitted INVITE: sends 100 Trying (and 180 when ringing first).
    /// Our tag, first CSeq and later branches come from `rng`, owned by the driver.
    pub fn new(
        invite: Request,
        offer: Option<SessionDescription>,
        flow: Flow,
        local: LocalParty,
        limits: Limits,
        rng: &mut dyn RngCore,
        now: Instant,
    ) -> SipLeg {
        let mut leg = SipLeg {
            dialog: Dialog::from_invite(&invite, &new_tag(rng), rng),
            rng_seed: rng.next_u64(),
            tx: InviteServer::new(flow.transport.is_reliable(), limits.timers),
            reinvites: Vec::new(),
            phase: Phase::Ringing,
            offer,
            late_offer_sent: false,
            nist: ServerTable::default(),
            bye: None,
            timers: LegTimers::default(),
            media_paused: false,
            last_media: now,
            sdp_version: local.media.session_version,
            out: VecDeque::new(),
            invite,
            flow,
            local,
            limits,
        };
        leg.timers.set(LegTimer::Answer, now + limits.answer_delay);
        let trying = leg.invite.reply(100, "Trying", None).header("Server", &leg.local.server).build();
        leg.respond_invite(100, trying, now);
        if !limits.answer_delay.is_zero() {
            let ringing = leg
                .invite
                .reply(180, "Ringing", Some(&leg.dialog.local_tag))
                .header("Contact", &leg.local.contact)
                .build();
            leg.respond_invite(180, ringing, now);
        } else {
            leg.answer(now);
        }
        leg
    }

    /// The call's Call-ID.
    pub fn call_id(&self) -> &str {
        &self.dialog.call_id
    }

    /// The next output to carry out.
    pub fn poll_output(&mut self) -> Option<LegOutput> {
        crate::queue::pop_or_release(&mut self.out)
    }

    /// True while outputs are waiting to be polled.
    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// True once nothing more can happen on this leg (all transactions done). Until
    /// then the leg must stay reachable by its Call-ID: an error answer to the INVITE
    /// is resent over UDP until its ACK, the ACK must find its transaction, and a
    /// retransmitted INVITE must get that answer again rather than start a new call.
    pub fn is_finished(&self, now: Instant) -> bool {
        self.phase == Phase::Ended
            && self.tx.is_terminated(now)
            && self.reinvites.iter().all(|r| r.is_terminated(now))
            && self.bye.as_ref().is_none_or(|(_, b)| b.is_terminated(now))
            && self.nist.all_terminated(now)
    }

    /// True while the call is up (answered and not hung up).
    pub fn is_active(&self) -> bool {
        matches!(self.phase, Phase::Answered)
    }

    /// The caller's RTP was seen at `at`; pushes back the inactivity timeout.
    pub fn media_activity(&mut self, at: Instant) {
        if at > self.last_media {
            self.last_media = at;
        }
        if self.timers.is_armed(LegTimer::MediaInactivity) && !self.media_paused {
            self.timers.set(LegTimer::MediaInactivity, self.last_media + self.limits.media_inactivity);
        }
    }

    /// Media parameters were agreed (answer, late-offer ACK, re-INVITE): while the
    /// caller is not sending (hold with a=inactive, a=recvonly, a=sendonly or
    /// c=0.0.0.0) silence is expected, so the inactivity timeout gives way to the hold
    /// timeout, counted from the hold and not pushed back by packets (a held phone may
    /// or may not send music, and a call parked on hold must not hold its place for
    /// ever); the inactivity timeout starts afresh when the caller resumes.
    fn apply_media(&mut self, neg: &Negotiated, now: Instant) {
        let paused = neg.hold || neg.direction != Direction::SendRecv;
        if self.phase != Phase::Answered {
            return;
        }
        if paused {
            // Already on hold: the hold timeout keeps running from the hold.
            if !self.media_paused {
                self.timers.set(LegTimer::MediaInactivity, now + self.limits.hold_timeout);
            }
        } else if self.media_paused || !self.timers.is_armed(LegTimer::MediaInactivity) {
            self.last_media = now;
            self.timers.set(LegTimer::MediaInactivity, now + self.limits.media_inactivity);
        }
        self.media_paused = paused;
    }

    /// Where the caller's SIP comes from (the INVITE's source).
    pub fn remote(&self) -> std::net::SocketAddr {
        self.flow.remote
    }

    /// The call flow (or the server) ends the call: BYE if answered, 480 if still ringing.
    pub fn hangup(&mut self, reason: EndReason, now: Instant) {
        match self.phase {
            Phase::Ringing => {
                let bytes = self.invite.reply(480, "Temporarily Unavailable", Some(&self.dialog.local_tag)).build();
                self.respond_invite(480, bytes, now);
                self.end(reason);
            }
            Phase::Answered => self.send_bye(reason, now),
            Phase::Ending | Phase::Ended => {}
        }
    }

    fn end(&mut self, reason: EndReason) {
        if self.phase != Phase::Ended {
            self.phase = Phase::Ended;
            self.timers.clear_all();
            self.out.push_back(LegOutput::Ended(reason));
        }
    }

    fn send_bye(&mut self, reason: EndReason, now: Instant) {
        if self.phase != Phase::Answered {
            return;
        }
        let mut rng = StdRng::seed_from_u64(self.rng_seed);
        self.rng_seed = rng.next_u64();
        let (b, branch) = self.dialog.request(Method::Bye, &self.local.via, &self.local.contact, &mut rng);
        let bytes = b.header("Server", &self.local.server).build();
        let tx = ClientNonInvite::new(bytes, self.flow.transport.is_reliable(), self.limits.timers, now);
        self.bye = Some((branch, tx));
        self.drain_bye();
        self.phase = Phase::Ending;
        self.end(reason);
    }

    /// In-dialog requests go to the route set's first hop or the remote target when it
    /// is an IP literal; otherwise (a hostname, or TCP) back along the INVITE's flow.
    fn bye_flow(&self) -> Flow {
        if self.flow.transport.is_reliable() {
            return self.flow;
        }
        let uri = self.dialog.next_hop_uri();
        match crate::sip::headers::uri_host_port(uri) {
            Some((host, port)) => match host.parse::<std::net::IpAddr>() {
                Ok(ip) => Flow { remote: std::net::SocketAddr::new(ip, port.unwrap_or(5060)), ..self.flow },
                Err(_) => self.flow,
            },
            None => self.flow,
        }
    }

    fn respond_invite(&mut self, status: u16, bytes: Vec<u8>, now: Instant) {
        self.tx.respond(status, bytes, now);
        self.drain_invite(self.flow, now);
    }

    /// Carries out what the INVITE transaction queued; its bytes go over `flow`.
    /// Returns true when the first ACK of our 2xx was among them.
    fn drain_invite(&mut self, flow: Flow, now: Instant) -> bool {
        let mut acknowledged = false;
        while let Some(o) = self.tx.poll_output() {
            match o {
                InviteOutput::Send(b) | InviteOutput::Retransmit(b) => self.out.push_back(LegOutput::Send(flow, b)),
                InviteOutput::Acknowledged => acknowledged = true,
                InviteOutput::AckTimeout => self.send_bye(EndReason::NoAck, now),
                InviteOutput::Abandoned => self.end(EndReason::Cancelled),
            }
        }
        acknowledged
    }

    /// Carries out what our BYE's transaction queued. Its answer (or Timer F) needs no
    /// action: the call already ended for the caller when the BYE left.
    fn drain_bye(&mut self) {
        let flow = self.bye_flow();
        let Some((_, tx)) = self.bye.as_mut() else { return };
        while let Some(o) = tx.poll_output() {
            match o {
                ClientOutput::Send(b) | ClientOutput::Retransmit(b) => self.out.push_back(LegOutput::Send(flow, b)),
                ClientOutput::Answered(_) | ClientOutput::Timeout => {}
            }
        }
    }

    fn answer(&mut self, now: Instant) {
        self.timers.clear(LegTimer::Answer);
        let (body, negotiated) = match &self.offer {
            Some(offer) => match sdp::answer(offer, &self.local.media) {
                Ok((neg, text)) => (text, Some(neg)),
                Err(_) => {
                    let b = self.invite.reply(488, "Not Acceptable Here", Some(&self.dialog.local_tag)).build();
                    self.respond_invite(488, b, now);
                    self.end(EndReason::BadAnswer);
                    return;
                }
            },
            None => {
                self.late_offer_sent = true;
                (sdp::offer(&self.local.media, Direction::SendRecv), None)
            }
        };
        let ok = self
            .invite
            .reply(200, "OK", Some(&self.dialog.local_tag))
            .header("Contact", &self.local.contact)
            .header("Allow", ALLOW)
            .header("Server", &self.local.server)
            .body("application/sdp", body.into_bytes())
            .build();
        self.respond_invite(200, ok, now);
        self.phase = Phase::Answered;
        self.timers.set(LegTimer::MaxDuration, now + self.limits.max_duration);
        self.last_media = now;
        self.timers.set(LegTimer::MediaInactivity, now + self.limits.media_inactivity);
        if let Some(n) = negotiated {
            self.apply_media(&n, now);
            self.out.push_back(LegOutput::MediaStart(n));
        }
    }

    /// A request with this call's Call-ID arrived.
    pub fn on_request(&mut self, req: Request, flow: Flow, now: Instant) {
        match req.method {
            Method::Invite if req.core.branch == self.invite.core.branch => {
                self.tx.on_invite_retransmission(now);
                self.drain_invite(flow, now);
            }
            Method::Invite => self.on_reinvite(req, flow, now),
            Method::Ack => self.on_ack(req, now),
            Method::Cancel => self.on_cancel(req, flow, now),
            _ => self.on_in_dialog(req, flow, now),
        }
    }

    fn on_ack(&mut self, ack: Request, now: Instant) {
        if ack.core.cseq == self.invite.core.cseq {
            self.tx.on_ack(now);
            let first_2xx_ack = self.drain_invite(self.flow, now);
            if first_2xx_ack {
                self.out.push_back(LegOutput::Confirmed);
            }
            if first_2xx_ack && self.late_offer_sent {
                self.late_offer_sent = false;
                let parsed = std::str::from_utf8(&ack.body).ok().and_then(|t| sdp::parse(t).ok());
                match parsed.and_then(|a| sdp::negotiate_from_answer(&a, &self.local.media).ok()) {
                    Some(n) => {
                        self.apply_media(&n, now);
                        self.out.push_back(LegOutput::MediaStart(n));
                    }
                    None => self.send_bye(EndReason::BadAnswer, now),
                }
            }
        } else {
            self.on_reinvite_ack(ack.core.cseq, &ack.body, now);
        }
    }

    fn on_cancel(&mut self, req: Request, flow: Flow, now: Instant) {
        if req.core.branch != self.invite.core.branch {
            let b = stateless_reply(&req, 481, "Call/Transaction Does Not Exist", &self.local.server).build();
            self.out.push_back(LegOutput::Send(flow, b));
            return;
        }
        let ok = req.reply(200, "OK", Some(&self.dialog.local_tag)).build();
        self.answer_nist(&req, flow, ok, now);
        if self.phase == Phase::Ringing {
            let b = self.invite.reply(487, "Request Terminated", Some(&self.dialog.local_tag)).build();
            self.respond_invite(487, b, now);
            self.end(EndReason::Cancelled);
        }
    }

    fn on_in_dialog(&mut self, mut req: Request, flow: Flow, now: Instant) {
        if let Some(tx) = self.nist.get_mut(&req.core.branch) {
            tx.on_retransmission(now);
            while let Some(NonInviteOutput::Send(b) | NonInviteOutput::Retransmit(b)) = tx.poll_output() {
                self.out.push_back(LegOutput::Send(flow, b));
            }
            return;
        }
        if !self.dialog.matches(&req) {
            // Answered statelessly (the same bytes for a retransmission): a stranger
            // guessing tags leaves nothing behind.
            let b = stateless_reply(&req, 481, "Call/Transaction Does Not Exist", &self.local.server).build();
            self.out.push_back(LegOutput::Send(flow, b));
            return;
        }
        if let Err(e) = self.dialog.accept_cseq(req.core.cseq) {
            let b = req.reply(500, &format!("Server Internal Error ({e})"), None).build();
            return self.answer_nist(&req, flow, b, now);
        }
        if let Some(b) = self.unsupported_require(&req) {
            return self.answer_nist(&req, flow, b, now);
        }
        let (status, reason) = match req.method {
            Method::Bye => (200, "OK"),
            Method::Options => (200, "OK"),
            Method::Info => {
                let read = info_digit(&req);
                // The body may carry a card digit: wiped once read, not left to the
                // allocator.
                zeroize::Zeroize::zeroize(&mut req.body);
                match read {
                    Ok(Some(d)) => {
                        self.out.push_back(LegOutput::Digit(d));
                        (200, "OK")
                    }
                    Ok(None) => (200, "OK"),
                    Err(_) => (415, "Unsupported Media Type"),
                }
            }
            Method::Other(_) => (501, "Not Implemented"),
            _ => (405, "Method Not Allowed"),
        };
        let mut b = req.reply(status, reason, None).header("Server", &self.local.server);
        if status != 200 || req.method == Method::Options {
            b = b.header("Allow", ALLOW).header("Accept", ACCEPT);
        }
        self.answer_nist(&req, flow, b.build(), now);
        if req.method == Method::Bye {
            self.end(EndReason::RemoteBye);
        }
    }

    fn unsupported_require(&self, req: &Request) -> Option<Vec<u8>> {
        let req_opts = req.headers.get_all("Require");
        (!req_opts.is_empty())
            .then(|| req.reply(420, "Bad Extension", None).header("Unsupported", &req_opts.join(", ")).build())
    }

    fn answer_nist(&mut self, req: &Request, flow: Flow, bytes: Vec<u8>, now: Instant) {
        let mut tx = NonInviteServer::new(flow.transport.is_reliable(), self.limits.timers);
        tx.respond(bytes, now);
        while let Some(NonInviteOutput::Send(b) | NonInviteOutput::Retransmit(b)) = tx.poll_output() {
            self.out.push_back(LegOutput::Send(flow, b));
        }
        self.nist.insert(req.core.branch.clone(), tx);
    }

    /// A response arrived with this Call-ID (to our BYE).
    pub fn on_response(&mut self, resp: Response, now: Instant) {
        if let Some((branch, tx)) = self.bye.as_mut() {
            if *branch == resp.core.branch {
                tx.on_response(resp.status, now);
                self.drain_bye();
            }
        }
    }

    /// The earliest instant this leg needs to be woken.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.timers.next(), self.tx.poll_timeout(), self.bye.as_ref().and_then(|(_, tx)| tx.poll_timeout())]
            .into_iter()
            .chain(self.reinvites.iter().map(|r| r.poll_timeout()))
            .chain([self.nist.poll_timeout()])
            .flatten()
            .min()
    }

    /// Runs whatever timers are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timers.is_due(LegTimer::Answer, now) && self.phase == Phase::Ringing {
            self.answer(now);
        }
        self.tx.handle_timeout(now);
        self.drain_invite(self.flow, now);
        self.reinvite_timeouts(now);
        if let Some((_, tx)) = self.bye.as_mut() {
            tx.handle_timeout(now);
            self.drain_bye();
        }
        self.nist.handle_timeout(now);
        if self.phase == Phase::Answered {
            if self.timers.is_due(LegTimer::MaxDuration, now) {
                self.send_bye(EndReason::MaxDuration, now);
            } else if self.timers.is_due(LegTimer::MediaInactivity, now) {
                let reason = if self.media_paused { EndReason::HoldTimeout } else { EndReason::MediaTimeout };
                self.send_bye(reason, now);
            }
        }
    }
}

/// Why an INFO body carries no digit we can read; all are answered 415.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InfoError {
    /// The body is neither `application/dtmf-relay` nor `application/dtmf`.
    #[error("unsupported INFO content type")]
    UnsupportedType,
    /// The body is not UTF-8 text.
    #[error("INFO body is not text")]
    NotText,
    /// A dtmf-relay body without a `Signal=` line.
    #[error("no Signal line in the dtmf-relay body")]
    NoSignal,
    /// The signal is not one DTMF key (nor the event number of * or #).
    #[error("INFO signal is not a DTMF key")]
    BadSignal,
}

/// Reads a digit from an INFO body: `application/dtmf-relay` (`Signal=5`) or
/// `application/dtmf` (`5`). Ok(None) for an empty INFO (used as a keep-alive).
fn info_digit(req: &Request) -> Result<Option<char>, InfoError> {
    if req.body.is_empty() {
        return Ok(None);
    }
    let ctype =
        req.headers.get("Content-Type").unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let body = std::str::from_utf8(&req.body).map_err(|_| InfoError::NotText)?;
    let signal = match ctype.as_str() {
        "application/dtmf-relay" => body
            .lines()
            .find_map(|l| {
                l.split_once('=')
                    .filter(|(k, _)| k.trim().eq_ignore_ascii_case("signal"))
                    .map(|(_, v)| v.trim().to_string())
            })
            .ok_or(InfoError::NoSignal)?,
        "application/dtmf" => body.trim().to_string(),
        _ => return Err(InfoError::UnsupportedType),
    };
    let mut chars = signal.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_digit() || "*#ABCDabcd".contains(c) => Ok(Some(c.to_ascii_uppercase())),
        // Some phones send the RFC 4733 event number (10 for *, 11 for #).
        _ => match signal.as_str() {
            "10" => Ok(Some('*')),
            "11" => Ok(Some('#')),
            _ => Err(InfoError::BadSignal),
        },
    }
}

#[path = "leg_reinvite.rs"]
mod reinvite;

#[path = "leg_timers.rs"]
mod timers;

#[path = "leg_types.rs"]
mod types;

#[cfg(test)]
#[path = "leg_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "leg_flood_tests.rs"]
mod flood_tests;
