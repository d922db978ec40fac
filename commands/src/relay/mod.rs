//! The Kafka relay: publishes every stored event, in log order, Avro-encoded with schema
//! registry ids.
//!
//! The event store is the outbox. The relay is one more checkpointed subscriber of the global
//! log: it reads a batch after its checkpoint, publishes it with an idempotent producer
//! (`acks=all`, key = aggregate id, so one aggregate's events on one topic stay in order), waits
//! for every acknowledgement and only then moves the checkpoint, to the last event of the
//! acknowledged prefix. A crash or broker outage therefore repeats at most the unacknowledged
//! tail (at-least-once: consumers drop duplicates by the `event_id` header) and never loses an
//! event.
//!
//! Failures are of two kinds:
//! - transient (broker or registry unreachable, delivery timeout, store error): the batch is
//!   retried from the checkpoint with exponential backoff (100 ms doubling to 30 s);
//! - permanent, tied to one event (no topic or schema for its type, a payload that is not a
//!   domain event, a message over the size limit): the relay publishes what precedes it, moves
//!   the checkpoint there and halts, naming the event in the logs, in `/readyz` and in the
//!   `shopcore_relay_halted` metric. Skipping it would lose it; a fix and a restart go on.
//!
//! Relays with the same name take turns through a Postgres advisory lock, so a second one is a
//! hot standby rather than a source of duplicates.
//!
//! The loop itself (listen, read, back off, halt) is the event store's one tail loop,
//! [`shopcore_event_store::tail::TailLoop`]; this module is the [`LogConsumer`] it drives.

pub mod consumer;
mod metrics;
pub mod server;
pub mod settings;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use schema_registry_converter::async_impl::avro::AvroEncoder;
use schema_registry_converter::schema_registry_common::{
    SchemaType, SubjectNameStrategy, SuppliedSchema,
};
use shopcore_event_schemas::{headers, EventEnvelope, EventSchemas};
use shopcore_event_store::tail::{LogConsumer, SharedStatus, TailError, TailLoop, TailState};
use shopcore_event_store::{GlobalLog, LogPosition, StoredEvent};
use sqlx::{Connection as _, PgConnection};
use tokio::sync::watch;
use tracing::Instrument as _;

use crate::kafka::{self, ReplaceableProducer};

pub use settings::RelaySettings;

/// A topic as the relay publishes it.
struct Route {
    topic: String,
    strategy: SubjectNameStrategy,
}

/// The relay: the consumer and the tail loop that drives it.
pub struct Relay {
    publisher: Arc<Publisher>,
    tail: TailLoop,
}

impl Relay {
    pub fn new(settings: RelaySettings, log: GlobalLog) -> anyhow::Result<Self> {
        let batch_size = settings.batch_size;
        let publisher = Arc::new(Publisher::new(settings, log.clone())?);
        let tail = TailLoop::new(log, publisher.clone(), batch_size, metrics::tail_metrics());
        Ok(Self { publisher, tail })
    }

    /// The relay's state, checkpoint and lag, for health endpoints and tests.
    pub fn status(&self) -> SharedStatus {
        self.tail.status()
    }

    /// What the relay is doing now.
    pub fn state(&self) -> TailState {
        self.tail
            .status()
            .read()
            .expect("status lock")
            .state
            .clone()
    }

    /// The Kafka topic names (with prefix) the relay publishes to.
    pub fn topics(&self) -> Vec<String> {
        self.publisher.topics()
    }

    /// Publishes the next batch (becoming the leader and preparing topics and schemas first when
    /// needed), for tests and benchmarks.
    pub async fn step(
        &self,
    ) -> Result<shopcore_event_store::tail::Step, shopcore_event_store::tail::StepError> {
        self.tail.step().await
    }

    /// Runs until `shutdown` turns true. See the module documentation for the failure policy.
    pub async fn run(&self, shutdown: watch::Receiver<bool>) {
        tracing::info!(relay = %self.publisher.settings.name, topics = ?self.topics(), "relay starting");
        self.tail.run(shutdown).await;
        self.publisher.release_leadership().await;
        self.publisher.producer.flush(Duration::from_secs(5));
        tracing::info!(relay = %self.publisher.settings.name, "relay stopped");
    }
}

/// Publishes batches of the log to Kafka; the [`LogConsumer`] of the relay.
struct Publisher {
    settings: RelaySettings,
    log: GlobalLog,
    schemas: &'static EventSchemas,
    /// Replaced after a failed batch (see [`ReplaceableProducer`]).
    producer: ReplaceableProducer,
    encoder: AvroEncoder,
    routes: HashMap<&'static str, Route>,
    /// The connection holding the leadership lock, while this relay is the active one.
    leader: tokio::sync::Mutex<Option<PgConnection>>,
    /// Topics exist and schemas are registered.
    prepared: AtomicBool,
}

/// The key of the advisory lock that makes one relay of a name the leader.
const LOCK_NAMESPACE: i32 = 0x5245_4c59; // "RELY"

