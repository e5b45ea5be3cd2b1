//! `/api/v1/transactions`: a merchant's card transactions, their history, and the
//! transaction journal as CSV (cash operations and duplicates: `extranet::operations`).

use super::auth::ApiMerchant;
use super::error::ApiError;
use super::query::ApiQuery;
use super::AppState;
use crate::payments::cash::Amounts;
use crate::payments::invoice::FieldError;
use crate::payments::merchant::Merchant;
use crate::payments::status::TransactionStatus;
use crate::payments::transaction::{HistoryEntry, Transaction};
use crate::store::cash::{is_stored_status, TransactionFilter};
use crate::store::{Store, StoreError};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

const DAY_MS: i64 = 86_400_000;

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The JSON form of a transaction (the card only masked; guarantee always stated).
pub fn transaction_json(t: &Transaction, history: Option<&[HistoryEntry]>) -> Value {
    let mut v = json!({
        "reference": t.reference,
        "invoice_id": t.invoice_id,
        "amount": t.amount,
        "current_amount": t.current_amount,
        "refunded_amount": t.refunded_amount,
        "currency": t.currency,
        "masked_pan": t.masked_pan,
        "brand": t.brand,
        "expiry_month": t.expiry_month,
        "channel": t.channel,
        "order_channel": t.order_channel,
        "response_code": t.response_code,
        "acquirer_response_code": t.acquirer_response_code,
        "authorisation_id": t.authorisation_id,
        "guarantee_indicator": t.guarantee_indicator,
        "guaranteed": t.guarantee_indicator == "Y",
        "capture_mode": t.capture_mode,
        "capture_day": t.capture_day,
        "capture_at": rfc3339(t.capture_at),
        "status": t.status,
        "caller": t.caller,
        "call_id": t.call_id,
        "created_at": rfc3339(t.created_at),
        "updated_at": rfc3339(t.updated_at),
        "duplicated_from": t.duplicated_from,
    });
    if let Some(h) = history {
        v["history"] = h
            .iter()
            .map(|e| json!({"at": rfc3339(e.at), "from": e.from_status, "to": e.to_status, "amount": e.amount, "by": e.actor, "detail": e.detail}))
            .collect();
    }
    v
}

/// Date range parameters (`YYYY-MM-DD`, `to` inclusive); default the last 30 days.
#[derive(Debug, Default, Deserialize)]
pub struct Range {
    /// First day, `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Last day (inclusive), `YYYY-MM-DD`.
    pub to: Option<String>,
}

/// The API's form of [`Range`]: an unknown parameter is refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// First day, `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Last day (inclusive), `YYYY-MM-DD`.
    pub to: Option<String>,
}

/// The journal's query: a date range and the file's [`CsvDialect`] (`format`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalQuery {
    /// First day, `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Last day (inclusive), `YYYY-MM-DD`.
    pub to: Option<String>,
    /// `csv` (default) or `csv-semicolon`.
    pub format: Option<String>,
}

impl JournalQuery {
    /// The `[from, to)` instants and the dialect, or the API's error naming the field.
    pub fn checked(self) -> Result<((i64, i64), CsvDialect), ApiError> {
        let dialect = dialect(self.format.as_deref())?;
        Ok((range(&Range { from: self.from, to: self.to })?, dialect))
    }
}

impl From<RangeQuery> for Range {
    fn from(q: RangeQuery) -> Range {
        Range { from: q.from, to: q.to }
    }
}

/// The `[from, to)` instants of a day range, defaulting to the last 30 days; errors
/// name the field (shared with the pages, which show them beside it).
pub fn range(r: &Range) -> Result<(i64, i64), ApiError> {
    let day = |field: &'static str, v: &Option<String>| -> Result<Option<i64>, FieldError> {
        match v.as_deref().filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| Some(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis()))
                .map_err(|_| FieldError::new(field, "use the format YYYY-MM-DD")),
        }
    };
    let from = day("from", &r.from).map_err(|e| ApiError::Invalid(vec![e]))?;
    let to = day("to", &r.to).map_err(|e| ApiError::Invalid(vec![e]))?;
    let now = chrono::Utc::now().timestamp_millis();
    let to = to.map(|t| t + DAY_MS).unwrap_or(now + 1);
    let from = from.unwrap_or(to - 30 * DAY_MS);
    if from >= to {
        return Err(ApiError::Invalid(vec![FieldError::new("from", "must be on or before 'to'")]));
    }
    Ok((from, to))
}

