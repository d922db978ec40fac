//! The one tail loop: listen, read a batch, apply, back off — for every projector and the relay.
//!
//! A [`LogConsumer`] says where it is ([`LogConsumer::checkpoint`]) and applies a batch of
//! events read after that place ([`LogConsumer::apply`]), moving its own checkpoint with or
//! after the batch's effects. [`TailLoop`] does the rest, the same way for everyone:
//!
//! - **Caught up:** it waits for the next append's notification (at most a second: a lost
//!   notification costs latency, never events), or looks again within milliseconds when
//!   committed events wait behind a transaction still running (see [`crate::log`]).
//! - **Transient failures** (a server down, a timeout, another instance holding the
//!   checkpoint) are retried from the checkpoint with backoff from 100 ms doubling to 30 s.
//! - **Permanent failures** (an event this consumer can never apply) are a defect that must be
//!   loud. When a batch fails permanently the loop applies its events one by one to find the
//!   event at fault, applies what precedes it, and halts there: an `error` log naming the event
//!   id, type and reason, the `…_halted` metric at 1 and [`TailState::Halted`] for `/readyz`
//!   and `status`. Skipping the event would lose it; a fix and a restart go on.
//! - **Standby:** a consumer that must run alone (the relay) says another instance is active;
//!   the loop asks again every 2 s.
//!
//! [`TailLoop::step`] runs one batch, for tests and rebuild jobs.

use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use prometheus::{Gauge, GaugeVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use uuid::Uuid;

use crate::error::StoreError;
use crate::log::{GlobalLog, StoredEvent};
use crate::position::LogPosition;

/// Why a batch (or finding the checkpoint) failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TailError {
    /// Another instance of this consumer is active.
    #[error("another instance is active")]
    Standby,
    /// Retrying later may succeed.
    #[error("{message}")]
    Transient {
        reason: &'static str,
        message: String,
    },
    /// The batch can never be applied as it is.
    #[error("{message}")]
    Permanent {
        reason: &'static str,
        message: String,
    },
}

impl TailError {
    pub fn transient(reason: &'static str, message: impl ToString) -> Self {
        Self::Transient {
            reason,
            message: message.to_string(),
        }
    }

    pub fn permanent(reason: &'static str, message: impl ToString) -> Self {
        Self::Permanent {
            reason,
            message: message.to_string(),
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            Self::Standby => "standby",
            Self::Transient { reason, .. } | Self::Permanent { reason, .. } => reason,
        }
    }
}

impl From<StoreError> for TailError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Corrupt(_) | StoreError::Schema(_) => Self::permanent("event_store", error),
            other => Self::transient("event_store", other),
        }
    }
}

/// A reader of the global log driven by [`TailLoop`].
#[async_trait]
pub trait LogConsumer: Send + Sync {
    /// Stable name, used in logs, metrics and checkpoints.
    fn name(&self) -> &str;

    /// The place of the last event applied ([`LogPosition::START`] before the first).
    async fn checkpoint(&self) -> Result<LogPosition, TailError>;

    /// Applies `events` (all after `checkpoint`, in log order) and moves the checkpoint to the
    /// last one applied. On failure the checkpoint may have moved part of the way (to the end
    /// of a prefix whose effects are complete), never further.
    async fn apply(&self, checkpoint: LogPosition, events: &[StoredEvent])
        -> Result<(), TailError>;

    /// Called after a transient failure, before the retry (to reconnect, reset a producer…).
    async fn recover(&self, _error: &TailError) {}
}

/// The event a consumer halted at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    pub event_id: Option<Uuid>,
    pub event_type: Option<String>,
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<String>,
    pub position: Option<LogPosition>,
    pub reason: String,
    pub message: String,
}

impl Fault {
    fn new(error: &TailError, event: Option<&StoredEvent>) -> Self {
        Self {
            event_id: event.map(|e| e.event_id),
            event_type: event.map(|e| e.event_type.clone()),
            aggregate_type: event.map(|e| e.aggregate_type.clone()),
            aggregate_id: event.map(|e| e.aggregate_id.clone()),
            position: event.map(StoredEvent::log_position),
            reason: error.reason().to_owned(),
            message: error.to_string(),
        }
    }
}

/// What a tail loop is doing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum TailState {
    Starting,
    /// Another instance is active.
    Standby,
    /// Caught up or applying.
    Running,
    /// The last attempt failed; retrying.
    Retrying {
        reason: String,
        message: String,
    },
    /// Stopped at an event it cannot apply.
    Halted(Fault),
}

