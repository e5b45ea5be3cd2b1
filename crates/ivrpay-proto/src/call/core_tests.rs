//! The call core on virtual time: a scripted application, SIP messages built by hand,
//! every output read back in order.

use super::*;
// The scripted application of the Pair harness: `5` asks for an authorization, `#`
// hangs up, `0` looks up an invoice.
use crate::call::leg::{Limits, LocalParty};
use crate::call::pair::PayApp;
use crate::ivr::app::{AuthorizeResult, LookupResult};
use crate::media::codec::Codec;
use crate::sip::message::{parse, Request};
use crate::sip::normalise::Framing;
use crate::sip::sdp::{self, LocalMedia};
use crate::sip::transaction::Timers;
use crate::sip::Transport;
use std::time::Duration;

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

fn flow() -> Flow {
    Flow { transport: Transport::Udp, remote: "127.0.0.1:5070".parse().unwrap(), conn: 0, local: None }
}

fn msg(method: &str, branch: &str, cseq: u32, to_tag: Option<&str>, extra: &str, body: &str) -> Request {
    let to = match to_tag {
        Some(t) => format!("<sip:pay@127.0.0.1>;tag={t}"),
        None => "<sip:pay@127.0.0.1>".to_string(),
    };
    let ct = if body.is_empty() || extra.contains("Content-Type") {
        String::new()
    } else {
        "Content-Type: application/sdp\r\n".into()
    };
    let raw = format!(
        "{method} sip:pay@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\n\
         From: <sip:alice@127.0.0.1:5070>;tag=ft\r\nTo: {to}\r\nCall-ID: core-1\r\nCSeq: {cseq} {method}\r\n\
         Contact: <sip:alice@127.0.0.1:5070>\r\n{extra}{ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    match parse(raw.as_bytes(), Framing::Datagram).unwrap() {
        SipMessage::Request(r) => r,
        _ => unreachable!(),
    }
}

fn leg(t0: Instant) -> SipLeg {
    let inv = msg("INVITE", "z9hG4bKinv", 1, None, "", OFFER);
    let offer = sdp::parse(OFFER).ok();
    let local = LocalParty {
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
    };
    let limits = Limits {
        media_inactivity: Duration::from_secs(30),
        hold_timeout: Duration::from_secs(120),
        max_duration: Duration::from_secs(600),
        answer_delay: Duration::ZERO,
        timers: Timers::default(),
    };
    SipLeg::new(inv, offer, flow(), local, limits, &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(5), t0)
}

/// Outputs as short words: "send:200", "start", "play:1", "ended:caller_bye",
/// "record:paid", "finished:2", ...
fn drain(call: &mut Call) -> Vec<String> {
    let mut v = Vec::new();
    while let Some(o) = call.poll_output() {
        v.push(match o {
            CallOutput::Send(_, b) => {
                let t = String::from_utf8(b).unwrap();
                let w =
                    if t.starts_with("SIP/2.0 ") { t[8..11].to_string() } else { t.split(' ').next().unwrap().into() };
                format!("send:{w}")
            }
            CallOutput::StartMedia(_) => "start".into(),
            CallOutput::SetSending(s) => format!("sending:{s}"),
            CallOutput::SetDest(a) => format!("dest:{a}"),
            CallOutput::Play(_, t) => format!("play:{t}"),
            CallOutput::Requeue(t) => format!("requeue:{t}"),
            CallOutput::StopPlayback => "stop".into(),
            CallOutput::Ended(r) => format!("ended:{}", r.as_str()),
            CallOutput::DigitReceived => "digit".into(),
            CallOutput::LookupInvoice(c) => format!("lookup:{c}"),
            CallOutput::Authorize(_) => "authorize".into(),
            CallOutput::LiveStep(s) => format!("step:{s}"),
            CallOutput::Record(r) => format!("record:{}:{:?}", r.outcome.as_str(), r.answered_at),
            CallOutput::Finished(s) => format!("finished:{}", s.digits),
        });
    }
    v
}

