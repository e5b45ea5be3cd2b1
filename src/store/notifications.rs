//! The notification outbox: written in the same database transaction as each status
//! change, read by the delivery worker (`payments::notify`).
//!
//! Several nodes may run the worker on one database: a notice is **claimed** before it
//! is sent, by a conditional update that moves its `next_attempt_at` to the end of a
//! lease, so no other node finds it due while it is being sent; that value is the
//! claim's token, and the attempt is recorded only by the holder of the claim. A node
//! dying mid-send leaves the notice due again when the lease ends: delivery is at least
//! once, and every notice carries its id (in the body and the `Ivrpay-Notification-Id`
//! header) so a merchant can discard a repeat.

use super::{get_i64, get_opt_str, get_str, new_id, Store, StoreError};
use crate::payments::notify::{DeliveryLog, Notice};
use crate::payments::transaction::Transaction;
use serde_json::json;
use sqlx::AnyConnection;

/// The body a merchant receives: the notice's id and the transaction's state after the
/// change.
pub fn payload(id: &str, t: &Transaction, event: &str, at: i64) -> String {
    json!({
        "id": id,
        "event": event,
        "at": chrono::DateTime::from_timestamp_millis(at).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        "transaction": {
            "reference": t.reference,
            "invoice_id": t.invoice_id,
            "status": t.status,
            "amount": t.amount,
            "current_amount": t.current_amount,
            "refunded_amount": t.refunded_amount,
            "currency": t.currency,
            "masked_pan": t.masked_pan,
            "brand": t.brand,
            "response_code": t.response_code,
            "acquirer_response_code": t.acquirer_response_code,
            "authorisation_id": t.authorisation_id,
            "guarantee_indicator": t.guarantee_indicator,
            "channel": t.channel,
            "duplicated_from": t.duplicated_from,
        }
    })
    .to_string()
}

