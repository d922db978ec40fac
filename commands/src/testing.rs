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

/// One message read back from Kafka.
#[derive(Debug, Clone)]
pub struct Consumed {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: String,
    pub payload: Vec<u8>,
    pub headers: std::collections::HashMap<String, String>,
}

impl Consumed {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// Reads `topics` (partitions `0..partitions`) from the beginning until at least `expected`
/// messages arrived and then `quiet` passed without another one (so duplicates would show), or
/// `timeout` passed.
pub async fn consume(
    brokers: &str,
    topics: &[String],
    partitions: i32,
    expected: usize,
    quiet: std::time::Duration,
    timeout: std::time::Duration,
) -> anyhow::Result<Vec<Consumed>> {
    use rdkafka::consumer::{Consumer as _, StreamConsumer};
    use rdkafka::message::{Headers as _, Message as _};
    use rdkafka::{ClientConfig, Offset, TopicPartitionList};

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set(
            "group.id",
            format!("shopcore-test-{}", uuid::Uuid::new_v4()),
        )
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    for topic in topics {
        for partition in 0..partitions {
            assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
        }
    }
    consumer.assign(&assignment)?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut messages = Vec::new();
    loop {
        let wait = if messages.len() >= expected {
            quiet
        } else {
            deadline.saturating_duration_since(tokio::time::Instant::now())
        };
        let message = match tokio::time::timeout(wait, consumer.recv()).await {
            Err(_) => break,
            Ok(message) => message?,
        };
        let headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .filter_map(|h| {
                        Some((
                            h.key.to_owned(),
                            String::from_utf8_lossy(h.value?).into_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        messages.push(Consumed {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            key: String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
            payload: message.payload().unwrap_or_default().to_vec(),
            headers,
        });
        if tokio::time::Instant::now() >= deadline {
            break;
        }
    }
    Ok(messages)
}
