//! The pricing index: prices answered from memory, kept current by tailing the log.
//!
//! [`PricingIndex`] holds every price book, live price rule (compiled into one
//! [`PriceRuleEvaluator`](shopcore_domain::pricing::PriceRuleEvaluator)), exchange rate and
//! the catalog's SKU → categories map ([`state`]). It is fed by one more consumer of the event
//! store's tail loop, whose checkpoint lives in memory: at start the index folds the log from
//! the beginning and answers nothing until it has caught up; then every append reaches it
//! within milliseconds (the log's notification). A query never touches SQL, and the evaluator
//! looks only at the rules that target the SKU or one of its categories.
//!
//! **Read-your-writes.** The index publishes the position it has applied. A query naming a
//! position (`min_position`, the `position` a command returned) waits until the index has
//! applied it, at most `PRICING_READ_YOUR_WRITES_TIMEOUT_MS` (5 s), then answers
//! `UNAVAILABLE`.
//!
//! **Failures.** The Postgres event store down: the index keeps answering from what it has
//! (and says how far it is in `position`) while the tail loop retries. An event it cannot fold
//! (undecodable, out of step) halts the index loudly, as every consumer of the tail loop does;
//! queries then keep answering from the state before that event.
//!
//! The queries are [`answer::PricingAnswers`], in the wire's messages. Two processes hold an
//! index: the command service, which serves it as `PricingQueries` over gRPC (for the cart and
//! other services), and the gateway, which answers `GET /pricing/{sku}` and simulations from
//! its own replica in-process (a gRPC hop per price cost five times the gateway's own work).
//! Both follow the same log, so each answers read-your-writes for a position a command
//! returned.

pub mod answer;
pub mod settings;
pub mod state;
pub mod wire;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use shopcore_event_store::tail::{
    LogConsumer, SharedStatus, Step, StepError, TailError, TailLoop, TailMetrics,
};
use shopcore_event_store::{GlobalLog, LogPosition, StoredEvent};
use tokio::sync::watch;

use state::{Changed, IndexState};

/// How the index reached its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The last event applied.
    pub position: LogPosition,
    /// Caught up with the log as it was at start: queries are answered.
    pub ready: bool,
}

/// The in-memory pricing state and how far in the log it is.
pub struct PricingIndex {
    state: RwLock<IndexState>,
    progress: watch::Sender<Progress>,
}

/// Why a query could not wait for the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotReached {
    #[error("the pricing index is still loading the log")]
    Loading,
    #[error("the pricing index has not reached the position yet")]
    Behind { position: LogPosition },
}

impl PricingIndex {
    /// An empty index whose cross rates go through `fx_base`.
    pub fn new(fx_base: Option<shopcore_domain::money::Currency>) -> Self {
        Self {
            state: RwLock::new(IndexState::with_fx_base(fx_base)),
            progress: watch::Sender::new(Progress {
                position: LogPosition::START,
                ready: false,
            }),
        }
    }
}

impl PricingIndex {
    pub fn progress(&self) -> Progress {
        *self.progress.borrow()
    }

    /// Runs `read` on the state as it is now (synchronously: never hold it across an await).
    pub fn read<R>(&self, read: impl FnOnce(&IndexState) -> R) -> R {
        let state = self
            .state
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        read(&state)
    }

    /// Waits until the index is ready and has applied `position` (START: only ready), at most
    /// `timeout`; returns the position it has reached.
    pub async fn wait_for(
        &self,
        position: LogPosition,
        timeout: Duration,
    ) -> Result<LogPosition, NotReached> {
        let reached =
            |p: &Progress| p.ready && (position == LogPosition::START || p.position >= position);
        // The common case, without a timer or a subscription: already there.
        let now = self.progress();
        if reached(&now) {
            return Ok(now.position);
        }
        let mut progress = self.progress.subscribe();
        let waited = tokio::time::timeout(timeout, async {
            progress.wait_for(reached).await.map(|p| p.position)
        })
        .await;
        match waited {
            Ok(Ok(position)) => Ok(position),
            _ => {
                let now = self.progress();
                Err(if now.ready {
                    NotReached::Behind {
                        position: now.position,
                    }
                } else {
                    NotReached::Loading
                })
            }
        }
    }

