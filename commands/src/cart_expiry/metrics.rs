//! Prometheus metrics of the cart expiry sweep.

use std::sync::LazyLock;

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts};

fn register<T: prometheus::core::Collector + Clone + 'static>(metric: T) -> T {
    // Registration fails only for a duplicate name, which the LazyLock statics rule out.
    let _ = prometheus::register(Box::new(metric.clone()));
    metric
}

pub(super) static EXPIRED: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "shopcore_cart_expiry_expired_total",
            "Carts this sweep expired (it appended their CartExpired)",
        )
        .expect("valid metric"),
    )
});

pub(super) static SKIPPED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "shopcore_cart_expiry_skipped_total",
                "Carts the read model listed as due that this sweep did not expire, by reason: already_expired (another sweeper, or an earlier round, wrote CartExpired), not_yet_expired (a change slid its expiry after the read model listed it), checked_out, merged, unknown (no such cart in the event store)",
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
                "shopcore_cart_expiry_failures_total",
                "Failures, retried at the next round, by reason: read_model (MySQL), event_store, rejected (the aggregate refused for another reason), conflict (version conflicts on every attempt), cache (the Redis removal; the cart_redis projector removes the entry too)",
            ),
            &["reason"],
        )
        .expect("valid metric"),
    )
});

pub(super) static CONFLICTS: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "shopcore_cart_expiry_conflicts_total",
            "Version conflicts met while expiring (another writer appended first); each is decided again on the new version",
        )
        .expect("valid metric"),
    )
});

pub(super) static DUE: LazyLock<IntGauge> = LazyLock::new(|| {
    register(
        IntGauge::new(
            "shopcore_cart_expiry_due",
            "Open carts past their expiry the read model listed at the last round (those this process already closed, awaiting the projection, left out)",
        )
        .expect("valid metric"),
    )
});

pub(super) static ROUND_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register(
        Histogram::with_opts(
            HistogramOpts::new(
                "shopcore_cart_expiry_round_duration_seconds",
                "Time of one round: the look for due carts and their Expire commands",
            )
            .buckets(vec![
                0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
        )
        .expect("valid metric"),
    )
});
