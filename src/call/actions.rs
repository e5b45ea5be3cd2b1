//! The IO a call application asks for: the invoice lookup and the card authorization.
//! Each runs in its own task and answers through the call's channel, so the call keeps
//! playing prompts and taking keys meanwhile. An authorization, once started, runs to
//! its end even if the caller hangs up: the payment is recorded exactly once either way.

use super::task::CallInput;
use crate::ivr::app::{AppInput, AuthorizeOrder, AuthorizeResult, LookupResult};
use crate::payments::authorize::{self, PayError, PaymentOutcome, PaymentRequest};
use crate::server::ServerCtx;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

/// Looks up the invoice with `code` and its merchant; answers `AppInput::Invoice`.
pub fn lookup(ctx: Arc<ServerCtx>, code: String, tx: UnboundedSender<CallInput>) {
    tokio::spawn(async move {
        let result = match ctx.store.invoice_by_payment_code(&code).await {
            Ok(Some(invoice)) => match ctx.store.merchant(&invoice.merchant_id).await {
                Ok(Some(merchant)) => LookupResult::Found(Box::new((invoice, merchant))),
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
        };
        let _ = tx.send(CallInput::App(AppInput::Invoice(result)));
    });
}

/// Identifies the call a payment comes from.
pub struct Origin {
    /// SIP Call-ID (with the attempt number, the idempotency key).
    pub call_id: String,
    /// The caller's number.
    pub caller: String,
}

/// Takes the payment; answers `AppInput::Authorized`. The card data is dropped (and
/// wiped) as soon as the payments module is done with it.
pub fn authorize(
    ctx: Arc<ServerCtx>,
    order: Box<AuthorizeOrder>,
    origin: Origin,
    tx: UnboundedSender<CallInput>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let AuthorizeOrder { invoice, merchant, card, expiry, csc, attempt } = *order;
        let key = format!("{}#{attempt}", origin.call_id);
        let request = PaymentRequest {
            merchant: &merchant,
            invoice: &invoice,
            card: &card,
            expiry,
            csc,
            idempotency_key: &key,
            caller: Some(&origin.caller),
            call_id: Some(&origin.call_id),
            order_channel: &ctx.config.payments.order_channel,
            today: chrono::Utc::now().date_naive(),
        };
        let outcome = authorize::pay(&ctx.store, &ctx.gateway, request).await;
        drop(card);
        let result = match outcome {
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
            Err(PayError::Store(e)) => {
                // The payment may or may not have been written: the caller must not pay
                // again, and recovery settles it.
                tracing::error!(error = %e, "payment could not be recorded");
                AuthorizeResult::Unresolved { reference: None }
            }
        };
        let _ = tx.send(CallInput::App(AppInput::Authorized(result)));
    })
}
