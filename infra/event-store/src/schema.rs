//! The event store's schema: its migrations, run by their one owner (the command service, or
//! `shopcore-commands migrate`), and the check every other process makes on start.
//!
//! A reader that finds the schema behind its build waits a little (the owner may be migrating
//! right now) and then fails with a message that says what to run; it never migrates itself.

use std::time::{Duration, Instant};

use sqlx::migrate::Migrator;
use sqlx::PgPool;

use crate::error::StoreError;

/// Migrations of the event store database (`infra/migrations/postgres`).
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

/// Runs the event store's migrations. Only the owner calls this.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// The newest migration this build knows.
pub fn expected_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The newest migration applied to the database (0 when none is).
pub async fn applied_version(pool: &PgPool) -> Result<i64, StoreError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(0);
    }
    let version: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await?;
    Ok(version.unwrap_or(0))
}

/// Waits up to `patience` for the schema to reach this build's version, then fails saying what
/// to run. A schema newer than the build is accepted (migrations only add), with a warning.
pub async fn check(pool: &PgPool, patience: Duration) -> Result<(), StoreError> {
    let expected = expected_version();
    let deadline = Instant::now() + patience;
    let mut logged = false;
    loop {
        let applied = applied_version(pool).await?;
        if applied >= expected {
            if applied > expected {
                tracing::warn!(
                    applied,
                    expected,
                    "the event store schema is newer than this build"
                );
            }
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(StoreError::Schema(format!(
                "the event store schema is at migration {applied}, this build needs {expected}: \
                 run `shopcore-commands migrate` (or start shopcore-commands, which migrates)"
            )));
        }
        if !logged {
            tracing::info!(applied, expected, "waiting for the event store migrations");
            logged = true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
