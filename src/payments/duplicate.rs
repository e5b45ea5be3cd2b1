//! Duplicates (Sips `cashManagement/duplicate`, "CL" in the table of cash operations):
//! a new transaction charged on the card the platform holds for an existing one, for
//! an amount, the customer not being present. Allowed from every settled status
//! (CANCELLED, CAPTURED, CREDITED, EXPIRED, REFUSED, TO_CAPTURE, TO_VALIDATE, TO_CREDIT),
//! never from a payment still PENDING.
//!
//! **Which invoice it belongs to.** A duplicate is a new charge of the same customer,
//! not another payment of the original invoice (which is paid, or was refused, or was
//! cancelled). It therefore gets an invoice of its own, created with it: the merchant's
//! `invoice_reference` (default `DUP-<transaction reference>`), the amount charged, the
//! original invoice's customer, a description naming the original transaction. So the
//! invariants of the rest of the system hold for duplicates too: every transaction pays
//! exactly one invoice, an invoice has at most one live payment (the unique index), the
//! journal's INVOICE_ID names what was charged, and recovery treats a duplicate like any
//! payment. The new invoice is PAID when the duplicate is authorized and CANCELLED when
//! it is refused (nobody is asked to pay it by phone).
//!
//! Exactly once, as for a phone payment: the invoice and the PENDING transaction are
//! written before the platform is called, with an idempotency key derived from the
//! invoice reference when the merchant gives one (the same request again returns the
//! first duplicate without charging again); only a platform never reached means nothing
//! was charged; any failure after sending is resolved with `getTransactionData`
//! (`payments::recovery`), and stays PENDING while the platform does not know it yet.

use super::authorize::new_transaction_reference;
use super::cash::{self, Operation};
use super::gateway::{DuplicateRequest, Gateway, GatewayError};
use super::invoice::{FieldError, InvoiceInput, NewInvoice};
use super::ledger::{Ledger, LedgerError};
use super::money::Currency;
use super::recovery::{self, Grace, InFlight};
use super::status::TransactionStatus;
use crate::payments::merchant::Merchant;
use crate::payments::transaction::{Answer, NewPending, Transaction};

/// What the merchant asks for.
#[derive(Clone, Debug)]
pub struct DuplicateInput<'a> {
    /// Whose transaction it is (capture mode and day come from it too).
    pub merchant: &'a Merchant,
    /// The transaction whose card is charged again.
    pub from_reference: &'a str,
    /// Minor units (required).
    pub amount: Option<i64>,
    /// The new invoice's reference; also makes the request idempotent.
    pub invoice_reference: Option<&'a str>,
    /// Who asks (`api:<merchant>`).
    pub actor: &'a str,
    /// Sips `orderChannel` (the configured one, as for phone payments).
    pub order_channel: &'a str,
    /// For the new reference and the new invoice's dates.
    pub today: chrono::NaiveDate,
}

/// What became of the duplicate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicated {
    /// The new transaction as recorded (TO_CAPTURE / TO_VALIDATE if authorized,
    /// REFUSED, or PENDING while its outcome is being resolved).
    pub transaction: Transaction,
    /// True when this request had already been made (nothing was sent this time).
    pub replayed: bool,
}

/// Why no duplicate was sent.
#[derive(Debug, thiserror::Error)]
pub enum DuplicateError {
    /// No such transaction for this merchant.
    #[error("no such transaction")]
    NotFound,
    /// The original's status does not allow a duplicate (a payment still PENDING).
    #[error("duplicate is not allowed on a {status} transaction")]
    NotAllowed {
        /// The original's status.
        status: TransactionStatus,
    },
    /// Fields at fault (`amount`, `invoice_reference`).
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    /// The invoice reference is taken by another invoice, or the same one was used for
    /// another duplicate.
    #[error("{0}")]
    Conflict(String),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(LedgerError),
}

impl From<LedgerError> for DuplicateError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Conflict(m) => DuplicateError::Conflict(m),
            other => DuplicateError::Ledger(other),
        }
    }
}

/// A duplicate about to be recorded, before it is sent.
#[derive(Clone, Debug)]
pub struct NewDuplicate {
    /// The transaction whose card is charged again.
    pub from_reference: String,
    /// Its invoice (the new charge), PAYABLE until the answer.
    pub invoice: NewInvoice,
    /// The new transaction (`invoice_id` is filled in by the ledger).
    pub pending: NewPending,
    /// Who asked (`api:<merchant>`), for the first history row.
    pub actor: String,
}

/// What recording a duplicate found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DuplicateRecorded {
    /// Recorded: the duplicate may be sent.
    Recorded(Box<Transaction>),
    /// The same request was already recorded (same idempotency key): not sent again.
    Existing(Box<Transaction>),
}

