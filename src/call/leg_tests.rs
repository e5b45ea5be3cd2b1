use super::*;
use crate::media::codec::Codec;
use crate::sip::message::{parse, SipMessage};
use crate::sip::normalise::Framing;
use crate::sip::Transport;

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

fn flow() -> Flow {
    Flow { transport: Transport::Udp, remote: "127.0.0.1:5070".parse().unwrap(), conn: 0 }
}

fn local() -> LocalParty {
    LocalParty {
        via: "SIP/2.0/UDP 127.0.0.1:5060".into(),
        contact: "<sip:ivrpay@127.0.0.1:5060>".into(),
        server: "ivrpay-test".into(),
        media: LocalMedia {
            address: "127.0.0.1".parse().unwrap(),
            port: 20000,
            codecs: vec![Codec::Pcma, Codec::Pcmu],
            session_id: 1,
            session_version: 1,
        },
    }
}

fn limits(answer_delay_ms: u64) -> Limits {
    Limits {
        media_inactivity: Duration::from_secs(30),
        max_duration: Duration::from_secs(600),
        answer_delay: Duration::from_millis(answer_delay_ms),
        timers: Timers::default(),
    }
}

fn msg(method: &str, branch: &str, cseq: u32, to_tag: Option<&str>, extra: &str, body: &str) -> Request {
    let to = match to_tag {
        Some(t) => format!("<sip:echo@127.0.0.1>;tag={t}"),
        None => "<sip:echo@127.0.0.1>".to_string(),
    };
    let ct = if body.is_empty() || extra.contains("Content-Type") {
        String::new()
    } else {
        "Content-Type: application/sdp\r\n".into()
    };
    let raw = format!(
        "{method} sip:echo@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\n\
         From: <sip:alice@127.0.0.1:5070>;tag=ft\r\nTo: {to}\r\nCall-ID: leg-1\r\nCSeq: {cseq} {method}\r\n\
         Contact: <sip:alice@127.0.0.1:5070>\r\n{extra}{ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    match parse(raw.as_bytes(), Framing::Datagram).unwrap() {
        SipMessage::Request(r) => r,
        _ => unreachable!(),
    }
}

fn invite(body: &str) -> Request {
    msg("INVITE", "z9hG4bKinv", 1, None, "", body)
}

fn offer_of(r: &Request) -> Option<SessionDescription> {
    std::str::from_utf8(&r.body).ok().filter(|t| !t.is_empty()).map(|t| sdp::parse(t).unwrap())
}

/// Drains outputs into a readable list: "send:200", "media", "digit:5", "ended:RemoteBye".
fn drain(leg: &mut SipLeg) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(o) = leg.poll_output() {
        out.push(match o {
            LegOutput::Send(_, b) => {
                let t = String::from_utf8(b).unwrap();
                if t.starts_with("SIP/2.0 ") {
                    format!("send:{}", &t[8..11])
                } else {
                    format!("send:{}", t.split(' ').next().unwrap())
                }
            }
            LegOutput::MediaStart(n) => format!("media:{:?}", n.codec),
            LegOutput::MediaUpdate(n) => format!("update:{:?}", n.direction),
            LegOutput::Digit(d) => format!("digit:{d}"),
            LegOutput::Ended(r) => format!("ended:{r:?}"),
        });
    }
    out
}

fn to_tag(leg: &SipLeg) -> String {
    leg.dialog.local_tag.clone()
}

fn answered(t0: Instant) -> SipLeg {
    let inv = invite(OFFER);
    let mut leg = SipLeg::new(inv.clone(), offer_of(&inv), flow(), local(), limits(0), t0);
    assert_eq!(drain(&mut leg), ["send:100", "send:200", "media:Pcmu"]);
    leg
}

#[test]
fn invite_is_answered_and_retransmission_gets_the_same_200() {
    let t0 = Instant::now();
    let mut leg = answered(t0);
    leg.on_request(invite(OFFER), flow(), t0);
    assert_eq!(drain(&mut leg), ["send:200"]);
    let tag = to_tag(&leg);
    leg.on_request(msg("ACK", "z9hG4bKack", 1, Some(&tag), "", ""), flow(), t0);
    leg.handle_timeout(t0 + Duration::from_secs(1));
    assert!(drain(&mut leg).is_empty(), "no retransmission after the ACK");
}

#[test]
fn missing_ack_retransmits_then_hangs_up_with_bye() {
    let t0 = Instant::now();
    let mut leg = answered(t0);
    let mut sent = Vec::new();
    while let Some(at) = leg.poll_timeout().filter(|t| *t <= t0 + Duration::from_secs(32)) {
        leg.media_activity(at);
        leg.handle_timeout(at);
        sent.extend(drain(&mut leg));
    }
    assert_eq!(sent.iter().filter(|s| *s == "send:200").count(), 10);
    assert!(sent.ends_with(&["send:BYE".to_string(), "ended:NoAck".to_string()]), "{sent:?}");
}

