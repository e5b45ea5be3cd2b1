//! The ledger: what the payment logic reads and writes about payments, as a trait the
//! payments define and the store implements (`store::ledger`). Taking a payment exactly
//! once, recovery, cash operations, duplicates, the capture job and notification
//! delivery are written against [`Ledger`], so `payments` never names the database and
//! the store depends on payments, not the other way round.
//!
//! The contract each method keeps is the one its doc states; every write that moves a
//! transaction also writes its history and its notification in the same database
//! transaction (the store's concern, but a ledger that did not would lose a merchant's
//! notice).

use super::card::Brand;
use super::cash::{Amounts, Operation};
use super::duplicate::{DuplicateRecorded, NewDuplicate};
use super::invoice::Invoice;
use super::notify::Notice;
use super::operations::{CashOpError, Claim};
use super::operations_log::OpAnswer;
use super::transaction::{Answer, Completion, NewPending, Pending, Transaction};
use std::future::Future;

/// Why the ledger could not read or write.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A unique constraint was hit (an invoice reference or idempotency key already
    /// used differently): the caller's request conflicts with what is recorded.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A row just written could not be read back (a concurrent delete, or a database
    /// that does not keep what it acknowledged).
    #[error("{table} row {key} vanished after it was written")]
    Vanished {
        /// The table it was written to.
        table: &'static str,
        /// Its key (id or reference), to find it in the logs.
        key: String,
    },
    /// The ledger itself failed (database down, corrupt row): the source says why.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// The records the payment logic keeps. Every future is `Send`, so the functions
/// written against it run on any tokio worker.
pub trait Ledger: Send + Sync {
    /// The ledger's clock (unix milliseconds): the time its writes are dated by, which
    /// the jobs also judge ages and due dates by.
    fn now_ms(&self) -> i64;

    /// Records a payment as PENDING before it is sent, or finds the one already
    /// recorded under its idempotency key.
    fn record_pending(&self, p: &NewPending) -> impl Future<Output = Result<Pending, LedgerError>> + Send;

    /// Records the platform's final answer on a PENDING payment, once.
    fn complete_payment(
        &self,
        reference: &str,
        answer: &Answer<'_>,
        actor: &str,
        detail: &str,
    ) -> impl Future<Output = Result<Completion, LedgerError>> + Send;

    /// Records a payment authorized then reversed (its invoice was no longer payable):
    /// the answer, the amounts after the reversal, and two history details (why, what
    /// was done). False when it was no longer PENDING.
    fn complete_reversed(
        &self,
        reference: &str,
        answer: &Answer<'_>,
        after: &Amounts,
        actor: &str,
        details: (&str, &str),
    ) -> impl Future<Output = Result<bool, LedgerError>> + Send;

    /// Writes a decision in a payment's history without changing its status.
    fn note_decision(
        &self,
        reference: &str,
        actor: &str,
        detail: &str,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;

    /// Sets the brand the platform reported on a PENDING payment.
    fn set_pending_brand(&self, reference: &str, brand: Brand) -> impl Future<Output = Result<(), LedgerError>> + Send;

    /// One transaction by reference.
    fn transaction(&self, reference: &str) -> impl Future<Output = Result<Option<Transaction>, LedgerError>> + Send;

    /// PENDING transactions created before `created_by` (unix ms), oldest first.
    fn pending_transactions(
        &self,
        created_by: i64,
    ) -> impl Future<Output = Result<Vec<Transaction>, LedgerError>> + Send;

    /// One of a merchant's invoices by id.
    fn invoice(&self, merchant_id: &str, id: &str)
        -> impl Future<Output = Result<Option<Invoice>, LedgerError>> + Send;

    /// Records a duplicate's invoice and PENDING transaction together (or finds the
    /// one already recorded under its idempotency key).
    fn record_duplicate(&self, d: &NewDuplicate)
        -> impl Future<Output = Result<DuplicateRecorded, LedgerError>> + Send;

    /// Claims a cash operation on a transaction, if the rules allow it and the
    /// transaction is still in the `expected` state: no other operation can be claimed
    /// on it until this one is finished or released (or its lease ends).
    fn claim_cash_operation(
        &self,
        merchant_id: &str,
        reference: &str,
        op: Operation,
        amount: Option<i64>,
        expected: Option<&Amounts>,
    ) -> impl Future<Output = Result<Claim, CashOpError>> + Send;

    /// Applies a claimed operation the platform accepted, and journals it.
    fn finish_cash_operation(
        &self,
        claim: &Claim,
        actor: &str,
        answer: &OpAnswer,
    ) -> impl Future<Output = Result<Transaction, CashOpError>> + Send;

    /// Gives a claim back, the operation not applied, and journals the answer.
    fn release_cash_operation(
        &self,
        claim: &Claim,
        actor: &str,
        answer: &OpAnswer,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;

    /// Journals an operation whose outcome is unknown (its claim is kept).
    fn log_cash_operation(
        &self,
        claim: &Claim,
        actor: &str,
        answer: &OpAnswer,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;

    /// The capture run at `now`: captures what is due, expires what was never
    /// validated. Returns (captured, expired).
    fn run_capture(&self, now: i64) -> impl Future<Output = Result<(u64, u64), LedgerError>> + Send;

    /// Expires invoices whose expiry has passed at `now`; returns how many.
    fn expire_due(&self, now: i64) -> impl Future<Output = Result<u64, LedgerError>> + Send;

    /// Claims up to `limit` notices due at `now` (only `merchant`'s, if given), held
    /// until `lease_until`.
    fn claim_due_notifications(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
        merchant: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Notice>, LedgerError>> + Send;

    /// Up to `limit` merchants with notices due at `now`, the longest waiting first.
    fn due_notification_merchants(
        &self,
        now: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<String>, LedgerError>> + Send;

    /// Records an attempt at a claimed notice; false when the claim was lost.
    fn notification_attempted(
        &self,
        notice: &Notice,
        delivered: bool,
        next_attempt_at: i64,
        error: Option<&str>,
    ) -> impl Future<Output = Result<bool, LedgerError>> + Send;

    /// The merchant's notification secret, if it has one.
    fn notification_secret(
        &self,
        merchant_id: &str,
    ) -> impl Future<Output = Result<Option<String>, LedgerError>> + Send;
}

impl LedgerError {
    /// The transaction a ledger just wrote is not there to read back.
    pub fn vanished_transaction(reference: &str) -> LedgerError {
        LedgerError::Vanished { table: "transactions", key: reference.to_string() }
    }
}
