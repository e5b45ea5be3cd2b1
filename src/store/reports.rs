//! Read-only summaries for the extranet pages: what a merchant's dashboard counts, the
//! payment attempts of one invoice, the merchants an admin manages. Kept apart from
//! the write paths so the pages add no risk to them.

use super::merchants::Merchant;
use super::transactions::{self, Transaction};
use super::{get_i64, get_str, Store, StoreError};

/// Counts for a merchant's dashboard.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InvoiceCounts {
    /// Invoices that can still be paid.
    pub payable: i64,
    /// Of those, the ones past their due date.
    pub overdue: i64,
}

impl Store {
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
        .bind(super::now_ms())
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
