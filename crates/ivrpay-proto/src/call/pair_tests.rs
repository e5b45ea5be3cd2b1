//! The caller leg and the server's call core on one virtual timeline: lost ACKs, lost
//! BYEs, glare, a hang-up during an authorization, duplicated and delayed messages.
//! Every instant asserted is RFC 3261's (T1 = 500 ms, T2 = 4 s, 64*T1 = 32 s).

use super::*;

/// The base instant, read once per test: every instant after it is virtual.
fn base() -> Instant {
    Instant::now()
}

fn pair() -> Pair {
    Pair::new(base(), 1)
}

/// The caller's events as short words, with their ms.
fn caller_words(p: &Pair) -> Vec<(u64, String)> {
    p.caller_log
        .iter()
        .map(|(ms, o)| {
            let w = match o {
                CallerOutput::Provisional(s) => format!("provisional:{s}"),
                CallerOutput::Answered(s, _) => format!("answered:{s}"),
                CallerOutput::MediaUpdate(n) => format!("media:{:?}", n.direction),
                CallerOutput::ReInviteRefused(s) => format!("refused:{s}"),
                CallerOutput::Ended(e) => format!("ended:{e:?}"),
                CallerOutput::Transmit(_) => unreachable!("transmissions go to the link"),
            };
            (*ms, w)
        })
        .collect()
}

fn server_words(p: &Pair, prefix: &str) -> Vec<(u64, String)> {
    p.server_log.iter().filter(|(_, w)| w.starts_with(prefix)).cloned().collect()
}

fn s(ms: u64, w: &str) -> (u64, String) {
    (ms, w.to_string())
}

/// One record and one summary, of a call that ended for `reason`.
fn one_record(p: &Pair, reason: EndReason) -> &CallRecord {
    assert_eq!(p.calls_created, 1, "one call on the server");
    assert_eq!(p.records.len(), 1, "one record: {:?}", p.records);
    assert_eq!(p.finished.len(), 1, "one summary: {:?}", p.finished);
    assert_eq!(p.records[0].1.end_reason, reason);
    assert_eq!(p.finished[0].1.end_reason, Some(reason));
    &p.records[0].1
}

#[test]
fn a_lost_ack_is_sent_again_for_the_retransmitted_2xx_and_the_call_goes_on() {
    let mut p = pair();
    p.fault(Side::Caller, "ACK", 0, 2, Fault::Drop);
    p.at(5000, CallerAction::Digit('1'));
    p.at(6000, CallerAction::HangUp);
    p.run_until(60_000);
    // Timer G: 500 ms, then 1 s; each 2xx gets its ACK again, the third arrives.
    assert_eq!(p.sent(Side::Server, "200 INVITE"), [0, 500, 1500]);
    assert_eq!(p.sent(Side::Caller, "ACK"), [0, 500, 1500]);
    assert_eq!(p.wire.iter().filter(|w| w.fault == Some(Fault::Drop)).count(), 2);
    assert_eq!(server_words(&p, "digit"), [s(5000, "digit")], "the call proceeds after the ACK");
    assert_eq!(server_words(&p, "ended"), [s(6000, "ended:caller_bye")]);
    assert_eq!(caller_words(&p), [s(0, "provisional:100"), s(0, "answered:200"), s(6000, "ended:Hangup(Some(200))")]);
    one_record(&p, EndReason::RemoteBye);
    // The server lingers for Timer J of the BYE (64*T1), the caller for Timer M.
    assert_eq!(p.finished[0].0, 6000 + 32_000);
    assert!(p.caller.is_finished(p.now));
}

