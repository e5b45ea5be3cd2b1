//! Re-INVITEs of an answered call (RFC 3261 14.2, RFC 3264 8): hold, resume, a new
//! address, or an empty re-INVITE whose offer we make in the 200 and whose answer comes
//! in the ACK. Each has its own INVITE server transaction, so its answer is resent on
//! retransmission and an unacknowledged 200 ends the call like the first one's.

use super::{EndReason, LegOutput, SipLeg};
use crate::sip::admission::{stateless_reply, ALLOW};
use crate::sip::message::Request;
use crate::sip::sdp::{self, Direction, LocalMedia};
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
        if let Some(r) = self.reinvites.iter().find(|r| r.branch == req.core.branch) {
            if let Some(bytes) = r.tx.on_invite_retransmission() {
                self.out.push_back(LegOutput::Send(flow, bytes.to_vec()));
            }
            return;
        }
        let (status, bytes, offered) = self.reinvite_answer(&req, now);
        let mut tx = InviteServer::new(flow.transport.is_reliable(), self.limits.timers);
        tx.respond(status, bytes.clone(), now);
        self.out.push_back(LegOutput::Send(flow, bytes));
        self.reinvites.push(ReInvite { cseq: req.core.cseq, branch: req.core.branch.clone(), flow, tx, offered });
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
        let (body, offered) = if req.body.is_empty() {
            (sdp::offer(&media, Direction::SendRecv), Some(media))
        } else {
            let parsed = std::str::from_utf8(&req.body).ok().and_then(|t| sdp::parse(t).ok());
            match parsed.map(|o| sdp::answer(&o, &media)) {
                Some(Ok((neg, text))) => {
                    self.apply_media(&neg, now);
                    self.out.push_back(LegOutput::MediaUpdate(neg));
                    (text, None)
                }
                // RFC 3261 14.2: a failed re-INVITE leaves the session (and the remote
                // target) as they were.
                _ => {
                    let warn = "305 ivrpay \"Incompatible media format\"";
                    let b = req.reply(488, "Not Acceptable Here", None).header("Warning", warn).build();
                    return (488, b, None);
                }
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
        let Some(r) = self.reinvites.iter_mut().find(|r| r.cseq == cseq) else { return };
        if !r.tx.on_ack(now) {
            return;
        }
        let Some(local) = r.offered.take() else { return };
        let parsed = std::str::from_utf8(body).ok().and_then(|t| sdp::parse(t).ok());
        // Without a usable answer the media stays as it was: the call is up and its
        // audio already flows (unlike a first INVITE's late offer).
        if let Some(n) = parsed.and_then(|a| sdp::negotiate_from_answer(&a, &local).ok()) {
            self.apply_media(&n, now);
            self.out.push_back(LegOutput::MediaUpdate(n));
        }
    }

    /// Runs the re-INVITE transactions' timers; a 200 never acknowledged ends the call
    /// with a BYE (RFC 3261 13.3.1.4), as for the first INVITE.
    pub(super) fn reinvite_timeouts(&mut self, now: Instant) {
        let mut no_ack = false;
        for r in self.reinvites.iter_mut() {
            while r.tx.poll_timeout().is_some_and(|t| now >= t) {
                match r.tx.handle_timeout(now) {
                    Some(InviteOutput::Retransmit(b)) => self.out.push_back(LegOutput::Send(r.flow, b)),
                    Some(InviteOutput::AckTimeout) => no_ack = true,
                    Some(InviteOutput::Abandoned) | None => {}
                }
            }
        }
        self.reinvites.retain(|r| r.tx.state() != InviteState::Terminated);
        if no_ack {
            self.send_bye(EndReason::NoAck, now);
        }
    }
}
