//! Extranet users: who may sign in, with which role, and for which merchant. Passwords
//! are kept only as argon2id hashes (memory-hard, so a stolen database is slow to
//! crack); there is no default account: the first admin is made with `ivrpay user create`.

use super::{get_i64, get_opt_str, get_str, new_id, Store, StoreError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sqlx::any::AnyRow;

/// Fewest characters a password may have (NIST SP 800-63B asks for at least 8; people
/// who pay invoices for a business get a little more).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Most characters a password may have (argon2 takes any length; this bounds the work
/// an unauthenticated request can ask for).
pub const MAX_PASSWORD_CHARS: usize = 128;

/// What a user may do, checked on every page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Manages users and merchants.
    Admin,
    /// Manages voice prompts, dialplans and watches calls.
    Operator,
    /// Sees and manages one merchant's invoices and transactions.
    Merchant,
}

impl Role {
    /// Stored and CLI form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Merchant => "merchant",
        }
    }

    /// Parses the stored and CLI form.
    pub fn parse(s: &str) -> Option<Role> {
        [Role::Admin, Role::Operator, Role::Merchant].into_iter().find(|r| r.as_str() == s)
    }
}

/// A user as stored (never with the password hash, which stays in this module).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Stable id (`usr_...`), what sessions point at.
    pub id: String,
    /// Lower-case; the sign-in name.
    pub email: String,
    /// What the user may do.
    pub role: Role,
    /// Set for merchant users only: the one merchant whose data they see.
    pub merchant_id: Option<String>,
    /// Preferred page language (`fr`, `en`), if chosen.
    pub language: Option<String>,
    /// Disabled users cannot sign in and lose their sessions.
    pub disabled: bool,
    /// When the account was created (UTC milliseconds).
    pub created_at: i64,
}

/// Why a user could not be created or changed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// Not a plausible e-mail address.
    #[error("'{0}' is not an e-mail address")]
    BadEmail(String),
    /// Too short or too long.
    #[error("the password must have between {MIN_PASSWORD_CHARS} and {MAX_PASSWORD_CHARS} characters")]
    WeakPassword,
    /// A merchant user needs its merchant; other roles must have none.
    #[error("a merchant user needs --merchant; admin and operator users must not have one")]
    MerchantMismatch,
    /// The merchant id does not exist.
    #[error("no merchant '{0}'")]
    UnknownMerchant(String),
    /// The e-mail address is already in use.
    #[error("a user with e-mail {0} already exists")]
    EmailTaken(String),
    /// Hashing failed (should not happen with valid parameters).
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What is needed to create a user.
#[derive(Clone)]
pub struct NewUser {
    /// The sign-in name (normalised before it is stored).
    pub email: String,
    /// What the user may do.
    pub role: Role,
    /// The merchant of a merchant user; none for other roles.
    pub merchant_id: Option<String>,
    /// In clear only until it is hashed; never stored.
    pub password: String,
}

/// Normalises an e-mail address (trimmed, lower-case) or refuses it.
pub fn normalise_email(email: &str) -> Result<String, UserError> {
    let e = email.trim().to_lowercase();
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.contains('@')
        });
    if ok {
        Ok(e)
    } else {
        Err(UserError::BadEmail(email.trim().to_string()))
    }
}

/// Checks a new password's length.
pub fn check_password(password: &str) -> Result<(), UserError> {
    let n = password.chars().count();
    if (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        Ok(())
    } else {
        Err(UserError::WeakPassword)
    }
}

/// argon2id with a random salt, as a PHC string (parameters travel with the hash, so
/// they can be raised later without breaking stored ones).
fn hash_password(password: &str) -> Result<String, UserError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| UserError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A valid hash of nothing anyone types, verified when the e-mail is unknown so that
/// an unknown address costs as much time as a wrong password (no account probing).
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&hex::encode(rand::random::<[u8; 16]>())).unwrap_or_default())
}

/// Password hashes computed at once: half the cores (at least one). argon2 is meant to
/// be slow and memory-hungry, so a flood of sign-ins would otherwise take every core
/// (and 19 MiB each) from the phone line; past this bound they wait their turn.
fn argon2_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
        tokio::sync::Semaphore::new((cores / 2).max(1))
    })
}

/// Runs an argon2 computation on a blocking thread, once a permit is free.
async fn with_argon2<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let _permit = argon2_permits().acquire().await.ok()?;
    tokio::task::spawn_blocking(work).await.ok()
}

const COLUMNS: &str = "id, email, role, merchant_id, language, disabled_at, created_at";

