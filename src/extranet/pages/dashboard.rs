//! A merchant's day at a glance: payments accepted today and their amounts per
//! currency, invoices still waiting (and how many are overdue), refused attempts, and
//! today's attempts one by one.

use super::format;
use super::{ok, Current, Layout, PageError};
use crate::extranet::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use std::collections::BTreeMap;

/// A line of the day's attempts.
pub struct Row {
    pub time: String,
    pub invoice_id: String,
    pub invoice_ref: String,
    pub amount: String,
    pub card: String,
    pub status: &'static str,
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
pub const ACCEPTED: [&str; 5] = ["TO_CAPTURE", "TO_VALIDATE", "CAPTURED", "CREDITED", "CANCELLED"];

/// GET /dashboard
pub async fn show(State(st): State<AppState>, cur: Current) -> Result<Response, PageError> {
    let merchant = cur.merchant_id()?;
    let now = chrono::Utc::now();
    let today = now.date_naive();
    let start = today.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis();
    let txs = st.store.list_transactions(merchant, start, now.timestamp_millis() + 1).await?;
    let counts = st.store.invoice_counts(merchant, today).await?;
    let accepted: Vec<_> = txs
        .iter()
        .filter(|t| ACCEPTED.contains(&t.status.as_str()) && t.response_code.as_deref() == Some("00"))
        .collect();
    let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
    for t in &accepted {
        *sums.entry(t.currency.as_str()).or_default() += t.amount;
    }
    let mut rows = Vec::with_capacity(txs.len());
    for t in txs.iter().rev() {
        let invoice_ref = st.store.invoice(merchant, &t.invoice_id).await?.map(|i| i.reference).unwrap_or_default();
        rows.push(Row {
            time: format::datetime(t.created_at),
            invoice_id: t.invoice_id.clone(),
            invoice_ref,
            amount: format::money(cur.lang, t.amount, &t.currency),
            card: t.masked_pan.clone(),
            status: format::status(cur.lang, &t.status),
            status_code: t.status.to_ascii_lowercase(),
        });
    }
    let page = Dashboard {
        l: Layout::new(&cur, cur.lang.texts().t_dashboard, "/dashboard"),
        today: today.to_string(),
        payments: accepted.len(),
        amounts: sums.iter().map(|(c, a)| format::money(cur.lang, *a, c)).collect(),
        waiting: counts.payable,
        overdue: counts.overdue,
        refused: txs.iter().filter(|t| t.status == "REFUSED").count(),
        rows,
    };
    ok(&page)
}
