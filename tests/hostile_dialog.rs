//! A call's dialog against a flood of its own requests, through the real server on
//! loopback: the transactions a dialog keeps are bounded and looked up by branch (a
//! retransmission of a recent request gets its first answer, one of a request pushed
//! out by a flood is no longer known), a burst larger than the call's queue is dropped
//! and counted while the call and another one go on, and legs lingering after their
//! calls are bounded in number (beyond the bound a leg stops at once and a late
//! retransmission of its BYE gets a stateless 481).

mod common;

use common::raw_sip::{ack, bye, final_answer, invite, Caller};
use std::time::Duration;
use tokio::net::UdpSocket;

/// An in-dialog request with a branch of its own (`ctype` and `body` may be empty).
fn in_dialog(c: &Caller, method: &str, cseq: u32, branch: &str, ctype: &str, body: &str) -> String {
    let me = c.sip.local_addr().unwrap();
    let ct = if ctype.is_empty() { String::new() } else { format!("Content-Type: {ctype}\r\n") };
    format!(
        "{method} sip:echo@{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{branch}\r\n\
         From: <sip:tester@{me}>;tag=ft\r\nTo: <sip:echo@{srv}>;tag={tag}\r\nCall-ID: {id}\r\n\
         CSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        body.len(),
        srv = c.server,
        tag = c.to_tag,
        id = c.call_id,
    )
}

/// Sends `msg` and returns the status line of its answer.
async fn ask(c: &Caller, msg: &str) -> String {
    c.sip.send_to(msg.as_bytes(), c.server).await.unwrap();
    let answer = final_answer(&c.sip).await.expect("an answer");
    answer.lines().next().unwrap_or_default().to_string()
}

async fn echo_call(server: &ivrpay::server::Server, from_ip: &str) -> (Caller, UdpSocket) {
    let rtp = UdpSocket::bind((from_ip, 0)).await.unwrap();
    let (caller, answer, _) = invite(server.sip_addr(), from_ip, "echo", rtp.local_addr().unwrap()).await;
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    ack(&caller, "echo").await;
    (caller, rtp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dialog_keeps_its_newest_transactions_by_branch_and_forgets_the_rest() {
    let server = common::start(common::config()).await;
    let (c, _rtp) = echo_call(&server, "127.0.0.1").await;
    let digit = in_dialog(&c, "INFO", 2, "first", "application/dtmf-relay", "Signal=5\r\nDuration=160\r\n");
    assert_eq!(ask(&c, &digit).await, "SIP/2.0 200 OK");
    // Its retransmission is absorbed: the same answer, no second key.
    assert_eq!(ask(&c, &digit).await, "SIP/2.0 200 OK");
    // 100 more requests, each a new transaction (one at a time: none is dropped).
    for n in 0..100 {
        let options = in_dialog(&c, "OPTIONS", 3 + n, &format!("opt{n}"), "", "");
        assert_eq!(ask(&c, &options).await, "SIP/2.0 200 OK", "OPTIONS {n}");
    }
    // A recent one is still known: its retransmission gets its answer again...
    assert_eq!(ask(&c, &in_dialog(&c, "OPTIONS", 102, "opt99", "", "")).await, "SIP/2.0 200 OK");
    // ...the first was pushed out (at most 64 are kept): it now reads as a new request
    // whose CSeq went backwards, and its key is not typed again.
    let late = ask(&c, &digit).await;
    assert!(late.starts_with("SIP/2.0 500"), "{late}");
    assert_eq!(server.ctx().digits_received(), 1);
    assert_eq!(ask(&c, &in_dialog(&c, "BYE", 200, "bye", "", "")).await, "SIP/2.0 200 OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_beyond_the_calls_queue_is_dropped_and_counted_while_calls_go_on() {
    let server = common::start(common::config()).await;
    let (other, _other_rtp) = echo_call(&server, "127.0.0.2").await;
    let (c, _rtp) = echo_call(&server, "127.0.0.1").await;
    // From the trusted local address (no per-source limit stops it first), on several
    // sockets at once, so the burst arrives faster than one call reads it (the dialog
    // does not depend on the source port).
    let burst = 4_000u32;
    let mut senders = Vec::new();
    for s in 0..4u32 {
        let msgs: Vec<String> = (0..burst / 4)
            .map(|n| in_dialog(&c, "OPTIONS", 10 + s * burst + n, &format!("b{s}x{n}"), "", ""))
            .collect();
        let (to, sock) = (c.server, UdpSocket::bind("127.0.0.1:0").await.unwrap());
        senders.push(tokio::spawn(async move {
            for m in &msgs {
                sock.send_to(m.as_bytes(), to).await.unwrap();
            }
            // The answers, until the server has gone through the burst.
            let (mut answers, mut buf) = (0u32, vec![0u8; 4096]);
            while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf)).await {
                answers += 1;
            }
            answers
        }));
    }
    let mut answered = 0;
    for s in senders {
        answered += s.await.unwrap();
    }
    let dropped = server.ctx().env.calls.overflow();
    assert!(dropped > 0, "a burst of {burst} never filled the call's queue");
    assert!(u64::from(answered) + dropped <= u64::from(burst), "{answered} answered, {dropped} dropped");
    // The call elsewhere, the flooded one and a new one all go on.
    bye(&other, "echo").await;
    assert_eq!(ask(&c, &in_dialog(&c, "BYE", 100_000, "bye", "", "")).await, "SIP/2.0 200 OK");
    let (next, _next_rtp) = echo_call(&server, "127.0.0.3").await;
    bye(&next, "echo").await;
    println!("burst of {burst}: {answered} answered, {dropped} dropped at the call's queue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legs_lingering_after_their_calls_are_bounded_and_the_rest_stop_at_once() {
    let mut cfg = common::config();
    cfg.sip.max_lingering_calls = 2;
    let server = common::start(cfg).await;
    let mut ended = Vec::new();
    for _ in 0..5 {
        let (c, rtp) = echo_call(&server, "127.0.0.1").await;
        bye(&c, "echo").await;
        ended.push((c, rtp));
    }
    let cut = || server.ctx().env.linger_cut.load(std::sync::atomic::Ordering::Relaxed);
    for _ in 0..50 {
        if cut() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(cut(), 3, "two places to linger, five calls");
    // The first two linger: a late copy of their BYE gets the answer it got. The last
    // three stopped: the copy gets a stateless 481.
    for (i, (c, _)) in ended.iter().enumerate() {
        let again = common::raw_sip::request(c, "BYE", "echo", 2, &c.to_tag, "");
        let status = ask(c, &again).await;
        let want = if i < 2 { "SIP/2.0 200 OK" } else { "SIP/2.0 481 Call/Transaction Does Not Exist" };
        assert_eq!(status, want, "call {i}");
    }
}