#[test]
fn cancel_while_ringing_gives_200_and_487() {
    let t0 = Instant::now();
    let inv = invite(OFFER);
    let mut leg = SipLeg::new(inv.clone(), offer_of(&inv), flow(), local(), limits(5000), t0);
    assert_eq!(drain(&mut leg), ["send:100", "send:180"]);
    leg.on_request(msg("CANCEL", "z9hG4bKinv", 1, None, "", ""), flow(), t0 + Duration::from_millis(100));
    assert_eq!(drain(&mut leg), ["send:200", "send:487", "ended:Cancelled"]);
    leg.handle_timeout(t0 + Duration::from_secs(6));
    assert!(!drain(&mut leg).contains(&"send:200".to_string()), "never answered after the CANCEL");
    let tag = to_tag(&leg);
    leg.on_request(msg("ACK", "z9hG4bKinv", 1, Some(&tag), "", ""), flow(), t0 + Duration::from_millis(200));
    assert!(drain(&mut leg).is_empty(), "ACK of the 487 absorbed");
    leg.on_request(msg("CANCEL", "z9hG4bKother", 1, None, "", ""), flow(), t0);
    assert_eq!(drain(&mut leg), ["send:481"]);
}

#[test]
fn delayed_answer_rings_then_answers() {
    let t0 = Instant::now();
    let inv = invite(OFFER);
    let mut leg = SipLeg::new(inv.clone(), offer_of(&inv), flow(), local(), limits(2000), t0);
    assert_eq!(drain(&mut leg), ["send:100", "send:180"]);
    leg.on_request(inv.clone(), flow(), t0 + Duration::from_millis(500));
    assert_eq!(drain(&mut leg), ["send:180"], "a retransmitted INVITE gets the last provisional");
    leg.handle_timeout(leg.poll_timeout().unwrap());
    assert_eq!(drain(&mut leg), ["send:200", "media:Pcmu"]);
}

#[test]
fn remote_bye_ends_the_call_and_its_retransmission_gets_the_same_answer() {
    let t0 = Instant::now();
    let mut leg = answered(t0);
    let tag = to_tag(&leg);
    leg.on_request(msg("ACK", "z9hG4bKack", 1, Some(&tag), "", ""), flow(), t0);
    let bye = msg("BYE", "z9hG4bKbye", 2, Some(&tag), "", "");
    leg.on_request(bye.clone(), flow(), t0);
    assert_eq!(drain(&mut leg), ["send:200", "ended:RemoteBye"]);
    leg.on_request(bye, flow(), t0 + Duration::from_millis(500));
    assert_eq!(drain(&mut leg), ["send:200"]);
    assert!(!leg.is_finished(t0 + Duration::from_secs(1)), "lingers for Timer J");
    leg.handle_timeout(t0 + Duration::from_secs(33));
    assert!(leg.is_finished(t0 + Duration::from_secs(33)));
}

#[test]
fn info_digits_in_both_formats() {
    let t0 = Instant::now();
    let mut leg = answered(t0);
    let tag = to_tag(&leg);
    let relay = msg(
        "INFO",
        "z9hG4bKi1",
        2,
        Some(&tag),
        "Content-Type: application/dtmf-relay\r\n",
        "Signal=5\r\nDuration=160\r\n",
    );
    leg.on_request(relay, flow(), t0);
    let plain = msg("INFO", "z9hG4bKi2", 3, Some(&tag), "Content-Type: application/dtmf\r\n", "#");
    leg.on_request(plain, flow(), t0);
    let bad = msg("INFO", "z9hG4bKi3", 4, Some(&tag), "Content-Type: text/plain\r\n", "hello");
    leg.on_request(bad, flow(), t0);
    assert_eq!(drain(&mut leg), ["digit:5", "send:200", "digit:#", "send:200", "send:415"]);
}

#[test]
fn in_dialog_errors_481_500_405_420() {
    let t0 = Instant::now();
    let mut leg = answered(t0);
    let tag = to_tag(&leg);
    leg.on_request(msg("BYE", "z9hG4bKb1", 5, Some("wrong"), "", ""), flow(), t0);
    leg.on_request(msg("OPTIONS", "z9hG4bKo1", 7, Some(&tag), "", ""), flow(), t0);
    leg.on_request(msg("INFO", "z9hG4bKo2", 6, Some(&tag), "", ""), flow(), t0);
    leg.on_request(msg("UPDATE", "z9hG4bKo3", 8, Some(&tag), "", ""), flow(), t0);
    leg.on_request(msg("OPTIONS", "z9hG4bKo4", 9, Some(&tag), "Require: foo\r\n", ""), flow(), t0);
    assert_eq!(drain(&mut leg), ["send:481", "send:200", "send:500", "send:405", "send:420"]);
}

