//! Notifications sent by the running server (`Server::start`, as `ivrpay serve` runs
//! it): a merchant paid by a real phone call gets its signed notice at a live HTTP
//! endpoint while another merchant's endpoint hangs without answering and a third's is
//! down (retried with back-off, its delivery log showing attempts and the error);
//! "send again" through the API delivers a notice once more. Invoices paid, cancelled
//! and expired are notified too. On SQLite and PostgreSQL; and two servers sharing one
//! PostgreSQL database deliver each notice once.

mod common;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{fixtures, openapi};
use ivrpay::caller::{self, CallOptions, DtmfMode, EndedBy};
use ivrpay::config::Config;
use ivrpay::payments::merchant::{CaptureMode, Merchant};
use ivrpay::payments::notify::{self, NOTIFICATION_ID_HEADER, SIGNATURE_HEADER};
use ivrpay::server::Server;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

on_both_backends!(
    a_phone_payment_is_notified_while_other_merchants_hang_or_are_down,
    invoices_cancelled_or_expired_are_notified
);

const ACCEPTED: &str = "4100000000000100";

/// (signature header, notification id header, body) of each request received.
type Received = Arc<Mutex<Vec<(String, String, String)>>>;

/// A merchant endpoint answering 200 to every notice.
async fn live_endpoint() -> (String, Received) {
    let got: Received = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| async move {
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            g.lock().unwrap().push((header(SIGNATURE_HEADER), header(NOTIFICATION_ID_HEADER), body));
            StatusCode::OK
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, got)
}

/// An endpoint that accepts connections and never answers; counts them.
async fn hanging_endpoint() -> (String, Arc<AtomicUsize>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let a = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
            held.push(s);
        }
    });
    (url, accepted)
}

/// A URL nobody listens on.
fn dead_url() -> String {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/hook", closed.local_addr().unwrap())
}

async fn merchant(server: &Server, name: &str, url: &str) -> (Merchant, String) {
    let mut m = fixtures::merchant(CaptureMode::AuthorCapture, 0, Some(url));
    m.name = name.into();
    let (m, key) = server.ctx().store.create_merchant(&m).await.expect("merchant");
    (m, key.secret)
}

