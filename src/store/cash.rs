//! Applying cash operations and the capture run to stored transactions.
//!
//! A cash operation goes through the payment platform (`payments::operations`), so it
//! is written in three steps, each conditional on the state it was computed from
//! (optimistic concurrency): [`Store::claim_cash_operation`] marks the transaction as
//! having an operation in flight if its status and amounts are still those the
//! operation was computed from; the platform is asked; [`Store::finish_cash_operation`]
//! records the result and clears the claim in one database transaction, or
//! [`Store::release_cash_operation`] clears it when the platform refused. Two operators
//! refunding at once therefore never both reach the platform, and cannot refund more
//! than was captured. A claim left by a crash lapses after [`CLAIM_LEASE_MS`].
//!
//! A payment that ends with nothing captured (cancelled in full, expired unvalidated)
//! gives its invoice back in the same database transaction (`reopen_invoice`).

use super::invoices::{parse_cursor, Page};
use super::transactions::{from_row, history_row, COLUMNS};
use super::{Store, StoreError};
use crate::payments::cash::{self, Amounts, Operation};
use crate::payments::invoice::InvoiceStatus;
use crate::payments::operations::{CashOpError, Claim};
use crate::payments::operations_log::OpAnswer;
use crate::payments::status::TransactionStatus;
use crate::payments::transaction::Transaction;

/// Whether a stored transaction can be in `status` (PENDING: sent, outcome not yet
/// recorded), so the API can refuse a status filter that could never match. TO_CREDIT
/// is a platform status this server never stores (its refunds settle at once).
pub fn is_stored_status(status: TransactionStatus) -> bool {
    status != TransactionStatus::ToCredit
}

/// Which of a merchant's transactions a page of the API listing holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransactionFilter {
    /// Created at or after (UTC ms): the listing is bounded to a date range.
    pub from: i64,
    /// Created before (UTC ms).
    pub to: i64,
    /// Only this status (one [`is_stored_status`] accepts), so a merchant can find what
    /// is still to validate or was refused without reading every page.
    pub status: Option<TransactionStatus>,
}

/// How long a cash operation's claim holds: longer than any platform round trip, short
/// enough that a crash does not block the transaction for long.
pub const CLAIM_LEASE_MS: i64 = 120_000;

impl From<StoreError> for CashOpError {
    fn from(e: StoreError) -> Self {
        CashOpError::Ledger(e.into())
    }
}

impl From<sqlx::Error> for CashOpError {
    fn from(e: sqlx::Error) -> Self {
        CashOpError::from(StoreError::Db(e))
    }
}

/// Gives back an invoice whose payment ends with nothing captured (cancelled in full,
/// or expired unvalidated), inside the database transaction that records it: the
/// invoice was PAID by this payment only, and nobody was charged. It becomes PAYABLE
/// again, or EXPIRED if its expiry has passed; a duplicate's own invoice (nobody is
/// asked to pay it by phone) is CANCELLED. Its payment code is kept when no other
/// payable invoice took it meanwhile (codes are only unique among payable invoices),
/// else a new one is drawn. The change is written in the payment's history.
pub(crate) async fn reopen_invoice(
    conn: &mut sqlx::AnyConnection,
    now: i64,
    reference: &str,
    status: TransactionStatus,
    (actor, why): (&str, &str),
) -> Result<(), StoreError> {
    let row = sqlx::query(
        "SELECT i.id, i.reference, i.status, i.expires_at, i.payment_code, t.duplicated_from \
         FROM transactions t JOIN invoices i ON i.id = t.invoice_id WHERE t.reference = $1",
    )
    .bind(reference)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(()) };
    let (id, invoice_ref) = (super::get_str(&row, "id")?, super::get_str(&row, "reference")?);
    if super::parsed(&row, "invoices.status", InvoiceStatus::parse)? != InvoiceStatus::Paid {
        // Not this payment's to give back (cancelled by the merchant, or never paid).
        return Ok(());
    }
    let other_live = sqlx::query(
        "SELECT 1 AS one FROM transactions WHERE invoice_id = $1 AND reference <> $2 \
         AND status IN ('PENDING', 'TO_CAPTURE', 'TO_VALIDATE', 'CAPTURED')",
    )
    .bind(&id)
    .bind(reference)
    .fetch_optional(&mut *conn)
    .await?;
    if other_live.is_some() {
        return Ok(());
    }
    let mut code = super::get_str(&row, "payment_code")?;
    let (new_status, note) = if super::get_opt_str(&row, "duplicated_from")?.is_some() {
        (InvoiceStatus::Cancelled, String::new())
    } else if super::get_i64(&row, "expires_at")? <= now {
        (InvoiceStatus::Expired, String::new())
    } else {
        let mut note = format!(", payment code {code} payable again");
        for attempt in 0..9 {
            let taken = sqlx::query(
                "SELECT 1 AS one FROM invoices WHERE payment_code = $1 AND status = 'PAYABLE' AND id <> $2",
            )
            .bind(&code)
            .bind(&id)
            .fetch_optional(&mut *conn)
            .await?;
            if taken.is_none() {
                break;
            }
            if attempt == 8 {
                return Err(StoreError::Conflict("could not draw a unique payment code".into()));
            }
            code = super::fresh_payment_code();
            note = format!(", new payment code {code} (the old one now names another invoice)");
        }
        (InvoiceStatus::Payable, note)
    };
    sqlx::query(
        "UPDATE invoices SET status = $1, payment_code = $2, updated_at = $3 WHERE id = $4 AND status = 'PAID'",
    )
    .bind(new_status.as_str())
    .bind(&code)
    .bind(now)
    .bind(&id)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::from_write)?;
    let detail = format!("nothing captured ({why}): invoice {invoice_ref} is {} again{note}", new_status.as_str());
    history_row(conn, now, reference, (Some(status), status), None, actor, &detail).await?;
    Ok(())
}

