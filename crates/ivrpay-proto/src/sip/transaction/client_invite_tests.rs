use super::*;

const INVITE: &str = "INVITE sip:pay@127.0.0.1:5060 SIP/2.0\r\n\
    Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKc1;rport\r\nMax-Forwards: 70\r\n\
    Route: <sip:p1.example;lr>\r\n\
    From: <sip:caller@127.0.0.1>;tag=ft\r\nTo: <sip:pay@127.0.0.1:5060>\r\nCall-ID: ci1\r\n\
    CSeq: 7 INVITE\r\nContact: <sip:caller@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n";

fn response(status: u16, branch: &str) -> Response {
    let raw = format!(
        "SIP/2.0 {status} Whatever\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch={branch};rport=5070;received=127.0.0.1\r\n\
         From: <sip:caller@127.0.0.1>;tag=ft\r\nTo: <sip:pay@127.0.0.1:5060>;tag=tt\r\nCall-ID: ci1\r\n\
         CSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n"
    );
    match message::parse(raw.as_bytes(), Framing::Datagram).unwrap() {
        SipMessage::Response(r) => r,
        _ => unreachable!(),
    }
}

fn tx(reliable: bool, t0: Instant) -> ClientInvite {
    ClientInvite::new(INVITE.as_bytes().to_vec(), reliable, Timers::default(), t0).unwrap()
}

/// What the machine does up to `until`, as (ms since t0, "tx:INVITE" | "tx:ACK" | "up:180" | "timeout").
fn run(tx: &mut ClientInvite, t0: Instant, until: Instant) -> Vec<(u128, String)> {
    let mut out = drain(tx, t0, t0);
    while let Some(at) = tx.poll_timeout().filter(|a| *a <= until) {
        tx.handle_timeout(at);
        out.extend(drain(tx, t0, at));
    }
    out
}

fn drain(tx: &mut ClientInvite, t0: Instant, at: Instant) -> Vec<(u128, String)> {
    std::iter::from_fn(|| tx.poll_output())
        .map(|o| {
            let what = match o {
                ClientInviteOutput::Transmit(b) => {
                    format!("tx:{}", String::from_utf8(b).unwrap().split(' ').next().unwrap())
                }
                ClientInviteOutput::Response(r) => format!("up:{}", r.status),
                ClientInviteOutput::Timeout => "timeout".to_string(),
            };
            ((at - t0).as_millis(), what)
        })
        .collect()
}

fn at(ms: u128, what: &str) -> (u128, String) {
    (ms, what.to_string())
}

#[test]
fn timer_a_doubles_without_a_cap_and_timer_b_gives_up_after_64_t1() {
    // RFC 3261 17.1.1.2: A starts at T1 and doubles (no T2 cap for INVITE); B = 64*T1.
    let t0 = Instant::now();
    let mut tx = tx(false, t0);
    let out = run(&mut tx, t0, t0 + Duration::from_secs(60));
    let expected: Vec<_> = [0, 500, 1500, 3500, 7500, 15500, 31500]
        .into_iter()
        .map(|t| at(t, "tx:INVITE"))
        .chain([at(32_000, "timeout")])
        .collect();
    assert_eq!(out, expected);
    assert_eq!(tx.state(), ClientInviteState::Terminated);
    assert_eq!(tx.poll_timeout(), None);
}

#[test]
fn over_tcp_there_is_no_timer_a_but_timer_b_still_runs() {
    let t0 = Instant::now();
    let mut tx = tx(true, t0);
    assert_eq!(run(&mut tx, t0, t0 + Duration::from_secs(60)), [at(0, "tx:INVITE"), at(32_000, "timeout")]);
}

#[test]
fn a_provisional_answer_stops_timers_a_and_b() {
    // 17.1.1.2: in Proceeding no retransmission, and Timer B only fires in Calling.
    let t0 = Instant::now();
    let mut tx = tx(false, t0);
    assert_eq!(run(&mut tx, t0, t0 + Duration::from_millis(600)), [at(0, "tx:INVITE"), at(500, "tx:INVITE")]);
    tx.on_response(response(100, "z9hG4bKc1"), t0 + Duration::from_millis(700));
    tx.on_response(response(180, "z9hG4bKc1"), t0 + Duration::from_millis(800));
    assert_eq!(drain(&mut tx, t0, t0), [at(0, "up:100"), at(0, "up:180")], "every 1xx is passed up");
    assert_eq!(tx.state(), ClientInviteState::Proceeding);
    assert_eq!(tx.poll_timeout(), None, "the callee may ring for as long as it likes");
    tx.on_response(response(200, "z9hG4bKc1"), t0 + Duration::from_secs(100));
    assert_eq!(drain(&mut tx, t0, t0), [at(0, "up:200")]);
}

