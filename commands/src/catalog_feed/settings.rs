//! Settings of the catalog change feed (`shopcore-commands catalog-feed`), from flags or the
//! environment. The broker, registry and topic prefix are the relay's variables
//! (`KAFKA_BROKERS`, `SCHEMA_REGISTRY_URL`, `KAFKA_TOPIC_PREFIX`); the database is the
//! projector's (`COUCHDB_URL`, `COUCHDB_CATALOG_DB`).

use std::net::SocketAddr;

use shopcore_telemetry::process::redact_url;

use super::drift::DriftPolicy;
use crate::kafka::KafkaClientConfig;

/// Settings of `shopcore-commands catalog-feed`.
#[derive(Clone, clap::Args)]
pub struct CatalogFeedSettings {
    /// The CouchDB server of the catalog read model (credentials in the URL are sent as basic
    /// auth, never printed).
    #[arg(long, env = "COUCHDB_URL", default_value = "http://127.0.0.1:5984")]
    pub couchdb_url: String,
    /// The catalog database the projector writes.
    #[arg(long, env = "COUCHDB_CATALOG_DB", default_value = "shopcore_catalog")]
    pub catalog_db: String,
    /// Kafka bootstrap servers (comma-separated host:port).
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub kafka_brokers: String,
    /// Confluent-compatible schema registry.
    #[arg(
        long,
        env = "SCHEMA_REGISTRY_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    pub schema_registry_url: String,
    /// Prepended to every topic name (and so to the subject), e.g. `staging.`.
    #[arg(long, env = "KAFKA_TOPIC_PREFIX", default_value = "")]
    pub topic_prefix: String,
    /// Name of this feed's checkpoint, `_local/shopcore-catalog-feed-<name>` in the catalog
    /// database (with the topic prefix, if any). Run one feed per name.
    #[arg(long, env = "CATALOG_FEED_NAME", default_value = "kafka")]
    pub name: String,
    /// What happens to a document that cannot be encoded (a missing required field, a value of
    /// another type): `dead-letter` publishes its JSON to `catalog.product.document.v1.dlq`;
    /// `skip` leaves it out. Either way it is logged and counted, and the feed goes on.
    #[arg(long, env = "CATALOG_FEED_ON_DRIFT", value_enum, default_value_t = DriftPolicy::DeadLetter)]
    pub on_drift: DriftPolicy,
    /// Changes read and published per batch; the checkpoint moves once per batch.
    #[arg(long, env = "CATALOG_FEED_BATCH_SIZE", default_value_t = 200)]
    pub batch_size: u32,
    /// How long one long poll of `_changes` waits for a change, in milliseconds.
    #[arg(long, env = "CATALOG_FEED_POLL_TIMEOUT_MS", default_value_t = 10_000)]
    pub poll_timeout_ms: u64,
    /// Partitions of the topics the feed creates.
    #[arg(long, env = "CATALOG_FEED_TOPIC_PARTITIONS", default_value_t = 3)]
    pub topic_partitions: i32,
    /// Replication factor of the topics the feed creates.
    #[arg(long, env = "CATALOG_FEED_TOPIC_REPLICATION", default_value_t = 1)]
    pub topic_replication: i32,
    /// How long librdkafka keeps retrying a message before the batch fails and is retried from
    /// the checkpoint.
    #[arg(
        long,
        env = "CATALOG_FEED_DELIVERY_TIMEOUT_MS",
        default_value_t = 30_000
    )]
    pub delivery_timeout_ms: u64,
    /// Largest message the producer sends; a larger document is skipped, logged and counted.
    #[arg(
        long,
        env = "CATALOG_FEED_MESSAGE_MAX_BYTES",
        default_value_t = 1_000_000
    )]
    pub message_max_bytes: u32,
    /// Where `/metrics`, `/healthz` and `/readyz` are served (port 0 picks a free port).
    #[arg(
        long,
        env = "CATALOG_FEED_METRICS_ADDR",
        default_value = "127.0.0.1:9466"
    )]
    pub metrics_addr: SocketAddr,
}

impl std::fmt::Debug for CatalogFeedSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogFeedSettings")
            .field("couchdb_url", &redact_url(&self.couchdb_url))
            .field("catalog_db", &self.catalog_db)
            .field("kafka_brokers", &self.kafka_brokers)
            .field(
                "schema_registry_url",
                &redact_url(&self.schema_registry_url),
            )
            .field("topic_prefix", &self.topic_prefix)
            .field("name", &self.name)
            .field("on_drift", &self.on_drift)
            .field("batch_size", &self.batch_size)
            .field("poll_timeout_ms", &self.poll_timeout_ms)
            .field("metrics_addr", &self.metrics_addr)
            .finish_non_exhaustive()
    }
}

impl CatalogFeedSettings {
    /// The id of the checkpoint's `_local` document (without `_local/`): the feed name, plus
    /// the topic prefix when there is one (another prefix is another destination).
    pub fn checkpoint_id(&self) -> String {
        if self.topic_prefix.is_empty() {
            format!("shopcore-catalog-feed-{}", self.name)
        } else {
            format!("shopcore-catalog-feed-{}@{}", self.name, self.topic_prefix)
        }
    }

    /// How the feed's producer and admin client reach the broker.
    pub fn kafka_client(&self) -> KafkaClientConfig {
        KafkaClientConfig {
            brokers: self.kafka_brokers.clone(),
            client_id: format!("shopcore-catalog-feed-{}", self.name),
            topic_partitions: self.topic_partitions,
            topic_replication: self.topic_replication,
            delivery_timeout_ms: self.delivery_timeout_ms,
            message_max_bytes: self.message_max_bytes,
        }
    }

    /// Settings for local servers, as tests use them: short polls, port 0 for the endpoints.
    pub fn local(
        couchdb_url: &str,
        catalog_db: &str,
        kafka_brokers: &str,
        schema_registry_url: &str,
        topic_prefix: &str,
    ) -> Self {
        Self {
            couchdb_url: couchdb_url.into(),
            catalog_db: catalog_db.into(),
            kafka_brokers: kafka_brokers.into(),
            schema_registry_url: schema_registry_url.into(),
            topic_prefix: topic_prefix.into(),
            name: "kafka".into(),
            on_drift: DriftPolicy::DeadLetter,
            batch_size: 200,
            poll_timeout_ms: 200,
            topic_partitions: 3,
            topic_replication: 1,
            delivery_timeout_ms: 30_000,
            message_max_bytes: 1_000_000,
            metrics_addr: "127.0.0.1:0".parse().expect("valid address"),
        }
    }
}
