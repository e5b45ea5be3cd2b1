//! `Pair`: the caller leg and the server's `Call` core joined by an in-memory link, on
//! a virtual clock (test only). The link can drop, duplicate and delay chosen messages,
//! so loss and reordering scenarios of RFC 3261 (lost ACK, lost BYE, glare) run end to
//! end in milliseconds of real time, with the exact instant of every message known.
//!
//! The harness is both sides' driver: it advances `now` to the earliest of the two
//! cores' `poll_timeout`, the link's next delivery, the answers it owes the server
//! (playback done, authorization result) and the caller actions a test scheduled; it
//! delivers, then drains every output. Randomness is a seeded `StdRng`; the base
//! instant is given by the test (this file reads no clock).

use super::caller_leg::{CallerConfig, CallerLeg, CallerOutput};
use super::core::{Call, CallInput, CallOutput, CallRecord, CallSummary, WallEpoch};
use super::leg::{EndReason, Limits, LocalParty, SipLeg};
use crate::ivr::app::{AppAction, AppInput, AppReport, AuthorizeOrder, AuthorizeResult, CallApp, CallOutcome};
use crate::media::codec::Codec;
use crate::payments::card::{Brand, CardNumber, Expiry, SecurityCode};
use crate::payments::fixtures;
use crate::payments::invoice::InvoiceStatus;
use crate::sip::message::{parse, SipMessage};
use crate::sip::normalise::Framing;
use crate::sip::sdp::{self, Direction, LocalMedia};
use crate::sip::transaction::Timers;
use crate::sip::{Flow, Transport};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// UTC milliseconds the server's wall clock reads at the base instant.
pub const EPOCH_MS: i64 = 1_700_000_000_000;

/// Which side sent a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The caller leg (`ivrpay call`).
    Caller,
    /// The server's call core.
    Server,
}

/// What the link does to a message a rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Lost.
    Drop,
    /// Delivered twice (the copy right after the original).
    Duplicate,
    /// Delivered this much later than the link's latency.
    Delay(Duration),
}

/// A fault applied to the messages of one side whose kind (`INVITE`, `ACK`,
/// `200 INVITE`, `491 INVITE`...; `*` for any) is `kind`: the matches numbered
/// `skip+1` to `skip+times` get it (the first rule that applies wins).
struct Rule {
    from: Side,
    kind: String,
    skip: u32,
    times: u32,
    fault: Fault,
    seen: u32,
}

/// What became of one message on the link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wire {
    /// Virtual milliseconds since the base instant when it was sent.
    pub ms: u64,
    /// Who sent it.
    pub from: Side,
    /// Its kind: the method of a request, `status METHOD` of a response.
    pub kind: String,
    /// The fault applied, if any.
    pub fault: Option<Fault>,
    /// The message itself.
    pub bytes: Vec<u8>,
}

/// The kind of a message as the rules and the log name it.
pub fn kind(bytes: &[u8]) -> String {
    match parse(bytes, Framing::Datagram) {
        Ok(SipMessage::Request(r)) => r.method.to_string(),
        Ok(SipMessage::Response(r)) => format!("{} {}", r.status, r.core.cseq_method),
        Err(_) => "garbage".into(),
    }
}

/// Something a test asks the caller to do at a virtual instant.
#[derive(Clone, Copy, Debug)]
pub enum CallerAction {
    /// Press a key by SIP INFO.
    Digit(char),
    /// Hang up.
    HangUp,
    /// Send a re-INVITE with this direction.
    ReInvite(Direction),
}

struct InFlight {
    at: Instant,
    seq: u64,
    to: Side,
    bytes: Vec<u8>,
}

/// The scripted payment app of the server: plays a greeting (token 1), `5` asks for
/// an authorization, `#` hangs up, `0` looks up an invoice; paid once the authorization
/// is accepted. Shared with the call core's own tests.
#[derive(Default)]
pub struct PayApp {
    actions: VecDeque<AppAction>,
    paying: bool,
    paid: bool,
    reference: Option<String>,
}

