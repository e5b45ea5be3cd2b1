//! Card transactions and their append-only history. The write path is what makes a
//! payment happen exactly once: PENDING with an idempotency key before the platform is
//! called, completed together with the invoice in one database transaction.

use super::notifications::InvoiceEvent;
use super::{get_i64, get_opt_str, get_str, opt_parsed, parsed, Store, StoreError};
use crate::payments::card::Brand;
use crate::payments::cash::capture_instant;
use crate::payments::invoice::InvoiceStatus;
use crate::payments::merchant::CaptureMode;
use crate::payments::money::Currency;
use crate::payments::status::TransactionStatus;
use crate::payments::transaction::{Answer, Completion, HistoryEntry, NewPending, Pending, Transaction};
use sqlx::any::AnyRow;

pub(crate) const COLUMNS: &str = "reference, merchant_id, invoice_id, amount, currency, masked_pan, brand, expiry_month, channel, order_channel, \
    response_code, acquirer_response_code, authorisation_id, guarantee_indicator, capture_mode, capture_day, status, caller, call_id, created_at, updated_at, \
    current_amount, refunded_amount, capture_at, duplicated_from";

pub(crate) fn from_row(r: &AnyRow) -> Result<Transaction, StoreError> {
    Ok(Transaction {
        reference: get_str(r, "reference")?,
        merchant_id: get_str(r, "merchant_id")?,
        invoice_id: get_str(r, "invoice_id")?,
        amount: get_i64(r, "amount")?,
        current_amount: get_i64(r, "current_amount")?,
        refunded_amount: get_i64(r, "refunded_amount")?,
        currency: parsed(r, "transactions.currency", Currency::parse)?,
        masked_pan: get_str(r, "masked_pan")?,
        brand: parsed(r, "transactions.brand", Brand::from_sips)?,
        expiry_month: get_str(r, "expiry_month")?,
        channel: get_str(r, "channel")?,
        order_channel: get_str(r, "order_channel")?,
        response_code: get_opt_str(r, "response_code")?,
        acquirer_response_code: get_opt_str(r, "acquirer_response_code")?,
        authorisation_id: get_opt_str(r, "authorisation_id")?,
        guarantee_indicator: get_str(r, "guarantee_indicator")?,
        capture_mode: parsed(r, "transactions.capture_mode", CaptureMode::parse)?,
        capture_day: get_i64(r, "capture_day")?,
        capture_at: get_i64(r, "capture_at")?,
        status: parsed(r, "transactions.status", TransactionStatus::parse)?,
        caller: get_opt_str(r, "caller")?,
        call_id: get_opt_str(r, "call_id")?,
        created_at: get_i64(r, "created_at")?,
        updated_at: get_i64(r, "updated_at")?,
        duplicated_from: get_opt_str(r, "duplicated_from")?,
    })
}

/// Reads a transaction on a given connection (inside a database transaction).
pub(crate) async fn read_in(
    conn: &mut sqlx::AnyConnection,
    reference: &str,
) -> Result<Option<Transaction>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM transactions WHERE reference = $1"))
        .bind(reference)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose().map_err(|e| match e {
        StoreError::Db(e) => e,
        other => sqlx::Error::Decode(other.to_string().into()),
    })
}

/// History ids sort in the order rows were written (time, then a process counter), so
/// two changes within one millisecond still list in order.
fn history_id(now: i64) -> String {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("his_{:013}_{n:010}_{:04x}", now, rand::random::<u16>())
}

