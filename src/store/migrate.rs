//! Versioned migrations from `migrations/`, embedded at build time so a deployed binary
//! carries its schema. Each runs in its own transaction and is recorded in
//! `schema_migrations`; a database newer than the binary is refused.

use super::{Backend, Store, StoreError};
use sqlx::Row;

/// (version, name, SQL), in order.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "merchants_invoices", include_str!("../../migrations/0001_merchants_invoices.sql")),
    (2, "transactions", include_str!("../../migrations/0002_transactions.sql")),
    (3, "notifications", include_str!("../../migrations/0003_notifications.sql")),
    (4, "invoice_code_lookup", include_str!("../../migrations/0004_invoice_code_lookup.sql")),
    (5, "calls_operator_keys", include_str!("../../migrations/0005_calls_operator_keys.sql")),
    (6, "cash_operations_duplicates", include_str!("../../migrations/0006_cash_operations_duplicates.sql")),
    (7, "users_sessions", include_str!("../../migrations/0007_users_sessions.sql")),
    (8, "invoice_notifications", include_str!("../../migrations/0008_invoice_notifications.sql")),
    (9, "cash_operation_log", include_str!("../../migrations/0009_cash_operation_log.sql")),
];

/// Applies what is missing.
pub async fn run(store: &Store) -> Result<(), StoreError> {
    let mut conn = store.pool.acquire().await?;
    if store.backend == Backend::Postgres {
        // Several nodes may start at once against one database.
        sqlx::query("SELECT pg_advisory_lock(7411907)").execute(&mut *conn).await?;
    }
    let result = apply(&mut conn, store.now_ms()).await;
    if store.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_unlock(7411907)").execute(&mut *conn).await?;
    }
    result
}

async fn apply(conn: &mut sqlx::AnyConnection, now: i64) -> Result<(), StoreError> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    let rows = sqlx::query("SELECT version FROM schema_migrations").fetch_all(&mut *conn).await?;
    let applied = rows.iter().map(|r| r.try_get::<i64, _>("version")).collect::<Result<Vec<_>, _>>()?;
    let current = applied.iter().copied().max().unwrap_or(0);
    let latest = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if current > latest {
        return Err(StoreError::Corrupt {
            column: "schema_migrations.version",
            value: format!("{current} is newer than this binary ({latest})"),
        });
    }
    // Every version not yet applied, not only those above the highest: numbers are
    // reserved per branch, so a lower one (e.g. 5) may arrive after a higher one (6).
    for &(version, name, sql) in MIGRATIONS.iter().filter(|m| !applied.contains(&m.0)) {
        let fail = |source| StoreError::Migration { version, name, source };
        let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(fail)?;
        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(fail)?;
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(version)
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        tracing::info!(version, name, "database migrated");
    }
    Ok(())
}
