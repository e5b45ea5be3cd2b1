//! Cash operations (validate, cancel, refund; all or part) through the payment
//! platform. The platform is the source of truth for what is captured: an operation is
//! checked against the Sips table and the amounts, the transaction is claimed (so no
//! other operation is computed from the same state), the platform is asked, and only
//! what it applied is recorded: status, amounts, a history row naming the actor and the
//! platform's response code, and a notification, in one database transaction. A
//! refusal or an unreachable platform changes nothing locally.
//!
//! When the answer is lost (time-out, broken connection, HTTP error, unreadable answer,
//! bad seal: anything after the request was sent), `getTransactionData` tells whether the
//! operation was applied: if the platform shows the state the operation leads to, it
//! is recorded; if it shows the state before, nothing happened; otherwise the claim is
//! kept until it lapses, so nobody repeats an operation whose outcome is unknown.

use super::cash::{Amounts, CashError, Operation};
use super::gateway::{response_code_meaning, CashRequest, CashResponse, Gateway, GatewayError, Lookup};
use super::ledger::{Ledger, LedgerError};
use super::operations_log::{OpAnswer, OpOutcome};
use crate::payments::transaction::Transaction;

/// Why a cash operation was not applied.
#[derive(Debug, thiserror::Error)]
pub enum OperationError {
    /// No such transaction for this merchant.
    #[error("no such transaction")]
    NotFound,
    /// Refused by the Sips table or the amounts, before asking the platform.
    #[error(transparent)]
    Rule(#[from] CashError),
    /// The transaction changed meanwhile, or another operation on it is in flight.
    #[error("the transaction changed meanwhile or another operation on it is in progress; retry")]
    Concurrent,
    /// The transaction is no longer in the state the order expected; nothing was sent.
    #[error("the transaction is no longer in the state this operation was decided on; nothing was done")]
    StateChanged,
    /// The platform refused the operation (its responseCode); nothing changed.
    #[error(
        "the payment platform refused the {op}: responseCode {response_code} ({})",
        response_code_meaning(response_code)
    )]
    Refused {
        /// validate, cancel or refund.
        op: &'static str,
        /// Sips responseCode.
        response_code: String,
    },
    /// The platform could not be reached, or its answer could not be trusted.
    #[error("the payment platform could not be reached for the {op} ({reason}); {consequence}")]
    Unavailable {
        /// validate, cancel or refund.
        op: &'static str,
        /// What failed.
        reason: GatewayError,
        /// What it means for the transaction (told to the API caller).
        consequence: &'static str,
    },
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Why the ledger did not claim a cash operation.
#[derive(Debug, thiserror::Error)]
pub enum CashOpError {
    /// No such transaction for this merchant.
    #[error("no such transaction")]
    NotFound,
    /// Refused by the rules (status or amount).
    #[error(transparent)]
    Rule(#[from] CashError),
    /// The transaction changed meanwhile, or another operation is in flight; retry.
    #[error("the transaction changed meanwhile or another operation on it is in progress; retry")]
    Concurrent,
    /// The transaction is no longer in the state the order was decided on.
    #[error("the transaction is no longer in the state this operation was decided on")]
    StateChanged,
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// A cash operation allowed by the rules and claimed on the transaction, ready to be
/// sent to the platform. Only the ledger makes one (its token proves the claim).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The transaction as it was when claimed.
    pub transaction: Transaction,
    /// Validate, cancel or refund.
    pub op: Operation,
    /// Status and amounts it was computed from.
    pub before: Amounts,
    /// Status and amounts once applied.
    pub after: Amounts,
    /// What the operation moves (`operationAmount`).
    pub moved: i64,
    /// The lease token the ledger checks when the claim is finished or released.
    pub(crate) token: String,
}

impl From<CashOpError> for OperationError {
    fn from(e: CashOpError) -> Self {
        match e {
            CashOpError::NotFound => OperationError::NotFound,
            CashOpError::Rule(r) => OperationError::Rule(r),
            CashOpError::Concurrent => OperationError::Concurrent,
            CashOpError::StateChanged => OperationError::StateChanged,
            CashOpError::Ledger(s) => OperationError::Ledger(s),
        }
    }
}

/// What a merchant asks of a transaction's cash.
#[derive(Clone, Debug)]
pub struct CashOrder {
    /// Validate, cancel or refund.
    pub op: Operation,
    /// Minor units to move; None: all that the operation may touch.
    pub amount: Option<i64>,
    /// The state the merchant saw when deciding (a confirmation page, an API `If-Match`):
    /// when set, the operation applies only to that state, so a repeated or retried
    /// order cannot apply twice.
    pub expected: Option<Amounts>,
}

impl CashOrder {
    /// An order with no precondition on the transaction's state.
    pub fn new(op: Operation, amount: Option<i64>) -> Self {
        CashOrder { op, amount, expected: None }
    }
}

/// Validates, cancels or refunds a merchant's transaction at the platform, then
/// records it.
pub async fn cash_operation<L: Ledger>(
    ledger: &L,
    gateway: &Gateway,
    merchant_id: &str,
    reference: &str,
    order: CashOrder,
    actor: &str,
) -> Result<Transaction, OperationError> {
    let CashOrder { op, amount, expected } = order;
    if op == Operation::Duplicate {
        // A duplicate creates another transaction: `payments::duplicate`.
        return Err(OperationError::Rule(CashError::NotOnThisTransaction { op: op.as_str() }));
    }
    let claim = ledger.claim_cash_operation(merchant_id, reference, op, amount, expected.as_ref()).await?;
    let currency = claim.transaction.currency;
    let req = CashRequest { transaction_reference: reference, operation: op, amount: claim.moved, currency };
    match gateway.cash(&req).await {
        Ok(r) if r.accepted() => {
            let answer = answered(OpOutcome::Applied, Some(&r.response_code), applied_detail(&claim, &r));
            Ok(ledger.finish_cash_operation(&claim, actor, &answer).await?)
        }
        Ok(r) => {
            let detail = format!("refused by the platform: responseCode {}", r.response_code);
            let answer = answered(OpOutcome::Refused, Some(&r.response_code), detail);
            ledger.release_cash_operation(&claim, actor, &answer).await?;
            tracing::info!(%reference, op = op.as_str(), code = %r.response_code, "cash operation refused by the platform");
            Err(OperationError::Refused { op: op.as_str(), response_code: r.response_code })
        }
        Err(GatewayError::Unavailable) => {
            let answer = answered(OpOutcome::Unavailable, None, "the platform could not be reached".into());
            ledger.release_cash_operation(&claim, actor, &answer).await?;
            Err(OperationError::Unavailable {
                op: op.as_str(),
                reason: GatewayError::Unavailable,
                consequence: "nothing was changed; retry later",
            })
        }
        Err(lost) => settle_lost_answer(ledger, gateway, &claim, lost, actor).await,
    }
}

fn answered(outcome: OpOutcome, code: Option<&str>, detail: String) -> OpAnswer {
    OpAnswer { outcome, response_code: code.map(str::to_string), detail }
}

fn applied_detail(claim: &Claim, r: &CashResponse) -> String {
    let mut detail =
        format!("{} of {} applied by the platform: responseCode {}", claim.op.as_str(), claim.moved, r.response_code);
    if let Some(s) = &r.new_status {
        detail.push_str(&format!(", newStatus {s}"));
        if *s != claim.after.status.as_str() {
            // Our statuses follow the Sips table; a platform naming another (e.g. an
            // intermediate TO_CREDIT) is kept in the history for reconciliation.
            tracing::warn!(reference = %claim.transaction.reference, ours = %claim.after.status, platform = %s, "platform status differs");
        }
    }
    if let Some(a) = r.new_amount {
        detail.push_str(&format!(", newAmount {a}"));
    }
    detail
}

/// The operation's answer was lost: learn from `getTransactionData` whether it was
/// applied.
async fn settle_lost_answer<L: Ledger>(
    ledger: &L,
    gateway: &Gateway,
    claim: &Claim,
    lost: GatewayError,
    actor: &str,
) -> Result<Transaction, OperationError> {
    let op = claim.op.as_str();
    let stands_for = |a: &super::cash::Amounts| a.current - a.refunded;
    if let Ok(Lookup::Found(d)) = gateway.lookup(&claim.transaction.reference).await {
        if d.status == claim.after.status.as_str() && d.current_amount == Some(stands_for(&claim.after)) {
            let detail = format!(
                "{op} of {} applied by the platform (answer lost: {lost}; confirmed by getTransactionData, transactionStatus {})",
                claim.moved, d.status
            );
            return Ok(ledger.finish_cash_operation(claim, actor, &answered(OpOutcome::Applied, None, detail)).await?);
        }
        if d.status == claim.before.status.as_str() && d.current_amount == Some(stands_for(&claim.before)) {
            let detail = format!("not applied (answer lost: {lost}; getTransactionData shows it was not)");
            ledger.release_cash_operation(claim, actor, &answered(OpOutcome::Unavailable, None, detail)).await?;
            return Err(OperationError::Unavailable {
                op,
                reason: lost,
                consequence: "the platform shows it was not applied; nothing was changed; retry",
            });
        }
    }
    // Unknown: keep the claim so nobody repeats it before it lapses.
    tracing::error!(reference = %claim.transaction.reference, op, error = %lost, "cash operation outcome unknown");
    let detail = format!("outcome unknown (answer lost: {lost}); check the transaction at the platform");
    ledger.log_cash_operation(claim, actor, &answered(OpOutcome::Unknown, None, detail)).await?;
    Err(OperationError::Unavailable {
        op,
        reason: lost,
        consequence: "its outcome is unknown; the transaction is locked for two minutes, then check it at the platform before retrying",
    })
}
