//! The Worldline Sips Office JSON connector: `checkout/cardOrder` to authorize,
//! `cashManagement/{validate,cancel,refund,duplicate}` to manage what was authorized,
//! and `diagnostic/getTransactionData` to learn what became of a payment whose answer
//! was lost. Requests are sealed (HMAC-SHA-256 over the sorted field values, see
//! `payments::seal`); answers whose seal does not verify are refused and logged.
//!
//! The cardOrder body holds the card number and security code: it lives in a wiping
//! buffer and is never logged. Cash-management bodies hold no card data.

use super::cash::Operation;
use super::gateway::{
    AuthorizationRequest, AuthorizationResponse, CashRequest, CashResponse, DuplicateRequest, GatewayError, Lookup,
    TransactionData,
};
use super::http::{post, PostError};
use super::seal::{compute_seal, verify_seal};
use serde_json::{json, Map, Value};
use std::time::Duration;
use zeroize::{Zeroize, Zeroizing};

/// Connection settings (from `[payments]` in the configuration). Its `Debug` never
/// shows the secret key.
#[derive(Clone)]
pub struct SipsConfig {
    /// e.g. `https://office-server.sips-services.com` (here: the local simulator).
    pub base_url: String,
    /// 15-digit Sips merchant id.
    pub merchant_id: String,
    /// Secret key: signs requests and checks answers.
    pub secret_key: String,
    /// Key version announced in requests.
    pub key_version: String,
    /// e.g. `IR_WS_2.55` for checkout.
    pub checkout_interface: String,
    /// e.g. `DR_WS_2.55` for diagnostics.
    pub diagnostic_interface: String,
    /// e.g. `CR_WS_2.55` for cash management.
    pub cash_interface: String,
    /// `operationOrigin` of cash operations: who asked, as shown in the Sips back office.
    pub operation_origin: String,
    /// How long to wait for an answer.
    pub timeout: Duration,
}

impl std::fmt::Debug for SipsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipsConfig")
            .field("base_url", &self.base_url)
            .field("merchant_id", &self.merchant_id)
            .field("secret_key", &"<redacted>")
            .field("key_version", &self.key_version)
            .field("checkout_interface", &self.checkout_interface)
            .field("diagnostic_interface", &self.diagnostic_interface)
            .field("cash_interface", &self.cash_interface)
            .field("operation_origin", &self.operation_origin)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SipsConfig {
    /// Defaults for a merchant id and key, pointing at `base_url`.
    pub fn new(base_url: &str, merchant_id: &str, secret_key: &str) -> Self {
        SipsConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            merchant_id: merchant_id.to_string(),
            secret_key: secret_key.to_string(),
            key_version: "1".into(),
            checkout_interface: "IR_WS_2.55".into(),
            diagnostic_interface: "DR_WS_2.55".into(),
            cash_interface: "CR_WS_2.55".into(),
            operation_origin: "IVRPAY".into(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// The connector.
#[derive(Clone, Debug)]
pub struct SipsConnector {
    cfg: SipsConfig,
}

/// Room reserved for a request body up front, so serializing never reallocates (a
/// reallocation would free a copy of the card digits without wiping it).
const BODY_CAPACITY: usize = 4096;

/// Seals `fields` and serializes them into a wiping buffer, then wipes every string
/// left in `fields` (a cardOrder's card number and security code are among them).
fn sealed_body(fields: &mut Map<String, Value>, secret: &str) -> Zeroizing<String> {
    let seal = compute_seal(fields, secret);
    fields.insert("sealAlgorithm".into(), json!("HMAC-SHA-256"));
    fields.insert("seal".into(), json!(seal));
    let mut bytes = Zeroizing::new(Vec::with_capacity(BODY_CAPACITY));
    serde_json::to_writer(&mut *bytes, &*fields).unwrap_or_else(|_| unreachable!("a map of JSON values serializes"));
    for v in fields.values_mut() {
        wipe_strings(v);
    }
    // serde_json writes valid UTF-8; moving the bytes keeps their allocation.
    let text = String::from_utf8(std::mem::take(&mut *bytes)).unwrap_or_else(|_| unreachable!("JSON is UTF-8"));
    Zeroizing::new(text)
}

/// Overwrites every string inside `v` (the strings of a message once sent).
pub(crate) fn wipe_strings(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe_strings),
        Value::Object(m) => m.values_mut().for_each(wipe_strings),
        _ => {}
    }
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("a JSON object literal"),
    }
}