impl Store {
    /// Checks a validate, cancel or refund (all or part) against the Sips table and the
    /// amounts, and claims the transaction for it. Nothing is sent yet. With `expected`
    /// (the state the person or client saw when deciding), a transaction in any other
    /// state is refused as concurrent: the claim below only succeeds on that very state,
    /// so a confirmation posted twice, or a retried request, never applies twice.
    pub async fn claim_cash_operation(
        &self,
        merchant_id: &str,
        reference: &str,
        op: Operation,
        amount: Option<i64>,
        expected: Option<&Amounts>,
    ) -> Result<Claim, CashOpError> {
        let t =
            self.transaction(reference).await?.filter(|t| t.merchant_id == merchant_id).ok_or(CashOpError::NotFound)?;
        let before = Amounts { status: t.status, current: t.current_amount, refunded: t.refunded_amount };
        if expected.is_some_and(|e| *e != before) {
            return Err(CashOpError::StateChanged);
        }
        let after = cash::apply(&before, op, amount)?;
        let moved = cash::moved(&before, &after, op);
        let token = super::new_id("op");
        let now = self.now_ms();
        let r = sqlx::query(
            "UPDATE transactions SET operation_claim = $1, operation_claimed_at = $2 \
             WHERE reference = $3 AND status = $4 AND current_amount = $5 AND refunded_amount = $6 \
             AND (operation_claim IS NULL OR operation_claimed_at < $7)",
        )
        .bind(&token)
        .bind(now)
        .bind(reference)
        .bind(before.status.as_str())
        .bind(before.current)
        .bind(before.refunded)
        .bind(now - CLAIM_LEASE_MS)
        .execute(self.pool())
        .await?;
        if r.rows_affected() != 1 {
            return Err(CashOpError::Concurrent);
        }
        Ok(Claim { transaction: t, op, before, after, moved, token })
    }