const EPOCH_MS: i64 = 1_700_000_000_000;

fn answered(t0: Instant) -> (Call, String) {
    let mut call = Call::new(leg(t0), Box::<PayApp>::default(), false, WallEpoch { at: t0, utc_ms: EPOCH_MS }, t0);
    let mut tag = String::new();
    for o in &call.out {
        if let CallOutput::Send(_, b) = o {
            let t = String::from_utf8_lossy(b);
            if let Some(rest) = t.split("\r\n").find(|l| l.starts_with("To:")).and_then(|l| l.split(";tag=").nth(1)) {
                tag = rest.to_string();
            }
        }
    }
    let words = drain(&mut call);
    // Nothing is sent, nor played, to a caller that has not acknowledged the answer.
    assert_eq!(words, ["send:100", "send:200", "start", "sending:false", "step:start"]);
    assert!(!tag.is_empty());
    call.handle_input(sip(msg("ACK", "z9hG4bKack", 1, Some(&tag), "", "")), t0);
    assert_eq!(drain(&mut call), ["sending:true", "play:1"]);
    (call, tag)
}

fn sip(r: Request) -> CallInput {
    CallInput::Sip(Box::new(SipMessage::Request(r)), flow())
}

fn info(tag: &str, cseq: u32, key: char) -> CallInput {
    let body = format!("Signal={key}\r\nDuration=160\r\n");
    sip(msg("INFO", &format!("z9hG4bKinfo{cseq}"), cseq, Some(tag), "Content-Type: application/dtmf-relay\r\n", &body))
}

fn bye(tag: &str, cseq: u32) -> CallInput {
    sip(msg("BYE", "z9hG4bKbye", cseq, Some(tag), "", ""))
}

/// Runs timeouts until the call is finished or `until` is reached.
fn run_until(call: &mut Call, until: Instant) -> Vec<String> {
    let mut v = Vec::new();
    while let Some(t) = call.poll_timeout().filter(|t| *t <= until) {
        call.handle_timeout(t);
        v.extend(drain(call));
    }
    v
}

#[test]
fn a_hang_up_during_an_authorization_keeps_the_record_until_its_result() {
    let t0 = Instant::now();
    let (mut call, tag) = answered(t0);
    call.handle_input(info(&tag, 2, '5'), t0 + Duration::from_secs(1));
    assert_eq!(drain(&mut call), ["digit", "send:200", "authorize", "step:paying"]);
    call.handle_input(bye(&tag, 3), t0 + Duration::from_secs(2));
    assert_eq!(drain(&mut call), ["send:200", "ended:caller_bye"], "no record while the authorization runs");
    // The leg's Timer J runs out meanwhile: the call is not finished without its record.
    assert!(run_until(&mut call, t0 + Duration::from_secs(60)).is_empty());
    assert!(!call.is_finished());
    let accepted = AuthorizeResult::Accepted { reference: "R1".into(), authorisation_id: "A1".into() };
    call.handle_input(CallInput::App(AppInput::Authorized(accepted)), t0 + Duration::from_secs(61));
    assert_eq!(drain(&mut call), [format!("record:paid:Some({EPOCH_MS})"), "finished:1".into()]);
    assert!(call.is_finished());
    assert_eq!(call.poll_timeout(), None);
}

#[test]
fn shutdown_hangs_up_with_bye_and_finishes_once_answered() {
    let t0 = Instant::now();
    let (mut call, _) = answered(t0);
    call.handle_input(CallInput::Shutdown, t0 + Duration::from_millis(1500));
    assert_eq!(drain(&mut call), ["send:BYE", "ended:shutdown", format!("record:abandoned:Some({EPOCH_MS})").as_str()]);
    assert!(!call.is_finished(), "the BYE waits for its answer");
    // No answer: the BYE is retransmitted, then the transaction times out (64*T1).
    let out = run_until(&mut call, t0 + Duration::from_secs(60));
    assert!(out.iter().all(|o| o == "send:BYE" || o == "finished:0"), "{out:?}");
    assert_eq!(out.last().map(String::as_str), Some("finished:0"));
    assert!(call.is_finished());
}

