//! Merchants and their API keys. A key is shown once at creation; only its SHA-256
//! is stored, so a database leak does not leak working credentials.

use super::{get_i64, get_opt_str, get_str, new_id, now_ms, Store, StoreError};
use crate::payments::card::Brand;
pub use crate::payments::merchant::{CaptureMode, Merchant};
use serde::Serialize;
use sha2::{Digest, Sha256};

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
            let ok = url
                .parse::<hyper::Uri>()
                .ok()
                .is_some_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
            if !ok {
                out.push(MerchantError::NotificationUrl(url.clone()));
            }
        }
        out
    }

    /// The accepted brands in their Sips spelling, blanks dropped, each once.
    fn brands(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for b in self.accepted_brands.iter().filter_map(|b| Brand::from_sips(b)) {
            if !out.contains(&b.as_sips()) {
                out.push(b.as_sips());
            }
        }
        out
    }
}

/// A newly issued key: the only time the secret is visible.
#[derive(Clone)]
pub struct IssuedKey {
    /// Names the key in lists and for revocation.
    pub id: String,
    /// The key itself, shown once.
    pub secret: String,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey").field("id", &self.id).field("secret", &"<redacted>").finish()
    }
}

/// An API key as listed (never its secret: only the prefix shown at creation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiKeyInfo {
    /// Names the key for revocation.
    pub id: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    /// Free text from whoever issued it, to tell keys apart.
    pub label: String,
    /// When it was issued (UTC ms).
    pub created_at: i64,
    /// When it stopped working, if it did.
    pub revoked_at: Option<i64>,
}

