//! Transactions through the API after phone payments (taken here with the payments
//! core and the server's own simulated platform): detail with history, the cash
//! operations the Sips table allows and no others, each applied at the platform first
//! (a platform refusal or outage changes nothing), concurrent operators, duplicates,
//! the capture run, the journal and operations exports without card numbers, and every
//! answer checked against the published OpenAPI document. The listing a page at a
//! time: `api_listing.rs`.

mod common;

use common::openapi::{call, check};
use common::{fixtures, http_text};
use ivrpay::config::Config;
use ivrpay::payments::authorize::PaymentOutcome;
use ivrpay::payments::clock::ShiftedClock;
use ivrpay::payments::gateway::{Gateway, Simulator};
use ivrpay::payments::merchant::{CaptureMode, Merchant};
use ivrpay::server::{Server, StartWith};
use ivrpay::store::Store;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

on_both_backends!(
    cash_operations_go_through_the_platform_and_follow_the_sips_table,
    two_operators_refunding_at_once_never_refund_more_than_captured,
    a_refund_retried_with_if_match_is_refused_not_applied_twice,
    validation_mode_transactions_are_validated_or_expire,
    a_duplicate_is_a_new_charge_of_the_same_card_with_an_invoice_of_its_own,
);

const PAN: &str = fixtures::ACCEPTED_CARD;
const DAYS_4: Duration = Duration::from_secs(4 * 86_400);
const OP: &str = "/transactions/{reference}/{operation}";
const DUP: &str = "/transactions/{reference}/duplicate";
const ONE: &str = "/transactions/{reference}";

/// Every request of these tests, its answer checked against the published document.
async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> (u16, Value) {
    let (status, v) = common::http(addr, method, path, key, body).await;
    check(template_of(path), &method.to_ascii_lowercase(), status, &v);
    (status, v)
}

/// The operation of the document a real path is for.
fn template_of(path: &str) -> &'static str {
    let p = path.strip_prefix("/api/v1/").unwrap_or(path).split('?').next().unwrap_or("");
    match p.split('/').collect::<Vec<_>>().as_slice() {
        ["transactions"] => "/transactions",
        ["transactions", _] => ONE,
        ["transactions", _, "duplicate"] => DUP,
        ["transactions", _, _] => OP,
        _ => panic!("no documented operation for {path}"),
    }
}

/// A test server whose simulated platform keeps time by a clock of the test's, so the
/// platform's capture day can come before ours.
struct TestServer {
    server: Server,
    platform_clock: Arc<ShiftedClock>,
}

