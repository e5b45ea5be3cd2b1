//! Parsing conformance, in the categories of RFC 4475 (SIP torture tests), with messages
//! written here in the spirit of that RFC: 3.1.1 valid but tortuous messages, 3.1.2
//! invalid ones; transaction, application and backward-compatibility cases are in
//! `conformance_layers_tests.rs`. Each message goes through what the dispatcher does
//! with a datagram: parse, then admission or the answer to an unparsable message.

use super::admission::{self, decide, Decision, Load, ALLOW};
use super::message::{parse, SipMessage};
use super::normalise::Framing;

/// What the server does with one message.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Answered with this status.
    Answer(u16),
    /// A call is started.
    Admit,
    /// Nothing is sent.
    Silence,
    /// Read as a response with this status (handed to its call, if any).
    Response(u16),
}

pub(super) const LOAD: Load = Load { active_calls: 0, max_calls: 10, draining: false };

pub(super) const SDP: &str = "v=0\r\no=- 7 7 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 6000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";

/// The outcome and the text sent (the answer, or the error for a silence).
pub(super) fn outcome(raw: &[u8]) -> (Outcome, String) {
    match parse(raw, Framing::Datagram) {
        Ok(SipMessage::Request(r)) => match decide(&r, |u| u == "echo", LOAD, "ivrpay") {
            Decision::Reply(b) => {
                let text = String::from_utf8(b).unwrap();
                (Outcome::Answer(text[8..11].parse().unwrap()), text)
            }
            Decision::Admit { .. } => (Outcome::Admit, String::new()),
            Decision::Ignore => (Outcome::Silence, String::new()),
        },
        Ok(SipMessage::Response(r)) => (Outcome::Response(r.status), r.reason),
        Err(e) => match admission::answer_unparsable(raw, &e, "ivrpay") {
            Some((status, bytes)) => (Outcome::Answer(status), String::from_utf8_lossy(&bytes).into_owned()),
            None => (Outcome::Silence, e.to_string()),
        },
    }
}

