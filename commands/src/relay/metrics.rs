//! Prometheus metrics of the relay.

use std::sync::LazyLock;

use std::sync::Arc;

use prometheus::{Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts};
use shopcore_event_store::tail::TailMetrics;

fn register<T: prometheus::core::Collector + Clone + 'static>(metric: T) -> T {
    // Registration fails only for a duplicate name, which the LazyLock statics rule out.
    let _ = prometheus::register(Box::new(metric.clone()));
    metric
}

pub(super) static POSITION: LazyLock<IntGauge> = LazyLock::new(|| {
    register(
        IntGauge::new(
            "shopcore_relay_position",
            "Global position of the last event the broker acknowledged",
        )
        .expect("valid metric"),
    )
});

pub(super) static LAG: LazyLock<IntGauge> = LazyLock::new(|| {
    register(
        IntGauge::new(
            "shopcore_relay_lag_events",
            "Positions between the head of the log and the relay checkpoint",
        )
        .expect("valid metric"),
    )
});

pub(super) static PUBLISHED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "shopcore_relay_published_total",
                "Messages the broker acknowledged, by topic (retries after a failed batch count again)",
            ),
            &["topic"],
        )
        .expect("valid metric"),
    )
});

pub(super) static FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "shopcore_relay_failures_total",
                "Failed relay batches and start-ups, by reason",
            ),
            &["reason"],
        )
        .expect("valid metric"),
    )
});

pub(super) static HALTED: LazyLock<IntGauge> = LazyLock::new(|| {
    register(
        IntGauge::new(
            "shopcore_relay_halted",
            "1 when the relay stopped at an event it cannot publish (see the logs), else 0",
        )
        .expect("valid metric"),
    )
});

pub(super) static BATCH_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register(
        Histogram::with_opts(HistogramOpts::new(
            "shopcore_relay_batch_duration_seconds",
            "Time to encode, publish and get acknowledgements for one batch",
        ))
        .expect("valid metric"),
    )
});

static LAG_SECONDS: LazyLock<Gauge> = LazyLock::new(|| {
    register(
        Gauge::new(
            "shopcore_relay_lag_seconds",
            "Age of the oldest stored event the relay has not published yet",
        )
        .expect("valid metric"),
    )
});

static EVENTS: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "shopcore_relay_events_total",
            "Events the relay published and moved its checkpoint past",
        )
        .expect("valid metric"),
    )
});

/// The relay's metrics as the tail loop reports them.
pub(super) fn tail_metrics() -> TailMetrics {
    TailMetrics {
        position: POSITION.clone(),
        events: EVENTS.clone(),
        halted: HALTED.clone(),
        lag_events: LAG.clone(),
        lag_seconds: LAG_SECONDS.clone(),
        failures: Arc::new(|reason| FAILURES.with_label_values(&[reason])),
    }
}
