//! What a UAS answers to requests that do not belong to an existing call: new INVITEs are
//! admitted or refused with the precise status RFC 3261 8.2 asks for, and out-of-dialog
//! OPTIONS, stray BYEs and unknown methods get their answers here.
//!
//! Refusals are sent statelessly (RFC 3261 8.2.7): a retransmitted request gets the same
//! bytes again, because the To tag is derived from the branch rather than drawn at random.

use super::headers;
use super::message::{self, MessageBuilder, Method, ParseError, Request};
use super::normalise::{self, Framing};
use super::sdp;
use super::via;

/// Methods a call accepts; sent in Allow.
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO";
/// Body types we understand in INVITE, re-INVITE and INFO.
pub const ACCEPT: &str = "application/sdp, application/dtmf-relay, application/dtmf";
/// SIP extensions we support (none that a Require could need).
pub const SUPPORTED: &[&str] = &[];

/// The facts admission needs about the server right now.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// Calls in progress.
    pub active_calls: usize,
    /// Configured maximum.
    pub max_calls: usize,
    /// True while shutting down: new calls are refused.
    pub draining: bool,
}

/// The decision for a request outside any call.
#[derive(Debug)]
pub enum Decision {
    /// Start a call for this INVITE; `offer` is None for a late offer.
    Admit {
        /// The caller's SDP offer; None for a late offer (ours goes in the 200).
        offer: Option<sdp::SessionDescription>,
    },
    /// Answer with these bytes and forget the request.
    Reply(Vec<u8>),
    /// Drop silently (an ACK for a call we no longer know).
    Ignore,
}

/// Decides what to do with a request whose Call-ID matches no call.
pub fn decide(req: &Request, is_service: impl Fn(&str) -> bool, load: Load, server: &str) -> Decision {
    let reply = |status: u16, reason: &str| stateless_reply(req, status, reason, server);
    match &req.method {
        Method::Ack => Decision::Ignore,
        Method::Options => options_reply(req, &is_service, load, server),
        Method::Invite if req.core.to_tag.is_some() => {
            Decision::Reply(reply(481, "Call/Transaction Does Not Exist").build())
        }
        Method::Invite => admit_invite(req, &is_service, load, server),
        Method::Bye | Method::Cancel | Method::Info => {
            Decision::Reply(reply(481, "Call/Transaction Does Not Exist").build())
        }
        Method::Other(_) => Decision::Reply(reply(501, "Not Implemented").header("Allow", ALLOW).build()),
        _ => Decision::Reply(reply(405, "Method Not Allowed").header("Allow", ALLOW).build()),
    }
}

/// RFC 3261 11.2: an OPTIONS is answered with the status an INVITE to the same URI
/// would get (404 for a number nobody answers, 420 for a Require we lack, 503 when
/// full), and 200 with our capabilities otherwise. A Request-URI without a user
/// addresses the server itself (a proxy's or a balancer's keep-alive): no 404 then.
fn options_reply(req: &Request, is_service: &impl Fn(&str) -> bool, load: Load, server: &str) -> Decision {
    if let Some(refusal) = refusal(req, is_service, load, server, req.uri_user.is_some()) {
        return refusal;
    }
    Decision::Reply(
        stateless_reply(req, 200, "OK", server)
            .header("Allow", ALLOW)
            .header("Accept", "application/sdp")
            .header("Accept-Language", "fr, en")
            .build(),
    )
}

/// The refusals that depend on the Request-URI, Require and the load, in the order of
/// RFC 3261 8.2.2 (URI, then extensions), shared by INVITE and OPTIONS.
fn refusal(
    req: &Request,
    is_service: &impl Fn(&str) -> bool,
    load: Load,
    server: &str,
    check_user: bool,
) -> Option<Decision> {
    let reply = |status: u16, reason: &str| stateless_reply(req, status, reason, server);
    let user = req.uri_user.as_deref().unwrap_or("");
    if check_user && !is_service(user) {
        return Some(Decision::Reply(reply(404, "Not Found (No Such Service Number)").build()));
    }
    let unsupported: Vec<&str> = req
        .headers
        .get_all("Require")
        .into_iter()
        .filter(|opt| !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(opt)))
        .collect();
    if !unsupported.is_empty() {
        let r = reply(420, "Bad Extension").header("Unsupported", &unsupported.join(", "));
        return Some(Decision::Reply(r.build()));
    }
    if load.draining {
        let r = reply(503, "Service Unavailable (Shutting Down)").header("Retry-After", "30");
        return Some(Decision::Reply(r.build()));
    }
    if load.active_calls >= load.max_calls {
        let r = reply(503, "Service Unavailable (Call Limit Reached)").header("Retry-After", "30");
        return Some(Decision::Reply(r.build()));
    }
    None
}

