//! The Sips Office JSON connector against the simulator served over HTTP in the same
//! wire format: sealed requests, sealed answers checked, every special card, the
//! lookup of a lost answer, and a payment taken end to end through it.

mod common;

use ivrpay::payments::card::{CardNumber, Expiry, SecurityCode};
use ivrpay::payments::clock::{Clock, ShiftedClock, SystemClock};
use ivrpay::payments::gateway::{AuthorizationRequest, Gateway, GatewayError, Lookup, Simulator};
use ivrpay::payments::money::Currency;
use ivrpay::payments::simulator_rules::{
    BAD_GATEWAY_AFTER_CHARGE_CARD, DROP_AFTER_CHARGE_CARD, LOST_AFTER_CHARGE_CARD, NO_ANSWER_CARD, UNAVAILABLE_CARD,
};
use ivrpay::payments::sips::{SipsConfig, SipsConnector};
use ivrpay::payments::sips_sim::{self, SimServer};
use std::sync::Arc;
use std::time::Duration;

async fn sim(secret: &str, answer_secret: &str) -> (String, Simulator) {
    sim_on(secret, answer_secret, Arc::new(SystemClock)).await
}

/// The wire simulator keeping the platform's time by `clock`.
async fn sim_on(secret: &str, answer_secret: &str, clock: Arc<dyn Clock>) -> (String, Simulator) {
    let simulator = Simulator::new(Duration::from_millis(5), Duration::from_secs(30)).with_clock(clock);
    let state = SimServer { simulator: simulator.clone(), secret: secret.into(), answer_secret: answer_secret.into() };
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, sips_sim::router(state)).await.unwrap() });
    (url, simulator)
}

fn connector(url: &str, secret: &str) -> SipsConnector {
    let mut cfg = SipsConfig::new(url, "011223344550000", secret);
    cfg.timeout = Duration::from_millis(700);
    SipsConnector::new(cfg)
}

async fn authorize(
    c: &SipsConnector,
    pan: &str,
    reference: &str,
) -> Result<ivrpay::payments::gateway::AuthorizationResponse, GatewayError> {
    let card = CardNumber::parse(pan).unwrap();
    let csc = SecurityCode::parse("123", card.brand().unwrap()).unwrap();
    let req = AuthorizationRequest {
        transaction_reference: reference,
        amount: 2500,
        currency: Currency::Eur,
        card: &card,
        expiry: Expiry::parse_mmyy("1230").unwrap(),
        csc: &csc,
        capture_mode: ivrpay::payments::merchant::CaptureMode::AuthorCapture,
        capture_day: 0,
        order_channel: "MOTO",
    };
    c.authorize(&req).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_speaks_sealed_sips_json() {
    let (url, _) = sim("secret123", "secret123").await;
    let c = connector(&url, "secret123");
    let ok = authorize(&c, "4100000000000100", "REF1").await.unwrap();
    assert_eq!((ok.response_code.as_str(), ok.guarantee_indicator.as_str(), ok.brand.as_str()), ("00", "N", "VISA"));
    assert_eq!(ok.authorisation_id.as_deref().map(str::len), Some(6));
    assert_eq!(authorize(&c, "4100000000000605", "REF2").await.unwrap().response_code, "05");
    assert_eq!(authorize(&c, UNAVAILABLE_CARD, "REF3").await, Err(GatewayError::Unavailable));
    // Charged, answer lost: the lookup finds it. No answer at all: unknown.
    assert_eq!(authorize(&c, LOST_AFTER_CHARGE_CARD, "REF4").await, Err(GatewayError::Timeout));
    assert!(matches!(c.lookup("REF4").await.unwrap(), Lookup::Found(d) if d.authorized() && d.answer.accepted()));
    assert_eq!(authorize(&c, NO_ANSWER_CARD, "REF5").await, Err(GatewayError::Timeout));
    assert_eq!(c.lookup("REF5").await.unwrap(), Lookup::Unknown);
    // A platform nobody listens on is unavailable.
    let gone = connector("http://127.0.0.1:9", "secret123");
    assert_eq!(authorize(&gone, "4100000000000100", "REF6").await, Err(GatewayError::Unavailable));
}

/// Failures after the request left are unknown outcomes, never "nothing charged".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_sending_is_not_unavailable() {
    let platform_clock = Arc::new(ShiftedClock::new());
    let (url, simulator) = sim_on("k", "k", platform_clock.clone()).await;
    let c = connector(&url, "k");
    for (card, reference) in [(DROP_AFTER_CHARGE_CARD, "BRK1"), (BAD_GATEWAY_AFTER_CHARGE_CARD, "BRK2")] {
        let got = authorize(&c, card, reference).await;
        assert!(matches!(got, Err(GatewayError::AnswerLost(_))), "{reference}: {got:?}");
        assert!(matches!(c.lookup(reference).await.unwrap(), Lookup::Found(d) if d.authorized()), "charged");
    }
    assert_eq!(simulator.calls(), 2);
    // A server that reads the whole request, then closes without a word.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mute = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = vec![0u8; 65536];
            let _ = s.read(&mut buf).await;
        }
    });
    let got = authorize(&connector(&mute, "k"), "4100000000000100", "BRK3").await;
    assert!(matches!(got, Err(GatewayError::AnswerLost(_))), "{got:?}");
}

