//! Prometheus metrics of the currency rate sync (process-wide; a sync's own counts since it
//! started are in its status).

use std::sync::LazyLock;

use prometheus::{
    Gauge, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts,
};

fn register<T: prometheus::core::Collector + Clone + 'static>(metric: T) -> T {
    // Registration fails only for a duplicate name, which the LazyLock statics rule out.
    let _ = prometheus::register(Box::new(metric.clone()));
    metric
}

/// Every failure reason, exported at 0 from the start.
pub(super) const FAILURE_REASONS: &[&str] = &[
    "timeout",
    "unreachable",
    "http_status",
    "too_large",
    "malformed",
    "no_rates",
    "store",
    "contention",
];

pub(super) static RUNS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let counter = register(
        IntCounterVec::new(
            Opts::new(
                "shopcore_fx_sync_runs_total",
                "Currency rate syncs, by outcome (ok, failed)",
            ),
            &["outcome"],
        )
        .expect("valid metric"),
    );
    for outcome in ["ok", "failed"] {
        counter.with_label_values(&[outcome]);
    }
    counter
});

pub(super) static FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let counter = register(
        IntCounterVec::new(
            Opts::new(
                "shopcore_fx_sync_failures_total",
                "Failed currency rate syncs, by reason (timeout, unreachable, http_status, too_large, malformed, no_rates, store, contention)",
            ),
            &["reason"],
        )
        .expect("valid metric"),
    );
    for reason in FAILURE_REASONS {
        counter.with_label_values(&[reason]);
    }
    counter
});

pub(super) static SKIPPED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let counter = register(
        IntCounterVec::new(
            Opts::new(
                "shopcore_fx_sync_skipped_total",
                "Entries of provider documents left out, by reason (unknown_currency, invalid)",
            ),
            &["reason"],
        )
        .expect("valid metric"),
    );
    for reason in ["unknown_currency", "invalid"] {
        counter.with_label_values(&[reason]);
    }
    counter
});

pub(super) static CHANGES: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "shopcore_fx_rate_changes_total",
            "Rates the sync changed (FxRateChanged events it wrote)",
        )
        .expect("valid metric"),
    )
});

pub(super) static AGE: LazyLock<GaugeVec> = LazyLock::new(|| {
    register(
        GaugeVec::new(
            Opts::new(
                "shopcore_fx_rate_age_seconds",
                "Seconds since each pair's rate took effect (its last FxRateChanged)",
            ),
            &["pair"],
        )
        .expect("valid metric"),
    )
});

pub(super) static STALE: LazyLock<IntGauge> = LazyLock::new(|| {
    register(
        IntGauge::new(
            "shopcore_fx_rates_stale",
            "Pairs whose rate is older than the stale age",
        )
        .expect("valid metric"),
    )
});

pub(super) static LAST_SUCCESS: LazyLock<Gauge> = LazyLock::new(|| {
    register(
        Gauge::new(
            "shopcore_fx_sync_last_success_timestamp_seconds",
            "Unix time of the last sync that read a usable document and recorded every change",
        )
        .expect("valid metric"),
    )
});

pub(super) static DURATION: LazyLock<Histogram> = LazyLock::new(|| {
    register(
        Histogram::with_opts(HistogramOpts::new(
            "shopcore_fx_sync_duration_seconds",
            "Time of one sync: fetch, parse, compare and write",
        ))
        .expect("valid metric"),
    )
});
