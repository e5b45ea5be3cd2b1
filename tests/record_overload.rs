//! The call records' writer under overload, through the real server on PostgreSQL:
//! the `calls` table is locked by another session (a database that stops taking call
//! records), a payment call is in progress, and a burst of calls arrives. Calls are
//! refused at the door (503 with Retry-After) once the records' queue has no room,
//! never answered and then lost; the payment completes meanwhile, because payments
//! have their own connections and never wait behind records; once the table is free
//! every answered call has a finished record and nothing was lost.

mod common;

use common::raw_sip::{ack, bye, header, invite};
use common::{Backend, TestDb};
use ivrpay::caller::{self, CallOptions, DtmfMode};
use ivrpay::payments::merchant::CaptureMode;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::UdpSocket;

const ACCEPTED: &str = "4100000000000100";

fn expiry() -> String {
    (chrono::Utc::now().date_naive() + chrono::Months::new(36)).format("%m%y").to_string()
}

/// Places one short call (INVITE, ACK, BYE) from loopback; its Call-ID if answered,
/// else the answer (which must be a 503 with Retry-After).
async fn short_call(server: std::net::SocketAddr) -> Result<String, String> {
    let media = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (caller, answer, _) = invite(server, "127.0.0.1", "echo", media.local_addr().unwrap()).await;
    if !answer.starts_with("SIP/2.0 200") {
        return Err(answer);
    }
    ack(&caller, "echo").await;
    bye(&caller, "echo").await;
    Ok(caller.call_id.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_are_refused_at_the_door_when_records_cannot_be_written_and_a_payment_completes() {
    common::init_tracing();
    let db = TestDb::new(Backend::Postgres).await;
    let mut cfg = common::config_on(&db);
    cfg.storage.record_queue = 16;
    let server = common::start(cfg).await;
    let store = server.ctx().store.clone();
    let m = common::fixtures::merchant(CaptureMode::AuthorCapture, 0, None);
    let (merchant, _) = store.create_merchant(&m).await.expect("merchant");
    let inv = common::fixtures::stored_invoice(&store, &merchant, "FAC-OVERLOAD-1", 4200).await;

    // Another session takes the calls table: record writes wait, reads go on.
    let mut lock = <sqlx::AnyConnection as sqlx::Connection>::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut lock).await.unwrap();
    sqlx::query("LOCK TABLE calls IN EXCLUSIVE MODE").execute(&mut lock).await.unwrap();

    let opts = CallOptions {
        target: format!("sip:pay@{}", server.sip_addr()),
        dtmf: format!("1{};1{ACCEPTED}#{}737;1", inv.payment_code, expiry()),
        mode: DtmfMode::Rfc4733,
        wait: Duration::from_millis(800),
        digit: Duration::from_millis(100),
        gap: Duration::from_millis(120),
        hangup_after: Duration::from_millis(1000),
        wait_for_bye: true,
        max_duration: Duration::from_secs(150),
        ..CallOptions::default()
    };
    let payment = tokio::spawn(async move { caller::run(&opts).await });
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (mut answered, mut refused) = (Vec::new(), 0);
    for _ in 0..40 {
        match short_call(server.sip_addr()).await {
            Ok(call_id) => answered.push(call_id),
            Err(answer) => {
                assert!(answer.starts_with("SIP/2.0 503 Service Unavailable (Overloaded)"), "{answer}");
                assert!(!header(&answer, "Retry-After:").is_empty(), "{answer}");
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "the records' queue filled and calls were refused at the door");
    assert!(!answered.is_empty() && answered.len() < 16, "some calls were answered first: {}", answered.len());

    // The payment completes with the calls table still locked.
    let summary = tokio::time::timeout(Duration::from_secs(120), payment).await.unwrap().unwrap().expect("paid");
    assert_eq!(summary.status, 200, "{summary}");
    let txs = store.invoice_transactions(&merchant.id, &inv.id).await.unwrap();
    assert_eq!(txs.len(), 1, "one authorization recorded while call records were stuck");
    assert_eq!(txs[0].response_code.as_deref(), Some("00"));

    sqlx::query("COMMIT").execute(&mut lock).await.unwrap();
    let mut all = answered.clone();
    all.push(summary.call_id.clone());
    for call_id in &all {
        let mut finished = false;
        for _ in 0..100 {
            let recs = store.calls_by_call_id(call_id).await.unwrap();
            if recs.len() == 1 && recs[0].ended_at.is_some() {
                finished = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(finished, "answered call {call_id} has one finished record");
    }
    let paid = store.calls_by_call_id(&summary.call_id).await.unwrap();
    assert_eq!(paid[0].outcome.as_deref(), Some("paid"));
    let stats = server.ctx().env.records.stats();
    assert_eq!(stats.lost.load(Ordering::Relaxed), 0, "no record lost");
    assert_eq!(stats.shed.load(Ordering::Relaxed), refused, "every refusal counted");
    server.shutdown(Duration::from_secs(2)).await;
    store.close().await;
    db.drop_pg().await;
}