/// Writes one history row at `at`: the change `(from, to)` of `reference`.
pub(crate) async fn history_row(
    conn: &mut sqlx::AnyConnection,
    at: i64,
    reference: &str,
    (from, to): (Option<TransactionStatus>, TransactionStatus),
    amount: Option<i64>,
    actor: &str,
    detail: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO transaction_history (id, transaction_reference, at, from_status, to_status, amount, actor, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(history_id(at))
        .bind(reference)
        .bind(at)
        .bind(from.map(TransactionStatus::as_str))
        .bind(to.as_str())
        .bind(amount)
        .bind(actor)
        .bind(detail)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Inserts a PENDING transaction and its first history row, on a connection inside a
/// database transaction (the phone payment and the duplicate share it). A unique
/// violation (idempotency key, or a live payment on the invoice) comes back as
/// `StoreError::Conflict`.
pub(crate) async fn insert_pending(
    conn: &mut sqlx::AnyConnection,
    now: i64,
    p: &NewPending,
    duplicated_from: Option<&str>,
    actor: &str,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query(&format!("INSERT INTO transactions (idempotency_key, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)"))
        .bind(&p.idempotency_key)
        .bind(&p.reference)
        .bind(&p.merchant_id)
        .bind(&p.invoice_id)
        .bind(p.amount)
        .bind(p.currency.code())
        .bind(&p.masked_pan)
        .bind(p.brand.as_sips())
        .bind(&p.expiry_month)
        .bind("IVR")
        .bind(&p.order_channel)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind("N")
        .bind(p.capture_mode.as_str())
        .bind(p.capture_day)
        .bind(TransactionStatus::Pending.as_str())
        .bind(&p.caller)
        .bind(&p.call_id)
        .bind(now)
        .bind(now)
        .bind(p.amount)
        .bind(0i64)
        .bind(capture_instant(now, p.capture_day))
        .bind(duplicated_from)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::from_write)?;
    history_row(conn, now, &p.reference, (None, TransactionStatus::Pending), Some(p.amount), actor, detail).await?;
    Ok(())
}

impl Store {
    /// Records a payment as PENDING before it is sent. The invoice row is locked by an
    /// update so two calls paying one invoice serialise; the partial unique index keeps
    /// a second live payment out whatever happens.
    pub async fn record_pending(&self, p: &NewPending) -> Result<Pending, StoreError> {
        if let Some(t) = self.transaction_by_key(&p.idempotency_key).await? {
            return Ok(Pending::Duplicate(Box::new(t)));
        }
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        let locked = sqlx::query("UPDATE invoices SET updated_at = $1 WHERE id = $2 AND merchant_id = $3 AND status = 'PAYABLE' AND expires_at > $4")
            .bind(now)
            .bind(&p.invoice_id)
            .bind(&p.merchant_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if locked.rows_affected() != 1 {
            return Ok(Pending::InvoiceNotPayable);
        }
        match insert_pending(&mut tx, now, p, None, "ivr", "authorization about to be sent").await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                drop(tx);
                // The invoice was PAYABLE: the live payment the index refused is PENDING.
                return match self.transaction_by_key(&p.idempotency_key).await? {
                    Some(t) => Ok(Pending::Duplicate(Box::new(t))),
                    None => Ok(Pending::InProgress),
                };
            }
            Err(e) => return Err(e),
        }
        tx.commit().await?;
        Ok(Pending::Recorded)
    }

    /// Completes a PENDING payment with the platform's answer: the transaction's new
    /// status, its history, its notification and, if authorized, the invoice marked PAID,
    /// all or nothing.
    ///
    /// An authorization is only recorded as the invoice's payment while the invoice is
    /// PAYABLE (or EXPIRED: the payment began before the expiry). If the merchant
    /// cancelled it meanwhile (or it is PAID), nothing is written and the caller must
    /// reverse the authorization ([`Completion::InvoiceNotPayable`]). A refused
    /// duplicate's own invoice is cancelled with it: nobody was asked to pay it.
    pub async fn complete_payment(
        &self,
        reference: &str,
        answer: &Answer<'_>,
        actor: &str,
        detail: &str,
    ) -> Result<Completion, StoreError> {
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        let r = sqlx::query("UPDATE transactions SET status = $1, response_code = $2, acquirer_response_code = $3, authorisation_id = $4, updated_at = $5 WHERE reference = $6 AND status = 'PENDING'")
            .bind(answer.status.as_str())
            .bind(answer.response_code)
            .bind(answer.acquirer_response_code)
            .bind(answer.authorisation_id)
            .bind(now)
            .bind(reference)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() != 1 {
            return Ok(Completion::NotPending);
        }
        let invoice = "(SELECT invoice_id FROM transactions WHERE reference = $2)";
        if answer.authorized() {
            let paid = sqlx::query(&format!("UPDATE invoices SET status = 'PAID', updated_at = $1 WHERE id = {invoice} AND status IN ('PAYABLE', 'EXPIRED')"))
                .bind(now)
                .bind(reference)
                .execute(&mut *tx)
                .await?;
            if paid.rows_affected() != 1 {
                let row = sqlx::query(
                    "SELECT status FROM invoices WHERE id = (SELECT invoice_id FROM transactions WHERE reference = $1)",
                )
                .bind(reference)
                .fetch_one(&mut *tx)
                .await?;
                let invoice_status = parsed(&row, "invoices.status", InvoiceStatus::parse)?;
                tx.rollback().await?;
                return Ok(Completion::InvoiceNotPayable { invoice_status });
            }
        }
        let cancelled = if answer.authorized() {
            0
        } else {
            sqlx::query(&format!("UPDATE invoices SET status = 'CANCELLED', updated_at = $1 WHERE id = {invoice} AND status = 'PAYABLE' AND EXISTS (SELECT 1 FROM transactions WHERE reference = $2 AND duplicated_from IS NOT NULL)"))
                .bind(now)
                .bind(reference)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        };
        let change = (Some(TransactionStatus::Pending), answer.status);
        history_row(&mut tx, now, reference, change, None, actor, detail).await?;
        super::notifications::enqueue(&mut tx, now, reference, "transaction.created").await?;
        let event = match (answer.authorized(), cancelled) {
            (true, _) => Some(InvoiceEvent::Paid),
            (false, 1) => Some(InvoiceEvent::Cancelled),
            _ => None,
        };
        if let Some(event) = event {
            super::notifications::enqueue_invoice_of(&mut tx, now, reference, event).await?;
        }
        tx.commit().await?;
        Ok(Completion::Recorded)
    }

    /// Whether a payment of the invoice is PENDING: sent (or about to be), its answer
    /// not recorded yet.
    pub async fn payment_in_progress(&self, invoice_id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM transactions WHERE invoice_id = $1 AND status = 'PENDING'")
            .bind(invoice_id)
            .fetch_one(self.pool())
            .await?;
        Ok(get_i64(&row, "n")? > 0)
    }

    /// Records a PENDING authorization that was reversed at the platform because its
    /// invoice could no longer be paid by it: the authorization, then the reversal
    /// (`after`: CANCELLED, or CREDITED if the platform had already captured it), two
    /// history rows, one notification, the invoice untouched. False if it was no longer
    /// PENDING.
    pub async fn complete_reversed(
        &self,
        reference: &str,
        answer: &Answer<'_>,
        after: &crate::payments::cash::Amounts,
        actor: &str,
        details: (&str, &str),
    ) -> Result<bool, StoreError> {
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        let r = sqlx::query("UPDATE transactions SET status = $1, response_code = $2, acquirer_response_code = $3, authorisation_id = $4, current_amount = $5, refunded_amount = $6, updated_at = $7 WHERE reference = $8 AND status = 'PENDING'")
            .bind(after.status.as_str())
            .bind(answer.response_code)
            .bind(answer.acquirer_response_code)
            .bind(answer.authorisation_id)
            .bind(after.current)
            .bind(after.refunded)
            .bind(now)
            .bind(reference)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        let pending = Some(TransactionStatus::Pending);
        history_row(&mut tx, now, reference, (pending, answer.status), None, actor, details.0).await?;
        history_row(&mut tx, now, reference, (Some(answer.status), after.status), None, actor, details.1).await?;
        super::notifications::enqueue(&mut tx, now, reference, "transaction.created").await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records on a payment still PENDING the brand the platform reports
    /// (`paymentMeanBrand`: CB for a co-badged card routed on CB, which the number alone
    /// cannot tell), before its outcome is written.
    pub async fn set_pending_brand(&self, reference: &str, brand: Brand) -> Result<(), StoreError> {
        sqlx::query("UPDATE transactions SET brand = $1 WHERE reference = $2 AND status = 'PENDING' AND brand <> $1")
            .bind(brand.as_sips())
            .bind(reference)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Writes a decision that changes no status (e.g. "platform unreachable, will ask
    /// again") in the history, so every decision about a payment can be read back. The
    /// same decision repeated by each recovery round is written once.
    pub async fn note_decision(&self, reference: &str, actor: &str, detail: &str) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await?;
        let Some(t) = read_in(&mut conn, reference).await? else { return Ok(()) };
        let last = sqlx::query("SELECT actor, detail FROM transaction_history WHERE transaction_reference = $1 ORDER BY at DESC, id DESC LIMIT 1")
            .bind(reference)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(row) = last {
            if get_str(&row, "actor")? == actor && get_str(&row, "detail")? == detail {
                return Ok(());
            }
        }
        history_row(&mut conn, self.now_ms(), reference, (Some(t.status), t.status), None, actor, detail).await?;
        Ok(())
    }

    /// A transaction by reference.
    pub async fn transaction(&self, reference: &str) -> Result<Option<Transaction>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM transactions WHERE reference = $1"))
            .bind(reference)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A transaction by idempotency key.
    pub async fn transaction_by_key(&self, key: &str) -> Result<Option<Transaction>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM transactions WHERE idempotency_key = $1"))
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Transactions matching a WHERE clause with three parameters (a merchant and a
    /// time range), used by the listings.
    pub(crate) async fn transactions_where(
        &self,
        clause: &str,
        merchant_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<Transaction>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM transactions WHERE {clause}"))
            .bind(merchant_id)
            .bind(from)
            .bind(to)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Payments left PENDING (sent, outcome never recorded) created at or before
    /// `created_by` (UTC ms), oldest first. The bound keeps recovery away from
    /// payments still in flight in a call (on this node or another).
    pub async fn pending_transactions(&self, created_by: i64) -> Result<Vec<Transaction>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM transactions WHERE status = 'PENDING' AND created_at <= $1 ORDER BY created_at"
        ))
        .bind(created_by)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The status changes of a transaction, oldest first.
    pub async fn history(&self, reference: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = sqlx::query("SELECT at, from_status, to_status, amount, actor, detail FROM transaction_history WHERE transaction_reference = $1 ORDER BY at, id")
            .bind(reference)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(HistoryEntry {
                    at: get_i64(r, "at")?,
                    from_status: opt_parsed(r, "transaction_history.from_status", TransactionStatus::parse)?,
                    to_status: parsed(r, "transaction_history.to_status", TransactionStatus::parse)?,
                    amount: sqlx::Row::try_get::<Option<i64>, _>(r, "amount")?,
                    actor: get_str(r, "actor")?,
                    detail: get_str(r, "detail")?,
                })
            })
            .collect()
    }
}
