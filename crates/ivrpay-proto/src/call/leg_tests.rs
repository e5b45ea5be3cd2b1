use super::*;
use crate::media::codec::Codec;
use crate::sip::message::{parse, SipMessage};
use crate::sip::normalise::Framing;
use crate::sip::sdp::LocalMedia;
use crate::sip::transaction::Timers;
use crate::sip::Transport;
use rand::rngs::StdRng;
use std::time::Duration;

fn rng() -> StdRng {
    StdRng::seed_from_u64(3261)
}

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

pub(super) fn flow() -> Flow {
    Flow { transport: Transport::Udp, remote: "127.0.0.1:5070".parse().unwrap(), conn: 0, local: None }
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
        hold_timeout: Duration::from_secs(120),
        max_duration: Duration::from_secs(600),
        answer_delay: Duration::from_millis(answer_delay_ms),
        timers: Timers::default(),
    }
}

pub(super) fn msg(method: &str, branch: &str, cseq: u32, to_tag: Option<&str>, extra: &str, body: &str) -> Request {
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
pub(super) fn drain(leg: &mut SipLeg) -> Vec<String> {
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
            // Checked on its own (`the_first_ack_confirms_the_caller_once`).
            LegOutput::Confirmed => continue,
        });
    }
    out
}

pub(super) fn to_tag(leg: &SipLeg) -> String {
    leg.dialog.local_tag.clone()
}

pub(super) fn answered(t0: Instant) -> SipLeg {
    let inv = invite(OFFER);
    let mut leg = SipLeg::new(inv.clone(), offer_of(&inv), flow(), local(), limits(0), &mut rng(), t0);
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
    let mut leg = SipLeg::new(inv.clone(), offer_of(&inv), flow(), local(), limits(5000), &mut rng(), t0);
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
    let mut leg = SipLeg::new(inv.clone(), offer_of(&inv), flow(), local(), limits(2000), &mut rng(), t0);
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
    leg.on_request(msg("ACK", "z9hG4bKack", 1, Some(&tag), "", ""), flow(), t0);
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
    let mut leg = SipLeg::new(inv, None, flow(), local(), limits(0), &mut rng(), t0);
    assert_eq!(drain(&mut leg), ["send:100", "send:200"], "200 carries our offer, media waits");
    let tag = to_tag(&leg);
    leg.on_request(msg("ACK", "z9hG4bKack", 1, Some(&tag), "", OFFER), flow(), t0);
    assert_eq!(drain(&mut leg), ["media:Pcmu"]);
}

#[test]
fn late_offer_with_empty_ack_hangs_up() {
    let t0 = Instant::now();
    let mut leg = SipLeg::new(invite(""), None, flow(), local(), limits(0), &mut rng(), t0);
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
    let out: Vec<LegOutput> =
        std::iter::from_fn(|| leg.poll_output()).filter(|o| !matches!(o, LegOutput::Confirmed)).collect();
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
    // The BYE is done after Timer K; the INVITE transaction still absorbs a stray
    // INVITE or ACK until 64*T1 after the ACK (RFC 6026 Timer L).
    assert!(!leg.is_finished(t0 + Duration::from_secs(6)));
    leg.handle_timeout(t0 + Duration::from_secs(32));
    assert!(leg.is_finished(t0 + Duration::from_secs(32)));
}

/// Runs every timer due up to `until`, collecting what the leg outputs.
fn run_until(leg: &mut SipLeg, until: Instant) -> Vec<String> {
    let mut sent = drain(leg);
    while let Some(at) = leg.poll_timeout().filter(|t| *t <= until) {
        leg.handle_timeout(at);
        sent.extend(drain(leg));
    }
    sent
}

fn acked(t0: Instant) -> SipLeg {
    let mut leg = answered(t0);
    let tag = to_tag(&leg);
    leg.on_request(msg("ACK", "z9hG4bKack", 1, Some(&tag), "", ""), flow(), t0);
    assert!(drain(&mut leg).is_empty());
    leg
}