#[test]
fn reinvite_hold_and_resume_update_media() {
    let t0 = Instant::now();
    let mut leg = answered(t0);
    let tag = to_tag(&leg);
    let hold = OFFER.replace("a=sendrecv", "a=sendonly");
    leg.on_request(msg("INVITE", "z9hG4bKre1", 2, Some(&tag), "", &hold), flow(), t0);
    assert_eq!(drain(&mut leg), ["update:RecvOnly", "send:200"]);
    leg.on_request(msg("ACK", "z9hG4bKre1a", 2, Some(&tag), "", ""), flow(), t0);
    let moved = OFFER.replace("6000", "6002");
    leg.on_request(msg("INVITE", "z9hG4bKre2", 3, Some(&tag), "", &moved), flow(), t0);
    assert_eq!(drain(&mut leg), ["update:SendRecv", "send:200"]);
    let unknown = msg("INVITE", "z9hG4bKre3", 4, Some("other"), "", OFFER);
    leg.on_request(unknown, flow(), t0);
    assert_eq!(drain(&mut leg), ["send:481"]);
}

#[test]
fn late_offer_is_answered_in_the_ack() {
    let t0 = Instant::now();
    let inv = invite("");
    let mut leg = SipLeg::new(inv, None, flow(), local(), limits(0), t0);
    assert_eq!(drain(&mut leg), ["send:100", "send:200"], "200 carries our offer, media waits");
    let tag = to_tag(&leg);
    leg.on_request(msg("ACK", "z9hG4bKack", 1, Some(&tag), "", OFFER), flow(), t0);
    assert_eq!(drain(&mut leg), ["media:Pcmu"]);
}

#[test]
fn late_offer_with_empty_ack_hangs_up() {
    let t0 = Instant::now();
    let mut leg = SipLeg::new(invite(""), None, flow(), local(), limits(0), t0);
    drain(&mut leg);
    let tag = to_tag(&leg);
    leg.on_request(msg("ACK", "z9hG4bKack", 1, Some(&tag), "", ""), flow(), t0);
    assert_eq!(drain(&mut leg), ["send:BYE", "ended:BadAnswer"]);
}

#[test]
fn media_inactivity_and_max_duration_hang_up() {
    let t0 = Instant::now();
    let mut leg = answered(t0);
    let tag = to_tag(&leg);
    leg.on_request(msg("ACK", "z9hG4bKack", 1, Some(&tag), "", ""), flow(), t0);
    leg.media_activity(t0 + Duration::from_secs(20));
    leg.handle_timeout(t0 + Duration::from_secs(31));
    assert!(drain(&mut leg).is_empty(), "activity at 20 s pushed the timeout to 50 s");
    leg.handle_timeout(t0 + Duration::from_secs(50));
    assert_eq!(drain(&mut leg), ["send:BYE", "ended:MediaTimeout"]);

    let mut leg = answered(t0);
    leg.on_request(msg("ACK", "z9hG4bKack", 1, Some(&tag), "", ""), flow(), t0);
    for s in (10..600).step_by(10) {
        leg.media_activity(t0 + Duration::from_secs(s));
    }
    leg.handle_timeout(t0 + Duration::from_secs(600));
    assert_eq!(drain(&mut leg), ["send:BYE", "ended:MaxDuration"]);
}

#[test]
fn our_bye_is_retransmitted_until_answered() {
    let t0 = Instant::now();
    let mut leg = answered(t0);
    let tag = to_tag(&leg);
    leg.on_request(msg("ACK", "z9hG4bKack", 1, Some(&tag), "", ""), flow(), t0);
    leg.hangup(EndReason::LocalHangup, t0);
    let out: Vec<LegOutput> = std::iter::from_fn(|| leg.poll_output()).collect();
    let bye = match &out[0] {
        LegOutput::Send(f, b) => {
            assert_eq!(f.remote.port(), 5070, "sent to the Contact");
            String::from_utf8(b.clone()).unwrap()
        }
        other => panic!("{other:?}"),
    };
    assert!(bye.starts_with("BYE sip:alice@127.0.0.1:5070 SIP/2.0"));
    leg.handle_timeout(t0 + Duration::from_millis(500));
    assert_eq!(drain(&mut leg), ["send:BYE"]);
    let resp = bye.replacen("BYE sip:alice@127.0.0.1:5070 SIP/2.0", "SIP/2.0 200 OK", 1);
    match parse(resp.as_bytes(), Framing::Datagram).unwrap() {
        SipMessage::Response(r) => leg.on_response(r, t0 + Duration::from_millis(600)),
        _ => unreachable!(),
    }
    leg.handle_timeout(t0 + Duration::from_millis(1500));
    assert!(drain(&mut leg).is_empty());
    assert!(leg.is_finished(t0 + Duration::from_secs(6)));
}
