//! Sign-in throttling with back-off, per account and per client address, kept in the
//! database so every node applies the same limits. A few mistakes cost nothing; past
//! them each failure doubles the wait (30 s, 1 min, 2 min, ... up to an hour), which
//! makes guessing a password online hopeless while a person who mistyped is barely
//! slowed. Failures are forgotten an hour after the last one.
//!
//! An attempt is counted before its password is checked (and taken back if it
//! succeeds), so concurrent guesses cannot all slip in between a check and a count.
//!
//! Keys are stored hashed (SHA-256 of the kind and the value): every row has the same
//! small size whatever was typed, and the table holds no e-mail address. Forgotten rows
//! are deleted on about one attempt in a hundred, so the table holds the keys of the
//! last hour and little more.

use super::{get_i64, Store, StoreError};
use sha2::{Digest, Sha256};

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
        let plain = match self {
            ThrottleKey::Account(e) => format!("account:{}", e.trim().to_lowercase()),
            ThrottleKey::Address(a) => format!("ip:{a}"),
        };
        hex::encode(Sha256::digest(plain.as_bytes()))
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

/// The `locked_until` a key gets once its count reaches `failures`, as SQL: a CASE over
/// the count (the doubling computed here, since SQLite and PostgreSQL share no power
/// function), so that counting an attempt and locking the key are one statement.
fn lock_expression(count: &str, free: i64, now: i64) -> String {
    let mut sql = format!("CASE WHEN {count} < {free} THEN 0");
    let mut n = free;
    loop {
        let wait = wait_ms(n, free);
        if wait >= MAX_WAIT_MS {
            break;
        }
        sql.push_str(&format!(" WHEN {count} = {n} THEN {}", now + wait));
        n += 1;
    }
    sql.push_str(&format!(" ELSE {} END", now + MAX_WAIT_MS));
    sql
}

/// Whether a sign-in attempt may go on to the password check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Counted against every key; the password may be checked.
    Counted(Counted),
    /// A key is locked: milliseconds until it may try again. Nothing stays counted.
    Locked(i64),
}

/// An attempt counted against its keys, with the count each key reached (which tells,
/// when it is taken back, whether it was this attempt that locked the key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counted {
    keys: Vec<(ThrottleKey, i64)>,
}

impl Store {
    /// Counts a sign-in attempt against each key *before* its password is checked, and
    /// locks a key in the same statement when the count reaches its free failures. The
    /// count and the lock are one atomic UPSERT per key (which SQLite and PostgreSQL
    /// both serialise on the row), so N parallel guesses get N different counts and
    /// only the free ones go on to the password check; the others are refused as
    /// throttled. An attempt refused on one key is taken back from the keys that had
    /// counted it. After a successful sign-in, [`Store::login_succeeded`] takes the
    /// attempt back.
    pub async fn begin_login_attempt(&self, keys: &[ThrottleKey]) -> Result<Attempt, StoreError> {
        let now = self.now_ms();
        if rand::random::<u8>() < 3 {
            self.prune_login_failures(now).await?;
        }
        let mut counted: Vec<(ThrottleKey, i64)> = Vec::with_capacity(keys.len());
        for k in keys {
            let free = k.free_failures();
            let count = format!(
                "(CASE WHEN login_failures.last_failure_at <= {forget} THEN 1 ELSE login_failures.failures + 1 END)",
                forget = now - FORGET_AFTER_MS
            );
            let sql = format!(
                "INSERT INTO login_failures (throttle_key, failures, last_failure_at, locked_until) VALUES ($1, 1, $2, $3) \
                 ON CONFLICT (throttle_key) DO UPDATE SET failures = {count}, last_failure_at = $2, locked_until = {lock} \
                 WHERE login_failures.locked_until <= $2 RETURNING failures",
                lock = lock_expression(&count, free, now),
            );
            let row = sqlx::query(&sql)
                .bind(k.stored())
                .bind(now)
                // Unlocked is 0, never `now`: an attempt whose clock read came a moment
                // earlier would otherwise find this key locked until `now` and be refused.
                .bind(match wait_ms(1, free) {
                    0 => 0,
                    wait => now + wait,
                })
                .fetch_optional(self.pool())
                .await?;
            let Some(row) = row else {
                for (c, n) in &counted {
                    self.take_back_attempt(c, *n).await?;
                }
                let wait = self.login_locked(std::slice::from_ref(k)).await?.unwrap_or(1);
                return Ok(Attempt::Locked(wait));
            };
            counted.push((k.clone(), get_i64(&row, "failures")?));
        }
        Ok(Attempt::Counted(Counted { keys: counted }))
    }

    /// After a successful sign-in: the account's failures are forgotten, and the
    /// attempt counted against the other keys (the client address) is taken back.
    pub async fn login_succeeded(&self, attempt: &Counted) -> Result<(), StoreError> {
        for (k, n) in &attempt.keys {
            match k {
                ThrottleKey::Account(_) => self.clear_login_failures(k).await?,
                ThrottleKey::Address(_) => self.take_back_attempt(k, *n).await?,
            }
        }
        Ok(())
    }

    /// Uncounts one attempt that had brought the key to `count`. The key's lock is
    /// lifted when fewer than its free failures remain, or when this attempt was the
    /// last one counted (then it set the lock itself: while a key is locked, no later
    /// attempt is counted).
    async fn take_back_attempt(&self, k: &ThrottleKey, count: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE login_failures SET failures = failures - 1, \
             locked_until = CASE WHEN failures - 1 < $2 OR failures = $3 THEN 0 ELSE locked_until END \
             WHERE throttle_key = $1 AND failures > 0",
        )
        .bind(k.stored())
        .bind(k.free_failures())
        .bind(count)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Milliseconds until any of `keys` may try again, or None if none is locked.
    pub async fn login_locked(&self, keys: &[ThrottleKey]) -> Result<Option<i64>, StoreError> {
        let now = self.now_ms();
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

    /// Deletes the rows of keys whose failures are forgotten and that are not locked.
    pub async fn prune_login_failures(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM login_failures WHERE last_failure_at <= $1 AND locked_until <= $2")
            .bind(now - FORGET_AFTER_MS)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
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

    #[test]
    fn the_lock_expression_follows_the_back_off() {
        let sql = lock_expression("n", 5, 1000);
        assert!(sql.starts_with("CASE WHEN n < 5 THEN 0 WHEN n = 5 THEN 31000 WHEN n = 6 THEN 61000"), "{sql}");
        assert!(sql.ends_with(&format!("ELSE {} END", 1000 + MAX_WAIT_MS)), "{sql}");
        assert!(!sql.contains(&format!("THEN {}", 1000 + 2 * MAX_WAIT_MS)), "{sql}");
    }
}
