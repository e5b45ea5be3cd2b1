//! Recording a duplicate before it is sent: its own invoice and the PENDING transaction
//! that pays it, in one database transaction (see `payments::duplicate` for why a
//! duplicate gets an invoice of its own).

use super::invoices::insert_invoice;
use super::transactions::insert_pending;
use super::{new_id, Store, StoreError};
use crate::payments::duplicate::{DuplicateRecorded, NewDuplicate};
use crate::payments::transaction::NewPending;

impl Store {
    /// Stores the duplicate's invoice and its PENDING transaction together. The same
    /// idempotency key returns the first transaction; an invoice reference already used
    /// otherwise is a conflict.
    pub async fn record_duplicate(&self, d: &NewDuplicate) -> Result<DuplicateRecorded, StoreError> {
        let now = self.now_ms();
        let key = &d.pending.idempotency_key;
        for _ in 0..8 {
            if let Some(t) = self.transaction_by_key(key).await? {
                return Ok(DuplicateRecorded::Existing(Box::new(t)));
            }
            if self.invoice_by_reference(&d.pending.merchant_id, &d.invoice.reference).await?.is_some() {
                return Err(StoreError::Conflict(format!(
                    "invoice reference {} is already used by another invoice",
                    d.invoice.reference
                )));
            }
            let invoice_id = new_id("inv");
            let pending = NewPending { invoice_id: invoice_id.clone(), ..d.pending.clone() };
            let detail = format!("duplicate of {} about to be sent", d.from_reference);
            let mut tx = self.pool().begin().await?;
            let written = async {
                let code = super::fresh_payment_code();
                insert_invoice(&mut tx, &d.pending.merchant_id, &d.invoice, &invoice_id, &code, now).await?;
                insert_pending(&mut tx, now, &pending, Some(&d.from_reference), &d.actor, &detail).await
            }
            .await;
            match written {
                Ok(()) => {
                    tx.commit().await?;
                    let t = self.transaction(&pending.reference).await?;
                    return t
                        .map(|t| DuplicateRecorded::Recorded(Box::new(t)))
                        .ok_or_else(|| StoreError::Vanished { table: "transactions", key: pending.reference.clone() });
                }
                // A payment-code collision, or a concurrent request with the same key or
                // reference: roll back and look again.
                Err(StoreError::Conflict(_)) => tx.rollback().await?,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict("could not record the duplicate (payment codes kept colliding)".into()))
    }
}