impl CallApp for PayApp {
    fn handle(&mut self, input: AppInput, _now: Instant) {
        match input {
            AppInput::Started => self.actions.push_back(AppAction::Play { prompts: vec![], token: 1 }),
            AppInput::Digit('5') => {
                self.paying = true;
                self.actions.push_back(AppAction::Authorize(order()));
            }
            AppInput::Digit('#') => self.actions.push_back(AppAction::Hangup),
            AppInput::Digit('0') => self.actions.push_back(AppAction::LookupInvoice { code: "480152730".into() }),
            AppInput::Authorized(AuthorizeResult::Accepted { reference, .. }) => {
                self.paid = true;
                self.reference = Some(reference);
            }
            _ => {}
        }
    }
    fn poll_action(&mut self) -> Option<AppAction> {
        self.actions.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn current_step(&self) -> &str {
        if self.paying {
            "paying"
        } else {
            "start"
        }
    }
    fn outcome(&self) -> CallOutcome {
        if self.paid {
            CallOutcome::Paid
        } else {
            CallOutcome::Abandoned
        }
    }
    fn report(&self) -> AppReport {
        AppReport { transaction_reference: self.reference.clone(), ..AppReport::default() }
    }
}

/// The caller and the server on one virtual timeline.
pub struct Pair {
    /// The base instant: every `ms` in the logs counts from it.
    pub t0: Instant,
    /// The virtual now.
    pub now: Instant,
    /// The caller leg.
    pub caller: CallerLeg,
    /// The server's calls by Call-ID (a second entry would be a second call).
    pub calls: HashMap<String, Call>,
    /// How many server calls were created.
    pub calls_created: u32,
    /// Every message the link carried, in order.
    pub wire: Vec<Wire>,
    /// What the caller reported, with its virtual ms.
    pub caller_log: Vec<(u64, CallerOutput)>,
    /// The server's non-SIP outputs as words (`start`, `ended:no_ack`...), with ms.
    pub server_log: Vec<(u64, String)>,
    /// The server's records.
    pub records: Vec<(u64, CallRecord)>,
    /// The server's summaries.
    pub finished: Vec<(u64, CallSummary)>,
    /// One-way latency of the link.
    pub latency: Duration,
    /// How long a Play lasts before the driver answers PlaybackDone.
    pub playback: Duration,
    /// How long the payment platform takes to answer an authorization.
    pub auth_delay: Duration,
    /// What it answers.
    pub auth_result: AuthorizeResult,
    /// The server's guard limits (media inactivity is long: the pair carries no RTP).
    pub limits: Limits,
    rules: Vec<Rule>,
    queue: Vec<InFlight>,
    seq: u64,
    owed: Vec<(Instant, String, CallInput)>,
    actions: Vec<(Instant, CallerAction)>,
    server_rng: StdRng,
}

impl Pair {
    /// A caller whose INVITE, made at `t0`, leaves on the first `run_until` (after the
    /// test has set its faults), seeded with `seed`.
    pub fn new(t0: Instant, seed: u64) -> Pair {
        let mut rng = StdRng::seed_from_u64(seed);
        let caller = CallerLeg::new(caller_config(), &mut rng, t0).expect("the INVITE builds");
        Pair {
            t0,
            now: t0,
            caller,
            calls: HashMap::new(),
            calls_created: 0,
            wire: Vec::new(),
            caller_log: Vec::new(),
            server_log: Vec::new(),
            records: Vec::new(),
            finished: Vec::new(),
            latency: Duration::ZERO,
            playback: Duration::from_secs(3),
            auth_delay: Duration::from_secs(2),
            auth_result: AuthorizeResult::Accepted { reference: "R1".into(), authorisation_id: "A1".into() },
            limits: Limits {
                media_inactivity: Duration::from_secs(3600),
                hold_timeout: Duration::from_secs(3600),
                max_duration: Duration::from_secs(3600),
                answer_delay: Duration::ZERO,
                timers: Timers::default(),
            },
            rules: Vec::new(),
            queue: Vec::new(),
            seq: 0,
            owed: Vec::new(),
            actions: Vec::new(),
            server_rng: StdRng::seed_from_u64(seed ^ 0x5eed),
        }
    }

    /// Applies `fault` to messages of `from` of this `kind`, from the `skip+1`-th
    /// match for `times` matches (`u32::MAX`: all of them).
    pub fn fault(&mut self, from: Side, kind: &str, skip: u32, times: u32, fault: Fault) {
        self.rules.push(Rule { from, kind: kind.into(), skip, times, fault, seen: 0 });
    }

    /// Schedules a caller action `ms` after the base instant.
    pub fn at(&mut self, ms: u64, action: CallerAction) {
        self.actions.push((self.t0 + Duration::from_millis(ms), action));
    }

