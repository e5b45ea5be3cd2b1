use super::*;
use crate::sip::message::{parse, SipMessage};
use crate::sip::normalise::Framing;

const SDP_PCMU: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
const SDP_G729: &str =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 18\r\n";

fn req(method: &str, user: &str, extra: &str, ctype: &str, body: &str) -> Request {
    let ct = if body.is_empty() { String::new() } else { format!("Content-Type: {ctype}\r\n") };
    let raw = format!(
        "{method} sip:{user}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx\r\n\
         From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:{user}@127.0.0.1>\r\nCall-ID: c\r\nCSeq: 1 {method}\r\n{extra}{ct}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    match parse(raw.as_bytes(), Framing::Datagram).unwrap() {
        SipMessage::Request(r) => r,
        _ => unreachable!(),
    }
}

fn status_of(d: Decision) -> u16 {
    match d {
        Decision::Reply(b) => String::from_utf8(b).unwrap()[8..11].parse().unwrap(),
        Decision::Admit { .. } => 0,
        Decision::Ignore => 1,
    }
}

const LOAD: Load = Load { active_calls: 0, max_calls: 10, draining: false };

fn decide_echo(r: &Request, load: Load) -> u16 {
    status_of(decide(r, |u| u == "echo", load, "ivrpay"))
}

#[test]
fn each_refusal_has_its_status() {
    assert_eq!(decide_echo(&req("INVITE", "echo", "", "application/sdp", SDP_PCMU), LOAD), 0);
    assert_eq!(decide_echo(&req("INVITE", "echo", "", "", ""), LOAD), 0, "late offer admitted");
    assert_eq!(decide_echo(&req("INVITE", "nobody", "", "application/sdp", SDP_PCMU), LOAD), 404);
    assert_eq!(decide_echo(&req("INVITE", "echo", "Require: 100rel\r\n", "application/sdp", SDP_PCMU), LOAD), 420);
    assert_eq!(decide_echo(&req("INVITE", "echo", "", "text/plain", "hello"), LOAD), 415);
    assert_eq!(decide_echo(&req("INVITE", "echo", "", "application/sdp", SDP_G729), LOAD), 488);
    let full = Load { active_calls: 10, ..LOAD };
    assert_eq!(decide_echo(&req("INVITE", "echo", "", "application/sdp", SDP_PCMU), full), 503);
    assert_eq!(decide_echo(&req("OPTIONS", "echo", "", "", ""), LOAD), 200);
    assert_eq!(decide_echo(&req("BYE", "echo", "", "", ""), LOAD), 481);
    assert_eq!(decide_echo(&req("REGISTER", "echo", "", "", ""), LOAD), 405);
    assert_eq!(decide_echo(&req("ACK", "echo", "", "", ""), LOAD), 1);
}

#[test]
fn refusals_carry_the_headers_that_explain_them() {
    let text = |d: Decision| match d {
        Decision::Reply(b) => String::from_utf8(b).unwrap(),
        _ => panic!("expected a reply"),
    };
    let r420 = text(decide(
        &req("INVITE", "echo", "Require: 100rel, timer\r\n", "application/sdp", SDP_PCMU),
        |_| true,
        LOAD,
        "s",
    ));
    assert!(r420.contains("Unsupported: 100rel, timer\r\n"), "{r420}");
    let full = Load { active_calls: 10, ..LOAD };
    let r503 = text(decide(&req("INVITE", "echo", "", "application/sdp", SDP_PCMU), |_| true, full, "s"));
    assert!(r503.starts_with("SIP/2.0 503 Service Unavailable (Call Limit Reached)\r\n"), "{r503}");
    assert!(r503.contains("Retry-After: 30\r\n"));
    let draining = Load { draining: true, ..LOAD };
    let r503 = text(decide(&req("INVITE", "echo", "", "application/sdp", SDP_PCMU), |_| true, draining, "s"));
    assert!(r503.starts_with("SIP/2.0 503 Service Unavailable (Shutting Down)\r\n"), "{r503}");
    assert!(r503.contains("Retry-After: 30\r\n"));
    let r405 = text(decide(&req("REGISTER", "echo", "", "", ""), |_| true, LOAD, "s"));
    assert!(r405.contains(&format!("Allow: {ALLOW}\r\n")));
    let a = text(decide(&req("INVITE", "x", "", "", ""), |_| false, LOAD, "s"));
    let b = text(decide(&req("INVITE", "x", "", "", ""), |_| false, LOAD, "s"));
    assert_eq!(a, b, "a retransmission gets identical bytes (same To tag)");
}

#[test]
fn unparsable_request_gets_400_or_501_when_the_basics_are_there() {
    let raw = b"INVITE sip:echo@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKq\r\nf: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\ni: x\r\nCSeq: 1 INVITE\r\nContent-Length: 99\r\n\r\n";
    let text = String::from_utf8(unparsable_reply(raw, 400, "Bad Request (Body Too Short)", "s").unwrap()).unwrap();
    assert!(text.starts_with("SIP/2.0 400 Bad Request (Body Too Short)\r\n"), "{text}");
    assert!(text.contains("Call-ID: x\r\n") && text.contains("tag=s400"));
    let text = String::from_utf8(unparsable_reply(raw, 501, "Not Implemented", "s").unwrap()).unwrap();
    assert!(text.contains("Allow: "));
    assert!(unparsable_reply(b"INVITE sip:a@h SIP/2.0\r\nTo: <sip:b@h>\r\n\r\n", 400, "x", "s").is_none());
}

#[test]
fn an_offer_without_a_connection_address_is_refused_before_a_call_is_created() {
    let no_c = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n";
    let d = decide(&req("INVITE", "echo", "", "application/sdp", no_c), |_| true, LOAD, "s");
    let text = match d {
        Decision::Reply(b) => String::from_utf8(b).unwrap(),
        other => panic!("admitted an offer the call cannot answer: {other:?}"),
    };
    assert!(text.starts_with("SIP/2.0 488 Not Acceptable Here (No Connection Address)\r\n"), "{text}");
    assert!(text.contains("Warning: 399 ivrpay"), "{text}");
    // A media-level c= is enough.
    let media_c = no_c.replace("m=audio 6000 RTP/AVP 0\r\n", "m=audio 6000 RTP/AVP 0\r\nc=IN IP4 127.0.0.1\r\n");
    assert_eq!(decide_echo(&req("INVITE", "echo", "", "application/sdp", &media_c), LOAD), 0);
}