impl TailState {
    /// Whether a process running this loop should be reported ready.
    pub fn is_ready(&self) -> bool {
        matches!(self, Self::Running | Self::Standby)
    }
}

/// A consumer's state, checkpoint and lag, shared with health endpoints.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TailStatus {
    pub name: String,
    #[serde(flatten)]
    pub state: TailState,
    pub checkpoint: LogPosition,
    pub lag_events: u64,
    pub lag_seconds: f64,
}

impl TailStatus {
    /// What a readiness probe may show: the state, checkpoint, lag and the event at fault, but
    /// no error text (it can carry a driver's message or a payload fragment; `/status` and the
    /// logs have it).
    pub fn for_readiness(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.remove("message");
        }
        value
    }
}

/// Handle on a [`TailStatus`].
pub type SharedStatus = Arc<RwLock<TailStatus>>;

/// The metrics one tail loop reports.
#[derive(Clone)]
pub struct TailMetrics {
    pub position: IntGauge,
    pub events: IntCounter,
    pub halted: IntGauge,
    pub lag_events: IntGauge,
    pub lag_seconds: Gauge,
    /// The failure counter for a reason.
    pub failures: Arc<dyn Fn(&'static str) -> IntCounter + Send + Sync>,
}

fn register<T: prometheus::core::Collector + Clone + 'static>(metric: T) -> T {
    // Registration fails only for a duplicate name, which the LazyLock statics rule out.
    let _ = prometheus::register(Box::new(metric.clone()));
    metric
}

fn int_gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    register(IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric"))
}

static PROJECTION_POSITION: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    int_gauge_vec(
        "shopcore_projection_position",
        "Position of the last event a projector applied",
        &["projector"],
    )
});
static PROJECTION_HALTED: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    int_gauge_vec(
        "shopcore_projection_halted",
        "1 while a projector is stopped at an event it cannot apply",
        &["projector"],
    )
});
static PROJECTION_LAG_EVENTS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    int_gauge_vec(
        "shopcore_projection_lag_events",
        "Settled events a projector has not applied yet (counted up to 100 000)",
        &["projector"],
    )
});
static PROJECTION_LAG_SECONDS: LazyLock<GaugeVec> = LazyLock::new(|| {
    register(
        GaugeVec::new(
            Opts::new(
                "shopcore_projection_lag_seconds",
                "Age of the oldest event a projector has not applied yet",
            ),
            &["projector"],
        )
        .expect("valid metric"),
    )
});
static PROJECTION_EVENTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "shopcore_projection_events_total",
                "Events handed to a projector",
            ),
            &["projector"],
        )
        .expect("valid metric"),
    )
});
static PROJECTION_FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "shopcore_projection_failures_total",
                "Failed projector batches, by reason",
            ),
            &["projector", "reason"],
        )
        .expect("valid metric"),
    )
});

impl TailMetrics {
    /// The `shopcore_projection_*{projector}` metrics of a projector.
    pub fn projector(name: &str) -> Self {
        let owned = name.to_owned();
        Self {
            position: PROJECTION_POSITION.with_label_values(&[name]),
            events: PROJECTION_EVENTS.with_label_values(&[name]),
            halted: PROJECTION_HALTED.with_label_values(&[name]),
            lag_events: PROJECTION_LAG_EVENTS.with_label_values(&[name]),
            lag_seconds: PROJECTION_LAG_SECONDS.with_label_values(&[name]),
            failures: Arc::new(move |reason| {
                PROJECTION_FAILURES.with_label_values(&[owned.as_str(), reason])
            }),
        }
    }
}

/// Result of one [`TailLoop::step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Events applied.
    pub events: usize,
    pub checkpoint: LogPosition,
    /// Committed events wait behind a transaction still running.
    pub held_back: bool,
}

/// A failed [`TailLoop::step`]: the error and, once isolated, the event at fault.
#[derive(Debug, Clone)]
pub struct StepError {
    pub error: TailError,
    pub event: Option<Box<StoredEvent>>,
}

impl From<TailError> for StepError {
    fn from(error: TailError) -> Self {
        Self { error, event: None }
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.event {
            Some(event) => write!(
                f,
                "event {} ({}, {} {}, position {}): {}",
                event.event_id,
                event.event_type,
                event.aggregate_type,
                event.aggregate_id,
                event.log_position(),
                self.error
            ),
            None => self.error.fmt(f),
        }
    }
}

impl std::error::Error for StepError {}