/// Most transactions one page of the listing holds (and the default): bounded so one
/// request never reads a merchant's whole history.
pub const MAX_LIMIT: u32 = 200;
const DEFAULT_LIMIT: u32 = 50;

/// Query parameters of the listing (an unknown one is refused, so a misspelt filter
/// does not silently list everything).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// First day, `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Last day (inclusive), `YYYY-MM-DD`.
    pub to: Option<String>,
    /// Only transactions in this status.
    pub status: Option<String>,
    /// Transactions per page, 1 to [`MAX_LIMIT`].
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page, as given.
    pub cursor: Option<String>,
}

/// GET /api/v1/transactions?from=&to=&status=&limit=&cursor=
pub async fn list(
    State(st): State<AppState>,
    ApiMerchant(m): ApiMerchant,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let cursor = super::query::page_cursor(q.cursor.as_deref())?;
    let mut errs = Vec::new();
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            let status = TransactionStatus::parse(&s.to_ascii_uppercase()).filter(|s| is_stored_status(*s));
            if status.is_none() {
                let all: Vec<_> =
                    TransactionStatus::ALL.into_iter().filter(|s| is_stored_status(*s)).map(|s| s.as_str()).collect();
                errs.push(FieldError::new("status", format!("use one of {}", all.join(", "))));
            }
            status
        }
    };
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        errs.push(FieldError::new("limit", format!("between 1 and {MAX_LIMIT}")));
    }
    let (from, to) = match range(&Range { from: q.from, to: q.to }) {
        Ok(r) => r,
        Err(ApiError::Invalid(e)) => {
            errs.extend(e);
            (0, 0)
        }
        Err(e) => return Err(e),
    };
    if !errs.is_empty() {
        return Err(ApiError::Invalid(errs));
    }
    let filter = TransactionFilter { from, to, status };
    let page = st.store.list_transactions_page(&m.id, &filter, limit, cursor).await?;
    let items: Vec<Value> = page.items.iter().map(|t| transaction_json(t, None)).collect();
    Ok(Json(json!({ "items": items, "next_cursor": page.next })))
}

/// GET /api/v1/transactions/{reference}
pub async fn get(
    State(st): State<AppState>,
    ApiMerchant(m): ApiMerchant,
    Path(reference): Path<String>,
) -> Result<Response, ApiError> {
    let t = st.store.transaction(&reference).await?.filter(|t| t.merchant_id == m.id).ok_or(ApiError::NotFound)?;
    let h = st.store.history(&reference).await?;
    Ok(([(header::ETAG, etag(&t))], Json(transaction_json(&t, Some(&h)))).into_response())
}

/// The transaction's cash state as an HTTP entity tag (`"TO_CAPTURE/2500/0"`): sent
/// back in `If-Match`, it makes a cash operation apply only to the state its client saw,
/// so a request retried after a lost answer is refused (412) instead of applied twice.
pub fn etag(t: &Transaction) -> String {
    format!("\"{}/{}/{}\"", t.status, t.current_amount, t.refunded_amount)
}

/// The state an `If-Match` value names; None when it is not one of [`etag`]'s.
pub fn parse_etag(v: &str) -> Option<Amounts> {
    let inner = v.trim().strip_prefix('"')?.strip_suffix('"')?;
    let mut parts = inner.split('/');
    // A status this server never gives is no ETag of ours.
    let status = TransactionStatus::parse(parts.next()?)?;
    let current = parts.next()?.parse().ok()?;
    let refunded = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some(Amounts { status, current, refunded })
}

/// Columns of the CSV journal, named after the Sips transaction journal (TABLE_V14).
pub const JOURNAL_COLUMNS: [&str; 19] = [
    "TRANSACTION_ID",
    "MERCHANT_ID",
    "PAYMENT_MEANS",
    "ORIGIN_AMOUNT",
    "AMOUNT",
    "REFUNDED_AMOUNT",
    "CURRENCY_CODE",
    "PAYMENT_DATE",
    "PAYMENT_TIME",
    "CARD_VALIDITY",
    "CARD_NUMBER",
    "RESPONSE_CODE",
    "BANK_RESPONSE_CODE",
    "AUTORISATION_ID",
    "CAPTURE_DATE",
    "TRANSACTION_STATUS",
    "3D_LS",
    "CHANNEL_ALIAS",
    "INVOICE_ID",
];

