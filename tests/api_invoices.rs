//! The merchants' HTTP API end to end: a real server, a real socket, a merchant created
//! with its API key; invoices created, read, listed, cancelled; every error is JSON that
//! names the field; one merchant never sees another's invoices.

mod common;

use common::http;
use ivrpay::payments::check_digit;
use ivrpay::store::merchants::{CaptureMode, NewMerchant};
use serde_json::Value;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_through_the_api() {
    let server = common::start(common::config()).await;
    let store = &server.ctx().store;
    let (_, key) = store.create_merchant(&new_merchant("Plomberie Dupont")).await.unwrap();
    let (_, other_key) = store.create_merchant(&new_merchant("Other")).await.unwrap();
    let api = server.http_addr();
    let k = Some(key.secret.as_str());

    let (status, inv) = http(api, "POST", "/api/v1/invoices", k, Some(GOOD)).await;
    assert_eq!(status, 201, "{inv}");
    let code = inv["payment_code"].as_str().unwrap();
    assert!(check_digit::is_valid(code) && code.len() == 9);
    assert_eq!(inv["phone_number"], "+33 9 70 00 00 00");
    assert_eq!(inv["amount_display"], "123.45 EUR");
    assert_eq!(inv["status"], "PAYABLE");
    let id = inv["id"].as_str().unwrap().to_string();

    // Retried request: same invoice, 200. Same reference, other amount: 409 naming it.
    let (status, again) = http(api, "POST", "/api/v1/invoices", k, Some(GOOD)).await;
    assert_eq!((status, again["id"].as_str()), (200, Some(id.as_str())));
    let (status, err) = http(api, "POST", "/api/v1/invoices", k, Some(&GOOD.replace("12345", "999"))).await;
    assert_eq!((status, err["error"]["field"].as_str()), (409, Some("reference")), "{err}");

    // Validation errors name every field.
    let bad = r#"{"reference":"has space","amount":"12","currency":"XXX","due_date":"31/12/2030","extra":1}"#;
    let (status, err) = http(api, "POST", "/api/v1/invoices", k, Some(bad)).await;
    assert_eq!(status, 422, "{err}");
    let fields: Vec<&str> =
        err["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"body") && fields.contains(&"amount"), "{err}");
    let (status, err) =
        http(api, "POST", "/api/v1/invoices", k, Some(r#"{"reference":"A1","amount":0,"due_date":"2030-01-01"}"#))
            .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> =
        err["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["amount", "customer_name"], "{err}");
    let (status, err) = http(api, "POST", "/api/v1/invoices", k, Some("not json")).await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("bad_body")));

    // Authentication and isolation.
    assert_eq!(http(api, "GET", "/api/v1/invoices", None, None).await.0, 401);
    assert_eq!(http(api, "GET", "/api/v1/invoices", Some("ivp_nope"), None).await.0, 401);
    let (status, got) = http(api, "GET", &format!("/api/v1/invoices/{id}"), k, None).await;
    assert_eq!((status, got["reference"].as_str()), (200, Some("FAC-2026-0042")));
    let (status, err) = http(api, "GET", &format!("/api/v1/invoices/{id}"), Some(&other_key.secret), None).await;
    assert_eq!((status, err["error"]["code"].as_str()), (404, Some("not_found")));

    // Listing with filters and pages.
    for i in 0..4 {
        let body = GOOD.replace("FAC-2026-0042", &format!("FAC-P{i}")).replace("12345", &format!("{}", 1000 + i));
        assert_eq!(http(api, "POST", "/api/v1/invoices", k, Some(&body)).await.0, 201);
    }
    let (status, page) = http(api, "GET", "/api/v1/invoices?limit=2", k, None).await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, page2) = http(api, "GET", &format!("/api/v1/invoices?limit=2&cursor={cursor}"), k, None).await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 2);
    let (_, filtered) = http(api, "GET", "/api/v1/invoices?min_amount=1001&max_amount=1002", k, None).await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 2);
    let (status, err) = http(api, "GET", "/api/v1/invoices?status=NOPE", k, None).await;
    assert_eq!((status, err["error"]["field"].as_str()), (422, Some("status")));
    let (_, other_list) = http(api, "GET", "/api/v1/invoices", Some(&other_key.secret), None).await;
    assert_eq!(other_list["items"], Value::Array(vec![]));

    // Cancel, then a second cancel is harmless; the other merchant cannot.
    assert_eq!(http(api, "POST", &format!("/api/v1/invoices/{id}/cancel"), Some(&other_key.secret), None).await.0, 404);
    let (status, c) = http(api, "POST", &format!("/api/v1/invoices/{id}/cancel"), k, None).await;
    assert_eq!((status, c["status"].as_str()), (200, Some("CANCELLED")));
    let (_, cancelled) = http(api, "GET", "/api/v1/invoices?status=cancelled", k, None).await;
    assert_eq!(cancelled["items"].as_array().unwrap().len(), 1);

    // Unknown paths are JSON too, and the OpenAPI description is published.
    assert_eq!(http(api, "GET", "/api/v1/nothing", k, None).await.0, 404);
    let (status, doc) = http(api, "GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!((status, doc["openapi"].as_str()), (200, Some("3.0.3")));
}

