//! The operations journal's rows (`cash_operation_log`): one per cash operation the
//! platform was asked, written by `store::cash` (an applied one in the transaction of
//! its change) and read for the merchant's operations export.

use super::{get_i64, get_opt_str, get_str, new_id, Store, StoreError};
use crate::payments::operations::Claim;
use crate::payments::operations_log::{OpAnswer, OpLogEntry, OpOutcome};
use sqlx::AnyConnection;

/// The most rows one export holds: bounded so one request never reads years at once.
pub const MAX_ROWS: i64 = 100_000;

/// Writes the journal row of `claim`'s operation, answered `answer`.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    now: i64,
    claim: &Claim,
    actor: &str,
    answer: &OpAnswer,
) -> Result<(), sqlx::Error> {
    let t = &claim.transaction;
    sqlx::query(
        "INSERT INTO cash_operation_log (id, merchant_id, transaction_reference, operation, amount, currency, actor, outcome, response_code, detail, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(new_id("cop"))
    .bind(&t.merchant_id)
    .bind(&t.reference)
    .bind(claim.op.as_str())
    .bind(claim.moved)
    .bind(t.currency.code())
    .bind(actor)
    .bind(answer.outcome.as_str())
    .bind(answer.response_code.as_deref())
    .bind(&answer.detail)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// Journals an operation not applied (refused, unreachable, unknown) on its own.
    pub async fn log_cash_operation(&self, claim: &Claim, actor: &str, answer: &OpAnswer) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await?;
        insert(&mut conn, self.now_ms(), claim, actor, answer).await?;
        Ok(())
    }

    /// A merchant's operations answered in `[from, to)` (UTC ms), oldest first.
    pub async fn cash_operation_log(
        &self,
        merchant_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<OpLogEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT transaction_reference, operation, amount, currency, actor, outcome, response_code, detail, at FROM cash_operation_log WHERE merchant_id = $1 AND at >= $2 AND at < $3 ORDER BY at, id LIMIT $4",
        )
        .bind(merchant_id)
        .bind(from)
        .bind(to)
        .bind(MAX_ROWS)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let outcome = get_str(r, "outcome")?;
                Ok(OpLogEntry {
                    at: get_i64(r, "at")?,
                    transaction_reference: get_str(r, "transaction_reference")?,
                    operation: get_str(r, "operation")?,
                    amount: get_i64(r, "amount")?,
                    currency: get_str(r, "currency")?,
                    actor: get_str(r, "actor")?,
                    answer: OpAnswer {
                        outcome: OpOutcome::parse(&outcome)
                            .ok_or(StoreError::Corrupt { column: "cash_operation_log.outcome", value: outcome })?,
                        response_code: get_opt_str(r, "response_code")?,
                        detail: get_str(r, "detail")?,
                    },
                })
            })
            .collect()
    }
}
