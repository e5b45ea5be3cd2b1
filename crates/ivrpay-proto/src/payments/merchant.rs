//! A merchant as the call flow and the payments core see it: who is paid, which cards
//! it accepts, how its authorizations are captured. Stored by `ivrpay::store::merchants`.

use serde::Serialize;

/// How an authorization becomes a payment (Sips capture modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CaptureMode {
    /// Captured automatically after the capture day (status TO_CAPTURE).
    AuthorCapture,
    /// Waits for the merchant to validate (status TO_VALIDATE).
    Validation,
}

impl CaptureMode {
    /// Sips wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureMode::AuthorCapture => "AUTHOR_CAPTURE",
            CaptureMode::Validation => "VALIDATION",
        }
    }

    /// Parses the Sips wire form.
    pub fn parse(s: &str) -> Option<CaptureMode> {
        match s {
            "AUTHOR_CAPTURE" => Some(CaptureMode::AuthorCapture),
            "VALIDATION" => Some(CaptureMode::Validation),
            _ => None,
        }
    }
}

/// A merchant account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Merchant {
    /// Stable identifier (`mer_...`) that API keys, invoices and users hang off.
    pub id: String,
    /// Display name, shown in the extranet and to operators.
    pub name: String,
    /// Sips brand names accepted (CB, VISA, MASTERCARD, AMEX, ...).
    pub accepted_brands: Vec<String>,
    /// How authorizations for this merchant are captured.
    pub capture_mode: CaptureMode,
    /// Days before capture (0 to 6).
    pub capture_day: u8,
    /// The number customers call to pay this merchant's invoices.
    pub phone_number: String,
    /// Where transaction notices are POSTed (signed); `None` when the merchant wants none.
    pub notification_url: Option<String>,
    /// When the merchant was created (UTC ms).
    pub created_at: i64,
}
