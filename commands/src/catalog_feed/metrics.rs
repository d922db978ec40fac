//! Prometheus metrics of the catalog change feed. Counts are of documents whose messages the
//! broker acknowledged (a batch retried after a failure is not counted twice).

use std::sync::LazyLock;

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts};

fn register<T: prometheus::core::Collector + Clone + 'static>(metric: T) -> T {
    // Registration fails only for a duplicate name, which the LazyLock statics rule out.
    let _ = prometheus::register(Box::new(metric.clone()));
    metric
}

/// Documents that drifted from the schema, by kind (a document with two unknown fields counts
/// once for `unknown_field`).
pub(super) static DRIFT: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let counter = register(
        IntCounterVec::new(
            Opts::new(
                "shopcore_catalog_drift_total",
                "Catalog documents that drifted from the ProductDocument schema, by kind (unknown_field, missing_field, type_mismatch)",
            ),
            &["kind"],
        )
        .expect("valid metric"),
    );
    // Every kind is exported from the start, at 0, so that a rate over it is defined.
    for kind in shopcore_event_schemas::documents::DriftKind::ALL {
        counter.with_label_values(&[kind.as_str()]);
    }
    counter
});

/// Changes handled, by outcome: `published`, `tombstone`, `skipped`, `dead_lettered`,
/// `ignored` (design documents).
pub(super) static DOCUMENTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "shopcore_catalog_feed_documents_total",
                "Catalog changes the feed handled and moved its checkpoint past, by outcome",
            ),
            &["outcome"],
        )
        .expect("valid metric"),
    )
});

pub(super) static FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "shopcore_catalog_feed_failures_total",
                "Failed catalog feed batches (retried), by reason",
            ),
            &["reason"],
        )
        .expect("valid metric"),
    )
});

/// The numeric part of the checkpoint (`since`): CouchDB 2+ sequences are `<n>-<opaque>`.
pub(super) static SINCE: LazyLock<IntGauge> = LazyLock::new(|| {
    register(
        IntGauge::new(
            "shopcore_catalog_feed_since",
            "Numeric part of the catalog feed's checkpoint (the CouchDB update sequence it reached)",
        )
        .expect("valid metric"),
    )
});

pub(super) static LAG: LazyLock<IntGauge> = LazyLock::new(|| {
    register(
        IntGauge::new(
            "shopcore_catalog_feed_lag_changes",
            "Changes of the catalog database after the feed's checkpoint, at its last batch",
        )
        .expect("valid metric"),
    )
});

pub(super) static BATCH_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register(
        Histogram::with_opts(HistogramOpts::new(
            "shopcore_catalog_feed_batch_duration_seconds",
            "Time to convert, publish and get acknowledgements for one batch of changes",
        ))
        .expect("valid metric"),
    )
});
