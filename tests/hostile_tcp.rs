//! SIP over TCP against peers that hold connections without using them, through the
//! real server on loopback (127.0.0.2 and 127.0.0.3 stand for other hosts): keep-alive
//! bytes alone do not keep a connection, a message begun must end in time, one address
//! has a connection cap, and a peer that never reads is let go.

mod common;

use common::raw_tcp::{closed_while_sending, connect_from};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn options(n: u32, from: SocketAddr) -> String {
    format!(
        "OPTIONS sip:echo@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP {from};branch=z9hG4bKopt{n}\r\nFrom: <sip:t@{from}>;tag=a\r\n\
         To: <sip:echo@127.0.0.1>\r\nCall-ID: tcp-opt-{n}@test\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_bytes_alone_do_not_hold_a_connection_and_a_message_must_end_in_time() {
    let mut cfg = common::config();
    cfg.sip.tcp_idle_timeout_s = 1;
    cfg.sip.tcp_message_timeout_s = 1;
    let server = common::start(cfg).await;
    let to = server.sip_addr();
    // CRLF keep-alives every 200 ms: bytes, never a message.
    let mut s = connect_from("127.0.0.2", to, None).await;
    assert!(closed_while_sending(&mut s, b"\r\n", Duration::from_secs(8)).await, "CRLFs held the connection");
    // A message whose head never ends, one byte at a time.
    let mut s = connect_from("127.0.0.2", to, None).await;
    s.write_all(b"OPTIONS sip:echo@127.0.0.1 SIP/2.0\r\nX-Slow: ").await.unwrap();
    assert!(closed_while_sending(&mut s, b"a", Duration::from_secs(8)).await, "a never-ending message held it");
    // A complete message in time is answered on a fresh connection.
    let mut s = connect_from("127.0.0.3", to, None).await;
    s.write_all(options(1, s.local_addr().unwrap()).as_bytes()).await.unwrap();
    let mut buf = [0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200"), "{}", String::from_utf8_lossy(&buf[..n]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holds_at_most_its_connections_while_another_connects() {
    let mut cfg = common::config();
    cfg.sip.max_tcp_connections_per_source = 2;
    let server = common::start(cfg).await;
    let to = server.sip_addr();
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(connect_from("127.0.0.2", to, None).await);
    }
    let mut third = connect_from("127.0.0.2", to, None).await;
    let mut buf = [0u8; 64];
    let r = tokio::time::timeout(Duration::from_secs(3), third.read(&mut buf)).await.expect("closed at once");
    assert!(matches!(r, Ok(0) | Err(_)), "the third connection from one address is closed: {r:?}");
    let mut other = connect_from("127.0.0.3", to, None).await;
    other.write_all(options(2, other.local_addr().unwrap()).as_bytes()).await.unwrap();
    let mut buf = [0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(3), other.read(&mut buf)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200"));
    // The held connections still work.
    let me = held[0].local_addr().unwrap();
    held[0].write_all(options(3, me).as_bytes()).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(3), held[0].read(&mut buf)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_reads_its_answers_is_let_go() {
    let mut cfg = common::config();
    cfg.sip.tcp_write_timeout_s = 1;
    let server = common::start(cfg).await;
    // From the trusted local address (no rate limit), a small receive buffer, and never
    // a read: the server's answers back up until its write times out.
    let mut s = connect_from("127.0.0.1", server.sip_addr(), Some(4096)).await;
    let me = s.local_addr().unwrap();
    let mut closed = false;
    let end = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut n = 0;
    while tokio::time::Instant::now() < end {
        let batch: String = (0..50).map(|i| options(n + i, me)).collect();
        n += 50;
        match tokio::time::timeout(Duration::from_secs(2), s.write_all(batch.as_bytes())).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                closed = true;
                break;
            }
            // Our own writes block: the server stopped reading, having closed its side.
            Err(_) => break,
        }
    }
    if !closed {
        // Reading now finds what was queued, then the end of the connection.
        let mut buf = vec![0u8; 1 << 16];
        let end = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::time::Instant::now() < end {
            match tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed = true;
                    break;
                }
                Ok(Ok(_)) => {}
                Err(_) => break,
            }
        }
    }
    assert!(closed, "the server still holds a connection whose peer never reads ({n} requests sent)");
    // And it keeps serving.
    let mut other = connect_from("127.0.0.3", server.sip_addr(), None).await;
    other.write_all(options(999_999, other.local_addr().unwrap()).as_bytes()).await.unwrap();
    let mut buf = [0u8; 4096];
    let got = tokio::time::timeout(Duration::from_secs(3), other.read(&mut buf)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&buf[..got]).starts_with("SIP/2.0 200"));
}
