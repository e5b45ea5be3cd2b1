//! Taking a card payment exactly once.
//!
//! 1. Check the card (Luhn, brand accepted by the merchant, length, expiry).
//! 2. Record the transaction PENDING with the caller's idempotency key, locking the
//!    invoice: a duplicate key returns the first outcome without calling the platform.
//! 3. Send the authorization; wipe the security code as soon as it is sent.
//! 4. Record the answer and mark the invoice PAID in one database transaction.
//! 5. Only a platform that was never reached (no connection, or its sealed "service
//!    unavailable") means nothing was charged. Any failure once the request was sent
//!    (time-out, broken connection, HTTP error, unreadable answer, bad seal) is an
//!    unknown outcome: ask the platform (`getTransactionData`) what happened. Found:
//!    record it. Not known to it (yet): it may still be processing the request, so the
//!    payment stays PENDING, holding the invoice, and `payments::recovery` decides once
//!    the grace period is over. If it cannot be asked, the authorization is reversed; if
//!    nothing can be done, the payment stays PENDING for recovery too (periodically,
//!    and at start after a crash).
//!
//! An authorization whose invoice was cancelled while it was in flight is reversed
//! rather than recorded as the invoice's payment (see `payments::recovery`).

use super::card::{check_card, Brand, CardError, CardNumber, Expiry, SecurityCode};
use super::gateway::{AuthorizationRequest, Gateway, GatewayError};
use super::ledger::{Ledger, LedgerError};
use super::recovery::{self, Grace, InFlight};
use super::status::TransactionStatus;
use crate::payments::invoice::Invoice;
use crate::payments::merchant::Merchant;
use crate::payments::transaction::{Answer, NewPending, Pending, Transaction};

/// The outcome a caller is told about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Authorized (TO_CAPTURE or TO_VALIDATE); the invoice is paid.
    Accepted(Transaction),
    /// Refused by the bank or the platform.
    Refused(Transaction),
    /// The platform could not be reached; nothing was charged.
    Unavailable(Transaction),
    /// The outcome is not known yet (kept PENDING, resolved later); the caller is told
    /// the payment is being checked, never asked to pay again.
    Unresolved(Transaction),
}

