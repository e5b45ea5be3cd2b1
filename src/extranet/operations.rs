//! Cash operations and duplicates through the API:
//! `POST /api/v1/transactions/{reference}/{validate|cancel|refund}` with an optional
//! `{"amount": N}` (default: all the operation may touch), and
//! `POST /api/v1/transactions/{reference}/duplicate` with `{"amount": N}` and an optional
//! `"invoice_reference"`. Each goes through the payment platform
//! (`payments::operations`, `payments::duplicate`); the answer is the transaction with
//! its history, or a JSON error naming the operation: 409 when the Sips table or the
//! platform refuses it, 502 when the platform cannot be reached.

use super::auth::ApiMerchant;
use super::error::ApiError;
use super::transactions::{etag, parse_etag, transaction_json};
use super::AppState;
use crate::payments::cash::{CashError, Operation};
use crate::payments::duplicate::{self, DuplicateError, DuplicateInput};
use crate::payments::gateway::response_code_meaning;
use crate::payments::invoice::FieldError;
use crate::payments::operations::{self, CashOrder, OperationError};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

/// The JSON object of a POST body (an empty body is an empty object).
fn body_object(body: &Bytes) -> Result<serde_json::Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::BadBody("must be a JSON object".into())),
        Err(e) => Err(ApiError::BadBody(format!("not valid JSON: {e}"))),
    }
}

/// `amount` as an integer count of minor units, if present.
fn amount(body: &serde_json::Map<String, Value>) -> Result<Option<i64>, ApiError> {
    match body.get("amount") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
        Some(_) => Err(ApiError::Invalid(vec![FieldError::new("amount", "must be an integer number of minor units")])),
    }
}

/// POST /api/v1/transactions/{reference}/{validate|cancel|refund}
pub async fn operate(
    State(st): State<AppState>,
    ApiMerchant(m): ApiMerchant,
    Path((reference, op)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let op = match op.as_str() {
        "validate" => Operation::Validate,
        "cancel" => Operation::Cancel,
        "refund" => Operation::Refund,
        _ => return Err(ApiError::NotFound),
    };
    let amount = amount(&body_object(&body)?)?;
    let expected = match headers.get(header::IF_MATCH) {
        None => None,
        Some(v) => Some(v.to_str().ok().and_then(parse_etag).ok_or_else(|| ApiError::BadQuery {
            field: "If-Match".into(),
            message: "If-Match: use the ETag of GET /transactions/{reference}, quotes included".into(),
        })?),
    };
    let actor = format!("api:{}", m.id);
    let order = CashOrder { op, amount, expected };
    match operations::cash_operation(&st.store, &st.gateway, &m.id, &reference, order, &actor).await {
        Ok(t) => {
            let h = st.store.history(&reference).await?;
            Ok(([(header::ETAG, etag(&t))], Json(transaction_json(&t, Some(&h)))).into_response())
        }
        Err(e @ OperationError::StateChanged) => Err(ApiError::PreconditionFailed { message: e.to_string() }),
        Err(OperationError::NotFound) => Err(ApiError::NotFound),
        Err(OperationError::Rule(e @ (CashError::NotAllowed { .. } | CashError::NotOnThisTransaction { .. }))) => {
            Err(ApiError::Conflict { field: Some("status"), message: e.to_string() })
        }
        Err(OperationError::Rule(e @ CashError::BadAmount { .. })) => {
            Err(ApiError::Invalid(vec![FieldError::new("amount", e.to_string())]))
        }
        Err(e @ OperationError::Concurrent) => Err(ApiError::Conflict { field: None, message: e.to_string() }),
        Err(ref e @ OperationError::Refused { op, ref response_code }) => Err(ApiError::PlatformRefused {
            operation: op,
            response_code: response_code.clone(),
            message: e.to_string(),
            transaction: None,
        }),
        Err(ref e @ OperationError::Unavailable { op, .. }) => {
            Err(ApiError::PlatformUnavailable { operation: op, message: e.to_string(), transaction: None })
        }
        Err(OperationError::Ledger(e)) => Err(e.into()),
    }
}

/// POST /api/v1/transactions/{reference}/duplicate: 201 with the new transaction when
/// authorized (200 when the same request was already made), 202 while its outcome is
/// being resolved, 409 when refused (the REFUSED transaction is named), 502 when the
/// platform could not be reached (nothing charged).
pub async fn duplicate(
    State(st): State<AppState>,
    ApiMerchant(m): ApiMerchant,
    Path(reference): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = body_object(&body)?;
    let amount = amount(&body)?;
    let invoice_reference = match body.get("invoice_reference") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(_) => return Err(ApiError::Invalid(vec![FieldError::new("invoice_reference", "must be a string")])),
    };
    let actor = format!("api:{}", m.id);
    let input = DuplicateInput {
        merchant: &m,
        from_reference: &reference,
        amount,
        invoice_reference: invoice_reference.as_deref(),
        actor: &actor,
        order_channel: &st.order_channel,
        today: chrono::Utc::now().date_naive(),
    };
    let d = match duplicate::duplicate(&st.store, &st.gateway, input).await {
        Ok(d) => d,
        Err(DuplicateError::NotFound) => return Err(ApiError::NotFound),
        Err(e @ DuplicateError::NotAllowed { .. }) => {
            return Err(ApiError::Conflict { field: Some("status"), message: e.to_string() })
        }
        Err(DuplicateError::Invalid(errs)) => return Err(ApiError::Invalid(errs)),
        Err(DuplicateError::Conflict(message)) => {
            return Err(ApiError::Conflict { field: Some("invoice_reference"), message })
        }
        Err(DuplicateError::Ledger(e)) => return Err(e.into()),
    };
    let t = d.transaction;
    let code = t.response_code.clone().unwrap_or_default();
    match t.status.as_str() {
        "TO_CAPTURE" | "TO_VALIDATE" | "CAPTURED" => {
            let h = st.store.history(&t.reference).await?;
            let status = if d.replayed { StatusCode::OK } else { StatusCode::CREATED };
            Ok((status, Json(transaction_json(&t, Some(&h)))))
        }
        "PENDING" => {
            let h = st.store.history(&t.reference).await?;
            Ok((StatusCode::ACCEPTED, Json(transaction_json(&t, Some(&h)))))
        }
        _ if code == "90" => Err(ApiError::PlatformUnavailable {
            operation: "duplicate",
            message: format!("the payment platform could not be reached for the duplicate: nothing was charged (transaction {} recorded as REFUSED)", t.reference),
            transaction: Some(t.reference),
        }),
        _ => Err(ApiError::PlatformRefused {
            operation: "duplicate",
            message: format!(
                "the payment platform refused the duplicate: responseCode {code} ({}); transaction {} recorded as {}",
                response_code_meaning(&code),
                t.reference,
                t.status
            ),
            response_code: code,
            transaction: Some(t.reference),
        }),
    }
}
