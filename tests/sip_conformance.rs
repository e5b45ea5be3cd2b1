//! SIP parsing conformance through the real server on loopback, in the categories of
//! RFC 4475 (valid tortuous messages, invalid ones, transaction layer, application layer,
//! RFC 2543 compatibility), with messages written here: each is sent over real UDP (a
//! few over TCP) and its status, or its silence, checked; the server then still
//! answers OPTIONS and completes a call. The same cases, virtually, are unit tests in
//! crates/ivrpay-proto/src/sip/conformance_tests.rs and conformance_layers_tests.rs.

mod common;

use common::raw_sip::{ack, bye, invite};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

const SDP: &str = "v=0\r\no=- 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 9 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";

/// A request with the five mandatory headers; `{me}` in it is replaced by the sender.
fn request(method: &str, uri: &str, id: &str, extra: &str, body: &str) -> String {
    let ct = if body.is_empty() { "" } else { "Content-Type: application/sdp\r\n" };
    format!(
        "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/{{proto}} {{me}};branch=z9hG4bK{id}\r\n\
         From: \"Tester\" <sip:tester@{{me}}>;tag=t{id}\r\nTo: <{uri}>\r\nCall-ID: {id}@conformance\r\n\
         CSeq: 1 {method}\r\nMax-Forwards: 70\r\n{extra}{ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn tortuous_invite() -> String {
    format!(
        "INVITE sip:echo@127.0.0.1;transport=udp SIP/2.0\r\nTO :\r\n <sip:echo@127.0.0.1>\r\n\
         fRoM   :  \"Caller \\\"The Tester\\\" \" <sip:tester@{{me}}>\r\n\t;tag=88sja8x\r\n\
         mAx-fOrWaRdS: 0068\r\nCall-ID: tortuous.1@conformance\r\ncseq: 0009\r\n  INVITE\r\n\
         Via  : SIP  /   2.0\r\n /  {{proto}}\r\n    {{me}};branch=z9hG4bKtortuous1;rport\r\n\
         X-Odd-Header:  !#$%&'*+-.^_`|~ \"quoted; with , inside\"\r\n\
         Reply-To: <nobodyknows:opaque-content>\r\nm: <sip:tester@{{me}}>\r\nc: application/sdp\r\n\
         l: {}\r\n\r\n{SDP}",
        SDP.len()
    )
}

fn rfc2543_invite() -> String {
    format!(
        "INVITE sip:echo@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{{proto}} {{me}}\r\nFrom: sip:tester@{{me}}\r\n\
         To: sip:echo@127.0.0.1\r\nCall-ID: rfc2543.1@conformance\r\nCSeq: 1 INVITE\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
}

/// (RFC 4475 category and case, message, expected status; 0 for silence).
fn cases() -> Vec<(&'static str, String, u16)> {
    let opt = |id: &str, extra: &str| request("OPTIONS", "sip:echo@127.0.0.1", id, extra, "");
    let inv = |id: &str, extra: &str| request("INVITE", "sip:echo@127.0.0.1", id, extra, SDP);
    let bad_response = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {me};;branch=\r\nFrom: <sip:a@h>;tag=1\r\n\
                        To: <sip:b@h>;tag=2\r\nCall-ID: resp@conformance\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
    vec![
        ("3.1.1 tortuous INVITE", tortuous_invite(), 200),
        ("3.1.1 escaped user", request("INVITE", "sip:%65cho@127.0.0.1", "esc1", "", SDP), 200),
        ("3.1.1 unknown method", request("NEWMETHOD", "sip:echo@127.0.0.1", "new1", "", ""), 501),
        ("3.1.1 long header", opt("long1", &format!("X-Long: {}\r\n", "x".repeat(3000))), 200),
        ("3.1.1 lower-case version", opt("lc1", "").replacen("SIP/2.0", "sip/2.0", 1), 200),
        ("3.1.2 CSeq method mismatch", inv("mm1", "").replace("CSeq: 1 INVITE", "CSeq: 1 OPTIONS"), 400),
        ("3.1.2 two Call-IDs", inv("dup1", "Call-ID: other@conformance\r\n"), 400),
        ("3.1.2 two Max-Forwards", opt("dup2", "Max-Forwards: 69\r\n"), 400),
        ("3.1.2 SIP/7.0", opt("ver1", "").replacen("SIP/2.0", "SIP/7.0", 1), 505),
        ("3.1.2 doubled space", opt("sp1", "").replacen("OPTIONS ", "OPTIONS  ", 1), 400),
        ("3.1.2 NUL in a header", opt("nul1", "X-Junk: a\0b\r\n"), 400),
        ("3.1.2 unterminated quote", opt("q1", "").replace("To: <", "To: \"Echo <"), 400),
        (
            "3.1.2 Via with empty parameters",
            opt("via1", "").replace(";branch=z9hG4bKvia1", ";;branch=z9hG4bKvia1"),
            400,
        ),
        ("3.1.2 Via with empty branch", opt("via2", "").replace(";branch=z9hG4bKvia2", ";branch="), 400),
        (
            "3.1.2 body shorter than Content-Length",
            opt("cl1", "").replace("Content-Length: 0", "Content-Length: 50"),
            400,
        ),
        ("3.2 ACK outside any call", request("ACK", "sip:echo@127.0.0.1", "ack1", "", ""), 0),
        (
            "3.2 malformed ACK",
            request("ACK", "sip:echo@127.0.0.1", "ack2", "", "").replace("CSeq: 1 ACK", "CSeq: 1 INVITE"),
            0,
        ),
        ("3.2 response with a malformed Via", bad_response.to_string(), 0),
        ("3.2 CANCEL for no transaction", request("CANCEL", "sip:echo@127.0.0.1", "can1", "", ""), 481),
        ("3.3 tel URI", request("INVITE", "tel:+33123456789", "tel1", "", SDP), 416),
        ("3.3 unknown scheme", request("OPTIONS", "nobodyknows:opaque", "unk1", "", ""), 416),
        ("3.3 OPTIONS to an unknown number", request("OPTIONS", "sip:4711@127.0.0.1", "num1", "", ""), 404),
        ("3.3 OPTIONS with an unknown Require", opt("req1", "Require: nothingyouknow\r\n"), 420),
        ("3.3 INVITE with an unknown Require", inv("req2", "Require: nothingyouknow\r\n"), 420),
        ("3.3 OPTIONS to an escaped service", request("OPTIONS", "sip:%65cho@127.0.0.1", "esc2", "", ""), 200),
        ("3.3 unknown Content-Type", inv("ct1", "").replace("application/sdp", "application/nobodyknows"), 415),
        ("3.4 RFC 2543 INVITE", rfc2543_invite(), 200),
        ("3.4 OPTIONS without a branch", opt("old1", "").replace(";branch=z9hG4bKold1", ""), 200),
    ]
}

/// The first final answer on `sock` within `wait` (provisional ones skipped).
async fn final_on(sock: &UdpSocket, wait: Duration) -> Option<String> {
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, _) = timeout(wait, sock.recv_from(&mut buf)).await.ok()?.ok()?;
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !text.starts_with("SIP/2.0 1") {
            return Some(text);
        }
    }
}

