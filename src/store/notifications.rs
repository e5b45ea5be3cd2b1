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

use super::{get_i64, get_str, new_id, Store, StoreError};
use crate::payments::notify::Notice;
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
    let Some(url) = merchant_url(conn, &t.merchant_id).await? else { return Ok(()) };
    let id = new_id("ntf");
    let row = Row {
        id: &id,
        merchant_id: &t.merchant_id,
        event,
        invoice_id: Some(&t.invoice_id),
        reference: Some(reference),
    };
    insert(conn, &row, &url, &payload(&id, &t, event, now), now).await
}

/// What a notice is about.
struct Row<'a> {
    id: &'a str,
    merchant_id: &'a str,
    event: &'a str,
    invoice_id: Option<&'a str>,
    reference: Option<&'a str>,
}

async fn insert(conn: &mut AnyConnection, row: &Row<'_>, url: &str, body: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO notifications (id, merchant_id, event, invoice_id, transaction_reference, url, payload, attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9)",
    )
    .bind(row.id)
    .bind(row.merchant_id)
    .bind(row.event)
    .bind(row.invoice_id)
    .bind(row.reference)
    .bind(url)
    .bind(body)
    .bind(now)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The merchant's notification URL, if it has one.
async fn merchant_url(conn: &mut AnyConnection, merchant_id: &str) -> Result<Option<String>, sqlx::Error> {
    let row =
        sqlx::query("SELECT notification_url FROM merchants WHERE id = $1").bind(merchant_id).fetch_one(conn).await?;
    Ok(sqlx::Row::try_get::<Option<String>, _>(&row, "notification_url")?.filter(|u| !u.is_empty()))
}

/// An invoice's change a merchant is told of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvoiceEvent {
    /// Paid by phone (the notice names the payment).
    Paid,
    /// Cancelled by the merchant, or by a duplicate charged in its place.
    Cancelled,
    /// Past its last day unpaid.
    Expired,
}

impl InvoiceEvent {
    /// The `event` of the notice.
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceEvent::Paid => "invoice.paid",
            InvoiceEvent::Cancelled => "invoice.cancelled",
            InvoiceEvent::Expired => "invoice.expired",
        }
    }
}

/// [`enqueue_invoice`] for the invoice of the payment `reference`, which caused it.
pub(crate) async fn enqueue_invoice_of(
    conn: &mut AnyConnection,
    now: i64,
    reference: &str,
    event: InvoiceEvent,
) -> Result<(), sqlx::Error> {
    let row = sqlx::query("SELECT invoice_id FROM transactions WHERE reference = $1")
        .bind(reference)
        .fetch_one(&mut *conn)
        .await?;
    let invoice_id: String = sqlx::Row::try_get(&row, "invoice_id")?;
    enqueue_invoice(conn, now, &invoice_id, event, Some(reference)).await
}

/// Queues a notice of an invoice's change for its merchant, if it has a notification
/// URL; `reference` is the payment that caused it, if any. Called inside the database
/// transaction that changed the invoice.
pub(crate) async fn enqueue_invoice(
    conn: &mut AnyConnection,
    now: i64,
    invoice_id: &str,
    event: InvoiceEvent,
    reference: Option<&str>,
) -> Result<(), sqlx::Error> {
    let Some(inv) = sqlx::query(
        "SELECT id, merchant_id, reference, status, amount, currency, due_date FROM invoices WHERE id = $1",
    )
    .bind(invoice_id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(());
    };
    let text = |c: &str| sqlx::Row::try_get::<String, _>(&inv, c);
    let merchant_id = text("merchant_id")?;
    let Some(url) = merchant_url(conn, &merchant_id).await? else { return Ok(()) };
    let id = new_id("ntf");
    let body = json!({
        "id": id,
        "event": event.as_str(),
        "at": chrono::DateTime::from_timestamp_millis(now).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        "invoice": {
            "id": invoice_id,
            "reference": text("reference")?,
            "status": text("status")?,
            "amount": sqlx::Row::try_get::<i64, _>(&inv, "amount")?,
            "currency": text("currency")?,
            "due_date": text("due_date")?,
            "transaction_reference": reference,
        }
    })
    .to_string();
    let row =
        Row { id: &id, merchant_id: &merchant_id, event: event.as_str(), invoice_id: Some(invoice_id), reference };
    insert(conn, &row, &url, &body, now).await
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
}
