//! The currency rate sync: read the provider's document, and record each rate that changed
//! through the `CurrencyRate` pipeline. See the [module documentation](super).

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use sha2::Digest as _;
use shopcore_domain::money::{Currency, Rate};
use shopcore_domain::pricing::{
    rate_is_stale, CurrencyRate, CurrencyRateCommand, CurrencyRateEvent,
};
use shopcore_event_store::snapshot::SnapshotPolicy;
use shopcore_event_store::EventStore;
use tokio::sync::watch;

use super::document::{self, SkippedEntry, ECB_BASE};
use super::metrics;
use super::provider::MAX_DOCUMENT_BYTES;
use super::report::{PairAge, RateChange, SyncFailure, SyncReport, SyncState, SyncStatus};
use super::settings::CurrencyRateSyncSettings;
use crate::error::CommandError;
use crate::grpc::pricing::currency_rate::{currency_rate_pipeline, currency_rate_snapshots};
use crate::metadata::CommandContext;
use crate::pipeline::CommandPipeline;

/// The actor of the sync's commands, as their events record it.
pub const ACTOR: &str = "currency-rate-sync";
/// The command type of the sync's `SetFxRate`s (idempotency keys are scoped by it).
pub const COMMAND_TYPE: &str = "currency_rate.sync";
/// Attempts at one pair when other writers keep changing it.
const ATTEMPTS: u32 = 5;

/// Where the sync reads the time (a test moves it).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// What became of one rate of the document.
enum PairOutcome {
    Changed(RateChange),
    Unchanged,
    AlreadyRecorded,
    Rejected(SkippedEntry),
}

#[derive(Default)]
struct Progress {
    runs: u64,
    consecutive_failures: u32,
    failures: BTreeMap<&'static str, u64>,
    skipped: BTreeMap<&'static str, u64>,
    events_written: u64,
    last_success_at: Option<DateTime<Utc>>,
    last_sync: Option<SyncReport>,
    /// Every pair of the store: its rate and when it took effect.
    pairs: BTreeMap<String, (Rate, DateTime<Utc>)>,
}

struct Inner {
    store: EventStore,
    pipeline: CommandPipeline<CurrencyRate>,
    snapshots: SnapshotPolicy,
    client: reqwest::Client,
    url: String,
    interval: Duration,
    stale_after: chrono::Duration,
    clock: Clock,
    /// One sync at a time in this process (the schedule and `POST /sync`).
    running: tokio::sync::Mutex<()>,
    progress: RwLock<Progress>,
}

/// The currency rate sync; cheap to clone.
#[derive(Clone)]
pub struct CurrencyRateSync {
    inner: Arc<Inner>,
}

impl CurrencyRateSync {
    pub fn new(store: EventStore, settings: &CurrencyRateSyncSettings) -> anyhow::Result<Self> {
        Self::with_clock(store, settings, Arc::new(Utc::now))
    }

    /// A sync that reads the time from `clock`.
    pub fn with_clock(
        store: EventStore,
        settings: &CurrencyRateSyncSettings,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent("shopcore-currency-rate-sync")
            .build()?;
        // Every metric is on /metrics from the start.
        for metric in [&metrics::RUNS, &metrics::FAILURES, &metrics::SKIPPED] {
            std::sync::LazyLock::force(metric);
        }
        std::sync::LazyLock::force(&metrics::STALE);
        std::sync::LazyLock::force(&metrics::CHANGES);
        Ok(Self {
            inner: Arc::new(Inner {
                pipeline: currency_rate_pipeline(store.clone()),
                snapshots: currency_rate_snapshots(),
                store,
                client,
                url: settings.provider_url.clone(),
                interval: settings.interval,
                stale_after: chrono::Duration::from_std(settings.stale_after)
                    .unwrap_or(chrono::Duration::MAX),
                clock,
                running: tokio::sync::Mutex::new(()),
                progress: RwLock::new(Progress::default()),
            }),
        })
    }

    fn now(&self) -> DateTime<Utc> {
        (self.inner.clock)()
    }