/// Every field the OpenAPI document promises for an invoice is in the real answer, and
/// nothing undocumented appears: the published description and the server agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_match_the_published_openapi_schema() {
    let server = common::start(common::config()).await;
    let (_, key) = server.ctx().store.create_merchant(&new_merchant("Schema SARL")).await.unwrap();
    let doc: Value = serde_json::from_str(ivrpay::extranet::OPENAPI).unwrap();
    let schema = &doc["components"]["schemas"]["Invoice"];
    let (status, inv) = http(server.http_addr(), "POST", "/api/v1/invoices", Some(&key.secret), Some(GOOD)).await;
    assert_eq!(status, 201);
    let props = schema["properties"].as_object().unwrap();
    for req in schema["required"].as_array().unwrap() {
        assert!(inv.get(req.as_str().unwrap()).is_some_and(|v| !v.is_null()), "missing {req}");
    }
    for (k, v) in inv.as_object().unwrap() {
        let p = props.get(k).unwrap_or_else(|| panic!("undocumented field {k}"));
        let ty = p["type"].as_str().unwrap();
        let ok = match ty {
            "string" => v.is_string() || (v.is_null() && p["nullable"] == true),
            "integer" => v.is_i64(),
            _ => true,
        };
        assert!(ok, "{k} = {v} is not {ty}");
    }
    let input = &doc["components"]["schemas"]["InvoiceInput"]["properties"];
    for f in ivrpay::extranet::invoices::input_fields() {
        assert!(input.get(f).is_some(), "input field {f} undocumented");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_import_reports_every_bad_row_and_is_idempotent() {
    let server = common::start(common::config()).await;
    let (_, key) = server.ctx().store.create_merchant(&new_merchant("Import SARL")).await.unwrap();
    let api = server.http_addr();
    let k = Some(key.secret.as_str());
    let file = "reference,amount,currency,due_date,customer_name\r\nC-1,120.50,EUR,2030-01-31,Jeanne Martin\r\nC-2,abc,EUR,2030-01-31,Paul Durand\r\nC-3,99,EUR,2030-01-31,Luc Petit\r\n";
    // A bad row: nothing imported, the row named with its line and reason.
    let (status, r) = http(api, "POST", "/api/v1/invoices/import", k, Some(file)).await;
    assert_eq!(status, 422, "{r}");
    assert_eq!(r["error"]["rows"][0]["line"], 3);
    assert_eq!(r["error"]["rows"][0]["field"], "amount");
    let (_, list) = http(api, "GET", "/api/v1/invoices", k, None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "nothing half-imported");
    // Asked for: the valid rows only.
    let (status, r) = http(api, "POST", "/api/v1/invoices/import?valid_rows=true", k, Some(file)).await;
    assert_eq!((status, r["imported"].as_i64(), r["rejected"].as_array().unwrap().len()), (200, Some(2), 1), "{r}");
    assert!(r["invoices"][0]["payment_code"].as_str().unwrap().len() == 9);
    // The same file again creates nothing new.
    let (_, r) = http(api, "POST", "/api/v1/invoices/import?valid_rows=true", k, Some(file)).await;
    assert_eq!((r["imported"].as_i64(), r["existing"].as_i64()), (Some(0), Some(2)));
    // A reused reference with other content is a bad row.
    let changed = "reference,amount,due_date,customer_name\nC-1,1.00,2030-01-31,Jeanne Martin\n";
    let (status, r) = http(api, "POST", "/api/v1/invoices/import", k, Some(changed)).await;
    assert_eq!((status, r["error"]["rows"][0]["field"].as_str()), (422, Some("reference")));
    let (_, list) = http(api, "GET", "/api/v1/invoices?reference=C-1", k, None).await;
    assert_eq!(list["items"][0]["amount"], 12050);
}
