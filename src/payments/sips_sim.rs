//! The payment simulator as a local HTTP server speaking the Sips Office JSON wire
//! format, so the real connector (`payments::sips`) is exercised end to end: sealed
//! requests checked (a bad seal answers responseCode 34), sealed answers, the special
//! cards' slow, missing, unavailable and lost answers, and `getTransactionData`.
//! `ivrpay simulator` runs it standalone. It never logs card data.

use super::gateway::{Lookup, SimOutcome, Simulator};
use super::seal::{compute_seal, verify_seal};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::time::Duration;

/// Server state.
#[derive(Clone)]
pub struct SimServer {
    /// Decides outcomes and remembers charges.
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

/// Sips masks as first 4 digits, `#`, last 2.
fn sips_mask(pan: &str) -> String {
    if pan.len() < 8 {
        return "#".repeat(pan.len());
    }
    format!("{}{}{}", &pan[..4], "#".repeat(pan.len() - 6), &pan[pan.len() - 2..])
}

async fn card_order(State(s): State<SimServer>, Json(req): Json<Value>) -> Result<Json<Value>, StatusCode> {
    let Value::Object(m) = req else { return Err(StatusCode::BAD_REQUEST) };
    if verify_seal(&m, &s.secret).is_err() {
        return Ok(sealed(json!({"responseCode": "34", "errorFieldName": "seal"}), &s.answer_secret));
    }
    let reference = field(&m, "transactionReference");
    let amount = m.get("amount").and_then(Value::as_i64).unwrap_or(0);
    let pan = zeroize::Zeroizing::new(field(&m, "cardNumber"));
    let (delay, outcome) = s.simulator.decide(&reference, &pan, amount);
    tokio::time::sleep(delay).await;
    match outcome {
        SimOutcome::Answer(a) => Ok(sealed(
            json!({
                "responseCode": a.response_code,
                "acquirerResponseCode": a.acquirer_response_code,
                "authorisationId": a.authorisation_id,
                "guaranteeIndicator": a.guarantee_indicator,
                "maskedPan": sips_mask(&pan),
                "paymentMeanBrand": a.brand,
                "transactionReference": reference,
                "transactionDateTime": chrono::Utc::now().to_rfc3339(),
                "captureMode": field(&m, "captureMode"),
                "captureDay": m.get("captureDay").cloned().unwrap_or(Value::Null),
            }),
            &s.answer_secret,
        )),
        SimOutcome::Unavailable => Err(StatusCode::SERVICE_UNAVAILABLE),
        // The charge may have happened; the answer never leaves.
        SimOutcome::NoAnswer | SimOutcome::LostAfterCharge => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Err(StatusCode::GATEWAY_TIMEOUT)
        }
    }
}

async fn transaction_data(State(s): State<SimServer>, Json(req): Json<Value>) -> Json<Value> {
    let Value::Object(m) = req else { return Json(json!({"responseCode": "30"})) };
    if verify_seal(&m, &s.secret).is_err() {
        return sealed(json!({"responseCode": "34", "errorFieldName": "seal"}), &s.answer_secret);
    }
    match s.simulator.lookup_now(&field(&m, "transactionReference")) {
        Lookup::Found(a) => sealed(
            json!({
                "responseCode": "00",
                "transactionStatus": if a.accepted() { "TO_CAPTURE" } else { "REFUSED" },
                "authorisationId": a.authorisation_id,
                "acquirerResponseCode": a.acquirer_response_code,
                "paymentMeanBrand": a.brand,
            }),
            &s.answer_secret,
        ),
        Lookup::Unknown => sealed(json!({"responseCode": "25"}), &s.answer_secret),
    }
}

/// The routes, under `/rs-services/v2/` as on the real platform.
pub fn router(state: SimServer) -> Router {
    Router::new()
        .route("/rs-services/v2/checkout/cardOrder", post(card_order))
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