fn admit_invite(req: &Request, is_service: &impl Fn(&str) -> bool, load: Load, server: &str) -> Decision {
    let reply = |status: u16, reason: &str| stateless_reply(req, status, reason, server);
    if let Some(refusal) = refusal(req, is_service, load, server, true) {
        return refusal;
    }
    if req.body.is_empty() {
        return Decision::Admit { offer: None };
    }
    let ctype = req.headers.get("Content-Type").unwrap_or("");
    let base = ctype.split(';').next().unwrap_or("").trim();
    if !base.eq_ignore_ascii_case("application/sdp") {
        return Decision::Reply(reply(415, "Unsupported Media Type").header("Accept", "application/sdp").build());
    }
    let text = match std::str::from_utf8(&req.body) {
        Ok(t) => t,
        Err(_) => return Decision::Reply(reply(400, "Bad Request (SDP Not UTF-8)").build()),
    };
    let offer = match sdp::parse(text) {
        Ok(o) => o,
        Err(e) => {
            let r =
                reply(488, "Not Acceptable Here (Unreadable SDP)").header("Warning", &format!("399 ivrpay \"{e}\""));
            return Decision::Reply(r.build());
        }
    };
    match sdp::check_offer(&offer) {
        Ok(()) => {}
        Err(sdp::SdpError::NoConnection) => {
            let warn = "399 ivrpay \"No connection address (c=) for the audio stream\"";
            let r = reply(488, "Not Acceptable Here (No Connection Address)").header("Warning", warn);
            return Decision::Reply(r.build());
        }
        Err(_) => {
            let warn = "304 ivrpay \"Media type not available: no G.711 audio\"";
            let r = reply(488, "Not Acceptable Here (No G.711 Audio)").header("Warning", warn);
            return Decision::Reply(r.build());
        }
    }
    Decision::Admit { offer: Some(offer) }
}

/// A response to a request we hold no state for, with a To tag that is a function of
/// the branch (so retransmissions get identical answers).
pub fn stateless_reply(req: &Request, status: u16, reason: &str, server: &str) -> MessageBuilder {
    let tag = stateless_tag(&req.core.branch);
    req.reply(status, reason, Some(&tag)).header("Server", server)
}

fn stateless_tag(branch: &str) -> String {
    // FNV-1a: stable across runs, no dependency, and only needs to be distinct.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in branch.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("s{:012x}", h & 0xffff_ffff_ffff)
}

/// What goes back for a message that failed to parse, with its status: the status its
/// error names (400, 416, 505), 501 for a method token rsip does not know, nothing for
/// an ACK (never answered, RFC 3261 17.2.1), a response or text without a request line.
pub fn answer_unparsable(raw: &[u8], err: &ParseError, server: &str) -> Option<(u16, Vec<u8>)> {
    let token = message::request_method_token(raw)?;
    if token == "ACK" {
        return None;
    }
    let (status, reason) = match (Method::parse(token), err) {
        // rsip only knows the standard methods: an unknown token it refused is 501, not
        // 400; our own checks (version, Via, quotes...) keep their answer.
        (Method::Other(_), ParseError::Syntax(_)) => (501, "Not Implemented".to_string()),
        _ => (err.status(), err.reason_phrase()),
    };
    unparsable_reply(raw, status, &reason, server).map(|bytes| (status, bytes))
}

/// Answers a request that failed to parse (400) or whose method we do not know (501),
/// from its raw text. Needs the minimum a peer must send for any answer to reach it
/// (Via, From, To, Call-ID, CSeq); without them the message is dropped.
///
/// Vias are copied through [`via::sanitise`]: a malformed one is repaired, not echoed.
/// When the head can be normalised, its unfolded form is read (a folded Via or From).
pub fn unparsable_reply(raw: &[u8], status: u16, reason: &str, server: &str) -> Option<Vec<u8>> {
    let unfolded = normalise::normalise(raw, Framing::Datagram).ok();
    let text = String::from_utf8_lossy(unfolded.as_deref().unwrap_or(raw));
    let head = text.split("\r\n\r\n").next().unwrap_or(&text);
    let mut vias = Vec::new();
    let (mut from, mut to, mut call_id, mut cseq) = (None, None, None, None);
    for line in head.lines().skip(1) {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim().to_string();
        match name.trim().to_ascii_lowercase().as_str() {
            "via" | "v" => vias.extend(headers::split_list(&value).into_iter().filter_map(via::sanitise)),
            "from" | "f" => from = Some(value),
            "to" | "t" => to = Some(value),
            "call-id" | "i" => call_id = Some(value),
            "cseq" => cseq = Some(value),
            _ => {}
        }
    }
    let (from, to, call_id, cseq) = (from?, to?, call_id?, cseq?);
    if vias.is_empty() {
        return None;
    }
    let to = if headers::param(&to, "tag").is_some() { to } else { format!("{to};tag=s{status}") };
    let mut b = MessageBuilder::response(status, reason);
    if status == 501 {
        b = b.header("Allow", ALLOW);
    }
    for v in &vias {
        b = b.header("Via", v);
    }
    Some(
        b.header("From", &from)
            .header("To", &to)
            .header("Call-ID", &call_id)
            .header("CSeq", &cseq)
            .header("Server", server)
            .build(),
    )
}

#[cfg(test)]
#[path = "admission_tests.rs"]
mod tests;
