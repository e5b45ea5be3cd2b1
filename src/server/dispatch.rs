//! Routes each incoming message: to the call that owns its Call-ID, or through
//! admission for new INVITEs and out-of-dialog requests. Malformed requests get a 400
//! naming what was wrong, unknown methods a 501, and the server carries on.

use super::ServerCtx;
use crate::call::task::{self, CallInput};
use crate::sip::admission::{self, Decision, Load};
use crate::sip::framing::FramingError;
use crate::sip::message::{self, Method, SipMessage};
use crate::sip::normalise::Framing;
use crate::sip::transport::Inbound;
use crate::sip::{Flow, Transport};
use std::sync::Arc;

/// The [`Inbound`] handler of the server.
pub struct Dispatcher {
    ctx: Arc<ServerCtx>,
}

impl Dispatcher {
    /// A dispatcher over the server's shared state.
    pub fn new(ctx: Arc<ServerCtx>) -> Self {
        Dispatcher { ctx }
    }

    fn reply_unparsable(&self, raw: &[u8], flow: Flow, err: &message::ParseError) {
        let Some(token) = message::request_method_token(raw) else {
            tracing::debug!(peer = %flow.remote, error = %err, "dropping unparsable message");
            return;
        };
        let (status_reason, status) = match Method::parse(token) {
            // rsip only knows the standard methods: an unknown token is 501, not 400.
            Method::Other(_) => ("Not Implemented".to_string(), 501),
            _ => (err.reason_phrase(), 400),
        };
        tracing::info!(peer = %flow.remote, status, error = %err, "refusing malformed request");
        if token == "ACK" {
            return; // never answer an ACK
        }
        if let Some(bytes) = admission::unparsable_reply(raw, status, &status_reason, &self.ctx.server_header) {
            self.ctx.outbound.send(flow, bytes);
        }
    }

    fn on_request(&self, req: message::Request, flow: Flow) {
        let existing = self.ctx.calls.lock().unwrap_or_else(|e| e.into_inner()).get(&req.core.call_id).cloned();
        if let Some(call) = existing {
            if call.send(CallInput::Sip(Box::new(SipMessage::Request(req.clone())), flow)).is_ok() {
                return;
            }
        }
        let cfg = &self.ctx.config;
        let load = Load {
            active_calls: self.ctx.active_calls(),
            max_calls: cfg.sip.max_calls,
            draining: self.ctx.admission.is_draining(),
        };
        let service = req.uri_user.as_deref().and_then(|u| self.ctx.route(u));
        let is_service = |_: &str| service.is_some();
        match admission::decide(&req, is_service, load, &self.ctx.server_header) {
            Decision::Ignore => {}
            Decision::Reply(bytes) => self.ctx.outbound.send(flow, bytes),
            Decision::Admit { offer } => {
                // Two INVITEs racing for the last place: the second is refused as if full.
                let Some(permit) = self.ctx.admission.try_admit() else {
                    let b = admission::stateless_reply(
                        &req,
                        503,
                        "Service Unavailable (Call Limit Reached)",
                        &self.ctx.server_header,
                    )
                    .header("Retry-After", "30")
                    .build();
                    return self.ctx.outbound.send(flow, b);
                };
                let pair = match self.ctx.ports.allocate() {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(error = %e, "refusing call: no RTP port");
                        let b = admission::stateless_reply(
                            &req,
                            503,
                            "Service Unavailable (No Media Port)",
                            &self.ctx.server_header,
                        )
                        .header("Retry-After", "30")
                        .build();
                        return self.ctx.outbound.send(flow, b);
                    }
                };
                let Some(service) = service else { return };
                task::spawn(self.ctx.clone(), req, offer, flow, pair, service, permit);
            }
        }
    }
}

impl Inbound for Dispatcher {
    fn on_message(&self, raw: &[u8], flow: Flow) {
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
                let call = self.ctx.calls.lock().unwrap_or_else(|e| e.into_inner()).get(&resp.core.call_id).cloned();
                if let Some(call) = call {
                    let _ = call.send(CallInput::Sip(Box::new(SipMessage::Response(resp)), flow));
                }
            }
            Err(e) => self.reply_unparsable(raw, flow, &e),
        }
    }

    fn on_framing_error(&self, raw_head: &[u8], flow: Flow, error: &FramingError) {
        tracing::info!(peer = %flow.remote, %error, "closing TCP connection after framing error");
        if let Some(bytes) =
            admission::unparsable_reply(raw_head, 400, &format!("Bad Request ({error})"), &self.ctx.server_header)
        {
            self.ctx.outbound.send(flow, bytes);
        }
    }
}
