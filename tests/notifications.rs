//! Merchant notifications: signed with the merchant's secret (checked with the
//! documented recipe), retried with back-off until acknowledged, and kept across a
//! restart because they are written with the status change itself; on SQLite and
//! PostgreSQL (a fresh database for each run), and delivered once by two nodes sharing
//! one PostgreSQL database.

mod common;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::fixtures;
use ivrpay::config::Config;
use ivrpay::payments::authorize::PaymentOutcome;
use ivrpay::payments::merchant::{CaptureMode, Merchant};
use ivrpay::payments::notify::{self, NOTIFICATION_ID_HEADER, SIGNATURE_HEADER};
use ivrpay::store::notification_log::Subject;
use ivrpay::store::Store;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

on_both_backends!(
    notices_are_signed_and_retried_until_acknowledged,
    a_notice_survives_a_restart,
    a_version_7_outbox_is_kept_by_the_upgrade
);

type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A merchant endpoint that fails its first `fail_first` requests with 500.
async fn receiver(fail_first: u32) -> (String, Received) {
    slow_receiver(fail_first, Duration::ZERO).await.0
}

/// The same, taking `delay` to answer each request, and also keeping the
/// `Ivrpay-Notification-Id` header of each.
async fn slow_receiver(fail_first: u32, delay: Duration) -> ((String, Received), Arc<Mutex<Vec<String>>>) {
    let got: Received = Arc::default();
    let ids: Arc<Mutex<Vec<String>>> = Arc::default();
    let count = Arc::new(AtomicU32::new(0));
    let (g, c, i) = (got.clone(), count.clone(), ids.clone());
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| async move {
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let sig = header(SIGNATURE_HEADER);
            i.lock().unwrap().push(header(NOTIFICATION_ID_HEADER));
            g.lock().unwrap().push((sig, body));
            tokio::time::sleep(delay).await;
            if c.fetch_add(1, Ordering::SeqCst) < fail_first {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    ((url, got), ids)
}

async fn pay_one(store: &Store, m: &Merchant, reference: &str) {
    let inv = fixtures::stored_invoice(store, m, reference, 4200).await;
    let (gw, _) = fixtures::simulator();
    let outcome = fixtures::pay(store, &gw, m, &inv, fixtures::ACCEPTED_CARD, reference).await.unwrap();
    assert!(matches!(outcome, PaymentOutcome::Accepted(_)));
}

fn merchant(url: &str) -> ivrpay::payments::merchant::NewMerchant {
    fixtures::merchant(CaptureMode::AuthorCapture, 0, Some(url))
}

async fn notices_are_signed_and_retried_until_acknowledged(config: Config) {
    let store = Store::open(&config.storage.database).await.unwrap();
    let (url, got) = receiver(1).await;
    let (m, _) = store.create_merchant(&merchant(&url)).await.unwrap();
    pay_one(&store, &m, "N-1").await;
    assert_eq!(store.undelivered_notifications().await.unwrap(), 2, "the payment's and the invoice's");

    let t0 = store.now_ms();
    assert_eq!(
        notify::deliver_due(&store, t0, Duration::from_secs(5)).await.unwrap(),
        (1, 1),
        "the first POST answered 500, the next one 200"
    );
    assert_eq!(
        notify::deliver_due(&store, t0 + 1_000, Duration::from_secs(5)).await.unwrap(),
        (0, 0),
        "back-off: not yet"
    );
    assert_eq!(notify::deliver_due(&store, t0 + 6_000, Duration::from_secs(5)).await.unwrap(), (1, 0), "the retry");
    assert_eq!(store.undelivered_notifications().await.unwrap(), 0);
    assert_eq!(
        notify::deliver_due(&store, t0 + 60_000, Duration::from_secs(5)).await.unwrap(),
        (0, 0),
        "delivered once"
    );

    let secret = store.notification_secret(&m.id).await.unwrap().unwrap();
    let received = got.lock().unwrap().clone();
    assert_eq!(received.len(), 3);
    let (sig, body) = &received[2];
    assert!(notify::verify(&secret, sig, body, (t0 + 6_000) / 1000), "the merchant's recipe accepts it");
    assert_eq!(received[0].1, received[2].1, "a retry sends the same notice, same id");
    let bodies: Vec<serde_json::Value> = received.iter().map(|(_, b)| serde_json::from_str(b).unwrap()).collect();
    let v = bodies.iter().find(|v| v["event"] == "transaction.created").expect("the payment's notice");
    assert_eq!(v["transaction"]["status"], "TO_CAPTURE");
    let paid = bodies.iter().find(|v| v["event"] == "invoice.paid").expect("the invoice's notice");
    assert_eq!(
        (paid["invoice"]["status"].as_str(), paid["invoice"]["reference"].as_str()),
        (Some("PAID"), Some("N-1"))
    );
    assert_eq!(paid["invoice"]["transaction_reference"], v["transaction"]["reference"]);
    assert_eq!(v["transaction"]["masked_pan"], "410000######0100");
    assert!(v["id"].as_str().is_some_and(|id| id.starts_with("ntf")), "{v}");
    assert!(received.iter().all(|(_, b)| !b.contains("4100000000000100")), "never the card number");
    store.close().await;
}

async fn a_notice_survives_a_restart(config: Config) {
    let url_db = config.storage.database;
    // The merchant's endpoint is down when the payment happens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let store = Store::open(&url_db).await.unwrap();
    let (m, _) = store.create_merchant(&merchant(&dead_url)).await.unwrap();
    pay_one(&store, &m, "R-1").await;
    assert_eq!(notify::deliver_due(&store, store.now_ms(), Duration::from_secs(2)).await.unwrap(), (0, 2));
    store.close().await;

    // "Restart": a new process opens the same database; the endpoint is back.
    let (url, got) = receiver(0).await;
    let store = Store::open(&url_db).await.unwrap();
    sqlx::query("UPDATE merchants SET notification_url = $1, id = id WHERE id = $2")
        .bind(&url)
        .bind(&m.id)
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE notifications SET url = $1").bind(&url).execute(store.pool()).await.unwrap();
    assert_eq!(notify::deliver_due(&store, store.now_ms() + 10_000, Duration::from_secs(5)).await.unwrap(), (2, 0));
    assert_eq!(got.lock().unwrap().len(), 2);
    store.close().await;
}

/// Two nodes deliver from one PostgreSQL database at the same time: every notice reaches
/// the merchant once, with its id in the header and the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_never_send_the_same_notice() {
    // Its own PostgreSQL database, dropped also when an assertion fails.
    common::on_backend(common::Backend::Postgres, two_nodes_share_one_database).await;
}

async fn two_nodes_share_one_database(config: Config) {
    let pg = config.storage.database;
    let ((url, got), ids) = slow_receiver(0, Duration::from_millis(20)).await;
    let node_a = Store::open(&pg).await.unwrap();
    let node_b = Store::open(&pg).await.unwrap();
    let (m, _) = node_a.create_merchant(&merchant(&url)).await.unwrap();
    const N: usize = 12;
    // Each payment is told twice: the transaction's notice and the invoice's.
    const NOTICES: usize = 2 * N;
    for i in 0..N {
        pay_one(&node_a, &m, &format!("P-{i}")).await;
    }
    assert_eq!(node_a.undelivered_notifications().await.unwrap(), NOTICES as i64);
    let deliver = |store: Store| async move {
        let mut delivered = 0;
        for _ in 0..200 {
            if store.undelivered_notifications().await.unwrap() == 0 {
                break;
            }
            delivered += notify::deliver_due(&store, store.now_ms(), Duration::from_secs(5)).await.unwrap().0;
        }
        delivered
    };
    let (a, b) = tokio::join!(tokio::spawn(deliver(node_a.clone())), tokio::spawn(deliver(node_b.clone())));
    assert_eq!(a.unwrap() + b.unwrap(), NOTICES as u32, "each delivered by one node");
    let received = got.lock().unwrap().clone();
    let ids = ids.lock().unwrap().clone();
    assert_eq!(received.len(), NOTICES, "the merchant got each notice once");
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), NOTICES, "{ids:?}");
    for ((_, body), id) in received.iter().zip(&ids) {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["id"].as_str(), Some(id.as_str()), "the header names the body's notice");
    }
    node_a.close().await;
    node_b.close().await;
}