/// Why no payment was attempted.
#[derive(Debug, thiserror::Error)]
pub enum PayError {
    /// The card failed a check (the message never contains digits).
    #[error("card refused before sending: {0}")]
    Card(#[from] CardError),
    /// The invoice cannot be paid now.
    #[error("invoice is not payable")]
    InvoiceNotPayable,
    /// Another payment of the invoice is still being resolved: nothing was sent.
    #[error("another payment of the invoice is being resolved")]
    PaymentInProgress,
    /// The idempotency key already names a payment of another invoice, merchant or
    /// amount: nothing was sent, and that payment is not this one's outcome.
    #[error("idempotency key already used by transaction {reference} for another payment")]
    KeyReused {
        /// The transaction the key names.
        reference: String,
    },
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Everything needed to pay one invoice by card.
pub struct PaymentRequest<'a> {
    /// Whose accepted brands and capture settings apply.
    pub merchant: &'a Merchant,
    /// The invoice to pay; its amount and currency are charged, nothing the caller typed.
    pub invoice: &'a Invoice,
    /// Borrowed: the caller owns (and wipes) the number; only its masked form is stored.
    pub card: &'a CardNumber,
    /// Checked not past before anything is sent.
    pub expiry: Expiry,
    /// Taken by value: it is wiped once sent.
    pub csc: SecurityCode,
    /// Stable across retries of the same attempt (e.g. Call-ID and attempt number).
    pub idempotency_key: &'a str,
    /// Calling number, stored with the transaction for tracing.
    pub caller: Option<&'a str>,
    /// SIP Call-ID, stored with the transaction to link it to the call.
    pub call_id: Option<&'a str>,
    /// Sips `orderChannel` (from the configuration).
    pub order_channel: &'a str,
    /// Injected so the expiry check and the reference do not read the clock.
    pub today: chrono::NaiveDate,
}

/// A new Sips transactionReference: letters and digits, at most 35 characters.
pub fn new_transaction_reference(today: chrono::NaiveDate) -> String {
    format!("IVR{}{:012X}", today.format("%Y%m%d"), rand::random::<u64>() & 0xFFFF_FFFF_FFFF)
}

/// The brands a merchant's card check lets through. A CB card is always co-badged with
/// Visa or Mastercard and its number falls in their ranges (detection never says CB),
/// so a merchant accepting CB accepts VISA and MASTERCARD numbers: a card outside its
/// contract is then refused by the bank, not by us. Unknown names cannot be stored
/// (`NewMerchant::validate`).
pub fn accepted_brands(m: &Merchant) -> Vec<Brand> {
    let mut brands: Vec<Brand> = m.accepted_brands.iter().filter_map(|b| Brand::from_sips(b)).collect();
    if brands.contains(&Brand::Cb) {
        for co_badged in [Brand::Visa, Brand::Mastercard] {
            if !brands.contains(&co_badged) {
                brands.push(co_badged);
            }
        }
    }
    brands
}

/// A payment found under our idempotency key is our outcome only if it pays the same
/// invoice, for the same merchant and amount.
fn same_payment(found: &Transaction, ours: &NewPending) -> bool {
    found.invoice_id == ours.invoice_id
        && found.merchant_id == ours.merchant_id
        && found.amount == ours.amount
        && found.currency == ours.currency
}

/// Takes the payment (see the module documentation).
pub async fn pay<L: Ledger>(
    ledger: &L,
    gateway: &Gateway,
    req: PaymentRequest<'_>,
) -> Result<PaymentOutcome, PayError> {
    let PaymentRequest {
        merchant,
        invoice,
        card,
        expiry,
        mut csc,
        idempotency_key,
        caller,
        call_id,
        order_channel,
        today,
    } = req;
    let brand = check_card(card, &accepted_brands(merchant))?;
    expiry.check_not_past(today)?;
    let reference = new_transaction_reference(today);
    let pending = NewPending {
        reference: reference.clone(),
        merchant_id: merchant.id.clone(),
        invoice_id: invoice.id.clone(),
        idempotency_key: idempotency_key.to_string(),
        amount: invoice.amount,
        currency: invoice.currency,
        masked_pan: card.masked(),
        brand,
        expiry_month: expiry.as_yyyymm(),
        order_channel: order_channel.to_string(),
        capture_mode: merchant.capture_mode,
        capture_day: merchant.capture_day as i64,
        caller: caller.map(str::to_string),
        call_id: call_id.map(str::to_string),
    };
    match ledger.record_pending(&pending).await? {
        Pending::Recorded => {}
        Pending::Duplicate(t) if same_payment(&t, &pending) => return Ok(outcome_of(*t)),
        Pending::Duplicate(t) => return Err(PayError::KeyReused { reference: t.reference }),
        Pending::InvoiceNotPayable => return Err(PayError::InvoiceNotPayable),
        Pending::InProgress => return Err(PayError::PaymentInProgress),
    }
    let request = AuthorizationRequest {
        transaction_reference: &reference,
        amount: invoice.amount,
        currency: invoice.currency,
        card,
        expiry,
        csc: &csc,
        capture_mode: merchant.capture_mode,
        capture_day: merchant.capture_day,
        order_channel,
    };
    let result = gateway.authorize(&request).await;
    // The request borrows the code; it is gone here, so the code can be wiped.
    csc.wipe();
    let in_flight = InFlight {
        reference: &reference,
        capture_mode: pending.capture_mode,
        amount: pending.amount,
        currency: invoice.currency,
    };
    match result {
        Ok(resp) => {
            recovery::record_answer(ledger, gateway, &in_flight, &resp, "ivr", "authorization answered").await?
        }
        Err(GatewayError::Unavailable) => {
            let answer = Answer {
                status: TransactionStatus::Refused,
                response_code: "90",
                acquirer_response_code: "",
                authorisation_id: None,
            };
            ledger
                .complete_payment(&reference, &answer, "ivr", "payment platform unavailable: nothing charged")
                .await?;
        }
        Err(e @ (GatewayError::Timeout | GatewayError::AnswerLost(_) | GatewayError::BadSeal)) => {
            tracing::warn!(reference = %reference, error = %e, "authorization outcome unknown; asking the platform");
            recovery::resolve(ledger, gateway, &in_flight, Grace::Running, "ivr").await?
        }
    }
    let t = ledger.transaction(&reference).await?.ok_or_else(|| LedgerError::vanished_transaction(&reference))?;
    Ok(outcome_of(t))
}

/// What the caller is told, from the transaction as recorded.
pub fn outcome_of(t: Transaction) -> PaymentOutcome {
    match (t.status, t.response_code.as_deref()) {
        (s, _) if s.is_authorized() => PaymentOutcome::Accepted(t),
        (TransactionStatus::Pending, _) => PaymentOutcome::Unresolved(t),
        (_, Some("90")) => PaymentOutcome::Unavailable(t),
        _ => PaymentOutcome::Refused(t),
    }
}