    /// Records an operation the platform applied: status and amounts, the claim
    /// cleared, a history row by `actor` with the platform's answer in `detail`, and a
    /// notification, in one database transaction.
    pub async fn finish_cash_operation(
        &self,
        claim: &Claim,
        actor: &str,
        answer: &OpAnswer,
    ) -> Result<Transaction, CashOpError> {
        let detail = answer.detail.as_str();
        let reference = &claim.transaction.reference;
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        let r = sqlx::query(
            "UPDATE transactions SET status = $1, current_amount = $2, refunded_amount = $3, updated_at = $4, \
             operation_claim = NULL, operation_claimed_at = NULL WHERE reference = $5 AND operation_claim = $6",
        )
        .bind(claim.after.status.as_str())
        .bind(claim.after.current)
        .bind(claim.after.refunded)
        .bind(now)
        .bind(reference)
        .bind(&claim.token)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            // Only a lapsed claim taken over by another operation gets here.
            tracing::error!(%reference, op = claim.op.as_str(), "cash operation applied at the platform but its claim was lost");
            return Err(CashOpError::Concurrent);
        }
        let status = claim.after.status;
        let change = (Some(claim.before.status), status);
        history_row(&mut tx, now, reference, change, Some(claim.moved), actor, detail).await?;
        if status == TransactionStatus::Cancelled {
            reopen_invoice(&mut tx, now, reference, status, (actor, "cancelled in full")).await?;
        }
        super::notifications::enqueue(&mut tx, now, reference, "transaction.updated").await?;
        super::operations_log::insert(&mut tx, now, claim, actor, answer).await?;
        tx.commit().await?;
        self.transaction(reference).await?.ok_or(CashOpError::NotFound)
    }

    /// Clears a claim without changing anything (the platform refused or could not be
    /// reached), journaling the answer in the same database transaction.
    pub async fn release_cash_operation(
        &self,
        claim: &Claim,
        actor: &str,
        answer: &OpAnswer,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE transactions SET operation_claim = NULL, operation_claimed_at = NULL WHERE reference = $1 AND operation_claim = $2")
            .bind(&claim.transaction.reference)
            .bind(&claim.token)
            .execute(&mut *tx)
            .await?;
        super::operations_log::insert(&mut tx, self.now_ms(), claim, actor, answer).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The capture run: TO_CAPTURE transactions whose capture time has come are sent to
    /// the bank (CAPTURED); TO_VALIDATE ones not validated in time expire. Returns how
    /// many of each.
    pub async fn run_capture(&self, now: i64) -> Result<(u64, u64), StoreError> {
        let mut counts = (0, 0);
        for (from, to, detail) in [
            (TransactionStatus::ToCapture, TransactionStatus::Captured, "capture day reached: sent to the bank"),
            (TransactionStatus::ToValidate, TransactionStatus::Expired, "not validated before the capture day"),
        ] {
            let rows = sqlx::query("SELECT reference FROM transactions WHERE status = $1 AND capture_at <= $2")
                .bind(from.as_str())
                .bind(now)
                .fetch_all(self.pool())
                .await?;
            // A transaction with a cash operation in flight waits for the next run, so
            // the operation's result is not overwritten (or computed from a stale state).
            for row in rows {
                let reference = super::get_str(&row, "reference")?;
                let mut tx = self.pool().begin().await?;
                let r = sqlx::query(
                    "UPDATE transactions SET status = $1, updated_at = $2 WHERE reference = $3 AND status = $4 \
                     AND (operation_claim IS NULL OR operation_claimed_at < $5)",
                )
                .bind(to.as_str())
                .bind(now)
                .bind(&reference)
                .bind(from.as_str())
                .bind(now - CLAIM_LEASE_MS)
                .execute(&mut *tx)
                .await?;
                if r.rows_affected() == 1 {
                    // `now` is the instant the run judges by (a test's may be days ahead);
                    // what it writes is dated by the store's clock, as every other change.
                    let at = self.now_ms();
                    history_row(&mut tx, at, &reference, (Some(from), to), None, "capture-run", detail).await?;
                    if to == TransactionStatus::Expired {
                        reopen_invoice(&mut tx, at, &reference, to, ("capture-run", "expired unvalidated")).await?;
                    }
                    super::notifications::enqueue(&mut tx, at, &reference, "transaction.updated").await?;
                    tx.commit().await?;
                    if to == TransactionStatus::Captured {
                        counts.0 += 1;
                    } else {
                        counts.1 += 1;
                    }
                }
            }
        }
        Ok(counts)
    }

    /// A merchant's transactions created in `[from, to)` (UTC ms), oldest first, for the
    /// API and the journal.
    pub async fn list_transactions(
        &self,
        merchant_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<Transaction>, StoreError> {
        self.transactions_where(
            "merchant_id = $1 AND created_at >= $2 AND created_at < $3 ORDER BY created_at, reference",
            merchant_id,
            from,
            to,
        )
        .await
    }

    /// One page of a merchant's transactions matching `f`, oldest first (as the
    /// journal), `limit` per page, from `cursor` (`<created_at>.<reference>` of the last
    /// row of the previous page, as [`Page::next`] gives it). A row created while a
    /// merchant pages is never shown twice nor makes another skipped: the position is
    /// the row's own key, not an offset. A malformed cursor (the API refuses it before
    /// it gets here) starts from the first page.
    pub async fn list_transactions_page(
        &self,
        merchant_id: &str,
        f: &TransactionFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Transaction>, StoreError> {
        let mut sql = format!(
            "SELECT {COLUMNS} FROM transactions WHERE merchant_id = $1 AND created_at >= $2 AND created_at < $3"
        );
        let mut n = 3;
        if f.status.is_some() {
            n += 1;
            sql.push_str(&format!(" AND status = ${n}"));
        }
        let position = cursor.and_then(parse_cursor);
        if position.is_some() {
            let (a, b, c) = (n + 1, n + 2, n + 3);
            sql.push_str(&format!(" AND (created_at > ${a} OR (created_at = ${b} AND reference > ${c}))"));
        }
        sql.push_str(&format!(" ORDER BY created_at, reference LIMIT {}", limit as u64 + 1));
        let mut q = sqlx::query(&sql).bind(merchant_id).bind(f.from).bind(f.to);
        if let Some(s) = f.status {
            q = q.bind(s.as_str());
        }
        if let Some((at, reference)) = position {
            q = q.bind(at).bind(at).bind(reference.to_string());
        }
        let rows = q.fetch_all(self.pool()).await?;
        let mut items = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|t| format!("{}.{}", t.created_at, t.reference))
        } else {
            None
        };
        Ok(Page { items, next })
    }
}
