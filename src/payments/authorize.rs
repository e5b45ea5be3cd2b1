//! Taking a card payment exactly once.
//!
//! 1. Check the card (Luhn, brand accepted by the merchant, length, expiry).
//! 2. Record the transaction PENDING with the caller's idempotency key, locking the
//!    invoice: a duplicate key returns the first outcome without calling the platform.
//! 3. Send the authorization; wipe the security code as soon as it is sent.
//! 4. Record the answer and mark the invoice PAID in one database transaction.
//! 5. No answer: ask the platform (`getTransactionData`) what happened; if it never saw
//!    the payment, nothing was charged and the transaction is closed as refused; if it
//!    cannot be reached, the payment stays PENDING and [`recover_pending`] resolves it
//!    later (at start, after a crash).

use super::card::{check_card, Brand, CardError, CardNumber, Expiry, SecurityCode};
use super::gateway::{AuthorizationRequest, AuthorizationResponse, Gateway, GatewayError, Lookup};
use crate::store::invoices::Invoice;
use crate::store::merchants::{CaptureMode, Merchant};
use crate::store::transactions::{NewPending, Pending, Transaction};
use crate::store::{Store, StoreError};

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
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Everything needed to pay one invoice by card.
pub struct PaymentRequest<'a> {
    pub merchant: &'a Merchant,
    pub invoice: &'a Invoice,
    pub card: &'a CardNumber,
    pub expiry: Expiry,
    /// Taken by value: it is wiped once sent.
    pub csc: SecurityCode,
    /// Stable across retries of the same attempt (e.g. Call-ID and attempt number).
    pub idempotency_key: &'a str,
    pub caller: Option<&'a str>,
    pub call_id: Option<&'a str>,
    pub order_channel: &'a str,
    pub today: chrono::NaiveDate,
}

/// A new Sips transactionReference: letters and digits, at most 35 characters.
pub fn new_transaction_reference(today: chrono::NaiveDate) -> String {
    format!("IVR{}{:012X}", today.format("%Y%m%d"), rand::random::<u64>() & 0xFFFF_FFFF_FFFF)
}

fn accepted_brands(m: &Merchant) -> Vec<Brand> {
    m.accepted_brands.iter().filter_map(|b| Brand::from_sips(b)).collect()
}

fn success_status(mode: &str) -> &'static str {
    if mode == CaptureMode::Validation.as_str() {
        "TO_VALIDATE"
    } else {
        "TO_CAPTURE"
    }
}

/// Takes the payment (see the module documentation).
pub async fn pay(store: &Store, gateway: &Gateway, req: PaymentRequest<'_>) -> Result<PaymentOutcome, PayError> {
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
        currency: invoice.currency.code().to_string(),
        masked_pan: card.masked(),
        brand: brand.as_sips().to_string(),
        expiry_month: expiry.as_yyyymm(),
        order_channel: order_channel.to_string(),
        capture_mode: merchant.capture_mode.as_str().to_string(),
        capture_day: merchant.capture_day as i64,
        caller: caller.map(str::to_string),
        call_id: call_id.map(str::to_string),
    };
    match store.record_pending(&pending).await? {
        Pending::Recorded => {}
        Pending::Duplicate(t) => return Ok(outcome_of(*t)),
        Pending::InvoiceNotPayable => return Err(PayError::InvoiceNotPayable),
    }
    let request = AuthorizationRequest {
        transaction_reference: &reference,
        amount: invoice.amount,
        currency: invoice.currency,
        card,
        expiry,
        csc: &csc,
        capture_mode: merchant.capture_mode.as_str(),
        capture_day: merchant.capture_day,
        order_channel,
    };
    let result = gateway.authorize(&request).await;
    // The request borrows the code; it is gone here, so the code can be wiped.
    csc.wipe();
    match result {
        Ok(resp) => {
            record_answer(store, &reference, &pending.capture_mode, &resp, "ivr", "authorization answered").await?
        }
        Err(GatewayError::Unavailable) => {
            store
                .complete_payment(
                    &reference,
                    "REFUSED",
                    "90",
                    "",
                    None,
                    "ivr",
                    "payment platform unavailable: nothing charged",
                )
                .await?;
        }
        Err(GatewayError::Timeout | GatewayError::BadSeal) => {
            resolve(store, gateway, &reference, &pending.capture_mode, "ivr").await?
        }
    }
    let t = store.transaction(&reference).await?.ok_or_else(|| StoreError::Conflict("transaction vanished".into()))?;
    Ok(outcome_of(t))
}

fn outcome_of(t: Transaction) -> PaymentOutcome {
    match (t.status.as_str(), t.response_code.as_deref()) {
        ("TO_CAPTURE" | "TO_VALIDATE" | "CAPTURED", _) => PaymentOutcome::Accepted(t),
        ("PENDING", _) => PaymentOutcome::Unresolved(t),
        (_, Some("90")) => PaymentOutcome::Unavailable(t),
        _ => PaymentOutcome::Refused(t),
    }
}

async fn record_answer(
    store: &Store,
    reference: &str,
    mode: &str,
    resp: &AuthorizationResponse,
    actor: &str,
    detail: &str,
) -> Result<(), StoreError> {
    let status = if resp.accepted() { success_status(mode) } else { "REFUSED" };
    let detail =
        format!("{detail}: responseCode {} acquirerResponseCode {}", resp.response_code, resp.acquirer_response_code);
    store
        .complete_payment(
            reference,
            status,
            &resp.response_code,
            &resp.acquirer_response_code,
            resp.authorisation_id.as_deref(),
            actor,
            &detail,
        )
        .await?;
    Ok(())
}

/// Asks the platform about a payment whose answer never came.
async fn resolve(store: &Store, gateway: &Gateway, reference: &str, mode: &str, actor: &str) -> Result<(), StoreError> {
    match gateway.lookup(reference).await {
        Ok(Lookup::Found(resp)) => {
            record_answer(store, reference, mode, &resp, actor, "answer lost; resolved with getTransactionData").await
        }
        Ok(Lookup::Unknown) => {
            store
                .complete_payment(
                    reference,
                    "REFUSED",
                    "97",
                    "",
                    None,
                    actor,
                    "no answer and unknown to the platform: nothing charged",
                )
                .await?;
            Ok(())
        }
        Err(e) => {
            tracing::warn!(%reference, error = %e, "payment outcome unknown; left PENDING for recovery");
            Ok(())
        }
    }
}

/// Resolves payments left PENDING (a crash between sending and recording, or a
/// platform that could not be asked). Run at start; returns what each became.
pub async fn recover_pending(store: &Store, gateway: &Gateway) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = Vec::new();
    for t in store.pending_transactions().await? {
        resolve(store, gateway, &t.reference, &t.capture_mode, "recovery").await?;
        let now = store.transaction(&t.reference).await?.map(|t| t.status).unwrap_or_default();
        tracing::info!(reference = %t.reference, status = %now, "recovered a pending payment");
        out.push((t.reference, now));
    }
    Ok(out)
}
