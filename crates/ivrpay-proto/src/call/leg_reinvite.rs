//! Re-INVITEs of an answered call (RFC 3261 14.2, RFC 3264 8): hold, resume, a new
//! address, or an empty re-INVITE whose offer we make in the 200 and whose answer comes
//! in the ACK. Each has its own INVITE server transaction, so its answer is resent on
//! retransmission and an unacknowledged 200 ends the call like the first one's.

use super::{EndReason, LegOutput, SipLeg};
use crate::sip::admission::{stateless_reply, ALLOW};
use crate::sip::message::Request;
use crate::sip::sdp::{self, LocalMedia};
use crate::sip::transaction::{InviteOutput, InviteServer, InviteState};
use crate::sip::Flow;
use std::time::Instant;

/// One re-INVITE server transaction.
pub(super) struct ReInvite {
    cseq: u32,
    branch: String,
    flow: Flow,
    tx: InviteServer,
    /// Our offer in the 200 of an SDP-less re-INVITE, until the ACK brings the answer.
    offered: Option<LocalMedia>,
}

impl ReInvite {
    pub(super) fn is_terminated(&self, now: Instant) -> bool {
        self.tx.is_terminated(now)
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.tx.poll_timeout()
    }
}

impl SipLeg {
    pub(super) fn on_reinvite(&mut self, req: Request, flow: Flow, now: Instant) {
        if let Some(i) = self.reinvites.iter().position(|r| r.branch == req.core.branch) {
            self.reinvites[i].tx.on_invite_retransmission(now);
            self.drain_reinvite(i, flow, now);
            return;
        }
        let (status, bytes, offered) = self.reinvite_answer(&req, now);
        let mut tx = InviteServer::new(flow.transport.is_reliable(), self.limits.timers);
        tx.respond(status, bytes, now);
        self.reinvites.push(ReInvite { cseq: req.core.cseq, branch: req.core.branch.clone(), flow, tx, offered });
        self.drain_reinvite(self.reinvites.len() - 1, flow, now);
    }

    /// Carries out what re-INVITE transaction `i` queued; its bytes go over `flow`.
    /// Returns true when the first ACK of its 2xx was among them. A 200 never
    /// acknowledged ends the call with a BYE (RFC 3261 13.3.1.4), as for the first
    /// INVITE.
    fn drain_reinvite(&mut self, i: usize, flow: Flow, now: Instant) -> bool {
        let (mut acknowledged, mut no_ack) = (false, false);
        while let Some(o) = self.reinvites[i].tx.poll_output() {
            match o {
                InviteOutput::Send(b) | InviteOutput::Retransmit(b) => self.out.push_back(LegOutput::Send(flow, b)),
                InviteOutput::Acknowledged => acknowledged = true,
                InviteOutput::AckTimeout => no_ack = true,
                InviteOutput::Abandoned => {}
            }
        }
        if no_ack {
            self.send_bye(EndReason::NoAck, now);
        }
        acknowledged
    }

    /// True while an INVITE of this dialog (the first or a re-INVITE) has a 2xx that
    /// awaits its ACK: its offer/answer exchange is not over, so a new one must wait.
    fn invite_pending(&self) -> bool {
        self.tx.state() == InviteState::Accepted || self.reinvites.iter().any(|r| r.tx.state() == InviteState::Accepted)
    }

    fn reinvite_answer(&mut self, req: &Request, now: Instant) -> (u16, Vec<u8>, Option<LocalMedia>) {
        let server = &*self.local.server.clone();
        if self.phase != super::Phase::Answered || !self.dialog.matches(req) {
            return (481, stateless_reply(req, 481, "Call/Transaction Does Not Exist", server).build(), None);
        }
        if let Err(e) = self.dialog.accept_cseq(req.core.cseq) {
            return (500, req.reply(500, &format!("Server Internal Error ({e})"), None).build(), None);
        }
        if self.invite_pending() {
            // RFC 3261 14.2 / RFC 6337: one offer/answer at a time; the peer retries later.
            let b = req.reply(491, "Request Pending", None).header("Server", server).build();
            return (491, b, None);
        }
        if let Some(b) = self.unsupported_require(req) {
            return (420, b, None);
        }
        let media = LocalMedia { session_version: self.sdp_version + 1, ..self.local.media.clone() };
        let (body, offered) = match sdp::reoffer(&req.body, media) {
            sdp::ReOffer::WeOffer { body, offered } => (body, Some(offered)),
            sdp::ReOffer::Answered { negotiated, body } => {
                self.apply_media(&negotiated, now);
                self.out.push_back(LegOutput::MediaUpdate(negotiated));
                (body, None)
            }
            // RFC 3261 14.2: a failed re-INVITE leaves the session (and the remote
            // target) as they were.
            sdp::ReOffer::Unusable => {
                let warn = "305 ivrpay \"Incompatible media format\"";
                let b = req.reply(488, "Not Acceptable Here", None).header("Warning", warn).build();
                return (488, b, None);
            }
        };
        self.sdp_version += 1;
        self.dialog.update_target(req);
        let ok = req
            .reply(200, "OK", None)
            .header("Contact", &self.local.contact)
            .header("Allow", ALLOW)
            .header("Server", server)
            .body("application/sdp", body.into_bytes())
            .build();
        (200, ok, offered)
    }

    /// An ACK whose CSeq is not the first INVITE's: a re-INVITE's, maybe with the
    /// answer to the offer we made in its 200.
    pub(super) fn on_reinvite_ack(&mut self, cseq: u32, body: &[u8], now: Instant) {
        let Some(i) = self.reinvites.iter().position(|r| r.cseq == cseq) else { return };
        self.reinvites[i].tx.on_ack(now);
        let flow = self.reinvites[i].flow;
        if !self.drain_reinvite(i, flow, now) {
            return;
        }
        let Some(local) = self.reinvites[i].offered.take() else { return };
        let parsed = std::str::from_utf8(body).ok().and_then(|t| sdp::parse(t).ok());
        // Without a usable answer the media stays as it was: the call is up and its
        // audio already flows (unlike a first INVITE's late offer).
        if let Some(n) = parsed.and_then(|a| sdp::negotiate_from_answer(&a, &local).ok()) {
            self.apply_media(&n, now);
            self.out.push_back(LegOutput::MediaUpdate(n));
        }
    }

    /// Runs the re-INVITE transactions' timers and drops the finished ones.
    pub(super) fn reinvite_timeouts(&mut self, now: Instant) {
        for i in 0..self.reinvites.len() {
            self.reinvites[i].tx.handle_timeout(now);
            let flow = self.reinvites[i].flow;
            self.drain_reinvite(i, flow, now);
        }
        self.reinvites.retain(|r| r.tx.state() != InviteState::Terminated);
    }
}
