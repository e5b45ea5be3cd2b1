//! Delivering merchant notifications: server-to-server POSTs of a transaction's new
//! state, signed with the merchant's secret, retried with back-off until a 2xx.
//!
//! Verifying a notice (the recipe given to merchants): take the `Ivrpay-Signature`
//! header `t=<unix seconds>,v1=<hex>`, compute HMAC-SHA-256 with the notification secret
//! over `<t>.<raw body>`, compare in constant time with `v1`, and refuse a `t` more than
//! five minutes old (replays). [`verify`] is that recipe in Rust.
//!
//! Delivery is at least once: a notice is claimed by one node at a time (see
//! `store::notifications`), but a node can die after the merchant acknowledged and
//! before it recorded it. Each notice carries its id in the body (`id`) and in the
//! [`NOTIFICATION_ID_HEADER`] header: the merchant discards an id it already processed.
//!
//! Merchants are served independently: the running server's [`run`] gives each merchant
//! with notices due a worker of its own (a bounded number at once), which claims only
//! that merchant's notices. A slow or dead endpoint holds back its own notices and no
//! one else's; after a failure to connect or a time-out, the rest of that merchant's
//! batch waits the same back-off instead of each costing a time-out.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Ivrpay-Signature";
/// Header carrying the notice's id (also in the body), to discard repeats.
pub const NOTIFICATION_ID_HEADER: &str = "Ivrpay-Notification-Id";
/// How long a node holds the notices it claimed, beyond its POST time-out: another
/// node may retry them only after that.
pub(crate) const LEASE_MARGIN_MS: i64 = 30_000;
/// Longest wait between attempts.
const MAX_BACKOFF_MS: i64 = 3_600_000;

/// `t=<t>,v1=<hex hmac>` for a body sent at unix second `t`.
pub fn sign(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The merchant's check of a notice (see the module documentation).
pub fn verify(secret: &str, header: &str, body: &str, now_unix: i64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else { return false };
    if (now_unix - t).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{t}.{body}").as_bytes());
    mac.verify_slice(&v1).is_ok()
}

/// Wait before attempt `attempts + 1`: 5 s doubling, capped at an hour.
pub fn backoff_ms(attempts: i64) -> i64 {
    (5_000i64 << attempts.clamp(0, 20)).min(MAX_BACKOFF_MS)
}

/// One notice claimed for delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// Also in the body and the `Ivrpay-Notification-Id` header: the merchant's key to
    /// discard a repeat.
    pub id: String,
    /// Whose secret signs it.
    pub merchant_id: String,
    /// Where it goes.
    pub url: String,
    /// The JSON body, signed as is.
    pub payload: String,
    /// Attempts so far (the back-off grows with them).
    pub attempts: i64,
    /// End of this node's claim (UTC ms); the token recording the attempt needs.
    pub lease_until: i64,
}

pub use deliver::{deliver_due, deliver_merchant};
pub use log::{DeliveryLog, DeliveryState};
pub use worker::{run, Delivery};

mod deliver;
mod log;
mod worker;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_recipe_round_trip_and_tampering() {
        let h = sign("s3cret", 1_800_000_000, r#"{"a":1}"#);
        assert!(h.starts_with("t=1800000000,v1="));
        assert!(verify("s3cret", &h, r#"{"a":1}"#, 1_800_000_060));
        assert!(!verify("s3cret", &h, r#"{"a":2}"#, 1_800_000_060), "body changed");
        assert!(!verify("other", &h, r#"{"a":1}"#, 1_800_000_060), "wrong secret");
        assert!(!verify("s3cret", &h, r#"{"a":1}"#, 1_800_001_000), "too old");
        assert!(!verify("s3cret", "garbage", "", 0));
    }

    #[test]
    fn backoff_doubles_to_an_hour() {
        assert_eq!(backoff_ms(0), 5_000);
        assert_eq!(backoff_ms(3), 40_000);
        assert_eq!(backoff_ms(30), 3_600_000);
    }
}
