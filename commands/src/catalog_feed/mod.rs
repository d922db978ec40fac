//! The catalog change feed: follows the CouchDB `_changes` feed of the catalog database and
//! publishes every product document to Kafka (`catalog.product.document.v1`, key = document
//! id, value = `ProductDocument` in Avro through the schema registry). It is the replicated
//! view of the catalog for downstream readers — whole documents, whoever wrote them — beside
//! the domain events the relay publishes (`catalog.product.updated.v1`, with the diff).
//!
//! Each batch ([`CatalogFeed::step`]): read the checkpoint, long-poll `_changes` after it,
//! decide every change ([`drift::decide`]), hand the messages to the relay's idempotent
//! producer, wait for the acknowledgements, and move the checkpoint
//! ([`checkpoint`], a `_local` document of the catalog database) past the acknowledged prefix
//! only. A crash, a broker outage or a CouchDB outage repeats at most the unacknowledged tail;
//! a rebuild of the catalog read model (which drops the database, checkpoint included)
//! publishes everything again from `0`. So delivery is at least once: consumers drop
//! duplicates by document id and `version` / `document_rev`.
//!
//! Schema drift — another writer's unknown field, a missing field, a changed type — never
//! fails a batch: it is detected per document with its field path, logged, counted
//! (`shopcore_catalog_drift_total{kind}`), and the document is published without the unknown
//! fields, or, when it cannot be encoded, dead-lettered or skipped ([`drift::DriftPolicy`]).
//! Everything that does fail a batch is transient (CouchDB down or the database missing, the
//! broker or the registry unreachable): [`CatalogFeed::run`] retries from the checkpoint with
//! backoff from 100 ms doubling to 30 s, and never exits on its own.
//!
//! Run one feed per name (`CATALOG_FEED_NAME`): two of one name would both publish.

mod checkpoint;
pub mod drift;
mod error;
mod metrics;
mod publisher;
pub mod server;
pub mod settings;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};
use shopcore_couch::CouchDb;
use shopcore_event_schemas::documents::{DocumentSchema, DriftKind};
use tokio::sync::watch;

pub use drift::DriftPolicy;
pub use error::FeedError;
pub use settings::CatalogFeedSettings;

use self::checkpoint::{seq_number, Checkpoint};
use self::drift::Disposition;
use self::publisher::{DocumentPublisher, Queued};
use crate::kafka;

/// What the feed is doing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum FeedState {
    /// No batch has completed yet.
    Starting,
    /// The last batch went through.
    Following,
    /// Batches fail; retried with backoff (the reason names the dependency).
    Retrying { reason: &'static str, attempts: u32 },
}

/// The feed's progress since the process started, for `/readyz` and tests.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedStatus {
    pub state: FeedState,
    /// The checkpoint: the sequence after which changes are not yet published.
    pub since: Value,
    /// Changes of the database after the checkpoint, at the last batch.
    pub lag: Option<i64>,
    pub published: u64,
    pub tombstones: u64,
    pub dead_lettered: u64,
    pub skipped: u64,
    /// Design documents.
    pub ignored: u64,
    /// Documents that drifted, by kind.
    pub drift: BTreeMap<&'static str, u64>,
}

pub type SharedFeedStatus = Arc<RwLock<FeedStatus>>;

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepReport {
    /// Changes read.
    pub changes: usize,
    /// Changes handled and passed by the checkpoint (the acknowledged prefix).
    pub handled: usize,
    pub published: usize,
    pub tombstones: usize,
    pub dead_lettered: usize,
    pub skipped: usize,
    pub ignored: usize,
    /// Documents that drifted, by kind.
    pub drift: BTreeMap<DriftKind, usize>,
    /// The checkpoint after the batch.
    pub since: Value,
}

/// The catalog change feed. See the module documentation.
pub struct CatalogFeed {
    settings: CatalogFeedSettings,
    db: CouchDb,
    schema: &'static DocumentSchema,
    publisher: DocumentPublisher,
    checkpoint_id: String,
    /// Topics exist and the schema is registered.
    prepared: AtomicBool,
    /// The checkpoint the last batch left, to notice it vanishing (a rebuild).
    last_since: Mutex<Option<Value>>,
    status: SharedFeedStatus,
}

