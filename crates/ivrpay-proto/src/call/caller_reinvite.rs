//! Re-INVITEs of the caller leg (RFC 3261 14): ours (hold, resume) through a client
//! INVITE transaction whose 2xx we ACK, retried after a random wait when the server
//! answers 491 (14.1: the Call-ID's owner waits 2.1 to 4 s, in 10 ms units); and the
//! server's, answered through an INVITE server transaction: 491 while ours is in
//! progress (glare, 14.2), else 200 with our SDP answer (or our offer when it had none,
//! the answer then coming in the ACK).

use super::{CallerLeg, CallerOutput, Phase};
use crate::sip::message::{Method, Request, Response};
use crate::sip::sdp::{self, Direction, LocalMedia};
use crate::sip::transaction::{ClientInvite, ClientInviteOutput, ClientInviteState, InviteOutput, InviteServer};
use rand_core::RngCore;
use std::time::{Duration, Instant};

/// Our re-INVITE: its transaction, the offer it carries, and its retry after a 491.
pub(super) struct OutgoingReInvite {
    direction: Direction,
    tx: Option<ClientInvite>,
    offered: LocalMedia,
    /// The ACK of its 2xx, sent again for each retransmission of it.
    ack: Option<Vec<u8>>,
    retry_at: Option<Instant>,
}

impl OutgoingReInvite {
    pub(super) fn matches(&self, resp: &Response) -> bool {
        self.tx.as_ref().is_some_and(|t| t.matches(resp))
    }

    /// In progress in the sense of 14.2: sent and not finally answered.
    fn in_progress(&self) -> bool {
        self.tx
            .as_ref()
            .is_some_and(|t| matches!(t.state(), ClientInviteState::Calling | ClientInviteState::Proceeding))
    }

    pub(super) fn is_terminated(&self, now: Instant) -> bool {
        self.retry_at.is_none() && self.tx.as_ref().is_none_or(|t| t.is_terminated(now))
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        [self.tx.as_ref().and_then(|t| t.poll_timeout()), self.retry_at].into_iter().flatten().min()
    }
}

/// A re-INVITE from the server and our answer's transaction.
pub(super) struct IncomingReInvite {
    branch: String,
    cseq: u32,
    tx: InviteServer,
    /// Our offer in the 200 of an SDP-less re-INVITE, until the ACK brings the answer.
    offered: Option<LocalMedia>,
}

impl IncomingReInvite {
    pub(super) fn is_terminated(&self, now: Instant) -> bool {
        self.tx.is_terminated(now)
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.tx.poll_timeout()
    }
}

impl CallerLeg {
    /// Sends a re-INVITE offering `direction` (SendOnly puts the server on hold,
    /// SendRecv resumes). False, and nothing sent, unless the call is up with no
    /// re-INVITE of ours under way.
    pub fn reinvite(&mut self, direction: Direction, now: Instant) -> bool {
        if self.phase != Phase::Up || self.reinvite.as_ref().is_some_and(|r| !r.is_terminated(now)) {
            return false;
        }
        self.sdp_version += 1;
        let offered = LocalMedia { session_version: self.sdp_version, ..self.config.media.clone() };
        self.reinvite = Some(OutgoingReInvite { direction, tx: None, offered, ack: None, retry_at: None });
        self.start_reinvite(now);
        true
    }

    /// True while our re-INVITE waits for its final answer (glare answers 491 then).
    pub fn reinvite_in_progress(&self) -> bool {
        self.reinvite.as_ref().is_some_and(OutgoingReInvite::in_progress)
    }

    fn start_reinvite(&mut self, now: Instant) {
        let Some(r) = self.reinvite.as_ref() else { return };
        let body = sdp::offer(&r.offered, r.direction).into_bytes();
        let Some((b, _)) = self.in_dialog(Method::Invite) else { return };
        let bytes = b.body("application/sdp", body).build();
        match ClientInvite::new(bytes, self.config.reliable, self.config.timers, now) {
            Ok(tx) => {
                if let Some(r) = self.reinvite.as_mut() {
                    r.tx = Some(tx);
                    r.ack = None;
                    r.retry_at = None;
                }
                self.drain_reinvite(now);
            }
            Err(e) => tracing::warn!(error = %e, "re-INVITE not sent"),
        }
    }

