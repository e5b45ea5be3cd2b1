//! Transactions through the API after phone payments (taken here with the payments
//! core and the simulator): detail with history, the cash operations the Sips table
//! allows and no others, the capture run, and the journal export without card numbers.

mod common;

use common::{fixtures, http, http_text};
use ivrpay::payments::authorize::PaymentOutcome;
use ivrpay::store::merchants::{CaptureMode, Merchant};
use ivrpay::store::Store;

const PAN: &str = fixtures::ACCEPTED_CARD;

async fn paid_transaction(store: &Store, m: &Merchant, reference: &str) -> String {
    let inv = fixtures::stored_invoice(store, m, reference, 10_000).await;
    let (gw, _) = fixtures::simulator();
    match fixtures::pay(store, &gw, m, &inv, PAN, reference).await.unwrap() {
        PaymentOutcome::Accepted(t) => t.reference,
        other => panic!("{other:?}"),
    }
}

fn merchant(mode: CaptureMode) -> ivrpay::store::merchants::NewMerchant {
    fixtures::merchant(mode, 2, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cash_operations_follow_the_sips_table() {
    let server = common::start(common::config()).await;
    let store = &server.ctx().store;
    let api = server.http_addr();
    let (m, key) = store.create_merchant(&merchant(CaptureMode::AuthorCapture)).await.unwrap();
    let (_, other) = store.create_merchant(&merchant(CaptureMode::AuthorCapture)).await.unwrap();
    let k = Some(key.secret.as_str());
    let r = paid_transaction(store, &m, "T-1").await;

    let (status, t) = http(api, "GET", &format!("/api/v1/transactions/{r}"), k, None).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(
        (t["status"].as_str(), t["guaranteed"].as_bool(), t["channel"].as_str()),
        (Some("TO_CAPTURE"), Some(false), Some("IVR"))
    );
    assert_eq!(t["masked_pan"], "410000######0100");
    assert_eq!(t["history"].as_array().unwrap().len(), 2);
    assert_eq!(http(api, "GET", &format!("/api/v1/transactions/{r}"), Some(&other.secret), None).await.0, 404);

    // TO_CAPTURE: refund is not allowed, cancel is (partly).
    let (status, e) = http(api, "POST", &format!("/api/v1/transactions/{r}/refund"), k, None).await;
    assert_eq!((status, e["error"]["field"].as_str()), (409, Some("status")), "{e}");
    let (status, t) =
        http(api, "POST", &format!("/api/v1/transactions/{r}/cancel"), k, Some(r#"{"amount":2500}"#)).await;
    assert_eq!(
        (status, t["current_amount"].as_i64(), t["status"].as_str()),
        (200, Some(7500), Some("TO_CAPTURE")),
        "{t}"
    );
    let (status, e) =
        http(api, "POST", &format!("/api/v1/transactions/{r}/cancel"), k, Some(r#"{"amount":9000}"#)).await;
    assert_eq!((status, e["error"]["field"].as_str()), (422, Some("amount")));

    // The capture run sends it to the bank once its capture day has passed.
    assert_eq!(store.run_capture(ivrpay::store::now_ms()).await.unwrap(), (0, 0), "capture day 2 not reached");
    assert_eq!(store.run_capture(ivrpay::store::now_ms() + 4 * 86_400_000).await.unwrap(), (1, 0));

    // CAPTURED: refunds, never more than captured, then CREDITED.
    let (_, t) = http(api, "POST", &format!("/api/v1/transactions/{r}/refund"), k, Some(r#"{"amount":5000}"#)).await;
    assert_eq!((t["status"].as_str(), t["refunded_amount"].as_i64()), (Some("CAPTURED"), Some(5000)), "{t}");
    let (status, _) =
        http(api, "POST", &format!("/api/v1/transactions/{r}/refund"), k, Some(r#"{"amount":2501}"#)).await;
    assert_eq!(status, 422);
    let (_, t) = http(api, "POST", &format!("/api/v1/transactions/{r}/refund"), k, None).await;
    assert_eq!((t["status"].as_str(), t["refunded_amount"].as_i64()), (Some("CREDITED"), Some(7500)));
    let steps: Vec<&str> = t["history"].as_array().unwrap().iter().map(|h| h["to"].as_str().unwrap()).collect();
    assert_eq!(steps, ["PENDING", "TO_CAPTURE", "TO_CAPTURE", "CAPTURED", "CAPTURED", "CREDITED"]);

    // Journal for today: the masked card, never the full number; not guaranteed.
    let today = chrono::Utc::now().date_naive();
    let (status, csv) = http_text(api, "GET", &format!("/api/v1/journal.csv?from={today}&to={today}"), k, None).await;
    assert_eq!(status, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("TRANSACTION_ID,MERCHANT_ID,PAYMENT_MEANS"));
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].contains("410000######0100") && lines[1].contains(",CREDITED,NO,IVR,T-1"), "{csv}");
    assert!(!csv.contains(PAN));
    let (status, e) = http(api, "GET", "/api/v1/journal.csv?from=2026-13-01", k, None).await;
    assert_eq!((status, e["error"]["field"].as_str()), (422, Some("from")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_mode_transactions_are_validated_or_expire() {
    let server = common::start(common::config()).await;
    let store = &server.ctx().store;
    let api = server.http_addr();
    let (m, key) = store.create_merchant(&merchant(CaptureMode::Validation)).await.unwrap();
    let k = Some(key.secret.as_str());
    let a = paid_transaction(store, &m, "V-1").await;
    let b = paid_transaction(store, &m, "V-2").await;
    let (_, t) = http(api, "GET", &format!("/api/v1/transactions/{a}"), k, None).await;
    assert_eq!(t["status"], "TO_VALIDATE");
    assert_eq!(
        http(api, "POST", &format!("/api/v1/transactions/{a}/cancel"), k, None).await.0,
        409,
        "the table allows no cancel in TO_VALIDATE"
    );
    let (_, t) = http(api, "POST", &format!("/api/v1/transactions/{a}/validate"), k, Some(r#"{"amount":8000}"#)).await;
    assert_eq!((t["status"].as_str(), t["current_amount"].as_i64()), (Some("TO_CAPTURE"), Some(8000)), "{t}");
    assert_eq!(store.run_capture(ivrpay::store::now_ms() + 4 * 86_400_000).await.unwrap(), (1, 1));
    let (_, t) = http(api, "GET", &format!("/api/v1/transactions/{b}"), k, None).await;
    assert_eq!(t["status"], "EXPIRED");
    let (_, list) = http(api, "GET", "/api/v1/transactions", k, None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}
