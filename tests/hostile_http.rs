//! The extranet's port against clients that hold connections, through the real server
//! on loopback (127.0.0.2 and 127.0.0.3 stand for other hosts): a request head trickled
//! in (slowloris) or a connection left idle is closed at the head deadline, one address
//! holds at most its connections, and others are served meanwhile.

mod common;

use common::raw_tcp::{closed_while_sending, connect_from};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get_login(from: &str, to: SocketAddr) -> String {
    let mut s = connect_from(from, to, None).await;
    s.write_all(b"GET /login HTTP/1.1\r\nHost: ivrpay\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).lines().next().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_head_and_an_idle_connection_are_closed_while_others_are_served() {
    let mut cfg = common::config();
    cfg.http.header_timeout_s = 1;
    let server = common::start(cfg).await;
    let to = server.http_addr();
    let mut slow = connect_from("127.0.0.2", to, None).await;
    slow.write_all(b"GET /login HTTP/1.1\r\nHost: ivrpay\r\nX-Slow: ").await.unwrap();
    let served = get_login("127.0.0.3", to).await;
    assert_eq!(served, "HTTP/1.1 200 OK", "served while the slow client trickles");
    assert!(closed_while_sending(&mut slow, b"a", Duration::from_secs(8)).await, "slowloris held its connection");
    let mut idle = connect_from("127.0.0.2", to, None).await;
    let mut buf = [0u8; 64];
    let r = tokio::time::timeout(Duration::from_secs(8), idle.read(&mut buf)).await;
    assert!(matches!(r, Ok(Ok(_)) | Ok(Err(_))), "an idle connection is closed: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holds_at_most_its_connections() {
    let mut cfg = common::config();
    cfg.http.max_connections_per_source = 3;
    let server = common::start(cfg).await;
    let to = server.http_addr();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from("127.0.0.2", to, None).await);
    }
    let mut extra = connect_from("127.0.0.2", to, None).await;
    let mut buf = [0u8; 64];
    let r = tokio::time::timeout(Duration::from_secs(3), extra.read(&mut buf)).await.expect("closed at once");
    assert!(matches!(r, Ok(0) | Err(_)), "the fourth connection from one address is closed: {r:?}");
    assert_eq!(get_login("127.0.0.3", to).await, "HTTP/1.1 200 OK", "another address is served");
    drop(held);
    // Places come back when connections close.
    let mut again = String::new();
    for _ in 0..50 {
        again = get_login("127.0.0.2", to).await;
        if again == "HTTP/1.1 200 OK" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(again, "HTTP/1.1 200 OK");
}