/// Waits up to `secs` seconds for `cond`.
async fn until<F: AsyncFnMut() -> bool>(secs: u64, what: &str, mut cond: F) {
    for _ in 0..secs * 10 {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("after {secs} s: {what}");
}

/// A merchant's transactions through the API.
async fn transactions(server: &Server, key: &str) -> Vec<serde_json::Value> {
    let (status, list) = common::http(server.http_addr(), "GET", "/api/v1/transactions", Some(key), None).await;
    assert_eq!(status, 200, "{list}");
    list["items"].as_array().cloned().unwrap_or_default()
}

/// The delivery log of a transaction through the API, checked against the OpenAPI.
async fn log(server: &Server, key: &str, reference: &str) -> Vec<serde_json::Value> {
    let path = format!("/transactions/{reference}/notifications");
    let (status, v) =
        openapi::call(server.http_addr(), "GET", "/transactions/{reference}/notifications", &path, Some(key), None)
            .await;
    assert_eq!(status, 200, "{v}");
    v["items"].as_array().cloned().unwrap()
}

/// Pays an invoice of merchant `key` by phone; returns the transaction reference.
async fn pay_by_phone(server: &Server, key: &str) -> String {
    let due = (chrono::Utc::now().date_naive() + chrono::Months::new(12)).format("%Y-%m-%d");
    let body = format!(
        r#"{{"reference":"FAC-N-1","amount":12345,"currency":"EUR","due_date":"{due}","customer_name":"Jeanne Martin"}}"#
    );
    let (status, inv) = common::http(server.http_addr(), "POST", "/api/v1/invoices", Some(key), Some(&body)).await;
    assert_eq!(status, 201, "{inv}");
    let code = inv["payment_code"].as_str().unwrap();
    let expiry = (chrono::Utc::now().date_naive() + chrono::Months::new(36)).format("%m%y");
    let opts = CallOptions {
        target: format!("sip:pay@{}", server.sip_addr()),
        dtmf: format!("1{code};1{ACCEPTED}#{expiry}737;1"),
        mode: DtmfMode::Rfc4733,
        wait: Duration::from_millis(800),
        digit: Duration::from_millis(100),
        gap: Duration::from_millis(120),
        hangup_after: Duration::from_millis(1000),
        wait_for_bye: true,
        max_duration: Duration::from_secs(150),
        ..CallOptions::default()
    };
    let summary = caller::run(&opts).await.expect("call completes");
    assert_eq!((summary.status, summary.ended_by), (200, EndedBy::Server), "{summary}");
    let txs = transactions(server, key).await;
    assert_eq!(txs.len(), 1, "{txs:?}");
    assert_eq!(txs[0]["status"], "TO_CAPTURE");
    txs[0]["reference"].as_str().unwrap().to_string()
}

async fn a_phone_payment_is_notified_while_other_merchants_hang_or_are_down(mut config: Config) {
    common::init_tracing();
    config.payments.notify_interval_ms = 200;
    // Longer than the whole test: the hanging merchant's first POST never ends in it.
    config.payments.notify_timeout_ms = 600_000;
    let server = common::start(config).await;
    let store = server.ctx().store.clone();
    let (hang_url, hang_accepted) = hanging_endpoint().await;
    let (hanging, hanging_key) = merchant(&server, "Toujours Occupé", &hang_url).await;
    let (down, down_key) = merchant(&server, "Hors Ligne", &dead_url()).await;
    let (live_url, got) = live_endpoint().await;
    let (live, live_key) = merchant(&server, "Plomberie Dupont", &live_url).await;

    // The hanging merchant is paid first: its notice is sent and never answered.
    let (gw, _) = fixtures::simulator();
    let inv = fixtures::stored_invoice(&store, &hanging, "H-1", 4200).await;
    fixtures::pay(&store, &gw, &hanging, &inv, ACCEPTED, "H-1").await.unwrap();
    until(10, "the hanging endpoint is called", async || hang_accepted.load(Ordering::SeqCst) >= 1).await;
    let inv = fixtures::stored_invoice(&store, &down, "D-1", 4200).await;
    fixtures::pay(&store, &gw, &down, &inv, ACCEPTED, "D-1").await.unwrap();

    // The live merchant is paid by phone and told, signed, of the payment and of its
    // invoice being paid, while the first merchant's endpoint hangs.
    let reference = pay_by_phone(&server, &live_key).await;
    until(10, "the live merchant is notified", async || got.lock().unwrap().len() >= 2).await;
    let secret = store.notification_secret(&live.id).await.unwrap().unwrap();
    let received = got.lock().unwrap().clone();
    let mut events = Vec::new();
    for (sig, id, body) in &received {
        assert!(notify::verify(&secret, sig, body, chrono::Utc::now().timestamp()), "signed: {sig}");
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["id"].as_str(), Some(id.as_str()));
        assert!(!body.contains(ACCEPTED), "never the card number");
        events.push(v);
    }
    let created = events.iter().find(|v| v["event"] == "transaction.created").expect("transaction.created");
    assert_eq!(created["transaction"]["reference"].as_str(), Some(reference.as_str()));
    assert_eq!(created["transaction"]["status"], "TO_CAPTURE");
    assert_eq!(created["transaction"]["masked_pan"], "410000######0100");
    assert_eq!(created["transaction"]["amount"], 12345);
    let paid = events.iter().find(|v| v["event"] == "invoice.paid").expect("invoice.paid");
    assert_eq!(paid["invoice"]["reference"], "FAC-N-1");
    assert_eq!(paid["invoice"]["status"], "PAID");
    assert_eq!(paid["invoice"]["transaction_reference"].as_str(), Some(reference.as_str()));
    let (id, body) = (created["id"].as_str().unwrap().to_string(), serde_json::to_string(created).unwrap());
    let entries = log(&server, &live_key, &reference).await;
    assert_eq!(entries.len(), 2, "the payment's and the invoice's: {entries:?}");
    assert!(entries.iter().all(|e| e["state"] == "delivered" && e["attempts"] == 1), "{entries:?}");

    // The dead endpoint is retried with back-off (5 s after the first attempt).
    let down_ref = transactions(&server, &down_key).await[0]["reference"].as_str().unwrap().to_string();
    until(20, "the dead endpoint is tried twice", async || {
        log(&server, &down_key, &down_ref).await[0]["attempts"].as_i64() >= Some(2)
    })
    .await;
    let d = &log(&server, &down_key, &down_ref).await[0];
    assert_eq!(d["state"], "retrying", "{d}");
    assert!(d["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{d}");
    assert!(d["next_attempt_at"].is_string(), "{d}");
    // All that time the hanging merchant's one POST is still open, and held back no one.
    let hanging_ref = transactions(&server, &hanging_key).await[0]["reference"].as_str().unwrap().to_string();
    let h = &log(&server, &hanging_key, &hanging_ref).await[0];
    assert_eq!((h["state"].as_str(), h["attempts"].as_i64()), (Some("queued"), Some(0)), "{h}");
    assert_eq!(hang_accepted.load(Ordering::SeqCst), 1, "its notice is claimed while it is being sent");

    // "Send again" delivers the live merchant's notice once more, same id and body.
    let path = format!("/transactions/{reference}/notifications/{id}/send-again");
    let template = "/transactions/{reference}/notifications/{id}/send-again";
    let (status, again) = openapi::call(server.http_addr(), "POST", template, &path, Some(&live_key), None).await;
    assert_eq!(status, 202, "{again}");
    until(10, "sent again", async || got.lock().unwrap().len() >= 3).await;
    let (_, id2, body2) = got.lock().unwrap()[2].clone();
    assert_eq!(id2, id);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body2).unwrap(),
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    );
    until(5, "recorded as delivered again", async || {
        let e = log(&server, &live_key, &reference).await;
        e.iter().any(|e| e["id"] == id.as_str() && e["state"] == "delivered" && e["attempts"] == 2)
    })
    .await;
    // Another merchant's notice, or an unknown one, is not found.
    let other = format!("/transactions/{down_ref}/notifications/{id}/send-again");
    let (status, _) = openapi::call(server.http_addr(), "POST", template, &other, Some(&down_key), None).await;
    assert_eq!(status, 404);
    let (status, _) = openapi::call(
        server.http_addr(),
        "GET",
        "/transactions/{reference}/notifications",
        &format!("/transactions/{reference}/notifications"),
        Some(&down_key),
        None,
    )
    .await;
    assert_eq!(status, 404, "another merchant's transaction");
    server.shutdown(Duration::from_secs(2)).await;
}

