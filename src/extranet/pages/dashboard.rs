//! A merchant's day at a glance: payments accepted today and their amounts per
//! currency, invoices still waiting (and how many are overdue), refused attempts (by
//! the bank, and by our own card checks, which leave only a call record), and today's
//! attempts one by one.

use super::format;
use super::{ok, Current, Layout, PageError};
use crate::extranet::AppState;
use crate::payments::money::Currency;
use crate::payments::status::TransactionStatus;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use std::collections::BTreeMap;

/// A line of the day's attempts.
pub struct Row {
    /// When the attempt was made.
    pub time: String,
    /// The invoice's id, for its link.
    pub invoice_id: String,
    /// The merchant's reference of the invoice.
    pub invoice_ref: String,
    /// The amount, formatted for the page's language.
    pub amount: String,
    /// The masked card number (a dash when our checks refused the card).
    pub card: String,
    /// The status in the page's language.
    pub status: &'static str,
    /// The status's code, for its colour.
    pub status_code: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    l: Layout,
    today: String,
    payments: usize,
    amounts: Vec<String>,
    waiting: i64,
    overdue: i64,
    refused: usize,
    rows: Vec<Row>,
}

/// Statuses of a payment the bank accepted (whatever happened to it since).
pub const ACCEPTED: [TransactionStatus; 5] = [
    TransactionStatus::ToCapture,
    TransactionStatus::ToValidate,
    TransactionStatus::Captured,
    TransactionStatus::Credited,
    TransactionStatus::Cancelled,
];

/// GET /dashboard
pub async fn show(State(st): State<AppState>, cur: Current) -> Result<Response, PageError> {
    let merchant = cur.merchant_id()?;
    let now = chrono::Utc::now();
    let today = now.date_naive();
    let start = today.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis();
    let end = now.timestamp_millis() + 1;
    let txs = st.store.list_transactions(merchant, start, end).await?;
    let references = st.store.invoice_references_paid_between(merchant, start, end).await?;
    let counts = st.store.invoice_counts(merchant, today).await?;
    let accepted: Vec<_> =
        txs.iter().filter(|t| ACCEPTED.contains(&t.status) && t.response_code.as_deref() == Some("00")).collect();
    // By currency code, so the totals list in a stable order.
    let mut sums: BTreeMap<&str, (Currency, i64)> = BTreeMap::new();
    for t in &accepted {
        sums.entry(t.currency.code()).or_insert((t.currency, 0)).1 += t.amount;
    }
    let refused_calls = st.store.refused_calls(merchant, start, now.timestamp_millis() + 1).await?;
    let mut rows: Vec<(i64, Row)> = Vec::with_capacity(txs.len() + refused_calls.len());
    for t in &txs {
        let invoice_ref = references.get(&t.invoice_id).cloned().unwrap_or_default();
        rows.push((
            t.created_at,
            Row {
                time: format::datetime(t.created_at),
                invoice_id: t.invoice_id.clone(),
                invoice_ref,
                amount: format::money(cur.lang, t.amount, t.currency),
                card: t.masked_pan.clone(),
                status: format::status(cur.lang, t.status.as_str()),
                status_code: t.status.as_str().to_ascii_lowercase(),
            },
        ));
    }
    // Cards refused by our own checks left no transaction, only their call's record.
    for c in &refused_calls {
        let Some(i) = st.store.invoice(merchant, &c.invoice_id).await? else { continue };
        rows.push((
            c.started_at,
            Row {
                time: format::datetime(c.started_at),
                invoice_id: i.id.clone(),
                invoice_ref: i.reference,
                amount: format::money(cur.lang, i.amount, i.currency),
                card: "—".into(),
                status: cur.lang.texts().refused_before_bank,
                status_code: "refused".into(),
            },
        ));
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    let refused = txs.iter().filter(|t| t.status == "REFUSED").count() + refused_calls.len();
    let page = Dashboard {
        l: Layout::new(&cur, cur.lang.texts().t_dashboard, "/dashboard"),
        today: today.to_string(),
        payments: accepted.len(),
        amounts: sums.values().map(|(c, a)| format::money(cur.lang, *a, *c)).collect(),
        waiting: counts.payable,
        overdue: counts.overdue,
        refused,
        rows: rows.into_iter().map(|(_, r)| r).collect(),
    };
    ok(&page)
}
