//! Notification delivery logs through the API:
//! `GET /api/v1/transactions/{reference}/notifications` and
//! `GET /api/v1/invoices/{id}/notifications` list each notice with its attempts, state
//! and last error; `POST …/notifications/{id}/send-again` makes one due now (the
//! delivery loop sends it within its interval), e.g. after the merchant fixed its
//! endpoint or lost what it received.

use super::auth::ApiMerchant;
use super::error::ApiError;
use super::AppState;
use crate::payments::notify::DeliveryLog;
use crate::store::notification_log::Subject;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

fn rfc3339(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// The JSON form of one notice's log (the body sent is not repeated: it is the
/// transaction as it was, which `GET /transactions/{reference}` shows as it is).
pub fn delivery_json(n: &DeliveryLog) -> Value {
    let state = n.state();
    json!({
        "id": n.id,
        "event": n.event,
        "url": n.url,
        "state": state.as_str(),
        "attempts": n.attempts,
        "created_at": rfc3339(n.created_at),
        "delivered_at": n.delivered_at.and_then(rfc3339),
        "next_attempt_at": n.delivered_at.is_none().then(|| rfc3339(n.next_attempt_at)).flatten(),
        "last_error": n.last_error,
    })
}

/// GET /api/v1/transactions/{reference}/notifications
pub async fn list(
    State(st): State<AppState>,
    ApiMerchant(m): ApiMerchant,
    Path(reference): Path<String>,
) -> Result<Json<Value>, ApiError> {
    st.store.transaction(&reference).await?.filter(|t| t.merchant_id == m.id).ok_or(ApiError::NotFound)?;
    log(&st, &m.id, Subject::Transaction(&reference)).await
}

/// GET /api/v1/invoices/{id}/notifications: the invoice's own notices and its
/// transactions'.
pub async fn list_invoice(
    State(st): State<AppState>,
    ApiMerchant(m): ApiMerchant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    st.store.invoice(&m.id, &id).await?.ok_or(ApiError::NotFound)?;
    log(&st, &m.id, Subject::Invoice(&id)).await
}

async fn log(st: &AppState, merchant_id: &str, of: Subject<'_>) -> Result<Json<Value>, ApiError> {
    let log = st.store.notification_log(merchant_id, of).await?;
    Ok(Json(json!({ "items": log.iter().map(delivery_json).collect::<Vec<_>>() })))
}

/// POST /api/v1/transactions/{reference}/notifications/{id}/send-again: 202 with the
/// notice's log, now due.
pub async fn send_again(
    State(st): State<AppState>,
    ApiMerchant(m): ApiMerchant,
    Path((reference, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    again(&st, &m.id, Subject::Transaction(&reference), &id).await
}

/// POST /api/v1/invoices/{id}/notifications/{notice}/send-again: the same for any
/// notice of the invoice.
pub async fn send_again_invoice(
    State(st): State<AppState>,
    ApiMerchant(m): ApiMerchant,
    Path((invoice, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    again(&st, &m.id, Subject::Invoice(&invoice), &id).await
}

async fn again(
    st: &AppState,
    merchant_id: &str,
    of: Subject<'_>,
    id: &str,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !st.store.send_notification_again(merchant_id, of, id, st.store.now_ms()).await? {
        return Err(ApiError::NotFound);
    }
    tracing::info!(merchant = %merchant_id, notification = %id, "notification to be sent again (API)");
    let log = st.store.notification_log(merchant_id, of).await?;
    let n = log.iter().find(|n| n.id == id).ok_or(ApiError::NotFound)?;
    Ok((StatusCode::ACCEPTED, Json(delivery_json(n))))
}
