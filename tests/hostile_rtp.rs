//! A call's RTP port against strangers, through the real server on loopback sockets
//! (127.0.0.2 and 127.0.0.3 stand for other hosts): keys injected from another address
//! or port are not typed into the call, nothing is sent before the caller acknowledges
//! the answer, a stranger never takes the call's audio, and the line-test numbers
//! answer only the diagnostic networks.

mod common;

use common::raw_sip::{ack, bye, invite};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

/// RFC 4733 packets for one key press (three end packets, as phones send).
fn key(digit: u8, ssrc: u32, seq: u16, ts: u32) -> Vec<Vec<u8>> {
    (0..6u16)
        .map(|i| {
            let end = i >= 3;
            let mut p = vec![0x80, if i == 0 { 0x80 | 101 } else { 101 }];
            p.extend((seq + i).to_be_bytes());
            p.extend(ts.to_be_bytes());
            p.extend(ssrc.to_be_bytes());
            p.extend([digit, if end { 0x80 | 10 } else { 10 }]);
            p.extend(((i.min(3) + 1) * 160).to_be_bytes());
            p
        })
        .collect()
}

/// A frame of PCMU silence.
fn audio(ssrc: u32, seq: u16, ts: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend(seq.to_be_bytes());
    p.extend(ts.to_be_bytes());
    p.extend(ssrc.to_be_bytes());
    p.extend([0xffu8; 160]);
    p
}

async fn send_all(sock: &UdpSocket, packets: &[Vec<u8>], to: SocketAddr) {
    for p in packets {
        sock.send_to(p, to).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// How many datagrams arrive on `sock` within `window`.
async fn received(sock: &UdpSocket, window: Duration) -> usize {
    let mut buf = [0u8; 2048];
    let mut n = 0;
    let end = tokio::time::Instant::now() + window;
    while let Ok(Ok(_)) = tokio::time::timeout_at(end, sock.recv_from(&mut buf)).await {
        n += 1;
    }
    n
}

async fn digits_become(server: &ivrpay::server::Server, n: u64) -> u64 {
    for _ in 0..100 {
        if server.ctx().digits_received() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.ctx().digits_received()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_cannot_type_into_a_call_or_take_its_audio_and_nothing_is_sent_before_the_ack() {
    let server = common::start(common::config()).await;
    let rtp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (caller, answer, media) = invite(server.sip_addr(), "127.0.0.1", "echo", rtp.local_addr().unwrap()).await;
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    let media = media.expect("the answer's SDP has a port");

    // Answered, not acknowledged: not one packet yet.
    assert_eq!(received(&rtp, Duration::from_millis(600)).await, 0, "media before the ACK");
    // A stranger elsewhere types 5 before the caller sent anything: not heard.
    let stranger = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    send_all(&stranger, &key(5, 0x5151, 1, 800), media).await;

    ack(&caller, "echo").await;
    assert!(received(&rtp, Duration::from_millis(500)).await > 5, "the greeting flows once acknowledged");
    // The caller's first packet latches the stream to its exact source.
    rtp.send_to(&audio(0xca11, 1, 160), media).await.unwrap();
    // A stranger on another host, and one on the caller's own address but another port,
    // each with a fresh SSRC: no key typed, no audio taken.
    let neighbour = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    send_all(&stranger, &key(5, 0x5152, 10, 1600), media).await;
    send_all(&neighbour, &key(9, 0x5153, 20, 2400), media).await;
    send_all(&neighbour, &[audio(0x5154, 30, 3200)], media).await;
    assert_eq!(digits_become(&server, 1).await, 0, "an injected key was typed into the call");
    assert_eq!(received(&stranger, Duration::from_millis(300)).await, 0, "the stranger hears the call");
    assert_eq!(received(&neighbour, Duration::from_millis(300)).await, 0, "the neighbour hears the call");
    assert!(received(&rtp, Duration::from_millis(300)).await > 5, "the caller still does");

    // The caller's own key is heard.
    send_all(&rtp, &key(7, 0xca11, 2, 4000), media).await;
    assert_eq!(digits_become(&server, 1).await, 1);
    bye(&caller, "echo").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_naming_another_host_gets_nothing_until_the_caller_acknowledges() {
    let server = common::start(common::config()).await;
    let victim = UdpSocket::bind("127.0.0.3:0").await.unwrap();
    let (caller, answer, _) = invite(server.sip_addr(), "127.0.0.1", "echo-loop", victim.local_addr().unwrap()).await;
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    // An INVITE with a forged source never sees our tag, so it never ACKs: the address
    // its SDP names receives nothing (the 200 is retransmitted meanwhile).
    assert_eq!(received(&victim, Duration::from_millis(1500)).await, 0, "audio reflected before any ACK");
    ack(&caller, "echo-loop").await;
    assert!(received(&victim, Duration::from_millis(500)).await > 5, "acknowledged: sent where the SDP said");
    bye(&caller, "echo-loop").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_line_test_numbers_answer_only_the_diagnostic_networks() {
    let mut cfg = common::config();
    cfg.services.diagnostic_sources = vec!["127.0.0.1/32".into()];
    let server = common::start(cfg).await;
    let rtp = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    for user in ["echo", "echo-loop"] {
        let (_, answer, _) = invite(server.sip_addr(), "127.0.0.2", user, rtp.local_addr().unwrap()).await;
        assert!(answer.starts_with("SIP/2.0 404"), "{user} from outside: {answer}");
    }
    assert_eq!(received(&rtp, Duration::from_millis(300)).await, 0);
    let (caller, answer, _) = invite(server.sip_addr(), "127.0.0.1", "echo", rtp.local_addr().unwrap()).await;
    assert!(answer.starts_with("SIP/2.0 200"), "from inside: {answer}");
    ack(&caller, "echo").await;
    bye(&caller, "echo").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_left_on_hold_is_hung_up_at_the_hold_timeout() {
    let mut cfg = common::config();
    cfg.media.hold_timeout_s = 1;
    let server = common::start(cfg).await;
    let rtp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sip = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut caller =
        common::raw_sip::Caller { sip, server: server.sip_addr(), call_id: "held@test".into(), to_tag: String::new() };
    // Offered on hold from the start (a=inactive): silence is expected, not for ever.
    let offer = common::raw_sip::sdp(rtp.local_addr().unwrap()).replace("a=sendrecv", "a=inactive");
    let inv = common::raw_sip::request(&caller, "INVITE", "echo", 1, "", &offer);
    caller.sip.send_to(inv.as_bytes(), caller.server).await.unwrap();
    let answer = common::raw_sip::final_answer(&caller.sip).await.expect("answered");
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    caller.to_tag = common::raw_sip::header(&answer, "To:").split(";tag=").nth(1).unwrap().trim().to_string();
    ack(&caller, "echo").await;
    let mut buf = vec![0u8; 65535];
    let bye = loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(10), caller.sip.recv_from(&mut buf))
            .await
            .expect("the server hangs up a held call")
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        if text.starts_with("BYE ") {
            break text;
        }
    };
    assert!(bye.contains("Call-ID: held@test"), "{bye}");
    let calls = common::completed_calls(&server.ctx().store, 1).await;
    assert_eq!(calls[0].end_reason.as_deref(), Some("hold_timeout"));
}