/// Why a key could not be revoked.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    /// No such key for this merchant.
    #[error("no API key {key_id} for merchant {merchant_id}")]
    UnknownKey {
        /// The merchant asked about.
        merchant_id: String,
        /// The key asked about.
        key_id: String,
    },
    /// Already revoked (at this UTC millisecond).
    #[error("API key {key_id} was already revoked")]
    AlreadyRevoked {
        /// The key.
        key_id: String,
        /// When it was revoked (UTC ms).
        at: i64,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A key about to be stored: its secret (shown once), the hash kept in its place and the
/// prefix that lets its owner recognise it in a list.
pub(super) struct NewKey {
    /// Row id (`key_...` or `opk_...`), used to list and revoke the key without its secret.
    pub id: String,
    /// The key itself (`<kind>_<40 hex>`); handed out once, never stored.
    pub secret: String,
    /// Hex SHA-256 of `secret`, the only form the database keeps.
    pub hash: String,
    /// First 12 characters of `secret` (kind and a few hex digits), stored so a list can
    /// show which key is which.
    pub prefix: String,
}

impl NewKey {
    /// A random key `<kind>_<40 hex>` with an id `<id_prefix>_...`.
    pub fn generate(kind: &str, id_prefix: &str) -> NewKey {
        let secret = format!("{kind}_{}", hex::encode(rand::random::<[u8; 20]>()));
        NewKey { id: new_id(id_prefix), hash: hash_key(&secret), prefix: secret[..12].to_string(), secret }
    }

    /// What the caller shows once.
    pub fn issued(self) -> IssuedKey {
        IssuedKey { id: self.id, secret: self.secret }
    }
}

pub(super) fn hash_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl Store {
    /// Creates a merchant and its first API key, once [`NewMerchant::validate`] passes.
    pub async fn create_merchant(&self, m: &NewMerchant) -> Result<(Merchant, IssuedKey), StoreError> {
        m.validate()?;
        let id = new_id("mer");
        let now = now_ms();
        let secret = hex::encode(rand::random::<[u8; 24]>());
        sqlx::query(
            "INSERT INTO merchants (id, name, accepted_brands, capture_mode, capture_day, phone_number, notification_url, notification_secret, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&id)
        .bind(&m.name)
        .bind(m.brands().join(","))
        .bind(m.capture_mode.as_str())
        .bind(m.capture_day as i64)
        .bind(&m.phone_number)
        .bind(&m.notification_url)
        .bind(secret)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(StoreError::from_write)?;
        let key = self.issue_api_key(&id, "initial").await?;
        let merchant = self.merchant(&id).await?.ok_or_else(|| StoreError::Conflict("merchant vanished".into()))?;
        Ok((merchant, key))
    }

    /// Issues another API key for a merchant.
    pub async fn issue_api_key(&self, merchant_id: &str, label: &str) -> Result<IssuedKey, StoreError> {
        let key = NewKey::generate("ivp", "key");
        sqlx::query("INSERT INTO api_keys (id, merchant_id, key_hash, prefix, label, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&key.id)
            .bind(merchant_id)
            .bind(&key.hash)
            .bind(&key.prefix)
            .bind(label)
            .bind(now_ms())
            .execute(self.pool())
            .await
            .map_err(StoreError::from_write)?;
        Ok(key.issued())
    }

    /// A merchant's keys, oldest first.
    pub async fn list_api_keys(&self, merchant_id: &str) -> Result<Vec<ApiKeyInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, prefix, label, created_at, revoked_at FROM api_keys WHERE merchant_id = $1 ORDER BY created_at, id",
        )
        .bind(merchant_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiKeyInfo {
                    id: get_str(r, "id")?,
                    prefix: get_str(r, "prefix")?,
                    label: get_str(r, "label")?,
                    created_at: get_i64(r, "created_at")?,
                    revoked_at: sqlx::Row::try_get::<Option<i64>, _>(r, "revoked_at")?,
                })
            })
            .collect()
    }

    /// Revokes a key, saying why not when it cannot (unknown, or already revoked).
    pub async fn revoke_api_key_checked(&self, merchant_id: &str, key_id: &str) -> Result<(), RevokeError> {
        if self.revoke_api_key(merchant_id, key_id).await? {
            return Ok(());
        }
        let keys = self.list_api_keys(merchant_id).await?;
        match keys.into_iter().find(|k| k.id == key_id) {
            Some(ApiKeyInfo { revoked_at: Some(at), .. }) => {
                Err(RevokeError::AlreadyRevoked { key_id: key_id.to_string(), at })
            }
            _ => Err(RevokeError::UnknownKey { merchant_id: merchant_id.to_string(), key_id: key_id.to_string() }),
        }
    }

    /// Revokes a key; it stops working at once.
    pub async fn revoke_api_key(&self, merchant_id: &str, key_id: &str) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND merchant_id = $3 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(key_id)
        .bind(merchant_id)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The merchant owning a (non-revoked) API key.
    pub async fn merchant_by_api_key(&self, secret: &str) -> Result<Option<Merchant>, StoreError> {
        let row = sqlx::query("SELECT merchant_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
            .bind(hash_key(secret))
            .fetch_optional(self.pool())
            .await?;
        match row {
            Some(r) => self.merchant(&get_str(&r, "merchant_id")?).await,
            None => Ok(None),
        }
    }

    /// A merchant by id.
    pub async fn merchant(&self, id: &str) -> Result<Option<Merchant>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, accepted_brands, capture_mode, capture_day, phone_number, notification_url, created_at FROM merchants WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let mode = get_str(&r, "capture_mode")?;
        Ok(Some(Merchant {
            id: get_str(&r, "id")?,
            name: get_str(&r, "name")?,
            accepted_brands: get_str(&r, "accepted_brands")?
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            capture_mode: CaptureMode::parse(&mode)
                .ok_or(StoreError::Corrupt { column: "merchants.capture_mode", value: mode })?,
            capture_day: get_i64(&r, "capture_day")? as u8,
            phone_number: get_str(&r, "phone_number")?,
            notification_url: get_opt_str(&r, "notification_url")?,
            created_at: get_i64(&r, "created_at")?,
        }))
    }
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

    #[tokio::test]
    async fn the_store_refuses_what_validate_refuses_and_spells_brands_as_sips() {
        let file = std::env::temp_dir().join(format!("ivrpay-mer-{}-{}.db", std::process::id(), rand::random::<u32>()));
        let store = Store::open(&format!("sqlite://{}", file.display())).await.unwrap();
        let mut bad = new();
        bad.capture_day = 9;
        match store.create_merchant(&bad).await {
            Err(StoreError::InvalidMerchant(e)) => assert_eq!(e, MerchantError::CaptureDay(9)),
            other => panic!("{other:?}"),
        }
        let mut bad = new();
        bad.accepted_brands = vec!["VISA".into(), "UNIONPAY".into()];
        assert!(
            matches!(store.create_merchant(&bad).await, Err(StoreError::InvalidMerchant(MerchantError::UnknownBrand(b))) if b == "UNIONPAY")
        );
        let mut twice = new();
        twice.accepted_brands.push("visa".into());
        let (m, key) = store.create_merchant(&twice).await.unwrap();
        assert_eq!(m.accepted_brands, ["CB", "VISA"]);
        assert!(!format!("{key:?}").contains(&key.secret), "the key never prints");
        store.close().await;
        let _ = std::fs::remove_file(file);
    }
}