/// Charged, then the connection dropped or a 502: the payment ends charged once and
/// recorded once, its invoice paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_whose_answer_broke_is_recorded_exactly_once() {
    use common::fixtures;
    use ivrpay::payments::authorize::PaymentOutcome;
    use ivrpay::payments::invoice::InvoiceStatus;
    use ivrpay::payments::merchant::CaptureMode;
    let (url, simulator) = sim("k", "k").await;
    let gw = Gateway::Sips(connector(&url, "k"));
    for db in common::TestDb::all().await {
        let store = ivrpay::store::Store::open(&db.url).await.unwrap();
        let (m, _) = store.create_merchant(&fixtures::merchant(CaptureMode::AuthorCapture, 0, None)).await.unwrap();
        for (i, card) in [DROP_AFTER_CHARGE_CARD, BAD_GATEWAY_AFTER_CHARGE_CARD].into_iter().enumerate() {
            let inv = fixtures::stored_invoice(&store, &m, &format!("BRK-{i}"), 2500).await;
            let calls = simulator.calls();
            let key = format!("brk-{}-{i}", db.name);
            let got = fixtures::pay(&store, &gw, &m, &inv, card, &key).await.unwrap();
            let PaymentOutcome::Accepted(t) = got else { panic!("{}: {card}: {got:?}", db.name) };
            assert_eq!((t.status.as_str(), t.current_amount), ("TO_CAPTURE", 2500), "{}", db.name);
            assert_eq!(store.invoice(&m.id, &inv.id).await.unwrap().unwrap().status, InvoiceStatus::Paid);
            let h = store.history(&t.reference).await.unwrap();
            assert!(h[1].detail.contains("getTransactionData"), "{h:?}");
            assert_eq!(h.len(), 2, "{}: recorded once: {h:?}", db.name);
            // The same attempt again: its first outcome, nothing sent.
            let again = fixtures::pay(&store, &gw, &m, &inv, card, &key).await.unwrap();
            assert!(matches!(again, PaymentOutcome::Accepted(a) if a.reference == t.reference));
            assert_eq!(simulator.calls(), calls + 1, "{}: charged once", db.name);
            assert!(
                matches!(simulator.lookup_now(&t.reference).unwrap(), Lookup::Found(d) if d.status == "TO_CAPTURE")
            );
        }
        store.close().await;
        db.drop_pg().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seals_are_checked_both_ways() {
    // Answers sealed with another key are refused.
    let (url, _) = sim("secret123", "not-the-key").await;
    assert_eq!(authorize(&connector(&url, "secret123"), "4100000000000100", "B1").await, Err(GatewayError::BadSeal));
    // A request sealed with the wrong key gets responseCode 34 (and no charge).
    let (url, simulator) = sim("secret123", "secret123").await;
    let body = r#"{"merchantId":"011223344550000","transactionReference":"X","amount":1,"cardNumber":"4100000000000100","seal":"00"}"#;
    let (status, bytes) = ivrpay::payments::http::post(
        &format!("{url}/rs-services/v2/checkout/cardOrder"),
        &[],
        body.as_bytes(),
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!((status, v["responseCode"].as_str()), (200, Some("34")));
    assert_eq!(simulator.calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_resolved_through_the_connector() {
    use chrono::NaiveDate;
    use ivrpay::payments::authorize::{self, PaymentOutcome, PaymentRequest};
    use ivrpay::payments::invoice::{InvoiceStatus, NewInvoice};
    use ivrpay::payments::merchant::{CaptureMode, NewMerchant};
    use ivrpay::store::invoices::Created;
    let (url, _) = sim("k", "k").await;
    let gw = Gateway::Sips(connector(&url, "k"));
    let db = std::env::temp_dir().join(format!("ivrpay-sips-{}-{}.db", std::process::id(), rand::random::<u32>()));
    let store = ivrpay::store::Store::open(&format!("sqlite://{}", db.display())).await.unwrap();
    let nm = NewMerchant {
        name: "M".into(),
        accepted_brands: vec!["VISA".into()],
        capture_mode: CaptureMode::AuthorCapture,
        capture_day: 0,
        phone_number: "+33970000000".into(),
        notification_url: None,
    };
    let (m, _) = store.create_merchant(&nm).await.unwrap();
    let ni = NewInvoice {
        reference: "S-1".into(),
        amount: 2500,
        currency: Currency::Eur,
        due_date: NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
        expiry_date: NaiveDate::from_ymd_opt(2030, 2, 1).unwrap(),
        customer_name: "J".into(),
        customer_contact: None,
        description: None,
    };
    let Created::New(inv) = store.create_invoice(&m.id, &ni).await.unwrap() else { panic!() };
    let card = CardNumber::parse(LOST_AFTER_CHARGE_CARD).unwrap();
    let req = PaymentRequest {
        merchant: &m,
        invoice: &inv,
        card: &card,
        expiry: Expiry::parse_mmyy("1230").unwrap(),
        csc: SecurityCode::parse("123", card.brand().unwrap()).unwrap(),
        idempotency_key: "sips-1",
        caller: None,
        call_id: None,
        order_channel: "MOTO",
        today: chrono::Utc::now().date_naive(),
    };
    assert!(matches!(authorize::pay(&store, &gw, req).await.unwrap(), PaymentOutcome::Accepted(_)));
    assert_eq!(store.invoice(&m.id, &inv.id).await.unwrap().unwrap().status, InvoiceStatus::Paid);
    store.close().await;
    let _ = std::fs::remove_file(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cash_management_over_the_wire() {
    use ivrpay::payments::cash::Operation;
    use ivrpay::payments::gateway::{CashRequest, DuplicateRequest};
    let platform_clock = Arc::new(ShiftedClock::new());
    let (url, simulator) = sim_on("k", "k", platform_clock.clone()).await;
    let c = connector(&url, "k");
    assert!(authorize(&c, "4100000000000100", "CM1").await.unwrap().accepted());
    let cash = |reference: &'static str, operation: Operation, amount: i64| CashRequest {
        transaction_reference: reference,
        operation,
        amount,
        currency: Currency::Eur,
    };
    // Cancel part: applied, with the platform's new status and amount.
    let r = c.cash(&cash("CM1", Operation::Cancel, 500)).await.unwrap();
    assert_eq!(
        (r.response_code.as_str(), r.new_status.as_deref(), r.new_amount),
        ("00", Some("TO_CAPTURE"), Some(2000))
    );
    // What the Sips table forbids is refused with 24, an unknown transaction with 25.
    assert_eq!(c.cash(&cash("CM1", Operation::Refund, 100)).await.unwrap().response_code, "24");
    assert_eq!(c.cash(&cash("CM1", Operation::Validate, 100)).await.unwrap().response_code, "24");
    assert_eq!(c.cash(&cash("NOPE", Operation::Cancel, 100)).await.unwrap().response_code, "25");
    assert_eq!(simulator.operations(), 4);
    // After the platform's capture: refund, never more than captured.
    platform_clock.advance(Duration::from_secs(86_400));
    assert_eq!(c.cash(&cash("CM1", Operation::Refund, 2001)).await.unwrap().response_code, "12");
    let r = c.cash(&cash("CM1", Operation::Refund, 2000)).await.unwrap();
    assert_eq!((r.new_status.as_deref(), r.new_amount), (Some("CREDITED"), Some(0)));
    match c.lookup("CM1").await.unwrap() {
        Lookup::Found(d) => {
            assert_eq!((d.status.as_str(), d.origin_amount, d.current_amount), ("CREDITED", Some(2500), Some(0)))
        }
        Lookup::Unknown => panic!("known"),
    }
    // Duplicate: a new transaction on the card the platform holds.
    let dup = |from: &'static str, to: &'static str| DuplicateRequest {
        from_transaction_reference: from,
        transaction_reference: to,
        amount: 700,
        currency: Currency::Eur,
        capture_mode: ivrpay::payments::merchant::CaptureMode::AuthorCapture,
        capture_day: 0,
        order_channel: "MOTO",
    };
    let calls = simulator.calls();
    let a = c.duplicate(&dup("CM1", "CM2")).await.unwrap();
    assert_eq!((a.response_code.as_str(), a.brand.as_str(), a.guarantee_indicator.as_str()), ("00", "VISA", "N"));
    assert!(
        matches!(c.lookup("CM2").await.unwrap(), Lookup::Found(d) if d.status == "TO_CAPTURE" && d.origin_amount == Some(700))
    );
    assert_eq!(c.duplicate(&dup("NOPE", "CM3")).await.unwrap().response_code, "25");
    assert_eq!(c.duplicate(&dup("CM1", "CM2")).await.unwrap().response_code, "94", "a reference is used once");
    assert_eq!(simulator.calls(), calls + 3);
    // A duplicate in another currency; one without its currency is a format error.
    let usd = DuplicateRequest { currency: Currency::Usd, ..dup("CM1", "CM4") };
    assert!(c.duplicate(&usd).await.unwrap().accepted());
    let mut fields = serde_json::json!({
        "merchantId": "011223344550000", "fromMerchantId": "011223344550000", "interfaceVersion": "CR_WS_2.55",
        "fromTransactionReference": "CM1", "transactionReference": "CM5", "amount": 100,
        "captureMode": "AUTHOR_CAPTURE", "captureDay": 0, "orderChannel": "MOTO", "operationOrigin": "T",
    });
    let seal = ivrpay::payments::seal::compute_seal(fields.as_object().unwrap(), "k");
    fields["seal"] = serde_json::json!(seal);
    let (_, bytes) = ivrpay::payments::http::post(
        &format!("{url}/rs-services/v2/cashManagement/duplicate"),
        &[],
        fields.to_string().as_bytes(),
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!((v["responseCode"].as_str(), v["errorFieldName"].as_str()), (Some("30"), Some("currencyCode")));
    assert_eq!(simulator.calls(), calls + 4);
    // The platform down: unavailable, nothing applied.
    simulator.set_down(true);
    assert_eq!(c.cash(&cash("CM2", Operation::Cancel, 700)).await, Err(GatewayError::Unavailable));
    simulator.set_down(false);
    assert!(matches!(c.lookup("CM2").await.unwrap(), Lookup::Found(d) if d.current_amount == Some(700)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cash_requests_carry_the_cash_interface_and_answers_are_sealed() {
    use ivrpay::payments::cash::Operation;
    use ivrpay::payments::gateway::CashRequest;
    let (url, _) = sim("k", "k").await;
    assert!(authorize(&connector(&url, "k"), "4100000000000100", "IF1").await.unwrap().accepted());
    let req =
        CashRequest { transaction_reference: "IF1", operation: Operation::Cancel, amount: 1, currency: Currency::Eur };
    // The checkout interface on a cash call is a format error (30), not applied.
    let mut cfg = SipsConfig::new(&url, "011223344550000", "k");
    cfg.cash_interface = "IR_WS_2.55".into();
    assert_eq!(SipsConnector::new(cfg).cash(&req).await.unwrap().response_code, "30");
    // An operation origin is required.
    let mut cfg = SipsConfig::new(&url, "011223344550000", "k");
    cfg.operation_origin = String::new();
    assert_eq!(SipsConnector::new(cfg).cash(&req).await.unwrap().response_code, "30");
    // Answers sealed with another key are not believed.
    let (url, _) = sim("k", "other").await;
    assert_eq!(connector(&url, "k").cash(&req).await, Err(GatewayError::BadSeal));
}
