//! The Sips Office JSON seal: an HMAC-SHA-256 over a message's field values.
//!
//! Every request to the gateway must carry a `seal` computed with the
//! merchant's secret key, and every sealed response must be checked before
//! we believe it (an unchecked "00 accepted" could be forged or corrupted).
//!
//! Recipe (see the project's Sips Office reference notes):
//!
//! 1. take every top-level field except `keyVersion`, `sealAlgorithm` and
//!    `seal`, dropping null ones;
//! 2. sort the field names;
//! 3. concatenate the values alone, without separators or quotes; a nested
//!    object contributes its own non-null values, its names sorted the same
//!    way, at the place of its name;
//! 4. HMAC-SHA-256 of that UTF-8 string, keyed with the UTF-8 secret, written
//!    as lowercase hex.
//!
//! Values are rendered as: strings raw, numbers as their JSON text (`2500`),
//! booleans `true`/`false`. Names are sorted by bytes; Sips names are
//! camelCase ASCII, for which byte order and case-insensitive order agree.
//!
//! Ambiguities left open by the public sources, and our choices:
//!
//! * Arrays: libraries disagree on whether elements are sorted. We keep them
//!   in message order and render each element like any value (an object
//!   element contributes its sorted values). The cardOrder messages we send
//!   contain no arrays, so this only matters for verifying exotic responses.
//! * Responses: the notes say they are checked on "all fields but `seal`".
//!   Responses normally carry neither `keyVersion` nor `sealAlgorithm`, so the
//!   two recipes coincide; when one of them is present, [`verify_seal`] also
//!   accepts a seal computed with it included (see there).
//! * Floating-point numbers render as serde_json prints them (`25.0`); Sips
//!   sends integers only (amounts are in minor units).

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// Top-level fields that never take part in the seal of a request, because
/// they describe the seal itself.
pub const NOT_SEALED: [&str; 3] = ["keyVersion", "sealAlgorithm", "seal"];

/// Why a message's seal could not be trusted.
///
/// A message failing verification must be treated as not received: for an
/// authorisation, the outcome is then resolved with `getTransactionData`.
#[derive(thiserror::Error, Debug, PartialEq, Eq, Clone, Copy)]
pub enum SealError {
    /// The message has no `seal` field (or it is null).
    #[error("message carries no seal")]
    Missing,
    /// The seal is not hex, or does not match the message and our key.
    #[error("seal does not match the message")]
    Mismatch,
}

/// The exact string that gets sealed (step 1 to 3 above), public so that a
/// seal mismatch can be diagnosed against the gateway's documentation.
///
/// Never log it for a cardOrder request: the request's `cardNumber` and
/// `cardCSCValue` are part of it; it wipes itself when dropped.
pub fn seal_string(fields: &Map<String, Value>) -> Zeroizing<String> {
    string_skipping(fields, &NOT_SEALED)
}

/// The seal for `fields` with the merchant's `secret`: lowercase hex of
/// HMAC-SHA-256 over [`seal_string`]. Put it in the request's `seal` field.
pub fn compute_seal(fields: &Map<String, Value>, secret: &str) -> String {
    hex::encode(mac_over(&seal_string(fields), secret).finalize().into_bytes())
}

/// Checks the `seal` field of a received message against the other fields,
/// in constant time, so that forged or corrupted answers are rejected.
///
/// Upper- or lowercase hex is accepted. The string is built as in
/// [`seal_string`]; if that does not match and the message contains
/// `keyVersion` or `sealAlgorithm`, the "every field but `seal`" reading of
/// the response rule is tried as well. Both need the secret, so accepting
/// either gives a forger nothing.
pub fn verify_seal(fields: &Map<String, Value>, secret: &str) -> Result<(), SealError> {
    let given = match fields.get("seal") {
        None | Some(Value::Null) => return Err(SealError::Missing),
        Some(Value::String(s)) => hex::decode(s.trim()).map_err(|_| SealError::Mismatch)?,
        Some(_) => return Err(SealError::Mismatch),
    };
    let matches = |skip: &[&str]| mac_over(&string_skipping(fields, skip), secret).verify_slice(&given).is_ok();
    let has_seal_metadata = fields.iter().any(|(k, v)| (k == "keyVersion" || k == "sealAlgorithm") && !v.is_null());
    if matches(&NOT_SEALED) || (has_seal_metadata && matches(&["seal"])) {
        Ok(())
    } else {
        Err(SealError::Mismatch)
    }
}

/// An HMAC-SHA-256 state keyed with `secret` that has absorbed `message`.
fn mac_over(message: &str, secret: &str) -> HmacSha256 {
    // HMAC accepts keys of any length (long keys are hashed), so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(message.as_bytes());
    mac
}

/// Room reserved for a seal string up front, so that building one never reallocates
/// (a reallocation would free a copy of the card digits without wiping it): a cardOrder
/// message is a few hundred bytes.
const SEAL_STRING_CAPACITY: usize = 4096;

/// The seal string of a top-level object, leaving out the names in `skip`; wiped when
/// dropped.
fn string_skipping(fields: &Map<String, Value>, skip: &[&str]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(SEAL_STRING_CAPACITY));
    push_object(&mut out, fields, skip);
    out
}

/// Appends an object's values, names sorted by bytes, nulls dropped.
fn push_object(out: &mut String, map: &Map<String, Value>, skip: &[&str]) {
    let mut names: Vec<&String> = map.keys().filter(|k| !skip.contains(&k.as_str())).collect();
    // serde_json's map may keep insertion order (feature `preserve_order`),
    // so never rely on its iteration order.
    names.sort_unstable();
    for name in names {
        push_value(out, &map[name.as_str()]);
    }
}