impl CatalogFeed {
    pub fn new(settings: CatalogFeedSettings) -> anyhow::Result<Self> {
        let schema = DocumentSchema::product()?;
        let db = CouchDb::new(&settings.couchdb_url, &settings.catalog_db)?;
        let publisher = DocumentPublisher::new(&settings, schema)?;
        let drift = DriftKind::ALL.iter().map(|k| (k.as_str(), 0)).collect();
        // The drift counter is on /metrics from the start, every kind at 0.
        std::sync::LazyLock::force(&metrics::DRIFT);
        Ok(Self {
            checkpoint_id: settings.checkpoint_id(),
            settings,
            db,
            schema,
            publisher,
            prepared: AtomicBool::new(false),
            last_since: Mutex::new(None),
            status: Arc::new(RwLock::new(FeedStatus {
                state: FeedState::Starting,
                since: json!(0),
                lag: None,
                published: 0,
                tombstones: 0,
                dead_lettered: 0,
                skipped: 0,
                ignored: 0,
                drift,
            })),
        })
    }

    /// The feed's progress, for health endpoints and tests.
    pub fn status(&self) -> SharedFeedStatus {
        self.status.clone()
    }

    /// A copy of the current status.
    pub fn snapshot(&self) -> FeedStatus {
        self.status
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The topic names (with prefix): documents, dead letters.
    pub fn topics(&self) -> [String; 2] {
        self.publisher.topics()
    }

    /// Runs until `shutdown` turns true; failed batches are retried (see the module
    /// documentation).
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(
            feed = %self.settings.name,
            database = %self.settings.catalog_db,
            topics = ?self.topics(),
            on_drift = ?self.settings.on_drift,
            "catalog feed starting"
        );
        let mut pause = Duration::from_millis(100);
        let mut attempts = 0;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let outcome = tokio::select! {
                outcome = self.step() => outcome,
                _ = shutdown.changed() => break,
            };
            match outcome {
                Ok(_) => {
                    attempts = 0;
                    pause = Duration::from_millis(100);
                    self.set_state(FeedState::Following);
                }
                Err(error) => {
                    attempts += 1;
                    let reason = error.reason();
                    metrics::FAILURES.with_label_values(&[reason]).inc();
                    tracing::warn!(
                        %error,
                        reason,
                        attempts,
                        retry_in_ms = pause.as_millis() as u64,
                        "catalog feed batch failed; retrying from the checkpoint"
                    );
                    self.recover(&error);
                    self.set_state(FeedState::Retrying { reason, attempts });
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = shutdown.changed() => break,
                    }
                    pause = (pause * 2).min(Duration::from_secs(30));
                }
            }
        }
        self.publisher.flush();
        tracing::info!(feed = %self.settings.name, "catalog feed stopped");
    }

    /// Processes the next batch of changes (waiting up to the poll timeout for one), for tests
    /// and [`Self::run`].
    pub async fn step(&self) -> Result<StepReport, FeedError> {
        if !self.prepared.load(Ordering::SeqCst) {
            self.publisher.prepare().await?;
            self.prepared.store(true, Ordering::SeqCst);
        }
        let current = checkpoint::read(&self.db, &self.checkpoint_id).await?;
        self.notice_reset(&current);
        let page = self
            .db
            .changes_feed(
                &current.since,
                self.settings.batch_size.max(1),
                Duration::from_millis(self.settings.poll_timeout_ms),
            )
            .await?;
        let started = Instant::now();
        let decisions: Vec<_> = page
            .rows
            .iter()
            .map(|row| drift::decide(self.schema, row, self.settings.on_drift))
            .collect();

        // Hand everything to the producer, then take the acknowledgements in order: the
        // checkpoint moves past the acknowledged prefix only.
        let mut error = None;
        let mut queued = Vec::with_capacity(decisions.len());
        for decision in &decisions {
            match self.publisher.send(decision).await {
                Ok(message) => queued.push(message),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let mut too_large = vec![false; decisions.len()];
        let mut handled = 0;
        for (index, message) in queued.into_iter().enumerate() {
            let outcome = match message {
                Queued::Nothing => Ok(()),
                Queued::TooLarge => Err(true),
                Queued::Sent(delivery) => match kafka::delivered(delivery).await {
                    Ok(()) => Ok(()),
                    Err(e) if kafka::too_large(&e) => Err(true),
                    Err(e) => {
                        error = Some(FeedError::Broker(format!(
                            "document {} not acknowledged: {e}",
                            decisions[index].key
                        )));
                        Err(false)
                    }
                },
            };
            match outcome {
                Ok(()) => handled += 1,
                // Too large for any broker setting this feed has: never sendable.
                Err(true) => {
                    too_large[index] = true;
                    handled += 1;
                }
                Err(false) => break,
            }
        }
        metrics::BATCH_SECONDS.observe(started.elapsed().as_secs_f64());

        let since = if handled == decisions.len() && error.is_none() {
            if decisions.is_empty() {
                current.since.clone()
            } else {
                page.last_seq.clone()
            }
        } else if handled > 0 {
            page.rows[handled - 1].seq.clone()
        } else {
            current.since.clone()
        };
        if since != current.since {
            checkpoint::write(&self.db, &self.checkpoint_id, &current, &since).await?;
        }
        let report = self.account(&decisions[..handled], &too_large, since);
        self.update_lag().await;
        match error {
            Some(error) => Err(error),
            None => Ok(report),
        }
    }

    /// Logs, counts and records the handled changes of a batch whose checkpoint moved.
    fn account(&self, handled: &[drift::Decision], too_large: &[bool], since: Value) -> StepReport {
        let mut report = StepReport {
            changes: too_large.len(),
            handled: handled.len(),
            since: since.clone(),
            ..StepReport::default()
        };
        for (decision, too_large) in handled.iter().zip(too_large) {
            if !decision.drift.is_empty() {
                drift::log_drift(decision, self.settings.on_drift);
            }
            for kind in decision.kinds() {
                metrics::DRIFT.with_label_values(&[kind.as_str()]).inc();
                *report.drift.entry(kind).or_default() += 1;
            }
            let outcome = if *too_large {
                tracing::error!(
                    document_id = %decision.key,
                    rev = decision.rev.as_deref().unwrap_or(""),
                    limit_bytes = self.settings.message_max_bytes,
                    "catalog document is larger than the message size limit; skipped"
                );
                report.skipped += 1;
                "too_large"
            } else {
                match decision.disposition {
                    Disposition::Publish { .. } => {
                        report.published += 1;
                        "published"
                    }
                    Disposition::Tombstone => {
                        report.tombstones += 1;
                        "tombstone"
                    }
                    Disposition::DeadLetter { .. } => {
                        report.dead_lettered += 1;
                        "dead_lettered"
                    }
                    Disposition::Skip => {
                        report.skipped += 1;
                        "skipped"
                    }
                    Disposition::Ignore => {
                        report.ignored += 1;
                        "ignored"
                    }
                }
            };
            metrics::DOCUMENTS.with_label_values(&[outcome]).inc();
        }
        if let Some(number) = seq_number(&since) {
            metrics::SINCE.set(number);
        }
        *self
            .last_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(since.clone());
        let mut status = self
            .status
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        status.since = since;
        status.published += report.published as u64;
        status.tombstones += report.tombstones as u64;
        status.dead_lettered += report.dead_lettered as u64;
        status.skipped += report.skipped as u64;
        status.ignored += report.ignored as u64;
        for (kind, count) in &report.drift {
            *status.drift.entry(kind.as_str()).or_default() += *count as u64;
        }
        drop(status);
        report
    }

    /// Measures the lag: the database's update sequence minus the checkpoint (one `GET /db`;
    /// a failure leaves the last value).
    async fn update_lag(&self) {
        let Ok(head) = self.db.update_seq().await else {
            return;
        };
        let mut status = self
            .status
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let (Some(head), Some(since)) = (seq_number(&head), seq_number(&status.since)) {
            let lag = (head - since).max(0);
            status.lag = Some(lag);
            metrics::LAG.set(lag);
        }
    }

    /// Says so when the checkpoint vanished under a running feed: the database was deleted
    /// (a rebuild of the catalog read model), and the feed starts again from `0`.
    fn notice_reset(&self, current: &Checkpoint) {
        let last = self
            .last_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if current.rev.is_none() && last.is_some_and(|since| since != json!(0)) {
            tracing::info!(
                feed = %self.settings.name,
                database = %self.settings.catalog_db,
                "the feed's checkpoint is gone (the catalog database was deleted or rebuilt); following it again from 0, every document is published again"
            );
        }
    }

    fn recover(&self, error: &FeedError) {
        match error {
            FeedError::Broker(_) => {
                self.publisher.replace_producer();
                self.prepared.store(false, Ordering::SeqCst);
            }
            FeedError::Registry(_) => self.prepared.store(false, Ordering::SeqCst),
            FeedError::Couch(_) => {}
        }
    }

    fn set_state(&self, state: FeedState) {
        let mut status = self
            .status
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if status.state != state {
            status.state = state;
        }
    }
}
