//! Sign-in throttling with back-off, per account and per client address, kept in the
//! database so every node applies the same limits. A few mistakes cost nothing; past
//! them each failure doubles the wait (30 s, 1 min, 2 min, ... up to an hour), which
//! makes guessing a password online hopeless while a person who mistyped is barely
//! slowed. Failures are forgotten an hour after the last one.

use super::{get_i64, now_ms, Store, StoreError};

/// Failures allowed on one account before it waits.
pub const ACCOUNT_FREE_FAILURES: i64 = 5;
/// Failures allowed from one address (across accounts) before it waits.
pub const ADDRESS_FREE_FAILURES: i64 = 20;
/// The first wait.
pub const FIRST_WAIT_MS: i64 = 30_000;
/// The longest wait.
pub const MAX_WAIT_MS: i64 = 3_600_000;
/// Failures older than this (after the last one) are forgotten.
pub const FORGET_AFTER_MS: i64 = 3_600_000;

/// What is throttled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ThrottleKey {
    /// An e-mail address, whether or not an account has it (so probing costs the same).
    Account(String),
    /// A client IP address.
    Address(String),
}

impl ThrottleKey {
    fn stored(&self) -> String {
        match self {
            ThrottleKey::Account(e) => format!("account:{}", e.trim().to_lowercase()),
            ThrottleKey::Address(a) => format!("ip:{a}"),
        }
    }

    fn free_failures(&self) -> i64 {
        match self {
            ThrottleKey::Account(_) => ACCOUNT_FREE_FAILURES,
            ThrottleKey::Address(_) => ADDRESS_FREE_FAILURES,
        }
    }
}

/// How long to wait after `failures` consecutive failures when `free` are allowed.
pub fn wait_ms(failures: i64, free: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = (failures - free).min(20) as u32;
    FIRST_WAIT_MS.saturating_mul(1i64 << doublings).min(MAX_WAIT_MS)
}

impl Store {
    /// Milliseconds until any of `keys` may try again, or None if none is locked.
    pub async fn login_locked(&self, keys: &[ThrottleKey]) -> Result<Option<i64>, StoreError> {
        let now = now_ms();
        let mut longest = None;
        for k in keys {
            let row = sqlx::query("SELECT locked_until FROM login_failures WHERE throttle_key = $1")
                .bind(k.stored())
                .fetch_optional(self.pool())
                .await?;
            if let Some(r) = row {
                let left = get_i64(&r, "locked_until")? - now;
                if left > 0 {
                    longest = Some(longest.unwrap_or(0).max(left));
                }
            }
        }
        Ok(longest)
    }

    /// Counts a failed sign-in against each key and sets its lock.
    pub async fn record_login_failure(&self, keys: &[ThrottleKey]) -> Result<(), StoreError> {
        let now = now_ms();
        for k in keys {
            let row = sqlx::query("SELECT failures, last_failure_at FROM login_failures WHERE throttle_key = $1")
                .bind(k.stored())
                .fetch_optional(self.pool())
                .await?;
            let failures = match row {
                Some(r) if now - get_i64(&r, "last_failure_at")? < FORGET_AFTER_MS => get_i64(&r, "failures")? + 1,
                _ => 1,
            };
            let locked_until = now + wait_ms(failures, k.free_failures());
            sqlx::query(
                "INSERT INTO login_failures (throttle_key, failures, last_failure_at, locked_until) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (throttle_key) DO UPDATE SET failures = $2, last_failure_at = $3, locked_until = $4",
            )
            .bind(k.stored())
            .bind(failures)
            .bind(now)
            .bind(locked_until)
            .execute(self.pool())
            .await?;
        }
        Ok(())
    }

    /// Forgets the failures of a key (after a successful sign-in on that account).
    pub async fn clear_login_failures(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1")
            .bind(key.stored())
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_after_the_free_failures_up_to_an_hour() {
        let f = ACCOUNT_FREE_FAILURES;
        assert_eq!((0..f).map(|n| wait_ms(n, f)).max(), Some(0));
        assert_eq!(wait_ms(f, f), 30_000);
        assert_eq!(wait_ms(f + 1, f), 60_000);
        assert_eq!(wait_ms(f + 3, f), 240_000);
        assert_eq!(wait_ms(f + 7, f), MAX_WAIT_MS);
        assert_eq!(wait_ms(i64::MAX, f), MAX_WAIT_MS);
    }
}