fn status(answer: &Option<String>) -> u16 {
    answer.as_deref().and_then(|a| a.get(8..11)).and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.lines().find_map(|l| l.strip_prefix(name)).unwrap_or("").trim()
}

/// Confirms and ends a call a case started, so it holds no place.
async fn hang_up(sock: &UdpSocket, server: SocketAddr, answer: &str) {
    let me = sock.local_addr().unwrap();
    let (from, to, call_id) = (header(answer, "From:"), header(answer, "To:"), header(answer, "Call-ID:"));
    for (method, n) in [("ACK", 9), ("BYE", 10)] {
        let msg = format!(
            "{method} sip:echo@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{method}{n}x\r\n\
             From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {n} {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        sock.send_to(msg.as_bytes(), server).await.unwrap();
    }
}

async fn over_udp(server: SocketAddr, raw: &str, expected: u16) -> (u16, Option<String>) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = sock.local_addr().unwrap().to_string();
    let raw = raw.replace("{me}", &me).replace("{proto}", "UDP");
    sock.send_to(raw.as_bytes(), server).await.unwrap();
    // A silence is waited for briefly; an answer comes in milliseconds.
    let wait = if expected == 0 { Duration::from_millis(600) } else { Duration::from_secs(3) };
    let answer = final_on(&sock, wait).await;
    if let (Some(a), true) = (&answer, raw.starts_with("INVITE") && status(&answer) == 200) {
        hang_up(&sock, server, a).await;
    }
    (status(&answer), answer)
}

async fn over_tcp(server: SocketAddr, raw: &str) -> u16 {
    let mut s = TcpStream::connect(server).await.unwrap();
    let me = s.local_addr().unwrap().to_string();
    s.write_all(raw.replace("{me}", &me).replace("{proto}", "TCP").as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 8192];
    let n = timeout(Duration::from_secs(3), s.read(&mut buf)).await.ok().and_then(|r| r.ok()).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).get(8..11).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rfc4475_category_is_answered_as_rfc3261_says_and_the_server_keeps_serving() {
    let server = common::start(common::config()).await;
    let to = server.sip_addr();
    let mut wrong = Vec::new();
    for (label, raw, expected) in cases() {
        let (got, answer) = over_udp(to, &raw, expected).await;
        if got != expected {
            wrong.push(format!("UDP {label}: expected {expected}, got {got}: {answer:?}"));
        }
    }
    let tcp_cases = [
        (
            "3.1.2 SIP/7.0",
            request("OPTIONS", "sip:echo@127.0.0.1", "tv1", "", "").replacen("SIP/2.0", "SIP/7.0", 1),
            505,
        ),
        (
            "3.1.2 CSeq method mismatch",
            request("OPTIONS", "sip:echo@127.0.0.1", "tm1", "", "").replace("CSeq: 1 OPTIONS", "CSeq: 1 BYE"),
            400,
        ),
        ("3.3 tel URI", request("OPTIONS", "tel:+33123456789", "tt1", "", ""), 416),
        (
            "3.1.1 tortuous OPTIONS",
            tortuous_invite().replace("INVITE", "OPTIONS").replace("tortuous.1", "tortuous.2"),
            200,
        ),
    ];
    for (label, raw, expected) in tcp_cases {
        let got = over_tcp(to, &raw).await;
        if got != expected {
            wrong.push(format!("TCP {label}: expected {expected}, got {got}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Still serving: an OPTIONS, then a whole call.
    let (got, answer) = over_udp(to, &request("OPTIONS", "sip:echo@127.0.0.1", "after1", "", ""), 200).await;
    assert_eq!(got, 200, "{answer:?}");
    let media = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (caller, answer, _) = invite(to, "127.0.0.1", "echo", media.local_addr().unwrap()).await;
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    ack(&caller, "echo").await;
    bye(&caller, "echo").await;
}