/// A database of schema version 7 (notices about transactions only, the event in the
/// body) is upgraded with its undelivered notices whole: each gets its event and its
/// invoice, and is still delivered.
async fn a_version_7_outbox_is_kept_by_the_upgrade(config: Config) {
    let url_db = config.storage.database;
    let (url, got) = receiver(0).await;
    let store = Store::open(&url_db).await.unwrap();
    let (m, _) = store.create_merchant(&merchant(&url)).await.unwrap();
    let inv = fixtures::stored_invoice(&store, &m, "U-1", 4200).await;
    let (gw, _) = fixtures::simulator();
    let t = match fixtures::pay(&store, &gw, &m, &inv, fixtures::ACCEPTED_CARD, "U-1").await.unwrap() {
        PaymentOutcome::Accepted(t) => t,
        other => panic!("{other:?}"),
    };
    // Back to version 7: the table as migration 3 made it, with the payment's notice.
    let body: String = sqlx::query_scalar("SELECT payload FROM notifications WHERE event = 'transaction.created'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"].as_str().unwrap().to_string();
    sqlx::raw_sql("DROP TABLE notifications").execute(store.pool()).await.unwrap();
    sqlx::raw_sql(include_str!("../migrations/0003_notifications.sql")).execute(store.pool()).await.unwrap();
    sqlx::query("INSERT INTO notifications (id, merchant_id, transaction_reference, url, payload, attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 0, 0, 0)")
        .bind(&id)
        .bind(&m.id)
        .bind(&t.reference)
        .bind(&url)
        .bind(&body)
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM schema_migrations WHERE version = 8").execute(store.pool()).await.unwrap();
    store.close().await;

    let store = Store::open(&url_db).await.unwrap();
    let log = store.notification_log(&m.id, Subject::Invoice(&inv.id)).await.unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!((log[0].id.as_str(), log[0].event.as_str()), (id.as_str(), "transaction.created"));
    assert_eq!(store.notification_log(&m.id, Subject::Transaction(&t.reference)).await.unwrap(), log);
    assert_eq!(notify::deliver_due(&store, store.now_ms(), Duration::from_secs(5)).await.unwrap(), (1, 0));
    assert_eq!(got.lock().unwrap()[0].1, body, "the same body");
    store.close().await;
}
