//! The merchants' HTTP API end to end, on SQLite and on PostgreSQL: a real server, a
//! real socket, a merchant created with its API key; invoices created, read, listed,
//! cancelled, imported from CSV; every error is JSON that names the field; one
//! merchant never sees another's invoices; every answer is checked against the
//! published OpenAPI document.

mod common;

use chrono::NaiveDate;
use common::openapi::call;
use ivrpay::config::Config;
use ivrpay::payments::check_digit;
use ivrpay::payments::merchant::{CaptureMode, NewMerchant};
use ivrpay::store::invoices::Created;
use serde_json::Value;

on_both_backends!(
    invoices_through_the_api,
    csv_import_reports_every_bad_row_and_is_idempotent,
    malformed_queries_are_json_naming_the_parameter,
    an_invoice_past_its_expiry_reads_as_expired_everywhere,
);

fn new_merchant(name: &str) -> NewMerchant {
    NewMerchant {
        name: name.into(),
        accepted_brands: vec!["CB".into(), "VISA".into()],
        capture_mode: CaptureMode::AuthorCapture,
        capture_day: 0,
        phone_number: "+33 9 70 00 00 00".into(),
        notification_url: None,
    }
}

const GOOD: &str = r#"{"reference":"FAC-2026-0042","amount":12345,"currency":"EUR","due_date":"2030-12-31","customer_name":"Jeanne Martin","customer_contact":"jeanne@example.org"}"#;
const ONE: &str = "/invoices/{id}";
const CANCEL: &str = "/invoices/{id}/cancel";
const IMPORT: &str = "/invoices/import";

