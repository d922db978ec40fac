//! The Kafka side every publisher of this crate shares (the relay and the catalog change
//! feed): an idempotent producer that can be replaced after a failed batch, topic creation,
//! handing a record to the producer when its queue is full, and librdkafka's logs in
//! `tracing`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::ToBytes;
use rdkafka::producer::ProducerContext;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _, PurgeConfig};
use rdkafka::util::Timeout;

/// How a publisher reaches the broker and makes its topics.
#[derive(Clone, Debug)]
pub struct KafkaClientConfig {
    /// Bootstrap servers, comma-separated host:port.
    pub brokers: String,
    /// `client.id`, which names the publisher in the broker's logs.
    pub client_id: String,
    /// Partitions of topics this publisher creates.
    pub topic_partitions: i32,
    /// Replication factor of topics this publisher creates.
    pub topic_replication: i32,
    /// How long librdkafka retries a message before its delivery fails.
    pub delivery_timeout_ms: u64,
    /// Largest message the producer sends (`message.max.bytes`).
    pub message_max_bytes: u32,
}

/// Routes librdkafka's logs and errors to `tracing`.
#[derive(Clone, Default)]
pub struct LoggingContext;

impl ClientContext for LoggingContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => tracing::error!(facility, "librdkafka: {message}"),
            RDKafkaLogLevel::Warning => tracing::warn!(facility, "librdkafka: {message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(facility, "librdkafka: {message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(facility, "librdkafka: {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // Broker connection errors are retried by librdkafka; they show up here and as failed
        // deliveries once the delivery timeout passes.
        tracing::warn!(%error, reason, "kafka client error");
    }
}

impl ProducerContext for LoggingContext {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &rdkafka::message::DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}

/// The producer type publishers use.
pub type Publisher = FutureProducer<LoggingContext>;

fn base_config(config: &KafkaClientConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", &config.brokers)
        .set("client.id", &config.client_id)
        // Short reconnect backoff: an outage ends as soon as the broker is back.
        .set("reconnect.backoff.ms", "100")
        .set("reconnect.backoff.max.ms", "2000");
    client
}

/// An idempotent producer with `acks=all`: per partition, in order, without duplicates from
/// its own retries.
pub fn producer(config: &KafkaClientConfig) -> Result<Publisher, KafkaError> {
    base_config(config)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("max.in.flight.requests.per.connection", "5")
        .set("message.timeout.ms", config.delivery_timeout_ms.to_string())
        .set("message.max.bytes", config.message_max_bytes.to_string())
        // Publishers wait for each batch's acknowledgements before reading the next one, so
        // lingering adds straight to every batch: 1 ms instead of librdkafka's 5 ms took the
        // relay from 22.5 K to 32.5 K events/s at batch 500 (benches/relay_throughput.rs).
        .set("linger.ms", "1")
        .create_with_context(LoggingContext)
}

/// A producer that is replaced after a failed batch. The batch is sent again from the
/// checkpoint, so the old producer's queue is purged, and the new producer starts a fresh
/// idempotent session: a broker that restarted or lost the old session's state (sequence
/// numbers, producer epoch) cannot reject the retry as out of sequence.
pub struct ReplaceableProducer {
    config: KafkaClientConfig,
    current: Mutex<Arc<Publisher>>,
}

impl ReplaceableProducer {
    pub fn new(config: KafkaClientConfig) -> Result<Self, KafkaError> {
        let current = Mutex::new(Arc::new(producer(&config)?));
        Ok(Self { config, current })
    }

    /// The producer to send with now.
    pub fn get(&self) -> Arc<Publisher> {
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the producer (see the type's documentation); keeps the old one if a new one
    /// cannot be made.
    pub fn replace(&self) {
        match producer(&self.config) {
            Ok(fresh) => {
                let old = std::mem::replace(
                    &mut *self
                        .current
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                    Arc::new(fresh),
                );
                old.purge(PurgeConfig::default().queue().inflight());
            }
            Err(error) => {
                tracing::warn!(%error, "could not create a new producer; keeping the old one")
            }
        }
    }

    /// Sends what is queued, waiting at most `timeout` (on shutdown).
    pub fn flush(&self, timeout: Duration) {
        let _ = self.get().flush(timeout);
    }
}

/// Hands `record` to the producer; while its local queue is full, lets librdkafka send some
/// of it first.
pub async fn enqueue<K, P>(
    producer: &Publisher,
    mut record: FutureRecord<'_, K, P>,
) -> Result<DeliveryFuture, KafkaError>
where
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
{
    loop {
        match producer.send_result(record) {
            Ok(delivery) => return Ok(delivery),
            Err((e, returned))
                if matches!(e.rdkafka_error_code(), Some(RDKafkaErrorCode::QueueFull)) =>
            {
                record = returned;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// Waits for the broker's acknowledgement of one message.
pub async fn delivered(delivery: DeliveryFuture) -> Result<(), KafkaError> {
    match delivery.await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((e, _))) => Err(e),
        Err(_) => Err(KafkaError::Canceled),
    }
}

/// Creates the topics that do not exist yet.
pub async fn ensure_topics(
    config: &KafkaClientConfig,
    topics: &[String],
) -> Result<(), KafkaError> {
    let admin: AdminClient<LoggingContext> =
        base_config(config).create_with_context(LoggingContext)?;
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|name| {
            NewTopic::new(
                name,
                config.topic_partitions,
                TopicReplication::Fixed(config.topic_replication),
            )
        })
        .collect();
    let options = AdminOptions::new()
        .request_timeout(Some(Timeout::After(Duration::from_secs(10))))
        .operation_timeout(Some(Timeout::After(Duration::from_secs(10))));
    for result in admin.create_topics(&new_topics, &options).await? {
        match result {
            Ok(topic) => {
                tracing::info!(topic, partitions = config.topic_partitions, "topic created")
            }
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::AdminOp(code)).inspect_err(|_| {
                    tracing::warn!(topic, ?code, "topic creation failed");
                })
            }
        }
    }
    Ok(())
}

/// Whether a produce error is about this message's size (retrying cannot help).
pub fn too_large(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::MessageSizeTooLarge)
    )
}

/// A schema registry client that encodes values (Confluent wire format, topic-name strategy
/// subjects) and registers their schemas on first use.
pub fn avro_encoder(
    schema_registry_url: &str,
) -> anyhow::Result<schema_registry_converter::async_impl::avro::AvroEncoder> {
    let settings = schema_registry_converter::async_impl::schema_registry::SrSettings::new_builder(
        schema_registry_url.to_owned(),
    )
    .set_timeout(Duration::from_secs(10))
    .build()
    .map_err(|e| anyhow::anyhow!("schema registry settings: {e}"))?;
    Ok(schema_registry_converter::async_impl::avro::AvroEncoder::new(settings))
}

/// Registers the schema of `strategy` (a `TopicNameStrategyWithSchema`), returning its
/// subject and id. Errors the registry reported before (an incompatible schema, say) are
/// forgotten first, so that a retry asks again.
pub async fn register(
    encoder: &schema_registry_converter::async_impl::avro::AvroEncoder,
    strategy: &schema_registry_converter::schema_registry_common::SubjectNameStrategy,
) -> Result<(String, u32), String> {
    encoder.remove_errors_from_cache();
    let subject = strategy.get_subject().map_err(|e| e.to_string())?;
    let schema = encoder
        .get_schema_and_id(&subject, strategy.clone())
        .await
        .map_err(|e| format!("registering {subject}: {e}"))?;
    Ok((subject, schema.id))
}