#[test]
fn an_error_answer_while_ringing_lingers_until_acked() {
    let t0 = Instant::now();
    let inv = invite(OFFER);
    let mut leg = SipLeg::new(inv.clone(), offer_of(&inv), flow(), local(), limits(5000), &mut rng(), t0);
    assert_eq!(drain(&mut leg), ["send:100", "send:180"]);
    leg.hangup(EndReason::Shutdown, t0);
    assert_eq!(drain(&mut leg), ["send:480", "ended:Shutdown"]);
    assert!(!leg.is_finished(t0), "waits for the ACK of the 480");
    // Over UDP the 480 is resent (Timer G) and a retransmitted INVITE gets it again.
    assert_eq!(run_until(&mut leg, t0 + Duration::from_millis(600)), ["send:480"]);
    leg.on_request(inv, flow(), t0 + Duration::from_millis(700));
    assert_eq!(drain(&mut leg), ["send:480"], "the INVITE again is not a new call");
    let tag = to_tag(&leg);
    let ack = msg("ACK", "z9hG4bKinv", 1, Some(&tag), "", "");
    leg.on_request(ack.clone(), flow(), t0 + Duration::from_millis(800));
    assert!(drain(&mut leg).is_empty(), "ACK absorbed");
    assert!(run_until(&mut leg, t0 + Duration::from_secs(3)).is_empty(), "no more 480 after the ACK");
    assert!(!leg.is_finished(t0 + Duration::from_secs(3)), "stray ACKs absorbed for T4");
    leg.on_request(ack, flow(), t0 + Duration::from_secs(4));
    assert!(drain(&mut leg).is_empty());
    run_until(&mut leg, t0 + Duration::from_millis(5800));
    assert!(leg.is_finished(t0 + Duration::from_millis(5800)));
}

#[test]
fn a_488_from_the_answer_is_resent_until_acked_and_gives_up_after_64_t1() {
    let t0 = Instant::now();
    let no_c = OFFER.replace("c=IN IP4 127.0.0.1\r\n", "");
    let inv = invite(&no_c);
    let mut leg = SipLeg::new(inv.clone(), offer_of(&inv), flow(), local(), limits(0), &mut rng(), t0);
    assert_eq!(drain(&mut leg), ["send:100", "send:488", "ended:BadAnswer"]);
    assert!(!leg.is_finished(t0));
    leg.on_request(inv, flow(), t0 + Duration::from_millis(100));
    assert_eq!(drain(&mut leg), ["send:488"]);
    // Never acknowledged: resent with back-off, then the transaction gives up.
    let sent = run_until(&mut leg, t0 + Duration::from_secs(40));
    assert!(sent.len() >= 5 && sent.iter().all(|s| s == "send:488"), "{sent:?}");
    assert!(leg.is_finished(t0 + Duration::from_secs(40)));
}

#[test]
fn a_call_on_hold_is_not_hung_up_for_silence_and_the_timeout_restarts_on_resume() {
    let holds = [
        OFFER.replace("a=sendrecv", "a=inactive"),
        OFFER.replace("a=sendrecv", "a=sendonly"),
        OFFER.replace("a=sendrecv", "a=recvonly"),
        OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0"),
    ];
    for hold in holds {
        let t0 = Instant::now();
        let mut leg = acked(t0);
        let tag = to_tag(&leg);
        let at = |s: u64| t0 + Duration::from_secs(s);
        leg.on_request(msg("INVITE", "z9hG4bKh1", 2, Some(&tag), "", &hold), flow(), at(10));
        let out = drain(&mut leg);
        assert!(out[0].starts_with("update:") && out[1] == "send:200", "{out:?}");
        leg.on_request(msg("ACK", "z9hG4bKh1a", 2, Some(&tag), "", ""), flow(), at(10));
        // Minutes of silence on hold, short of the hold timeout (120 s): no BYE.
        assert!(run_until(&mut leg, at(129)).is_empty(), "held call hung up ({hold})");
        assert!(leg.is_active());
        leg.on_request(msg("INVITE", "z9hG4bKh2", 3, Some(&tag), "", OFFER), flow(), at(129));
        assert_eq!(drain(&mut leg), ["update:SendRecv", "send:200"]);
        leg.on_request(msg("ACK", "z9hG4bKh2a", 3, Some(&tag), "", ""), flow(), at(129));
        // Resumed: 30 s of silence from the resume ends the call.
        assert!(run_until(&mut leg, at(158)).is_empty());
        assert_eq!(run_until(&mut leg, at(159)), ["send:BYE", "ended:MediaTimeout"]);
    }
}

