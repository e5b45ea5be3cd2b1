//! What a call asks of the payment side: the invoice a caller's code names, and the
//! payment. Behind the [`CallServices`] trait so the call driver knows neither the store
//! nor the platform, and a test can answer a real call with lookups and authorizations
//! of its own. [`PaymentServices`] is the one the server runs: the store and the gateway.
//! An authorization, once started, runs to its end even if the caller hangs up: the
//! payment is recorded exactly once either way.

use crate::ivr::app::{AuthorizeOrder, AuthorizeResult, LookupResult};
use crate::payments::authorize::{self, PayError, PaymentOutcome, PaymentRequest};
use crate::payments::gateway::Gateway;
use crate::payments::invoice::InvoiceStatus;
use crate::store::Store;
use std::future::Future;
use std::pin::Pin;

/// A service's answer, on its way: run by the call driver in a task of its own, so the
/// call keeps playing prompts and taking keys meanwhile.
pub type ServiceFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Identifies the call a payment comes from.
#[derive(Clone, Debug)]
pub struct Origin {
    /// SIP Call-ID, stored with the transaction to link it to the call.
    pub call_id: String,
    /// The caller's number.
    pub caller: String,
    /// Drawn at random by the server for this call: with the attempt number, the
    /// payment's idempotency key. Not the Call-ID, which the caller chooses (a reused
    /// Call-ID must never find another call's payment).
    pub payment_key: String,
}

/// The lookups and authorizations a call needs.
pub trait CallServices: Send + Sync + 'static {
    /// The invoice with payment code `code` and its merchant.
    fn lookup(&self, code: String) -> ServiceFuture<LookupResult>;
    /// Takes the payment `order` describes. The card data must be dropped (and so wiped)
    /// as soon as the payment no longer needs it.
    fn authorize(&self, order: Box<AuthorizeOrder>, origin: Origin) -> ServiceFuture<AuthorizeResult>;
}

/// The store and the payment platform, as the server runs them.
#[derive(Clone)]
pub struct PaymentServices {
    store: Store,
    gateway: Gateway,
    order_channel: String,
}

impl PaymentServices {
    /// Lookups in `store`, authorizations through `gateway`, orders sent with
    /// `order_channel` (the Sips channel a phone payment declares).
    pub fn new(store: Store, gateway: Gateway, order_channel: &str) -> Self {
        PaymentServices { store, gateway, order_channel: order_channel.to_string() }
    }
}

impl CallServices for PaymentServices {
    fn lookup(&self, code: String) -> ServiceFuture<LookupResult> {
        let store = self.store.clone();
        Box::pin(async move { lookup(&store, &code).await })
    }

    fn authorize(&self, order: Box<AuthorizeOrder>, origin: Origin) -> ServiceFuture<AuthorizeResult> {
        let this = self.clone();
        Box::pin(async move { this.pay(*order, origin).await })
    }
}

async fn lookup(store: &Store, code: &str) -> LookupResult {
    match store.invoice_by_payment_code(code).await {
        Ok(Some(invoice)) => match store.merchant(&invoice.merchant_id).await {
            Ok(Some(merchant)) => {
                // If this check fails, the payment's own record refuses a second one.
                let in_progress = invoice.status == InvoiceStatus::Payable
                    && store.payment_in_progress(&invoice.id).await.unwrap_or_else(|e| {
                        tracing::error!(error = %e, "pending payment check failed");
                        false
                    });
                match in_progress {
                    true => LookupResult::InProgress(Box::new((invoice, merchant))),
                    false => LookupResult::Found(Box::new((invoice, merchant))),
                }
            }
            Ok(None) => {
                tracing::error!(invoice = %invoice.id, "invoice without its merchant");
                LookupResult::Error
            }
            Err(e) => {
                tracing::error!(error = %e, "merchant lookup failed");
                LookupResult::Error
            }
        },
        Ok(None) => LookupResult::Unknown,
        Err(e) => {
            tracing::error!(error = %e, "invoice lookup failed");
            LookupResult::Error
        }
    }
}

impl PaymentServices {
    async fn pay(&self, order: AuthorizeOrder, origin: Origin) -> AuthorizeResult {
        let AuthorizeOrder { invoice, merchant, card, expiry, csc, attempt } = order;
        let key = format!("{}#{attempt}", origin.payment_key);
        let request = PaymentRequest {
            merchant: &merchant,
            invoice: &invoice,
            card: &card,
            expiry,
            csc,
            idempotency_key: &key,
            caller: Some(&origin.caller),
            call_id: Some(&origin.call_id),
            order_channel: &self.order_channel,
            today: chrono::Utc::now().date_naive(),
        };
        let outcome = authorize::pay(&self.store, &self.gateway, request).await;
        drop(card);
        result_of(outcome)
    }
}

/// What the caller is told of a payment's outcome.
fn result_of(outcome: Result<PaymentOutcome, PayError>) -> AuthorizeResult {
    match outcome {
        Ok(PaymentOutcome::Accepted(t)) => {
            tracing::info!(reference = %t.reference, status = %t.status, "payment accepted");
            AuthorizeResult::Accepted {
                authorisation_id: t.authorisation_id.unwrap_or_default(),
                reference: t.reference,
            }
        }
        Ok(PaymentOutcome::Refused(t)) => {
            let code = t.response_code.unwrap_or_default();
            tracing::info!(reference = %t.reference, response_code = %code, "payment refused");
            AuthorizeResult::Refused { reference: t.reference, response_code: code }
        }
        Ok(PaymentOutcome::Unavailable(t)) => {
            tracing::warn!(reference = %t.reference, "payment platform unavailable");
            AuthorizeResult::Unavailable { reference: t.reference }
        }
        Ok(PaymentOutcome::Unresolved(t)) => {
            tracing::warn!(reference = %t.reference, "payment outcome unknown; left for recovery");
            AuthorizeResult::Unresolved { reference: Some(t.reference) }
        }
        Err(PayError::Card(e)) => {
            tracing::info!(error = %e, "card refused before sending");
            AuthorizeResult::CardError
        }
        Err(PayError::InvoiceNotPayable) => AuthorizeResult::NotPayable,
        Err(PayError::PaymentInProgress) => AuthorizeResult::InProgress,
        Err(e @ PayError::KeyReused { .. }) => {
            // Nothing was sent (the key names another payment): the caller is told the
            // invoice cannot be paid now, never that it was.
            tracing::error!(error = %e, "payment not sent");
            AuthorizeResult::NotPayable
        }
        Err(PayError::Ledger(e)) => {
            // The payment may or may not have been written: the caller must not pay
            // again, and recovery settles it.
            tracing::error!(error = %e, "payment could not be recorded");
            AuthorizeResult::Unresolved { reference: None }
        }
    }
}