pub(crate) fn user_from_row(r: &AnyRow) -> Result<User, StoreError> {
    let role = get_str(r, "role")?;
    Ok(User {
        id: get_str(r, "id")?,
        email: get_str(r, "email")?,
        role: Role::parse(&role).ok_or(StoreError::Corrupt { column: "users.role", value: role })?,
        merchant_id: get_opt_str(r, "merchant_id")?,
        language: get_opt_str(r, "language")?,
        disabled: sqlx::Row::try_get::<Option<i64>, _>(r, "disabled_at")?.is_some(),
        created_at: get_i64(r, "created_at")?,
    })
}

impl Store {
    /// Creates a user; the password is hashed here (on a blocking thread: argon2 is
    /// deliberately slow) and never stored in clear.
    pub async fn create_user(&self, u: &NewUser) -> Result<User, UserError> {
        let email = normalise_email(&u.email)?;
        check_password(&u.password)?;
        if (u.role == Role::Merchant) != u.merchant_id.is_some() {
            return Err(UserError::MerchantMismatch);
        }
        if let Some(m) = &u.merchant_id {
            if self.merchant(m).await?.is_none() {
                return Err(UserError::UnknownMerchant(m.clone()));
            }
        }
        let password = u.password.clone();
        let hash = with_argon2(move || hash_password(&password))
            .await
            .ok_or_else(|| UserError::Hash("the hashing task failed".into()))??;
        let id = new_id("usr");
        let r = sqlx::query(
            "INSERT INTO users (id, email, password_hash, role, merchant_id, language, disabled_at, created_at) VALUES ($1, $2, $3, $4, $5, NULL, NULL, $6)",
        )
        .bind(&id)
        .bind(&email)
        .bind(hash)
        .bind(u.role.as_str())
        .bind(&u.merchant_id)
        .bind(self.now_ms())
        .execute(self.pool())
        .await
        .map_err(StoreError::from_write);
        match r {
            Ok(_) => Ok(self.user(&id).await?.expect("just inserted")),
            Err(StoreError::Conflict(_)) => Err(UserError::EmailTaken(email)),
            Err(e) => Err(e.into()),
        }
    }

    /// A user by id.
    pub async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Every user, by e-mail address, for the admin pages.
    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM users ORDER BY email")).fetch_all(self.pool()).await?;
        rows.iter().map(user_from_row).collect()
    }

    /// The enabled user with this e-mail and password, or None. Takes the same time
    /// whether the address exists or not; only a few checks run at once (half the cores).
    pub async fn check_credentials(&self, email: &str, password: &str) -> Result<Option<User>, StoreError> {
        let email = email.trim().to_lowercase();
        let row = sqlx::query(&format!("SELECT password_hash, {COLUMNS} FROM users WHERE email = $1"))
            .bind(&email)
            .fetch_optional(self.pool())
            .await?;
        let (phc, user) = match &row {
            Some(r) => (Some(get_str(r, "password_hash")?), Some(user_from_row(r)?)),
            None => (None, None),
        };
        let password = password.to_string();
        let ok = with_argon2(move || {
            let phc = phc.unwrap_or_else(|| decoy_hash().to_string());
            password.chars().count() <= MAX_PASSWORD_CHARS && verify_password(&password, &phc)
        })
        .await
        .unwrap_or(false);
        Ok(user.filter(|u| ok && !u.disabled))
    }

    /// Sets a user's page language.
    pub async fn set_user_language(&self, user_id: &str, language: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET language = $1 WHERE id = $2")
            .bind(language)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Disables (or enables again) a user; disabling ends its sessions at once.
    pub async fn set_user_disabled(&self, user_id: &str, disabled: bool) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let r = sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
            .bind(disabled.then(|| self.now_ms()))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    /// Replaces a user's password and ends its sessions (a reset should lock out
    /// whoever knew the old one).
    pub async fn set_user_password(&self, user_id: &str, password: &str) -> Result<bool, UserError> {
        check_password(password)?;
        let password = password.to_string();
        let hash = with_argon2(move || hash_password(&password))
            .await
            .ok_or_else(|| UserError::Hash("the hashing task failed".into()))??;
        let mut tx = self.pool().begin().await.map_err(StoreError::Db)?;
        let r = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::Db)?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::Db)?;
        tx.commit().await.map_err(StoreError::Db)?;
        Ok(r.rows_affected() == 1)
    }

    /// A user by e-mail address (for the CLI).
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE email = $1"))
            .bind(email.trim().to_lowercase())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_or_refused() {
        assert_eq!(normalise_email("  Jeanne.Martin@Example.ORG ").unwrap(), "jeanne.martin@example.org");
        for bad in ["", "jeanne", "@example.org", "a@b", "a b@example.org", "a@.org"] {
            assert!(normalise_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_hashed_with_argon2id_and_verified() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains("correct horse"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert_ne!(h, hash_password("correct horse battery").unwrap(), "salted");
        assert!(check_password("short").is_err());
        assert!(check_password("twelve chars").is_ok());
    }
}
