//! The transaction journal: a merchant picks a date range, sees its transactions and
//! downloads them as CSV, the same file the API produces (`transactions::journal_csv`).

use super::forms::FieldErrors;
use super::{format, Current, Layout, PageError};
use crate::extranet::error::ApiError;
use crate::extranet::operations_journal::{operations_csv, operations_response};
use crate::extranet::transactions::{journal_csv, journal_response, range, CsvDialect, JournalQuery, Range};
use crate::extranet::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

/// A line of the on-screen journal.
pub struct Row {
    /// When the payment was made.
    pub time: String,
    /// The transaction's reference.
    pub reference: String,
    /// The invoice's id, for its link.
    pub invoice_id: String,
    /// The merchant's reference of the invoice.
    pub invoice_ref: String,
    /// The amount, formatted for the page's language.
    pub amount: String,
    /// The masked card number.
    pub card: String,
    /// The status in the page's language.
    pub status: &'static str,
    /// The status's code, for its colour.
    pub status_code: String,
}

#[derive(Template)]
#[template(path = "journal.html")]
struct JournalPage {
    l: Layout,
    from: String,
    to: String,
    query: String,
    /// The same range, for the spreadsheet variant of the file.
    query_spreadsheet: String,
    errors: FieldErrors,
    rows: Vec<Row>,
}

/// The range as the API reads it, or the field errors to show.
fn checked(cur: &Current, r: &Range) -> Result<(i64, i64), FieldErrors> {
    match range(r) {
        Ok(x) => Ok(x),
        Err(ApiError::Invalid(errs)) => Err(FieldErrors::from_core(cur.lang, &errs)),
        Err(_) => Err(FieldErrors::default()),
    }
}

/// GET /journal?from=&to=
pub async fn show(State(st): State<AppState>, cur: Current, Query(r): Query<Range>) -> Result<Response, PageError> {
    let merchant = cur.merchant_id()?;
    let from = r.from.clone().unwrap_or_default();
    let to = r.to.clone().unwrap_or_default();
    let (errors, rows) = match checked(&cur, &r) {
        Ok((a, b)) => {
            let mut rows = Vec::new();
            let references = st.store.invoice_references_paid_between(merchant, a, b).await?;
            for t in st.store.list_transactions(merchant, a, b).await? {
                let invoice_ref = references.get(&t.invoice_id).cloned().unwrap_or_default();
                rows.push(Row {
                    time: format::datetime(t.created_at),
                    invoice_id: t.invoice_id.clone(),
                    invoice_ref,
                    amount: format::money(cur.lang, t.amount, t.currency),
                    card: t.masked_pan.clone(),
                    status: format::status(cur.lang, t.status.as_str()),
                    status_code: t.status.as_str().to_ascii_lowercase(),
                    reference: t.reference,
                });
            }
            (FieldErrors::default(), rows)
        }
        Err(e) => (e, Vec::new()),
    };
    let page = JournalPage {
        l: Layout::new(&cur, cur.lang.texts().t_journal, "/journal"),
        query: format::query(&[("from", &from), ("to", &to)]),
        query_spreadsheet: format::query(&[("from", &from), ("to", &to), ("format", "csv-semicolon")]),
        from,
        to,
        errors,
        rows,
    };
    let status = if page.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    super::html(status, &page)
}

/// GET /operations.csv?from=&to=&format=: the operations journal of the same range.
pub async fn download_operations(
    State(st): State<AppState>,
    cur: Current,
    Query(q): Query<JournalQuery>,
) -> Result<Response, PageError> {
    let merchant_id = cur.merchant_id()?;
    let (r, dialect) = file_query(&cur, q)?;
    Ok(operations_response(operations_csv(&st.store, merchant_id, r, dialect).await?))
}

/// A download's range and dialect, or the 400 saying what is wrong.
fn file_query(cur: &Current, q: JournalQuery) -> Result<((i64, i64), CsvDialect), PageError> {
    let dialect = CsvDialect::parse(q.format.as_deref())
        .ok_or_else(|| PageError::BadRequest("format: csv or csv-semicolon".into()))?;
    match checked(cur, &Range { from: q.from, to: q.to }) {
        Ok(r) => Ok((r, dialect)),
        Err(errs) => Err(PageError::BadRequest(errs.get("from").to_string() + errs.get("to"))),
    }
}

/// GET /journal.csv?from=&to=&format=
pub async fn download(
    State(st): State<AppState>,
    cur: Current,
    Query(q): Query<JournalQuery>,
) -> Result<Response, PageError> {
    let merchant_id = cur.merchant_id()?;
    let m = st.store.merchant(merchant_id).await?.ok_or(PageError::NotFound)?;
    let (r, dialect) = file_query(&cur, q)?;
    Ok(journal_response(journal_csv(&st.store, &m, r, dialect).await?))
}
