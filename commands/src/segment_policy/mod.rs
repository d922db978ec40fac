//! The segment policy: recalculates a customer's segment after each of their checkouts
//! (the plan's `customer.segment.recalculated`).
//!
//! **The rule** ([`shopcore_domain::customer::recalculation`]): a customer is in the policy's
//! segment (`SEGMENT_VIP_SEGMENT`, `vip`) while the spend of their checkouts of the last
//! `SEGMENT_WINDOW_DAYS` (365) days, up to and including the checkout being handled, reaches
//! `SEGMENT_VIP_THRESHOLD_MINOR` (100000 = 1000.00) of `SEGMENT_BASE_CURRENCY` (EUR). The spend
//! is the checkouts' `total` (after discounts), each converted into the base currency with the
//! FX rates as the log held them at that checkout (direct pair, inverse pair, or a cross rate
//! through `FX_BASE_CURRENCY`), rounded half-even once. Only that segment is ever added or
//! removed; an operator's segments stay. Falling below the threshold is noticed at the
//! customer's next checkout, not when an old checkout leaves the window.
//!
//! **FX rates.** The policy keeps its own small view of the rates, from the `FxRateChanged`
//! events of the same log, recorded in the same transaction as the checkouts. So a checkout is
//! converted with the rates in force at its place in the log — the same on every replay — and
//! the policy depends on nothing but the event store. A checkout whose currency no rate
//! converts is recorded as *uncounted*: logged at `error`, counted in
//! `shopcore_segment_policy_uncounted_checkouts_total{currency}`, shown in `/readyz`, carried
//! as `checkoutsUncounted` in the event, and never added to any spend (a rate set later does
//! not count it after the fact). While a window holds such a checkout the customer may gain
//! the segment but never loses it.
//!
//! **Exactly once per checkout.** The policy is a checkpointed consumer of the event store's
//! tail loop ([`consumer`]); its checkpoint is a row of `relay_checkpoints` (name
//! `SEGMENT_POLICY_NAME`, moved forward only from where this instance read it, like the relay's
//! and the media worker's). Its records ([`ledger`]) are keyed by the checkout's event id and
//! written before the commands, the checkpoint after them. A crash between the command and
//! the checkpoint repeats the batch: the records are there, and the customer — which keeps the
//! log place of the last checkout it recalculated for — writes nothing for a checkout it has
//! seen. A replay from position 0, or under a new name, writes nothing new either.

pub mod consumer;
pub mod ledger;
mod metrics;
pub mod settings;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;
use shopcore_domain::customer::SpendRule;
use shopcore_domain::money::Currency;
use shopcore_event_store::tail::{SharedStatus, Step, StepError, TailLoop, TailMetrics};
use shopcore_event_store::{EventStore, GlobalLog};
use shopcore_telemetry::process::{ops_router, Readiness};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::grpc::customer::customer_pipeline;
use consumer::SegmentRecalculator;
use ledger::SpendLedger;
pub use settings::SegmentPolicySettings;

/// The actor of the policy's commands, as their events record it.
pub const ACTOR: &str = "segment-policy";

/// The command type of the policy's recalculations.
pub const COMMAND_TYPE: &str = "customer.recalculate_segments";

/// The segment policy: its consumer and the tail loop that drives it.
pub struct SegmentPolicy {
    tail: TailLoop,
    rule: SpendRule,
    uncounted: Arc<AtomicI64>,
}

impl SegmentPolicy {
    /// A policy named `name` applying `rule` to the checkouts of `store`'s log; cross rates go
    /// through `fx_base`.
    pub fn new(
        store: EventStore,
        rule: SpendRule,
        fx_base: Option<Currency>,
        name: &str,
        batch_size: u32,
    ) -> Self {
        metrics::register_all();
        let uncounted = Arc::new(AtomicI64::new(0));
        let recalculator = Arc::new(SegmentRecalculator {
            name: name.to_owned(),
            rule: rule.clone(),
            fx_base,
            ledger: SpendLedger::new(store.pool().clone(), name),
            pipeline: customer_pipeline(store.clone()),
            rates: Mutex::new(None),
            uncounted: uncounted.clone(),
        });
        let log = GlobalLog::new(store.pool().clone());
        let tail = TailLoop::new(log, recalculator, batch_size, TailMetrics::projector(name));
        Self {
            tail,
            rule,
            uncounted,
        }
    }

    /// The policy as the settings describe it.
    pub fn from_settings(
        store: EventStore,
        settings: &SegmentPolicySettings,
        fx_base: Option<Currency>,
    ) -> anyhow::Result<Self> {
        Ok(Self::new(
            store,
            settings.rule()?,
            fx_base,
            &settings.name,
            settings.batch_size,
        ))
    }

    pub fn status(&self) -> SharedStatus {
        self.tail.status()
    }

    /// Handles the next batch of the log, for tests and replays.
    pub async fn step(&self) -> Result<Step, StepError> {
        self.tail.step().await
    }

    /// Runs until `shutdown` turns true.
    pub async fn run(&self, shutdown: watch::Receiver<bool>) {
        tracing::info!(rule = ?self.rule, "segment policy starting");
        self.tail.run(shutdown).await;
        tracing::info!("segment policy stopped");
    }

    /// Serves `/metrics`, `/healthz` and `/readyz` (503 while halted or failing) on `listener`.
    pub fn serve_ops(&self, listener: TcpListener) {
        let status = self.status();
        let rule = self.rule.clone();
        let uncounted = self.uncounted.clone();
        let router = ops_router(Arc::new(move || {
            let status = status.read().expect("status lock").clone();
            let body = json!({
                "rule": rule,
                "uncountedCheckouts": uncounted.load(Ordering::SeqCst),
            });
            Box::pin(async move {
                let ready = status.state.is_ready();
                Readiness {
                    ready,
                    body: json!({
                        "ready": ready,
                        "segmentPolicy": status.for_readiness(),
                        "policy": body,
                    }),
                }
            })
        }));
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "segment policy ops server stopped");
            }
        });
    }
}
