//! The SIP edge against one bad source, through the real server on loopback
//! (127.0.0.2 and 127.0.0.3 stand for other hosts; 127.0.0.1 is a trusted local
//! source by default): a source holding its call cap while another is still answered,
//! a flood of INVITEs ignored while a real call completes, a sipvicious scan
//! answered with silence, and the fuzzers' crash inputs sent over UDP and TCP.

mod common;

use common::raw_sip::{ack, bye, invite, request};
use ivrpay::caller::{self, CallOptions};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

async fn echo_call_completes(server: &ivrpay::server::Server) {
    let opts = CallOptions {
        target: format!("sip:echo@{}", server.sip_addr()),
        dtmf: "123".into(),
        hangup_after: Duration::from_millis(800),
        max_duration: Duration::from_secs(20),
        ..CallOptions::default()
    };
    let s = caller::run(&opts).await.expect("the call runs");
    assert_eq!((s.status, s.digits_sent), (200, 3), "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_holding_its_call_cap_is_refused_while_another_is_answered() {
    let mut cfg = common::config();
    cfg.sip.max_calls_per_source = 2;
    let server = common::start(cfg).await;
    let rtp = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    let mut held = Vec::new();
    for i in 0..3 {
        let media = UdpSocket::bind("127.0.0.2:0").await.unwrap();
        let (caller, answer, _) = invite(server.sip_addr(), "127.0.0.2", "echo", media.local_addr().unwrap()).await;
        if i < 2 {
            assert!(answer.starts_with("SIP/2.0 200"), "call {i}: {answer}");
            ack(&caller, "echo").await;
            held.push((caller, media));
        } else {
            assert!(
                answer.starts_with("SIP/2.0 503 Service Unavailable (Too Many Calls From Your Address)"),
                "{answer}"
            );
            assert!(answer.contains("Retry-After:"), "{answer}");
        }
    }
    let (other, answer, _) = invite(server.sip_addr(), "127.0.0.3", "echo", rtp.local_addr().unwrap()).await;
    assert!(answer.starts_with("SIP/2.0 200"), "another source is answered: {answer}");
    ack(&other, "echo").await;
    bye(&other, "echo").await;
    for (c, _) in &held {
        bye(c, "echo").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_invites_from_one_source_is_ignored_while_a_real_call_completes() {
    let server = common::start(common::config()).await;
    let flood = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    let sink = SocketAddr::from(([127, 0, 0, 2], 9));
    let target = server.sip_addr();
    let flooder = tokio::spawn(async move {
        // 2,000 INVITEs as fast as the socket takes them, each a new Call-ID.
        let mut c =
            common::raw_sip::Caller { sip: flood, server: target, call_id: String::new(), to_tag: String::new() };
        for i in 0..2000u32 {
            c.call_id = format!("flood-{i}");
            let inv = request(&c, "INVITE", "echo", 1, "", &common::raw_sip::sdp(sink));
            c.sip.send_to(inv.as_bytes(), target).await.unwrap();
            if i % 100 == 0 {
                tokio::task::yield_now().await;
            }
        }
        let flood = c.sip;
        // What came back to the flooding socket.
        let mut buf = vec![0u8; 65535];
        let mut answers = 0;
        while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(500), flood.recv_from(&mut buf)).await {
            answers += 1;
        }
        answers
    });
    echo_call_completes(&server).await;
    let answers = flooder.await.unwrap();
    // The burst (10 new calls) is heard, then the source is ignored: at most a 100
    // Trying and a 200 (with its retransmissions) for each of those.
    assert!(answers <= 10 * 8, "the flood was answered {answers} times");
    assert!(server.ctx().active_calls() <= 10, "{} calls from the flood", server.ctx().active_calls());
    // Another source is still answered while the flooder's block lasts.
    echo_call_completes(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sipvicious_scan_finds_nothing_while_a_call_completes() {
    if std::process::Command::new("svmap").arg("--version").output().is_err() {
        panic!("svmap (Debian package sipvicious) is needed; .ci/run installs it");
    }
    let server = common::start(common::config()).await;
    let port = server.sip_addr().port().to_string();
    let scan = tokio::task::spawn_blocking(move || {
        std::process::Command::new("timeout")
            .args(["30", "svmap", "-b", "127.0.0.2", "-p", &port, "-t", "0.5", "127.0.0.1"])
            .output()
            .expect("svmap runs")
    });
    echo_call_completes(&server).await;
    let out = scan.await.unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains(&format!("127.0.0.1:{}", server.sip_addr().port())), "svmap found the server:\n{text}");
    assert!(text.to_lowercase().contains("found nothing"), "svmap ran and found nothing:\n{text}");
}

/// Every input a fuzz target once crashed on (`fuzz/corpus/sip_message/crash-*`), sent
/// as a datagram and on a TCP connection from another host: the server answers or stays
/// silent, and goes on serving calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fuzzers_crash_inputs_leave_the_server_serving() {
    use tokio::io::AsyncWriteExt;
    let server = common::start(common::config()).await;
    let dir = common::root().join("fuzz/corpus/sip_message");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("crash-"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 2, "{inputs:?}");
    let udp = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    for path in &inputs {
        let raw = std::fs::read(path).unwrap();
        udp.send_to(&raw, server.sip_addr()).await.unwrap();
        let mut tcp = tokio::net::TcpStream::connect(server.sip_addr()).await.unwrap();
        tcp.write_all(&raw).await.unwrap();
        tcp.write_all(b"\r\n\r\n").await.unwrap();
        drop(tcp);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    echo_call_completes(&server).await;
}
