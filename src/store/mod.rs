//! Storage: one sqlx pool over SQLite (the embedded default, a file) or PostgreSQL
//! (shared by several ivrpay nodes), chosen by the URL. Queries are written once in
//! portable SQL through sqlx's `Any` driver; migrations are embedded in the binary and
//! applied at start, under an advisory lock on PostgreSQL so nodes starting together do
//! not race.
//!
//! The store keeps rows and queries only: the domain it stores (invoices, merchants,
//! transactions and their enums) is `payments`', and it implements the payments'
//! [`Ledger`](crate::payments::ledger::Ledger) trait (`store::ledger`). It depends on
//! payments, never the other way round; it must not know calls, SIP or HTTP.

pub mod calls;
pub mod cash;
pub mod duplicates;
pub mod invoices;
mod ledger;
pub mod login_throttle;
pub mod merchants;
mod migrate;
pub mod notification_log;
pub mod notifications;
pub mod operations_log;
pub mod operator_keys;
pub mod reports;
pub mod sessions;
pub mod transactions;
pub mod users;

use crate::payments::clock::{Clock, SystemClock};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::sync::Arc;
use std::time::Duration;

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is neither `sqlite:` nor `postgres:`.
    #[error("unsupported database URL '{0}': use a file path, sqlite://FILE or postgres://...")]
    BadUrl(String),
    /// The database refused or failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A migration failed; the database is left at the previous version.
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        /// Schema version the migration would have reached.
        version: i64,
        /// Its short name (the file name without number), to find the SQL file.
        name: &'static str,
        /// What the database said.
        source: sqlx::Error,
    },
    /// A unique constraint was hit (duplicate reference, code collision).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A row just written (or just recorded as existing) could not be read back: a
    /// concurrent delete, or a database that does not keep what it acknowledged. Named,
    /// so it is never mistaken for a unique-constraint conflict.
    #[error("{table} row {key} vanished after it was written")]
    Vanished {
        /// The table it was written to.
        table: &'static str,
        /// Its key (id or reference), to find it in the logs.
        key: String,
    },
    /// A merchant as given fails its checks (the error names the field).
    #[error("invalid merchant: {0}")]
    InvalidMerchant(#[from] crate::payments::merchant::MerchantError),
    /// A stored value could not be read back (corruption or a newer schema).
    #[error("invalid stored value in {column}: {value}")]
    Corrupt {
        /// Where the value came from, as `table.column`.
        column: &'static str,
        /// The value as read (or what is wrong with it), to see what wrote it.
        value: String,
    },
}

impl StoreError {
    /// Maps unique violations to `Conflict`, leaving other errors as they are.
    pub(crate) fn from_write(e: sqlx::Error) -> StoreError {
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(d.message().to_string()),
            _ => StoreError::Db(e),
        }
    }
}

/// Set on every SQLite connection: WAL lets the phone line read while the extranet
/// writes; the busy timeout turns lock contention into waiting instead of errors.
/// `synchronous = FULL`: in WAL mode NORMAL may lose the last commits on a power cut,
/// and the PENDING row written before an authorization is sent is exactly what must
/// survive one (exactly-once rests on it).
const SQLITE_PRAGMAS: [&str; 4] = [
    "PRAGMA journal_mode = WAL",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = FULL",
];

/// The database URL for `[storage] database`: a URL (`sqlite:...`, `postgres://...`)
/// as given, or a bare file path (`ivrpay.db`, `/var/lib/ivrpay/ivrpay.db`) as the
/// SQLite file it names. Another scheme is refused.
pub fn database_url(configured: &str) -> Result<String, StoreError> {
    let configured = configured.trim();
    let scheme = configured.split_once(':').map(|(s, _)| s).filter(|s| {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            && s.len() > 1
    });
    match scheme {
        Some("sqlite" | "postgres" | "postgresql") => Ok(configured.to_string()),
        Some(_) => Err(StoreError::BadUrl(configured.to_string())),
        None if configured.is_empty() => Err(StoreError::BadUrl(configured.to_string())),
        None => Ok(format!("sqlite://{configured}")),
    }
}

/// Connections to PostgreSQL: about two per core. Each is a server process; more of
/// them than the cores can run only queue in the scheduler, and the preemptions show
/// in the tail: at 1M invoices on 2 cores, 16 connections gave a lookup p99 near 2 ms,
/// 4 connections under 1 ms at the same throughput.
fn postgres_connections() -> u32 {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) as u32;
    (cores * 2).clamp(4, 16)
}

/// A pooled connection idle at least this long is checked before use.
const IDLE_CHECK_AFTER: Duration = Duration::from_secs(30);

/// Which engine is behind the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (WAL mode): one writer at a time, writers wait on the busy timeout.
    Sqlite,
    /// PostgreSQL: several nodes may share it, so migrations take an advisory lock.
    Postgres,
}

/// The database handle shared by the server, the extranet and the CLI.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The URL connected to, for [`Store::sibling`] pools.
    url: Arc<str>,
    /// Every instant the store writes or compares is read from this clock, so a test
    /// (or a job judging a run against one instant) decides what "now" is.
    clock: Arc<dyn Clock>,
}

