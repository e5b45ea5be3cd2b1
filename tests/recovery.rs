//! Recovery of payments whose outcome was not recorded, on SQLite and PostgreSQL: an
//! authorization whose invoice was cancelled meanwhile is reversed at the platform
//! (cancel while TO_CAPTURE; a TO_VALIDATE one is left to expire), in the live flow and
//! in recovery; a payment whose outcome cannot be learned is reversed; an unreachable
//! platform leaves it PENDING with one history row saying so, until it can be asked.
//! Every decision is a history row.

mod common;

use common::fixtures;
use ivrpay::config::Config;
use ivrpay::payments::authorize::{self, PaymentOutcome};
use ivrpay::payments::card::Brand;
use ivrpay::payments::card::{CardNumber, Expiry, SecurityCode};
use ivrpay::payments::gateway::{AuthorizationRequest, Gateway, Lookup, Simulator};
use ivrpay::payments::invoice::Invoice;
use ivrpay::payments::invoice::InvoiceStatus;
use ivrpay::payments::merchant::{CaptureMode, Merchant};
use ivrpay::payments::money::Currency;
use ivrpay::payments::recovery;
use ivrpay::payments::sips::{SipsConfig, SipsConnector};
use ivrpay::payments::sips_sim::{self, SimServer};
use ivrpay::payments::transaction::{NewPending, Pending};
use ivrpay::store::Store;
use std::time::Duration;

const NOW: Duration = Duration::ZERO;

on_both_backends!(a_payment_whose_outcome_cannot_be_learned_is_reversed, a_stored_value_no_enum_names_is_a_named_error);

/// Records a payment PENDING and, if `send`, has the platform authorize it: the state a
/// crash between sending and recording leaves.
async fn in_flight(store: &Store, gw: &Gateway, m: &Merchant, inv: &Invoice, send: bool) -> String {
    let reference = authorize::new_transaction_reference(chrono::Utc::now().date_naive());
    let p = NewPending {
        reference: reference.clone(),
        merchant_id: m.id.clone(),
        invoice_id: inv.id.clone(),
        idempotency_key: format!("k-{reference}"),
        amount: inv.amount,
        currency: Currency::Eur,
        masked_pan: "410000######0100".into(),
        brand: Brand::Visa,
        expiry_month: "203012".into(),
        order_channel: "MOTO".into(),
        capture_mode: m.capture_mode,
        capture_day: m.capture_day as i64,
        caller: None,
        call_id: None,
    };
    assert_eq!(store.record_pending(&p).await.unwrap(), Pending::Recorded);
    if send {
        let card = CardNumber::parse(fixtures::ACCEPTED_CARD).unwrap();
        let csc = SecurityCode::parse("737", card.brand().unwrap()).unwrap();
        let req = AuthorizationRequest {
            transaction_reference: &reference,
            amount: inv.amount,
            currency: Currency::Eur,
            card: &card,
            expiry: Expiry::parse_mmyy("1230").unwrap(),
            csc: &csc,
            capture_mode: m.capture_mode,
            capture_day: m.capture_day,
            order_channel: "MOTO",
        };
        assert!(gw.authorize(&req).await.unwrap().accepted());
    }
    reference
}

async fn trail(store: &Store, reference: &str) -> Vec<(String, String, String)> {
    let h = store.history(reference).await.unwrap();
    h.into_iter().map(|e| (e.to_status.to_string(), e.actor, e.detail)).collect()
}

/// Recovery's result with each status as its Sips word, as the assertions read it.
async fn recover_pending(
    store: &Store,
    gw: &Gateway,
    min_age: Duration,
) -> Result<Vec<(String, String)>, ivrpay::payments::ledger::LedgerError> {
    let done = recovery::recover_pending(store, gw, min_age).await?;
    Ok(done.into_iter().map(|(reference, status)| (reference, status.to_string())).collect())
}

fn platform_status(sim: &Simulator, reference: &str) -> String {
    match sim.lookup_now(reference).unwrap() {
        Lookup::Found(d) => d.status,
        Lookup::Unknown => "unknown".into(),
    }
}

