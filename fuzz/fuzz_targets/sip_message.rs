//! SIP parsing as a transport sees it: the normaliser and rsip behind
//! `message::parse`, for a datagram and for a message the TCP framer cut, and the
//! start-line check that picks 501 over 400.
//!
//! Beyond not panicking: the method token returned is a slice of the start line, and
//! the reply built for every parsed request (`Request::reply` with a body, as a 200 to
//! an INVITE is sent) parses back as a response carrying the request's Call-ID and
//! CSeq, so nothing a peer sends makes us emit an answer it cannot match (unless the
//! request is itself within a few lines of the 100-header limit: the reply adds
//! Content-Type and Content-Length to what it copies).
#![no_main]

use ivrpay_proto::sip::message::{parse, request_method_token, SipMessage};
use ivrpay_proto::sip::normalise::Framing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    if let Some(token) = request_method_token(raw) {
        assert!(!token.is_empty() && token.len() < raw.len());
    }
    for framing in [Framing::Datagram, Framing::Stream] {
        let Ok(SipMessage::Request(req)) = parse(raw, framing) else { continue };
        if req.headers.iter().count() > 94 {
            continue;
        }
        let reply = req.reply(200, "OK", Some("fuzztag")).body("application/sdp", b"v=0\r\n".to_vec()).build();
        let back = match parse(&reply, Framing::Stream) {
            Ok(SipMessage::Response(r)) => r,
            other => panic!("our reply does not parse back: {other:?}\n{}", String::from_utf8_lossy(&reply)),
        };
        assert_eq!(back.status, 200);
        assert_eq!(back.core.call_id, req.core.call_id);
        assert_eq!((back.core.cseq, &back.core.cseq_method), (req.core.cseq, &req.core.cseq_method));
    }
});