fn fields(err: &Value) -> Vec<&str> {
    err["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect()
}

async fn invoices_through_the_api(config: Config) {
    let server = common::start(config).await;
    let store = &server.ctx().store;
    let (_, key) = store.create_merchant(&new_merchant("Plomberie Dupont")).await.unwrap();
    let (_, other_key) = store.create_merchant(&new_merchant("Other")).await.unwrap();
    let api = server.http_addr();
    let k = Some(key.secret.as_str());
    let other = Some(other_key.secret.as_str());

    let (status, inv) = call(api, "POST", "/invoices", "/invoices", k, Some(GOOD)).await;
    assert_eq!(status, 201, "{inv}");
    let code = inv["payment_code"].as_str().unwrap();
    assert!(check_digit::is_valid(code) && code.len() == 9);
    assert_eq!(inv["phone_number"], "+33 9 70 00 00 00");
    assert_eq!(inv["amount_display"], "123.45 EUR");
    assert_eq!(inv["status"], "PAYABLE");
    let id = inv["id"].as_str().unwrap().to_string();

    // Retried request: same invoice, 200. Same reference, other amount: 409 naming it.
    let (status, again) = call(api, "POST", "/invoices", "/invoices", k, Some(GOOD)).await;
    assert_eq!((status, again["id"].as_str()), (200, Some(id.as_str())));
    let (status, err) = call(api, "POST", "/invoices", "/invoices", k, Some(&GOOD.replace("12345", "999"))).await;
    assert_eq!((status, err["error"]["field"].as_str()), (409, Some("reference")), "{err}");

    // Validation errors name every field.
    let bad = r#"{"reference":"has space","amount":"12","currency":"XXX","due_date":"31/12/2030","extra":1}"#;
    let (status, err) = call(api, "POST", "/invoices", "/invoices", k, Some(bad)).await;
    assert_eq!(status, 422, "{err}");
    assert!(fields(&err).contains(&"body") && fields(&err).contains(&"amount"), "{err}");
    let (status, err) = call(
        api,
        "POST",
        "/invoices",
        "/invoices",
        k,
        Some(r#"{"reference":"A1","amount":0,"due_date":"2030-01-01"}"#),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(fields(&err), ["amount", "customer_name"], "{err}");
    // Dates far ahead are refused naming the field (the one at chrono's limit used to
    // panic the handler, leaving an empty reply).
    for (due, expiry, field) in
        [("+262142-12-31", None, "due_date"), ("2030-01-01", Some("+262142-12-31"), "expiry_date")]
    {
        let body = GOOD.replace("2030-12-31", due);
        let body = match expiry {
            Some(e) => body.replace(r#""customer_name""#, &format!(r#""expiry_date":"{e}","customer_name""#)),
            None => body,
        };
        let (status, err) = call(api, "POST", "/invoices", "/invoices", k, Some(&body)).await;
        assert_eq!(status, 422, "{err}");
        assert!(fields(&err).contains(&field), "{err}");
    }
    // A body over the limit: 413, in JSON like every API error.
    let huge = GOOD.replace("Jeanne Martin", &"J".repeat(3 << 20));
    let (status, err) = call(api, "POST", "/invoices", "/invoices", k, Some(&huge)).await;
    assert_eq!((status, err["error"]["field"].as_str()), (413, Some("body")), "{err}");
    let (status, err) = call(api, "POST", "/invoices", "/invoices", k, Some("not json")).await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("bad_body")));
    let (status, err) = call(api, "POST", "/invoices", "/invoices", k, Some("[1]")).await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("bad_body")));

    // Authentication, on every operation, and isolation.
    let cancel_path = format!("/invoices/{id}/cancel");
    for (method, template, path) in [
        ("GET", "/invoices", "/invoices"),
        ("POST", "/invoices", "/invoices"),
        ("GET", ONE, &format!("/invoices/{id}")),
        ("POST", CANCEL, &cancel_path),
        ("POST", IMPORT, IMPORT),
    ] {
        for bad_key in [None, Some("ivp_nope")] {
            let (status, e) = call(api, method, template, path, bad_key, Some(GOOD)).await;
            assert_eq!((status, e["error"]["code"].as_str()), (401, Some("unauthorized")), "{method} {path}");
        }
    }
    let (status, got) = call(api, "GET", ONE, &format!("/invoices/{id}"), k, None).await;
    assert_eq!((status, got["reference"].as_str()), (200, Some("FAC-2026-0042")));
    let (status, err) = call(api, "GET", ONE, &format!("/invoices/{id}"), other, None).await;
    assert_eq!((status, err["error"]["code"].as_str()), (404, Some("not_found")));

    // Listing with filters and pages.
    for i in 0..4 {
        let body = GOOD.replace("FAC-2026-0042", &format!("FAC-P{i}")).replace("12345", &format!("{}", 1000 + i));
        assert_eq!(call(api, "POST", "/invoices", "/invoices", k, Some(&body)).await.0, 201);
    }
    let (status, page) = call(api, "GET", "/invoices", "/invoices?limit=2", k, None).await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, page2) = call(api, "GET", "/invoices", &format!("/invoices?limit=2&cursor={cursor}"), k, None).await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 2);
    assert_ne!(page["items"][0]["id"], page2["items"][0]["id"]);
    let (_, filtered) = call(api, "GET", "/invoices", "/invoices?min_amount=1001&max_amount=1002", k, None).await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 2);
    let (status, err) = call(api, "GET", "/invoices", "/invoices?status=NOPE", k, None).await;
    assert_eq!((status, err["error"]["field"].as_str()), (422, Some("status")));
    let (status, err) = call(api, "GET", "/invoices", "/invoices?limit=0", k, None).await;
    assert_eq!((status, err["error"]["field"].as_str()), (422, Some("limit")));
    let (_, other_list) = call(api, "GET", "/invoices", "/invoices", other, None).await;
    assert_eq!(other_list["items"], Value::Array(vec![]));

    // Cancel, then a second cancel is harmless; the other merchant cannot.
    assert_eq!(call(api, "POST", CANCEL, &cancel_path, other, None).await.0, 404);
    let (status, c) = call(api, "POST", CANCEL, &cancel_path, k, None).await;
    assert_eq!((status, c["status"].as_str()), (200, Some("CANCELLED")));
    let (status, c) = call(api, "POST", CANCEL, &cancel_path, k, None).await;
    assert_eq!((status, c["status"].as_str()), (200, Some("CANCELLED")));
    let (_, cancelled) = call(api, "GET", "/invoices", "/invoices?status=cancelled", k, None).await;
    assert_eq!(cancelled["items"].as_array().unwrap().len(), 1);

    // Unknown paths are JSON too, and the OpenAPI description is published.
    let (status, e) = common::http(api, "GET", "/api/v1/nothing", k, None).await;
    assert_eq!((status, e["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, doc) = common::http(api, "GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!((status, doc["openapi"].as_str()), (200, Some("3.0.3")));
    assert_eq!(doc, common::openapi::doc(), "the server publishes the document the tests check against");
}

/// Every field a creation accepts is in the published input schema.
#[test]
fn every_input_field_is_documented() {
    let doc = common::openapi::doc();
    let input = &doc["components"]["schemas"]["InvoiceInput"]["properties"];
    for f in ivrpay::extranet::invoices::input_fields() {
        assert!(input.get(f).is_some(), "input field {f} undocumented");
    }
}

async fn csv_import_reports_every_bad_row_and_is_idempotent(config: Config) {
    let server = common::start(config).await;
    let (_, key) = server.ctx().store.create_merchant(&new_merchant("Import SARL")).await.unwrap();
    let api = server.http_addr();
    let k = Some(key.secret.as_str());
    let count =
        || async { call(api, "GET", "/invoices", "/invoices", k, None).await.1["items"].as_array().unwrap().len() };
    let file = "reference,amount,currency,due_date,customer_name\r\nC-1,120.50,EUR,2030-01-31,Jeanne Martin\r\nC-2,abc,EUR,2030-01-31,Paul Durand\r\nC-3,99,EUR,2030-01-31,Luc Petit\r\n";
    // A bad row: nothing imported, the row named with its line and reason.
    let (status, r) = call(api, "POST", IMPORT, IMPORT, k, Some(file)).await;
    assert_eq!((status, r["error"]["code"].as_str()), (422, Some("invalid_rows")), "{r}");
    assert_eq!(r["error"]["rows"][0]["line"], 3);
    assert_eq!(r["error"]["rows"][0]["field"], "amount");
    assert_eq!(count().await, 0, "nothing half-imported");
    // Asked for: the valid rows only.
    let valid = format!("{IMPORT}?valid_rows=true");
    let (status, r) = call(api, "POST", IMPORT, &valid, k, Some(file)).await;
    assert_eq!((status, r["imported"].as_i64(), r["rejected"].as_array().unwrap().len()), (200, Some(2), 1), "{r}");
    assert!(r["invoices"][0]["payment_code"].as_str().unwrap().len() == 9);
    // The same file again creates nothing new.
    let (_, r) = call(api, "POST", IMPORT, &valid, k, Some(file)).await;
    assert_eq!((r["imported"].as_i64(), r["existing"].as_i64()), (Some(0), Some(2)));
    // A reused reference with other content is a bad row.
    let changed = "reference,amount,due_date,customer_name\nC-1,1.00,2030-01-31,Jeanne Martin\n";
    let (status, r) = call(api, "POST", IMPORT, IMPORT, k, Some(changed)).await;
    assert_eq!((status, r["error"]["rows"][0]["field"].as_str()), (422, Some("reference")));
    let (_, list) = call(api, "GET", "/invoices", "/invoices?reference=C-1", k, None).await;
    assert_eq!(list["items"][0]["amount"], 12050);

    // A third row reusing a reference with only another description (or expiry): the
    // whole file is refused and nothing of it stored, not the first two rows.
    let head = "reference,amount,currency,due_date,expiry_date,customer_name,description\n";
    let stored = format!("{head}E-1,10,EUR,2030-01-31,2030-03-31,Jeanne Martin,janvier\n");
    assert_eq!(call(api, "POST", IMPORT, IMPORT, k, Some(&stored)).await.0, 200);
    let before = count().await;
    for third in [
        "E-1,10,EUR,2030-01-31,2030-03-31,Jeanne Martin,février",
        "E-1,10,EUR,2030-01-31,2030-04-30,Jeanne Martin,janvier",
    ] {
        let file = format!("{head}N-1,1,EUR,2030-01-31,,Paul,\nN-2,2,EUR,2030-01-31,,Luc,\n{third}\n");
        let (status, r) = call(api, "POST", IMPORT, IMPORT, k, Some(&file)).await;
        assert_eq!((status, r["error"]["code"].as_str()), (422, Some("invalid_rows")), "{r}");
        assert_eq!(
            (r["error"]["rows"][0]["line"].as_i64(), r["error"]["rows"][0]["field"].as_str()),
            (Some(4), Some("reference"))
        );
        assert_eq!(count().await, before, "nothing of the file was stored");
    }
    let file = format!("{head}N-1,1,EUR,2030-01-31,,Paul,\nN-2,2,EUR,2030-01-31,,Luc,\nE-1,10,EUR,2030-01-31,2030-03-31,Jeanne Martin,autre\n");
    let (status, r) = call(api, "POST", IMPORT, &valid, k, Some(&file)).await;
    assert_eq!((status, r["imported"].as_i64(), r["rejected"][0]["line"].as_i64()), (200, Some(2), Some(4)), "{r}");
    assert_eq!(count().await, before + 2, "only the valid rows");

    // Not UTF-8, a bad option: JSON errors naming them.
    let (status, e) = call(api, "POST", IMPORT, &format!("{IMPORT}?valid_rows=maybe"), k, Some(file.as_str())).await;
    assert_eq!((status, e["error"]["field"].as_str()), (400, Some("valid_rows")), "{e}");
}

async fn malformed_queries_are_json_naming_the_parameter(config: Config) {
    let server = common::start(config).await;
    let (_, key) = server.ctx().store.create_merchant(&new_merchant("Query SARL")).await.unwrap();
    let api = server.http_addr();
    let k = Some(key.secret.as_str());
    for (template, path, field) in [
        ("/invoices", "/invoices?limit=abc", "limit"),
        ("/invoices", "/invoices?min_amount=x", "min_amount"),
        ("/invoices", "/invoices?max_amount=1.5", "max_amount"),
        ("/invoices", "/invoices?limit=-1", "limit"),
        ("/invoices", "/invoices?cursor=garbage", "cursor"),
        ("/invoices", "/invoices?cursor=12.inv_x%27%20OR%201%3D1", "cursor"),
        ("/invoices", "/invoices?statuss=PAID", "statuss"),
        ("/invoices", "/invoices?limit=1&limit=2", "limit"),
        ("/transactions", "/transactions?form=2030-01-01", "form"),
        ("/journal.csv", "/journal.csv?until=2030-01-01", "until"),
        ("/invoices/import", "/invoices/import?valid_rows=1x", "valid_rows"),
    ] {
        let (status, e) =
            call(api, if path.contains("import") { "POST" } else { "GET" }, template, path, k, None).await;
        assert_eq!(
            (status, e["error"]["code"].as_str(), e["error"]["field"].as_str()),
            (400, Some("invalid_query"), Some(field)),
            "{path}: {e}"
        );
        assert!(!e["error"]["message"].as_str().unwrap().is_empty());
    }
    // Well-formed values that mean nothing are 422, naming the field.
    for (template, path, field) in [
        ("/transactions", "/transactions?from=2030-13-01", "from"),
        ("/transactions", "/transactions?to=tomorrow", "to"),
        ("/journal.csv", "/journal.csv?from=2030-02-01&to=2030-01-01", "from"),
        ("/invoices", "/invoices?created_from=01/02/2030", "created_from"),
    ] {
        let (status, e) = call(api, "GET", template, path, k, None).await;
        assert_eq!((status, e["error"]["field"].as_str()), (422, Some(field)), "{path}: {e}");
    }
}

async fn an_invoice_past_its_expiry_reads_as_expired_everywhere(config: Config) {
    let server = common::start(config).await;
    let store = &server.ctx().store;
    let (m, key) = store.create_merchant(&new_merchant("Expiry SARL")).await.unwrap();
    let api = server.http_addr();
    let k = Some(key.secret.as_str());
    // Expired yesterday (stored directly: the API refuses an expiry in the past), and
    // the periodic job has not run.
    let yesterday = chrono::Utc::now().date_naive().pred_opt().unwrap();
    let mut old = common::fixtures::invoice("OLD-1", 500);
    (old.due_date, old.expiry_date) = (NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(), yesterday);
    let Created::New(old) = store.create_invoice(&m.id, &old).await.unwrap() else { panic!() };
    let fresh = common::fixtures::stored_invoice(store, &m, "NEW-1", 700).await;
    let path = format!("/invoices/{}", old.id);

    let (status, got) = call(api, "GET", ONE, &path, k, None).await;
    assert_eq!((status, got["status"].as_str()), (200, Some("EXPIRED")));
    let (_, payable) = call(api, "GET", "/invoices", "/invoices?status=PAYABLE", k, None).await;
    let ids: Vec<&str> = payable["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [fresh.id.as_str()]);
    let (_, expired) = call(api, "GET", "/invoices", "/invoices?status=EXPIRED", k, None).await;
    assert_eq!(expired["items"][0]["id"].as_str(), Some(old.id.as_str()));
    assert_eq!(expired["items"].as_array().unwrap().len(), 1);
    let (status, e) = call(api, "POST", CANCEL, &format!("{path}/cancel"), k, None).await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (409, Some("status")),
        "an expired invoice cannot be cancelled: {e}"
    );
    assert!(e["error"]["message"].as_str().unwrap().contains("EXPIRED"), "{e}");
    assert_eq!(store.invoice_by_payment_code(&old.payment_code).await.unwrap().unwrap().status.as_str(), "EXPIRED");

    // The periodic job (run here at once, the server's own may have run too) writes it
    // down; reads stay the same and the fresh invoice is untouched.
    store.expire_due().await.unwrap();
    let row = sqlx::query("SELECT status FROM invoices WHERE id = $1").bind(&old.id).fetch_one(store.pool()).await;
    assert_eq!(sqlx::Row::try_get::<String, _>(&row.unwrap(), "status").unwrap(), "EXPIRED");
    let (_, got) = call(api, "GET", ONE, &path, k, None).await;
    assert_eq!(got["status"], "EXPIRED");
    let (_, fresh_now) = call(api, "GET", ONE, &format!("/invoices/{}", fresh.id), k, None).await;
    assert_eq!(fresh_now["status"], "PAYABLE");
}