fn amount(v: &Map<String, Value>, k: &str) -> Option<i64> {
    match v.get(k) {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
}

fn text(v: &Map<String, Value>, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

impl SipsConnector {
    /// A connector with these settings.
    pub fn new(cfg: SipsConfig) -> Self {
        SipsConnector { cfg }
    }

    async fn call(&self, path: &str, body: Zeroizing<String>) -> Result<Map<String, Value>, GatewayError> {
        let url = format!("{}/rs-services/v2/{path}", self.cfg.base_url);
        let (status, bytes) = post(&url, &[], body.as_bytes(), self.cfg.timeout).await.map_err(|e| match e {
            // Only a connection that was never made proves the platform did nothing.
            PostError::Connect(_) | PostError::BadUrl(_) => GatewayError::Unavailable,
            PostError::Timeout => GatewayError::Timeout,
            PostError::Lost(why) => GatewayError::AnswerLost(why),
        })?;
        drop(body);
        // Past this point the platform had the request: whatever is wrong with the
        // answer, it may have acted on it.
        if status >= 400 {
            return Err(GatewayError::AnswerLost(format!("HTTP status {status}")));
        }
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| GatewayError::AnswerLost(format!("unreadable answer (HTTP {status}): {e}")))?;
        let Value::Object(map) = v else {
            return Err(GatewayError::AnswerLost(format!("answer is not a JSON object (HTTP {status})")));
        };
        if let Err(e) = verify_seal(&map, &self.cfg.secret_key) {
            tracing::error!(path, error = ?e, "Sips answer refused: its seal does not verify");
            return Err(GatewayError::BadSeal);
        }
        Ok(map)
    }

    /// `checkout/cardOrder`.
    pub async fn authorize(&self, req: &AuthorizationRequest<'_>) -> Result<AuthorizationResponse, GatewayError> {
        let mut fields = object(json!({
            "amount": req.amount,
            "currencyCode": req.currency.numeric(),
            "merchantId": self.cfg.merchant_id,
            "interfaceVersion": self.cfg.checkout_interface,
            "keyVersion": self.cfg.key_version,
            "transactionReference": req.transaction_reference,
            "cardNumber": req.card.expose_digits(),
            "cardExpiryDate": req.expiry.as_yyyymm(),
            "cardCSCValue": req.csc.expose(),
            "captureMode": req.capture_mode.as_str(),
            "captureDay": req.capture_day,
            "orderChannel": req.order_channel,
        }));
        let body = sealed_body(&mut fields, &self.cfg.secret_key);
        let r = self.call("checkout/cardOrder", body).await?;
        authorization_answer(&r)
    }

    /// `cashManagement/validate|cancel|refund`. A refusal (24 wrong status, 25 unknown
    /// transaction, ...) is an answer; 90 means the platform did nothing, 99 that the
    /// outcome is unknown (see `platform_failure`).
    pub async fn cash(&self, req: &CashRequest<'_>) -> Result<CashResponse, GatewayError> {
        let path = match req.operation {
            Operation::Validate => "cashManagement/validate",
            Operation::Cancel => "cashManagement/cancel",
            Operation::Refund => "cashManagement/refund",
            // Not a cash operation on an existing transaction: see `duplicate`.
            Operation::Duplicate => return Ok(CashResponse::refused("40")),
        };
        let mut fields = object(json!({
            "merchantId": self.cfg.merchant_id,
            "interfaceVersion": self.cfg.cash_interface,
            "keyVersion": self.cfg.key_version,
            "transactionReference": req.transaction_reference,
            "operationAmount": req.amount,
            "currencyCode": req.currency.numeric(),
            "operationOrigin": self.cfg.operation_origin,
        }));
        let body = sealed_body(&mut fields, &self.cfg.secret_key);
        let r = self.call(path, body).await?;
        let code = text(&r, "responseCode");
        platform_failure(&code)?;
        Ok(CashResponse {
            response_code: code,
            acquirer_response_code: text(&r, "acquirerResponseCode"),
            new_status: Some(text(&r, "newStatus")).filter(|s| !s.is_empty()),
            new_amount: amount(&r, "newAmount"),
        })
    }

    /// `cashManagement/duplicate`: a new transaction on the card of an existing one.
    pub async fn duplicate(&self, req: &DuplicateRequest<'_>) -> Result<AuthorizationResponse, GatewayError> {
        let mut fields = object(json!({
            "merchantId": self.cfg.merchant_id,
            "fromMerchantId": self.cfg.merchant_id,
            "interfaceVersion": self.cfg.cash_interface,
            "keyVersion": self.cfg.key_version,
            "fromTransactionReference": req.from_transaction_reference,
            "transactionReference": req.transaction_reference,
            "amount": req.amount,
            "currencyCode": req.currency.numeric(),
            "captureMode": req.capture_mode.as_str(),
            "captureDay": req.capture_day,
            "orderChannel": req.order_channel,
            "operationOrigin": self.cfg.operation_origin,
        }));
        let body = sealed_body(&mut fields, &self.cfg.secret_key);
        let r = self.call("cashManagement/duplicate", body).await?;
        authorization_answer(&r)
    }

    /// `diagnostic/getTransactionData`.
    pub async fn lookup(&self, reference: &str) -> Result<Lookup, GatewayError> {
        let mut fields = object(json!({
            "merchantId": self.cfg.merchant_id,
            "interfaceVersion": self.cfg.diagnostic_interface,
            "keyVersion": self.cfg.key_version,
            "transactionReference": reference,
        }));
        let body = sealed_body(&mut fields, &self.cfg.secret_key);
        let r = self.call("diagnostic/getTransactionData", body).await?;
        match text(&r, "responseCode").as_str() {
            "25" => Ok(Lookup::Unknown),
            "00" => {
                let status = text(&r, "transactionStatus");
                // The diagnostic's own responseCode is 00; the authorization's is not
                // in it, so a REFUSED transaction is reported as refused (05), with the
                // bank's code as given.
                let response_code = if status == "REFUSED" { "05" } else { "00" };
                Ok(Lookup::Found(TransactionData {
                    answer: AuthorizationResponse {
                        response_code: response_code.into(),
                        acquirer_response_code: text(&r, "acquirerResponseCode"),
                        authorisation_id: Some(text(&r, "authorisationId")).filter(|s| !s.is_empty()),
                        guarantee_indicator: "N".into(),
                        brand: text(&r, "paymentMeanBrand"),
                    },
                    status,
                    origin_amount: amount(&r, "originAmount"),
                    current_amount: amount(&r, "currentAmount"),
                }))
            }
            _ => Err(GatewayError::Unavailable),
        }
    }
}

/// A sealed answer saying the platform did not process the request: 90 (service
/// unavailable) means it did nothing; 99 (server problem) does not say whether it did,
/// so it is an unknown outcome to resolve.
fn platform_failure(code: &str) -> Result<(), GatewayError> {
    match code {
        "90" => Err(GatewayError::Unavailable),
        "99" => Err(GatewayError::AnswerLost("responseCode 99 (server problem)".into())),
        _ => Ok(()),
    }
}

/// The answer to a cardOrder or a duplicate (see [`platform_failure`]).
fn authorization_answer(r: &Map<String, Value>) -> Result<AuthorizationResponse, GatewayError> {
    let code = text(r, "responseCode");
    platform_failure(&code)?;
    Ok(AuthorizationResponse {
        response_code: code,
        acquirer_response_code: text(r, "acquirerResponseCode"),
        authorisation_id: Some(text(r, "authorisationId")).filter(|s| !s.is_empty()),
        guarantee_indicator: Some(text(r, "guaranteeIndicator"))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "N".into()),
        brand: text(r, "paymentMeanBrand"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_key_never_prints() {
        let cfg = SipsConfig::new("http://127.0.0.1:1", "011223344550000", "s3cr3t-k3y");
        let shown = format!("{cfg:?} {:?}", SipsConnector::new(cfg.clone()));
        assert!(!shown.contains("s3cr3t-k3y") && shown.contains("<redacted>"), "{shown}");
    }

    /// A log sink for one test.
    #[derive(Clone, Default)]
    struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Logs {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_badly_sealed_answer_is_refused_and_logged_without_card_data() {
        use super::super::card::{CardNumber, Expiry, SecurityCode};
        use super::super::gateway::Simulator;
        use super::super::money::Currency;
        use super::super::sips_sim::{self, SimServer};
        let logs = Logs::default();
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || sink.clone()).with_ansi(false).finish();
        let got = tracing::subscriber::with_default(subscriber, || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let simulator = Simulator::new(Duration::ZERO, Duration::from_secs(5));
                let state = SimServer { simulator, secret: "k".into(), answer_secret: "not-k".into() };
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let url = format!("http://{}", l.local_addr().unwrap());
                tokio::spawn(async move { axum::serve(l, sips_sim::router(state)).await.unwrap() });
                let mut cfg = SipsConfig::new(&url, "011223344550000", "k");
                cfg.timeout = Duration::from_secs(5);
                let card = CardNumber::parse("4100000000000100").unwrap();
                let csc = SecurityCode::parse("737", card.brand().unwrap()).unwrap();
                let req = AuthorizationRequest {
                    transaction_reference: "SEAL1",
                    amount: 100,
                    currency: Currency::Eur,
                    card: &card,
                    expiry: Expiry::parse_mmyy("1230").unwrap(),
                    csc: &csc,
                    capture_mode: crate::payments::merchant::CaptureMode::AuthorCapture,
                    capture_day: 0,
                    order_channel: "MOTO",
                };
                SipsConnector::new(cfg).authorize(&req).await
            })
        });
        assert_eq!(got, Err(GatewayError::BadSeal));
        let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.contains("ERROR") && text.contains("seal does not verify") && text.contains("checkout/cardOrder"),
            "{text}"
        );
        assert!(!text.contains("4100000000000100") && !text.contains("737"), "{text}");
    }

    #[test]
    fn the_fields_are_wiped_once_serialized() {
        let mut fields = object(json!({
            "cardNumber": "4100000000000100",
            "cardCSCValue": "737",
            "amount": 2500,
            "customerContact": {"phone": "0601020304"},
        }));
        let body = sealed_body(&mut fields, "k");
        assert!(body.contains("\"cardNumber\":\"4100000000000100\"") && body.contains("\"seal\":"), "{}", *body);
        let seal = compute_seal(&serde_json::from_str::<Map<String, Value>>(&body).unwrap(), "k");
        assert!(body.contains(&seal), "the body carries the seal of its own fields");
        assert_eq!(fields["cardNumber"], json!(""));
        assert_eq!(fields["cardCSCValue"], json!(""));
        assert_eq!(fields["customerContact"]["phone"], json!(""));
        assert_eq!(fields["amount"], json!(2500));
    }
}