async fn cancelled_invoices_are_not_paid(store: &Store, backend: &str) {
    let sim = Simulator::new(Duration::from_millis(2), Duration::from_millis(50));
    let gw = Gateway::Simulator(sim.clone());

    // Recovery: authorized at the platform, the invoice cancelled before it was recorded.
    let (m, _) = store.create_merchant(&fixtures::merchant(CaptureMode::AuthorCapture, 0, None)).await.unwrap();
    let inv = fixtures::stored_invoice(store, &m, "R-1", 4200).await;
    let r = in_flight(store, &gw, &m, &inv, true).await;
    assert_eq!(store.cancel_invoice(&m.id, &inv.id).await.unwrap().unwrap().status, InvoiceStatus::Cancelled);
    let done = recover_pending(store, &gw, NOW).await.unwrap();
    assert_eq!(done, vec![(r.clone(), "CANCELLED".to_string())], "{backend}");
    assert_eq!(platform_status(&sim, &r), "CANCELLED", "{backend}: reversed at the platform");
    let t = store.transaction(&r).await.unwrap().unwrap();
    assert_eq!((t.current_amount, t.response_code.as_deref()), (0, Some("00")));
    let h = trail(store, &r).await;
    let steps: Vec<(&str, &str)> = h.iter().map(|(s, a, _)| (s.as_str(), a.as_str())).collect();
    assert_eq!(steps, [("PENDING", "ivr"), ("TO_CAPTURE", "recovery"), ("CANCELLED", "recovery")], "{backend}");
    assert!(h[1].2.contains("CANCELLED and cannot be paid"), "{h:?}");
    assert!(h[2].2.contains("reversed at the platform: cancel of 4200"), "{h:?}");
    assert_eq!(store.invoice(&m.id, &inv.id).await.unwrap().unwrap().status, InvoiceStatus::Cancelled);

    // The live flow: the merchant cancels the invoice while the bank is answering.
    let slow = Simulator::new(Duration::from_millis(1500), Duration::from_millis(50));
    let slow_gw = Gateway::Simulator(slow.clone());
    let inv = fixtures::stored_invoice(store, &m, "R-2", 1500).await;
    let paying = {
        let (store, gw, m, inv) = (store.clone(), slow_gw.clone(), m.clone(), inv.clone());
        tokio::spawn(async move { fixtures::pay(&store, &gw, &m, &inv, fixtures::ACCEPTED_CARD, "k-live").await })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.transaction_by_key("k-live").await.unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "{backend}: the payment was never recorded");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(store.cancel_invoice(&m.id, &inv.id).await.unwrap().unwrap().status, InvoiceStatus::Cancelled);
    let PaymentOutcome::Refused(t) = paying.await.unwrap().unwrap() else { panic!("{backend}: not paid") };
    assert_eq!((t.status.as_str(), t.current_amount), ("CANCELLED", 0), "{backend}");
    assert_eq!(platform_status(&slow, &t.reference), "CANCELLED");
    assert_eq!(trail(store, &t.reference).await.last().unwrap().1, "ivr");

    // VALIDATION mode: nothing to cancel (Sips table); left unvalidated to expire.
    let (v, _) = store.create_merchant(&fixtures::merchant(CaptureMode::Validation, 3, None)).await.unwrap();
    let inv = fixtures::stored_invoice(store, &v, "R-3", 900).await;
    let r = in_flight(store, &gw, &v, &inv, true).await;
    store.cancel_invoice(&v.id, &inv.id).await.unwrap();
    assert_eq!(recover_pending(store, &gw, NOW).await.unwrap(), vec![(r.clone(), "TO_VALIDATE".to_string())]);
    assert_eq!(platform_status(&sim, &r), "TO_VALIDATE");
    let h = trail(store, &r).await;
    assert!(h.last().unwrap().2.contains("expires unvalidated"), "{h:?}");
    assert_eq!(store.invoice(&v.id, &inv.id).await.unwrap().unwrap().status, InvoiceStatus::Cancelled);
}

async fn an_unreachable_platform_is_asked_again(store: &Store, backend: &str) {
    let sim = Simulator::new(Duration::from_millis(2), Duration::from_millis(50));
    let gw = Gateway::Simulator(sim.clone());
    let (m, _) = store.create_merchant(&fixtures::merchant(CaptureMode::AuthorCapture, 0, None)).await.unwrap();
    let inv = fixtures::stored_invoice(store, &m, "U-1", 777).await;
    let r = in_flight(store, &gw, &m, &inv, true).await;
    sim.set_down(true);
    for _ in 0..3 {
        assert_eq!(recover_pending(store, &gw, NOW).await.unwrap(), vec![(r.clone(), "PENDING".to_string())]);
    }
    let h = trail(store, &r).await;
    assert_eq!(h.len(), 2, "{backend}: the decision is written once, not at every round: {h:?}");
    assert!(h[1].2.contains("will ask again") && h[1].0 == "PENDING", "{h:?}");
    assert_eq!(store.invoice(&m.id, &inv.id).await.unwrap().unwrap().status, InvoiceStatus::Payable);
    sim.set_down(false);
    assert_eq!(recover_pending(store, &gw, NOW).await.unwrap(), vec![(r.clone(), "TO_CAPTURE".to_string())]);
    assert_eq!(store.invoice(&m.id, &inv.id).await.unwrap().unwrap().status, InvoiceStatus::Paid);
    assert_eq!(sim.calls(), 1, "never sent twice");
}

