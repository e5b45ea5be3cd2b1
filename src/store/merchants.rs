//! Merchants and their API keys. A key is shown once at creation; only its SHA-256
//! is stored, so a database leak does not leak working credentials.

use super::{get_i64, get_opt_str, get_str, new_id, Store, StoreError};
use crate::payments::merchant::{CaptureMode, Merchant, NewMerchant};
use serde::Serialize;
use sha2::{Digest, Sha256};

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
        let now = self.now_ms();
        let secret = hex::encode(rand::random::<[u8; 24]>());
        sqlx::query(
            "INSERT INTO merchants (id, name, accepted_brands, capture_mode, capture_day, phone_number, notification_url, notification_secret, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&id)
        .bind(&m.name)
        .bind(m.sips_brands().join(","))
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
        let merchant =
            self.merchant(&id).await?.ok_or_else(|| StoreError::Vanished { table: "merchants", key: id.clone() })?;
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
            .bind(self.now_ms())
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
        .bind(self.now_ms())
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
    use crate::payments::merchant::MerchantError;

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
