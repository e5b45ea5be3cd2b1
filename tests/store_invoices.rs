//! Merchants, API keys and invoices in the store, the same assertions on SQLite and on
//! PostgreSQL.

mod common;

use chrono::NaiveDate;
use ivrpay::payments::check_digit;
use ivrpay::payments::invoice::same_content;
use ivrpay::payments::invoice::{InvoiceStatus, NewInvoice};
use ivrpay::payments::merchant::{CaptureMode, NewMerchant};
use ivrpay::payments::money::Currency;
use ivrpay::store::invoices::{Created, InvoiceFilter, RowOutcome};
use ivrpay::store::{Store, StoreError};

fn merchant(name: &str) -> NewMerchant {
    NewMerchant {
        name: name.into(),
        accepted_brands: vec!["CB".into(), "VISA".into(), "MASTERCARD".into()],
        capture_mode: CaptureMode::AuthorCapture,
        capture_day: 0,
        phone_number: "+33 1 84 88 00 00".into(),
        notification_url: None,
    }
}

fn invoice(reference: &str, amount: i64) -> NewInvoice {
    NewInvoice {
        reference: reference.into(),
        amount,
        currency: Currency::Eur,
        due_date: NaiveDate::from_ymd_opt(2030, 1, 31).unwrap(),
        expiry_date: NaiveDate::from_ymd_opt(2030, 3, 31).unwrap(),
        customer_name: "Jeanne Martin".into(),
        customer_contact: Some("jeanne@example.org".into()),
        description: None,
    }
}