    fn progress(&self) -> std::sync::RwLockReadGuard<'_, Progress> {
        self.inner
            .progress
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn progress_mut(&self) -> std::sync::RwLockWriteGuard<'_, Progress> {
        self.inner
            .progress
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one sync now (after the one running, if any) and says what it did. Never fails:
    /// a failure is in the report, logged and counted.
    pub async fn sync_once(&self) -> SyncReport {
        let _running = self.inner.running.lock().await;
        let started = Instant::now();
        let now = self.now();
        let mut report = SyncReport {
            started_at: now,
            ..SyncReport::default()
        };
        let outcome = self.sync_into(&mut report, now).await;
        report.ok = outcome.is_ok();
        report.error = outcome.err();
        if let Err(error) = self.refresh_pairs().await {
            tracing::warn!(%error, "pair ages not refreshed from the event store");
        }
        report.stale_pairs = self
            .ages(now)
            .into_iter()
            .filter(|a| a.stale)
            .map(|a| a.pair)
            .collect();
        report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        metrics::DURATION.observe(started.elapsed().as_secs_f64());
        self.record_outcome(&report, now);
        self.publish_ages();
        report
    }

    fn record_outcome(&self, report: &SyncReport, now: DateTime<Utc>) {
        let mut progress = self.progress_mut();
        progress.runs += 1;
        progress.events_written += report.changed.len() as u64;
        *progress.skipped.entry("unknown_currency").or_default() += report.unknown.len() as u64;
        *progress.skipped.entry("invalid").or_default() += report.invalid.len() as u64;
        match &report.error {
            None => {
                metrics::RUNS.with_label_values(&["ok"]).inc();
                metrics::LAST_SUCCESS.set(now.timestamp() as f64);
                progress.consecutive_failures = 0;
                progress.last_success_at = Some(now);
                tracing::info!(
                    date = %report.document_date.map(|d| d.to_string()).unwrap_or_default(),
                    rates = report.rates,
                    changed = report.changed.len(),
                    unchanged = report.unchanged,
                    already_recorded = report.already_recorded,
                    unknown = report.unknown.len(),
                    invalid = report.invalid.len(),
                    stale = report.stale_pairs.len(),
                    "currency rates synced"
                );
            }
            Some(failure) => {
                metrics::RUNS.with_label_values(&["failed"]).inc();
                metrics::FAILURES.with_label_values(&[failure.reason]).inc();
                progress.consecutive_failures += 1;
                *progress.failures.entry(failure.reason).or_default() += 1;
                tracing::error!(
                    reason = failure.reason,
                    detail = %failure.detail,
                    changed = report.changed.len(),
                    consecutive_failures = progress.consecutive_failures,
                    "currency rate sync failed; retried at the next tick"
                );
            }
        }
        progress.last_sync = Some(report.clone());
    }

    async fn sync_into(
        &self,
        report: &mut SyncReport,
        now: DateTime<Utc>,
    ) -> Result<(), SyncFailure> {
        let xml = self.fetch().await?;
        let document = document::parse(&xml, now.date_naive())
            .map_err(|error| SyncFailure::new(error.reason(), error.to_string()))?;
        let source = format!("ecb:{}", document.date);
        report.document_date = Some(document.date);
        report.source = Some(source.clone());
        report.rates = document.rates.len();
        metrics::SKIPPED
            .with_label_values(&["unknown_currency"])
            .inc_by(document.unknown.len() as u64);
        metrics::SKIPPED
            .with_label_values(&["invalid"])
            .inc_by(document.invalid.len() as u64);
        for entry in &document.invalid {
            tracing::warn!(currency = %entry.currency, reason = %entry.reason, "provider entry left out");
        }
        report.unknown = document.unknown;
        report.invalid = document.invalid;
        let correlation_id = format!("fx-sync-{}", uuid::Uuid::now_v7());
        for (quote, rate) in document.rates {
            let context = RecordContext {
                source: &source,
                date: document.date,
                now,
                correlation_id: &correlation_id,
            };
            match self.record(quote, rate, &context).await? {
                PairOutcome::Changed(change) => {
                    metrics::CHANGES.inc();
                    report.changed.push(change);
                }
                PairOutcome::Unchanged => report.unchanged += 1,
                PairOutcome::AlreadyRecorded => report.already_recorded += 1,
                PairOutcome::Rejected(entry) => report.invalid.push(entry),
            }
        }
        Ok(())
    }

