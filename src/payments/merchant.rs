//! Merchants as the payment rules see them: the merchant itself and its capture mode
//! are `ivrpay_proto::payments::merchant` (the call flow needs them), re-exported here;
//! this file adds the checks a new merchant must pass (brands, capture day, an absolute
//! http(s) notification URL). Pure rules: must not know the database, the clock or the
//! network.

use super::card::Brand;

pub use ivrpay_proto::payments::merchant::{CaptureMode, Merchant};

/// What is needed to create a merchant.
#[derive(Clone, Debug)]
pub struct NewMerchant {
    /// Display name; must not be blank.
    pub name: String,
    /// Sips brand names; at least one, each known, so some card can pay.
    pub accepted_brands: Vec<String>,
    /// How authorizations will be captured.
    pub capture_mode: CaptureMode,
    /// Days before capture, 0 to 6 (Sips keeps an authorization 6 days).
    pub capture_day: u8,
    /// Number customers dial; must not be blank.
    pub phone_number: String,
    /// Absolute http(s) URL for signed transaction notices, if any.
    pub notification_url: Option<String>,
}

/// Why a merchant cannot be created as given; each names the field at fault, so the
/// CLI, the pages and the store give the same answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MerchantError {
    /// The name is blank.
    #[error("name: must not be empty")]
    NoName,
    /// The phone number is blank.
    #[error("phone_number: must not be empty")]
    NoPhone,
    /// More than 6: Sips keeps an authorization 6 days.
    #[error("capture_day: {0} is more than 6 (an authorization lives 6 days)")]
    CaptureDay(u8),
    /// No accepted brand: no card could ever pay.
    #[error("accepted_brands: at least one brand is needed")]
    NoBrand,
    /// A brand this product does not know (it would be silently ignored).
    #[error(
        "accepted_brands: unknown brand '{0}' (known: CB, VISA, MASTERCARD, AMEX, MAESTRO, DINERS, DISCOVER, JCB)"
    )]
    UnknownBrand(String),
    /// Not an absolute http(s) URL.
    #[error("notification_url: '{0}' is not an absolute http:// or https:// URL")]
    NotificationUrl(String),
}

impl MerchantError {
    /// The field at fault, as named in the API and the forms.
    pub fn field(&self) -> &'static str {
        match self {
            MerchantError::NoName => "name",
            MerchantError::NoPhone => "phone_number",
            MerchantError::CaptureDay(_) => "capture_day",
            MerchantError::NoBrand | MerchantError::UnknownBrand(_) => "accepted_brands",
            MerchantError::NotificationUrl(_) => "notification_url",
        }
    }
}

impl NewMerchant {
    /// Checks every field (the store refuses a merchant that fails it, whoever asks).
    pub fn validate(&self) -> Result<(), MerchantError> {
        match self.problems().into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every problem at once, in field order, so a form can show each beside its field.
    pub fn problems(&self) -> Vec<MerchantError> {
        let mut out = Vec::new();
        if self.name.trim().is_empty() {
            out.push(MerchantError::NoName);
        }
        if self.phone_number.trim().is_empty() {
            out.push(MerchantError::NoPhone);
        }
        if self.capture_day > 6 {
            out.push(MerchantError::CaptureDay(self.capture_day));
        }
        if self.accepted_brands.iter().all(|b| b.trim().is_empty()) {
            out.push(MerchantError::NoBrand);
        }
        if let Some(b) = self.accepted_brands.iter().find(|b| Brand::from_sips(b).is_none() && !b.trim().is_empty()) {
            out.push(MerchantError::UnknownBrand(b.clone()));
        }
        if let Some(url) = &self.notification_url {
            if !is_http_url(url) {
                out.push(MerchantError::NotificationUrl(url.clone()));
            }
        }
        out
    }

    /// The accepted brands in their Sips spelling, blanks dropped, each once (the
    /// stored form of the list).
    pub fn sips_brands(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for b in self.accepted_brands.iter().filter_map(|b| Brand::from_sips(b)) {
            if !out.contains(&b.as_sips()) {
                out.push(b.as_sips());
            }
        }
        out
    }
}

/// Whether `url` is an absolute http(s) URL with a host, the only kind notices can be
/// POSTed to. Parsing only (`hyper::Uri` is the `http` crate's URI type; nothing is
/// connected to).
fn is_http_url(url: &str) -> bool {
    url.parse::<hyper::Uri>()
        .ok()
        .is_some_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new() -> NewMerchant {
        NewMerchant {
            name: "Dupont".into(),
            accepted_brands: vec!["cb".into(), " VISA".into()],
            capture_mode: CaptureMode::AuthorCapture,
            capture_day: 6,
            phone_number: "+33970000000".into(),
            notification_url: Some("https://dupont.example/ivrpay".into()),
        }
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(new().validate(), Ok(()));
        type Spoil = fn(&mut NewMerchant);
        let cases: [(Spoil, &str); 6] = [
            (|m| m.name = " ".into(), "name"),
            (|m| m.phone_number = String::new(), "phone_number"),
            (|m| m.capture_day = 7, "capture_day"),
            (|m| m.accepted_brands = vec![" ".into()], "accepted_brands"),
            (|m| m.accepted_brands.push("PAYPAL".into()), "accepted_brands"),
            (|m| m.notification_url = Some("ftp://x".into()), "notification_url"),
        ];
        for (spoil, field) in cases {
            let mut m = new();
            spoil(&mut m);
            let e = m.validate().unwrap_err();
            assert_eq!(e.field(), field, "{e}");
            assert!(e.to_string().starts_with(field), "{e}");
        }
    }
}
