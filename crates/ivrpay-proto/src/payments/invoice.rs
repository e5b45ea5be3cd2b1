//! Invoices (Sogefactures "pre-transactions"): what a merchant asks a customer to pay,
//! checked field by field before anything is stored, and the payment code the customer
//! types on the keypad to find it.

use super::check_digit;
use super::money::Currency;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Digits of the random part of a payment code; one check digit is appended. Nine
/// keys in all: short to type, and 10^8 codes leave collisions rare among the payable
/// invoices of every merchant (they are retried anyway).
pub const CODE_BASE_DIGITS: usize = 8;
/// Largest amount accepted, in minor units (Sips allows 12 digits).
pub const MAX_AMOUNT: i64 = 999_999_999_999;

/// Lifecycle of an invoice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InvoiceStatus {
    /// Can be paid by phone.
    Payable,
    /// Paid: its transaction is recorded.
    Paid,
    /// Withdrawn by the merchant.
    Cancelled,
    /// Past its expiry date without payment.
    Expired,
}

impl InvoiceStatus {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Payable => "PAYABLE",
            InvoiceStatus::Paid => "PAID",
            InvoiceStatus::Cancelled => "CANCELLED",
            InvoiceStatus::Expired => "EXPIRED",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<InvoiceStatus> {
        [InvoiceStatus::Payable, InvoiceStatus::Paid, InvoiceStatus::Cancelled, InvoiceStatus::Expired]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// A stored invoice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Invoice {
    /// Stable identifier (`inv_...`) that transactions point to.
    pub id: String,
    /// Owner; every read and write is scoped by it.
    pub merchant_id: String,
    /// The merchant's own invoice number, unique per merchant: importing it twice does not
    /// bill twice.
    pub reference: String,
    /// Minor units.
    pub amount: i64,
    /// Currency of `amount`, and of the payment taken for it.
    pub currency: Currency,
    /// Date the customer owes by; the IVR can read it out.
    pub due_date: NaiveDate,
    /// UTC milliseconds after which it can no longer be paid.
    pub expires_at: i64,
    /// Who owes it, shown in the extranet (never read out on the phone line).
    pub customer_name: String,
    /// How the merchant reaches the customer (e-mail, phone), free text.
    pub customer_contact: Option<String>,
    /// What the invoice is for, free text for the merchant.
    pub description: Option<String>,
    /// What the customer types on the keypad (check digit included).
    pub payment_code: String,
    /// Lifecycle state; PAYABLE past `expires_at` is treated as expired until the expiry
    /// job marks it.
    pub status: InvoiceStatus,
    /// When it was created (UTC ms); listings page on it.
    pub created_at: i64,
    /// Last status change (UTC ms); also bumped when a payment locks it.
    pub updated_at: i64,
}

/// How far ahead an invoice's dates may be: beyond, a date is a typo (and the date
/// arithmetic of a far date could overflow).
pub const HORIZON_YEARS: u32 = 10;

/// The end of the expiry day, in UTC milliseconds.
pub fn expiry_instant(d: NaiveDate) -> i64 {
    (d + chrono::Days::new(1)).and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().timestamp_millis()
}

/// Whether a stored invoice is the one `b` describes, every field compared (expiry
/// included): the one test of "the same invoice again" for creation, retries and CSV
/// imports, so the import's check and the store can never disagree.
pub fn same_content(a: &Invoice, b: &NewInvoice) -> bool {
    a.amount == b.amount
        && a.currency == b.currency
        && a.due_date == b.due_date
        && a.expires_at == expiry_instant(b.expiry_date)
        && a.customer_name == b.customer_name
        && a.customer_contact == b.customer_contact
        && a.description == b.description
}

/// A field that failed validation, named as in the API and the CSV header.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Field name.
    pub field: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

impl FieldError {
    /// A new error for `field`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        FieldError { field, message: message.into() }
    }
}

/// A validated invoice, ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewInvoice {
    /// Merchant's invoice number: up to 35 letters, digits, `-` or `_`; unique per merchant,
    /// so importing the same file twice bills once.
    pub reference: String,
    /// Minor units of `currency`; between 1 and [`MAX_AMOUNT`].
    pub amount: i64,
    /// Currency the customer pays in.
    pub currency: Currency,
    /// Date the payment is owed by.
    pub due_date: NaiveDate,
    /// Last day it can be paid (inclusive); defaults to 60 days after the due date.
    pub expiry_date: NaiveDate,
    /// Who owes it; 1 to 100 characters.
    pub customer_name: String,
    /// How to reach the customer; at most 200 characters, blanks become `None`.
    pub customer_contact: Option<String>,
    /// What it is for; at most 500 characters, blanks become `None`.
    pub description: Option<String>,
}

/// Raw input from the API, a form or a CSV row: everything as given, checked by
/// [`InvoiceInput::validate`].
#[derive(Clone, Debug, Default, Deserialize)]
pub struct InvoiceInput {
    /// Required; see [`NewInvoice::reference`].
    pub reference: Option<String>,
    /// Minor units.
    pub amount: Option<i64>,
    /// ISO 4217 code; blank or missing means EUR.
    pub currency: Option<String>,
    /// `YYYY-MM-DD`; required.
    pub due_date: Option<String>,
    /// `YYYY-MM-DD`; optional, not before `due_date`, not already past.
    pub expiry_date: Option<String>,
    /// Required, trimmed.
    pub customer_name: Option<String>,
    /// Optional, trimmed.
    pub customer_contact: Option<String>,
    /// Optional, trimmed.
    pub description: Option<String>,
}