    /// Virtual ms of `at`.
    pub fn ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.t0).as_millis() as u64
    }

    /// Sends raw bytes to the caller as if from the server, now (a server request the
    /// server core itself never makes, e.g. its own re-INVITE).
    pub fn inject_to_caller(&mut self, bytes: Vec<u8>) {
        self.send(Side::Server, bytes);
    }

    /// The ms at which `from` sent messages of `kind` (dropped ones included).
    pub fn sent(&self, from: Side, kind: &str) -> Vec<u64> {
        self.wire.iter().filter(|w| w.from == from && w.kind == kind).map(|w| w.ms).collect()
    }

    /// Runs the timeline until nothing is left to happen or `until_ms` is reached.
    pub fn run_until(&mut self, until_ms: u64) {
        let until = self.t0 + Duration::from_millis(until_ms);
        self.drain_caller();
        self.drain_server();
        for _ in 0..100_000 {
            let Some(next) = self.next_event().filter(|t| *t <= until) else {
                self.now = self.now.max(until);
                return;
            };
            self.now = self.now.max(next);
            self.step();
        }
        panic!("the timeline does not settle");
    }

    fn next_event(&self) -> Option<Instant> {
        [
            self.caller.poll_timeout(),
            self.queue.iter().map(|m| m.at).min(),
            self.owed.iter().map(|o| o.0).min(),
            self.actions.iter().map(|a| a.0).min(),
        ]
        .into_iter()
        .chain(self.calls.values().map(Call::poll_timeout))
        .flatten()
        .min()
    }

    /// Does one due thing (in a fixed order: caller actions, the oldest due message,
    /// the answers owed to the server, then timers) and drains both sides.
    fn step(&mut self) {
        let now = self.now;
        if let Some(i) = self.actions.iter().position(|a| a.0 <= now) {
            let (_, action) = self.actions.remove(i);
            match action {
                CallerAction::Digit(d) => self.caller.send_info_digit(d, 160, now),
                CallerAction::HangUp => self.caller.hang_up(now),
                CallerAction::ReInvite(dir) => {
                    self.caller.reinvite(dir, now);
                }
            }
        } else if let Some(i) = self.due_message(now) {
            let m = self.queue.remove(i);
            self.deliver(m.to, m.bytes);
        } else if let Some(i) = self.owed.iter().position(|o| o.0 <= now) {
            let (_, call_id, input) = self.owed.remove(i);
            if let Some(call) = self.calls.get_mut(&call_id) {
                call.handle_input(input, now);
            }
        } else {
            if self.caller.poll_timeout().is_some_and(|t| t <= now) {
                self.caller.handle_timeout(now);
            }
            for call in self.calls.values_mut() {
                if call.poll_timeout().is_some_and(|t| t <= now) {
                    call.handle_timeout(now);
                }
            }
        }
        self.drain_caller();
        self.drain_server();
    }

    fn due_message(&self, now: Instant) -> Option<usize> {
        let due = self.queue.iter().enumerate().filter(|(_, m)| m.at <= now);
        due.min_by_key(|(_, m)| (m.at, m.seq)).map(|(i, _)| i)
    }

    fn deliver(&mut self, to: Side, bytes: Vec<u8>) {
        let now = self.now;
        match to {
            Side::Caller => {
                let _ = self.caller.handle_input(&bytes, now);
            }
            Side::Server => {
                let Ok(msg) = parse(&bytes, Framing::Datagram) else { return };
                let call_id = match &msg {
                    SipMessage::Request(r) => r.core.call_id.clone(),
                    SipMessage::Response(r) => r.core.call_id.clone(),
                };
                if let Some(call) = self.calls.get_mut(&call_id) {
                    if !call.is_finished() {
                        call.handle_input(CallInput::Sip(Box::new(msg), caller_flow()), now);
                    }
                } else if let SipMessage::Request(r) = msg {
                    // As the server's dispatch does: an INVITE without a To tag starts a call.
                    if r.method == crate::sip::message::Method::Invite && r.core.to_tag.is_none() {
                        let offer = std::str::from_utf8(&r.body).ok().and_then(|t| sdp::parse(t).ok());
                        let leg =
                            SipLeg::new(r, offer, caller_flow(), local_party(), self.limits, &mut self.server_rng, now);
                        let epoch = WallEpoch { at: self.t0, utc_ms: EPOCH_MS };
                        let call = Call::new(leg, Box::<PayApp>::default(), false, epoch, now);
                        self.calls_created += 1;
                        self.calls.insert(call_id, call);
                    }
                }
            }
        }
    }

    fn send(&mut self, from: Side, bytes: Vec<u8>) {
        let kind = kind(&bytes);
        let mut fault = None;
        for r in self.rules.iter_mut().filter(|r| r.from == from && (r.kind == kind || r.kind == "*")) {
            r.seen += 1;
            if r.seen > r.skip && r.seen - r.skip <= r.times && fault.is_none() {
                fault = Some(r.fault);
            }
        }
        self.wire.push(Wire { ms: self.ms(self.now), from, kind, fault, bytes: bytes.clone() });
        let to = if from == Side::Caller { Side::Server } else { Side::Caller };
        let at = self.now + self.latency;
        let copies: Vec<(Instant, Vec<u8>)> = match fault {
            Some(Fault::Drop) => vec![],
            Some(Fault::Duplicate) => vec![(at, bytes.clone()), (at, bytes)],
            Some(Fault::Delay(d)) => vec![(at + d, bytes)],
            None => vec![(at, bytes)],
        };
        for (at, bytes) in copies {
            self.seq += 1;
            self.queue.push(InFlight { at, seq: self.seq, to, bytes });
        }
    }

    fn drain_caller(&mut self) {
        while let Some(o) = self.caller.poll_output() {
            match o {
                CallerOutput::Transmit(b) => self.send(Side::Caller, b),
                other => self.caller_log.push((self.ms(self.now), other)),
            }
        }
    }

    fn drain_server(&mut self) {
        let now = self.now;
        let mut outs = Vec::new();
        for (id, call) in self.calls.iter_mut() {
            while let Some(o) = call.poll_output() {
                outs.push((id.clone(), o));
            }
        }
        for (call_id, o) in outs {
            self.on_server_output(call_id, o, now);
        }
    }

    /// Answers the server's outputs as its driver (`call::task`) would.
    fn on_server_output(&mut self, call_id: String, o: CallOutput, now: Instant) {
        let ms = self.ms(now);
        let word = match o {
            CallOutput::Send(_, b) => return self.send(Side::Server, b),
            CallOutput::Play(_, token) => {
                self.owed.push((now + self.playback, call_id, CallInput::PlaybackDone(token)));
                format!("play:{token}")
            }
            CallOutput::Requeue(token) => {
                self.owed.push((now, call_id, CallInput::PlaybackDone(token)));
                format!("requeue:{token}")
            }
            CallOutput::Authorize(_) => {
                let input = CallInput::App(AppInput::Authorized(self.auth_result.clone()));
                self.owed.push((now + self.auth_delay, call_id, input));
                "authorize".into()
            }
            CallOutput::LookupInvoice(_) => "lookup".into(),
            CallOutput::StartMedia(_) => "start".into(),
            CallOutput::SetSending(s) => format!("sending:{s}"),
            CallOutput::SetDest(_) => "dest".into(),
            CallOutput::StopPlayback => "stop".into(),
            CallOutput::Ended(r) => format!("ended:{}", r.as_str()),
            CallOutput::DigitReceived => "digit".into(),
            CallOutput::LiveStep(s) => format!("step:{s}"),
            CallOutput::Record(r) => {
                let w = format!("record:{}", r.outcome.as_str());
                self.records.push((ms, *r));
                w
            }
            CallOutput::Finished(s) => {
                self.finished.push((ms, s));
                format!("finished:{}", s.end_reason.map(EndReason::as_str).unwrap_or("none"))
            }
        };
        self.server_log.push((ms, word));
    }
}