/// Appends one value as described in the module documentation.
fn push_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => items.iter().for_each(|v| push_value(out, v)),
        Value::Object(map) => push_object(out, map, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "secret123";
    const VECTOR_STRING: &str = "2500https://automatic-response-url.fr/0AUTHOR_CAPTURE978\
        IR_WS_2.22011223344550000https://normal-return-url/INTERNETORD101ReturnContext\
        SO_WEBAPPLITREFEXA2012";
    const VECTOR_SEAL: &str = "e4d75c6a779adee5850192d1ecc162ca0c85e960cb00d9923879609f89739152";

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("test input must be an object"),
        }
    }

    /// The published request of the reference notes, in scrambled order.
    fn vector() -> Map<String, Value> {
        object(json!({
            "transactionReference": "TREFEXA2012",
            "orderId": "ORD101",
            "amount": 2500,
            "keyVersion": "1",
            "normalReturnUrl": "https://normal-return-url/",
            "automaticResponseUrl": "https://automatic-response-url.fr/",
            "captureDay": 0,
            "captureMode": "AUTHOR_CAPTURE",
            "currencyCode": "978",
            "interfaceVersion": "IR_WS_2.22",
            "merchantId": "011223344550000",
            "orderChannel": "INTERNET",
            "returnContext": "ReturnContext",
            "transactionOrigin": "SO_WEBAPPLI",
        }))
    }

    fn hmac_hex(message: &str) -> String {
        hex::encode(mac_over(message, SECRET).finalize().into_bytes())
    }

    #[test]
    fn published_test_vector() {
        let fields = vector();
        assert_eq!(*seal_string(&fields), VECTOR_STRING);
        assert_eq!(compute_seal(&fields, SECRET), VECTOR_SEAL);
    }

    #[test]
    fn including_key_version_gives_another_seal() {
        let with_kv = VECTOR_STRING.replacen("IR_WS_2.22", "IR_WS_2.221", 1);
        assert_ne!(hmac_hex(&with_kv), VECTOR_SEAL);
        // And keyVersion / sealAlgorithm values do not influence our seal.
        let mut fields = vector();
        fields.insert("keyVersion".into(), json!("2"));
        fields.insert("sealAlgorithm".into(), json!("HMAC-SHA-256"));
        assert_eq!(compute_seal(&fields, SECRET), VECTOR_SEAL);
    }

    #[test]
    fn verify_accepts_then_rejects_tampered_amount() {
        let mut fields = vector();
        fields.insert("seal".into(), json!(VECTOR_SEAL));
        assert_eq!(verify_seal(&fields, SECRET), Ok(()));
        fields.insert("amount".into(), json!(2501));
        assert_eq!(verify_seal(&fields, SECRET), Err(SealError::Mismatch));
        fields.insert("amount".into(), json!("2500"));
        // Same text as the number: the seal cannot tell, by design of Sips.
        assert_eq!(verify_seal(&fields, SECRET), Ok(()));
        assert_eq!(verify_seal(&fields, "secret124"), Err(SealError::Mismatch));
    }

    #[test]
    fn verify_missing_and_malformed() {
        let mut fields = vector();
        assert_eq!(verify_seal(&fields, SECRET), Err(SealError::Missing));
        fields.insert("seal".into(), Value::Null);
        assert_eq!(verify_seal(&fields, SECRET), Err(SealError::Missing));
        for bad in [json!("zz"), json!(""), json!(42), json!(&VECTOR_SEAL[..62])] {
            fields.insert("seal".into(), bad);
            assert_eq!(verify_seal(&fields, SECRET), Err(SealError::Mismatch));
        }
        fields.insert("seal".into(), json!(VECTOR_SEAL.to_uppercase()));
        assert_eq!(verify_seal(&fields, SECRET), Ok(()));
    }

    #[test]
    fn response_sealed_over_all_but_seal_is_accepted() {
        let mut resp = object(json!({
            "responseCode": "00",
            "keyVersion": 1,
            "authorisationId": "123456",
        }));
        let all_but_seal = "123456" /* authorisationId */
            .to_owned()
            + "1"
            + "00";
        resp.insert("seal".into(), json!(hmac_hex(&all_but_seal)));
        assert_eq!(verify_seal(&resp, SECRET), Ok(()));
        // Without keyVersion present, only the main recipe applies.
        resp.remove("keyVersion");
        assert_eq!(verify_seal(&resp, SECRET), Err(SealError::Mismatch));
    }

    #[test]
    fn nested_objects_sorted_in_place() {
        let fields = object(json!({
            "zeta": "Z",
            "customerContact": { "lastname": "Martin", "email": "a@b.fr", "firstname": "Léa" },
            "amount": 1000,
        }));
        assert_eq!(*seal_string(&fields), "1000a@b.frLéaMartinZ");
    }

    #[test]
    fn nulls_booleans_arrays() {
        let fields = object(json!({
            "b": true,
            "a": null,
            "c": ["x", { "q": "2", "p": "1", "n": null }, 3, false],
            "d": { "seal": "kept", "keyVersion": "kept" },
        }));
        // Exclusions apply at the top level only; arrays keep their order.
        assert_eq!(*seal_string(&fields), "truex123falsekeptkept");
    }

    #[test]
    fn name_sort_is_bytewise() {
        let fields = object(json!({ "b": "2", "B": "1", "a": "3" }));
        // "B" < "a" < "b" in byte order.
        assert_eq!(*seal_string(&fields), "132");
    }
}
