//! Cash operations from the invoice page (validate, cancel, refund), each behind a
//! confirmation step that states what will happen and asks for the amount (the whole
//! remaining amount by default). Only operations the Sips table allows for the
//! transaction's status are offered, and the operation itself is the one the JSON API
//! calls (`Store::cash_operation`), so both follow the same rules and the same gateway.
//!
//! A confirmation form carries the state of the transaction it was shown for (status
//! and amounts); a POST whose transaction has changed since (a double click, a form
//! sent again from the browser's history) is refused and the fresh state shown, so an
//! operation is never applied twice by mistake. The state goes down to the store's
//! claim (`CashOrder::expected`), which is atomic, so this holds across processes too.

use super::{format, Current, Layout, PageError};
use crate::extranet::AppState;
use crate::payments::cash::{self, Amounts, CashError, Operation};
use crate::payments::money::parse_decimal;
use crate::payments::operations::{self, CashOrder, OperationError};
use crate::payments::transaction::Transaction;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

/// A confirmation step (also used to cancel an invoice).
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    /// The common frame.
    pub l: Layout,
    /// Where the confirmation is posted.
    pub action: String,
    /// What will happen, asked before it does.
    pub question: String,
    /// What the operation concerns, as label and value.
    pub facts: Vec<(&'static str, String)>,
    /// Why it cannot be done, if so.
    pub error: String,
    /// Whether the operation can be confirmed at all (else neither the amount nor the
    /// button is shown: there is nothing to confirm).
    pub can_confirm: bool,
    /// The state the page shows, sent back with the confirmation (see [`state`]);
    /// empty when the operation needs none.
    pub expected: String,
    /// Whether the operation takes an amount (cash operations do, cancelling an invoice
    /// does not).
    pub with_amount: bool,
    /// The amount as typed (or the default: all that remains).
    pub amount: String,
    /// What is wrong with the amount, shown beside it.
    pub amount_error: String,
    /// The most the amount may be.
    pub amount_hint: String,
    /// The confirm button.
    pub confirm: &'static str,
    /// Where "go back" leads.
    pub back: String,
}

/// The state of a transaction a confirmation was shown for: an operation applied since
/// changes the status or an amount, and with them this value.
pub fn state(t: &Transaction) -> String {
    format!("{}/{}/{}", t.status, t.current_amount, t.refunded_amount)
}

fn operation(segment: &str) -> Result<Operation, PageError> {
    match segment {
        "validate" => Ok(Operation::Validate),
        "cancel" => Ok(Operation::Cancel),
        "refund" => Ok(Operation::Refund),
        _ => Err(PageError::NotFound),
    }
}

/// The most an operation may move on this transaction.
fn max_amount(t: &Transaction, op: Operation) -> i64 {
    match op {
        Operation::Refund => t.current_amount - t.refunded_amount,
        _ => t.current_amount,
    }
}

async fn merchant_transaction(st: &AppState, cur: &Current, reference: &str) -> Result<Transaction, PageError> {
    let merchant = cur.merchant_id()?;
    st.store.transaction(reference).await?.filter(|t| t.merchant_id == merchant).ok_or(PageError::NotFound)
}

fn page(
    cur: &Current,
    t: &Transaction,
    op: Operation,
    amount: String,
    amount_error: String,
    error: String,
) -> ConfirmPage {
    let x = cur.lang.texts();
    let (title, question, confirm) = match op {
        Operation::Validate => (x.t_op_validate, x.q_op_validate, x.op_validate),
        Operation::Cancel => (x.t_op_cancel, x.q_op_cancel, x.op_cancel),
        _ => (x.t_op_refund, x.q_op_refund, x.op_refund),
    };
    let money = |a| format::money(cur.lang, a, t.currency);
    let can_confirm = cash::allowed(t.status, op);
    let action = format!("/transactions/{}/{}", t.reference, op.as_str());
    let error = if error.is_empty() && !can_confirm {
        x.op_not_allowed.replace("{status}", format::status(cur.lang, t.status.as_str()))
    } else {
        error
    };
    ConfirmPage {
        l: Layout::new(cur, title.replace("{ref}", &t.reference), "/invoices").back_to(&action),
        action,
        question: question.into(),
        facts: vec![
            (x.col_card, t.masked_pan.clone()),
            (x.col_status, format::status(cur.lang, t.status.as_str()).into()),
            (x.authorised_amount, money(t.amount)),
            (x.current_amount, money(t.current_amount)),
            (x.refunded_amount, money(t.refunded_amount)),
        ],
        error,
        can_confirm,
        expected: state(t),
        with_amount: true,
        amount,
        amount_error,
        amount_hint: x.h_op_amount.replace("{max}", &money(max_amount(t, op))),
        confirm,
        back: format!("/invoices/{}", t.invoice_id),
    }
}