/// An invoice's delivery log through the API, checked against the OpenAPI.
async fn invoice_log(server: &Server, key: &str, id: &str) -> Vec<serde_json::Value> {
    let path = format!("/invoices/{id}/notifications");
    let (status, v) =
        openapi::call(server.http_addr(), "GET", "/invoices/{id}/notifications", &path, Some(key), None).await;
    assert_eq!(status, 200, "{v}");
    v["items"].as_array().cloned().unwrap()
}

/// Creates an invoice through the API; returns its id.
async fn api_invoice(server: &Server, key: &str, reference: &str) -> String {
    let due = (chrono::Utc::now().date_naive() + chrono::Months::new(12)).format("%Y-%m-%d");
    let body = format!(
        r#"{{"reference":"{reference}","amount":500,"currency":"EUR","due_date":"{due}","customer_name":"Jeanne Martin"}}"#
    );
    let (status, inv) = common::http(server.http_addr(), "POST", "/api/v1/invoices", Some(key), Some(&body)).await;
    assert_eq!(status, 201, "{inv}");
    inv["id"].as_str().unwrap().to_string()
}

async fn invoices_cancelled_or_expired_are_notified(mut config: Config) {
    common::init_tracing();
    config.payments.notify_interval_ms = 200;
    config.payments.capture_interval_s = 1;
    let server = common::start(config).await;
    let (url, got) = live_endpoint().await;
    let (m, key) = merchant(&server, "Plomberie Dupont", &url).await;
    let secret = server.ctx().store.notification_secret(&m.id).await.unwrap().unwrap();
    let cancelled = api_invoice(&server, &key, "C-1").await;
    let expiring = api_invoice(&server, &key, "E-1").await;
    let (status, v) =
        common::http(server.http_addr(), "POST", &format!("/api/v1/invoices/{cancelled}/cancel"), Some(&key), None)
            .await;
    assert_eq!(status, 200, "{v}");
    // The invoice reaches its last day: the server's periodic run expires it.
    sqlx::query("UPDATE invoices SET expires_at = $1 WHERE id = $2")
        .bind(server.ctx().store.now_ms() - 1)
        .bind(&expiring)
        .execute(server.ctx().store.pool())
        .await
        .unwrap();
    until(15, "both invoices notified", async || got.lock().unwrap().len() >= 2).await;
    let received = got.lock().unwrap().clone();
    let mut by_event = std::collections::HashMap::new();
    for (sig, _, body) in &received {
        assert!(notify::verify(&secret, sig, body, chrono::Utc::now().timestamp()), "signed");
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        by_event.insert(v["event"].as_str().unwrap().to_string(), v);
    }
    let c = &by_event["invoice.cancelled"];
    assert_eq!(
        (c["invoice"]["id"].as_str(), c["invoice"]["status"].as_str()),
        (Some(cancelled.as_str()), Some("CANCELLED"))
    );
    assert_eq!((c["invoice"]["reference"].as_str(), c["invoice"]["amount"].as_i64()), (Some("C-1"), Some(500)));
    assert!(c["invoice"]["transaction_reference"].is_null());
    let e = &by_event["invoice.expired"];
    assert_eq!(
        (e["invoice"]["id"].as_str(), e["invoice"]["status"].as_str()),
        (Some(expiring.as_str()), Some("EXPIRED"))
    );
    // Each invoice's log shows its notice delivered; one is sent again.
    until(5, "recorded as delivered", async || {
        let l = invoice_log(&server, &key, &cancelled).await;
        l.len() == 1 && l[0]["state"] == "delivered" && l[0]["event"] == "invoice.cancelled"
    })
    .await;
    let notice = invoice_log(&server, &key, &cancelled).await[0]["id"].as_str().unwrap().to_string();
    let template = "/invoices/{id}/notifications/{notice}/send-again";
    let path = format!("/invoices/{cancelled}/notifications/{notice}/send-again");
    let (status, v) = openapi::call(server.http_addr(), "POST", template, &path, Some(&key), None).await;
    assert_eq!(status, 202, "{v}");
    until(10, "sent again", async || got.lock().unwrap().len() >= 3).await;
    assert_eq!(got.lock().unwrap()[2].1, notice);
    // Not through another invoice.
    let path = format!("/invoices/{expiring}/notifications/{notice}/send-again");
    assert_eq!(openapi::call(server.http_addr(), "POST", template, &path, Some(&key), None).await.0, 404);
    server.shutdown(Duration::from_secs(2)).await;
}

