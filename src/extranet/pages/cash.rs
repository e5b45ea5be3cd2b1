//! Cash operations from the invoice page (validate, cancel, refund), each behind a
//! confirmation step that states what will happen and asks for the amount (the whole
//! remaining amount by default). Only operations the Sips table allows for the
//! transaction's status are offered, and the operation itself is the one the JSON API
//! calls (`Store::cash_operation`), so both follow the same rules and the same gateway.

use super::{format, i18n, Current, Layout, PageError};
use crate::extranet::AppState;
use crate::payments::cash::{self, CashError, Operation};
use crate::payments::money::{parse_decimal, Currency};
use crate::payments::operations::{self, OperationError};
use crate::store::transactions::Transaction;
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
    pub l: Layout,
    /// Where the confirmation is posted.
    pub action: String,
    pub question: String,
    /// What the operation concerns, as label and value.
    pub facts: Vec<(&'static str, String)>,
    /// Why it cannot be done, if so.
    pub error: String,
    pub with_amount: bool,
    pub amount: String,
    pub amount_error: String,
    pub amount_hint: String,
    /// The confirm button.
    pub confirm: &'static str,
    /// Where "go back" leads.
    pub back: String,
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
    let money = |a| format::money(cur.lang, a, &t.currency);
    let error = if error.is_empty() && !cash::allowed(&t.status, op) {
        x.op_not_allowed.replace("{status}", format::status(cur.lang, &t.status))
    } else {
        error
    };
    ConfirmPage {
        l: Layout::new(cur, title.replace("{ref}", &t.reference), "/invoices"),
        action: format!("/transactions/{}/{}", t.reference, op.as_str()),
        question: question.into(),
        facts: vec![
            (x.col_card, t.masked_pan.clone()),
            (x.col_status, format::status(cur.lang, &t.status).into()),
            (x.authorised_amount, money(t.amount)),
            (x.current_amount, money(t.current_amount)),
            (x.refunded_amount, money(t.refunded_amount)),
        ],
        error,
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
    let amount = format::decimal(max_amount(&t, op).max(0), &t.currency);
    let p = page(&cur, &t, op, amount, String::new(), String::new());
    let status = if p.error.is_empty() { StatusCode::OK } else { StatusCode::CONFLICT };
    super::html(status, &p)
}

/// The confirmation form.
#[derive(Debug, Deserialize)]
pub struct OperationForm {
    #[serde(default)]
    amount: String,
}

/// POST /transactions/{reference}/{operation}
pub async fn apply(
    State(st): State<AppState>,
    cur: Current,
    Path((reference, op)): Path<(String, String)>,
    Form(f): Form<OperationForm>,
) -> Result<Response, PageError> {
    let op = operation(&op)?;
    let t = merchant_transaction(&st, &cur, &reference).await?;
    let again = |status, amount_error: String, error: String| {
        super::html(status, &page(&cur, &t, op, f.amount.clone(), amount_error, error))
    };
    let currency = Currency::parse(&t.currency).unwrap_or(Currency::Eur);
    let amount = match f.amount.trim() {
        "" => None,
        a => match parse_decimal(a, currency) {
            Some(v) => Some(v),
            None => return again(StatusCode::UNPROCESSABLE_ENTITY, cur.lang.texts().bad_amount.into(), String::new()),
        },
    };
    match operations::cash_operation(&st.store, &st.gateway, &t.merchant_id, &t.reference, op, amount, &cur.actor())
        .await
    {
        Ok(done) => {
            tracing::info!(user = %cur.session.user.email, reference = %done.reference, op = op.as_str(), "cash operation");
            Ok(Redirect::to(&format!("/invoices/{}?done={}", done.invoice_id, op.as_str())).into_response())
        }
        Err(OperationError::NotFound) => Err(PageError::NotFound),
        Err(OperationError::Rule(e @ CashError::BadAmount { .. })) => {
            let msg = cur
                .lang
                .texts()
                .op_bad_amount
                .replace("{min}", &format::money(cur.lang, 1, &t.currency))
                .replace("{max}", &format::money(cur.lang, max_amount(&t, op), &t.currency));
            tracing::debug!(error = %e, "cash operation refused");
            again(StatusCode::UNPROCESSABLE_ENTITY, msg, String::new())
        }
        Err(OperationError::Rule(e @ CashError::NotAllowed { .. })) => {
            again(StatusCode::CONFLICT, String::new(), i18n::message(cur.lang, &e.to_string()))
        }
        Err(OperationError::Concurrent) => again(
            StatusCode::CONFLICT,
            String::new(),
            i18n::message(cur.lang, "the transaction changed meanwhile; retry"),
        ),
        Err(e @ OperationError::Refused { .. }) => {
            again(StatusCode::CONFLICT, String::new(), i18n::message(cur.lang, &e.to_string()))
        }
        Err(e @ OperationError::Unavailable { .. }) => {
            again(StatusCode::BAD_GATEWAY, String::new(), i18n::message(cur.lang, &e.to_string()))
        }
        Err(OperationError::Store(e)) => Err(e.into()),
    }
}