/// The platform authorizes after the client's time-out: the live flow leaves the
/// payment PENDING (its invoice held), and recovery after the grace period records the
/// authorization and pays the invoice; one authorization at the platform.
async fn a_late_authorization_is_not_taken_for_nothing(store: &Store, backend: &str) {
    use ivrpay::payments::simulator_rules::{LATE_CHARGE_AFTER, LATE_CHARGE_CARD};
    let platform_clock = std::sync::Arc::new(ivrpay::payments::clock::ShiftedClock::new());
    let (_, sim) = fixtures::simulator();
    let sim = sim.with_clock(platform_clock.clone());
    let gw = Gateway::Simulator(sim.clone());
    let (m, _) = store.create_merchant(&fixtures::merchant(CaptureMode::AuthorCapture, 0, None)).await.unwrap();
    let inv = fixtures::stored_invoice(store, &m, "L-1", 5100).await;
    let got = fixtures::pay(store, &gw, &m, &inv, LATE_CHARGE_CARD, "k-late").await.unwrap();
    let PaymentOutcome::Unresolved(t) = got else { panic!("{backend}: {got:?}") };
    assert_eq!(t.status, "PENDING", "{backend}");
    assert_eq!(platform_status(&sim, &t.reference), "unknown", "the platform is still processing it");
    // The invoice is held: nobody pays it twice meanwhile.
    let other = fixtures::pay(store, &gw, &m, &inv, fixtures::ACCEPTED_CARD, "k-late-2").await;
    assert!(matches!(other, Err(authorize::PayError::PaymentInProgress)), "{backend}: {other:?}");
    assert_eq!(store.invoice(&m.id, &inv.id).await.unwrap().unwrap().status, InvoiceStatus::Payable);
    // Within the grace period recovery leaves it alone.
    assert!(recover_pending(store, &gw, Duration::from_secs(3600)).await.unwrap().is_empty(), "{backend}");
    // The platform finishes it; recovery records it and the invoice is paid.
    platform_clock.advance(LATE_CHARGE_AFTER + Duration::from_secs(1));
    let done = recover_pending(store, &gw, NOW).await.unwrap();
    assert_eq!(done, vec![(t.reference.clone(), "TO_CAPTURE".to_string())], "{backend}");
    assert_eq!(store.invoice(&m.id, &inv.id).await.unwrap().unwrap().status, InvoiceStatus::Paid, "{backend}");
    assert_eq!(sim.calls(), 1, "{backend}: one authorization at the platform");
    let steps: Vec<(String, String)> = trail(store, &t.reference).await.into_iter().map(|(s, a, _)| (s, a)).collect();
    let want = [("PENDING", "ivr"), ("PENDING", "ivr"), ("TO_CAPTURE", "recovery")];
    assert_eq!(steps, want.map(|(s, a)| (s.to_string(), a.to_string())), "{backend}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_reverses_what_cannot_be_the_invoices_payment_on_sqlite_and_postgres() {
    for db in common::TestDb::all().await {
        let store = Store::open(&db.url).await.unwrap();
        cancelled_invoices_are_not_paid(&store, db.name).await;
        an_unreachable_platform_is_asked_again(&store, db.name).await;
        a_late_authorization_is_not_taken_for_nothing(&store, db.name).await;
        store.close().await;
        db.drop_pg().await;
    }
}

/// The Sips wire simulator with its diagnostic broken (503): the outcome of a payment
/// cannot be learned, but cash management still answers.
async fn platform_without_diagnostic() -> (Gateway, Simulator) {
    use axum::http::StatusCode;
    let simulator = Simulator::new(Duration::from_millis(2), Duration::from_secs(5));
    let state = SimServer { simulator: simulator.clone(), secret: "k".into(), answer_secret: "k".into() };
    let app = axum::Router::new()
        .route(
            "/rs-services/v2/diagnostic/getTransactionData",
            axum::routing::post(|| async { StatusCode::SERVICE_UNAVAILABLE }),
        )
        .fallback_service(sips_sim::router(state));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let mut cfg = SipsConfig::new(&url, "011223344550000", "k");
    cfg.timeout = Duration::from_secs(5);
    (Gateway::Sips(SipsConnector::new(cfg)), simulator)
}

async fn a_payment_whose_outcome_cannot_be_learned_is_reversed(config: Config) {
    let (gw, sim) = platform_without_diagnostic().await;
    let store = Store::open(&config.storage.database).await.unwrap();
    let (m, _) = store.create_merchant(&fixtures::merchant(CaptureMode::AuthorCapture, 0, None)).await.unwrap();
    // Charged: the cancel finds it and reverses it.
    let inv = fixtures::stored_invoice(&store, &m, "X-1", 3000).await;
    let charged = in_flight(&store, &gw, &m, &inv, true).await;
    // Never sent: the cancel answers 25, nothing was charged.
    let inv2 = fixtures::stored_invoice(&store, &m, "X-2", 3000).await;
    let lost = in_flight(&store, &gw, &m, &inv2, false).await;
    let mut done = recover_pending(&store, &gw, NOW).await.unwrap();
    done.sort();
    let mut want = vec![(charged.clone(), "CANCELLED".to_string()), (lost.clone(), "REFUSED".to_string())];
    want.sort();
    assert_eq!(done, want);
    assert_eq!(platform_status(&sim, &charged), "CANCELLED");
    let h = trail(&store, &charged).await;
    assert!(h[1].2.contains("outcome cannot be learned") && h[2].2.contains("reversed"), "{h:?}");
    let t = store.transaction(&lost).await.unwrap().unwrap();
    assert_eq!(t.response_code.as_deref(), Some("97"));
    assert!(trail(&store, &lost).await[1].2.contains("answered 25"));
    for i in [&inv, &inv2] {
        assert_eq!(store.invoice(&m.id, &i.id).await.unwrap().unwrap().status, InvoiceStatus::Payable);
    }
    store.close().await;
}

/// A row whose currency, brand or capture mode no variant names (a newer schema, a hand edit) is
/// refused by name when read, never taken for a default, and recovery stops on it
/// instead of guessing; a status outside the enum cannot even be written (CHECK).
async fn a_stored_value_no_enum_names_is_a_named_error(config: Config) {
    let store = Store::open(&config.storage.database).await.unwrap();
    let sim = Simulator::new(Duration::from_millis(2), Duration::from_millis(50));
    let gw = Gateway::Simulator(sim);
    let (m, _) = store.create_merchant(&fixtures::merchant(CaptureMode::AuthorCapture, 0, None)).await.unwrap();
    let inv = fixtures::stored_invoice(&store, &m, "C-1", 1000).await;
    let r = in_flight(&store, &gw, &m, &inv, false).await;
    let set_status = sqlx::query("UPDATE transactions SET status = 'WAITING_AUTHOR' WHERE reference = $1");
    assert!(set_status.bind(&r).execute(store.pool()).await.is_err(), "the schema keeps statuses to the enum's");
    for (column, bad) in [("currency", "XAU"), ("brand", "UNIONPAY"), ("capture_mode", "LATER")] {
        let good = sqlx::query(&format!("SELECT {column} FROM transactions WHERE reference = $1"))
            .bind(&r)
            .fetch_one(store.pool())
            .await
            .unwrap();
        let good: String = sqlx::Row::try_get(&good, 0).unwrap();
        let set = format!("UPDATE transactions SET {column} = $1 WHERE reference = $2");
        sqlx::query(&set).bind(bad).bind(&r).execute(store.pool()).await.unwrap();
        match store.transaction(&r).await {
            Err(ivrpay::store::StoreError::Corrupt { column: c, value }) => {
                assert_eq!((c, value.as_str()), (format!("transactions.{column}").as_str(), bad))
            }
            other => panic!("{column}: {other:?}"),
        }
        if column == "currency" {
            assert!(recovery::recover_pending(&store, &gw, NOW).await.is_err(), "recovery does not guess a currency");
        }
        sqlx::query(&set).bind(good).bind(&r).execute(store.pool()).await.unwrap();
    }
    assert_eq!(store.transaction(&r).await.unwrap().unwrap().status, "PENDING");
}
