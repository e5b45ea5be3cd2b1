//! One call's orchestration as a sans-IO state machine: the SIP leg, the application
//! talking to the caller, the caller's inbound media, the authorizations in flight,
//! the gate before the record is taken, the digit count, what the operator's live view
//! and the record are told. Inputs come in with the instant they happened
//! (`handle_input`, `handle_rtp`, `handle_timeout`); what to do is polled out
//! (`poll_output`); the next deadline is `poll_timeout`.
//!
//! It must not know sockets, tasks, the database, the payment platform or the clock:
//! the driver (`call::task`) executes every [`CallOutput`] and feeds every answer back.

use super::leg::{EndReason, LegOutput, SipLeg};
use super::media_gate::MediaGate;
use crate::ivr::app::{AppAction, AppInput, AppReport, AuthorizeOrder, CallApp, CallOutcome};
use crate::ivr::prompts::Prompt;
use crate::media::inbound::InboundMedia;
use crate::sip::message::SipMessage;
use crate::sip::sdp::Negotiated;
use crate::sip::Flow;
use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Something that happened to the call, from the network, the pacer, the IO the
/// application asked for, or the server.
pub enum CallInput {
    /// A SIP message with this call's Call-ID.
    Sip(Box<SipMessage>, Flow),
    /// The pacer finished a Play.
    PlaybackDone(u64),
    /// The answer to IO the application asked for (lookup, authorization).
    App(AppInput),
    /// The server is shutting down: hang up.
    Shutdown,
}

impl fmt::Debug for CallInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallInput::Sip(..) => f.write_str("Sip(..)"),
            CallInput::PlaybackDone(t) => write!(f, "PlaybackDone({t})"),
            CallInput::App(_) => f.write_str("App(..)"),
            CallInput::Shutdown => f.write_str("Shutdown"),
        }
    }
}

/// What the driver must do for the call, in the order given.
pub enum CallOutput {
    /// Send these bytes on this flow.
    Send(Flow, Vec<u8>),
    /// Media is up: add a stream to the pacer towards the negotiated address (the
    /// driver keeps the stream's id and the RTP sockets).
    StartMedia(Negotiated),
    /// Whether the pacer sends on the stream (hold, direction).
    SetSending(bool),
    /// Send RTP to this address from now on (re-INVITE, latching).
    SetDest(SocketAddr),
    /// Queue prompts on the stream; the pacer answers with `PlaybackDone(token)`.
    Play(Vec<Arc<Prompt>>, u64),
    /// Feed `CallInput::PlaybackDone(token)` back through the call's own queue (a Play
    /// without media ends at once, after what is already queued).
    Requeue(u64),
    /// Stop playing and drop what is queued.
    StopPlayback,
    /// The call ended for the caller: give back its admission permit, remove its
    /// pacer stream and free its RTP ports (the leg may linger for its transactions).
    Ended(EndReason),
    /// A DTMF digit arrived (for the server's count: the value is never given).
    DigitReceived,
    /// Look up the invoice with this payment code; answer with `AppInput::Invoice`.
    LookupInvoice(String),
    /// Take the payment; answer with `AppInput::Authorized`.
    Authorize(Box<AuthorizeOrder>),
    /// The step the caller is in changed, for the live view.
    LiveStep(String),
    /// Write the end of the call record, then drop the call from the live view: ended
    /// for the caller and no authorization in flight.
    Record(Box<CallRecord>),
    /// Nothing more to do: the driver stops.
    Finished(CallSummary),
}

impl fmt::Debug for CallOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallOutput::Send(flow, b) => write!(f, "Send({}, {} bytes)", flow.remote, b.len()),
            CallOutput::StartMedia(n) => write!(f, "StartMedia({})", n.remote_rtp),
            CallOutput::SetSending(s) => write!(f, "SetSending({s})"),
            CallOutput::SetDest(a) => write!(f, "SetDest({a})"),
            CallOutput::Play(p, t) => write!(f, "Play({} prompts, {t})", p.len()),
            CallOutput::Requeue(t) => write!(f, "Requeue({t})"),
            CallOutput::StopPlayback => f.write_str("StopPlayback"),
            CallOutput::Ended(r) => write!(f, "Ended({})", r.as_str()),
            CallOutput::DigitReceived => f.write_str("DigitReceived"),
            CallOutput::LookupInvoice(_) => f.write_str("LookupInvoice(..)"),
            CallOutput::Authorize(o) => write!(f, "Authorize({o:?})"),
            CallOutput::LiveStep(s) => write!(f, "LiveStep({s})"),
            CallOutput::Record(r) => write!(f, "Record({r:?})"),
            CallOutput::Finished(s) => write!(f, "Finished({s:?})"),
        }
    }
}

/// What the call record keeps of a call's end (never card data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// UTC milliseconds when media started, if it did.
    pub answered_at: Option<i64>,
    /// Why the call ended.
    pub end_reason: EndReason,
    /// What the application made of it.
    pub outcome: CallOutcome,
    /// The application's report.
    pub report: AppReport,
}

