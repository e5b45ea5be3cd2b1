//! `POST /api/v1/invoices/import`: a CSV file of invoices. Every bad row is reported
//! with its line and reason; with any bad row nothing is imported unless
//! `?valid_rows=true` asks for the valid ones. Rows whose reference already exists with
//! the same content are counted as existing, so a file can be sent again safely.

use super::auth::ApiMerchant;
use super::error::ApiError;
use super::AppState;
use crate::payments::import::{self, RowError};
use crate::store::invoices::Created;
use crate::store::StoreError;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

/// Query options.
#[derive(Debug, Default, Deserialize)]
pub struct ImportQuery {
    /// Import the valid rows even if others are bad.
    #[serde(default)]
    valid_rows: bool,
}

/// The handler.
pub async fn import(
    State(st): State<AppState>,
    ApiMerchant(m): ApiMerchant,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::BadBody("the file must be UTF-8 text".into()))?;
    let mut parsed = import::parse(text, chrono::Utc::now().date_naive());
    // A reference already used for a different invoice is a bad row too.
    for (line, inv) in &parsed.rows {
        if let Some(existing) = st.store.invoice_by_reference(&m.id, &inv.reference).await? {
            if existing.amount != inv.amount
                || existing.currency != inv.currency
                || existing.due_date != inv.due_date
                || existing.customer_name != inv.customer_name
            {
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
    if !parsed.errors.is_empty() && !q.valid_rows {
        let body = json!({"error": {"code": "invalid_rows", "field": "file", "message": format!("{} problem(s) found; nothing was imported (add ?valid_rows=true to import the valid rows)", parsed.errors.len()), "rows": parsed.errors}});
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
    }
    let (mut imported, mut existing, mut created) = (0, 0, Vec::new());
    for (line, inv) in parsed.rows.iter().filter(|(l, _)| !bad_lines.contains(l)) {
        match st.store.create_invoice(&m.id, inv).await {
            Ok(Created::New(i)) => {
                imported += 1;
                created
                    .push(json!({"line": line, "id": i.id, "reference": i.reference, "payment_code": i.payment_code}));
            }
            Ok(Created::Existing(i)) => {
                existing += 1;
                created
                    .push(json!({"line": line, "id": i.id, "reference": i.reference, "payment_code": i.payment_code}));
            }
            Err(StoreError::Conflict(reason)) => {
                parsed.errors.push(RowError { line: *line, field: "reference".into(), reason })
            }
            Err(e) => return Err(e.into()),
        }
    }
    let body = json!({"imported": imported, "existing": existing, "rejected": parsed.errors, "invoices": created, "phone_number": m.phone_number});
    Ok((StatusCode::OK, Json(body)).into_response())
}
