//! Test-only domain values shared by the engine's, the call core's and the Pair
//! harness's tests: one invoice and one merchant, so a change to either type is made
//! once here.

use super::check_digit::append_check_digit;
use super::invoice::{Invoice, InvoiceStatus};
use super::merchant::{CaptureMode, Merchant};
use super::money::Currency;
use chrono::NaiveDate;

/// Invoice FAC-42 of merchant `mer_1`: 123.45 EUR due 2026-12-31, code 48015273 with its
/// check digit, in `status`.
pub fn invoice(status: InvoiceStatus) -> Invoice {
    Invoice {
        id: "inv_1".into(),
        merchant_id: "mer_1".into(),
        reference: "FAC-42".into(),
        amount: 12345,
        currency: Currency::Eur,
        due_date: NaiveDate::from_ymd_opt(2026, 12, 31).expect("a date"),
        expires_at: i64::MAX,
        customer_name: "Jeanne Martin".into(),
        customer_contact: None,
        description: None,
        payment_code: append_check_digit("48015273").expect("digits"),
        status,
        created_at: 0,
        updated_at: 0,
    }
}

/// Merchant `mer_1` accepting `brands`, captured at once.
pub fn merchant(brands: &[&str]) -> Merchant {
    Merchant {
        id: "mer_1".into(),
        name: "Plomberie Dupont".into(),
        accepted_brands: brands.iter().map(|b| b.to_string()).collect(),
        capture_mode: CaptureMode::AuthorCapture,
        capture_day: 0,
        phone_number: "+33970000000".into(),
        notification_url: None,
        created_at: 0,
    }
}
