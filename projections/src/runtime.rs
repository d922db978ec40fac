//! The projector runtime.
//!
//! A [`Projector`] turns a batch of events into read-model changes and moves its checkpoint.
//! [`ProjectionRunner`] feeds it through the event store's one tail loop
//! ([`shopcore_event_store::tail::TailLoop`]): read the batch after the checkpoint, apply, wait
//! for appends, back off on transient failures, halt loudly at an event that can never apply.
//! Since the checkpoint only moves with (transactional projectors) or after (idempotent
//! projectors) the batch's effects, a crash at any point loses nothing and applies nothing
//! twice.

use std::sync::Arc;

use async_trait::async_trait;
use shopcore_event_store::tail::{
    LogConsumer, SharedStatus, Step, StepError, TailError, TailLoop, TailMetrics,
};
use shopcore_event_store::{GlobalLog, LogPosition, StoredEvent};
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
    /// The place of the last event applied ([`LogPosition::START`] before the first).
    async fn checkpoint(&self) -> Result<LogPosition, ProjectionError>;
    /// Applies `events` (all after `checkpoint`, in log order; events of aggregates the
    /// projector does not care about included) and moves the checkpoint to the last one.
    async fn apply(
        &self,
        checkpoint: LogPosition,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError>;
    /// Empties the read model and sets the checkpoint to the start (for rebuilds).
    async fn reset(&self) -> Result<(), ProjectionError>;
}

/// A projector as a consumer of the tail loop: its errors sorted into transient and permanent.
struct ProjectorConsumer(Arc<dyn Projector>);

#[async_trait]
impl LogConsumer for ProjectorConsumer {
    fn name(&self) -> &str {
        self.0.name()
    }

    async fn checkpoint(&self) -> Result<LogPosition, TailError> {
        self.0
            .checkpoint()
            .await
            .map_err(ProjectionError::into_tail)
    }

    async fn apply(
        &self,
        checkpoint: LogPosition,
        events: &[StoredEvent],
    ) -> Result<(), TailError> {
        self.0
            .apply(checkpoint, events)
            .await
            .map_err(ProjectionError::into_tail)
    }
}

/// Drives one projector over the global log.
#[derive(Clone)]
pub struct ProjectionRunner {
    projector: Arc<dyn Projector>,
    tail: TailLoop,
}

impl ProjectionRunner {
    pub fn new(log: GlobalLog, projector: Arc<dyn Projector>, batch_size: u32) -> Self {
        let metrics = TailMetrics::projector(projector.name());
        let tail = TailLoop::new(
            log,
            Arc::new(ProjectorConsumer(projector.clone())),
            batch_size,
            metrics,
        );
        Self { projector, tail }
    }

    pub fn projector(&self) -> &Arc<dyn Projector> {
        &self.projector
    }

    /// The projector's state, checkpoint and lag, kept current by [`Self::run`].
    pub fn status(&self) -> SharedStatus {
        self.tail.status()
    }

    /// Processes the next batch, if any (for tests and rebuilds).
    pub async fn step(&self) -> Result<Step, StepError> {
        self.tail.step().await
    }

    /// Runs until `shutdown` turns true; see [`TailLoop::run`].
    pub async fn run(&self, shutdown: watch::Receiver<bool>) {
        tracing::info!(projector = self.projector.name(), delivery = ?self.projector.delivery(), "projector started");
        self.tail.run(shutdown).await;
    }
}