/// How a journal file is written: the Sips-like comma file for programs, or the variant
/// a French spreadsheet opens as is (`;` between fields, where `,` is the decimal
/// separator, and a UTF-8 byte order mark so accents are read as UTF-8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CsvDialect {
    /// `,`, no byte order mark (`format=csv`, the default).
    #[default]
    Comma,
    /// `;` and a UTF-8 byte order mark (`format=csv-semicolon`).
    Spreadsheet,
}

impl CsvDialect {
    /// The `format` parameter's value; `None` for one this server does not write.
    pub fn parse(v: Option<&str>) -> Option<CsvDialect> {
        match v.unwrap_or("") {
            "" | "csv" => Some(CsvDialect::Comma),
            "csv-semicolon" => Some(CsvDialect::Spreadsheet),
            _ => None,
        }
    }

    fn separator(self) -> char {
        match self {
            CsvDialect::Comma => ',',
            CsvDialect::Spreadsheet => ';',
        }
    }

    /// A field, quoted when it holds the separator, a quote or a line break.
    fn field(self, s: &str) -> String {
        if s.contains([self.separator(), '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }

    /// A file's start: the byte order mark if the dialect has one, then the header line.
    pub(crate) fn start(self, columns: &[&str]) -> String {
        let mut out = String::new();
        if self == CsvDialect::Spreadsheet {
            out.push('\u{feff}');
        }
        out.push_str(&self.line(&columns.iter().map(|c| c.to_string()).collect::<Vec<_>>()));
        out
    }

    /// One line of fields, CRLF-terminated.
    pub(crate) fn line(self, fields: &[String]) -> String {
        let sep = self.separator().to_string();
        let mut out = fields.iter().map(|f| self.field(f)).collect::<Vec<_>>().join(&sep);
        out.push_str("\r\n");
        out
    }
}

/// The `format` parameter as a dialect, or the API's 400 naming it.
pub fn dialect(v: Option<&str>) -> Result<CsvDialect, ApiError> {
    CsvDialect::parse(v).ok_or_else(|| ApiError::BadQuery {
        field: "format".into(),
        message: "format: use csv or csv-semicolon".into(),
    })
}

/// The transaction journal of a merchant for `[from, to)` (UTC ms) as CSV, the same for
/// the API and the extranet pages: Sips column names, masked card numbers only.
pub async fn journal_csv(
    store: &Store,
    m: &Merchant,
    (from, to): (i64, i64),
    dialect: CsvDialect,
) -> Result<String, StoreError> {
    let mut out = dialect.start(&JOURNAL_COLUMNS);
    let references = store.invoice_references_paid_between(&m.id, from, to).await?;
    for t in store.list_transactions(&m.id, from, to).await? {
        let created = chrono::DateTime::from_timestamp_millis(t.created_at).unwrap_or_default();
        let capture = chrono::DateTime::from_timestamp_millis(t.capture_at).unwrap_or_default();
        let invoice_ref = references.get(&t.invoice_id).cloned().unwrap_or_default();
        let currency = t.currency.numeric();
        let row = [
            t.reference.clone(),
            m.id.clone(),
            t.brand.as_sips().to_string(),
            t.amount.to_string(),
            t.current_amount.to_string(),
            t.refunded_amount.to_string(),
            currency.to_string(),
            created.format("%Y%m%d").to_string(),
            created.format("%H%M%S").to_string(),
            t.expiry_month.clone(),
            t.masked_pan.clone(),
            t.response_code.clone().unwrap_or_default(),
            t.acquirer_response_code.clone().unwrap_or_default(),
            t.authorisation_id.clone().unwrap_or_default(),
            capture.format("%Y%m%d").to_string(),
            t.status.as_str().to_string(),
            // Card payments through a voice server carry no liability shift.
            "NO".to_string(),
            t.channel.clone(),
            invoice_ref,
        ];
        out.push_str(&dialect.line(&row));
    }
    Ok(out)
}

/// A CSV file to download as `<name>-<today>.csv`.
pub fn csv_download(name: &str, csv: String) -> Response {
    let name = format!("attachment; filename=\"{name}-{}.csv\"", chrono::Utc::now().format("%Y%m%d"));
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, name)], csv)
        .into_response()
}

/// The download headers of a journal file.
pub fn journal_response(csv: String) -> Response {
    csv_download("journal", csv)
}

/// GET /api/v1/journal.csv?from=&to=
pub async fn journal(
    State(st): State<AppState>,
    ApiMerchant(m): ApiMerchant,
    ApiQuery(q): ApiQuery<JournalQuery>,
) -> Result<Response, ApiError> {
    let (r, dialect) = q.checked()?;
    Ok(journal_response(journal_csv(&st.store, &m, r, dialect).await?))
}