/// The media updates the leg output, with their new remote address.
fn updates(leg: &mut SipLeg) -> Vec<Negotiated> {
    std::iter::from_fn(|| leg.poll_output())
        .filter_map(|o| match o {
            LegOutput::MediaUpdate(n) => Some(n),
            _ => None,
        })
        .collect()
}

fn sent_texts(leg: &mut SipLeg) -> Vec<String> {
    std::iter::from_fn(|| leg.poll_output())
        .filter_map(|o| match o {
            LegOutput::Send(_, b) => Some(String::from_utf8(b).unwrap()),
            _ => None,
        })
        .collect()
}

#[test]
fn reinvite_to_a_new_address_moves_the_remote_rtp() {
    let t0 = Instant::now();
    let mut leg = acked(t0);
    let tag = to_tag(&leg);
    let moved = OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP4 127.0.0.2").replace("6000", "6002");
    leg.on_request(msg("INVITE", "z9hG4bKre2", 2, Some(&tag), "", &moved), flow(), t0);
    let u = updates(&mut leg);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].remote_rtp, "127.0.0.2:6002".parse().unwrap(), "was 127.0.0.1:6000");
    assert_eq!(u[0].direction, Direction::SendRecv);
}

#[test]
fn reinvite_without_sdp_offers_in_the_200_and_takes_the_answer_from_the_ack() {
    let t0 = Instant::now();
    let mut leg = acked(t0);
    let tag = to_tag(&leg);
    leg.on_request(msg("INVITE", "z9hG4bKe1", 2, Some(&tag), "", ""), flow(), t0);
    let sent = sent_texts(&mut leg);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].starts_with("SIP/2.0 200 OK\r\n"), "{}", sent[0]);
    assert!(sent[0].contains("o=ivrpay 1 2 IN IP4 127.0.0.1\r\n"), "a new SDP version: {}", sent[0]);
    assert!(sent[0].contains("m=audio 20000 RTP/AVP 8 0 101\r\n"), "our offer: {}", sent[0]);
    let answer = OFFER.replace("6000", "6004").replace("RTP/AVP 0 101", "RTP/AVP 8");
    leg.on_request(msg("ACK", "z9hG4bKe1a", 2, Some(&tag), "", &answer), flow(), t0);
    let u = updates(&mut leg);
    assert_eq!(u.len(), 1, "the answer in the ACK updates the media");
    assert_eq!((u[0].remote_rtp.port(), u[0].codec), (6004, Codec::Pcma));
    // An empty re-INVITE whose ACK has no answer leaves the media as it was.
    leg.on_request(msg("INVITE", "z9hG4bKe2", 3, Some(&tag), "", ""), flow(), t0);
    assert_eq!(drain(&mut leg), ["send:200"]);
    leg.on_request(msg("ACK", "z9hG4bKe2a", 3, Some(&tag), "", ""), flow(), t0);
    assert!(drain(&mut leg).is_empty());
    assert!(leg.is_active());
}

