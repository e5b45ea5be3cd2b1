//! `POST /api/v1/invoices/import`: a CSV file of invoices. Every bad row is reported
//! with its line and reason; with any bad row nothing is imported unless
//! `?valid_rows=true` asks for the valid ones. Rows whose reference already exists with
//! the same content are counted as existing, so a file can be sent again safely.

use super::auth::ApiMerchant;
use super::error::ApiError;
use super::query::ApiQuery;
use super::AppState;
use crate::payments::import::{self, RowError};
use crate::payments::invoice::NewInvoice;
use crate::payments::invoice::{same_content, Invoice};
use crate::store::invoices::RowOutcome;
use crate::store::{Store, StoreError};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

/// Query options (an unknown one is refused).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Import the valid rows even if others are bad.
    #[serde(default)]
    valid_rows: bool,
}

/// One invoice of an imported file, new or already there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedRow {
    /// Line in the file.
    pub line: u64,
    /// The invoice's id, for the API's later calls.
    pub id: String,
    /// The merchant's reference, to match the row in its own books.
    pub reference: String,
    /// What the customer types on the phone, to print on the invoice sent.
    pub payment_code: String,
    /// False when the reference already existed with the same content.
    pub new: bool,
}

/// What an import did, shared by the API and the extranet pages.
#[derive(Clone, Debug, Default)]
pub struct ImportReport {
    /// Whether rows were stored: false when bad rows stopped the whole file.
    pub applied: bool,
    /// Rows stored now.
    pub imported: u64,
    /// Rows whose reference already existed with the same content.
    pub existing: u64,
    /// Every bad row, by line.
    pub rejected: Vec<RowError>,
    /// The invoices of the file, in file order.
    pub invoices: Vec<ImportedRow>,
    /// Rows that would be stored if the valid ones were asked for.
    pub valid_rows: u64,
}

/// Invoices written per database transaction: the write lock is never held for a
/// whole file, so calls and payments get their turn between chunks.
const CHUNK: usize = 500;

/// Checks a whole file and stores its rows: all of them, or none if any is bad, unless
/// `valid_rows` asks for the good ones. The one import both the API and the pages use.
/// The file is parsed on a blocking thread (never on an async worker), checked whole,
/// then written in chunks of [`CHUNK`] rows. A reference taken by another invoice
/// between the check and the write (a concurrent import) is reported for its row while
/// the rest is stored; sending the file again is safe, since rows already stored with
/// the same content count as existing.
pub async fn run(store: &Store, merchant_id: &str, text: &str, valid_rows: bool) -> Result<ImportReport, StoreError> {
    let (owned, today) = (text.to_string(), chrono::Utc::now().date_naive());
    let mut parsed = tokio::task::spawn_blocking(move || import::parse(&owned, today))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    // A reference already used for a different invoice is a bad row too (the same
    // comparison the store makes at insert).
    for (line, inv) in &parsed.rows {
        if let Some(existing) = store.invoice_by_reference(merchant_id, &inv.reference).await? {
            if !same_content(&existing, inv) {
                parsed.errors.push(RowError {
                    line: *line,
                    field: "reference".into(),
                    reason: "already used for a different invoice".into(),
                });
            }
        }
    }
    parsed.errors.sort_by_key(|e| e.line);
    let bad_lines: std::collections::HashSet<u64> = parsed.errors.iter().map(|e| e.line).collect();
    let good: Vec<&(u64, NewInvoice)> = parsed.rows.iter().filter(|(l, _)| !bad_lines.contains(l)).collect();
    let mut report = ImportReport { valid_rows: good.len() as u64, ..ImportReport::default() };
    if !parsed.errors.is_empty() && !valid_rows {
        report.rejected = parsed.errors;
        return Ok(report);
    }
    for chunk in good.chunks(CHUNK) {
        let rows: Vec<NewInvoice> = chunk.iter().map(|(_, inv)| inv.clone()).collect();
        let batch = store.create_invoices(merchant_id, &rows, true).await?;
        for ((line, _), outcome) in chunk.iter().zip(batch.rows) {
            let row = |i: Invoice, new| ImportedRow {
                line: *line,
                id: i.id,
                reference: i.reference,
                payment_code: i.payment_code,
                new,
            };
            match outcome {
                RowOutcome::New(i) => {
                    report.imported += 1;
                    report.invoices.push(row(i, true));
                }
                RowOutcome::Existing(i) => {
                    report.existing += 1;
                    report.invoices.push(row(i, false));
                }
                RowOutcome::Conflict(reason) => {
                    report.valid_rows -= 1;
                    parsed.errors.push(RowError { line: *line, field: "reference".into(), reason })
                }
            }
        }
    }
    parsed.errors.sort_by_key(|e| e.line);
    report.applied = true;
    report.rejected = parsed.errors;
    Ok(report)
}

/// The handler.
pub async fn import(
    State(st): State<AppState>,
    ApiMerchant(m): ApiMerchant,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::BadBody("the file must be UTF-8 text".into()))?;
    let r = run(&st.store, &m.id, text, q.valid_rows).await?;
    if !r.applied {
        let body = json!({"error": {"code": "invalid_rows", "field": "file", "message": format!("{} problem(s) found; nothing was imported (add ?valid_rows=true to import the valid rows)", r.rejected.len()), "rows": r.rejected}});
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
    }
    let created: Vec<_> = r
        .invoices
        .iter()
        .map(|i| json!({"line": i.line, "id": i.id, "reference": i.reference, "payment_code": i.payment_code}))
        .collect();
    let body = json!({"imported": r.imported, "existing": r.existing, "rejected": r.rejected, "invoices": created, "phone_number": m.phone_number});
    Ok((StatusCode::OK, Json(body)).into_response())
}