#[test]
fn without_any_ack_the_server_hangs_up_at_64_t1() {
    let mut p = pair();
    p.fault(Side::Caller, "ACK", 0, u32::MAX, Fault::Drop);
    p.run_until(120_000);
    // Timer G doubles up to T2 (4 s) until Timer H, 64*T1 after the 2xx.
    let g = [0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500];
    assert_eq!(p.sent(Side::Server, "200 INVITE"), g);
    assert_eq!(p.sent(Side::Caller, "ACK"), g, "the caller ACKs every 2xx");
    assert_eq!(p.sent(Side::Server, "BYE"), [32_000]);
    assert_eq!(p.sent(Side::Caller, "200 BYE"), [32_000]);
    assert_eq!(server_words(&p, "ended"), [s(32_000, "ended:no_ack")]);
    assert_eq!(server_words(&p, "record"), [s(32_000, "record:abandoned")]);
    assert_eq!(caller_words(&p).last(), Some(&s(32_000, "ended:RemoteBye")));
    let rec = one_record(&p, EndReason::NoAck);
    assert_eq!(rec.answered_at, Some(EPOCH_MS), "media started with the 2xx");
    // The BYE's transaction lingers for Timer K (T4) after its answer.
    assert_eq!(p.finished[0].0, 32_000 + 5000);
}

#[test]
fn a_lost_bye_is_retransmitted_by_timer_e_and_the_call_ends_once() {
    let mut p = pair();
    p.fault(Side::Caller, "BYE", 0, 2, Fault::Drop);
    p.fault(Side::Server, "200 BYE", 0, 1, Fault::Drop);
    p.at(5000, CallerAction::HangUp);
    p.run_until(120_000);
    // Timer E: T1, 2*T1, 4*T1 after the first BYE; the third is answered (lost), the
    // fourth gets the same 200 again from the server's transaction.
    assert_eq!(p.sent(Side::Caller, "BYE"), [5000, 5500, 6500, 8500]);
    assert_eq!(p.sent(Side::Server, "200 BYE"), [6500, 8500]);
    assert_eq!(server_words(&p, "ended"), [s(6500, "ended:caller_bye")]);
    assert_eq!(server_words(&p, "record"), [s(6500, "record:abandoned")]);
    assert_eq!(caller_words(&p).last(), Some(&s(8500, "ended:Hangup(Some(200))")));
    assert_eq!(caller_words(&p).iter().filter(|(_, w)| w.starts_with("ended")).count(), 1);
    one_record(&p, EndReason::RemoteBye);
    assert_eq!(p.finished[0].0, 6500 + 32_000, "Timer J from the first BYE received");
}

#[test]
fn a_bye_never_answered_ends_the_caller_at_timer_f() {
    let mut p = pair();
    p.fault(Side::Caller, "BYE", 0, u32::MAX, Fault::Drop);
    p.at(5000, CallerAction::HangUp);
    p.run_until(50_000);
    assert_eq!(
        p.sent(Side::Caller, "BYE"),
        [5000, 5500, 6500, 8500, 12_500, 16_500, 20_500, 24_500, 28_500, 32_500, 36_500]
    );
    assert_eq!(caller_words(&p).last(), Some(&s(37_000, "ended:Hangup(None)")));
    assert!(p.records.is_empty(), "the server never heard of the end");
}

