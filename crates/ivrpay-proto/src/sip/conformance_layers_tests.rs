//! Conformance beyond the parser, in the categories of RFC 4475 3.2 (transaction layer),
//! 3.3 (application layer) and 3.4 (backward compatibility with RFC 2543), with messages
//! written here. Helpers are shared with `conformance_tests.rs`.

use super::admission::{decide, Decision, Load};
use super::conformance_tests::{check, outcome, request, Outcome, LOAD, SDP};
use super::message::{parse, SipMessage};
use super::normalise::Framing;

// RFC 4475 3.2: transaction layer.

#[test]
fn transaction_layer_cases() {
    let no_branch = request("OPTIONS", "sip:echo@192.0.2.1", "t1", "", "").replace(";branch=z9hG4bKt1", "");
    let no_cookie =
        request("OPTIONS", "sip:echo@192.0.2.1", "t2", "", "").replace("branch=z9hG4bKt2", "branch=1234abc");
    let bad_response = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;;branch=\r\nFrom: <sip:a@h>;tag=1\r\n\
                        To: <sip:b@h>;tag=2\r\nCall-ID: t3\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
    check(&[
        ("no branch at all", no_branch, Outcome::Answer(200)),
        ("branch without the magic cookie", no_cookie, Outcome::Answer(200)),
        ("ACK outside any call", request("ACK", "sip:echo@192.0.2.1", "t4", "", ""), Outcome::Silence),
        (
            "malformed ACK",
            request("ACK", "sip:echo@192.0.2.1", "t5", "", "").replace("CSeq: 1 ACK", "CSeq: 1 INVITE"),
            Outcome::Silence,
        ),
        (
            "ACK of version 7.0",
            request("ACK", "sip:echo@192.0.2.1", "t6", "", "").replacen("SIP/2.0", "SIP/7.0", 1),
            Outcome::Silence,
        ),
        ("CANCEL for no transaction", request("CANCEL", "sip:echo@192.0.2.1", "t7", "", ""), Outcome::Answer(481)),
        (
            "BYE for no dialog",
            request("BYE", "sip:echo@192.0.2.1", "t8", "", "")
                .replace("To: <sip:echo@192.0.2.1>", "To: <sip:echo@192.0.2.1>;tag=gone"),
            Outcome::Answer(481),
        ),
        ("response with a malformed top Via", bad_response.to_string(), Outcome::Silence),
    ]);
}

#[test]
fn a_retransmission_gets_the_same_bytes_also_without_a_branch() {
    for raw in [
        request("OPTIONS", "sip:nobody@192.0.2.1", "r1", "", ""),
        request("OPTIONS", "sip:nobody@192.0.2.1", "r2", "", "").replace(";branch=z9hG4bKr2", ""),
        request("INVITE", "sip:echo@192.0.2.1", "r3", "", SDP).replace("CSeq: 1 INVITE", "CSeq: 1 OPTIONS"),
    ] {
        let (a, b) = (outcome(raw.as_bytes()), outcome(raw.as_bytes()));
        assert!(matches!(a.0, Outcome::Answer(_)), "{a:?}");
        assert_eq!(a, b, "identical answers to a retransmission");
    }
}

// RFC 4475 3.3: application layer.

#[test]
fn request_uri_schemes_we_do_not_serve_get_416() {
    let tel = request("INVITE", "tel:+33123456789", "a1", "", SDP);
    check(&[
        ("tel URI", tel.clone(), Outcome::Answer(416)),
        ("unknown scheme", request("OPTIONS", "nobodyknows:totally-opaque;stuff", "a2", "", ""), Outcome::Answer(416)),
        ("mailto", request("OPTIONS", "mailto:echo@example.com", "a3", "", ""), Outcome::Answer(416)),
        ("upper-case SIP is sip", request("OPTIONS", "SIP:echo@192.0.2.1", "a4", "", ""), Outcome::Answer(200)),
        (
            "unknown scheme in To only",
            request("OPTIONS", "sip:echo@192.0.2.1", "a5", "", "")
                .replace("To: <sip:echo@192.0.2.1>", "To: <nobodyknows:opaque>"),
            Outcome::Answer(200),
        ),
    ]);
    let (_, text) = outcome(tel.as_bytes());
    assert!(text.starts_with("SIP/2.0 416 Unsupported URI Scheme\r\n"), "{text}");
}

