//! Helpers for tests of this crate and the crates above it: a throw-away event store database
//! on the real Postgres server.

use sqlx::migrate::MigrateDatabase;
use sqlx::Postgres;

use crate::event_store::EventStore;

/// The Postgres server tests use: `TEST_DATABASE_URL`'s server, else the local default.
pub fn postgres_server_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A fresh, migrated event store database, dropped by [`TestEventStore::drop_database`].
pub struct TestEventStore {
    pub url: String,
    pub store: EventStore,
}

impl TestEventStore {
    pub async fn create() -> anyhow::Result<Self> {
        let name = format!("shopcore_test_{}", uuid::Uuid::new_v4().simple());
        let url = format!("{}/{name}", postgres_server_url());
        let store = EventStore::connect(&url, 20).await?;
        Ok(Self { url, store })
    }

    pub async fn drop_database(self) -> anyhow::Result<()> {
        // Bounded: a connection held by an aborted task (a killed projector in a test) is never
        // returned, and `close` would wait for it forever. The forced drop ends it anyway.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.store.pool().close())
            .await;
        Postgres::force_drop_database(&self.url).await?;
        Ok(())
    }
}

/// The Kafka-compatible broker tests use (`infra/up` starts it).
pub fn kafka_brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_owned())
}

pub use crate::relay::consumer::{consume, Consumed};
