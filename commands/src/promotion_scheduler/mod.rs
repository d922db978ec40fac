//! The promotion scheduler: switches promotions on when their scheduled start time arrives.
//!
//! Every `PROMOTION_SCHEDULER_INTERVAL` it asks the MySQL read model for promotions that are
//! scheduled, due and not active ([`due`]) and issues each one's activation through the
//! promotion's command pipeline ([`activation`]), actor [`ACTOR`]. The read model only says
//! where to look: the aggregate decides, activating only while it is still scheduled for that
//! instant, so a lagging or halted read model activates nothing early, late-cancelled or twice.
//!
//! **Exactly once, with any number of schedulers.** Activation is idempotent (an active
//! promotion records nothing), appends check the aggregate's version (of two racing appends one
//! fails, reloads and finds the promotion active), and the idempotency key of promotion id and
//! instant makes a second scheduler wait for and reuse the first one's result. No leader is
//! needed: run two for availability.
//!
//! **Failures.** MySQL or the event store down: the tick is counted as failed, `/readyz`
//! answers 503 naming the dependency, and the next tick tries again; the process never exits
//! for it. A promotion whose window ended before it was activated is not activated; it is
//! logged and counted once (per process) as `ended`.

pub mod activation;
pub mod due;
mod metrics;
pub mod settings;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use serde::Serialize;
use serde_json::json;
use shopcore_domain::pricing::Promotion;
use shopcore_event_store::EventStore;
use shopcore_telemetry::process::{ops_router, Readiness};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::grpc::pricing::promotion::promotion_pipeline;
use crate::pipeline::CommandPipeline;
use activation::{activate, Activation};
use due::{DuePromotion, ScheduleReadModel};
pub use settings::PromotionSchedulerSettings;

/// The actor of the scheduler's commands, as their events record it.
pub const ACTOR: &str = "promotion-scheduler";

/// Activations run at the same time within one tick.
const CONCURRENCY: usize = 8;

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TickReport {
    /// Due promotions the read model listed.
    pub due: usize,
    pub activated: usize,
    pub already_active: usize,
    pub not_scheduled: usize,
    /// Ended before activation, reported for the first time by this process.
    pub ended: usize,
    /// Activations that failed and wait for the next tick.
    pub failed: usize,
}

/// The read model could not be read; nothing was activated this tick.
#[derive(Debug, thiserror::Error)]
#[error("the promotion read model could not be read: {0}")]
pub struct ReadModelUnavailable(#[from] sqlx::Error);

/// What `/readyz` reports.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct SchedulerStatus {
    last_tick_at: Option<DateTime<Utc>>,
    /// The dependency that failed at the last tick (never a driver error).
    failing: Option<&'static str>,
    last_tick: TickReport,
}

/// The scheduler over one event store and its MySQL read model.
pub struct PromotionScheduler {
    pipeline: CommandPipeline<Promotion>,
    read_model: ScheduleReadModel,
    batch_size: u32,
    interval: std::time::Duration,
    status: Arc<RwLock<SchedulerStatus>>,
    /// (promotion, instant) already reported as ended, so each is counted once.
    reported_ended: Mutex<HashSet<(String, i64)>>,
}

impl PromotionScheduler {
    pub fn new(store: EventStore, settings: &PromotionSchedulerSettings) -> anyhow::Result<Self> {
        let read_model = ScheduleReadModel::connect_lazy(&settings.mysql_url)
            .map_err(|e| anyhow::anyhow!("while configuring the MySQL pool: {e}"))?;
        Ok(Self::with_read_model(store, read_model, settings))
    }

    pub fn with_read_model(
        store: EventStore,
        read_model: ScheduleReadModel,
        settings: &PromotionSchedulerSettings,
    ) -> Self {
        Self {
            pipeline: promotion_pipeline(store),
            read_model,
            batch_size: settings.batch_size.max(1),
            interval: settings.interval,
            status: Arc::default(),
            reported_ended: Mutex::default(),
        }
    }

    /// One look for due promotions and their activations.
    pub async fn tick(&self) -> Result<TickReport, ReadModelUnavailable> {
        let started = Instant::now();
        let result = self.tick_inner().await;
        metrics::TICK_SECONDS.observe(started.elapsed().as_secs_f64());
        let mut status = self.status.write().expect("status lock");
        status.last_tick_at = Some(Utc::now());
        match &result {
            Ok(report) => {
                status.failing = (report.failed > 0).then_some("activations");
                status.last_tick = report.clone();
            }
            Err(_) => status.failing = Some("read_model"),
        }
        result
    }