/// Records, sends and records the answer of a duplicate.
pub async fn duplicate<L: Ledger>(
    ledger: &L,
    gateway: &Gateway,
    input: DuplicateInput<'_>,
) -> Result<Duplicated, DuplicateError> {
    let m = input.merchant;
    let original = ledger
        .transaction(input.from_reference)
        .await?
        .filter(|t| t.merchant_id == m.id)
        .ok_or(DuplicateError::NotFound)?;
    if !cash::allowed(original.status, Operation::Duplicate) {
        return Err(DuplicateError::NotAllowed { status: original.status });
    }
    let Some(amount) = input.amount else {
        return Err(DuplicateError::Invalid(vec![FieldError::new("amount", "is required (minor units)")]));
    };
    let reference = new_transaction_reference(input.today);
    let customer = ledger.invoice(&m.id, &original.invoice_id).await?;
    let invoice = InvoiceInput {
        reference: Some(input.invoice_reference.map(str::to_string).unwrap_or_else(|| format!("DUP-{reference}"))),
        amount: Some(amount),
        currency: Some(original.currency.code().to_string()),
        due_date: Some(input.today.format("%Y-%m-%d").to_string()),
        expiry_date: Some(input.today.format("%Y-%m-%d").to_string()),
        customer_name: Some(customer.as_ref().map(|i| i.customer_name.clone()).unwrap_or_else(|| "-".into())),
        customer_contact: customer.as_ref().and_then(|i| i.customer_contact.clone()),
        description: Some(format!("Duplicate of transaction {}", original.reference)),
    }
    .validate(input.today)
    .map_err(|errs| {
        let rename = |f: &'static str| if f == "reference" { "invoice_reference" } else { f };
        DuplicateError::Invalid(errs.into_iter().map(|e| FieldError::new(rename(e.field), e.message)).collect())
    })?;
    let key = match input.invoice_reference {
        Some(r) => format!("dup:{}:{r}", m.id),
        None => format!("dup:{}:{reference}", m.id),
    };
    let new = NewDuplicate {
        from_reference: original.reference.clone(),
        pending: NewPending {
            reference: reference.clone(),
            merchant_id: m.id.clone(),
            invoice_id: String::new(),
            idempotency_key: key,
            amount,
            currency: original.currency,
            masked_pan: original.masked_pan.clone(),
            brand: original.brand,
            expiry_month: original.expiry_month.clone(),
            order_channel: input.order_channel.to_string(),
            capture_mode: m.capture_mode,
            capture_day: m.capture_day as i64,
            caller: None,
            call_id: None,
        },
        invoice,
        actor: input.actor.to_string(),
    };
    match ledger.record_duplicate(&new).await? {
        DuplicateRecorded::Recorded(_) => {}
        DuplicateRecorded::Existing(t) => {
            if t.duplicated_from.as_deref() != Some(original.reference.as_str()) || t.amount != amount {
                return Err(DuplicateError::Conflict(format!(
                    "invoice reference {} was already used for another duplicate",
                    new.invoice.reference
                )));
            }
            return Ok(Duplicated { transaction: *t, replayed: true });
        }
    }
    let currency = new.invoice.currency;
    let req = DuplicateRequest {
        from_transaction_reference: &original.reference,
        transaction_reference: &reference,
        amount,
        currency,
        capture_mode: m.capture_mode,
        capture_day: m.capture_day,
        order_channel: input.order_channel,
    };
    send(ledger, gateway, &req, currency, input.actor).await?;
    let t = ledger.transaction(&reference).await?.ok_or_else(|| LedgerError::vanished_transaction(&reference))?;
    Ok(Duplicated { transaction: t, replayed: false })
}

async fn send<L: Ledger>(
    ledger: &L,
    gateway: &Gateway,
    req: &DuplicateRequest<'_>,
    currency: Currency,
    actor: &str,
) -> Result<(), LedgerError> {
    let p =
        InFlight { reference: req.transaction_reference, capture_mode: req.capture_mode, amount: req.amount, currency };
    let detail = format!("duplicate of {} answered", req.from_transaction_reference);
    match gateway.duplicate(req).await {
        Ok(resp) => recovery::record_answer(ledger, gateway, &p, &resp, actor, &detail).await,
        Err(GatewayError::Unavailable) => {
            let answer = Answer {
                status: TransactionStatus::Refused,
                response_code: "90",
                acquirer_response_code: "",
                authorisation_id: None,
            };
            ledger
                .complete_payment(p.reference, &answer, actor, "payment platform unavailable: nothing charged")
                .await?;
            Ok(())
        }
        Err(GatewayError::Timeout | GatewayError::AnswerLost(_) | GatewayError::BadSeal) => {
            recovery::resolve(ledger, gateway, &p, Grace::Running, actor).await
        }
    }
}
