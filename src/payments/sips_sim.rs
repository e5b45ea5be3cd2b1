//! The payment simulator as a local HTTP server speaking the Sips Office JSON wire
//! format, so the real connector (`payments::sips`) is exercised end to end: sealed
//! requests checked (a bad seal answers responseCode 34, a wrong interface prefix 30),
//! sealed answers, the special cards' slow, missing, unavailable (sealed responseCode
//! 90), lost, broken (connection dropped, HTTP 502) and late answers,
//! the cash-management calls (validate, cancel, refund, duplicate) against the
//! simulator's books, and `getTransactionData`. `ivrpay simulator` runs it standalone.
//! It never logs card data.
//!
//! Authorizations (cardOrder, duplicate) take the simulator's latency, as a bank round
//! trip does; cash operations and diagnostics are answered from the books at once.

use super::cash::Operation;
use super::gateway::{DuplicateRequest, GatewayError, Lookup, SimOutcome, Simulator};
use super::merchant::CaptureMode;
use super::money::Currency;
use super::seal::{compute_seal, verify_seal};
use super::simulator::Terms;
use super::sips::wipe_strings;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::time::Duration;

/// Server state.
#[derive(Clone)]
pub struct SimServer {
    /// Decides outcomes and keeps the books.
    pub simulator: Simulator,
    /// Key that requests must be sealed with.
    pub secret: String,
    /// Key used to seal answers (normally the same; a different one tests the
    /// connector's refusal of badly sealed answers).
    pub answer_secret: String,
}

fn sealed(v: Value, secret: &str) -> Json<Value> {
    let Value::Object(mut m) = v else { return Json(v) };
    let seal = compute_seal(&m, secret);
    m.insert("seal".into(), json!(seal));
    Json(Value::Object(m))
}

fn field(m: &Map<String, Value>, k: &str) -> String {
    match m.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

fn int(m: &Map<String, Value>, k: &str) -> Option<i64> {
    match m.get(k) {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
}

/// Sips masks as first 4 digits, `#`, last 2.
fn sips_mask(pan: &str) -> String {
    if pan.len() < 8 {
        return "#".repeat(pan.len());
    }
    format!("{}{}{}", &pan[..4], "#".repeat(pan.len() - 6), &pan[pan.len() - 2..])
}

/// Checks the seal and the interface version's prefix; the refusal to send otherwise.
fn admit(s: &SimServer, req: &Value, prefix: &str) -> Result<Map<String, Value>, Json<Value>> {
    let Value::Object(m) = req else {
        return Err(sealed(json!({"responseCode": "30", "errorFieldName": "body"}), &s.answer_secret));
    };
    if verify_seal(m, &s.secret).is_err() {
        return Err(sealed(json!({"responseCode": "34", "errorFieldName": "seal"}), &s.answer_secret));
    }
    if !field(m, "interfaceVersion").starts_with(prefix) {
        return Err(sealed(json!({"responseCode": "30", "errorFieldName": "interfaceVersion"}), &s.answer_secret));
    }
    Ok(m.clone())
}

/// A response body that fails once headers are out: hyper then breaks the connection
/// mid-answer, as a platform or network failing after the charge would.
struct BrokenBody;

impl hyper::body::Body for BrokenBody {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, std::io::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "simulated break"))))
    }
}

/// The sealed answer of a platform whose service is unavailable: it did nothing.
fn unavailable(s: &SimServer) -> Response {
    sealed(json!({"responseCode": "90"}), &s.answer_secret).into_response()
}

