//! The store as the payments' [`Ledger`]: each method is the store's own query of the
//! same name, its error mapped to a [`LedgerError`] (a unique violation stays a
//! conflict, a row gone after its write stays named; anything else is the store's
//! failure, kept as the source).

use super::{Store, StoreError};
use crate::payments::card::Brand;
use crate::payments::cash::{Amounts, Operation};
use crate::payments::duplicate::{DuplicateRecorded, NewDuplicate};
use crate::payments::invoice::Invoice;
use crate::payments::ledger::{Ledger, LedgerError};
use crate::payments::notify::Notice;
use crate::payments::operations::{CashOpError, Claim};
use crate::payments::operations_log::OpAnswer;
use crate::payments::transaction::{Answer, Completion, NewPending, Pending, Transaction};

impl From<StoreError> for LedgerError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => LedgerError::Conflict(m),
            StoreError::Vanished { table, key } => LedgerError::Vanished { table, key },
            other => LedgerError::Backend(Box::new(other)),
        }
    }
}

impl Ledger for Store {
    fn now_ms(&self) -> i64 {
        Store::now_ms(self)
    }

    async fn record_pending(&self, p: &NewPending) -> Result<Pending, LedgerError> {
        Ok(Store::record_pending(self, p).await?)
    }

    async fn complete_payment(
        &self,
        reference: &str,
        answer: &Answer<'_>,
        actor: &str,
        detail: &str,
    ) -> Result<Completion, LedgerError> {
        Ok(Store::complete_payment(self, reference, answer, actor, detail).await?)
    }

    async fn complete_reversed(
        &self,
        reference: &str,
        answer: &Answer<'_>,
        after: &Amounts,
        actor: &str,
        details: (&str, &str),
    ) -> Result<bool, LedgerError> {
        Ok(Store::complete_reversed(self, reference, answer, after, actor, details).await?)
    }

    async fn note_decision(&self, reference: &str, actor: &str, detail: &str) -> Result<(), LedgerError> {
        Ok(Store::note_decision(self, reference, actor, detail).await?)
    }

    async fn set_pending_brand(&self, reference: &str, brand: Brand) -> Result<(), LedgerError> {
        Ok(Store::set_pending_brand(self, reference, brand).await?)
    }

    async fn transaction(&self, reference: &str) -> Result<Option<Transaction>, LedgerError> {
        Ok(Store::transaction(self, reference).await?)
    }

    async fn pending_transactions(&self, created_by: i64) -> Result<Vec<Transaction>, LedgerError> {
        Ok(Store::pending_transactions(self, created_by).await?)
    }

    async fn invoice(&self, merchant_id: &str, id: &str) -> Result<Option<Invoice>, LedgerError> {
        Ok(Store::invoice(self, merchant_id, id).await?)
    }

    async fn record_duplicate(&self, d: &NewDuplicate) -> Result<DuplicateRecorded, LedgerError> {
        Ok(Store::record_duplicate(self, d).await?)
    }

    async fn claim_cash_operation(
        &self,
        merchant_id: &str,
        reference: &str,
        op: Operation,
        amount: Option<i64>,
        expected: Option<&Amounts>,
    ) -> Result<Claim, CashOpError> {
        Store::claim_cash_operation(self, merchant_id, reference, op, amount, expected).await
    }

    async fn finish_cash_operation(
        &self,
        claim: &Claim,
        actor: &str,
        answer: &OpAnswer,
    ) -> Result<Transaction, CashOpError> {
        Store::finish_cash_operation(self, claim, actor, answer).await
    }

    async fn release_cash_operation(&self, claim: &Claim, actor: &str, answer: &OpAnswer) -> Result<(), LedgerError> {
        Ok(Store::release_cash_operation(self, claim, actor, answer).await?)
    }

    async fn log_cash_operation(&self, claim: &Claim, actor: &str, answer: &OpAnswer) -> Result<(), LedgerError> {
        Ok(Store::log_cash_operation(self, claim, actor, answer).await?)
    }

    async fn run_capture(&self, now: i64) -> Result<(u64, u64), LedgerError> {
        Ok(Store::run_capture(self, now).await?)
    }

    async fn expire_due(&self, now: i64) -> Result<u64, LedgerError> {
        Ok(Store::expire_due_at(self, now).await?)
    }

    async fn claim_due_notifications(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
        merchant: Option<&str>,
    ) -> Result<Vec<Notice>, LedgerError> {
        Ok(Store::claim_due_notifications(self, now, lease_until, limit, merchant).await?)
    }

    async fn due_notification_merchants(&self, now: i64, limit: i64) -> Result<Vec<String>, LedgerError> {
        Ok(Store::due_notification_merchants(self, now, limit).await?)
    }

    async fn notification_attempted(
        &self,
        notice: &Notice,
        delivered: bool,
        next_attempt_at: i64,
        error: Option<&str>,
    ) -> Result<bool, LedgerError> {
        Ok(Store::notification_attempted(self, notice, delivered, next_attempt_at, error).await?)
    }

    async fn notification_secret(&self, merchant_id: &str) -> Result<Option<String>, LedgerError> {
        Ok(Store::notification_secret(self, merchant_id).await?)
    }
}
