//! The operations journal: every cash operation a merchant's transactions were sent to
//! the platform for over a period (who asked, when, what, the platform's answer), as
//! CSV from the API (`GET /api/v1/operations.csv`) and the journal page.

use super::auth::ApiMerchant;
use super::error::ApiError;
use super::query::ApiQuery;
use super::transactions::{csv_download, CsvDialect, JournalQuery};
use super::AppState;
use crate::store::{Store, StoreError};
use axum::extract::State;
use axum::response::Response;

/// The file's columns.
pub const COLUMNS: [&str; 9] =
    ["DATE", "TRANSACTION_ID", "OPERATION", "AMOUNT", "CURRENCY", "ACTOR", "OUTCOME", "RESPONSE_CODE", "DETAIL"];

/// The operations answered in `[from, to)` (UTC ms) of a merchant, as CSV in `dialect`;
/// dates in UTC (ISO 8601).
pub async fn operations_csv(
    store: &Store,
    merchant_id: &str,
    (from, to): (i64, i64),
    dialect: CsvDialect,
) -> Result<String, StoreError> {
    let mut out = dialect.start(&COLUMNS);
    for e in store.cash_operation_log(merchant_id, from, to).await? {
        let at = chrono::DateTime::from_timestamp_millis(e.at).unwrap_or_default();
        let row = [
            at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            e.transaction_reference,
            e.operation,
            e.amount.to_string(),
            e.currency,
            e.actor,
            e.answer.outcome.as_str().to_string(),
            e.answer.response_code.unwrap_or_default(),
            e.answer.detail,
        ];
        out.push_str(&dialect.line(&row));
    }
    Ok(out)
}

/// The download headers of an operations journal.
pub fn operations_response(csv: String) -> Response {
    csv_download("operations", csv)
}

/// GET /api/v1/operations.csv?from=&to=&format=
pub async fn download(
    State(st): State<AppState>,
    ApiMerchant(m): ApiMerchant,
    ApiQuery(q): ApiQuery<JournalQuery>,
) -> Result<Response, ApiError> {
    let (r, dialect) = q.checked()?;
    Ok(operations_response(operations_csv(&st.store, &m.id, r, dialect).await?))
}
