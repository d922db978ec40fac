//! The cart expiry sweep: closes carts whose `expiresAt` has passed, exactly once, and takes
//! them out of the Redis cart cache.
//!
//! Every `CART_EXPIRY_INTERVAL` it asks the MySQL read model for open carts past their expiry
//! (`CartReadModel::due_for_expiry`) and issues each one's `Expire` through the cart's command
//! pipeline in this process ([`expire`], [`crate::cart::expiry_pipeline`]: `Expire` never
//! prices), actor [`ACTOR`]; for every cart that is expired then, it writes the cache's
//! tombstone ([`cache`]).
//!
//! **The aggregate is the authority.** From the instant `expiresAt` passes, the aggregate
//! refuses every write (`Gone`) and readers report the cart as expired, sweep or no sweep; the
//! sweep only records it (`CartExpired`, for the read models, Kafka and the activity history).
//! The read model only says where to look: a cart whose expiry slid after the read model listed
//! it (the read model was behind) is refused as not yet expired and left open; a checked-out or
//! merged one is left alone.
//!
//! **Exactly once, with any number of sweepers** (no leader; run two for availability): an
//! expired cart records nothing, and two racing `Expire` commands meet at the event store's
//! version check — one appends, the other decides again and finds it expired. A sweeper killed
//! part-way loses nothing: what it did not expire is still listed at the next round, by it or
//! another.
//!
//! **A lagging read model.** Carts this process closed stay listed until the projector applies
//! their events; the next rounds skip them (asking for that many more), so a slow or halted
//! projector does not make the sweep go round the same carts. MySQL, Redis or the event store
//! down: the round (or the cart) fails, is counted, `/readyz` answers 503 naming it, and the
//! next round tries again; the process never exits for it.
//!
//! [`scenario`] is `shopcore-commands cart-ttl-scenario` (`tests/scenarios/cart_ttl`): the TTL
//! disagreement between the stores reproduced against a running deployment.

pub mod cache;
pub mod expire;
mod metrics;
pub mod scenario;
pub mod settings;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use redis::aio::ConnectionManager;
use serde::Serialize;
use serde_json::json;
use shopcore_domain::cart::{Cart, CartSettings};
use shopcore_event_store::EventStore;
use shopcore_projections::cart::read_model::{CartReadError, CartReadModel};
use shopcore_telemetry::process::{ops_router, Readiness};
use tokio::net::TcpListener;
use tokio::sync::watch;
use uuid::Uuid;

use crate::pipeline::CommandPipeline;
use expire::{expire, Expiry};
pub use settings::CartExpirySettings;

/// The actor of the sweep's commands, as their events record it.
pub const ACTOR: &str = "cart-expiry-sweep";

/// At most this many carts (times the batch size) are remembered as closed while the read
/// model still lists them.
const REMEMBERED_BATCHES: usize = 10;

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoundReport {
    /// Due carts the read model listed, less those this process closed already.
    pub due: usize,
    /// Carts this round expired (it wrote their `CartExpired`).
    pub expired: usize,
    pub already_expired: usize,
    pub not_yet_expired: usize,
    /// Checked out, merged, or unknown to the event store.
    pub not_open: usize,
    /// Carts that failed and wait for the next round.
    pub failed: usize,
    /// Expired carts whose Redis entry could not be replaced (the projector does it too).
    pub cache_failures: usize,
}

/// The read model could not be read; nothing was expired this round.
#[derive(Debug, thiserror::Error)]
#[error("the cart read model could not be read: {0}")]
pub struct ReadModelUnavailable(#[from] CartReadError);

/// What `/readyz` reports.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct SweepStatus {
    last_round_at: Option<DateTime<Utc>>,
    /// The dependency that failed at the last round (never a driver error).
    failing: Option<&'static str>,
    last_round: RoundReport,
}

/// The sweep over one event store and the cart read models.
pub struct CartExpirySweep {
    pipeline: CommandPipeline<Cart>,
    read_model: CartReadModel,
    redis: ConnectionManager,
    redis_prefix: String,
    batch_size: u32,
    concurrency: usize,
    interval: Duration,
    status: Arc<RwLock<SweepStatus>>,
    /// Carts this process closed (or found closed) that the read model may still list: `None`
    /// for good, `Some(until)` for one found open until then.
    closed: Mutex<HashMap<Uuid, Option<DateTime<Utc>>>>,
}

