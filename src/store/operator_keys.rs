//! Operator API keys: what scripts and monitoring use to reach the operator API
//! (dialplan reload, calls in progress). Shown once at creation; only the SHA-256 is
//! kept, like merchant keys.

use super::merchants::{hash_key, IssuedKey, NewKey};
use super::{Store, StoreError};

impl Store {
    /// Issues an operator key.
    pub async fn issue_operator_key(&self, label: &str) -> Result<IssuedKey, StoreError> {
        let key = NewKey::generate("ivo", "opk");
        sqlx::query("INSERT INTO operator_keys (id, key_hash, prefix, label, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&key.id)
            .bind(&key.hash)
            .bind(&key.prefix)
            .bind(label)
            .bind(self.now_ms())
            .execute(self.pool())
            .await
            .map_err(StoreError::from_write)?;
        Ok(key.issued())
    }

    /// Whether a presented key is a live operator key.
    pub async fn is_operator_key(&self, secret: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT id FROM operator_keys WHERE key_hash = $1 AND revoked_at IS NULL")
            .bind(hash_key(secret))
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some())
    }

    /// Revokes an operator key; it stops working at once.
    pub async fn revoke_operator_key(&self, id: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE operator_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(self.now_ms())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
