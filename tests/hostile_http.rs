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

/// Sends a request head announcing `length` bytes of body and none of them; the
/// status line of the answer, if one comes within 5 s.
async fn head_only(to: SocketAddr, path: &str, length: usize) -> String {
    let mut s = connect_from("127.0.0.2", to, None).await;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: ivrpay\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
        Ok(Ok(n)) => String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or("").to_string(),
        _ => String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_refused_before_they_are_read_unless_the_route_and_the_session_allow_them() {
    let server = common::start(common::config()).await;
    let to = server.http_addr();
    // No session: sent to sign in at once, the 10 MiB never read.
    assert_eq!(head_only(to, "/invoices/new", 10 << 20).await, "HTTP/1.1 303 See Other");
    // Sign-in without its pre-sign-in cookie: refused at once.
    assert_eq!(head_only(to, "/login", 10 << 20).await, "HTTP/1.1 403 Forbidden");
    // A JSON body over the API's small limit (64 KiB), with a valid key: a JSON 413.
    let m = common::fixtures::merchant(ivrpay::payments::merchant::CaptureMode::AuthorCapture, 0, None);
    let (_, key) = server.ctx().store.create_merchant(&m).await.unwrap();
    let big = format!("{{\"reference\":\"{}\"}}", "x".repeat(1 << 20));
    let (status, answer) = common::http(to, "POST", "/api/v1/invoices", Some(&key.secret), Some(&big)).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (413, Some("too_large")), "{answer}");
    // The import route takes a file of that size from the same key (refused as CSV
    // once read, not for its size).
    let body = format!("reference,amount,due_date,customer_name\n{}", "x".repeat(1 << 20));
    let (status, answer) = common::http(to, "POST", "/api/v1/invoices/import", Some(&key.secret), Some(&body)).await;
    assert_ne!(status, 413, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_import_is_capped_in_rows_and_a_large_one_is_stored_whole_across_its_chunks() {
    let server = common::start(common::config()).await;
    let to = server.http_addr();
    let m = common::fixtures::merchant(ivrpay::payments::merchant::CaptureMode::AuthorCapture, 0, None);
    let (_, key) = server.ctx().store.create_merchant(&m).await.unwrap();
    let file = |rows: usize| {
        let mut f = String::from("reference,amount,currency,due_date,customer_name\n");
        for i in 0..rows {
            f.push_str(&format!("L-{i},{}.00,EUR,2030-01-31,Client {i}\n", 1 + i % 90));
        }
        f
    };
    let import = "/api/v1/invoices/import";
    // One row over the cap: refused whole, the file named with the line it reached.
    let (status, answer) = common::http(to, "POST", import, Some(&key.secret), Some(&file(10_001))).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("invalid_rows")), "{answer}");
    let row = &answer["error"]["rows"][0];
    assert_eq!((row["field"].as_str(), row["line"].as_i64()), (Some("file"), Some(10_002)), "{answer}");
    assert!(row["reason"].as_str().unwrap().contains("10000 rows"), "{answer}");
    let (_, list) = common::http(to, "GET", "/api/v1/invoices?limit=5", Some(&key.secret), None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "nothing stored: {list}");
    // 1,201 rows: more than two chunks of 500, every row stored once.
    let (status, answer) = common::http(to, "POST", import, Some(&key.secret), Some(&file(1_201))).await;
    assert_eq!((status, answer["imported"].as_i64()), (200, Some(1_201)), "{}", answer["error"]);
    let codes: std::collections::HashSet<&str> =
        answer["invoices"].as_array().unwrap().iter().map(|i| i["payment_code"].as_str().unwrap()).collect();
    assert_eq!(codes.len(), 1_201, "a code each");
    let (_, again) = common::http(to, "POST", import, Some(&key.secret), Some(&file(1_201))).await;
    assert_eq!((again["imported"].as_i64(), again["existing"].as_i64()), (Some(0), Some(1_201)));
}
