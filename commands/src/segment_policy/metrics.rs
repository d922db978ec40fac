//! Prometheus metrics of the segment policy (its tail loop reports as
//! `shopcore_projection_*{projector="segment-policy"}`).

use std::sync::LazyLock;

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts};

fn register<T: prometheus::core::Collector + Clone + 'static>(metric: T) -> T {
    // Registration fails only for a duplicate name, which the LazyLock statics rule out.
    let _ = prometheus::register(Box::new(metric.clone()));
    metric
}

pub(super) static CHECKOUTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "shopcore_segment_policy_checkouts_total",
                "Checkouts the segment policy handled, by outcome: recalculated (CustomerSegmentRecalculated written), already_applied (recalculated for before: a replay or a restart), guest (no customer, ignored), unknown_customer, rejected (the customer refused the recalculation, e.g. no segment slot left)",
            ),
            &["outcome"],
        )
        .expect("valid metric"),
    )
});

pub(super) static UNCOUNTED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "shopcore_segment_policy_uncounted_checkouts_total",
                "Checkouts recorded without a base-currency amount because no FX rate converted their currency: never counted in any spend, by currency",
            ),
            &["currency"],
        )
        .expect("valid metric"),
    )
});

pub(super) static UNCOUNTED_RECORDED: LazyLock<IntGauge> = LazyLock::new(|| {
    register(
        IntGauge::new(
            "shopcore_segment_policy_uncounted_checkouts",
            "Checkouts in the policy's records that were never counted (no FX rate at the time)",
        )
        .expect("valid metric"),
    )
});

pub(super) static CONFLICTS: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "shopcore_segment_policy_conflicts_total",
            "Version conflicts met while recalculating (another writer appended to the customer first); each is retried after reloading",
        )
        .expect("valid metric"),
    )
});

/// Registers every metric, so `/metrics` lists them (at zero) before the first checkout.
pub(super) fn register_all() {
    LazyLock::force(&CHECKOUTS);
    LazyLock::force(&UNCOUNTED);
    LazyLock::force(&UNCOUNTED_RECORDED);
    LazyLock::force(&CONFLICTS);
}
