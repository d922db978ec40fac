//! The projector runtime.
//!
//! A [`Projector`] turns a batch of events into read-model changes and moves its checkpoint.
//! [`ProjectionRunner`] feeds it: it reads the batch after the projector's checkpoint from the
//! global log, hands it over, and repeats; when the log is drained it sleeps until an append
//! commits; when the projector fails it backs off and retries the same batch. Since the
//! checkpoint only moves with (transactional projectors) or after (idempotent projectors) the
//! batch's effects, a crash at any point loses nothing and applies nothing twice.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use prometheus::{IntCounterVec, IntGaugeVec, Opts};
use shopcore_commands::event_log::{GlobalLog, StoredEvent};
use tokio::sync::watch;

use crate::error::ProjectionError;

/// How a projector keeps "exactly once" effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Rows and checkpoint move in one transaction.
    Transactional,
    /// The store has no transactions: writes are guarded by the aggregate version, so applying a
    /// batch again changes nothing; the checkpoint moves after the writes.
    IdempotentByVersion,
}

/// A named read-model builder.
#[async_trait]
pub trait Projector: Send + Sync {
    /// Stable name; the checkpoint is stored under it.
    fn name(&self) -> &'static str;
    fn delivery(&self) -> Delivery;
    /// The position of the last event applied (0 before the first).
    async fn checkpoint(&self) -> Result<u64, ProjectionError>;
    /// Applies `events` (all after `checkpoint`, in position order; events of aggregates the
    /// projector does not care about included) and moves the checkpoint to the last one.
    async fn apply(&self, checkpoint: u64, events: &[StoredEvent]) -> Result<(), ProjectionError>;
    /// Empties the read model and sets the checkpoint to 0 (for rebuilds).
    async fn reset(&self) -> Result<(), ProjectionError>;
}

static POSITION: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    let gauge = IntGaugeVec::new(
        Opts::new(
            "shopcore_projection_position",
            "Last global position applied by a projector",
        ),
        &["projector"],
    )
    .expect("valid metric");
    let _ = prometheus::register(Box::new(gauge.clone()));
    gauge
});

static EVENTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let counter = IntCounterVec::new(
        Opts::new(
            "shopcore_projection_events_total",
            "Events handed to a projector",
        ),
        &["projector"],
    )
    .expect("valid metric");
    let _ = prometheus::register(Box::new(counter.clone()));
    counter
});

static FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let counter = IntCounterVec::new(
        Opts::new(
            "shopcore_projection_failures_total",
            "Failed projector batches (retried)",
        ),
        &["projector"],
    )
    .expect("valid metric");
    let _ = prometheus::register(Box::new(counter.clone()));
    counter
});

/// Drives one projector over the global log.
#[derive(Clone)]
pub struct ProjectionRunner {
    log: GlobalLog,
    projector: Arc<dyn Projector>,
    batch_size: u32,
}

/// Result of one [`ProjectionRunner::step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub events: usize,
    pub checkpoint: u64,
}

impl ProjectionRunner {
    pub fn new(log: GlobalLog, projector: Arc<dyn Projector>, batch_size: u32) -> Self {
        Self {
            log,
            projector,
            batch_size: batch_size.max(1),
        }
    }

    pub fn projector(&self) -> &Arc<dyn Projector> {
        &self.projector
    }

    /// Processes the next batch, if any.
    pub async fn step(&self) -> Result<Step, ProjectionError> {
        let checkpoint = self.projector.checkpoint().await?;
        let events = self
            .log
            .read_after(checkpoint, self.batch_size, None)
            .await?;
        let Some(last) = events.last() else {
            return Ok(Step {
                events: 0,
                checkpoint,
            });
        };
        let last_position = last.position;
        self.projector.apply(checkpoint, &events).await?;
        let name = self.projector.name();
        EVENTS
            .with_label_values(&[name])
            .inc_by(events.len() as u64);
        POSITION
            .with_label_values(&[name])
            .set(i64::try_from(last_position).unwrap_or(i64::MAX));
        Ok(Step {
            events: events.len(),
            checkpoint: last_position,
        })
    }

    /// Runs until `shutdown` turns true: drains the log, then waits for appends; retries
    /// failures with exponential backoff (100 ms doubling to 30 s).
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        let name = self.projector.name();
        let mut backoff = Duration::from_millis(100);
        let mut listener = None;
        tracing::info!(projector = name, delivery = ?self.projector.delivery(), "projector started");
        while !*shutdown.borrow() {
            if listener.is_none() {
                listener = self.log.listen().await.ok();
            }
            match self.step().await {
                Ok(step) if step.events > 0 => {
                    backoff = Duration::from_millis(100);
                    tracing::debug!(
                        projector = name,
                        events = step.events,
                        checkpoint = step.checkpoint,
                        "batch applied"
                    );
                }
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    let wait = async {
                        match listener.as_mut() {
                            Some(listener) => {
                                GlobalLog::wait_for_append(listener, Duration::from_secs(1)).await
                            }
                            None => tokio::time::sleep(Duration::from_millis(200)).await,
                        }
                    };
                    tokio::select! {
                        () = wait => {},
                        _ = shutdown.changed() => {},
                    }
                }
                Err(error) => {
                    FAILURES.with_label_values(&[name]).inc();
                    tracing::warn!(projector = name, error = %error, retry_in_ms = backoff.as_millis() as u64, "projector batch failed");
                    listener = None;
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {},
                        _ = shutdown.changed() => {},
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
        tracing::info!(projector = name, "projector stopped");
    }
}