async fn exercise(store: &Store, backend: &str) {
    let (m, key) = store.create_merchant(&merchant("Plomberie Dupont")).await.unwrap();
    let (other, _) = store.create_merchant(&merchant("Other SARL")).await.unwrap();
    assert_eq!(store.merchant_by_api_key(&key.secret).await.unwrap().unwrap().id, m.id, "{backend}");
    assert!(store.merchant_by_api_key("ivp_wrong").await.unwrap().is_none());

    // Create, with a keypad code that carries its check digit.
    let inv = match store.create_invoice(&m.id, &invoice("F-001", 12345)).await.unwrap() {
        Created::New(i) => i,
        other => panic!("{backend}: {other:?}"),
    };
    assert!(check_digit::is_valid(&inv.payment_code), "{backend}");
    assert_eq!((inv.amount, inv.currency, inv.status), (12345, Currency::Eur, InvoiceStatus::Payable));

    // Idempotent per reference; a different content is a conflict.
    assert_eq!(
        store.create_invoice(&m.id, &invoice("F-001", 12345)).await.unwrap(),
        Created::Existing(inv.clone()),
        "{backend}"
    );
    assert!(
        matches!(store.create_invoice(&m.id, &invoice("F-001", 999)).await, Err(StoreError::Conflict(_))),
        "{backend}"
    );
    // Another merchant may use the same reference, and cannot see this invoice.
    assert!(matches!(store.create_invoice(&other.id, &invoice("F-001", 5)).await.unwrap(), Created::New(_)));
    assert!(store.invoice(&other.id, &inv.id).await.unwrap().is_none(), "{backend}: isolation");

    // The phone line finds it by code.
    assert_eq!(store.invoice_by_payment_code(&inv.payment_code).await.unwrap().unwrap().id, inv.id);

    // Listing with filters and pagination.
    for i in 2..=6 {
        store.create_invoice(&m.id, &invoice(&format!("F-00{i}"), 1000 * i)).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.list_invoices(&m.id, &InvoiceFilter::default(), 2, cursor.as_deref()).await.unwrap();
        seen.extend(page.items.iter().map(|i| i.reference.clone()));
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["F-001", "F-002", "F-003", "F-004", "F-005", "F-006"], "{backend}");
    let f = InvoiceFilter { min_amount: Some(3000), max_amount: Some(5000), ..InvoiceFilter::default() };
    assert_eq!(store.list_invoices(&m.id, &f, 50, None).await.unwrap().items.len(), 3, "{backend}");
    let f = InvoiceFilter { reference: Some("F-004".into()), ..InvoiceFilter::default() };
    assert_eq!(store.list_invoices(&m.id, &f, 50, None).await.unwrap().items[0].amount, 4000);

    // Cancel: once; the code then designates a cancelled invoice.
    let c = store.cancel_invoice(&m.id, &inv.id).await.unwrap().unwrap();
    assert_eq!(c.status, InvoiceStatus::Cancelled);
    assert!(store.cancel_invoice(&other.id, &inv.id).await.unwrap().is_none());
    let f = InvoiceFilter { status: Some(InvoiceStatus::Cancelled), ..InvoiceFilter::default() };
    assert_eq!(store.list_invoices(&m.id, &f, 50, None).await.unwrap().items.len(), 1);
    assert_eq!(
        store.invoice_by_payment_code(&inv.payment_code).await.unwrap().unwrap().status,
        InvoiceStatus::Cancelled
    );

    // Expiry is applied automatically.
    let mut old = invoice("OLD-1", 500);
    old.due_date = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    old.expiry_date = NaiveDate::from_ymd_opt(2020, 2, 1).unwrap();
    let Created::New(old) = store.create_invoice(&m.id, &old).await.unwrap() else { panic!() };
    assert_eq!(store.invoice_by_payment_code(&old.payment_code).await.unwrap().unwrap().status, InvoiceStatus::Expired);

    // Read as it is now: past its expiry, EXPIRED for every read (not only the phone
    // line's), not listed as payable, not cancellable; expire_due writes it down once.
    assert_eq!(store.invoice(&m.id, &old.id).await.unwrap().unwrap().status, InvoiceStatus::Expired, "{backend}");
    assert_eq!(old.status, InvoiceStatus::Expired, "{backend}: as created");
    let payable = InvoiceFilter { status: Some(InvoiceStatus::Payable), ..InvoiceFilter::default() };
    let listed = store.list_invoices(&m.id, &payable, 50, None).await.unwrap().items;
    assert!(listed.iter().all(|i| i.id != old.id) && !listed.is_empty(), "{backend}");
    let expired = InvoiceFilter { status: Some(InvoiceStatus::Expired), ..InvoiceFilter::default() };
    let listed = store.list_invoices(&m.id, &expired, 50, None).await.unwrap().items;
    assert_eq!(listed.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), [old.id.as_str()], "{backend}");
    assert_eq!(store.cancel_invoice(&m.id, &old.id).await.unwrap().unwrap().status, InvoiceStatus::Expired);
    assert_eq!(store.expire_due().await.unwrap(), 1, "{backend}");
    assert_eq!(store.expire_due().await.unwrap(), 0, "{backend}");
    assert_eq!(store.invoice(&m.id, &old.id).await.unwrap().unwrap().status, InvoiceStatus::Expired);
    assert_eq!(store.invoice(&m.id, &inv.id).await.unwrap().unwrap().status, InvoiceStatus::Cancelled);

    // Revoked keys stop working.
    let extra = store.issue_api_key(&m.id, "second").await.unwrap();
    assert!(store.revoke_api_key(&m.id, &extra.id).await.unwrap());
    assert!(store.merchant_by_api_key(&extra.secret).await.unwrap().is_none());
}