/// Queues a notice for the transaction's merchant, if it has a notification URL. Called
/// inside the database transaction that changed the status.
pub(crate) async fn enqueue(
    conn: &mut AnyConnection,
    now: i64,
    reference: &str,
    event: &str,
) -> Result<(), sqlx::Error> {
    let t = super::transactions::read_in(conn, reference).await?;
    let Some(t) = t else { return Ok(()) };
    let url = sqlx::query("SELECT notification_url FROM merchants WHERE id = $1")
        .bind(&t.merchant_id)
        .fetch_one(&mut *conn)
        .await?;
    let Some(url) = sqlx::Row::try_get::<Option<String>, _>(&url, "notification_url")?.filter(|u| !u.is_empty()) else {
        return Ok(());
    };
    let id = new_id("ntf");
    sqlx::query(
        "INSERT INTO notifications (id, merchant_id, transaction_reference, url, payload, attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $7)",
    )
    .bind(&id)
    .bind(&t.merchant_id)
    .bind(reference)
    .bind(url)
    .bind(payload(&id, &t, event, now))
    .bind(now)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// Claims up to `limit` notices due at `now` (UTC ms) for this node until
    /// `lease_until`, oldest first, only `merchant`'s if given: each is taken by a
    /// conditional update, so two nodes never hold the same notice at once.
    pub async fn claim_due_notifications(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
        merchant: Option<&str>,
    ) -> Result<Vec<Notice>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, merchant_id, url, payload, attempts, next_attempt_at FROM notifications WHERE delivered_at IS NULL AND next_attempt_at <= $1 AND ($3 IS NULL OR merchant_id = $3) ORDER BY created_at, id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .bind(merchant)
        .fetch_all(self.pool())
        .await?;
        let mut claimed = Vec::new();
        for r in &rows {
            let id = get_str(r, "id")?;
            let seen = get_i64(r, "next_attempt_at")?;
            // Taken only if nobody claimed or delivered it since it was read.
            let took = sqlx::query(
                "UPDATE notifications SET next_attempt_at = $1 WHERE id = $2 AND delivered_at IS NULL AND next_attempt_at = $3",
            )
            .bind(lease_until)
            .bind(&id)
            .bind(seen)
            .execute(self.pool())
            .await?;
            if took.rows_affected() == 1 {
                claimed.push(Notice {
                    id,
                    merchant_id: get_str(r, "merchant_id")?,
                    url: get_str(r, "url")?,
                    payload: get_str(r, "payload")?,
                    attempts: get_i64(r, "attempts")?,
                    lease_until,
                });
            }
        }
        Ok(claimed)
    }

    /// Up to `limit` merchants with notices due at `now` (UTC ms), the one whose notice
    /// has waited longest first.
    pub async fn due_notification_merchants(&self, now: i64, limit: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT merchant_id, MIN(next_attempt_at) AS due FROM notifications WHERE delivered_at IS NULL AND next_attempt_at <= $1 GROUP BY merchant_id ORDER BY due, merchant_id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| get_str(r, "merchant_id")).collect()
    }

    /// Records a delivery attempt of a claimed notice: delivered, or the next attempt's
    /// time and the error. Nothing is written if the claim lapsed and another node took
    /// the notice (its own attempt will be recorded); returns whether it was written.
    pub async fn notification_attempted(
        &self,
        notice: &Notice,
        delivered: bool,
        next_attempt_at: i64,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let now = self.now_ms();
        let r = sqlx::query(
            "UPDATE notifications SET attempts = attempts + 1, delivered_at = CASE WHEN $1 = 1 THEN $2 ELSE NULL END, next_attempt_at = $3, last_error = $4 WHERE id = $5 AND delivered_at IS NULL AND next_attempt_at = $6",
        )
        .bind(delivered as i64)
        .bind(now)
        .bind(next_attempt_at)
        .bind(error)
        .bind(&notice.id)
        .bind(notice.lease_until)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The merchant's signing secret.
    pub async fn notification_secret(&self, merchant_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT notification_secret FROM merchants WHERE id = $1")
            .bind(merchant_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => sqlx::Row::try_get::<Option<String>, _>(&r, "notification_secret")?,
            None => None,
        })
    }

    /// Notices not yet delivered (operators and tests).
    pub async fn undelivered_notifications(&self) -> Result<i64, StoreError> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM notifications WHERE delivered_at IS NULL")
            .fetch_one(self.pool())
            .await?;
        get_i64(&r, "n")
    }

    /// The delivery log of a merchant's transaction: each notice, oldest first (a
    /// transaction has a handful: created, then each status change).
    pub async fn notification_log(&self, merchant_id: &str, reference: &str) -> Result<Vec<DeliveryLog>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, url, payload, attempts, next_attempt_at, delivered_at, last_error, created_at FROM notifications WHERE merchant_id = $1 AND transaction_reference = $2 ORDER BY created_at, id LIMIT 200",
        )
        .bind(merchant_id)
        .bind(reference)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let payload = get_str(r, "payload")?;
                let event = serde_json::from_str::<serde_json::Value>(&payload)
                    .ok()
                    .and_then(|v| v["event"].as_str().map(str::to_string))
                    .unwrap_or_default();
                Ok(DeliveryLog {
                    id: get_str(r, "id")?,
                    event,
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

    /// "Send again": the merchant's notice is due at `now` (UTC ms), delivered or not,
    /// with the same id and body (the merchant asked for it; its own repeat check sees
    /// the id). Attempts and the last error stay, as the log's history. Returns false
    /// when the merchant's transaction has no such notice. A notice being sent right now
    /// may reach the merchant twice; both carry the same id.
    pub async fn send_notification_again(
        &self,
        merchant_id: &str,
        reference: &str,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE notifications SET delivered_at = NULL, next_attempt_at = $1 WHERE id = $2 AND merchant_id = $3 AND transaction_reference = $4",
        )
        .bind(now)
        .bind(id)
        .bind(merchant_id)
        .bind(reference)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }
}
