//! Read-only summaries for the extranet pages: what a merchant's dashboard counts, the
//! payment attempts of one invoice (transactions, and calls whose card was refused
//! before a transaction), the merchants an admin manages. Kept apart from
//! the write paths so the pages add no risk to them.

use super::transactions;
use super::{get_i64, get_str, Store, StoreError};
use crate::payments::merchant::Merchant;
use crate::payments::transaction::Transaction;

/// Counts for a merchant's dashboard.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InvoiceCounts {
    /// Invoices that can still be paid.
    pub payable: i64,
    /// Of those, the ones past their due date.
    pub overdue: i64,
}

/// A call that ended with a card refused before any transaction could stand for the
/// attempt: refused by our own checks (number, expiry, security code) rather than by
/// the bank, whose refusals are REFUSED transactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedCall {
    /// The call's record id.
    pub id: String,
    /// The invoice the caller was paying.
    pub invoice_id: String,
    /// When the call started (UTC milliseconds).
    pub started_at: i64,
}

/// Refused calls of a merchant's invoices not already counted as a REFUSED transaction
/// (a call keeps only its last transaction: a card refused by the bank, then another by
/// our checks, leaves the REFUSED one).
const REFUSED_CALLS: &str = "SELECT c.id, c.invoice_id, c.started_at FROM calls c \
     JOIN invoices i ON i.id = c.invoice_id \
     LEFT JOIN transactions t ON t.reference = c.transaction_reference \
     WHERE i.merchant_id = $1 AND c.outcome = 'refused' AND (t.reference IS NULL OR t.status <> 'REFUSED')";

fn refused_call(r: &sqlx::any::AnyRow) -> Result<RefusedCall, StoreError> {
    Ok(RefusedCall {
        id: get_str(r, "id")?,
        invoice_id: get_str(r, "invoice_id")?,
        started_at: get_i64(r, "started_at")?,
    })
}

impl Store {
    /// Calls on a merchant's invoices started in `[from, to)` (UTC ms) whose card was
    /// refused with no REFUSED transaction to show for it, oldest first.
    pub async fn refused_calls(&self, merchant_id: &str, from: i64, to: i64) -> Result<Vec<RefusedCall>, StoreError> {
        let rows = sqlx::query(&format!(
            "{REFUSED_CALLS} AND c.started_at >= $2 AND c.started_at < $3 ORDER BY c.started_at, c.id"
        ))
        .bind(merchant_id)
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(refused_call).collect()
    }

    /// The same for one invoice, whenever they happened.
    pub async fn invoice_refused_calls(
        &self,
        merchant_id: &str,
        invoice_id: &str,
    ) -> Result<Vec<RefusedCall>, StoreError> {
        let rows = sqlx::query(&format!("{REFUSED_CALLS} AND c.invoice_id = $2 ORDER BY c.started_at, c.id"))
            .bind(merchant_id)
            .bind(invoice_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(refused_call).collect()
    }

    /// Every payment attempt made on one of a merchant's invoices, oldest first
    /// (refused ones included: the merchant sees why a customer could not pay).
    pub async fn invoice_transactions(
        &self,
        merchant_id: &str,
        invoice_id: &str,
    ) -> Result<Vec<Transaction>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM transactions WHERE merchant_id = $1 AND invoice_id = $2 ORDER BY created_at, reference",
            transactions::COLUMNS
        ))
        .bind(merchant_id)
        .bind(invoice_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(transactions::from_row).collect()
    }

    /// How many invoices wait for payment, and how many of them are overdue on `today`.
    pub async fn invoice_counts(
        &self,
        merchant_id: &str,
        today: chrono::NaiveDate,
    ) -> Result<InvoiceCounts, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS payable, COALESCE(SUM(CASE WHEN due_date < $2 THEN 1 ELSE 0 END), 0) AS overdue \
             FROM invoices WHERE merchant_id = $1 AND status = 'PAYABLE' AND expires_at > $3",
        )
        .bind(merchant_id)
        .bind(today.format("%Y-%m-%d").to_string())
        .bind(self.now_ms())
        .fetch_one(self.pool())
        .await?;
        Ok(InvoiceCounts { payable: get_i64(&row, "payable")?, overdue: get_i64(&row, "overdue")? })
    }

    /// Every merchant, by name, for the admin pages.
    pub async fn list_merchants(&self) -> Result<Vec<Merchant>, StoreError> {
        let rows = sqlx::query("SELECT id FROM merchants ORDER BY name, id").fetch_all(self.pool()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            if let Some(m) = self.merchant(&get_str(&r, "id")?).await? {
                out.push(m);
            }
        }
        Ok(out)
    }
}