    pub(super) fn on_reinvite_response(&mut self, resp: Response, now: Instant) {
        if let Some(tx) = self.reinvite.as_mut().and_then(|r| r.tx.as_mut()) {
            tx.on_response(resp, now);
        }
        self.drain_reinvite(now);
    }

    fn drain_reinvite(&mut self, now: Instant) {
        loop {
            let Some(o) = self.reinvite.as_mut().and_then(|r| r.tx.as_mut()).and_then(|t| t.poll_output()) else {
                return;
            };
            match o {
                ClientInviteOutput::Transmit(b) => self.push(CallerOutput::Transmit(b)),
                ClientInviteOutput::Response(r) if r.status < 200 => {}
                ClientInviteOutput::Response(r) if r.status < 300 => self.on_reinvite_2xx(&r),
                ClientInviteOutput::Response(r) if r.status == 491 => self.retry_after_glare(now),
                ClientInviteOutput::Response(r) => self.push(CallerOutput::ReInviteRefused(r.status)),
                ClientInviteOutput::Timeout => self.push(CallerOutput::ReInviteRefused(408)),
            }
        }
    }

    /// RFC 3261 14.1: we own the Call-ID, so we wait 2.1 to 4 s (10 ms units).
    fn retry_after_glare(&mut self, now: Instant) {
        let wait = Duration::from_millis(2100 + 10 * u64::from(self.rng().next_u32() % 191));
        if let Some(r) = self.reinvite.as_mut() {
            r.retry_at = Some(now + wait);
        }
    }

    fn on_reinvite_2xx(&mut self, resp: &Response) {
        let Some(r) = self.reinvite.as_ref() else { return };
        if let Some(ack) = &r.ack {
            return self.push(CallerOutput::Transmit(ack.clone()));
        }
        let (cseq, offered) = (resp.core.cseq, r.offered.clone());
        let branch = crate::sip::dialog::new_branch(&mut self.rng());
        let (via, contact) = (self.config.via.clone(), self.config.contact.clone());
        let Some(dialog) = self.dialog.as_mut() else { return };
        let ack = dialog.ack(cseq, &branch, &via, &contact).build();
        if let Some(r) = self.reinvite.as_mut() {
            r.ack = Some(ack.clone());
        }
        self.push(CallerOutput::Transmit(ack));
        let parsed = std::str::from_utf8(&resp.body).ok().and_then(|t| sdp::parse(t).ok());
        match parsed.and_then(|a| sdp::negotiate_from_answer(&a, &offered).ok()) {
            Some(n) => self.push(CallerOutput::MediaUpdate(n)),
            // The session stays as it was (14.1): the server accepted nothing usable.
            None => self.push(CallerOutput::ReInviteRefused(resp.status)),
        }
    }

    /// Runs the re-INVITE transactions' timers, the retry after a 491, and drops the
    /// finished server transactions.
    pub(super) fn reinvite_timeouts(&mut self, now: Instant) {
        if let Some(tx) = self.reinvite.as_mut().and_then(|r| r.tx.as_mut()) {
            tx.handle_timeout(now);
        }
        self.drain_reinvite(now);
        if self.reinvite.as_ref().and_then(|r| r.retry_at).is_some_and(|t| now >= t) {
            if self.phase == Phase::Up {
                self.start_reinvite(now);
            } else if let Some(r) = self.reinvite.as_mut() {
                r.retry_at = None;
            }
        }
        for i in 0..self.incoming.len() {
            self.incoming[i].tx.handle_timeout(now);
            self.drain_incoming(i, now);
        }
        self.incoming.retain(|r| !r.tx.is_terminated(now));
    }

