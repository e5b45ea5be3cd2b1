//! Applying cash operations and the capture run to stored transactions. Every change is
//! conditional on the state it was computed from (optimistic concurrency), so two
//! operators refunding at once cannot refund more than was captured.

use super::transactions::{history_row, Transaction};
use super::{now_ms, Store, StoreError};
use crate::payments::cash::{self, Amounts, CashError, Operation};

/// Why a cash operation was not applied.
#[derive(Debug, thiserror::Error)]
pub enum CashOpError {
    /// No such transaction for this merchant.
    #[error("no such transaction")]
    NotFound,
    /// Refused by the rules (status or amount).
    #[error(transparent)]
    Rule(#[from] CashError),
    /// The transaction changed meanwhile; retry.
    #[error("the transaction changed meanwhile; retry")]
    Concurrent,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CashOpError {
    fn from(e: sqlx::Error) -> Self {
        CashOpError::Store(StoreError::Db(e))
    }
}

impl Store {
    /// Validates, cancels or refunds (all or part) a merchant's transaction.
    pub async fn cash_operation(
        &self,
        merchant_id: &str,
        reference: &str,
        op: Operation,
        amount: Option<i64>,
        actor: &str,
    ) -> Result<Transaction, CashOpError> {
        let t =
            self.transaction(reference).await?.filter(|t| t.merchant_id == merchant_id).ok_or(CashOpError::NotFound)?;
        let before = Amounts { status: t.status.clone(), current: t.current_amount, refunded: t.refunded_amount };
        let after = cash::apply(&before, op, amount)?;
        let moved = match op {
            Operation::Refund => after.refunded - before.refunded,
            Operation::Cancel => before.current - after.current,
            _ => after.current,
        };
        let mut tx = self.pool().begin().await?;
        let r = sqlx::query(
            "UPDATE transactions SET status = $1, current_amount = $2, refunded_amount = $3, updated_at = $4 \
             WHERE reference = $5 AND status = $6 AND current_amount = $7 AND refunded_amount = $8",
        )
        .bind(&after.status)
        .bind(after.current)
        .bind(after.refunded)
        .bind(now_ms())
        .bind(reference)
        .bind(&before.status)
        .bind(before.current)
        .bind(before.refunded)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            return Err(CashOpError::Concurrent);
        }
        let detail = format!("{} of {moved}", op.as_str());
        history_row(&mut tx, reference, Some(&before.status), &after.status, Some(moved), actor, &detail).await?;
        super::notifications::enqueue(&mut tx, reference, "transaction.updated").await?;
        tx.commit().await?;
        self.transaction(reference).await?.ok_or(CashOpError::NotFound)
    }

    /// The capture run: TO_CAPTURE transactions whose capture time has come are sent to
    /// the bank (CAPTURED); TO_VALIDATE ones not validated in time expire. Returns how
    /// many of each.
    pub async fn run_capture(&self, now: i64) -> Result<(u64, u64), StoreError> {
        let mut counts = (0, 0);
        for (from, to, detail) in [
            ("TO_CAPTURE", "CAPTURED", "capture day reached: sent to the bank"),
            ("TO_VALIDATE", "EXPIRED", "not validated before the capture day"),
        ] {
            let rows = sqlx::query("SELECT reference FROM transactions WHERE status = $1 AND capture_at <= $2")
                .bind(from)
                .bind(now)
                .fetch_all(self.pool())
                .await?;
            for row in rows {
                let reference = super::get_str(&row, "reference")?;
                let mut tx = self.pool().begin().await?;
                let r = sqlx::query(
                    "UPDATE transactions SET status = $1, updated_at = $2 WHERE reference = $3 AND status = $4",
                )
                .bind(to)
                .bind(now)
                .bind(&reference)
                .bind(from)
                .execute(&mut *tx)
                .await?;
                if r.rows_affected() == 1 {
                    history_row(&mut tx, &reference, Some(from), to, None, "capture-run", detail).await?;
                    super::notifications::enqueue(&mut tx, &reference, "transaction.updated").await?;
                    tx.commit().await?;
                    if to == "CAPTURED" {
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
}
