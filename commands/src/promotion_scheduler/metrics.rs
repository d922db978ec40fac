//! Prometheus metrics of the promotion scheduler.

use std::sync::LazyLock;

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts};

fn register<T: prometheus::core::Collector + Clone + 'static>(metric: T) -> T {
    // Registration fails only for a duplicate name, which the LazyLock statics rule out.
    let _ = prometheus::register(Box::new(metric.clone()));
    metric
}

pub(super) static ACTIVATIONS: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "shopcore_promotion_scheduler_activations_total",
            "Scheduled activations this scheduler issued that switched a promotion on (wrote PromotionActivated)",
        )
        .expect("valid metric"),
    )
});

pub(super) static SKIPPED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "shopcore_promotion_scheduler_skipped_total",
                "Due promotions not activated by this scheduler, by reason: already_active (another scheduler or a person got there first), not_scheduled (cancelled or moved since the read model said so), ended (the window ended before the scheduler saw it; counted once per promotion and instant)",
            ),
            &["reason"],
        )
        .expect("valid metric"),
    )
});

pub(super) static FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "shopcore_promotion_scheduler_failures_total",
                "Failures, retried on the next tick, by reason: read_model (MySQL), event_store, rejected (the aggregate refused for another reason), busy (another scheduler held the activation), conflict (retries of a version conflict exhausted)",
            ),
            &["reason"],
        )
        .expect("valid metric"),
    )
});

pub(super) static CONFLICTS: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "shopcore_promotion_scheduler_conflicts_total",
            "Version conflicts met while activating (another writer appended first); each is retried after reloading",
        )
        .expect("valid metric"),
    )
});

pub(super) static DUE: LazyLock<IntGauge> = LazyLock::new(|| {
    register(
        IntGauge::new(
            "shopcore_promotion_scheduler_due",
            "Due, inactive, not yet ended promotions the read model listed at the last tick",
        )
        .expect("valid metric"),
    )
});

pub(super) static TICK_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register(
        Histogram::with_opts(
            HistogramOpts::new(
                "shopcore_promotion_scheduler_tick_duration_seconds",
                "Time of one look for due promotions and their activations",
            )
            .buckets(vec![
                0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )
        .expect("valid metric"),
    )
});