/// GET /transactions/{reference}/{operation}: the confirmation step.
pub async fn confirm(
    State(st): State<AppState>,
    cur: Current,
    Path((reference, op)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let op = operation(&op)?;
    let t = merchant_transaction(&st, &cur, &reference).await?;
    let amount = format::decimal(max_amount(&t, op).max(0), t.currency);
    let p = page(&cur, &t, op, amount, String::new(), String::new());
    let status = if p.error.is_empty() { StatusCode::OK } else { StatusCode::CONFLICT };
    super::html(status, &p)
}

/// The confirmation form.
#[derive(Debug, Deserialize)]
pub struct OperationForm {
    #[serde(default)]
    amount: String,
    /// The state the confirmation was shown for.
    #[serde(default)]
    expected: String,
}

/// POST /transactions/{reference}/{operation}
pub async fn apply(
    State(st): State<AppState>,
    cur: Current,
    Path((reference, op)): Path<(String, String)>,
    Form(f): Form<OperationForm>,
) -> Result<Response, PageError> {
    let op = operation(&op)?;
    let x = cur.lang.texts();
    let t = merchant_transaction(&st, &cur, &reference).await?;
    let again = |status, amount_error: String, error: String| {
        super::html(status, &page(&cur, &t, op, f.amount.clone(), amount_error, error))
    };
    if f.expected != state(&t) {
        tracing::info!(user = %cur.session.user.email, %reference, op = op.as_str(), "cash operation refused: the transaction changed since its confirmation was shown");
        return again(StatusCode::CONFLICT, String::new(), x.op_changed.into());
    }
    let currency = t.currency;
    let amount = match f.amount.trim() {
        "" => None,
        a => match parse_decimal(a, currency) {
            Some(v) => Some(v),
            None => return again(StatusCode::UNPROCESSABLE_ENTITY, x.bad_amount.into(), String::new()),
        },
    };
    // The state the confirmation showed goes down to the claim, which applies the
    // operation to that state only: the same form sent twice, at once or one after the
    // other, to one server or two, is applied once (the other gets the 409 below).
    let expected = Amounts { status: t.status, current: t.current_amount, refunded: t.refunded_amount };
    let order = CashOrder { op, amount, expected: Some(expected) };
    match operations::cash_operation(&st.store, &st.gateway, &t.merchant_id, &t.reference, order, &cur.actor()).await {
        Ok(done) => {
            tracing::info!(user = %cur.session.user.email, reference = %done.reference, op = op.as_str(), "cash operation");
            Ok(Redirect::to(&format!("/invoices/{}?done={}", done.invoice_id, op.as_str())).into_response())
        }
        Err(OperationError::NotFound) => Err(PageError::NotFound),
        Err(OperationError::Rule(e @ CashError::BadAmount { .. })) => {
            let msg = x
                .op_bad_amount
                .replace("{min}", &format::money(cur.lang, 1, t.currency))
                .replace("{max}", &format::money(cur.lang, max_amount(&t, op), t.currency));
            tracing::debug!(error = %e, "cash operation refused");
            again(StatusCode::UNPROCESSABLE_ENTITY, msg, String::new())
        }
        Err(OperationError::Rule(CashError::NotAllowed { .. } | CashError::NotOnThisTransaction { .. })) => again(
            StatusCode::CONFLICT,
            String::new(),
            x.op_not_allowed.replace("{status}", format::status(cur.lang, t.status.as_str())),
        ),
        Err(OperationError::Concurrent | OperationError::StateChanged) => {
            again(StatusCode::CONFLICT, String::new(), x.op_changed.into())
        }
        // The platform's answer: its response code helps the merchant's bank; how we
        // reached it (addresses, timeouts) stays in the log.
        Err(OperationError::Refused { response_code, .. }) => {
            again(StatusCode::CONFLICT, String::new(), x.op_refused.replace("{code}", &response_code))
        }
        Err(OperationError::Unavailable { reason, consequence, .. }) => {
            tracing::warn!(%reason, %reference, consequence, "cash operation: platform unavailable");
            let msg = if consequence.contains("unknown") { x.op_unresolved } else { x.op_unavailable };
            again(StatusCode::BAD_GATEWAY, String::new(), msg.into())
        }
        Err(OperationError::Ledger(e)) => Err(e.into()),
    }
}
