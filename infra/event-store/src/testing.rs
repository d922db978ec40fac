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

/// The head of the log once every event committed so far has settled.
///
/// [`GlobalLog::head`] is the last *settled* event: a transaction still running anywhere in the
/// Postgres cluster (another test's, in another database) holds the horizon back, and events
/// committed after it are not part of the head yet. A test that runs a projector "up to the
/// head" right after writing must wait for this, or it stops short of its own last events.
pub async fn settled_head(log: &crate::GlobalLog) -> anyhow::Result<crate::LogPosition> {
    let give_up = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let head = log.head().await?;
        if !log.held_back(head).await? {
            return Ok(head);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < give_up,
            "committed events stayed unsettled behind {head} for 60 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The statements readers repeat while they follow the log, with their names, for checking
/// their plans (`tests/global_log.rs`). Parameters: `$1` tx (bigint), `$2` position (bigint),
/// `$3` a limit (bigint), `$4` aggregate types (text[]).
pub fn tail_queries() -> [(&'static str, &'static str); 6] {
    [
        ("read_after", crate::log::READ_AFTER.as_str()),
        (
            "read_after of types",
            crate::log::READ_AFTER_OF_TYPES.as_str(),
        ),
        ("held_back", crate::log::HELD_BACK),
        ("lag", crate::log::LAG.as_str()),
        ("head", crate::log::HEAD),
        ("contains", crate::log::CONTAINS),
    ]
}
