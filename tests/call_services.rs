//! The call driver knows its lookups and authorizations only through `CallServices`:
//! here a real server answers a real call from `ivrpay call` with services the test
//! plugs in. They wrap the server's own (the store and the simulator do the work) and
//! hold the authorization until the caller has hung up, the race a slow platform makes
//! in production: the payment must still be recorded once, on the call record as well.

mod common;

use common::http;
use ivrpay::call::services::{CallServices, Origin, PaymentServices, ServiceFuture};
use ivrpay::caller::{self, CallOptions, DtmfMode, EndedBy};
use ivrpay::ivr::app::{AuthorizeOrder, AuthorizeResult, LookupResult};
use ivrpay::payments::gateway::{Gateway, Simulator};
use ivrpay::payments::merchant::CaptureMode;
use ivrpay::server::{Server, StartWith};
use ivrpay::store::Store;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// The server's own services, with every authorization held until the test releases it.
struct HeldAuthorizations {
    inner: PaymentServices,
    release: Arc<Semaphore>,
    lookups: AtomicUsize,
    started: Arc<Mutex<Vec<(String, String)>>>,
}

impl CallServices for HeldAuthorizations {
    fn lookup(&self, code: String) -> ServiceFuture<LookupResult> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.lookup(code)
    }

    fn authorize(&self, order: Box<AuthorizeOrder>, origin: Origin) -> ServiceFuture<AuthorizeResult> {
        self.started.lock().unwrap().push((order.card.masked(), origin.caller.clone()));
        let (release, paid) = (self.release.clone(), self.inner.authorize(order, origin));
        Box::pin(async move {
            let _go = release.acquire().await;
            paid.await
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_hanging_up_during_a_held_authorization_is_still_charged_once_and_recorded() {
    common::init_tracing();
    let cfg = common::config();
    // The services share the server's database file through a pool of their own.
    let store = Store::open(&cfg.storage.database).await.unwrap();
    let gateway = Gateway::Simulator(Simulator::new(Duration::from_millis(50), Duration::from_secs(5)));
    let services = Arc::new(HeldAuthorizations {
        inner: PaymentServices::new(store.clone(), gateway, "MOTO"),
        release: Arc::new(Semaphore::new(0)),
        lookups: AtomicUsize::new(0),
        started: Arc::default(),
    });
    let server = Server::start_with(cfg, StartWith { services: Some(services.clone()), ..StartWith::default() })
        .await
        .expect("server starts");
    let (_, key) =
        store.create_merchant(&common::fixtures::merchant(CaptureMode::AuthorCapture, 0, None)).await.unwrap();
    let due = (chrono::Utc::now().date_naive() + chrono::Months::new(12)).format("%Y-%m-%d");
    let body = format!(
        r#"{{"reference":"FAC-HELD-1","amount":4200,"currency":"EUR","due_date":"{due}","customer_name":"Jeanne Martin"}}"#
    );
    let (status, inv) = http(server.http_addr(), "POST", "/api/v1/invoices", Some(&key.secret), Some(&body)).await;
    assert_eq!(status, 201, "{inv}");
    let (id, code) = (inv["id"].as_str().unwrap().to_string(), inv["payment_code"].as_str().unwrap().to_string());

    let expiry = (chrono::Utc::now().date_naive() + chrono::Months::new(36)).format("%m%y");
    let opts = CallOptions {
        target: format!("sip:pay@{}", server.sip_addr()),
        dtmf: format!("1{code};14100000000000100#{expiry}737;1"),
        mode: DtmfMode::Rfc4733,
        wait: Duration::from_millis(800),
        digit: Duration::from_millis(100),
        gap: Duration::from_millis(120),
        hangup_after: Duration::from_millis(1500),
        max_duration: Duration::from_secs(120),
        ..CallOptions::default()
    };
    let summary = caller::run(&opts).await.expect("call completes");
    assert_eq!(summary.ended_by, EndedBy::Caller, "{summary}");
    assert_eq!(services.lookups.load(Ordering::SeqCst), 1, "one code, one lookup");
    assert_eq!(
        *services.started.lock().unwrap(),
        [("410000######0100".to_string(), "ivrpay-caller".to_string())],
        "the authorization began before the hang-up, masked card and caller given"
    );
    // Hung up, the authorization still held: the invoice is not paid yet and the call is
    // not recorded as ended (its outcome waits for the payment's).
    let calls = server.ctx().store.calls_by_call_id(&summary.call_id).await.unwrap();
    assert!(calls.iter().all(|c| c.outcome.is_none()), "{calls:?}");
    services.release.add_permits(1);
    let rec = common::completed_calls(&server.ctx().store, 1).await.remove(0);
    assert_eq!(rec.call_id, summary.call_id);
    assert_eq!(rec.outcome.as_deref(), Some("paid"), "the payment's result reaches the record");
    assert_eq!(rec.end_reason.as_deref(), Some("caller_bye"));
    let (_, list) = http(server.http_addr(), "GET", "/api/v1/transactions", Some(&key.secret), None).await;
    let txs = list["items"].as_array().unwrap();
    assert_eq!(txs.len(), 1, "charged once: {txs:?}");
    assert_eq!(txs[0]["status"], "TO_CAPTURE");
    assert_eq!(rec.transaction_reference.as_deref(), txs[0]["reference"].as_str());
    let (_, inv) = http(server.http_addr(), "GET", &format!("/api/v1/invoices/{id}"), Some(&key.secret), None).await;
    assert_eq!(inv["status"], "PAID");
    server.shutdown(Duration::from_secs(2)).await;
}
