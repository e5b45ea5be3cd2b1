//! Routes each incoming message: to the call that owns its Call-ID, or through
//! admission for new INVITEs and out-of-dialog requests. Malformed requests get a 400
//! naming what was wrong, unknown methods a 501, and the server carries on. Before
//! anything is parsed, the source must be within its rates (`sip::pike`): a flooding
//! source, or a known scanner, is ignored for a cool-down, logged once per block.

use super::routing::Router;
use crate::call::admission::{Admission, Admitted, Refusal};
use crate::call::env::CallEnv;
use crate::call::registry::Delivery;
use crate::call::task::{self, CallInput, Place};
use crate::sip::admission::{self, Decision, Load};
use crate::sip::framing::FramingError;
use crate::sip::message::{self, Method, SipMessage};
use crate::sip::normalise::Framing;
use crate::sip::pike::{Kind, SourceGuard, Verdict};
use crate::sip::transport::Inbound;
use crate::sip::{Flow, Transport};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The [`Inbound`] handler of the server.
pub struct Dispatcher {
    /// What a new call is given; also the registry of calls and the outbound SIP.
    env: Arc<CallEnv>,
    admission: Arc<Admission>,
    router: Arc<Router>,
    guard: Mutex<SourceGuard>,
}

impl Dispatcher {
    /// A dispatcher admitting calls with `admission` (a place and RTP ports each), giving
    /// each the service `router` names, and routing to calls through `env`'s registry.
    pub fn new(env: Arc<CallEnv>, admission: Arc<Admission>, router: Arc<Router>, guard: SourceGuard) -> Self {
        Dispatcher { env, admission, router, guard: Mutex::new(guard) }
    }

    /// Whether a message (or a new call) from `ip` is within its source's rates.
    fn within_rates(&self, ip: IpAddr, kind: Kind) -> bool {
        let verdict = self.guard.lock().unwrap_or_else(|e| e.into_inner()).check(ip, kind, Instant::now());
        heard(ip, verdict)
    }

    fn server_header(&self) -> &str {
        &self.env.settings.server_header
    }

    /// A stateless 503 for `req`, with `Retry-After` so a balancer tries again later.
    fn refuse_busy(&self, req: &message::Request, flow: Flow, reason: &str) {
        let b = admission::stateless_reply(req, 503, reason, self.server_header()).header("Retry-After", "30").build();
        self.env.outbound.send(flow, b);
    }

    fn reply_unparsable(&self, raw: &[u8], flow: Flow, err: &message::ParseError) {
        match admission::answer_unparsable(raw, err, self.server_header()) {
            Some((status, bytes)) => {
                tracing::info!(peer = %flow.remote, status, error = %err, "refusing malformed request");
                self.env.outbound.send(flow, bytes);
            }
            None => tracing::debug!(peer = %flow.remote, error = %err, "dropping unparsable message"),
        }
    }