impl Publisher {
    fn new(settings: RelaySettings, log: GlobalLog) -> anyhow::Result<Self> {
        let schemas = EventSchemas::embedded()?;
        let producer = ReplaceableProducer::new(settings.kafka_client())?;
        let encoder = kafka::avro_encoder(&settings.schema_registry_url)?;
        let routes = schemas
            .topics()
            .iter()
            .map(|topic| {
                let name = format!("{}{}", settings.topic_prefix, topic.spec.topic);
                let supplied =
                    SuppliedSchema::new(None, SchemaType::Avro, topic.schema_json.clone());
                let strategy =
                    SubjectNameStrategy::TopicNameStrategyWithSchema(name.clone(), false, supplied);
                (
                    topic.spec.topic,
                    Route {
                        topic: name,
                        strategy,
                    },
                )
            })
            .collect();
        Ok(Self {
            settings,
            log,
            schemas,
            producer,
            encoder,
            routes,
            leader: tokio::sync::Mutex::new(None),
            prepared: AtomicBool::new(false),
        })
    }

    /// The Kafka topic names (with prefix) the relay publishes to.
    pub fn topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self.routes.values().map(|r| r.topic.clone()).collect();
        topics.sort();
        topics
    }

    /// Creates missing topics and registers every topic's value schema.
    pub async fn prepare(&self) -> Result<(), TailError> {
        kafka::ensure_topics(&self.settings.kafka_client(), &self.topics())
            .await
            .map_err(|e| TailError::transient("broker", format!("creating topics: {e}")))?;
        for route in self.routes.values() {
            let (subject, schema_id) = kafka::register(&self.encoder, &route.strategy)
                .await
                .map_err(|e| TailError::transient("registry", e))?;
            tracing::info!(subject, schema_id, "schema registered");
        }
        Ok(())
    }

    /// Takes the leadership lock on a dedicated connection, or `None` when another relay of the
    /// Takes the leadership lock on a dedicated connection, or `None` when another relay of the
    /// same name holds it.
    async fn acquire_leadership(&self) -> Result<Option<PgConnection>, TailError> {
        let store = |e: sqlx::Error| TailError::transient("store", e);
        let mut connection = self.log.pool().acquire().await.map_err(store)?.detach();
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
            .bind(LOCK_NAMESPACE)
            .bind(self.settings.checkpoint_name())
            .fetch_one(&mut connection)
            .await
            .map_err(store)?;
        if !locked {
            let _ = connection.close().await;
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO relay_checkpoints (name, tx_id, position) VALUES ($1, 0, 0)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(self.settings.checkpoint_name())
        .execute(&mut connection)
        .await
        .map_err(store)?;
        Ok(Some(connection))
    }

    /// Gives the leadership up (on shutdown), so a standby takes over at once.
    async fn release_leadership(&self) {
        if let Some(connection) = self.leader.lock().await.take() {
            let _ = connection.close().await;
        }
    }

    /// events were acknowledged, and the first error.
    async fn publish(&self, events: &[StoredEvent]) -> (usize, Option<TailError>) {
        let mut deliveries = Vec::with_capacity(events.len());
        let mut error = None;
        for event in events {
            match self.send(event).await {
                Ok(delivery) => deliveries.push((event, delivery)),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let mut acked = 0;
        let mut failed = false;
        for (event, delivery) in deliveries {
            match kafka::delivered(delivery).await {
                Ok(()) => {
                    let topic = self.topic_label(event);
                    metrics::PUBLISHED.with_label_values(&[topic]).inc();
                    if !failed {
                        acked += 1;
                    }
                }
                Err(e) if !failed => {
                    failed = true;
                    error = Some(if kafka::too_large(&e) {
                        too_large(event, &e)
                    } else {
                        TailError::transient(
                            "broker",
                            format!(
                                "event {} at position {} not acknowledged: {e}",
                                event.event_id, event.position
                            ),
                        )
                    });
                }
                Err(_) => {}
            }
        }
        (acked, error)
    }

    fn topic_label(&self, event: &StoredEvent) -> &'static str {
        shopcore_event_schemas::topics::topic_of(&event.event_type).map_or("unknown", |t| t.topic)
    }

    /// Encodes one event and hands it to the producer.
    async fn send(
        &self,
        event: &StoredEvent,
    ) -> Result<rdkafka::producer::DeliveryFuture, TailError> {
        let envelope = EventEnvelope {
            event_id: event.event_id,
            aggregate_type: &event.aggregate_type,
            aggregate_id: &event.aggregate_id,
            sequence: event.sequence,
            event_type: &event.event_type,
            event_version: &event.event_version,
            recorded_at: event.recorded_at,
            payload: &event.payload,
        };
        let avro = self
            .schemas
            .to_avro(&envelope)
            .map_err(|e| TailError::Permanent {
                reason: e.reason(),
                message: format!("{e} (event {})", event.event_id),
            })?;
        let route = &self.routes[avro.topic];
        let payload = self
            .encoder
            .encode_value(avro.value, &route.strategy)
            .await
            .map_err(|e| {
                TailError::transient(
                    "registry",
                    format!("encoding event {}: {e}", event.event_id),
                )
            })?;
        let event_id = event.event_id.to_string();
        let schema_version = avro.schema_version.to_string();
        let sequence = event.sequence.to_string();
        let mut message_headers = OwnedHeaders::new_with_capacity(7)
            .insert(Header {
                key: headers::EVENT_ID,
                value: Some(&event_id),
            })
            .insert(Header {
                key: headers::EVENT_TYPE,
                value: Some(&event.event_type),
            })
            .insert(Header {
                key: headers::SCHEMA_VERSION,
                value: Some(&schema_version),
            })
            .insert(Header {
                key: headers::AGGREGATE_TYPE,
                value: Some(&event.aggregate_type),
            })
            .insert(Header {
                key: headers::SEQUENCE,
                value: Some(&sequence),
            });
        for (key, header) in [
            ("correlationId", headers::CORRELATION_ID),
            ("traceparent", headers::TRACEPARENT),
        ] {
            if let Some(value) = event.metadata_str(key) {
                message_headers = message_headers.insert(Header {
                    key: header,
                    value: Some(value),
                });
            }
        }
        let producer = self.producer.get();
        let record = FutureRecord::to(&route.topic)
            .key(&event.aggregate_id)
            .payload(&payload)
            .headers(message_headers);
        kafka::enqueue(&producer, record).await.map_err(|e| {
            if kafka::too_large(&e) {
                too_large(event, &e)
            } else {
                TailError::transient("broker", e)
            }
        })
    }
}

#[async_trait]
impl LogConsumer for Publisher {
    fn name(&self) -> &str {
        &self.settings.name
    }

    /// Becomes the leader (or reports standby), prepares topics and schemas once per
    /// leadership, and reads the checkpoint through the leader's connection.
    async fn checkpoint(&self) -> Result<LogPosition, TailError> {
        let mut leader = self.leader.lock().await;
        if leader.is_none() {
            match self.acquire_leadership().await? {
                Some(connection) => {
                    tracing::info!(relay = %self.settings.name, "relay active");
                    *leader = Some(connection);
                    self.prepared.store(false, Ordering::SeqCst);
                }
                None => return Err(TailError::Standby),
            }
        }
        if !self.prepared.load(Ordering::SeqCst) {
            self.prepare().await?;
            self.prepared.store(true, Ordering::SeqCst);
        }
        let connection = leader.as_mut().expect("leader connection");
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT tx_id, position FROM relay_checkpoints WHERE name = $1")
                .bind(self.settings.checkpoint_name())
                .fetch_optional(connection)
                .await
                .map_err(|e| TailError::transient("store", e))?;
        Ok(row.map_or(LogPosition::START, |(tx, position)| {
            LogPosition::new(tx as u64, position as u64)
        }))
    }

    /// Publishes the batch and moves the checkpoint past what the broker acknowledged.
    async fn apply(
        &self,
        checkpoint: LogPosition,
        events: &[StoredEvent],
    ) -> Result<(), TailError> {
        let started = Instant::now();
        let span = tracing::info_span!(
            "relay.batch",
            relay = %self.settings.name,
            events = events.len(),
            first_position = %events[0].log_position(),
            last_position = %events[events.len() - 1].log_position(),
        );
        for event in events {
            if let Some(traceparent) = event.metadata_str("traceparent") {
                shopcore_telemetry::link_traceparent(&span, traceparent);
            }
        }
        let (acked, error) = self.publish(events).instrument(span).await;
        metrics::BATCH_SECONDS.observe(started.elapsed().as_secs_f64());
        if acked > 0 {
            let new_checkpoint = events[acked - 1].log_position();
            let (old_tx, old_position) = checkpoint.as_i64();
            let (tx, position) = new_checkpoint.as_i64();
            let mut leader = self.leader.lock().await;
            let connection = leader
                .as_mut()
                .ok_or_else(|| TailError::transient("store", "lost the leader connection"))?;
            let moved = sqlx::query(
                "UPDATE relay_checkpoints SET tx_id = $4, position = $5, updated_at = now()
                 WHERE name = $1 AND tx_id = $2 AND position = $3",
            )
            .bind(self.settings.checkpoint_name())
            .bind(old_tx)
            .bind(old_position)
            .bind(tx)
            .bind(position)
            .execute(connection)
            .await
            .map_err(|e| TailError::transient("store", e))?;
            if moved.rows_affected() != 1 {
                return Err(TailError::transient(
                    "store",
                    "the checkpoint moved under this relay: another relay of the same name is running",
                ));
            }
        }
        match error {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    async fn recover(&self, error: &TailError) {
        match error.reason() {
            "broker" => self.producer.replace(),
            "registry" => self.prepared.store(false, Ordering::SeqCst),
            // The leader connection may be gone, and the lock with it.
            "store" | "event_store" => {
                if let Some(connection) = self.leader.lock().await.take() {
                    let _ = connection.close().await;
                }
            }
            _ => {}
        }
    }
}

fn too_large(event: &StoredEvent, error: &rdkafka::error::KafkaError) -> TailError {
    TailError::Permanent {
        reason: "message_too_large",
        message: format!(
            "event {} ({}) is larger than the message size limit: {error}",
            event.event_id, event.event_type
        ),
    }
}