/// How a call went, once it is finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallSummary {
    /// Why it ended (None if it never did: a driver stopped early).
    pub end_reason: Option<EndReason>,
    /// DTMF digits received (a count only).
    pub digits: u32,
}

/// Wall-clock time as the call core knows it: the UTC milliseconds of one instant,
/// given by the driver, from which the others are counted (the core reads no clock).
#[derive(Clone, Copy, Debug)]
pub struct WallEpoch {
    /// An instant...
    pub at: Instant,
    /// ...and the UTC milliseconds it was.
    pub utc_ms: i64,
}

impl WallEpoch {
    fn utc_ms(&self, now: Instant) -> i64 {
        self.utc_ms + now.saturating_duration_since(self.at).as_millis() as i64
    }
}

/// One call, sans IO.
pub struct Call {
    leg: SipLeg,
    app: Box<dyn CallApp>,
    epoch: WallEpoch,
    inband_dtmf: bool,
    /// The caller's media, once started (and until the call ends).
    inbound: Option<InboundMedia>,
    /// True once media was started or the call ended: media starts at most once.
    media_gate_closed: bool,
    ending: Option<EndReason>,
    recorded: bool,
    finished: bool,
    answered_at: Option<i64>,
    authorizations_in_flight: u32,
    digits: u32,
    live_step: String,
    /// When our audio may go out (see `call::media_gate`).
    gate: MediaGate,
    /// True once the application was told media started (after the gate confirmed).
    app_started: bool,
    /// Datagrams from sources the call does not hear (counted, never read).
    rtp_rejected: u32,
    out: VecDeque<CallOutput>,
}

impl Call {
    /// Takes charge of an admitted call: its leg (built on the INVITE) and its
    /// application. `inband_dtmf` says whether tones in the audio count as keys.
    pub fn new(leg: SipLeg, app: Box<dyn CallApp>, inband_dtmf: bool, epoch: WallEpoch, now: Instant) -> Call {
        let gate = MediaGate::new(leg.remote().ip());
        let mut call = Call {
            leg,
            app,
            epoch,
            inband_dtmf,
            inbound: None,
            media_gate_closed: false,
            ending: None,
            recorded: false,
            finished: false,
            answered_at: None,
            authorizations_in_flight: 0,
            digits: 0,
            live_step: String::new(),
            gate,
            app_started: false,
            rtp_rejected: 0,
            out: VecDeque::new(),
        };
        call.settle(now);
        call
    }

    /// Something happened to the call.
    pub fn handle_input(&mut self, input: CallInput, now: Instant) {
        match input {
            CallInput::Sip(m, f) => match *m {
                SipMessage::Request(r) => self.leg.on_request(r, f, now),
                SipMessage::Response(r) => self.leg.on_response(r, now),
            },
            CallInput::PlaybackDone(t) => self.app.handle(AppInput::PlaybackDone(t), now),
            CallInput::App(input) => {
                if matches!(input, AppInput::Authorized(_)) {
                    self.authorizations_in_flight = self.authorizations_in_flight.saturating_sub(1);
                }
                self.app.handle(input, now);
            }
            CallInput::Shutdown => self.leg.hangup(EndReason::Shutdown, now),
        }
        self.settle(now);
    }

    /// A datagram arrived on the call's RTP port (ignored before media starts).
    pub fn handle_rtp(&mut self, data: &[u8], from: SocketAddr, now: Instant) {
        let Some(inbound) = self.inbound.as_mut() else { return };
        let res = inbound.on_packet(data, from);
        if res.rejected {
            if self.rtp_rejected == 0 {
                tracing::warn!(source = %from, "RTP from a source this call does not hear: dropped");
            }
            self.rtp_rejected = self.rtp_rejected.saturating_add(1);
            return;
        }
        if let Some(addr) = res.latch {
            tracing::debug!(%addr, "latched RTP to the caller's real address");
            self.out.push_back(CallOutput::SetDest(addr));
        }
        if res.valid {
            self.leg.media_activity(now);
            self.gate.heard();
            self.open_gate(now);
        }
        for d in res.digits {
            self.digit(d, now);
        }
        self.settle(now);
    }