impl InvoiceInput {
    /// Checks every field; returns all problems, not just the first, so a form or a CSV
    /// report can show them together.
    pub fn validate(&self, today: NaiveDate) -> Result<NewInvoice, Vec<FieldError>> {
        let mut errs = Vec::new();
        let reference = self.reference.as_deref().map(str::trim).unwrap_or("");
        if reference.is_empty() {
            errs.push(FieldError::new("reference", "is required"));
        } else if reference.len() > 35
            || !reference.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            errs.push(FieldError::new("reference", "use up to 35 letters, digits, '-' or '_'"));
        }
        let amount = match self.amount {
            None => {
                errs.push(FieldError::new("amount", "is required (in minor units, e.g. 12345 for 123.45)"));
                0
            }
            Some(a) if a <= 0 || a > MAX_AMOUNT => {
                errs.push(FieldError::new("amount", format!("must be between 1 and {MAX_AMOUNT} minor units")));
                0
            }
            Some(a) => a,
        };
        let currency = match self.currency.as_deref().map(str::trim) {
            None | Some("") => Some(Currency::Eur),
            Some(c) => {
                let cur = Currency::parse(c);
                if cur.is_none() {
                    errs.push(FieldError::new("currency", "unsupported; use EUR, USD, GBP, CHF or JPY"));
                }
                cur
            }
        };
        let date = |field: &'static str, v: &Option<String>, errs: &mut Vec<FieldError>| -> Option<NaiveDate> {
            let s = v.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
            match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) if today.checked_add_months(chrono::Months::new(12 * HORIZON_YEARS)).is_some_and(|h| d <= h) => {
                    Some(d)
                }
                Ok(_) => {
                    errs.push(FieldError::new(field, format!("must be within {HORIZON_YEARS} years from today")));
                    None
                }
                Err(_) => {
                    errs.push(FieldError::new(field, "use the format YYYY-MM-DD"));
                    None
                }
            }
        };
        let due_date = date("due_date", &self.due_date, &mut errs);
        if self.due_date.as_deref().map(str::trim).unwrap_or("").is_empty() {
            errs.push(FieldError::new("due_date", "is required"));
        }
        let expiry_date = date("expiry_date", &self.expiry_date, &mut errs);
        if let (Some(d), Some(e)) = (due_date, expiry_date) {
            if e < d {
                errs.push(FieldError::new("expiry_date", "must not be before the due date"));
            }
        }
        if let Some(e) = expiry_date.or(due_date.map(|d| d + chrono::Days::new(60))) {
            if e < today {
                errs.push(FieldError::new("expiry_date", "is already past"));
            }
        }
        let customer_name = self.customer_name.as_deref().map(str::trim).unwrap_or("").to_string();
        if customer_name.is_empty() {
            errs.push(FieldError::new("customer_name", "is required"));
        } else if customer_name.chars().count() > 100 {
            errs.push(FieldError::new("customer_name", "at most 100 characters"));
        }
        let opt = |v: &Option<String>, max: usize, field: &'static str, errs: &mut Vec<FieldError>| {
            let s = v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
            if s.as_ref().is_some_and(|s| s.chars().count() > max) {
                errs.push(FieldError::new(field, format!("at most {max} characters")));
            }
            s
        };
        let customer_contact = opt(&self.customer_contact, 200, "customer_contact", &mut errs);
        let description = opt(&self.description, 500, "description", &mut errs);
        if !errs.is_empty() {
            return Err(errs);
        }
        let due_date = due_date.expect("checked above");
        Ok(NewInvoice {
            reference: reference.to_string(),
            amount,
            currency: currency.expect("checked above"),
            due_date,
            expiry_date: expiry_date.unwrap_or(due_date + chrono::Days::new(60)),
            customer_name,
            customer_contact,
            description,
        })
    }
}

/// A fresh payment code: random digits plus a Damm check digit. The generator is the
/// caller's (the store seeds its own), so codes are reproducible in tests.
pub fn new_payment_code(rng: &mut dyn rand_core::RngCore) -> String {
    let base: String = (0..CODE_BASE_DIGITS).map(|_| char::from(b'0' + (rng.next_u32() % 10) as u8)).collect();
    check_digit::append_check_digit(&base).expect("digits only")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn input() -> InvoiceInput {
        InvoiceInput {
            reference: Some("INV-2026-001".into()),
            amount: Some(12345),
            currency: Some("EUR".into()),
            due_date: Some("2026-12-31".into()),
            customer_name: Some("Jeanne Martin".into()),
            ..InvoiceInput::default()
        }
    }

    #[test]
    fn a_good_invoice_gets_defaults() {
        let inv = input().validate(today()).unwrap();
        assert_eq!(inv.expiry_date, NaiveDate::from_ymd_opt(2027, 3, 1).unwrap());
        assert_eq!(inv.currency, Currency::Eur);
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = InvoiceInput {
            reference: Some("bad ref!".into()),
            amount: Some(0),
            currency: Some("XYZ".into()),
            due_date: Some("31/12/2026".into()),
            customer_name: Some(" ".into()),
            ..InvoiceInput::default()
        };
        let fields: Vec<&str> = bad.validate(today()).unwrap_err().iter().map(|e| e.field).collect();
        assert_eq!(fields, ["reference", "amount", "currency", "due_date", "customer_name"]);
        let past =
            InvoiceInput { expiry_date: Some("2026-01-01".into()), due_date: Some("2025-12-01".into()), ..input() };
        let e = past.validate(today()).unwrap_err();
        assert_eq!(e[0].field, "expiry_date");
    }

    #[test]
    fn payment_codes_carry_a_valid_check_digit() {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3);
        for _ in 0..1000 {
            let c = new_payment_code(&mut rng);
            assert_eq!(c.len(), CODE_BASE_DIGITS + 1);
            assert!(check_digit::is_valid(&c));
        }
    }
}