impl CartExpirySweep {
    /// Connects to Redis (MySQL lazily: MySQL down at start is a failed round, not a failed
    /// start).
    pub async fn connect(
        store: EventStore,
        settings: &CartExpirySettings,
        carts: CartSettings,
    ) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let mysql = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy(&settings.mysql_url)
            .context("while configuring the MySQL pool")?;
        let redis = shopcore_projections::stores::connect_redis(&settings.redis_url).await?;
        let read_model = CartReadModel::new(mysql, redis.clone(), &settings.redis_key_prefix);
        Ok(Self::with_read_model(
            store, read_model, redis, settings, carts,
        ))
    }

    pub fn with_read_model(
        store: EventStore,
        read_model: CartReadModel,
        redis: ConnectionManager,
        settings: &CartExpirySettings,
        carts: CartSettings,
    ) -> Self {
        Self {
            pipeline: crate::cart::expiry_pipeline(store, carts),
            read_model,
            redis,
            redis_prefix: settings.redis_key_prefix.clone(),
            batch_size: settings.batch_size.max(1),
            concurrency: settings.concurrency.max(1),
            interval: settings.interval,
            status: Arc::default(),
            closed: Mutex::default(),
        }
    }

    /// One look for due carts and their `Expire` commands.
    pub async fn round(&self) -> Result<RoundReport, ReadModelUnavailable> {
        let started = Instant::now();
        let result = self.round_inner().await;
        metrics::ROUND_SECONDS.observe(started.elapsed().as_secs_f64());
        let mut status = self.status.write().expect("status lock");
        status.last_round_at = Some(Utc::now());
        match &result {
            Ok(report) => {
                status.failing = if report.failed > 0 {
                    Some("expiries")
                } else if report.cache_failures > 0 {
                    Some("cache")
                } else {
                    None
                };
                status.last_round = report.clone();
            }
            Err(_) => status.failing = Some("read_model"),
        }
        result
    }

    /// The carts to expire this round: those listed due, less those known closed.
    async fn due(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>, ReadModelUnavailable> {
        let known: HashMap<Uuid, Option<DateTime<Utc>>> = self.closed.lock().expect("lock").clone();
        let limit = self
            .batch_size
            .saturating_add(u32::try_from(known.len()).unwrap_or(u32::MAX));
        let listed = self
            .read_model
            .due_for_expiry(now, limit)
            .await
            .inspect_err(|error| {
                metrics::FAILURES.with_label_values(&["read_model"]).inc();
                tracing::warn!(%error, "due carts not read; retrying at the next round");
            })?;
        if listed.len() < limit as usize {
            // A complete listing: forget the carts the read model no longer lists.
            let listed: std::collections::HashSet<Uuid> =
                listed.iter().map(|(id, _)| *id).collect();
            self.closed
                .lock()
                .expect("lock")
                .retain(|id, _| listed.contains(id));
        }
        let mut due: Vec<Uuid> = listed
            .into_iter()
            .map(|(id, _)| id)
            .filter(|id| match known.get(id) {
                Some(None) => false,
                Some(Some(until)) => now >= *until,
                None => true,
            })
            .collect();
        due.truncate(self.batch_size as usize);
        Ok(due)
    }

    fn remember(&self, cart_id: Uuid, until: Option<DateTime<Utc>>) {
        let mut closed = self.closed.lock().expect("lock");
        if closed.len() < REMEMBERED_BATCHES * self.batch_size as usize {
            closed.insert(cart_id, until);
        }
    }

    async fn round_inner(&self) -> Result<RoundReport, ReadModelUnavailable> {
        let due = self.due(Utc::now()).await?;
        metrics::DUE.set(i64::try_from(due.len()).unwrap_or(i64::MAX));
        let mut report = RoundReport {
            due: due.len(),
            ..RoundReport::default()
        };
        let outcomes: Vec<(Uuid, _)> = futures::stream::iter(due)
            .map(|cart_id| async move {
                let outcome = expire(&self.pipeline, cart_id, ACTOR).await;
                let removed = match outcome {
                    Ok(
                        Expiry::Expired { version, position }
                        | Expiry::AlreadyExpired { version, position },
                    ) => {
                        let mut redis = self.redis.clone();
                        cache::remove_expired(
                            &mut redis,
                            &self.redis_prefix,
                            cart_id,
                            version,
                            position,
                        )
                        .await
                    }
                    _ => Ok(()),
                };
                (cart_id, (outcome, removed))
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        for (cart_id, (outcome, removed)) in outcomes {
            if let Err(error) = removed {
                metrics::FAILURES.with_label_values(&["cache"]).inc();
                report.cache_failures += 1;
                tracing::warn!(
                    cart_id = %cart_id,
                    %error,
                    "expired cart not removed from the cache; the cart_redis projector removes it"
                );
            }
            match outcome {
                Ok(Expiry::Expired { version, .. }) => {
                    metrics::EXPIRED.inc();
                    report.expired += 1;
                    self.remember(cart_id, None);
                    tracing::info!(cart_id = %cart_id, version, "cart expired");
                }
                Ok(skipped) => {
                    metrics::SKIPPED.with_label_values(&[skipped.label()]).inc();
                    match skipped {
                        Expiry::AlreadyExpired { .. } => report.already_expired += 1,
                        Expiry::NotYetExpired { .. } => report.not_yet_expired += 1,
                        _ => report.not_open += 1,
                    }
                    let until = match skipped {
                        Expiry::NotYetExpired { expires_at } => {
                            Some(expires_at.unwrap_or(DateTime::<Utc>::MAX_UTC))
                        }
                        _ => None,
                    };
                    self.remember(cart_id, until);
                    tracing::info!(
                        cart_id = %cart_id,
                        outcome = skipped.label(),
                        "due cart not expired by this sweep"
                    );
                }
                Err(failure) => {
                    metrics::FAILURES
                        .with_label_values(&[failure.label()])
                        .inc();
                    report.failed += 1;
                    tracing::warn!(
                        cart_id = %cart_id,
                        error = %failure,
                        "cart not expired; retrying at the next round"
                    );
                }
            }
        }
        Ok(report)
    }

    /// Runs a round every interval until `shutdown` turns true; a failed round is retried at
    /// the next.
    pub async fn run(&self, shutdown: watch::Receiver<bool>) {
        crate::periodic::every("cart expiry sweep", self.interval, shutdown, || {
            self.round()
        })
        .await;
    }

    /// Serves `/metrics`, `/healthz` and `/readyz` (503 before the first good round and while
    /// the read model cannot be read) on `listener`.
    pub fn serve_ops(&self, listener: TcpListener) {
        let status = self.status.clone();
        let router = ops_router(Arc::new(move || {
            let status = status.read().expect("status lock").clone();
            Box::pin(async move {
                let ready = status.last_round_at.is_some() && status.failing != Some("read_model");
                Readiness {
                    ready,
                    body: json!({ "ready": ready, "cartExpirySweep": status }),
                }
            })
        }));
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "cart expiry sweep ops server stopped");
            }
        });
    }
}
