//! The notification outbox as merchants see it: each notice of a transaction or an
//! invoice with its attempts, and "send again".

use super::{get_i64, get_opt_str, get_str, Store, StoreError};
use crate::payments::notify::DeliveryLog;

/// Whose notices a log lists.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    /// A transaction's, by reference (its own events and the invoice.paid it caused).
    Transaction(&'a str),
    /// An invoice's, by id: its own events and its transactions'.
    Invoice(&'a str),
}

impl Subject<'_> {
    fn column(self) -> &'static str {
        match self {
            Subject::Transaction(_) => "transaction_reference",
            Subject::Invoice(_) => "invoice_id",
        }
    }

    fn value(&self) -> &str {
        match self {
            Subject::Transaction(v) | Subject::Invoice(v) => v,
        }
    }
}

/// The most notices one log lists (a transaction has a handful: created, then each
/// status change; an invoice, those of its few payments and its own).
const MAX_LOG: i64 = 200;

impl Store {
    /// The delivery log of a merchant's transaction or invoice, oldest first.
    pub async fn notification_log(&self, merchant_id: &str, of: Subject<'_>) -> Result<Vec<DeliveryLog>, StoreError> {
        let sql = format!(
            "SELECT id, event, url, attempts, next_attempt_at, delivered_at, last_error, created_at FROM notifications WHERE merchant_id = $1 AND {} = $2 ORDER BY created_at, id LIMIT $3",
            of.column()
        );
        let rows = sqlx::query(&sql).bind(merchant_id).bind(of.value()).bind(MAX_LOG).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryLog {
                    id: get_str(r, "id")?,
                    event: get_str(r, "event")?,
                    url: get_str(r, "url")?,
                    created_at: get_i64(r, "created_at")?,
                    attempts: get_i64(r, "attempts")?,
                    delivered_at: sqlx::Row::try_get::<Option<i64>, _>(r, "delivered_at")?,
                    next_attempt_at: get_i64(r, "next_attempt_at")?,
                    last_error: get_opt_str(r, "last_error")?,
                })
            })
            .collect()
    }

    /// "Send again": the notice `id` of the merchant's transaction or invoice is due at
    /// `now` (UTC ms), delivered or not, with the same id and body (the merchant asked for
    /// it; its own repeat check sees the id). Attempts and the last error stay, as the
    /// log's history. Returns false when there is no such notice. A notice being sent
    /// right now may reach the merchant twice; both carry the same id.
    pub async fn send_notification_again(
        &self,
        merchant_id: &str,
        of: Subject<'_>,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE notifications SET delivered_at = NULL, next_attempt_at = $1 WHERE id = $2 AND merchant_id = $3 AND {} = $4",
            of.column()
        );
        let r = sqlx::query(&sql).bind(now).bind(id).bind(merchant_id).bind(of.value()).execute(self.pool()).await?;
        Ok(r.rows_affected() == 1)
    }
}