    /// A re-INVITE from the server (or a retransmission of one).
    pub(super) fn on_server_reinvite(&mut self, req: Request, now: Instant) {
        if let Some(i) = self.incoming.iter().position(|r| r.branch == req.core.branch) {
            self.incoming[i].tx.on_invite_retransmission(now);
            self.drain_incoming(i, now);
            return;
        }
        let (status, bytes, offered) = self.server_reinvite_answer(&req);
        let mut tx = InviteServer::new(self.config.reliable, self.config.timers);
        tx.respond(status, bytes, now);
        let branch = req.core.branch.clone();
        self.incoming.push(IncomingReInvite { branch, cseq: req.core.cseq, tx, offered });
        self.drain_incoming(self.incoming.len() - 1, now);
    }

    fn server_reinvite_answer(&mut self, req: &Request) -> (u16, Vec<u8>, Option<LocalMedia>) {
        let glare = self.reinvite_in_progress();
        let contact = self.config.contact.clone();
        let up = self.phase == Phase::Up;
        let Some(dialog) = self.dialog.as_mut().filter(|d| up && d.matches(req)) else {
            return (481, req.reply(481, "Call/Transaction Does Not Exist", None).build(), None);
        };
        if dialog.accept_cseq(req.core.cseq).is_err() {
            return (500, req.reply(500, "Server Internal Error", None).build(), None);
        }
        if glare {
            // RFC 3261 14.2: an INVITE of ours is in progress on this dialog.
            return (491, req.reply(491, "Request Pending", None).build(), None);
        }
        dialog.update_target(req);
        let media = LocalMedia { session_version: self.sdp_version + 1, ..self.config.media.clone() };
        let (body, offered) = match sdp::reoffer(&req.body, media) {
            sdp::ReOffer::WeOffer { body, offered } => (body, Some(offered)),
            sdp::ReOffer::Answered { negotiated, body } => {
                self.push(CallerOutput::MediaUpdate(negotiated));
                (body, None)
            }
            sdp::ReOffer::Unusable => return (488, req.reply(488, "Not Acceptable Here", None).build(), None),
        };
        self.sdp_version += 1;
        let ok = req.reply(200, "OK", None).header("Contact", &contact).body("application/sdp", body.into_bytes());
        (200, ok.build(), offered)
    }

    /// Carries out what server transaction `i` queued; true when the first ACK of its
    /// 2xx was among it.
    fn drain_incoming(&mut self, i: usize, now: Instant) -> bool {
        let (mut acknowledged, mut no_ack) = (false, false);
        while let Some(o) = self.incoming[i].tx.poll_output() {
            match o {
                InviteOutput::Send(b) | InviteOutput::Retransmit(b) => self.push(CallerOutput::Transmit(b)),
                InviteOutput::Acknowledged => acknowledged = true,
                InviteOutput::AckTimeout => no_ack = true,
                InviteOutput::Abandoned => {}
            }
        }
        if no_ack && self.phase == Phase::Up {
            // RFC 3261 13.3.1.4: a 2xx never acknowledged ends the dialog.
            self.hang_up(now);
        }
        acknowledged
    }

    /// An ACK from the server: of the 491/488 we sent (same branch) or of our 200 (its
    /// own branch, the re-INVITE's CSeq), maybe with the answer to our offer.
    pub(super) fn on_server_ack(&mut self, ack: &Request, now: Instant) {
        let found = self
            .incoming
            .iter()
            .position(|r| r.branch == ack.core.branch)
            .or_else(|| self.incoming.iter().position(|r| r.cseq == ack.core.cseq && r.tx.last_status() < 300));
        let Some(i) = found else { return };
        self.incoming[i].tx.on_ack(now);
        let first = self.drain_incoming(i, now);
        let Some(local) = self.incoming[i].offered.take().filter(|_| first) else { return };
        let parsed = std::str::from_utf8(&ack.body).ok().and_then(|t| sdp::parse(t).ok());
        if let Some(n) = parsed.and_then(|a| sdp::negotiate_from_answer(&a, &local).ok()) {
            self.push(CallerOutput::MediaUpdate(n));
        }
    }
}