/// Drives one [`LogConsumer`] over the global log; see the module documentation.
#[derive(Clone)]
pub struct TailLoop {
    log: GlobalLog,
    consumer: Arc<dyn LogConsumer>,
    batch_size: u32,
    metrics: TailMetrics,
    status: SharedStatus,
}

/// Caught up, a notification is awaited at most this long before looking again.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Events waiting behind a running transaction are looked for again after this.
const HELD_BACK_POLL: Duration = Duration::from_millis(5);
/// Lag is measured at most this often while events flow.
const LAG_EVERY: Duration = Duration::from_secs(1);
const LAG_CAP: u32 = 100_000;
/// While halted, lag is measured this often.
const HALTED_LAG_EVERY: Duration = Duration::from_secs(5);

impl TailLoop {
    pub fn new(
        log: GlobalLog,
        consumer: Arc<dyn LogConsumer>,
        batch_size: u32,
        metrics: TailMetrics,
    ) -> Self {
        let status = Arc::new(RwLock::new(TailStatus {
            name: consumer.name().to_owned(),
            state: TailState::Starting,
            checkpoint: LogPosition::START,
            lag_events: 0,
            lag_seconds: 0.0,
        }));
        Self {
            log,
            consumer,
            batch_size: batch_size.max(1),
            metrics,
            status,
        }
    }

    pub fn consumer(&self) -> &Arc<dyn LogConsumer> {
        &self.consumer
    }

    pub fn log(&self) -> &GlobalLog {
        &self.log
    }

    /// The consumer's status, kept current by [`Self::run`].
    pub fn status(&self) -> SharedStatus {
        self.status.clone()
    }

    fn set_state(&self, state: TailState) {
        self.status.write().expect("status lock").state = state;
    }

    fn state(&self) -> TailState {
        self.status.read().expect("status lock").state.clone()
    }

    /// Applies the next batch, if any. A batch that fails permanently is applied again event
    /// by event, so that the error names the event at fault and what precedes it is applied.
    pub async fn step(&self) -> Result<Step, StepError> {
        let checkpoint = self.consumer.checkpoint().await?;
        let events = self
            .log
            .read_after(checkpoint, self.batch_size, None)
            .await
            .map_err(TailError::from)?;
        let Some(last) = events.last() else {
            let held_back = self
                .log
                .held_back(checkpoint)
                .await
                .map_err(TailError::from)?;
            self.observe(checkpoint, 0);
            return Ok(Step {
                events: 0,
                checkpoint,
                held_back,
            });
        };
        let last = last.log_position();
        match self.consumer.apply(checkpoint, &events).await {
            Ok(()) => {
                self.observe(last, events.len());
                Ok(Step {
                    events: events.len(),
                    checkpoint: last,
                    held_back: false,
                })
            }
            Err(error @ TailError::Permanent { .. }) if events.len() > 1 => {
                tracing::warn!(consumer = self.consumer.name(), %error, events = events.len(), "batch failed permanently; applying its events one by one to find the event at fault");
                self.isolate(&events).await
            }
            Err(error @ TailError::Permanent { .. }) => Err(StepError {
                error,
                event: Some(Box::new(events[0].clone())),
            }),
            Err(error) => Err(error.into()),
        }
    }