    /// Folds `events` (after `checkpoint`, in log order). On a failure the events before the
    /// one at fault stay applied and the position names the last of them.
    fn apply(&self, checkpoint: LogPosition, events: &[StoredEvent]) -> Result<(), TailError> {
        let mut state = self
            .state
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        if self.progress().position != checkpoint {
            return Err(TailError::transient(
                "checkpoint",
                "the pricing index moved while a batch was read",
            ));
        }
        let mut changed = Changed::default();
        let mut reached = checkpoint;
        let mut outcome = Ok(());
        for event in events {
            if let Err(error) = state.apply(event, &mut changed) {
                outcome = Err(error);
                break;
            }
            reached = event.log_position();
        }
        state.finish(changed);
        drop(state);
        self.progress.send_modify(|p| p.position = reached);
        outcome
    }

    fn set_ready(&self) {
        self.progress.send_modify(|p| p.ready = true);
    }
}

/// The tail loop's consumer: folds every event into the index.
struct IndexFeeder {
    index: Arc<PricingIndex>,
}

/// The consumer's name in logs, metrics and `/readyz`.
pub const CONSUMER: &str = "pricing_index";

#[async_trait]
impl LogConsumer for IndexFeeder {
    fn name(&self) -> &str {
        CONSUMER
    }

    async fn checkpoint(&self) -> Result<LogPosition, TailError> {
        Ok(self.index.progress().position)
    }

    async fn apply(
        &self,
        checkpoint: LogPosition,
        events: &[StoredEvent],
    ) -> Result<(), TailError> {
        self.index.apply(checkpoint, events)
    }
}

/// The index with the tail loop that keeps it current.
pub struct PricingQueries {
    index: Arc<PricingIndex>,
    tail: TailLoop,
}

impl PricingQueries {
    pub fn new(
        log: GlobalLog,
        batch_size: u32,
        fx_base: Option<shopcore_domain::money::Currency>,
    ) -> Self {
        let index = Arc::new(PricingIndex::new(fx_base));
        let feeder = Arc::new(IndexFeeder {
            index: index.clone(),
        });
        let tail = TailLoop::new(log, feeder, batch_size, TailMetrics::projector(CONSUMER));
        Self { index, tail }
    }

    pub fn index(&self) -> &Arc<PricingIndex> {
        &self.index
    }

    pub fn status(&self) -> SharedStatus {
        self.tail.status()
    }

    /// Applies the next batch, for tests.
    pub async fn step(&self) -> Result<Step, StepError> {
        self.tail.step().await
    }

    /// Catches up with the log (retrying with backoff while the store is down), marks the
    /// index ready, then follows the log until `shutdown` turns true.
    pub async fn run(&self, shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(100);
        let started = std::time::Instant::now();
        loop {
            if *shutdown.borrow() {
                return;
            }
            match self.tail.step().await {
                Ok(step) if step.events == 0 && !step.held_back => break,
                Ok(step) if step.events == 0 => tokio::time::sleep(Duration::from_millis(5)).await,
                Ok(_) => backoff = Duration::from_millis(100),
                // The tail loop below halts on it, loudly; answer from what precedes it.
                Err(StepError {
                    error: TailError::Permanent { .. },
                    ..
                }) => break,
                Err(error) => {
                    tracing::warn!(consumer = CONSUMER, %error, "pricing index not loaded yet; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
        self.index.set_ready();
        let (books, rules, skus) = self.index.read(IndexState::counts);
        tracing::info!(
            consumer = CONSUMER,
            books,
            rules,
            skus,
            position = %self.index.progress().position,
            seconds = started.elapsed().as_secs_f64(),
            "pricing index loaded"
        );
        self.tail.run(shutdown).await;
    }
}