    /// The instant from `poll_timeout` was reached.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.leg.handle_timeout(now);
        if self.app.poll_timeout().is_some_and(|t| now >= t) {
            self.app.handle(AppInput::Timeout, now);
        }
        self.settle(now);
    }

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<CallOutput> {
        crate::queue::pop_or_release(&mut self.out)
    }

    /// When `handle_timeout` is next due (None once finished).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.finished {
            return None;
        }
        [self.leg.poll_timeout(), self.app.poll_timeout()].into_iter().flatten().min()
    }

    /// Whether the call is over (`Finished` was given).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The SIP Call-ID.
    pub fn call_id(&self) -> &str {
        self.leg.call_id()
    }

    fn digit(&mut self, d: char, now: Instant) {
        self.digits += 1;
        self.out.push_back(CallOutput::DigitReceived);
        self.app.handle(AppInput::Digit(d), now);
    }

    /// Leg outputs feed the application and its actions may hang up the leg: settles
    /// both, then tells the live view, then takes the record once allowed.
    fn settle(&mut self, now: Instant) {
        loop {
            while let Some(out) = self.leg.poll_output() {
                self.on_leg_output(out, now);
            }
            while let Some(action) = self.app.poll_action() {
                self.on_action(action, now);
            }
            if !self.leg.has_output() {
                break;
            }
        }
        if self.live_step != self.app.current_step() {
            self.live_step = self.app.current_step().to_string();
            self.out.push_back(CallOutput::LiveStep(self.live_step.clone()));
        }
        let Some(reason) = self.ending.filter(|_| self.authorizations_in_flight == 0) else { return };
        if !self.recorded {
            self.recorded = true;
            self.out.push_back(CallOutput::Record(Box::new(CallRecord {
                answered_at: self.answered_at,
                end_reason: reason,
                outcome: self.app.outcome(),
                report: self.app.report(),
            })));
        }
        if !self.finished && self.leg.is_finished(now) {
            self.finished = true;
            self.out.push_back(CallOutput::Finished(CallSummary { end_reason: Some(reason), digits: self.digits }));
        }
    }

    fn on_leg_output(&mut self, out: LegOutput, now: Instant) {
        match out {
            LegOutput::Send(f, bytes) => self.out.push_back(CallOutput::Send(f, bytes)),
            LegOutput::MediaStart(neg) => {
                if !std::mem::replace(&mut self.media_gate_closed, true) {
                    self.answered_at = Some(self.epoch.utc_ms(now));
                    let signalling = self.leg.remote().ip();
                    let (codec, pt, events, remote) =
                        (neg.codec, neg.payload_type, neg.telephone_event, neg.remote_rtp);
                    self.inbound = Some(InboundMedia::new(codec, pt, events, remote, signalling, self.inband_dtmf));
                    tracing::debug!(codec = ?neg.codec, remote = %neg.remote_rtp, "media started");
                    self.gate.agreed(&neg);
                    self.out.push_back(CallOutput::StartMedia(neg));
                    self.open_gate(now);
                }
            }
            LegOutput::MediaUpdate(neg) => {
                if let Some(m) = self.inbound.as_mut() {
                    m.update(neg.codec, neg.payload_type, neg.telephone_event, neg.remote_rtp);
                    self.gate.agreed(&neg);
                    self.out.push_back(CallOutput::SetDest(neg.remote_rtp));
                    self.open_gate(now);
                    tracing::debug!(direction = ?neg.direction, remote = %neg.remote_rtp, "media updated by re-INVITE");
                }
            }
            LegOutput::Confirmed => {
                self.gate.confirm();
                self.open_gate(now);
            }
            LegOutput::Digit(d) => self.digit(d, now),
            LegOutput::Ended(reason) => {
                self.ending = Some(reason);
                self.media_gate_closed = true;
                self.inbound = None;
                self.out.push_back(CallOutput::Ended(reason));
                // A count only: digit values are never logged.
                tracing::info!(reason = reason.as_str(), digits = self.digits, "call ended");
                if self.rtp_rejected > 0 {
                    tracing::warn!(rtp_rejected = self.rtp_rejected, "RTP from strangers was dropped during the call");
                }
            }
        }
    }

    fn on_action(&mut self, action: AppAction, now: Instant) {
        let media = self.inbound.is_some();
        match action {
            AppAction::Play { prompts, token } if media => self.out.push_back(CallOutput::Play(prompts, token)),
            AppAction::Play { token, .. } => self.out.push_back(CallOutput::Requeue(token)),
            AppAction::StopPlayback if media => self.out.push_back(CallOutput::StopPlayback),
            AppAction::StopPlayback => {}
            AppAction::Hangup => self.leg.hangup(EndReason::LocalHangup, now),
            AppAction::LookupInvoice { code } => self.out.push_back(CallOutput::LookupInvoice(code)),
            AppAction::Authorize(order) => {
                self.authorizations_in_flight += 1;
                self.out.push_back(CallOutput::Authorize(order));
            }
        }
    }
}

/// Whether we send audio for this negotiation (not on hold, not receive-only).
impl Call {
    /// Tells the pacer when sending changed, and the application that media started
    /// once the caller is confirmed (no prompt plays to an unproven address).
    fn open_gate(&mut self, now: Instant) {
        if let Some(on) = self.gate.poll_change() {
            self.out.push_back(CallOutput::SetSending(on));
        }
        if self.gate.is_confirmed() && self.inbound.is_some() && !std::mem::replace(&mut self.app_started, true) {
            self.app.handle(AppInput::Started, now);
        }
    }
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
