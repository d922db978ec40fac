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

pub mod consumer;
mod kafka;
mod metrics;
pub mod server;
pub mod settings;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _, PurgeConfig};
use schema_registry_converter::async_impl::avro::AvroEncoder;
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use schema_registry_converter::schema_registry_common::{
    SchemaType, SubjectNameStrategy, SuppliedSchema,
};
use shopcore_event_schemas::{headers, EventEnvelope, EventSchemas};
use sqlx::{Connection as _, PgConnection};
use tokio::sync::watch;
use tracing::Instrument as _;

use crate::event_log::{GlobalLog, StoredEvent};
pub use settings::RelaySettings;

/// What the relay is doing, for `/readyz` and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayState {
    Starting,
    /// Another relay with the same name holds the lock.
    Standby,
    /// Caught up or publishing.
    Running,
    /// The last attempt failed; retrying.
    Retrying(String),
    /// Stopped at an event it cannot publish.
    Halted(String),
}

/// A failed batch or start-up.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("{message}")]
    Transient {
        reason: &'static str,
        message: String,
    },
    #[error("{message}")]
    Permanent {
        reason: &'static str,
        message: String,
    },
}

impl RelayError {
    fn transient(reason: &'static str, message: impl ToString) -> Self {
        Self::Transient {
            reason,
            message: message.to_string(),
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            Self::Transient { reason, .. } | Self::Permanent { reason, .. } => reason,
        }
    }
}

/// Result of one [`Relay::step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayStep {
    pub published: usize,
    pub checkpoint: u64,
}

/// A topic as the relay publishes it.
struct Route {
    topic: String,
    strategy: SubjectNameStrategy,
}

/// The relay; see the module documentation.
pub struct Relay {
    settings: RelaySettings,
    log: GlobalLog,
    schemas: &'static EventSchemas,
    /// Replaced after a failed batch (see [`Relay::reset_producer`]).
    producer: Mutex<Arc<FutureProducer<kafka::RelayContext>>>,
    encoder: AvroEncoder,
    routes: HashMap<&'static str, Route>,
    state: Arc<Mutex<RelayState>>,
}

/// The key of the advisory lock that makes one relay of a name the leader.
const LOCK_NAMESPACE: i32 = 0x5245_4c59; // "RELY"