    /// The provider's document as text, bounded in time and size.
    async fn fetch(&self) -> Result<String, SyncFailure> {
        let mut response = self
            .inner
            .client
            .get(&self.inner.url)
            .send()
            .await
            .map_err(request_failure)?;
        let status = response.status();
        if !status.is_success() {
            return Err(SyncFailure::new(
                "http_status",
                format!("the provider answered {status}"),
            ));
        }
        let too_large = || {
            SyncFailure::new(
                "too_large",
                format!("the document is larger than {MAX_DOCUMENT_BYTES} bytes"),
            )
        };
        if response
            .content_length()
            .is_some_and(|length| length > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(request_failure)? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body)
            .map_err(|_| SyncFailure::new("malformed", "malformed: the document is not UTF-8"))
    }

    /// Records one rate of EUR in `quote` unless the pair already has it. The idempotency key
    /// names the change — pair, document, rate and the version it applies to — so a retry or a
    /// second sync making the same change writes it once; the expected version makes a sync
    /// that read the pair before another writer changed it read again instead of writing.
    async fn record(
        &self,
        quote: Currency,
        rate: Rate,
        context: &RecordContext<'_>,
    ) -> Result<PairOutcome, SyncFailure> {
        let pair = CurrencyRate::aggregate_id(ECB_BASE, quote);
        for attempt in 0..ATTEMPTS {
            let loaded = self
                .inner
                .store
                .load::<CurrencyRate>(&self.inner.snapshots, &pair)
                .await
                .map_err(|e| SyncFailure::new("store", format!("{pair}: {e}")))?;
            let previous_rate = loaded.aggregate.rate.map(|r| r.rate);
            if previous_rate == Some(rate) {
                return Ok(if attempt == 0 {
                    PairOutcome::Unchanged
                } else {
                    PairOutcome::AlreadyRecorded
                });
            }
            let key = format!("{}:{pair}:{rate}@{}", context.source, loaded.version);
            let mut command_context = CommandContext::new(COMMAND_TYPE, context.correlation_id);
            command_context.actor = ACTOR.to_owned();
            command_context.expected_version = Some(loaded.version);
            command_context.request_fingerprint = Some(sha2::Sha256::digest(&key).to_vec());
            command_context.idempotency_key = Some(key);
            let command = CurrencyRateCommand::SetFxRate {
                base: ECB_BASE,
                quote,
                rate,
                source: context.source.to_owned(),
                now: context.now,
            };
            match self
                .inner
                .pipeline
                .execute(&pair, command, &command_context)
                .await
            {
                Ok(outcome) if outcome.replayed => return Ok(PairOutcome::AlreadyRecorded),
                Ok(outcome) if outcome.events_written > 0 => {
                    tracing::info!(
                        %pair, %rate,
                        previous_rate = %previous_rate.map_or_else(|| "none".to_owned(), |r| r.to_string()),
                        version = outcome.version, date = %context.date,
                        "currency rate changed"
                    );
                    return Ok(PairOutcome::Changed(RateChange {
                        pair,
                        rate,
                        previous_rate,
                        version: outcome.version,
                    }));
                }
                Ok(_) => return Ok(PairOutcome::Unchanged),
                Err(CommandError::VersionConflict { .. } | CommandError::IdempotencyKeyInUse) => {
                    // Another writer is at this pair: read it again.
                    tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
                }
                Err(CommandError::Rejected { message, .. }) => {
                    tracing::warn!(%pair, %rate, reason = %message, "currency rate refused by the pair");
                    return Ok(PairOutcome::Rejected(SkippedEntry {
                        currency: quote.code().to_owned(),
                        reason: message,
                    }));
                }
                Err(error) => {
                    return Err(SyncFailure::new("store", format!("{pair}: {error}")));
                }
            }
        }
        Err(SyncFailure::new(
            "contention",
            format!("{pair} changed under the sync {ATTEMPTS} times in a row"),
        ))
    }