#[test]
fn options_gets_the_answer_an_invite_would_get() {
    let opt = |user: &str, id: &str, extra: &str| request("OPTIONS", &format!("sip:{user}@192.0.2.1"), id, extra, "");
    let inv = |user: &str, id: &str, extra: &str| request("INVITE", &format!("sip:{user}@192.0.2.1"), id, extra, SDP);
    check(&[
        ("OPTIONS to a service", opt("echo", "o1", ""), Outcome::Answer(200)),
        ("OPTIONS to an unknown number", opt("4711", "o2", ""), Outcome::Answer(404)),
        ("INVITE to an unknown number", inv("4711", "o3", ""), Outcome::Answer(404)),
        ("OPTIONS with an unknown Require", opt("echo", "o4", "Require: nothingyouknow\r\n"), Outcome::Answer(420)),
        ("INVITE with an unknown Require", inv("echo", "o5", "Require: nothingyouknow\r\n"), Outcome::Answer(420)),
        ("Proxy-Require is for proxies", opt("echo", "o6", "Proxy-Require: nothingyouknow\r\n"), Outcome::Answer(200)),
        ("OPTIONS to the server itself", request("OPTIONS", "sip:192.0.2.1", "o7", "", ""), Outcome::Answer(200)),
        ("OPTIONS to an escaped service", opt("%65cho", "o8", ""), Outcome::Answer(200)),
        (
            "Max-Forwards of zero at the UAS",
            opt("echo", "o9", "").replace("Max-Forwards: 70", "Max-Forwards: 0"),
            Outcome::Answer(200),
        ),
        (
            "unknown Content-Type",
            inv("echo", "o10", "").replace("application/sdp", "application/nobodyknows"),
            Outcome::Answer(415),
        ),
    ]);
    let (_, text) = outcome(opt("echo", "o11", "Require: nothingyouknow, alsounknown\r\n").as_bytes());
    assert!(text.contains("\r\nUnsupported: nothingyouknow, alsounknown\r\n"), "{text}");
    let raw = opt("4711", "o12", "");
    let r = match parse(raw.as_bytes(), Framing::Datagram).unwrap() {
        SipMessage::Request(r) => r,
        _ => unreachable!(),
    };
    let full = Load { active_calls: 10, ..LOAD };
    let status = |d: Decision| match d {
        Decision::Reply(b) => String::from_utf8(b).unwrap()[8..11].to_string(),
        other => format!("{other:?}"),
    };
    assert_eq!(status(decide(&r, |_| true, full, "s")), "503", "a full server says so to OPTIONS too");
    let draining = Load { draining: true, ..LOAD };
    assert_eq!(status(decide(&r, |_| true, draining, "s")), "503");
}

#[test]
fn the_decoded_user_is_what_routing_sees() {
    let raw = request("INVITE", "sip:%65ch%6f@192.0.2.1", "u2", "", SDP);
    match parse(raw.as_bytes(), Framing::Datagram).unwrap() {
        SipMessage::Request(r) => assert_eq!(r.uri_user.as_deref(), Some("echo")),
        _ => unreachable!(),
    }
}

// RFC 4475 3.4: backward compatibility with RFC 2543.

/// An RFC 2543 INVITE: no branch (so no magic cookie), no From tag, no Max-Forwards,
/// a Via with only its host.
pub(super) fn rfc2543_invite(call_id: &str) -> String {
    format!(
        "INVITE sip:echo@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10\r\nFrom: sip:tester@192.0.2.10\r\n\
         To: sip:echo@192.0.2.1\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
}

#[test]
fn rfc2543_requests_are_served() {
    check(&[
        ("RFC 2543 INVITE", rfc2543_invite("old@192.0.2.10"), Outcome::Admit),
        (
            "RFC 2543 OPTIONS",
            rfc2543_invite("old2@192.0.2.10")
                .replace("INVITE", "OPTIONS")
                .replace(SDP, "")
                .replace("Content-Type: application/sdp\r\n", "")
                .replace(&format!("Content-Length: {}", SDP.len()), "Content-Length: 0"),
            Outcome::Answer(200),
        ),
    ]);
    let r = match parse(rfc2543_invite("old3").as_bytes(), Framing::Datagram).unwrap() {
        SipMessage::Request(r) => r,
        _ => unreachable!(),
    };
    assert!(r.core.branch.starts_with("rfc2543-old3-1-"), "a transaction key is made up: {}", r.core.branch);
    assert_eq!(r.core.from_tag, None);
}
