//! CSV invoice import (`import::parse` of the main crate), on text a
//! merchant uploads through the extranet.
//!
//! The main crate pulls sqlx, axum and rustls, too heavy to build instrumented, so
//! this target compiles `src/payments/import.rs` itself, beside the proto modules it
//! uses (`super::invoice`, `super::money`, imported at the root here as
//! `src/payments/mod.rs` re-exports them).
//!
//! Beyond not panicking: every error line is within the file (line 0 only when csv
//! gives no position), accepted rows are at distinct lines after the header, never
//! both accepted and refused, their references unique and amounts positive.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;

// What `super::invoice` and `super::money` name inside import.rs.
use ivrpay_proto::payments::{invoice, money};

#[allow(dead_code)]
#[path = "../../src/payments/import.rs"]
mod import;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let parsed = import::parse(text, today);
    // Lines end as the csv reader ends records: CR LF, LF or a lone CR.
    let lines = text.replace("\r\n", "\n").split(['\n', '\r']).count() as u64;
    for e in &parsed.errors {
        assert!(e.line <= lines, "error on line {} of {lines}: {e:?}", e.line);
    }
    let mut refs = std::collections::HashSet::new();
    for (line, inv) in &parsed.rows {
        assert!(*line >= 2 && *line <= lines, "row on line {line} of {lines}");
        assert!(!parsed.errors.iter().any(|e| e.line == *line), "line {line} both accepted and refused");
        assert!(refs.insert(inv.reference.clone()), "reference accepted twice");
        assert!(inv.amount > 0, "amount {}", inv.amount);
    }
});