/// Two running servers on one PostgreSQL database, both delivering: every notice of
/// payments taken on either reaches the merchant once (the leases keep the other node
/// off a notice being sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_database_deliver_each_notice_once() {
    common::on_backend(common::Backend::Postgres, two_servers_deliver).await;
}

async fn two_servers_deliver(mut config: Config) {
    common::init_tracing();
    config.payments.notify_interval_ms = 50;
    let mut other = common::config();
    other.storage.database = config.storage.database.clone();
    other.payments.notify_interval_ms = 50;
    let a = common::start(config).await;
    let b = common::start(other).await;
    let (url, got) = live_endpoint().await;
    let (m, _) = merchant(&a, "Plomberie Dupont", &url).await;
    let (gw, _) = fixtures::simulator();
    const PAYMENTS: usize = 10;
    for i in 0..PAYMENTS {
        // Alternately on each node's store: they are one database.
        let store = if i % 2 == 0 { &a.ctx().store } else { &b.ctx().store };
        let inv = fixtures::stored_invoice(store, &m, &format!("T-{i}"), 4200).await;
        fixtures::pay(store, &gw, &m, &inv, ACCEPTED, &format!("T-{i}")).await.unwrap();
    }
    // Each payment is told twice: the transaction's notice and the invoice's.
    let notices = 2 * PAYMENTS;
    until(20, "every notice delivered", async || a.ctx().store.undelivered_notifications().await.unwrap() == 0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ids: Vec<String> = got.lock().unwrap().iter().map(|(_, id, _)| id.clone()).collect();
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!((ids.len(), distinct.len()), (notices, notices), "each once: {ids:?}");
    a.shutdown(Duration::from_secs(2)).await;
    b.shutdown(Duration::from_secs(2)).await;
}