    fn on_request(&self, req: message::Request, flow: Flow) {
        if self.env.calls.contains(&req.core.call_id) {
            let input = CallInput::Sip(Box::new(SipMessage::Request(req.clone())), flow);
            match self.env.calls.deliver(&req.core.call_id, input) {
                Delivery::Delivered | Delivery::Overflow => return,
                Delivery::NoCall => {} // it just ended: answered as outside any call
            }
        }
        let ip = flow.remote.ip();
        if req.headers.get("User-Agent").is_some_and(super::edge::is_scanner) {
            let verdict = self.guard.lock().unwrap_or_else(|e| e.into_inner()).block(ip, Instant::now());
            heard(ip, verdict);
            return;
        }
        if req.method == Method::Invite && !self.within_rates(ip, Kind::NewCall) {
            return;
        }
        let load = Load {
            active_calls: self.admission.active_calls(),
            max_calls: self.admission.max_calls(),
            draining: self.admission.is_draining(),
        };
        let service = req.uri_user.as_deref().and_then(|u| self.router.route(u, flow.remote.ip()));
        let is_service = |_: &str| service.is_some();
        match admission::decide(&req, is_service, load, self.server_header()) {
            Decision::Ignore => {}
            Decision::Reply(bytes) => self.env.outbound.send(flow, bytes),
            Decision::Admit { offer } => {
                // No room to record the call: refused at the door rather than answered
                // and lost (counted by the writer).
                let Some(records) = self.env.records.reserve() else {
                    let shed = self.env.records.stats().shed.load(std::sync::atomic::Ordering::Relaxed);
                    if shed.is_power_of_two() {
                        // Logged at 1, 2, 4, 8... refusals: seen, without a line per INVITE.
                        tracing::warn!(source = %ip, shed_total = shed, "refusing calls: call records queue full");
                    }
                    return self.refuse_busy(&req, flow, "Service Unavailable (Overloaded)");
                };
                // Two INVITEs racing for the last place: the second is refused as if full.
                let Admitted { permit, ports } = match self.admission.admit(ip) {
                    Ok(admitted) => admitted,
                    Err(Refusal::Full) => {
                        return self.refuse_busy(&req, flow, "Service Unavailable (Call Limit Reached)")
                    }
                    Err(Refusal::SourceFull(_)) => {
                        return self.refuse_busy(&req, flow, "Service Unavailable (Too Many Calls From Your Address)")
                    }
                    Err(e @ Refusal::NoMediaPort(_)) => {
                        tracing::warn!(error = %e, "refusing call: no RTP port");
                        return self.refuse_busy(&req, flow, "Service Unavailable (No Media Port)");
                    }
                };
                let Some(service) = service else { return };
                task::spawn(self.env.clone(), req, offer, flow, service, Place { permit, ports, records });
            }
        }
    }
}

impl Inbound for Dispatcher {
    fn on_message(&self, raw: &[u8], flow: Flow) {
        if !self.within_rates(flow.remote.ip(), Kind::Message) {
            return;
        }
        // Defence in depth: a bug on some input (as the fuzzers once found) loses that
        // message, not the receive loop every caller shares. The panic hook has logged
        // where, without the message's bytes.
        let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.handle(raw, flow)));
        if handled.is_err() {
            tracing::error!(peer = %flow.remote, transport = ?flow.transport, bytes = raw.len(), "SIP message dropped: its handling panicked");
        }
    }

    fn on_framing_error(&self, raw_head: &[u8], flow: Flow, error: &FramingError) {
        tracing::info!(peer = %flow.remote, %error, "closing TCP connection after framing error");
        if let Some(bytes) =
            admission::unparsable_reply(raw_head, 400, &format!("Bad Request ({error})"), self.server_header())
        {
            self.env.outbound.send(flow, bytes);
        }
    }
}

impl Dispatcher {
    /// One message within its source's rates: parsed and routed.
    fn handle(&self, raw: &[u8], flow: Flow) {
        if tracing::enabled!(tracing::Level::TRACE) {
            tracing::trace!(peer = %flow.remote, transport = ?flow.transport, "SIP in:\n{}", crate::sip::redact::for_log(raw));
        }
        let framing = match flow.transport {
            Transport::Udp => Framing::Datagram,
            Transport::Tcp => Framing::Stream,
        };
        match message::parse(raw, framing) {
            Ok(SipMessage::Request(req)) => self.on_request(req, flow),
            Ok(SipMessage::Response(resp)) => {
                let call_id = resp.core.call_id.clone();
                self.env.calls.deliver(&call_id, CallInput::Sip(Box::new(SipMessage::Response(resp)), flow));
            }
            Err(e) => self.reply_unparsable(raw, flow, &e),
        }
    }
}

/// True for a message to handle; a source just blocked is logged once, with what its
/// previous block dropped.
fn heard(ip: IpAddr, verdict: Verdict) -> bool {
    match verdict {
        Verdict::Pass => true,
        Verdict::Drop => false,
        Verdict::Blocked { dropped } => {
            tracing::warn!(source = %ip, previous_block_dropped = dropped, "source over its limits or a scanner: ignored");
            false
        }
    }
}