impl Store {
    /// Connects and migrates. `url` may also be a bare SQLite file path
    /// ([`database_url`]). SQLite files are created if missing and run in WAL mode with
    /// a busy timeout, foreign keys on and full sync.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let url = database_url(url)?;
        let url = url.as_str();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::BadUrl(url.to_string()));
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_string(),
        };
        let connections = if backend == Backend::Sqlite { 8 } else { postgres_connections() };
        let pool = pool_options(backend, connections).connect(&url).await?;
        let store = Store { pool, backend, url: url.into(), clock: Arc::new(SystemClock) };
        migrate::run(&store).await?;
        Ok(store)
    }

    /// The same database through a pool of its own of `connections` connections, on the
    /// same clock: for a writer that must never take (or wait for) the connections of
    /// the others, such as the call records' writer beside payments. Not migrated again.
    pub async fn sibling(&self, connections: u32) -> Result<Store, StoreError> {
        let pool = pool_options(self.backend, connections.max(1)).connect(&self.url).await?;
        Ok(Store { pool, backend: self.backend, url: self.url.clone(), clock: self.clock.clone() })
    }

    /// The same database read and written against `clock` instead of the system's.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Store {
        self.clock = clock;
        self
    }

    /// Now, by the store's clock (UTC milliseconds, the stored form of every instant).
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The pool, for modules that run their own queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The engine in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection (tests and shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// How every pool of the store is set up: `connections` at most, SQLite's pragmas on
/// each new connection, and a check only of connections idle long enough to be cut.
fn pool_options(backend: Backend, connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(10))
        // sqlx pings every connection it hands out by default: on PostgreSQL a
        // second round trip per query, which doubled the phone line's lookup time
        // (p99 2.2-2.7 ms at 1M invoices, the query itself 0.1 ms). Only a connection
        // that sat idle long enough to have been cut (database restart, firewall) is
        // checked; a failed check drops it and another is used.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= IDLE_CHECK_AFTER {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    for pragma in SQLITE_PRAGMAS {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                }
                Ok(())
            })
        })
}

/// A random identifier with a readable prefix (`inv_3f9a...`).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{:016x}{:08x}", rand::random::<u64>(), rand::random::<u32>())
}

/// A fresh payment code drawn from the thread's generator (the payment rules take the
/// generator as an argument; the store is where IO and ambient randomness live). A
/// function, so the generator is never held across an await.
pub(crate) fn fresh_payment_code() -> String {
    crate::payments::invoice::new_payment_code(&mut rand::thread_rng())
}

pub(crate) fn get_str(row: &AnyRow, col: &str) -> Result<String, StoreError> {
    Ok(row.try_get::<String, _>(col)?)
}

pub(crate) fn get_opt_str(row: &AnyRow, col: &str) -> Result<Option<String>, StoreError> {
    Ok(row.try_get::<Option<String>, _>(col)?)
}

pub(crate) fn get_i64(row: &AnyRow, col: &str) -> Result<i64, StoreError> {
    Ok(row.try_get::<i64, _>(col)?)
}

/// Reads the text column named by `column` (`table.column`, kept for the error) and
/// parses it into its domain type: a value the parser does not know is
/// [`StoreError::Corrupt`], never a default.
pub(crate) fn parsed<T>(
    row: &AnyRow,
    column: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    let text = get_str(row, column.rsplit('.').next().unwrap_or(column))?;
    parse(&text).ok_or(StoreError::Corrupt { column, value: text })
}

/// As [`parsed`], for a nullable column.
pub(crate) fn opt_parsed<T>(
    row: &AnyRow,
    column: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, StoreError> {
    match get_opt_str(row, column.rsplit('.').next().unwrap_or(column))? {
        Some(text) => parse(&text).map(Some).ok_or(StoreError::Corrupt { column, value: text }),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_path_is_a_sqlite_file() {
        assert_eq!(database_url("ivrpay.db").unwrap(), "sqlite://ivrpay.db");
        assert_eq!(database_url("/var/lib/ivrpay/x.db").unwrap(), "sqlite:///var/lib/ivrpay/x.db");
        assert_eq!(database_url("./data/x.db").unwrap(), "sqlite://./data/x.db");
        assert_eq!(database_url("sqlite://a.db").unwrap(), "sqlite://a.db");
        assert_eq!(database_url("postgres://u@h/db").unwrap(), "postgres://u@h/db");
        assert!(matches!(database_url("mysql://h/db"), Err(StoreError::BadUrl(_))));
        assert!(matches!(database_url(" "), Err(StoreError::BadUrl(_))));
    }

    #[tokio::test]
    async fn a_file_path_opens_with_full_sync() {
        let file =
            std::env::temp_dir().join(format!("ivrpay-path-{}-{}.db", std::process::id(), rand::random::<u32>()));
        let store = Store::open(file.to_str().unwrap()).await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
        let row = sqlx::query("PRAGMA synchronous").fetch_one(store.pool()).await.unwrap();
        // 2 = FULL (1 = NORMAL).
        assert_eq!(sqlx::Row::try_get::<i64, _>(&row, 0).unwrap(), 2);
        store.close().await;
        assert!(file.exists(), "the file named was created");
        let _ = std::fs::remove_file(&file);
        let _ = std::fs::remove_file(format!("{}-wal", file.display()));
        let _ = std::fs::remove_file(format!("{}-shm", file.display()));
    }
}