#[test]
fn a_retransmitted_reinvite_gets_the_same_answer() {
    let t0 = Instant::now();
    let mut leg = acked(t0);
    let tag = to_tag(&leg);
    let re = msg("INVITE", "z9hG4bKrt", 2, Some(&tag), "", OFFER);
    leg.on_request(re.clone(), flow(), t0);
    let first = sent_texts(&mut leg);
    leg.on_request(re, flow(), t0 + Duration::from_millis(300));
    let again: Vec<LegOutput> = std::iter::from_fn(|| leg.poll_output()).collect();
    assert_eq!(again.len(), 1, "only the answer again, no second media update: {again:?}");
    match &again[0] {
        LegOutput::Send(_, b) => assert_eq!(String::from_utf8(b.clone()).unwrap(), first[0]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_bad_reoffer_gets_488_and_the_call_goes_on() {
    let t0 = Instant::now();
    let mut leg = acked(t0);
    let tag = to_tag(&leg);
    let g729 = OFFER.replace("RTP/AVP 0 101", "RTP/AVP 18").replace("6000", "6008");
    leg.on_request(msg("INVITE", "z9hG4bKbad", 2, Some(&tag), "", &g729), flow(), t0);
    assert_eq!(drain(&mut leg), ["send:488"], "no media change");
    leg.on_request(msg("ACK", "z9hG4bKbad", 2, Some(&tag), "", ""), flow(), t0);
    assert!(drain(&mut leg).is_empty(), "ACK of the 488 absorbed");
    assert!(leg.is_active());
    let good = OFFER.replace("6000", "6010");
    leg.on_request(msg("INVITE", "z9hG4bKgood", 3, Some(&tag), "", &good), flow(), t0);
    assert_eq!(updates(&mut leg)[0].remote_rtp.port(), 6010, "a later good offer is answered");
    leg.on_request(msg("ACK", "z9hG4bKgooda", 3, Some(&tag), "", ""), flow(), t0);
    leg.on_request(msg("BYE", "z9hG4bKbye", 4, Some(&tag), "", ""), flow(), t0);
    assert_eq!(drain(&mut leg), ["send:200", "ended:RemoteBye"]);
}

#[test]
fn a_reinvite_while_another_awaits_its_ack_gets_491() {
    let t0 = Instant::now();
    let mut leg = acked(t0);
    let tag = to_tag(&leg);
    leg.on_request(msg("INVITE", "z9hG4bKp1", 2, Some(&tag), "", ""), flow(), t0);
    assert_eq!(drain(&mut leg), ["send:200"], "our offer is out");
    leg.on_request(msg("INVITE", "z9hG4bKp2", 3, Some(&tag), "", OFFER), flow(), t0);
    assert_eq!(drain(&mut leg), ["send:491"]);
    leg.on_request(msg("ACK", "z9hG4bKp2", 3, Some(&tag), "", ""), flow(), t0);
    leg.on_request(msg("ACK", "z9hG4bKp1a", 2, Some(&tag), "", OFFER), flow(), t0);
    assert_eq!(drain(&mut leg), ["update:SendRecv"], "the first exchange completes");
    leg.on_request(msg("INVITE", "z9hG4bKp3", 4, Some(&tag), "", OFFER), flow(), t0);
    assert_eq!(drain(&mut leg), ["update:SendRecv", "send:200"], "the retry is answered");
    // Before the first INVITE's 200 is acknowledged, a re-INVITE must wait too.
    let mut leg = answered(t0);
    let tag = to_tag(&leg);
    leg.on_request(msg("INVITE", "z9hG4bKq1", 2, Some(&tag), "", OFFER), flow(), t0);
    assert_eq!(drain(&mut leg), ["send:491"]);
}

#[test]
fn a_reinvite_200_never_acked_ends_the_call_with_bye_after_64_t1() {
    let t0 = Instant::now();
    let mut leg = acked(t0);
    let tag = to_tag(&leg);
    let t1 = t0 + Duration::from_secs(5);
    leg.on_request(msg("INVITE", "z9hG4bKna", 2, Some(&tag), "", OFFER), flow(), t1);
    assert_eq!(drain(&mut leg), ["update:SendRecv", "send:200"]);
    let mut sent = Vec::new();
    while let Some(at) = leg.poll_timeout().filter(|t| *t <= t1 + Duration::from_secs(33)) {
        leg.media_activity(at);
        leg.handle_timeout(at);
        sent.extend(drain(&mut leg).into_iter().map(|s| (at - t1, s)));
    }
    let (last_200, _) = sent.iter().rev().find(|(_, s)| s == "send:200").unwrap();
    assert!(*last_200 < Duration::from_secs(32));
    assert_eq!(sent.iter().filter(|(_, s)| s == "send:200").count(), 10, "{sent:?}");
    let bye = sent.iter().position(|(_, s)| s == "send:BYE").expect("a BYE");
    assert_eq!(
        sent[bye..bye + 2],
        [(Duration::from_secs(32), "send:BYE".to_string()), (Duration::from_secs(32), "ended:NoAck".to_string())]
    );
}

fn confirmations(leg: &mut SipLeg) -> usize {
    let mut n = 0;
    while let Some(o) = leg.poll_output() {
        n += usize::from(matches!(o, LegOutput::Confirmed));
    }
    n
}

#[test]
fn the_first_ack_confirms_the_caller_once() {
    let t0 = Instant::now();
    let inv = invite(OFFER);
    let mut leg = SipLeg::new(inv.clone(), offer_of(&inv), flow(), local(), limits(0), &mut rng(), t0);
    assert_eq!(confirmations(&mut leg), 0, "answered is not confirmed");
    let tag = to_tag(&leg);
    leg.on_request(msg("ACK", "z9hG4bKack", 1, Some(&tag), "", ""), flow(), t0);
    assert_eq!(confirmations(&mut leg), 1);
    leg.on_request(msg("ACK", "z9hG4bKack", 1, Some(&tag), "", ""), flow(), t0);
    assert_eq!(confirmations(&mut leg), 0, "a repeated ACK confirms nothing more");
}

#[test]
fn a_call_on_hold_ends_at_the_hold_timeout_whatever_it_sends() {
    // limits(): hold timeout 120 s, inactivity 30 s.
    let t0 = Instant::now();
    let mut leg = acked(t0);
    let tag = to_tag(&leg);
    let hold = OFFER.replace("a=sendrecv", "a=inactive");
    leg.on_request(msg("INVITE", "z9hG4bKh1", 2, Some(&tag), "", &hold), flow(), t0);
    leg.on_request(msg("ACK", "z9hG4bKh1a", 2, Some(&tag), "", ""), flow(), t0);
    drain(&mut leg);
    for s in (10..120).step_by(10) {
        leg.media_activity(t0 + Duration::from_secs(s)); // music on hold
    }
    assert!(run_until(&mut leg, t0 + Duration::from_millis(119_900)).is_empty(), "silence expected on hold");
    assert_eq!(run_until(&mut leg, t0 + Duration::from_secs(120)), ["send:BYE", "ended:HoldTimeout"]);
}

#[test]
fn resuming_from_hold_restarts_the_inactivity_timeout() {
    let t0 = Instant::now();
    let mut leg = acked(t0);
    let tag = to_tag(&leg);
    let hold = OFFER.replace("a=sendrecv", "a=sendonly");
    leg.on_request(msg("INVITE", "z9hG4bKh1", 2, Some(&tag), "", &hold), flow(), t0);
    leg.on_request(msg("ACK", "z9hG4bKh1a", 2, Some(&tag), "", ""), flow(), t0);
    let t1 = t0 + Duration::from_secs(100);
    leg.on_request(msg("INVITE", "z9hG4bKh2", 3, Some(&tag), "", OFFER), flow(), t1);
    leg.on_request(msg("ACK", "z9hG4bKh2a", 3, Some(&tag), "", ""), flow(), t1);
    drain(&mut leg);
    assert!(run_until(&mut leg, t1 + Duration::from_millis(29_900)).is_empty(), "resumed: the hold timeout is gone");
    assert_eq!(run_until(&mut leg, t1 + Duration::from_secs(30)), ["send:BYE", "ended:MediaTimeout"]);
}