#[test]
fn every_2xx_goes_to_the_tu_until_timer_m() {
    // RFC 6026 7.2: Accepted passes each 2xx up (the TU re-ACKs) and lasts 64*T1.
    let t0 = Instant::now();
    let mut tx = tx(false, t0);
    drain(&mut tx, t0, t0);
    let t1 = t0 + Duration::from_millis(20);
    tx.on_response(response(200, "z9hG4bKc1"), t1);
    tx.on_response(response(200, "z9hG4bKc1"), t1 + Duration::from_millis(500));
    assert_eq!(drain(&mut tx, t0, t0), [at(0, "up:200"), at(0, "up:200")], "no ACK from the transaction");
    assert_eq!(tx.state(), ClientInviteState::Accepted);
    tx.on_response(response(180, "z9hG4bKc1"), t1 + Duration::from_millis(600));
    assert!(drain(&mut tx, t0, t0).is_empty(), "a late 1xx is absorbed");
    assert_eq!(tx.poll_timeout(), Some(t1 + Duration::from_secs(32)), "Timer M, no Timer A or B");
    assert!(!tx.is_terminated(t1 + Duration::from_millis(31_999)));
    assert!(run(&mut tx, t0, t1 + Duration::from_secs(32)).is_empty());
    assert_eq!(tx.state(), ClientInviteState::Terminated);
}

#[test]
fn an_error_answer_is_acked_by_the_transaction_and_its_retransmissions_again_until_timer_d() {
    // 17.1.1.2/17.1.1.3: Completed sends the ACK, passes the response up once, ACKs each
    // retransmission, and lingers for Timer D (32 s over UDP).
    let t0 = Instant::now();
    let mut tx = tx(false, t0);
    drain(&mut tx, t0, t0);
    tx.on_response(response(486, "z9hG4bKc1"), t0 + Duration::from_millis(100));
    let mut acks = Vec::new();
    while let Some(o) = tx.poll_output() {
        match o {
            ClientInviteOutput::Transmit(b) => acks.push(String::from_utf8(b).unwrap()),
            ClientInviteOutput::Response(r) => assert_eq!(r.status, 486),
            ClientInviteOutput::Timeout => panic!("timeout"),
        }
    }
    assert_eq!(acks.len(), 1);
    let ack = &acks[0];
    assert!(ack.starts_with("ACK sip:pay@127.0.0.1:5060 SIP/2.0\r\n"), "the INVITE's Request-URI: {ack}");
    assert!(ack.contains("Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKc1;rport\r\n"), "the INVITE's Via: {ack}");
    assert!(ack.contains("Route: <sip:p1.example;lr>\r\n"), "{ack}");
    assert!(ack.contains("To: <sip:pay@127.0.0.1:5060>;tag=tt\r\n"), "the response's To: {ack}");
    assert!(ack.contains("CSeq: 7 ACK\r\n") && ack.contains("Call-ID: ci1\r\n"), "{ack}");
    tx.on_response(response(486, "z9hG4bKc1"), t0 + Duration::from_millis(600));
    assert_eq!(drain(&mut tx, t0, t0), [at(0, "tx:ACK")], "the ACK again, nothing for the TU");
    assert_eq!(tx.state(), ClientInviteState::Completed);
    assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_millis(32_100)), "Timer D");
    assert!(run(&mut tx, t0, t0 + Duration::from_millis(32_100)).is_empty());
    assert_eq!(tx.state(), ClientInviteState::Terminated);
}

#[test]
fn timer_d_does_not_scale_with_t1_and_is_zero_over_tcp() {
    let t0 = Instant::now();
    let fast = Timers { t1: Duration::from_millis(5), ..Timers::default() };
    let mut udp = ClientInvite::new(INVITE.as_bytes().to_vec(), false, fast, t0).unwrap();
    udp.on_response(response(503, "z9hG4bKc1"), t0);
    assert_eq!(udp.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    let mut tcp = tx(true, t0);
    tcp.on_response(response(503, "z9hG4bKc1"), t0);
    assert!(tcp.is_terminated(t0));
}

#[test]
fn responses_of_other_transactions_are_ignored() {
    let t0 = Instant::now();
    let mut tx = tx(false, t0);
    drain(&mut tx, t0, t0);
    tx.on_response(response(200, "z9hG4bKother"), t0);
    assert!(drain(&mut tx, t0, t0).is_empty());
    assert_eq!(tx.state(), ClientInviteState::Calling);
    assert!(ClientInvite::new(b"BYE sip:a@b SIP/2.0\r\n\r\n".to_vec(), false, Timers::default(), t0).is_err());
}
