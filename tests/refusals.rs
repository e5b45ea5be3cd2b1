//! Bad and unwelcome requests over real sockets: each gets its precise answer and the
//! server keeps serving the next caller.

mod common;

use ivrpay::caller::{self, CallOptions};
use ivrpay::sip::Transport;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n";

fn request(method: &str, user: &str, branch: &str, extra: &str, body: &str) -> String {
    let ct = if body.is_empty() { "" } else { "Content-Type: application/sdp\r\n" };
    format!(
        "{method} sip:{user}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch={branch}\r\nFrom: <sip:t@127.0.0.1>;tag=f\r\n\
         To: <sip:{user}@127.0.0.1>\r\nCall-ID: {branch}@test\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n{extra}{ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

async fn udp_exchange(sock: &UdpSocket, to: SocketAddr, raw: &[u8]) -> Option<String> {
    sock.send_to(raw, to).await.unwrap();
    let mut buf = vec![0u8; 65535];
    loop {
        match tokio::time::timeout(Duration::from_millis(700), sock.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => {
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                if text.starts_with("SIP/2.0 100") {
                    continue;
                }
                return Some(text);
            }
            _ => return None,
        }
    }
}

fn status_line(resp: &Option<String>) -> String {
    resp.as_deref().map(|r| r.lines().next().unwrap_or("").to_string()).unwrap_or_else(|| "<no answer>".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_refused_requests_get_clear_answers_then_a_call_completes() {
    common::init_tracing();
    let mut cfg = common::config();
    cfg.sip.max_calls = 1000;
    let server = common::start(cfg).await;
    let to = server.sip_addr();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let cases: Vec<(String, &str)> = vec![
        (
            request("INVITE", "echo", "z9hG4bK1", "", SDP)
                .replace(&format!("Content-Length: {}", SDP.len()), "Content-Length: 500"),
            "SIP/2.0 400 Bad Request (",
        ),
        (request("INVITE", "echo", "z9hG4bK2", "", SDP).replace("Call-ID: z9hG4bK2@test\r\n", ""), "<no answer>"),
        (
            request("OPTIONS", "echo", "z9hG4bK3", "", "").replace("CSeq: 1 OPTIONS", "CSeq: x OPTIONS"),
            "SIP/2.0 400 Bad Request (Missing or Invalid CSeq)",
        ),
        (request("FOO", "echo", "z9hG4bK4", "", ""), "SIP/2.0 501 Not Implemented"),
        (request("REGISTER", "echo", "z9hG4bK5", "", ""), "SIP/2.0 405 Method Not Allowed"),
        (request("INVITE", "nobody", "z9hG4bK6", "", SDP), "SIP/2.0 404 "),
        (request("INVITE", "echo", "z9hG4bK7", "Require: 100rel\r\n", SDP), "SIP/2.0 420 Bad Extension"),
        (request("INVITE", "echo", "z9hG4bK8", "", SDP).replace("RTP/AVP 0", "RTP/AVP 18"), "SIP/2.0 488 "),
        (request("INVITE", "echo", "z9hG4bK9", "", SDP).replace("application/sdp", "text/plain"), "SIP/2.0 415 "),
        (request("BYE", "echo", "z9hG4bK10", "", ""), "SIP/2.0 481 "),
        (request("OPTIONS", "echo", "z9hG4bK11", "", ""), "SIP/2.0 200 OK"),
        ("\u{0}\u{1}garbage that is not SIP at all\r\n\r\n".to_string(), "<no answer>"),
        ("INVITE sip:echo@127.0.0.1 SIP/2.0\r\nVia SIP/2.0/UDP x\r\n\r\n".to_string(), "<no answer>"),
    ];
    for (raw, expected) in &cases {
        let resp = udp_exchange(&sock, to, raw.as_bytes()).await;
        let line = status_line(&resp);
        assert!(line.starts_with(expected), "sent:\n{raw}\nexpected {expected}, got {line}");
    }
    // Whitespace before colons, folded lines and compact headers are understood.
    let odd = "OPTIONS sip:echo@127.0.0.1 SIP/2.0\r\nv : SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK12\r\nf: <sip:t@h>;tag=1\r\nt: <sip:echo@h>\r\ni: odd@test\r\nCSeq\t: 1\r\n OPTIONS\r\nl: 0\r\n\r\n";
    assert_eq!(status_line(&udp_exchange(&sock, to, odd.as_bytes()).await), "SIP/2.0 200 OK");

    // Over TCP, a message without Content-Length cannot be framed: 400 and the
    // connection closes; a new connection works.
    let mut tcp = TcpStream::connect(to).await.unwrap();
    let no_cl = request("OPTIONS", "echo", "z9hG4bK13", "", "").replace("Content-Length: 0\r\n", "");
    tcp.write_all(no_cl.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut buf)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 400"), "{}", String::from_utf8_lossy(&buf[..n]));
    // The same when the bad header arrives in two reads: the 400 is addressed from the
    // whole message (the Via came in the first read), not from the last read alone.
    let mut tcp = TcpStream::connect(to).await.unwrap();
    let no_cl = request("OPTIONS", "echo", "z9hG4bK14", "", "").replace("Content-Length: 0\r\n", "");
    let (first, second) = no_cl.split_at(no_cl.find("To:").unwrap());
    tcp.write_all(first.as_bytes()).await.unwrap();
    tcp.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    tcp.write_all(second.as_bytes()).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut buf)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("SIP/2.0 400") && answer.contains("z9hG4bK14"), "{answer}");

    // And the server still takes calls, on both transports.
    for transport in [Transport::Udp, Transport::Tcp] {
        let opts = CallOptions {
            target: format!("sip:echo@{to}"),
            dtmf: "5".into(),
            transport,
            wait: Duration::from_millis(200),
            hangup_after: Duration::from_millis(300),
            ..CallOptions::default()
        };
        let s = caller::run(&opts).await.unwrap();
        assert_eq!((s.status, s.bye_status), (200, 200), "{s}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_limit_answers_503_with_retry_after() {
    let mut cfg = common::config();
    cfg.sip.max_calls = 1;
    let server = common::start(cfg).await;
    let to = server.sip_addr();
    let first = tokio::spawn(caller::run_owned(CallOptions {
        target: format!("sip:echo@{to}"),
        wait: Duration::from_millis(200),
        hangup_after: Duration::from_millis(1500),
        ..CallOptions::default()
    }));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let resp = udp_exchange(&sock, to, request("INVITE", "echo", "z9hG4bKfull", "", SDP).as_bytes()).await;
    assert!(status_line(&resp).starts_with("SIP/2.0 503 "), "{resp:?}");
    assert!(resp.unwrap().contains("Retry-After: "));
    assert_eq!(first.await.unwrap().unwrap().bye_status, 200);
}
