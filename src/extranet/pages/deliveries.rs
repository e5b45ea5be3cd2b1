//! The notification delivery logs on the invoice page (the invoice's own notices and
//! each transaction's), and their "send again" buttons: what the merchant's support needs to answer "we were never told".

use super::format;
use super::i18n::Lang;
use super::session::Current;
use super::PageError;
use crate::extranet::AppState;
use crate::payments::notify::{DeliveryLog, DeliveryState};
use crate::store::notification_log::Subject;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};

/// One notice as the page shows it.
pub struct DeliveryRow {
    /// The notice's id, for "send again" (and the merchant's own logs).
    pub id: String,
    /// The event it reports.
    pub event: String,
    /// When it was written.
    pub created: String,
    /// Where it stands, in the page's language.
    pub state: &'static str,
    /// The state's code, for its colour.
    pub state_code: &'static str,
    /// POSTs made so far.
    pub attempts: i64,
    /// When it was delivered, or when it is tried next.
    pub when: String,
    /// Why the last attempt failed, or empty.
    pub last_error: String,
}

fn row(lang: Lang, n: &DeliveryLog) -> DeliveryRow {
    let t = lang.texts();
    let state = n.state();
    let when = match n.delivered_at {
        Some(at) => format::datetime(at),
        None => t.notification_next.replace("{at}", &format::datetime(n.next_attempt_at)),
    };
    DeliveryRow {
        id: n.id.clone(),
        event: n.event.clone(),
        created: format::datetime(n.created_at),
        state: match state {
            DeliveryState::Queued => t.notification_queued,
            DeliveryState::Retrying => t.notification_retrying,
            DeliveryState::Delivered => t.notification_delivered,
        },
        state_code: state.as_str(),
        attempts: n.attempts,
        when,
        last_error: n.last_error.clone().unwrap_or_default(),
    }
}

/// The delivery log of a merchant's transaction or invoice, oldest first.
pub async fn rows(
    st: &AppState,
    lang: Lang,
    merchant_id: &str,
    of: Subject<'_>,
) -> Result<Vec<DeliveryRow>, PageError> {
    Ok(st.store.notification_log(merchant_id, of).await?.iter().map(|n| row(lang, n)).collect())
}

/// POST /transactions/{reference}/notifications/{id}/send-again (CSRF-checked like every
/// page form): the notice is due now; back to the invoice page, which says so.
pub async fn send_again(
    State(st): State<AppState>,
    cur: Current,
    Path((reference, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let merchant = cur.merchant_id()?;
    let t = st.store.transaction(&reference).await?.filter(|t| t.merchant_id == merchant).ok_or(PageError::NotFound)?;
    if !st.store.send_notification_again(merchant, Subject::Transaction(&reference), &id, st.store.now_ms()).await? {
        return Err(PageError::NotFound);
    }
    tracing::info!(user = %cur.session.user.email, %reference, notification = %id, "notification to be sent again (page)");
    Ok(Redirect::to(&format!("/invoices/{}?done=send-again#tx-{reference}", t.invoice_id)).into_response())
}

/// POST /invoices/{id}/notifications/{notice}/send-again: the same for a notice of the
/// invoice itself (paid, cancelled, expired).
pub async fn send_again_invoice(
    State(st): State<AppState>,
    cur: Current,
    Path((invoice, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let merchant = cur.merchant_id()?;
    if !st.store.send_notification_again(merchant, Subject::Invoice(&invoice), &id, st.store.now_ms()).await? {
        return Err(PageError::NotFound);
    }
    tracing::info!(user = %cur.session.user.email, %invoice, notification = %id, "notification to be sent again (page)");
    Ok(Redirect::to(&format!("/invoices/{invoice}?done=send-again#invoice-notifications")).into_response())
}
