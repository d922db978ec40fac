//! Settings of the Kafka relay, from flags or the environment.

use std::net::SocketAddr;

/// Settings of `shopcore-commands relay`.
#[derive(Clone, Debug, clap::Args)]
pub struct RelaySettings {
    /// Kafka bootstrap servers (comma-separated host:port).
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub kafka_brokers: String,
    /// Confluent-compatible schema registry (Confluent, Apicurio, Karapace).
    #[arg(
        long,
        env = "SCHEMA_REGISTRY_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    pub schema_registry_url: String,
    /// Prepended to every topic name (and so to every subject), e.g. `staging.`.
    #[arg(long, env = "KAFKA_TOPIC_PREFIX", default_value = "")]
    pub topic_prefix: String,
    /// Name of this relay's checkpoint and leadership lock (with the topic prefix, if any);
    /// relays with one name take turns.
    #[arg(long, env = "RELAY_NAME", default_value = "kafka")]
    pub name: String,
    /// Events read and published per batch; the checkpoint moves once per batch.
    #[arg(long, env = "RELAY_BATCH_SIZE", default_value_t = 500)]
    pub batch_size: u32,
    /// Partitions of topics the relay creates.
    #[arg(long, env = "RELAY_TOPIC_PARTITIONS", default_value_t = 3)]
    pub topic_partitions: i32,
    /// Replication factor of topics the relay creates.
    #[arg(long, env = "RELAY_TOPIC_REPLICATION", default_value_t = 1)]
    pub topic_replication: i32,
    /// How long librdkafka keeps retrying a message before the batch fails and is retried from
    /// the checkpoint.
    #[arg(long, env = "RELAY_DELIVERY_TIMEOUT_MS", default_value_t = 30_000)]
    pub delivery_timeout_ms: u64,
    /// Largest message the producer sends (librdkafka `message.max.bytes`); keep it at or below
    /// the broker's limit. A larger event stops the relay, naming it.
    #[arg(long, env = "RELAY_MESSAGE_MAX_BYTES", default_value_t = 1_000_000)]
    pub message_max_bytes: u32,
    /// Where `/metrics`, `/healthz` and `/readyz` are served (port 0 picks a free port).
    #[arg(long, env = "RELAY_METRICS_ADDR", default_value = "127.0.0.1:9465")]
    pub metrics_addr: SocketAddr,
}

impl RelaySettings {
    /// The key of the checkpoint and leadership lock: the relay name, plus the topic prefix
    /// when there is one (another prefix is another destination, with its own progress).
    pub fn checkpoint_name(&self) -> String {
        if self.topic_prefix.is_empty() {
            self.name.clone()
        } else {
            format!("{}@{}", self.name, self.topic_prefix)
        }
    }

    /// How the relay's producer and admin client reach the broker.
    pub fn kafka_client(&self) -> crate::kafka::KafkaClientConfig {
        crate::kafka::KafkaClientConfig {
            brokers: self.kafka_brokers.clone(),
            client_id: format!("shopcore-relay-{}", self.name),
            topic_partitions: self.topic_partitions,
            topic_replication: self.topic_replication,
            delivery_timeout_ms: self.delivery_timeout_ms,
            message_max_bytes: self.message_max_bytes,
        }
    }

    /// Settings for a local broker and registry, as tests use them.
    pub fn local(kafka_brokers: &str, schema_registry_url: &str, topic_prefix: &str) -> Self {
        Self {
            kafka_brokers: kafka_brokers.into(),
            schema_registry_url: schema_registry_url.into(),
            topic_prefix: topic_prefix.into(),
            name: "kafka".into(),
            batch_size: 500,
            topic_partitions: 3,
            topic_replication: 1,
            delivery_timeout_ms: 30_000,
            message_max_bytes: 1_000_000,
            metrics_addr: "127.0.0.1:0".parse().expect("valid address"),
        }
    }
}