/// Answers an authorization or a duplicate after its delay.
async fn authorization(
    s: &SimServer,
    reference: &str,
    masked: Option<String>,
    m: &Map<String, Value>,
    (delay, outcome): (Duration, SimOutcome),
) -> Response {
    tokio::time::sleep(delay).await;
    match outcome {
        SimOutcome::Answer(a) => sealed(
            json!({
                "responseCode": a.response_code,
                "acquirerResponseCode": a.acquirer_response_code,
                "authorisationId": a.authorisation_id,
                "guaranteeIndicator": a.guarantee_indicator,
                "maskedPan": masked,
                "paymentMeanBrand": a.brand,
                "transactionReference": reference,
                "transactionDateTime": chrono::Utc::now().to_rfc3339(),
                "captureMode": field(m, "captureMode"),
                "captureDay": m.get("captureDay").cloned().unwrap_or(Value::Null),
            }),
            &s.answer_secret,
        )
        .into_response(),
        SimOutcome::Unavailable => unavailable(s),
        // Charged; the connection breaks while answering.
        SimOutcome::DroppedAfterCharge => Response::new(axum::body::Body::new(BrokenBody)),
        // Charged; a proxy lost the answer.
        SimOutcome::BadGatewayAfterCharge => StatusCode::BAD_GATEWAY.into_response(),
        // The charge may have happened (or may yet); the answer never leaves.
        SimOutcome::NoAnswer | SimOutcome::LostAfterCharge => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}

fn terms(m: &Map<String, Value>) -> (i64, String, u8) {
    let day = int(m, "captureDay").unwrap_or(0).clamp(0, 99) as u8;
    (int(m, "amount").unwrap_or(0), field(m, "captureMode"), day)
}

async fn card_order(State(s): State<SimServer>, Json(mut req): Json<Value>) -> Response {
    let admitted = admit(&s, &req, "IR_WS_");
    wipe_strings(&mut req);
    let mut m = match admitted {
        Ok(m) => m,
        Err(refusal) => return refusal.into_response(),
    };
    let reference = field(&m, "transactionReference");
    let (amount, capture_mode, capture_day) = terms(&m);
    let pan = zeroize::Zeroizing::new(field(&m, "cardNumber"));
    let decision = s.simulator.decide(&reference, &pan, Terms { amount, capture_mode: &capture_mode, capture_day });
    let masked = sips_mask(&pan);
    drop(pan);
    for card_field in ["cardNumber", "cardCSCValue"] {
        if let Some(v) = m.get_mut(card_field) {
            wipe_strings(v);
        }
    }
    authorization(&s, &reference, Some(masked), &m, decision).await
}

async fn duplicate(State(s): State<SimServer>, Json(req): Json<Value>) -> Response {
    let m = match admit(&s, &req, "CR_WS_") {
        Ok(m) => m,
        Err(refusal) => return refusal.into_response(),
    };
    let reference = field(&m, "transactionReference");
    let from = field(&m, "fromTransactionReference");
    let (amount, capture_mode, capture_day) = terms(&m);
    let channel = field(&m, "orderChannel");
    let code = field(&m, "currencyCode");
    let Some(currency) = Currency::ALL.into_iter().find(|c| c.numeric() == code) else {
        return sealed(json!({"responseCode": "30", "errorFieldName": "currencyCode"}), &s.answer_secret)
            .into_response();
    };
    let req = DuplicateRequest {
        from_transaction_reference: &from,
        transaction_reference: &reference,
        amount,
        currency,
        // As for an authorization, anything but VALIDATION is captured automatically.
        capture_mode: CaptureMode::parse(&capture_mode).unwrap_or(CaptureMode::AuthorCapture),
        capture_day,
        order_channel: &channel,
    };
    let decision = s.simulator.decide_duplicate(&req);
    authorization(&s, &reference, None, &m, decision).await
}

async fn cash(s: SimServer, req: Value, op: Operation) -> Result<Json<Value>, StatusCode> {
    let m = match admit(&s, &req, "CR_WS_") {
        Ok(m) => m,
        Err(refusal) => return Ok(refusal),
    };
    for required in ["merchantId", "transactionReference", "currencyCode", "operationOrigin"] {
        if field(&m, required).is_empty() {
            return Ok(sealed(json!({"responseCode": "30", "errorFieldName": required}), &s.answer_secret));
        }
    }
    let Some(amount) = int(&m, "operationAmount") else {
        return Ok(sealed(json!({"responseCode": "12", "errorFieldName": "operationAmount"}), &s.answer_secret));
    };
    match s.simulator.cash_now(&field(&m, "transactionReference"), op, amount) {
        Ok(r) => Ok(sealed(
            json!({
                "responseCode": r.response_code,
                "acquirerResponseCode": r.acquirer_response_code,
                "newStatus": r.new_status,
                "newAmount": r.new_amount,
                "operationDateTime": chrono::Utc::now().to_rfc3339(),
            }),
            &s.answer_secret,
        )),
        Err(GatewayError::Unavailable) => Ok(sealed(json!({"responseCode": "90"}), &s.answer_secret)),
        Err(_) => Err(StatusCode::GATEWAY_TIMEOUT),
    }
}

async fn validate(State(s): State<SimServer>, Json(req): Json<Value>) -> Result<Json<Value>, StatusCode> {
    cash(s, req, Operation::Validate).await
}

async fn cancel(State(s): State<SimServer>, Json(req): Json<Value>) -> Result<Json<Value>, StatusCode> {
    cash(s, req, Operation::Cancel).await
}

async fn refund(State(s): State<SimServer>, Json(req): Json<Value>) -> Result<Json<Value>, StatusCode> {
    cash(s, req, Operation::Refund).await
}

async fn transaction_data(State(s): State<SimServer>, Json(req): Json<Value>) -> Result<Json<Value>, StatusCode> {
    let m = match admit(&s, &req, "DR_WS_") {
        Ok(m) => m,
        Err(refusal) => return Ok(refusal),
    };
    match s.simulator.lookup_now(&field(&m, "transactionReference")) {
        Ok(Lookup::Found(d)) => Ok(sealed(
            json!({
                "responseCode": "00",
                "transactionStatus": d.status,
                "originAmount": d.origin_amount,
                "currentAmount": d.current_amount,
                "authorisationId": d.answer.authorisation_id,
                "acquirerResponseCode": d.answer.acquirer_response_code,
                "paymentMeanBrand": d.answer.brand,
            }),
            &s.answer_secret,
        )),
        Ok(Lookup::Unknown) => Ok(sealed(json!({"responseCode": "25"}), &s.answer_secret)),
        Err(_) => Ok(sealed(json!({"responseCode": "90"}), &s.answer_secret)),
    }
}

/// The routes, under `/rs-services/v2/` as on the real platform.
pub fn router(state: SimServer) -> Router {
    Router::new()
        .route("/rs-services/v2/checkout/cardOrder", post(card_order))
        .route("/rs-services/v2/cashManagement/validate", post(validate))
        .route("/rs-services/v2/cashManagement/cancel", post(cancel))
        .route("/rs-services/v2/cashManagement/refund", post(refund))
        .route("/rs-services/v2/cashManagement/duplicate", post(duplicate))
        .route("/rs-services/v2/diagnostic/getTransactionData", post(transaction_data))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sips_style_mask() {
        assert_eq!(super::sips_mask("5017670000000001"), "5017##########01");
    }
}