    async fn isolate(&self, events: &[StoredEvent]) -> Result<Step, StepError> {
        // The consumer may have applied a prefix before failing.
        let start = self.consumer.checkpoint().await?;
        let mut checkpoint = start;
        let mut applied = 0;
        for event in events.iter().filter(|e| e.log_position() > start) {
            match self
                .consumer
                .apply(checkpoint, std::slice::from_ref(event))
                .await
            {
                Ok(()) => {
                    checkpoint = event.log_position();
                    applied += 1;
                    self.observe(checkpoint, 1);
                }
                Err(error @ TailError::Permanent { .. }) => {
                    return Err(StepError {
                        error,
                        event: Some(Box::new(event.clone())),
                    })
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(Step {
            events: applied,
            checkpoint,
            held_back: false,
        })
    }

    fn observe(&self, checkpoint: LogPosition, events: usize) {
        self.metrics
            .position
            .set(i64::try_from(checkpoint.position).unwrap_or(i64::MAX));
        self.metrics.events.inc_by(events as u64);
        self.status.write().expect("status lock").checkpoint = checkpoint;
    }

    async fn measure_lag(&self, checkpoint: LogPosition, caught_up: bool) {
        let lag = if caught_up {
            Ok(crate::log::Lag {
                events: 0,
                seconds: 0.0,
            })
        } else {
            self.log.lag(checkpoint, LAG_CAP).await
        };
        if let Ok(lag) = lag {
            self.metrics
                .lag_events
                .set(i64::try_from(lag.events).unwrap_or(i64::MAX));
            self.metrics.lag_seconds.set(lag.seconds);
            let mut status = self.status.write().expect("status lock");
            status.lag_events = lag.events;
            status.lag_seconds = lag.seconds;
        }
    }

    /// Runs until `shutdown` turns true; see the module documentation.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        let name = self.consumer.name().to_owned();
        let mut backoff = Duration::from_millis(100);
        let mut listener = None;
        let mut lag_measured = Instant::now() - LAG_EVERY;
        tracing::info!(consumer = %name, "tailing the log");
        while !*shutdown.borrow() {
            if listener.is_none() {
                listener = self.log.listen().await.ok();
            }
            match self.step().await {
                Ok(step) => {
                    backoff = Duration::from_millis(100);
                    if self.state() != TailState::Running {
                        tracing::info!(consumer = %name, checkpoint = %step.checkpoint, "running");
                        self.set_state(TailState::Running);
                    }
                    let caught_up = step.events == 0 && !step.held_back;
                    if caught_up || lag_measured.elapsed() >= LAG_EVERY {
                        self.measure_lag(step.checkpoint, caught_up).await;
                        lag_measured = Instant::now();
                    }
                    if step.events > 0 {
                        tracing::debug!(consumer = %name, events = step.events, checkpoint = %step.checkpoint, "batch applied");
                        continue;
                    }
                    let wait = async {
                        match (step.held_back, listener.as_mut()) {
                            (true, _) => tokio::time::sleep(HELD_BACK_POLL).await,
                            (false, Some(listener)) => {
                                GlobalLog::wait_for_append(listener, IDLE_POLL).await
                            }
                            (false, None) => tokio::time::sleep(Duration::from_millis(200)).await,
                        }
                    };
                    tokio::select! {
                        () = wait => {},
                        _ = shutdown.changed() => {},
                    }
                }
                Err(StepError {
                    error: TailError::Standby,
                    ..
                }) => {
                    if self.state() != TailState::Standby {
                        tracing::info!(consumer = %name, "another instance is active; standing by");
                        self.set_state(TailState::Standby);
                    }
                    sleep_or_shutdown(Duration::from_secs(2), &mut shutdown).await;
                }
                Err(
                    failure @ StepError {
                        error: TailError::Permanent { .. },
                        ..
                    },
                ) => {
                    let fault = Fault::new(&failure.error, failure.event.as_deref());
                    (self.metrics.failures)(failure.error.reason()).inc();
                    self.metrics.halted.set(1);
                    tracing::error!(
                        consumer = %name,
                        event_id = ?fault.event_id,
                        event_type = ?fault.event_type,
                        aggregate_id = ?fault.aggregate_id,
                        position = ?fault.position.map(|p| p.to_string()),
                        reason = %fault.reason,
                        error = %failure,
                        "halted: this event cannot be applied; fix the cause and restart"
                    );
                    self.set_state(TailState::Halted(fault));
                    // Stay halted until shut down, keeping the lag current: it grows while
                    // the log goes on.
                    let checkpoint = self.status.read().expect("status lock").checkpoint;
                    while !*shutdown.borrow() {
                        self.measure_lag(checkpoint, false).await;
                        tokio::select! {
                            changed = shutdown.changed() => if changed.is_err() { break },
                            () = tokio::time::sleep(HALTED_LAG_EVERY) => {},
                        }
                    }
                }
                Err(StepError { error, .. }) => {
                    (self.metrics.failures)(error.reason()).inc();
                    tracing::warn!(consumer = %name, reason = error.reason(), %error, retry_in_ms = backoff.as_millis() as u64, "batch failed; retrying from the checkpoint");
                    if let TailError::Transient { reason, message } = &error {
                        self.set_state(TailState::Retrying {
                            reason: (*reason).to_owned(),
                            message: message.clone(),
                        });
                    }
                    self.consumer.recover(&error).await;
                    listener = None;
                    sleep_or_shutdown(backoff, &mut shutdown).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
        tracing::info!(consumer = %name, "stopped");
    }
}

async fn sleep_or_shutdown(duration: Duration, shutdown: &mut watch::Receiver<bool>) {
    tokio::select! {
        () = tokio::time::sleep(duration) => {},
        _ = shutdown.changed() => {},
    }
}
