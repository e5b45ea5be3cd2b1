//! The transaction listing through the API: pages that neither overlap nor leave a
//! gap at any page size (rows of one millisecond parted by reference), the status and
//! date filters while paging, another merchant's cursor, and every bad parameter named;
//! each answer checked against the OpenAPI. On SQLite and PostgreSQL.

mod common;

use common::fixtures;
use ivrpay::config::Config;
use ivrpay::payments::authorize::PaymentOutcome;
use ivrpay::payments::merchant::{CaptureMode, Merchant};
use ivrpay::server::Server;
use serde_json::Value;

on_both_backends!(the_listing_pages_without_overlap_or_gap_and_filters_by_status);

const PAN: &str = fixtures::ACCEPTED_CARD;

/// GET of a `/api/v1/transactions` path, its answer checked against the document.
async fn list(api: std::net::SocketAddr, path: &str, key: Option<&str>) -> (u16, Value) {
    let under = path.strip_prefix("/api/v1").expect("an API path");
    common::openapi::call(api, "GET", "/transactions", under, key, None).await
}

async fn paid_transaction(server: &Server, m: &Merchant, reference: &str, pan: &str) -> String {
    let store = &server.ctx().store;
    let inv = fixtures::stored_invoice(store, m, reference, 10_000).await;
    match fixtures::pay(store, &server.ctx().gateway, m, &inv, pan, reference).await.unwrap() {
        PaymentOutcome::Accepted(t) | PaymentOutcome::Refused(t) => t.reference,
        other => panic!("{other:?}"),
    }
}

/// Every page of `path` (without cursor) followed through `next_cursor`: the references
/// in order and how many pages it took.
async fn all_pages(api: std::net::SocketAddr, key: &str, path: &str) -> (Vec<String>, usize) {
    let (mut seen, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let p = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_string(),
        };
        let (status, page) = list(api, &p, Some(key)).await;
        assert_eq!(status, 200, "{p}: {page}");
        pages += 1;
        seen.extend(page["items"].as_array().unwrap().iter().map(|t| t["reference"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return (seen, pages),
        }
        assert!(pages < 50, "{path} never ends");
    }
}

async fn the_listing_pages_without_overlap_or_gap_and_filters_by_status(config: Config) {
    let server = common::start(config).await;
    let store = &server.ctx().store;
    let api = server.http_addr();
    let (m, key) = store.create_merchant(&fixtures::merchant(CaptureMode::AuthorCapture, 2, None)).await.unwrap();
    let (other, other_key) =
        store.create_merchant(&fixtures::merchant(CaptureMode::AuthorCapture, 2, None)).await.unwrap();
    let k = key.secret.as_str();
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for i in 0..7 {
        // Paid one after another, often within the same millisecond: pages must then
        // part rows of equal created_at by reference.
        let pan = if i % 3 == 2 { "4100000000000605" } else { PAN };
        let r = paid_transaction(&server, &m, &format!("P-{i}"), pan).await;
        if i % 3 == 2 {
            refused.push(r)
        } else {
            accepted.push(r)
        }
    }
    let foreign = paid_transaction(&server, &other, "P-X", PAN).await;

    // One page of everything, oldest first, and no cursor after it.
    let (status, all) = list(api, "/api/v1/transactions?limit=200", Some(k)).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["next_cursor"], Value::Null);
    let every: Vec<String> =
        all["items"].as_array().unwrap().iter().map(|t| t["reference"].as_str().unwrap().to_string()).collect();
    let mut expected: Vec<String> = accepted.iter().chain(&refused).cloned().collect();
    expected.sort();
    let mut sorted = every.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "each of the merchant's transactions once, no other merchant's");
    assert!(!every.contains(&foreign));
    let created: Vec<&str> =
        all["items"].as_array().unwrap().iter().map(|t| t["created_at"].as_str().unwrap()).collect();
    assert!(created.windows(2).all(|w| w[0] <= w[1]), "oldest first: {created:?}");
    // The default page is 50: all seven, no cursor.
    let (_, default) = list(api, "/api/v1/transactions", Some(k)).await;
    assert_eq!((default["items"].as_array().unwrap().len(), &default["next_cursor"]), (7, &Value::Null));

    // Pages of 2 and of 3: the same rows in the same order, none twice, none missed.
    for limit in [1, 2, 3, 7] {
        let (seen, pages) = all_pages(api, k, &format!("/api/v1/transactions?limit={limit}")).await;
        assert_eq!(seen, every, "limit={limit}");
        assert_eq!(pages, 7usize.div_ceil(limit), "limit={limit}: a full last page has no cursor after it");
    }

    // The status filter, case-insensitive, also when paging.
    let (seen, _) = all_pages(api, k, "/api/v1/transactions?status=refused&limit=1").await;
    let mut r = refused.clone();
    r.sort_by_key(|x| every.iter().position(|e| e == x));
    assert_eq!(seen, r);
    let (seen, pages) = all_pages(api, k, "/api/v1/transactions?status=TO_CAPTURE&limit=2").await;
    assert_eq!((seen.len(), pages), (accepted.len(), 3));
    assert!(seen.iter().all(|x| accepted.contains(x)));
    let (status, none) = list(api, "/api/v1/transactions?status=CREDITED", Some(k)).await;
    assert_eq!((status, none["items"].as_array().unwrap().len()), (200, 0));
    // The date range still applies, with paging.
    let today = chrono::Utc::now().date_naive();
    let (seen, _) = all_pages(api, k, &format!("/api/v1/transactions?from={today}&to={today}&limit=4")).await;
    assert_eq!(seen, every);
    let (_, old) = list(api, "/api/v1/transactions?from=2020-01-01&to=2020-01-31&limit=1", Some(k)).await;
    assert_eq!((old["items"].as_array().unwrap().len(), &old["next_cursor"]), (0, &Value::Null));
    // Another merchant's cursor position does not reveal this merchant's rows to it.
    let (_, first) = list(api, "/api/v1/transactions?limit=1", Some(k)).await;
    let c = first["next_cursor"].as_str().unwrap().to_string();
    let (_, theirs) = list(api, &format!("/api/v1/transactions?cursor={c}"), Some(&other_key.secret)).await;
    assert!(theirs["items"].as_array().unwrap().iter().all(|t| t["reference"] == foreign.as_str()), "{theirs}");

    // Bad parameters: a JSON error naming the parameter.
    for (query, code, field) in [
        ("limit=0", 422, "limit"),
        ("limit=201", 422, "limit"),
        ("limit=abc", 400, "limit"),
        ("limit=-1", 400, "limit"),
        ("status=PAID", 422, "status"),
        ("status=TO_CAPTURE&limit=500", 422, "limit"),
        ("cursor=garbage", 400, "cursor"),
        ("cursor=12.a%20b", 400, "cursor"),
        ("cursor=x.IVR1", 400, "cursor"),
        ("sort=desc", 400, "sort"),
        ("limit=1&limit=2", 400, "limit"),
        ("from=2026-02-30", 422, "from"),
    ] {
        let (status, e) = list(api, &format!("/api/v1/transactions?{query}"), Some(k)).await;
        assert_eq!((status, e["error"]["field"].as_str()), (code, Some(field)), "{query}: {e}");
    }
    let (status, e) = list(api, "/api/v1/transactions?status=PAID&limit=0", Some(k)).await;
    let fields: Vec<&str> =
        e["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!((status, fields), (422, vec!["status", "limit"]), "every bad filter named at once: {e}");
    let (status, _) = list(api, "/api/v1/transactions?limit=2", Some("ivp_not_a_key")).await;
    assert_eq!(status, 401);
}