    async fn tick_inner(&self) -> Result<TickReport, ReadModelUnavailable> {
        let now = Utc::now();
        let due = self
            .read_model
            .due(now, self.batch_size)
            .await
            .inspect_err(|error| {
                metrics::FAILURES.with_label_values(&["read_model"]).inc();
                tracing::warn!(%error, "due promotions not read; retrying at the next tick");
            })?;
        metrics::DUE.set(i64::try_from(due.len()).unwrap_or(i64::MAX));
        let mut report = TickReport {
            due: due.len(),
            ..TickReport::default()
        };
        let outcomes: Vec<(DuePromotion, _)> = futures::stream::iter(due)
            .map(|promotion| async move {
                let outcome = activate(&self.pipeline, &promotion, ACTOR).await;
                (promotion, outcome)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for (promotion, outcome) in outcomes {
            match outcome {
                Ok(Activation::Activated) => {
                    metrics::ACTIVATIONS.inc();
                    report.activated += 1;
                    tracing::info!(
                        promotion_id = %promotion.promotion_id,
                        scheduled_for = %promotion.scheduled_for,
                        "scheduled promotion activated"
                    );
                }
                Ok(Activation::Ended) => {
                    if self.report_ended(&promotion) {
                        report.ended += 1;
                    }
                }
                Ok(skipped) => {
                    metrics::SKIPPED.with_label_values(&[skipped.label()]).inc();
                    if skipped == Activation::AlreadyActive {
                        report.already_active += 1;
                    } else {
                        report.not_scheduled += 1;
                    }
                    tracing::info!(
                        promotion_id = %promotion.promotion_id,
                        outcome = skipped.label(),
                        "scheduled activation not needed"
                    );
                }
                Err(failure) => {
                    metrics::FAILURES
                        .with_label_values(&[failure.label()])
                        .inc();
                    report.failed += 1;
                    tracing::warn!(
                        promotion_id = %promotion.promotion_id,
                        error = %failure,
                        "scheduled activation failed; retrying at the next tick"
                    );
                }
            }
        }
        report.ended += self.report_lapsed(now).await?;
        Ok(report)
    }

    /// Logs and counts an ended promotion the first time this process meets it.
    fn report_ended(&self, promotion: &DuePromotion) -> bool {
        let key = (
            promotion.promotion_id.clone(),
            promotion.scheduled_for.timestamp_micros(),
        );
        if !self.reported_ended.lock().expect("lock").insert(key) {
            return false;
        }
        metrics::SKIPPED.with_label_values(&["ended"]).inc();
        tracing::warn!(
            promotion_id = %promotion.promotion_id,
            scheduled_for = %promotion.scheduled_for,
            valid_until = %promotion.valid_until,
            "scheduled promotion not activated: its window ended before the scheduler saw it"
        );
        true
    }

    /// Reports the scheduled promotions whose window has ended; returns how many were new.
    async fn report_lapsed(&self, now: DateTime<Utc>) -> Result<usize, ReadModelUnavailable> {
        let lapsed = self
            .read_model
            .lapsed(now, self.batch_size)
            .await
            .inspect_err(|error| {
                metrics::FAILURES.with_label_values(&["read_model"]).inc();
                tracing::warn!(%error, "ended promotions not read; retrying at the next tick");
            })?;
        let complete = lapsed.len() < self.batch_size as usize;
        let new = lapsed.iter().filter(|p| self.report_ended(p)).count();
        if complete {
            // Forget what the read model no longer lists (rescheduled, cancelled, activated).
            let listed: HashSet<(String, i64)> = lapsed
                .iter()
                .map(|p| (p.promotion_id.clone(), p.scheduled_for.timestamp_micros()))
                .collect();
            self.reported_ended
                .lock()
                .expect("lock")
                .retain(|key| listed.contains(key));
        }
        Ok(new)
    }

    /// Ticks every interval until `shutdown` turns true; a failed tick is retried at the next.
    pub async fn run(&self, shutdown: watch::Receiver<bool>) {
        crate::periodic::every("promotion scheduler", self.interval, shutdown, || {
            self.tick()
        })
        .await;
    }

    /// Serves `/metrics`, `/healthz` and `/readyz` (503 before the first good tick and while the
    /// read model cannot be read) on `listener`.
    pub fn serve_ops(&self, listener: TcpListener) {
        let status = self.status.clone();
        let router = ops_router(Arc::new(move || {
            let status = status.read().expect("status lock").clone();
            Box::pin(async move {
                let ready = status.last_tick_at.is_some() && status.failing != Some("read_model");
                Readiness {
                    ready,
                    body: json!({ "ready": ready, "promotionScheduler": status }),
                }
            })
        }));
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "promotion scheduler ops server stopped");
            }
        });
    }
}