impl Relay {
    pub fn new(settings: RelaySettings, log: GlobalLog) -> anyhow::Result<Self> {
        let schemas = EventSchemas::embedded()?;
        let producer = kafka::producer(&settings)?;
        let sr_settings = SrSettings::new_builder(settings.schema_registry_url.clone())
            .set_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| anyhow::anyhow!("schema registry settings: {e}"))?;
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
            producer: Mutex::new(Arc::new(producer)),
            encoder: AvroEncoder::new(sr_settings),
            routes,
            state: Arc::new(Mutex::new(RelayState::Starting)),
        })
    }

    fn producer(&self) -> Arc<FutureProducer<kafka::RelayContext>> {
        self.producer.lock().expect("producer lock").clone()
    }

    /// Replaces the producer after a failed batch. The batch is sent again from the checkpoint,
    /// so the old producer's queue is purged, and the new producer starts a fresh idempotent
    /// session: a broker that restarted or lost the old session's state (sequence numbers,
    /// producer epoch) cannot reject the retry as out of sequence.
    fn reset_producer(&self) {
        match kafka::producer(&self.settings) {
            Ok(fresh) => {
                let old = std::mem::replace(
                    &mut *self.producer.lock().expect("producer lock"),
                    Arc::new(fresh),
                );
                old.purge(PurgeConfig::default().queue().inflight());
            }
            Err(error) => {
                tracing::warn!(%error, "could not create a new producer; keeping the old one")
            }
        }
    }

    /// A handle on the relay's state, for health endpoints.
    pub fn state(&self) -> Arc<Mutex<RelayState>> {
        self.state.clone()
    }

    fn set_state(&self, state: RelayState) {
        *self.state.lock().expect("state lock") = state;
    }

    /// The Kafka topic names (with prefix) the relay publishes to.
    pub fn topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self.routes.values().map(|r| r.topic.clone()).collect();
        topics.sort();
        topics
    }

    /// Creates missing topics and registers every topic's value schema.
    pub async fn prepare(&self) -> Result<(), RelayError> {
        kafka::ensure_topics(&self.settings, &self.topics())
            .await
            .map_err(|e| RelayError::transient("broker", format!("creating topics: {e}")))?;
        // Errors the registry reported (an incompatible schema, say) are cached by the encoder;
        // forget them so a retry asks again.
        self.encoder.remove_errors_from_cache();
        for route in self.routes.values() {
            let subject = route
                .strategy
                .get_subject()
                .map_err(|e| RelayError::transient("registry", e))?;
            let schema = self
                .encoder
                .get_schema_and_id(&subject, route.strategy.clone())
                .await
                .map_err(|e| {
                    RelayError::transient("registry", format!("registering {subject}: {e}"))
                })?;
            tracing::info!(subject, schema_id = schema.id, "schema registered");
        }
        Ok(())
    }

    /// Takes the leadership lock on a dedicated connection, or `None` when another relay of the
    /// same name holds it.
    pub async fn acquire_leadership(&self) -> Result<Option<PgConnection>, RelayError> {
        let store = |e: sqlx::Error| RelayError::transient("store", e);
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
            "INSERT INTO relay_checkpoints (name, position) VALUES ($1, 0)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(self.settings.checkpoint_name())
        .execute(&mut connection)
        .await
        .map_err(store)?;
        Ok(Some(connection))
    }

    /// The relay's checkpoint.
    pub async fn checkpoint(&self, leader: &mut PgConnection) -> Result<u64, RelayError> {
        let position: Option<i64> =
            sqlx::query_scalar("SELECT position FROM relay_checkpoints WHERE name = $1")
                .bind(self.settings.checkpoint_name())
                .fetch_optional(leader)
                .await
                .map_err(|e| RelayError::transient("store", e))?;
        Ok(position.unwrap_or(0) as u64)
    }

    /// Publishes the next batch and moves the checkpoint past what the broker acknowledged.
    pub async fn step(&self, leader: &mut PgConnection) -> Result<RelayStep, RelayError> {
        let checkpoint = self.checkpoint(leader).await?;
        let events = self
            .log
            .read_after(checkpoint, self.settings.batch_size, None)
            .await
            .map_err(|e| RelayError::transient("store", e))?;
        if events.is_empty() {
            metrics::LAG.set(0);
            metrics::POSITION.set(i64::try_from(checkpoint).unwrap_or(i64::MAX));
            return Ok(RelayStep {
                published: 0,
                checkpoint,
            });
        }
        let started = Instant::now();
        let span = tracing::info_span!(
            "relay.batch",
            relay = %self.settings.name,
            events = events.len(),
            first_position = events[0].position,
            last_position = events[events.len() - 1].position,
        );
        for event in &events {
            if let Some(traceparent) = event.metadata_str("traceparent") {
                shopcore_telemetry::link_traceparent(&span, traceparent);
            }
        }
        let (acked, error) = self.publish(&events).instrument(span).await;
        metrics::BATCH_SECONDS.observe(started.elapsed().as_secs_f64());
        let mut new_checkpoint = checkpoint;
        if acked > 0 {
            new_checkpoint = events[acked - 1].position;
            let moved = sqlx::query(
                "UPDATE relay_checkpoints SET position = $3, updated_at = now()
                 WHERE name = $1 AND position = $2",
            )
            .bind(self.settings.checkpoint_name())
            .bind(checkpoint as i64)
            .bind(new_checkpoint as i64)
            .execute(&mut *leader)
            .await
            .map_err(|e| RelayError::transient("store", e))?;
            if moved.rows_affected() != 1 {
                return Err(RelayError::transient(
                    "store",
                    "the checkpoint moved under this relay: another relay of the same name is running",
                ));
            }
            metrics::POSITION.set(i64::try_from(new_checkpoint).unwrap_or(i64::MAX));
        }
        if let Ok(head) = self.log.head().await {
            metrics::LAG.set(head.saturating_sub(new_checkpoint) as i64);
        }
        match error {
            Some(error) => Err(error),
            None => Ok(RelayStep {
                published: acked,
                checkpoint: new_checkpoint,
            }),
        }
    }

    /// Sends `events` in order and waits for every acknowledgement. Returns how many leading
    /// events were acknowledged, and the first error.
    async fn publish(&self, events: &[StoredEvent]) -> (usize, Option<RelayError>) {
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
            let outcome = match delivery.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((e, _))) => Err(e),
                Err(_) => Err(rdkafka::error::KafkaError::Canceled),
            };
            match outcome {
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
                        RelayError::transient(
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
    ) -> Result<rdkafka::producer::DeliveryFuture, RelayError> {
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
            .map_err(|e| RelayError::Permanent {
                reason: e.reason(),
                message: format!("{e} (position {})", event.position),
            })?;
        let route = &self.routes[avro.topic];
        let payload = self
            .encoder
            .encode_value(avro.value, &route.strategy)
            .await
            .map_err(|e| {
                RelayError::transient(
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
        let producer = self.producer();
        let mut record = FutureRecord::to(&route.topic)
            .key(&event.aggregate_id)
            .payload(&payload)
            .headers(message_headers);
        loop {
            match producer.send_result(record) {
                Ok(delivery) => return Ok(delivery),
                Err((e, returned)) => {
                    if kafka::too_large(&e) {
                        return Err(too_large(event, &e));
                    }
                    if !matches!(
                        e.rdkafka_error_code(),
                        Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                    ) {
                        return Err(RelayError::transient("broker", e));
                    }
                    // The local queue is full: let librdkafka send some of it.
                    record = returned;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    }

    /// Runs until `shutdown` turns true. See the module documentation for the failure policy.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        let name = self.settings.name.clone();
        let mut backoff = Duration::from_millis(100);
        tracing::info!(relay = %name, topics = ?self.topics(), "relay starting");
        'session: while !*shutdown.borrow() {
            let mut leader = match self.acquire_leadership().await {
                Ok(Some(connection)) => connection,
                Ok(None) => {
                    if *self.state.lock().expect("state lock") != RelayState::Standby {
                        tracing::info!(relay = %name, "another relay of this name is active; standing by");
                    }
                    self.set_state(RelayState::Standby);
                    sleep_or_shutdown(Duration::from_secs(2), &mut shutdown).await;
                    continue;
                }
                Err(error) => {
                    self.fail(&error, &mut backoff, &mut shutdown).await;
                    continue;
                }
            };
            if let Err(error) = self.prepare().await {
                self.fail(&error, &mut backoff, &mut shutdown).await;
                continue;
            }
            tracing::info!(relay = %name, "relay active");
            self.set_state(RelayState::Running);
            let mut listener = None;
            while !*shutdown.borrow() {
                if listener.is_none() {
                    listener = self.log.listen().await.ok();
                }
                match self.step(&mut leader).await {
                    Ok(step) if step.published > 0 => {
                        backoff = Duration::from_millis(100);
                        self.set_state(RelayState::Running);
                        tracing::debug!(relay = %name, published = step.published, checkpoint = step.checkpoint, "batch published");
                    }
                    Ok(_) => {
                        backoff = Duration::from_millis(100);
                        self.set_state(RelayState::Running);
                        let wait = async {
                            match listener.as_mut() {
                                Some(listener) => {
                                    GlobalLog::wait_for_append(listener, Duration::from_secs(1))
                                        .await
                                }
                                None => tokio::time::sleep(Duration::from_millis(200)).await,
                            }
                        };
                        tokio::select! {
                            () = wait => {},
                            _ = shutdown.changed() => {},
                        }
                    }
                    Err(error @ RelayError::Permanent { .. }) => {
                        metrics::FAILURES.with_label_values(&[error.reason()]).inc();
                        metrics::HALTED.set(1);
                        tracing::error!(relay = %name, reason = error.reason(), error = %error, "relay halted: this event cannot be published; fix the cause and restart");
                        self.set_state(RelayState::Halted(error.to_string()));
                        while !*shutdown.borrow() {
                            if shutdown.changed().await.is_err() {
                                break;
                            }
                        }
                        break 'session;
                    }
                    Err(error) => {
                        let store_failed = error.reason() == "store";
                        if error.reason() == "broker" {
                            self.reset_producer();
                        }
                        self.fail(&error, &mut backoff, &mut shutdown).await;
                        listener = None;
                        if store_failed {
                            // The leader connection may be gone (and the lock with it).
                            continue 'session;
                        }
                    }
                }
            }
            let _ = leader.close().await;
        }
        let _ = self.producer().flush(Duration::from_secs(5));
        tracing::info!(relay = %name, "relay stopped");
    }

    async fn fail(
        &self,
        error: &RelayError,
        backoff: &mut Duration,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        metrics::FAILURES.with_label_values(&[error.reason()]).inc();
        tracing::warn!(relay = %self.settings.name, reason = error.reason(), error = %error, retry_in_ms = backoff.as_millis() as u64, "relay batch failed; retrying from the checkpoint");
        self.set_state(RelayState::Retrying(error.to_string()));
        sleep_or_shutdown(*backoff, shutdown).await;
        *backoff = (*backoff * 2).min(Duration::from_secs(30));
    }
}

fn too_large(event: &StoredEvent, error: &rdkafka::error::KafkaError) -> RelayError {
    RelayError::Permanent {
        reason: "message_too_large",
        message: format!(
            "event {} ({}, position {}) is larger than the message size limit: {error}",
            event.event_id, event.event_type, event.position
        ),
    }
}

async fn sleep_or_shutdown(duration: Duration, shutdown: &mut watch::Receiver<bool>) {
    tokio::select! {
        () = tokio::time::sleep(duration) => {},
        _ = shutdown.changed() => {},
    }
}