    /// Reads every pair's current rate from the event store (the last event of each).
    async fn refresh_pairs(&self) -> Result<(), sqlx::Error> {
        let rows: Vec<(String, serde_json::Value)> = sqlx::query_as(
            "SELECT DISTINCT ON (aggregate_id) aggregate_id, payload FROM events
             WHERE aggregate_type = $1 ORDER BY aggregate_id, sequence DESC",
        )
        .bind(<CurrencyRate as cqrs_es::Aggregate>::TYPE)
        .fetch_all(self.inner.store.pool())
        .await?;
        let mut pairs = BTreeMap::new();
        for (id, payload) in rows {
            match serde_json::from_value::<CurrencyRateEvent>(payload) {
                Ok(CurrencyRateEvent::FxRateChanged {
                    rate, changed_at, ..
                }) => {
                    pairs.insert(id, (rate, changed_at));
                }
                Err(error) => {
                    tracing::warn!(pair = %id, %error, "currency rate event not decoded; its age is not reported");
                }
            }
        }
        self.progress_mut().pairs = pairs;
        Ok(())
    }

    /// Every known pair's age at `now`.
    fn ages(&self, now: DateTime<Utc>) -> Vec<PairAge> {
        self.progress()
            .pairs
            .iter()
            .map(|(pair, (rate, changed_at))| PairAge {
                pair: pair.clone(),
                rate: *rate,
                changed_at: *changed_at,
                age_seconds: now.signed_duration_since(*changed_at).num_seconds(),
                stale: rate_is_stale(*changed_at, now, self.inner.stale_after),
            })
            .collect()
    }

    /// Sets the age and staleness gauges to what they are now.
    pub fn publish_ages(&self) {
        let ages = self.ages(self.now());
        for age in &ages {
            metrics::AGE
                .with_label_values(&[age.pair.as_str()])
                .set(age.age_seconds as f64);
        }
        metrics::STALE.set(ages.iter().filter(|a| a.stale).count() as i64);
    }

    /// What the sync knows now, from what the last sync read (see [`Self::status`]).
    pub fn cached_status(&self) -> SyncStatus {
        let now = self.now();
        let pairs = self.ages(now);
        let progress = self.progress();
        let state = match &progress.last_sync {
            None => SyncState::Starting,
            Some(report) if report.ok => SyncState::Synced,
            Some(_) => SyncState::Failing,
        };
        SyncStatus {
            state,
            runs: progress.runs,
            consecutive_failures: progress.consecutive_failures,
            failures: progress.failures.clone(),
            skipped: progress.skipped.clone(),
            events_written: progress.events_written,
            last_success_at: progress.last_success_at,
            last_sync: progress.last_sync.clone(),
            stale_after_seconds: self.inner.stale_after.num_seconds(),
            stale_pairs: pairs
                .iter()
                .filter(|a| a.stale)
                .map(|a| a.pair.clone())
                .collect(),
            pairs,
        }
    }

    /// What the sync knows now, every pair read afresh from the event store (a pair changed
    /// over gRPC since the last sync included).
    pub async fn status(&self) -> SyncStatus {
        if let Err(error) = self.refresh_pairs().await {
            tracing::warn!(%error, "pair ages not refreshed from the event store");
        }
        self.publish_ages();
        self.cached_status()
    }

    /// Syncs now and then every interval, and keeps the age gauges current, until `shutdown`
    /// turns true. A sync under way when it does is finished first.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(
            interval = %humantime::format_duration(self.inner.interval),
            "currency rate sync starting"
        );
        let mut ages = tokio::time::interval(Duration::from_secs(10));
        ages.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut next = tokio::time::Instant::now();
        while !*shutdown.borrow() {
            tokio::select! {
                () = tokio::time::sleep_until(next) => {
                    self.sync_once().await;
                    next = tokio::time::Instant::now() + self.inner.interval;
                }
                _ = ages.tick() => self.publish_ages(),
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        tracing::info!("currency rate sync stopped");
    }
}

/// What every command of one sync shares.
struct RecordContext<'a> {
    source: &'a str,
    date: NaiveDate,
    now: DateTime<Utc>,
    correlation_id: &'a str,
}

fn request_failure(error: reqwest::Error) -> SyncFailure {
    let reason = if error.is_timeout() {
        "timeout"
    } else {
        "unreachable"
    };
    // Without the URL: it may carry credentials.
    SyncFailure::new(reason, format!("the provider: {}", error.without_url()))
}