#[test]
fn digits_are_counted_and_a_hang_up_from_the_app_ends_the_call() {
    let t0 = Instant::now();
    let (mut call, tag) = answered(t0);
    call.handle_input(info(&tag, 2, '1'), t0);
    call.handle_input(info(&tag, 3, '0'), t0);
    assert_eq!(drain(&mut call), ["digit", "send:200", "digit", "send:200", "lookup:480152730"]);
    call.handle_input(CallInput::App(AppInput::Invoice(LookupResult::Unknown)), t0);
    assert!(drain(&mut call).is_empty());
    call.handle_input(info(&tag, 4, '#'), t0 + Duration::from_millis(10));
    assert_eq!(
        drain(&mut call),
        ["digit", "send:200", "send:BYE", "ended:flow_hangup", &format!("record:abandoned:Some({EPOCH_MS})")]
    );
    let out = run_until(&mut call, t0 + Duration::from_secs(60));
    assert_eq!(out.last().map(String::as_str), Some("finished:3"));
}

#[test]
fn after_the_end_a_play_comes_back_through_the_queue_and_a_stop_is_dropped() {
    let t0 = Instant::now();
    let (mut call, tag) = answered(t0);
    call.handle_input(bye(&tag, 2), t0);
    assert_eq!(drain(&mut call), ["send:200", "ended:caller_bye", &format!("record:abandoned:Some({EPOCH_MS})")]);
    // After the end, media is gone: a Play is answered at once, a stop is dropped.
    call.on_action(AppAction::Play { prompts: vec![], token: 7 }, t0);
    call.on_action(AppAction::StopPlayback, t0);
    assert_eq!(drain(&mut call), ["requeue:7"]);
}

fn rtp_event(digit: char, ts: u32) -> Vec<Vec<u8>> {
    use crate::media::rfc4733::Rfc4733Sender;
    use crate::media::rtp::{self, Header, MAX_PACKET};
    let packets = Rfc4733Sender::packets(digit, 100, 10).unwrap().into_iter().enumerate();
    packets
        .map(|(i, p)| {
            let mut buf = [0u8; MAX_PACKET];
            let h = Header { payload_type: 101, marker: p.marker, sequence: i as u16, timestamp: ts, ssrc: 7 };
            let n = rtp::write(&mut buf, h, &p.payload).unwrap();
            buf[..n].to_vec()
        })
        .collect()
}

#[test]
fn a_strangers_rtp_neither_opens_the_media_nor_types_but_the_callers_first_packet_does() {
    let t0 = Instant::now();
    let mut call = Call::new(leg(t0), Box::<PayApp>::default(), false, WallEpoch { at: t0, utc_ms: EPOCH_MS }, t0);
    drain(&mut call);
    // Before any ACK, from another address: dropped, counted, no audio opened.
    let injected = rtp_event('5', 800);
    for p in &injected {
        call.handle_rtp(p, "127.0.0.2:6000".parse().unwrap(), t0);
    }
    assert!(drain(&mut call).is_empty());
    assert_eq!(call.rtp_rejected as usize, injected.len());
    // The caller's own first packet (from its SDP address) proves it is there.
    let caller: std::net::SocketAddr = "127.0.0.1:6000".parse().unwrap();
    for p in rtp_event('0', 1600) {
        call.handle_rtp(&p, caller, t0);
    }
    let words = drain(&mut call);
    assert_eq!(&words[..3], ["sending:true", "digit", "play:1"], "{words:?}");
    // Latched: the same address on another port is a stranger too.
    call.handle_rtp(&rtp_event('5', 2400)[0], "127.0.0.1:6002".parse().unwrap(), t0);
    assert_eq!(call.rtp_rejected as usize, injected.len() + 1);
}