/// Where the caller is, as the server sees it.
pub fn caller_flow() -> Flow {
    Flow { transport: Transport::Udp, remote: "127.0.0.1:5070".parse().expect("literal"), conn: 0, local: None }
}

fn caller_config() -> CallerConfig {
    CallerConfig {
        target: "sip:pay@127.0.0.1:5060".into(),
        from_uri: "sip:caller@127.0.0.1".into(),
        via: "SIP/2.0/UDP 127.0.0.1:5070".into(),
        contact: "<sip:caller@127.0.0.1:5070>".into(),
        media: LocalMedia {
            address: "127.0.0.1".parse().expect("literal"),
            port: 6000,
            codecs: vec![Codec::Pcmu, Codec::Pcma],
            session_id: 7,
            session_version: 1,
        },
        reliable: false,
        timers: Timers::default(),
        call_id: None,
    }
}

fn local_party() -> LocalParty {
    LocalParty {
        via: "SIP/2.0/UDP 127.0.0.1:5060".into(),
        contact: "<sip:ivrpay@127.0.0.1:5060>".into(),
        server: "ivrpay-test".into(),
        media: LocalMedia {
            address: "127.0.0.1".parse().expect("literal"),
            port: 20000,
            codecs: vec![Codec::Pcma, Codec::Pcmu],
            session_id: 1,
            session_version: 1,
        },
    }
}

/// The authorization order of `PayApp` (a test card, never a real one).
pub fn order() -> Box<AuthorizeOrder> {
    let invoice = fixtures::invoice(InvoiceStatus::Payable);
    let merchant = fixtures::merchant(&["VISA"]);
    Box::new(AuthorizeOrder {
        invoice,
        merchant,
        card: CardNumber::parse("4100000000000100").expect("a test card"),
        expiry: Expiry::parse_mmyy("1230").expect("an expiry"),
        csc: SecurityCode::parse("123", Brand::Visa).expect("a code"),
        attempt: 1,
    })
}

#[cfg(test)]
#[path = "pair_tests.rs"]
mod tests;