/// A re-INVITE from the server's dialog, built from the INVITE and 2xx on the wire.
fn server_reinvite(p: &Pair, branch: &str, cseq: u32) -> Vec<u8> {
    let header = |kind: &str, name: &str| {
        let w = p.wire.iter().find(|w| w.kind == kind).expect("on the wire");
        let text = String::from_utf8(w.bytes.clone()).expect("text");
        let line = text.lines().find(|l| l.starts_with(&format!("{name}:"))).expect("header").to_string();
        line[name.len() + 1..].trim().to_string()
    };
    let (from, to, call_id) = (header("200 INVITE", "To"), header("INVITE", "From"), header("INVITE", "Call-ID"));
    let body = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\na=sendonly\r\n";
    format!(
        "INVITE sip:caller@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch={branch}\r\n\
         From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\n\
         Contact: <sip:ivrpay@127.0.0.1:5060>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn ack_for(reinvite: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(reinvite.to_vec()).expect("text");
    let head: String = text
        .split("\r\n\r\n")
        .next()
        .expect("head")
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("Content-") && !l.starts_with("Contact"))
        .map(|l| if l.starts_with("CSeq:") { l.replace("INVITE", "ACK") } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\r\n");
    format!("ACK sip:caller@127.0.0.1:5070 SIP/2.0\r\n{head}\r\nContent-Length: 0\r\n\r\n").into_bytes()
}

#[test]
fn a_re_invite_while_the_servers_2xx_awaits_its_ack_gets_491_and_is_retried() {
    let mut p = pair();
    p.fault(Side::Caller, "ACK", 0, 1, Fault::Drop);
    p.at(100, CallerAction::ReInvite(Direction::SendOnly));
    p.run_until(10_000);
    // RFC 3261 14.2: the first INVITE's offer/answer is not over (no ACK): 491. The
    // caller ACKs it (a non-2xx ACK, same branch) and, owning the Call-ID, retries
    // 2.1 to 4 s later in 10 ms steps (14.1).
    assert_eq!(p.sent(Side::Server, "491 INVITE"), [100]);
    let invites = p.sent(Side::Caller, "INVITE");
    assert_eq!(invites.len(), 3, "{invites:?}");
    let (first, retry) = (invites[1], invites[2]);
    assert_eq!(first, 100);
    assert!((2100..=4000).contains(&(retry - first)) && (retry - first) % 10 == 0, "retry at {retry}");
    assert_eq!(p.sent(Side::Caller, "ACK"), [0, 100, 500, retry], "lost ACK, 491's ACK, ACK again, re-INVITE's");
    assert_eq!(p.sent(Side::Server, "200 INVITE"), [0, 500, retry]);
    let sending = [s(0, "sending:false"), s(500, "sending:true"), s(retry, "sending:false")];
    assert_eq!(server_words(&p, "sending"), sending, "silent until the ACK, held by the re-INVITE");
    assert_eq!(caller_words(&p).last(), Some(&(retry, "media:SendOnly".to_string())));
    assert!(p.caller.is_up());
}

#[test]
fn glare_the_caller_answers_491_to_a_re_invite_while_its_own_is_in_progress() {
    let mut p = pair();
    // The caller's re-INVITE is slow to reach the server: it is in progress at 1100.
    p.fault(Side::Caller, "INVITE", 1, 1, Fault::Delay(Duration::from_millis(200)));
    p.at(1000, CallerAction::ReInvite(Direction::SendOnly));
    p.run_until(1100);
    assert!(p.caller.reinvite_in_progress());
    let theirs = server_reinvite(&p, "z9hG4bKglare1", 900_000);
    p.inject_to_caller(theirs.clone());
    p.run_until(1150);
    assert_eq!(p.sent(Side::Caller, "491 INVITE"), [1100], "RFC 3261 14.2");
    p.inject_to_caller(ack_for(&theirs));
    p.run_until(10_000);
    assert_eq!(p.sent(Side::Caller, "491 INVITE"), [1100], "its ACK stopped Timer G");
    // Ours goes on: answered 200 at 1200, ACKed, media held.
    assert_eq!(p.sent(Side::Caller, "INVITE"), [0, 1000]);
    assert_eq!(p.sent(Side::Server, "200 INVITE"), [0, 1200]);
    assert_eq!(p.sent(Side::Caller, "ACK"), [0, 1200]);
    assert_eq!(caller_words(&p).last(), Some(&s(1200, "media:SendOnly")));
    // Once ours is done, the server's retry is accepted.
    let retry = server_reinvite(&p, "z9hG4bKglare2", 900_001);
    p.inject_to_caller(retry);
    p.run_until(10_010);
    assert_eq!(p.sent(Side::Caller, "200 INVITE"), [10_000]);
    assert_eq!(caller_words(&p).last(), Some(&s(10_000, "media:RecvOnly")));
}

#[test]
fn a_hang_up_during_an_authorization_records_the_payment_once_when_its_result_comes() {
    let mut p = pair();
    p.at(5000, CallerAction::Digit('5'));
    p.at(6000, CallerAction::HangUp);
    p.run_until(120_000);
    assert_eq!(server_words(&p, "authorize"), [s(5000, "authorize")]);
    assert_eq!(server_words(&p, "ended"), [s(6000, "ended:caller_bye")]);
    // The result arrives 2 s after the order, after the BYE: still consumed, and the
    // record waits for it.
    assert_eq!(server_words(&p, "record"), [s(7000, "record:paid")]);
    assert_eq!(caller_words(&p).last(), Some(&s(6000, "ended:Hangup(Some(200))")));
    let rec = one_record(&p, EndReason::RemoteBye).clone();
    assert_eq!(rec.outcome, CallOutcome::Paid);
    assert_eq!(rec.report.transaction_reference.as_deref(), Some("R1"));
    assert_eq!(p.finished[0].0, 6000 + 32_000, "Timer J of the BYE");
}

#[test]
fn an_authorization_slower_than_the_legs_timers_holds_the_summary_until_it_returns() {
    let mut p = pair();
    p.auth_delay = Duration::from_secs(60);
    p.at(5000, CallerAction::Digit('5'));
    p.at(6000, CallerAction::HangUp);
    p.run_until(120_000);
    assert_eq!(server_words(&p, "record"), [s(65_000, "record:paid")]);
    one_record(&p, EndReason::RemoteBye);
    assert_eq!(p.finished[0].0, 65_000, "finished with the record: the leg was done at 38 s");
}

#[test]
fn duplicated_and_delayed_messages_make_no_second_call_or_record() {
    let mut p = pair();
    p.fault(Side::Caller, "INVITE", 0, 1, Fault::Delay(Duration::from_millis(700)));
    p.fault(Side::Caller, "*", 0, u32::MAX, Fault::Duplicate);
    p.fault(Side::Server, "*", 0, u32::MAX, Fault::Duplicate);
    p.at(5000, CallerAction::Digit('5'));
    p.at(8000, CallerAction::HangUp);
    p.run_until(120_000);
    // Timer A resends the INVITE at 500 ms, which starts the call; the original,
    // arriving at 700 ms, is a retransmission to the server.
    assert_eq!(p.sent(Side::Caller, "INVITE")[..2], [0, 500]);
    assert_eq!(p.calls_created, 1);
    assert_eq!(server_words(&p, "start"), [s(500, "start")]);
    // The 2xx and its copy; the duplicated INVITE got it again; the original INVITE,
    // arriving after the ACK, is absorbed (RFC 6026 Confirmed).
    assert_eq!(p.sent(Side::Server, "200 INVITE"), [500, 500]);
    assert_eq!(server_words(&p, "digit"), [s(5000, "digit")], "a duplicated INFO is one digit");
    assert_eq!(server_words(&p, "authorize"), [s(5000, "authorize")]);
    assert_eq!(server_words(&p, "ended"), [s(8000, "ended:caller_bye")]);
    let rec = one_record(&p, EndReason::RemoteBye);
    assert_eq!(rec.outcome, CallOutcome::Paid);
    let words = caller_words(&p);
    assert_eq!(words.iter().filter(|(_, w)| w.starts_with("answered")).count(), 1, "{words:?}");
    assert_eq!(words.iter().filter(|(_, w)| w.starts_with("ended")).count(), 1, "{words:?}");
}

#[test]
fn an_invite_never_answered_is_resent_by_timer_a_and_given_up_by_timer_b() {
    let mut p = pair();
    p.fault(Side::Caller, "INVITE", 0, u32::MAX, Fault::Drop);
    p.run_until(60_000);
    // Timer A doubles without the T2 cap (RFC 3261 17.1.1.2); Timer B at 64*T1.
    assert_eq!(p.sent(Side::Caller, "INVITE"), [0, 500, 1500, 3500, 7500, 15_500, 31_500]);
    assert_eq!(caller_words(&p), [s(32_000, "ended:NoResponse")]);
    assert_eq!(p.calls_created, 0);
    assert!(p.caller.is_finished(p.now));
}
