//! For tests of this crate and the crates above it: a throw-away, migrated event store
//! database on the real Postgres server.

use std::time::Duration;

use sqlx::migrate::MigrateDatabase;
use sqlx::Postgres;

use crate::store::{create_database_if_missing, StoreOptions};
use crate::EventStore;

/// The URL of a server the tests use, from the environment variable `var`. `infra/test` sets
/// them (`TEST_POSTGRES_URL`, `TEST_MYSQL_URL`, `TEST_REDIS_URL`) to the servers `infra/up`
/// runs or the ones configured; in a shell, `eval "$(infra/up)"` does the same.
///
/// # Panics
/// When `var` is not set: there is no server a test could assume.
pub fn server_url(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run the tests with infra/test, or `eval \"$(infra/up)\"` first")
    })
}

/// The Postgres server tests use (`TEST_POSTGRES_URL`), without a database name.
pub fn postgres_server_url() -> String {
    server_url("TEST_POSTGRES_URL")
}

/// The MariaDB server tests use (`TEST_MYSQL_URL`), without a database name.
pub fn mysql_server_url() -> String {
    server_url("TEST_MYSQL_URL")
}

/// The Redis server tests use (`TEST_REDIS_URL`).
pub fn redis_url() -> String {
    server_url("TEST_REDIS_URL")
}

/// A fresh, migrated event store database, dropped by [`TestEventStore::drop_database`].
pub struct TestEventStore {
    pub url: String,
    pub store: EventStore,
}

impl TestEventStore {
    pub async fn create() -> anyhow::Result<Self> {
        Self::create_with(StoreOptions::default().with_max_connections(20)).await
    }

    pub async fn create_with(options: StoreOptions) -> anyhow::Result<Self> {
        let name = format!("shopcore_test_{}", uuid::Uuid::new_v4().simple());
        let url = format!("{}/{name}", postgres_server_url());
        create_database_if_missing(&url).await?;
        let store = EventStore::connect(&url, &options).await?;
        crate::schema::migrate(store.pool()).await?;
        Ok(Self { url, store })
    }

    pub async fn drop_database(self) -> anyhow::Result<()> {
        // Bounded: a connection held by an aborted task (a killed projector in a test) is never
        // returned, and `close` would wait for it forever. The forced drop ends it anyway.
        let _ = tokio::time::timeout(Duration::from_secs(5), self.store.pool().close()).await;
        Postgres::force_drop_database(&self.url).await?;
        Ok(())
    }
}

/// Appends one event as stored, around the domain and the append path: for tests that need an
/// event the domain would never write (a poison event, an unknown type). Returns its place and
/// id.
pub async fn insert_raw_event(
    pool: &sqlx::PgPool,
    aggregate_type: &str,
    aggregate_id: &str,
    sequence: i64,
    event_type: &str,
    payload: serde_json::Value,
) -> anyhow::Result<(crate::LogPosition, uuid::Uuid)> {
    let (tx, position, event_id): (i64, i64, uuid::Uuid) = sqlx::query_as(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ($1, $2, $3, $4, '1', $5, '{}'::jsonb)
         RETURNING tx_id::text::bigint, position, event_id",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(sequence)
    .bind(event_type)
    .bind(payload)
    .fetch_one(pool)
    .await?;
    Ok((
        crate::LogPosition::new(tx as u64, position as u64),
        event_id,
    ))
}