impl std::ops::Deref for TestServer {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

async fn server(mut c: Config) -> TestServer {
    c.payments.simulator_latency_ms = 5;
    let platform_clock = Arc::new(ShiftedClock::new());
    let with = StartWith { platform_clock: Some(platform_clock.clone()), ..StartWith::default() };
    TestServer { server: Server::start_with(c, with).await.expect("server starts"), platform_clock }
}

fn platform(server: &Server) -> Simulator {
    match &server.ctx().gateway {
        Gateway::Simulator(s) => s.clone(),
        Gateway::Sips(_) => panic!("the test server uses the built-in simulator"),
    }
}

async fn paid_transaction(server: &Server, m: &Merchant, reference: &str, pan: &str) -> String {
    let store = &server.ctx().store;
    let inv = fixtures::stored_invoice(store, m, reference, 10_000).await;
    match fixtures::pay(store, &server.ctx().gateway, m, &inv, pan, reference).await.unwrap() {
        PaymentOutcome::Accepted(t) | PaymentOutcome::Refused(t) => t.reference,
        other => panic!("{other:?}"),
    }
}

fn merchant(mode: CaptureMode) -> ivrpay::payments::merchant::NewMerchant {
    fixtures::merchant(mode, 2, Some("http://127.0.0.1:9/hook"))
}

async fn notices(store: &Store, reference: &str) -> i64 {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM notifications WHERE transaction_reference = $1")
        .bind(reference)
        .fetch_one(store.pool())
        .await
        .unwrap();
    sqlx::Row::try_get::<i64, _>(&row, "n").unwrap()
}

fn steps(t: &Value) -> Vec<&str> {
    t["history"].as_array().unwrap().iter().map(|h| h["to"].as_str().unwrap()).collect()
}

async fn cash_operations_go_through_the_platform_and_follow_the_sips_table(config: Config) {
    let server = server(config).await;
    let sim = platform(&server);
    let store = &server.ctx().store;
    let api = server.http_addr();
    let (m, key) = store.create_merchant(&merchant(CaptureMode::AuthorCapture)).await.unwrap();
    let (_, other) = store.create_merchant(&merchant(CaptureMode::AuthorCapture)).await.unwrap();
    let k = Some(key.secret.as_str());
    let r = paid_transaction(&server, &m, "T-1", PAN).await;
    let path = |op: &str| format!("/api/v1/transactions/{r}/{op}");

    let (status, t) = http(api, "GET", &format!("/api/v1/transactions/{r}"), k, None).await;
    check(ONE, "get", status, &t);
    assert_eq!(status, 200, "{t}");
    assert_eq!(
        (t["status"].as_str(), t["guaranteed"].as_bool(), t["channel"].as_str()),
        (Some("TO_CAPTURE"), Some(false), Some("IVR"))
    );
    assert_eq!(t["masked_pan"], "410000######0100");
    assert_eq!(t["history"].as_array().unwrap().len(), 2);
    let (status, e) = http(api, "GET", &format!("/api/v1/transactions/{r}"), Some(&other.secret), None).await;
    check(ONE, "get", status, &e);
    assert_eq!(status, 404);

    // TO_CAPTURE: refund is not allowed by the table (the platform is not even asked).
    let ops = sim.operations();
    let (status, e) = http(api, "POST", &path("refund"), k, None).await;
    check(OP, "post", status, &e);
    assert_eq!((status, e["error"]["field"].as_str()), (409, Some("status")), "{e}");
    assert_eq!(sim.operations(), ops);
    // Cancel (part) is: applied at the platform, recorded with the actor and its code.
    let notified = notices(store, &r).await;
    let (status, t) = http(api, "POST", &path("cancel"), k, Some(r#"{"amount":2500}"#)).await;
    check(OP, "post", status, &t);
    assert_eq!(
        (status, t["current_amount"].as_i64(), t["status"].as_str()),
        (200, Some(7500), Some("TO_CAPTURE")),
        "{t}"
    );
    assert_eq!(sim.operations(), ops + 1);
    let last = t["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["by"].as_str(), last["amount"].as_i64()), (Some(format!("api:{}", m.id).as_str()), Some(2500)));
    assert!(last["detail"].as_str().unwrap().contains("responseCode 00"), "{last}");
    assert_eq!(notices(store, &r).await, notified + 1, "a notification is queued with the change");
    let (status, e) = http(api, "POST", &path("cancel"), k, Some(r#"{"amount":9000}"#)).await;
    check(OP, "post", status, &e);
    assert_eq!((status, e["error"]["field"].as_str()), (422, Some("amount")));

    // The platform refuses what our books would allow (it captured already, we have not
    // run the capture yet): 409 naming the operation and its code; nothing changes.
    server.platform_clock.advance(DAYS_4);
    let (status, e) = http(api, "POST", &path("cancel"), k, Some(r#"{"amount":100}"#)).await;
    check(OP, "post", status, &e);
    assert_eq!(
        (status, e["error"]["code"].as_str(), e["error"]["operation"].as_str(), e["error"]["response_code"].as_str()),
        (409, Some("platform_refused"), Some("cancel"), Some("24")),
        "{e}"
    );
    let (_, t) = http(api, "GET", &format!("/api/v1/transactions/{r}"), k, None).await;
    assert_eq!((t["current_amount"].as_i64(), t["history"].as_array().unwrap().len()), (Some(7500), 3));
    assert_eq!(notices(store, &r).await, notified + 1);

    // The capture run sends it to the bank once its capture day has passed.
    assert_eq!(store.run_capture(store.now_ms()).await.unwrap(), (0, 0), "capture day 2 not reached");
    assert_eq!(store.run_capture(store.now_ms() + DAYS_4.as_millis() as i64).await.unwrap(), (1, 0));

    // The platform is down: 502, nothing changes.
    sim.set_down(true);
    let (status, e) = http(api, "POST", &path("refund"), k, Some(r#"{"amount":5000}"#)).await;
    check(OP, "post", status, &e);
    assert_eq!(
        (status, e["error"]["code"].as_str(), e["error"]["operation"].as_str()),
        (502, Some("platform_unavailable"), Some("refund"))
    );
    sim.set_down(false);
    let (_, t) = http(api, "GET", &format!("/api/v1/transactions/{r}"), k, None).await;
    assert_eq!((t["status"].as_str(), t["refunded_amount"].as_i64()), (Some("CAPTURED"), Some(0)));

    // CAPTURED: refunds, never more than captured, then CREDITED.
    let (status, t) = http(api, "POST", &path("refund"), k, Some(r#"{"amount":5000}"#)).await;
    check(OP, "post", status, &t);
    assert_eq!((t["status"].as_str(), t["refunded_amount"].as_i64()), (Some("CAPTURED"), Some(5000)), "{t}");
    let (status, _) = http(api, "POST", &path("refund"), k, Some(r#"{"amount":2501}"#)).await;
    assert_eq!(status, 422);
    let (status, e) = http(api, "POST", &path("refund"), k, Some("[1]")).await;
    check(OP, "post", status, &e);
    assert_eq!(status, 400);
    let (_, t) = http(api, "POST", &path("refund"), k, None).await;
    assert_eq!((t["status"].as_str(), t["refunded_amount"].as_i64()), (Some("CREDITED"), Some(7500)));
    assert_eq!(steps(&t), ["PENDING", "TO_CAPTURE", "TO_CAPTURE", "CAPTURED", "CAPTURED", "CREDITED"]);

    // Journal for today: the masked card, never the full number; not guaranteed.
    let today = chrono::Utc::now().date_naive();
    let (status, csv) = http_text(api, "GET", &format!("/api/v1/journal.csv?from={today}&to={today}"), k, None).await;
    common::openapi::check_media("/journal.csv", "get", status, "text/csv");
    assert_eq!(status, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("TRANSACTION_ID,MERCHANT_ID,PAYMENT_MEANS"));
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].contains("410000######0100") && lines[1].contains(",CREDITED,NO,IVR,T-1"), "{csv}");
    assert!(!csv.contains(PAN));
    // The variant a French spreadsheet opens as is: `;`, UTF-8 with a byte order mark.
    let sheet_path = format!("/api/v1/journal.csv?from={today}&to={today}&format=csv-semicolon");
    let (status, sheet) = http_text(api, "GET", &sheet_path, k, None).await;
    assert_eq!(status, 200);
    assert!(sheet.starts_with("\u{feff}TRANSACTION_ID;MERCHANT_ID;PAYMENT_MEANS"), "{sheet}");
    assert_eq!(sheet.trim_start_matches('\u{feff}').replace(';', ","), csv, "the same fields");
    // The operations journal: each operation the platform was asked, with its answer.
    let (status, ops) =
        http_text(api, "GET", &format!("/api/v1/operations.csv?from={today}&to={today}"), k, None).await;
    common::openapi::check_media("/operations.csv", "get", status, "text/csv");
    assert_eq!(status, 200);
    let lines: Vec<Vec<&str>> = ops.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        lines[0][..8],
        ["DATE", "TRANSACTION_ID", "OPERATION", "AMOUNT", "CURRENCY", "ACTOR", "OUTCOME", "RESPONSE_CODE"]
    );
    let seen: Vec<(&str, &str, &str, &str)> = lines[1..].iter().map(|l| (l[2], l[3], l[6], l[7])).collect();
    assert_eq!(
        seen[..4],
        [
            ("cancel", "2500", "applied", "00"),
            ("cancel", "100", "refused", "24"),
            ("refund", "5000", "unavailable", ""),
            ("refund", "5000", "applied", "00")
        ],
        "{ops}"
    );
    let actor = format!("api:{}", m.id);
    assert!(lines[1..].iter().all(|l| l[1] == r && l[4] == "EUR" && l[5] == actor), "{ops}");
    assert!(!ops.contains(PAN));
    let (status, e) = call(api, "GET", "/journal.csv", "/journal.csv?format=xlsx", k, None).await;
    assert_eq!((status, e["error"]["field"].as_str()), (400, Some("format")));
    let (status, e) = call(api, "GET", "/journal.csv", "/journal.csv?from=2026-13-01", k, None).await;
    assert_eq!((status, e["error"]["field"].as_str()), (422, Some("from")));
    let (status, e) = call(api, "GET", "/journal.csv", "/journal.csv?to=2030-01-01&format=xls", k, None).await;
    assert_eq!(
        (status, e["error"]["code"].as_str(), e["error"]["field"].as_str()),
        (400, Some("invalid_query"), Some("format"))
    );
    let (status, e) = http(api, "POST", &path("cancel"), Some("ivp_not_a_key"), None).await;
    check(OP, "post", status, &e);
    assert_eq!(status, 401);
    // Without a valid key every transaction operation is a documented 401.
    for (method, template, p) in [
        ("GET", "/transactions", "/transactions".to_string()),
        ("GET", ONE, format!("/transactions/{r}")),
        ("GET", "/journal.csv", "/journal.csv".to_string()),
        ("POST", DUP, format!("/transactions/{r}/duplicate")),
    ] {
        let (status, e) = call(api, method, template, &p, Some("ivp_not_a_key"), None).await;
        assert_eq!((status, e["error"]["code"].as_str()), (401, Some("unauthorized")), "{p}");
    }
}

async fn two_operators_refunding_at_once_never_refund_more_than_captured(config: Config) {
    let server = server(config).await;
    let sim = platform(&server);
    let store = &server.ctx().store;
    let api = server.http_addr();
    let (m, key) = store.create_merchant(&merchant(CaptureMode::AuthorCapture)).await.unwrap();
    let r = paid_transaction(&server, &m, "C-1", PAN).await;
    server.platform_clock.advance(DAYS_4);
    store.run_capture(store.now_ms() + DAYS_4.as_millis() as i64).await.unwrap();
    let ops = sim.operations();
    let path = format!("/api/v1/transactions/{r}/refund");
    let (a, b) = tokio::join!(
        http(api, "POST", &path, Some(&key.secret), Some(r#"{"amount":6000}"#)),
        http(api, "POST", &path, Some(&key.secret), Some(r#"{"amount":6000}"#)),
    );
    let mut codes = [a.0, b.0];
    codes.sort();
    assert!(codes == [200, 409] || codes == [200, 422], "{a:?} {b:?}");
    assert_eq!(sim.operations(), ops + 1, "only one refund reached the platform");
    let t = store.transaction(&r).await.unwrap().unwrap();
    assert_eq!((t.status.as_str(), t.refunded_amount), ("CAPTURED", 6000));
}

/// A request with extra headers; the status, the ETag answered and the JSON body.
async fn with_headers(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> (u16, Option<String>, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let etag =
        head.lines().find_map(|l| l.strip_prefix("etag: ").or_else(|| l.strip_prefix("ETag: "))).map(String::from);
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    check(template_of(path), &method.to_ascii_lowercase(), status, &v);
    (status, etag, v)
}

async fn a_refund_retried_with_if_match_is_refused_not_applied_twice(config: Config) {
    let server = server(config).await;
    let sim = platform(&server);
    let store = &server.ctx().store;
    let api = server.http_addr();
    let (m, key) = store.create_merchant(&merchant(CaptureMode::AuthorCapture)).await.unwrap();
    let r = paid_transaction(&server, &m, "E-1", PAN).await;
    server.platform_clock.advance(DAYS_4);
    store.run_capture(store.now_ms() + DAYS_4.as_millis() as i64).await.unwrap();
    let auth = format!("Authorization: Bearer {}\r\n", key.secret);
    let one = format!("/api/v1/transactions/{r}");
    let refund = format!("{one}/refund");

    // The client reads the transaction, decides, and sends the state it saw.
    let (status, etag, _) = with_headers(api, "GET", &one, &auth, "").await;
    let etag = etag.expect("GET answers an ETag");
    assert_eq!((status, etag.as_str()), (200, "\"CAPTURED/10000/0\""));
    let if_match = format!("{auth}If-Match: {etag}\r\n");
    let ops = sim.operations();
    let (status, after, t) = with_headers(api, "POST", &refund, &if_match, r#"{"amount":3000}"#).await;
    assert_eq!((status, t["refunded_amount"].as_i64()), (200, Some(3000)), "{t}");
    assert_eq!(after.as_deref(), Some("\"CAPTURED/10000/3000\""), "the new state's tag comes back");

    // Its answer was lost; it retries the very same request: refused, not applied again.
    let (status, _, e) = with_headers(api, "POST", &refund, &if_match, r#"{"amount":3000}"#).await;
    assert_eq!(
        (status, e["error"]["code"].as_str(), e["error"]["field"].as_str()),
        (412, Some("precondition_failed"), Some("If-Match"))
    );
    assert_eq!(sim.operations(), ops + 1, "one refund reached the platform");
    let t = store.transaction(&r).await.unwrap().unwrap();
    assert_eq!(t.refunded_amount, 3000);

    // A tag that is not one of ours is a 400 naming the header; none at all still works.
    let (status, _, e) = with_headers(api, "POST", &refund, &format!("{auth}If-Match: *\r\n"), "{}").await;
    assert_eq!((status, e["error"]["field"].as_str()), (400, Some("If-Match")));
    let (status, _, t) = with_headers(api, "POST", &refund, &auth, r#"{"amount":1000}"#).await;
    assert_eq!((status, t["refunded_amount"].as_i64()), (200, Some(4000)));
}

async fn validation_mode_transactions_are_validated_or_expire(config: Config) {
    let server = server(config).await;
    let sim = platform(&server);
    let store = &server.ctx().store;
    let api = server.http_addr();
    let (m, key) = store.create_merchant(&merchant(CaptureMode::Validation)).await.unwrap();
    let k = Some(key.secret.as_str());
    let a = paid_transaction(&server, &m, "V-1", PAN).await;
    let b = paid_transaction(&server, &m, "V-2", PAN).await;
    let (_, t) = http(api, "GET", &format!("/api/v1/transactions/{a}"), k, None).await;
    assert_eq!(t["status"], "TO_VALIDATE");
    assert_eq!(
        http(api, "POST", &format!("/api/v1/transactions/{a}/cancel"), k, None).await.0,
        409,
        "the table allows no cancel in TO_VALIDATE"
    );
    let (status, t) =
        http(api, "POST", &format!("/api/v1/transactions/{a}/validate"), k, Some(r#"{"amount":8000}"#)).await;
    check(OP, "post", status, &t);
    assert_eq!((t["status"].as_str(), t["current_amount"].as_i64()), (Some("TO_CAPTURE"), Some(8000)), "{t}");
    server.platform_clock.advance(DAYS_4);
    assert_eq!(store.run_capture(store.now_ms() + DAYS_4.as_millis() as i64).await.unwrap(), (1, 1));
    let (_, t) = http(api, "GET", &format!("/api/v1/transactions/{b}"), k, None).await;
    assert_eq!(t["status"], "EXPIRED");
    // The platform expired it too: validating it now is refused there as well.
    assert!(!sim.cash_now(&b, ivrpay::payments::cash::Operation::Validate, 1).unwrap().accepted());
    let (status, list) = call(api, "GET", "/transactions", "/transactions", k, None).await;
    assert_eq!((status, list["items"].as_array().unwrap().len()), (200, 2));
    let today = chrono::Utc::now().date_naive();
    let (_, list) = call(api, "GET", "/transactions", &format!("/transactions?from={today}&to={today}"), k, None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let (_, list) = call(api, "GET", "/transactions", "/transactions?from=2020-01-01&to=2020-01-31", k, None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    let (status, e) = call(api, "GET", "/transactions", "/transactions?to=31-12-2030", k, None).await;
    assert_eq!((status, e["error"]["field"].as_str()), (422, Some("to")));
}

async fn a_duplicate_is_a_new_charge_of_the_same_card_with_an_invoice_of_its_own(config: Config) {
    let server = server(config).await;
    let sim = platform(&server);
    let store = &server.ctx().store;
    let api = server.http_addr();
    let (m, key) = store.create_merchant(&merchant(CaptureMode::Validation)).await.unwrap();
    let k = Some(key.secret.as_str());
    let r = paid_transaction(&server, &m, "D-1", PAN).await;
    let dup = format!("/api/v1/transactions/{r}/duplicate");

    let calls = sim.calls();
    let (status, t) = http(api, "POST", &dup, k, Some(r#"{"amount":3000,"invoice_reference":"D-1-BIS"}"#)).await;
    check(DUP, "post", status, &t);
    assert_eq!(status, 201, "{t}");
    let d = t["reference"].as_str().unwrap().to_string();
    assert_ne!(d, r);
    assert_eq!(
        (t["duplicated_from"].as_str(), t["amount"].as_i64(), t["status"].as_str()),
        (Some(r.as_str()), Some(3000), Some("TO_VALIDATE"))
    );
    assert_eq!(
        (t["masked_pan"].as_str(), t["brand"].as_str(), t["expiry_month"].as_str()),
        (Some("410000######0100"), Some("VISA"), Some("203012"))
    );
    assert_eq!(
        (t["channel"].as_str(), t["guarantee_indicator"].as_str(), t["capture_day"].as_i64()),
        (Some("IVR"), Some("N"), Some(2))
    );
    assert_eq!(t["caller"], Value::Null, "the customer was not on the line");
    assert_eq!(steps(&t), ["PENDING", "TO_VALIDATE"]);
    assert_eq!(t["history"][0]["by"].as_str(), Some(format!("api:{}", m.id).as_str()));
    assert_eq!(sim.calls(), calls + 1);
    // Its own invoice, paid; the original invoice is untouched.
    let inv = store.invoice_by_reference(&m.id, "D-1-BIS").await.unwrap().unwrap();
    assert_eq!((inv.amount, inv.status.as_str(), inv.customer_name.as_str()), (3000, "PAID", "Jeanne Martin"));
    assert_eq!(t["invoice_id"].as_str(), Some(inv.id.as_str()));
    let orig = store.transaction(&r).await.unwrap().unwrap();
    assert_eq!((orig.status.as_str(), orig.amount), ("TO_VALIDATE", 10_000));

    // The same request again: the first duplicate, not charged again.
    let (status, again) = http(api, "POST", &dup, k, Some(r#"{"amount":3000,"invoice_reference":"D-1-BIS"}"#)).await;
    check(DUP, "post", status, &again);
    assert_eq!((status, again["reference"].as_str()), (200, Some(d.as_str())));
    assert_eq!(sim.calls(), calls + 1);
    let (status, e) = http(api, "POST", &dup, k, Some(r#"{"amount":3100,"invoice_reference":"D-1-BIS"}"#)).await;
    check(DUP, "post", status, &e);
    assert_eq!((status, e["error"]["field"].as_str()), (409, Some("invoice_reference")), "{e}");
    let (status, e) = http(api, "POST", &dup, k, Some(r#"{"invoice_reference":"D-1-TER"}"#)).await;
    check(DUP, "post", status, &e);
    assert_eq!((status, e["error"]["field"].as_str()), (422, Some("amount")));
    let (status, e) = http(api, "POST", &dup, k, Some(r#"{"amount":10,"invoice_reference":"bad ref!"}"#)).await;
    assert_eq!((status, e["error"]["field"].as_str()), (422, Some("invoice_reference")));
    let (status, e) = http(api, "POST", "/api/v1/transactions/IVRNOPE/duplicate", k, Some(r#"{"amount":10}"#)).await;
    check(DUP, "post", status, &e);
    assert_eq!(status, 404);
    // A duplicate of a duplicate, without an invoice reference: DUP-<reference>.
    let (status, t2) =
        http(api, "POST", &format!("/api/v1/transactions/{d}/duplicate"), k, Some(r#"{"amount":500}"#)).await;
    assert_eq!(status, 201, "{t2}");
    let own = store.invoice(&m.id, t2["invoice_id"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(own.reference, format!("DUP-{}", t2["reference"].as_str().unwrap()));

    // A card refused before is refused again: 409 naming the REFUSED duplicate; its
    // invoice is cancelled (nobody is to pay it by phone).
    let refused = paid_transaction(&server, &m, "D-2", "4100000000000605").await;
    let (status, e) = http(
        api,
        "POST",
        &format!("/api/v1/transactions/{refused}/duplicate"),
        k,
        Some(r#"{"amount":100,"invoice_reference":"D-2-BIS"}"#),
    )
    .await;
    check(DUP, "post", status, &e);
    assert_eq!(
        (status, e["error"]["code"].as_str(), e["error"]["response_code"].as_str()),
        (409, Some("platform_refused"), Some("05")),
        "{e}"
    );
    let rt = store.transaction(e["error"]["transaction"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!((rt.status.as_str(), rt.duplicated_from.as_deref()), ("REFUSED", Some(refused.as_str())));
    assert_eq!(store.invoice_by_reference(&m.id, "D-2-BIS").await.unwrap().unwrap().status.as_str(), "CANCELLED");

    // The platform down: 502, nothing charged.
    sim.set_down(true);
    let (status, e) = http(api, "POST", &dup, k, Some(r#"{"amount":100}"#)).await;
    check(DUP, "post", status, &e);
    assert_eq!((status, e["error"]["code"].as_str()), (502, Some("platform_unavailable")), "{e}");
    sim.set_down(false);

    // A payment still in flight cannot be duplicated.
    let inv = fixtures::stored_invoice(store, &m, "D-3", 1000).await;
    let pending = ivrpay::payments::transaction::NewPending {
        reference: "IVRPENDING1".into(),
        merchant_id: m.id.clone(),
        invoice_id: inv.id.clone(),
        idempotency_key: "k-pending".into(),
        amount: 1000,
        currency: ivrpay::payments::money::Currency::Eur,
        masked_pan: "410000######0100".into(),
        brand: ivrpay::payments::card::Brand::Visa,
        expiry_month: "203012".into(),
        order_channel: "MOTO".into(),
        capture_mode: ivrpay::payments::merchant::CaptureMode::Validation,
        capture_day: 2,
        caller: None,
        call_id: None,
    };
    store.record_pending(&pending).await.unwrap();
    let (status, e) =
        http(api, "POST", "/api/v1/transactions/IVRPENDING1/duplicate", k, Some(r#"{"amount":10}"#)).await;
    check(DUP, "post", status, &e);
    assert_eq!((status, e["error"]["field"].as_str()), (409, Some("status")));

    // The journal names each transaction's own invoice (read in one query for all rows).
    let (status, csv) = http_text(api, "GET", "/api/v1/journal.csv", k, None).await;
    assert_eq!(status, 200);
    assert_eq!(csv.lines().count(), 8, "{csv}");
    for line in csv.lines().skip(1) {
        let (reference, invoice) = (line.split(',').next().unwrap(), line.rsplit(',').next().unwrap());
        let t = store.transaction(reference).await.unwrap().unwrap();
        assert_eq!(invoice, store.invoice(&m.id, &t.invoice_id).await.unwrap().unwrap().reference, "{line}");
    }
    assert!(csv.contains(",IVR,D-1\r\n") && csv.contains(",IVR,D-1-BIS\r\n") && csv.contains(",IVR,D-3\r\n"), "{csv}");
}