/// A CSV import's batch: one transaction. Its third row reuses a reference for a
/// different invoice, found only at insert: nothing of the batch is stored; asked to
/// skip such rows, the others are stored and the row reported.
async fn batches(store: &Store, backend: &str) {
    let (m, _) = store.create_merchant(&merchant("Batch SARL")).await.unwrap();
    store.create_invoice(&m.id, &invoice("B-0", 100)).await.unwrap();
    let mut other_description = invoice("B-0", 100);
    other_description.description = Some("autre".into());
    let mut other_expiry = invoice("B-0", 100);
    other_expiry.expiry_date = NaiveDate::from_ymd_opt(2030, 4, 30).unwrap();
    let count = || async { store.list_invoices(&m.id, &InvoiceFilter::default(), 50, None).await.unwrap().items.len() };
    for third in [invoice("B-0", 999), other_description, other_expiry] {
        assert!(!same_content(&store.invoice_by_reference(&m.id, "B-0").await.unwrap().unwrap(), &third));
        let rows = [invoice("B-1", 1), invoice("B-2", 2), third, invoice("B-4", 4)];
        let batch = store.create_invoices(&m.id, &rows, false).await.unwrap();
        assert!(!batch.committed, "{backend}");
        assert!(matches!(batch.rows[2], RowOutcome::Conflict(_)), "{backend}: {:?}", batch.rows[2]);
        assert!(matches!(batch.rows[3], RowOutcome::New(_)), "{backend}: every row is still checked");
        assert_eq!(count().await, 1, "{backend}: nothing of the batch stored");
        assert!(store.invoice_by_reference(&m.id, "B-1").await.unwrap().is_none(), "{backend}");
    }
    let rows = [invoice("B-1", 1), invoice("B-0", 100), invoice("B-0", 5), invoice("B-4", 4)];
    let batch = store.create_invoices(&m.id, &rows, true).await.unwrap();
    assert!(batch.committed, "{backend}");
    assert!(
        matches!(
            &batch.rows[..],
            [RowOutcome::New(_), RowOutcome::Existing(_), RowOutcome::Conflict(_), RowOutcome::New(_)]
        ),
        "{backend}: {:?}",
        batch.rows
    );
    assert_eq!(count().await, 3, "{backend}: B-0, B-1, B-4");
    // The same batch again: nothing new (idempotent per reference).
    let again = store.create_invoices(&m.id, &[invoice("B-1", 1), invoice("B-4", 4)], false).await.unwrap();
    assert!(again.committed && again.rows.iter().all(|r| matches!(r, RowOutcome::Existing(_))), "{backend}");
    assert_eq!(count().await, 3);
}

#[tokio::test]
async fn import_batches_are_all_or_nothing_on_sqlite_and_postgres() {
    for db in common::TestDb::all().await {
        let store = Store::open(&db.url).await.unwrap_or_else(|e| panic!("{}: {e}", db.name));
        batches(&store, db.name).await;
        store.close().await;
        db.drop_pg().await;
    }
}

#[tokio::test]
async fn invoices_on_sqlite_and_postgres() {
    for db in common::TestDb::all().await {
        let store = Store::open(&db.url).await.unwrap_or_else(|e| panic!("{}: {e}", db.name));
        // Opening again finds the schema current.
        Store::open(&db.url).await.unwrap().close().await;
        exercise(&store, db.name).await;
        store.close().await;
        db.drop_pg().await;
    }
}

/// The store reads "now" from the clock it is given: the same invoice, payable by the
/// system's clock, is expired for a store whose clock runs past its expiry date, and
/// only that store's expiry run writes it down.
#[tokio::test]
async fn the_store_judges_expiry_by_the_clock_it_is_given_on_sqlite_and_postgres() {
    use ivrpay::payments::clock::ShiftedClock;
    use std::sync::Arc;
    for db in common::TestDb::all().await {
        let store = Store::open(&db.url).await.unwrap_or_else(|e| panic!("{}: {e}", db.name));
        let (m, _) = store.create_merchant(&merchant("Horloge SARL")).await.unwrap();
        let today = chrono::Utc::now().date_naive();
        let mut soon = invoice("SOON-1", 700);
        (soon.due_date, soon.expiry_date) = (today + chrono::Days::new(2), today + chrono::Days::new(3));
        let Created::New(soon) = store.create_invoice(&m.id, &soon).await.unwrap() else { panic!() };
        let clock = Arc::new(ShiftedClock::new());
        let later = store.clone().with_clock(clock.clone());
        assert_eq!(later.invoice(&m.id, &soon.id).await.unwrap().unwrap().status, InvoiceStatus::Payable);
        clock.advance(std::time::Duration::from_secs(5 * 86_400));
        assert!(later.now_ms() >= store.now_ms() + 5 * 86_400_000 - 1_000, "{}", db.name);
        assert_eq!(later.invoice(&m.id, &soon.id).await.unwrap().unwrap().status, InvoiceStatus::Expired);
        assert_eq!(store.invoice(&m.id, &soon.id).await.unwrap().unwrap().status, InvoiceStatus::Payable);
        assert_eq!(store.expire_due().await.unwrap(), 0, "{}: not yet by the system's clock", db.name);
        assert_eq!(later.expire_due().await.unwrap(), 1, "{}", db.name);
        assert_eq!(store.invoice(&m.id, &soon.id).await.unwrap().unwrap().status, InvoiceStatus::Expired);
        store.close().await;
        db.drop_pg().await;
    }
}
