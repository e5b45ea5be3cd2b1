//! Extranet sessions. The browser holds a random token; the database holds only its
//! SHA-256, the user, an expiry and the session's CSRF token, so reading the database
//! does not let anyone sign in as someone else.

use super::users::{user_from_row, User};
use super::{get_i64, get_str, Store, StoreError};
use sha2::{Digest, Sha256};

/// How long a session lasts after sign-in (a working day), in milliseconds.
pub const SESSION_TTL_MS: i64 = 12 * 3600 * 1000;

/// A new session: the only time the token is visible.
#[derive(Clone)]
pub struct NewSession {
    /// Goes into the cookie.
    pub token: String,
    /// Goes into every form of the session.
    pub csrf: String,
    /// UTC milliseconds.
    pub expires_at: i64,
}

/// A live session and its user.
#[derive(Clone, Debug)]
pub struct Session {
    /// The signed-in user, read fresh at each lookup so a disabled account stops at once.
    pub user: User,
    /// The CSRF token every form of this session must carry.
    pub csrf: String,
    /// UTC milliseconds; the lookup refuses the session from then on.
    pub expires_at: i64,
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// 256 random bits, hex.
pub fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

impl Store {
    /// Opens a session for a user (after the password was checked).
    pub async fn create_session(&self, user_id: &str) -> Result<NewSession, StoreError> {
        let now = self.now_ms();
        let s = NewSession { token: random_token(), csrf: random_token(), expires_at: now + SESSION_TTL_MS };
        // Expired sessions are swept here rather than by a job: sign-ins are rare enough.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(self.pool()).await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash_token(&s.token))
        .bind(user_id)
        .bind(&s.csrf)
        .bind(now)
        .bind(s.expires_at)
        .execute(self.pool())
        .await?;
        Ok(s)
    }

    /// The live session for a cookie token: unexpired, and its user still enabled.
    pub async fn session(&self, token: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT s.csrf_token, s.expires_at, u.id, u.email, u.role, u.merchant_id, u.language, u.disabled_at, u.created_at \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(hash_token(token))
        .bind(self.now_ms())
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let user = user_from_row(&r)?;
        if user.disabled {
            return Ok(None);
        }
        Ok(Some(Session { user, csrf: get_str(&r, "csrf_token")?, expires_at: get_i64(&r, "expires_at")? }))
    }

    /// Ends a session (sign-out).
    pub async fn delete_session(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(hash_token(token)).execute(self.pool()).await?;
        Ok(())
    }
}