/// A plain request with the five mandatory headers, `extra` before the body.
pub(super) fn request(method: &str, uri: &str, id: &str, extra: &str, body: &str) -> String {
    let ct = if body.is_empty() { "" } else { "Content-Type: application/sdp\r\n" };
    format!(
        "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK{id}\r\n\
         From: \"Tester\" <sip:tester@192.0.2.10>;tag=t{id}\r\nTo: <{uri}>\r\nCall-ID: {id}@192.0.2.10\r\n\
         CSeq: 1 {method}\r\nMax-Forwards: 70\r\n{extra}{ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Asserts the outcome of each (label, message, expected).
pub(super) fn check(cases: &[(&str, String, Outcome)]) {
    let mut wrong = Vec::new();
    for (label, raw, expected) in cases {
        let (got, text) = outcome(raw.as_bytes());
        if got != *expected {
            wrong.push(format!("{label}: expected {expected:?}, got {got:?}\n{text}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n---\n"));
}

// RFC 4475 3.1.1: valid messages, however odd, are understood.

/// A short INVITE using most of the grammar's latitude at once: header names in any
/// case, compact forms, whitespace around colons and slashes, folded lines (also inside
/// the Via), an escaped quote in a display name, unknown headers and a To with an
/// unknown URI scheme (only the Request-URI's scheme matters).
pub(super) fn tortuous_invite() -> String {
    let sdp_len = SDP.len();
    format!(
        "INVITE sip:echo@192.0.2.1:5060;transport=udp SIP/2.0\r\n\
         TO :\r\n <sip:echo@192.0.2.1>\r\n\
         fRoM   :  \"Caller \\\"The Tester\\\" \" <sip:tester@192.0.2.10>\r\n\t;tag=88sja8x\r\n\
         mAx-fOrWaRdS: 0068\r\n\
         Call-ID: tortuous.0ha0isndaksdj@192.0.2.10\r\n\
         cseq: 0009\r\n  INVITE\r\n\
         Via  : SIP  /   2.0\r\n /  UDP\r\n    192.0.2.10:5070;branch=z9hG4bKtortuous1;rport\r\n\
         v: SIP/2.0/TCP 198.51.100.3;branch=z9hG4bKupstream\r\n\
         X-Odd-Header:  !#$%&'*+-.^_`|~ (comment) \"quoted; with , inside\"\r\n\
         NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n\
         Reply-To: \"unknown scheme\" <nobodyknows:opaque-content>\r\n\
         m: <sip:tester@192.0.2.10:5070>\r\n\
         c: application/sdp\r\n\
         l: {sdp_len}\r\n\r\n{SDP}"
    )
}

#[test]
fn valid_tortuous_messages_are_answered_as_plain_ones_would_be() {
    let long = "x".repeat(4000);
    let many_vias: String =
        (0..30).map(|i| format!("Via: SIP/2.0/UDP 198.51.100.{i};branch=z9hG4bKhop{i}\r\n")).collect();
    check(&[
        ("tortuous INVITE", tortuous_invite(), Outcome::Admit),
        (
            "lower-case version",
            request("OPTIONS", "sip:echo@192.0.2.1", "v1", "", "").replacen("SIP/2.0", "sip/2.0", 1),
            Outcome::Answer(200),
        ),
        ("escaped user", request("INVITE", "sip:%65cho@192.0.2.1", "v2", "", SDP), Outcome::Admit),
        ("fully escaped user", request("OPTIONS", "sip:%65%63%68%6F@192.0.2.1", "v3", "", ""), Outcome::Answer(200)),
        (
            "escaped user not a service",
            request("OPTIONS", "sip:%65cho%40x@192.0.2.1", "v4", "", ""),
            Outcome::Answer(404),
        ),
        ("unknown method", request("NEWMETHOD", "sip:echo@192.0.2.1", "v5", "", ""), Outcome::Answer(501)),
        ("known method not allowed", request("REGISTER", "sip:192.0.2.1", "v6", "", ""), Outcome::Answer(405)),
        (
            "long header value",
            request("OPTIONS", "sip:echo@192.0.2.1", "v7", &format!("X-Long: {long}\r\n"), ""),
            Outcome::Answer(200),
        ),
        ("thirty Vias", request("OPTIONS", "sip:echo@192.0.2.1", "v8", &many_vias, ""), Outcome::Answer(200)),
        ("long Call-ID", request("OPTIONS", "sip:echo@192.0.2.1", &"c".repeat(900), "", ""), Outcome::Answer(200)),
        (
            "comma-joined Vias",
            request(
                "OPTIONS",
                "sip:echo@192.0.2.1",
                "v9",
                "Via: SIP/2.0/UDP a.example;branch=z9hG4bKa , SIP/2.0/TCP b.example;branch=z9hG4bKb\r\n",
                "",
            ),
            Outcome::Answer(200),
        ),
        (
            "UTF-8 display name",
            request("OPTIONS", "sip:echo@192.0.2.1", "v10", "", "").replace("\"Tester\"", "\"Zoë Ålvarez 測試\""),
            Outcome::Answer(200),
        ),
    ]);
}

#[test]
fn a_multipart_body_is_framed_whole_and_refused_for_its_type() {
    let body = "--boundary42\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n--boundary42\r\n\
                Content-Type: application/octet-stream\r\n\r\n\u{1}\u{2}\r\n\r\n\r\n--boundary42--\r\n";
    let raw = request("INVITE", "sip:echo@192.0.2.1", "mp1", "", body).replace(
        "Content-Type: application/sdp\r\nContent-Length",
        "Content-Type: multipart/mixed;boundary=boundary42\r\nContent-Length",
    );
    let m = match parse(raw.as_bytes(), Framing::Datagram).unwrap() {
        SipMessage::Request(r) => r,
        _ => panic!("a request"),
    };
    assert_eq!(m.body, body.as_bytes(), "blank lines inside the body do not end it");
    let (got, text) = outcome(raw.as_bytes());
    assert_eq!(got, Outcome::Answer(415), "{text}");
    assert!(text.contains("Accept: application/sdp\r\n"), "{text}");
}

#[test]
fn unusual_and_empty_reason_phrases_are_read() {
    let resp = |start: &str| {
        format!(
            "{start}\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr1\r\nFrom: <sip:echo@192.0.2.1>;tag=a\r\n\
             To: <sip:t@192.0.2.10>;tag=b\r\nCall-ID: r1@192.0.2.1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let odd = "SIP/2.0 200 = 2**3 * 5**2 ça fait deux cents, 二百";
    for (start, status, reason) in [(odd, 200, &odd[12..]), ("SIP/2.0 100 ", 100, ""), ("SIP/2.0 487 ", 487, "")] {
        match parse(resp(start).as_bytes(), Framing::Datagram) {
            Ok(SipMessage::Response(r)) => assert_eq!((r.status, r.reason.as_str()), (status, reason), "{start}"),
            other => panic!("{start}: {other:?}"),
        }
    }
}

#[test]
fn an_unknown_method_is_answered_501_with_allow() {
    let (got, text) = outcome(request("NEWMETHOD", "sip:echo@192.0.2.1", "u1", "", "").as_bytes());
    assert_eq!(got, Outcome::Answer(501));
    assert!(text.contains(&format!("Allow: {ALLOW}\r\n")), "{text}");
}

// RFC 4475 3.1.2: invalid messages get the status that names the fault.

#[test]
fn invalid_start_lines_are_refused() {
    let base = request("OPTIONS", "sip:echo@192.0.2.1", "s1", "", "");
    check(&[
        ("version 7.0", base.replacen("SIP/2.0", "SIP/7.0", 1), Outcome::Answer(505)),
        ("doubled space", base.replacen("OPTIONS ", "OPTIONS  ", 1), Outcome::Answer(400)),
        ("doubled space before version", base.replacen(" SIP/2.0", "  SIP/2.0", 1), Outcome::Answer(400)),
        ("tab separator", base.replacen("OPTIONS ", "OPTIONS\t", 1), Outcome::Answer(400)),
        ("trailing space", base.replacen(" SIP/2.0\r\n", " SIP/2.0 \r\n", 1), Outcome::Answer(400)),
        ("space inside the URI", base.replacen("sip:echo@192.0.2.1 ", "sip:echo@192.0.2.1; lr ", 1), Outcome::Answer(400)),
        ("unknown method, version 7.0", request("NEWMETHOD", "sip:echo@h", "s2", "", "").replacen("SIP/2.0", "SIP/7.0", 1), Outcome::Answer(505)),
        ("response of version 7.0", "SIP/7.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKs3\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: s3\r\nCSeq: 1 BYE\r\n\r\n".to_string(), Outcome::Silence),
    ]);
    let (_, text) = outcome(base.replacen("SIP/2.0", "SIP/7.0", 1).as_bytes());
    assert!(text.starts_with("SIP/2.0 505 Version Not Supported\r\n"), "{text}");
}

#[test]
fn mismatched_and_repeated_headers_are_refused() {
    let inv = |id: &str, extra: &str| request("INVITE", "sip:echo@192.0.2.1", id, extra, SDP);
    check(&[
        (
            "CSeq method OPTIONS on an INVITE",
            inv("d1", "").replace("CSeq: 1 INVITE", "CSeq: 1 OPTIONS"),
            Outcome::Answer(400),
        ),
        (
            "CSeq method of another case",
            inv("d2", "").replace("CSeq: 1 INVITE", "CSeq: 1 invite"),
            Outcome::Answer(400),
        ),
        ("two Call-IDs", inv("d3", "Call-ID: other@192.0.2.10\r\n"), Outcome::Answer(400)),
        ("two Froms", inv("d4", "From: <sip:other@192.0.2.10>;tag=9\r\n"), Outcome::Answer(400)),
        ("two Tos", inv("d5", "t: <sip:echo@192.0.2.1>\r\n"), Outcome::Answer(400)),
        ("two CSeqs", inv("d6", "CSeq: 2 INVITE\r\n"), Outcome::Answer(400)),
        ("two Max-Forwards", inv("d7", "Max-Forwards: 69\r\n"), Outcome::Answer(400)),
        (
            "a To listing two URIs",
            inv("d8", "").replace("To: <sip:echo@192.0.2.1>", "To: <sip:echo@192.0.2.1>, <sip:other@192.0.2.1>"),
            Outcome::Answer(400),
        ),
        ("two different Content-Lengths", inv("d9", "l: 3\r\n"), Outcome::Answer(400)),
        (
            "negative Content-Length",
            inv("d10", "").replace(&format!("Content-Length: {}", SDP.len()), "Content-Length: -999"),
            Outcome::Answer(400),
        ),
        (
            "Content-Length past the end",
            inv("d11", "").replace(&format!("Content-Length: {}", SDP.len()), "Content-Length: 9999"),
            Outcome::Answer(400),
        ),
    ]);
    let (_, text) = outcome(inv("d12", "").replace("CSeq: 1 INVITE", "CSeq: 1 OPTIONS").as_bytes());
    assert!(text.starts_with("SIP/2.0 400 Bad Request (CSeq Method Does Not Match)\r\n"), "{text}");
    let (_, text) = outcome(inv("d13", "Call-ID: other@192.0.2.10\r\n").as_bytes());
    assert!(text.starts_with("SIP/2.0 400 Bad Request (Multiple Call-ID Values)\r\n"), "{text}");
}

#[test]
fn control_characters_and_open_quotes_are_refused() {
    let base = |id: &str| request("OPTIONS", "sip:echo@192.0.2.1", id, "", "");
    check(&[
        ("NUL in a header", base("n1").replace("Max-Forwards: 70", "Max-Forwards: 70\0"), Outcome::Answer(400)),
        (
            "NUL in an unknown header",
            base("n2").replace("Max-Forwards: 70", "Max-Forwards: 70\r\nX-Junk: a\0b"),
            Outcome::Answer(400),
        ),
        (
            "bare CR inside a line",
            base("n3").replace("Max-Forwards: 70", "Max-Forwards: 70\rX-Inner: 1"),
            Outcome::Answer(400),
        ),
        ("unterminated quote in To", base("n4").replace("To: <", "To: \"Echo <"), Outcome::Answer(400)),
        ("unterminated quote in From", base("n5").replace("\"Tester\"", "\"Tester\\\""), Outcome::Answer(400)),
        (
            "a lone quote in Subject is text",
            base("n6").replace("Max-Forwards: 70", "Max-Forwards: 70\r\nSubject: 5\" floppy"),
            Outcome::Answer(200),
        ),
    ]);
    let (_, text) = outcome(base("n7").replace("To: <", "To: \"Echo <").as_bytes());
    assert!(text.starts_with("SIP/2.0 400 Bad Request (Unterminated Quoted String)\r\n"), "{text}");
}

#[test]
fn a_malformed_via_is_refused_and_not_echoed() {
    let base = |id: &str| request("OPTIONS", "sip:echo@192.0.2.1", id, "", "");
    let empty_params = base("w1").replace(";branch=z9hG4bKw1", ";;branch=z9hG4bKw1;;");
    let empty_branch = base("w2").replace(";branch=z9hG4bKw2", ";rport;branch=");
    let empty_element = base("w3").replace(";branch=z9hG4bKw3", ";branch=z9hG4bKw3,,");
    check(&[
        ("empty parameters", empty_params.clone(), Outcome::Answer(400)),
        ("empty branch", empty_branch.clone(), Outcome::Answer(400)),
        ("empty list element", empty_element, Outcome::Answer(400)),
        ("no sent-by", base("w4").replace("SIP/2.0/UDP 192.0.2.10:5070", "SIP/2.0/UDP"), Outcome::Silence),
        ("another protocol version", base("w5").replace("Via: SIP/2.0/UDP", "Via: SIP/3.0/UDP"), Outcome::Silence),
    ]);
    let (_, text) = outcome(empty_params.as_bytes());
    assert!(text.starts_with("SIP/2.0 400 Bad Request (Malformed Via)\r\n"), "{text}");
    assert!(text.contains("\r\nVia: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKw1\r\n"), "repaired Via: {text}");
    let (_, text) = outcome(empty_branch.as_bytes());
    assert!(text.contains("\r\nVia: SIP/2.0/UDP 192.0.2.10:5070;rport\r\n"), "{text}");
    assert!(!text.contains("branch="), "{text}");
}

#[test]
fn a_broken_escape_or_missing_header_is_refused() {
    check(&[
        ("truncated escape", request("OPTIONS", "sip:ech%6@192.0.2.1", "e1", "", ""), Outcome::Answer(400)),
        (
            "no Call-ID",
            request("OPTIONS", "sip:echo@192.0.2.1", "e2", "", "").replace("Call-ID: e2@192.0.2.10\r\n", ""),
            Outcome::Silence,
        ),
        (
            "no From",
            request("OPTIONS", "sip:echo@192.0.2.1", "e3", "", "")
                .replace("From: \"Tester\" <sip:tester@192.0.2.10>;tag=te3\r\n", ""),
            Outcome::Silence,
        ),
        (
            "empty CSeq number",
            request("OPTIONS", "sip:echo@192.0.2.1", "e4", "", "").replace("CSeq: 1 OPTIONS", "CSeq: OPTIONS"),
            Outcome::Answer(400),
        ),
    ]);
}
