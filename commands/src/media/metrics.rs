//! Prometheus metrics of the media worker (its tail loop reports as
//! `shopcore_projection_*{projector="media-worker"}`).

use std::sync::LazyLock;

use prometheus::{Histogram, HistogramOpts, IntCounterVec, Opts};

fn register<T: prometheus::core::Collector + Clone + 'static>(metric: T) -> T {
    // Registration fails only for a duplicate name, which the LazyLock statics rule out.
    let _ = prometheus::register(Box::new(metric.clone()));
    metric
}

pub(super) static OUTCOMES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "shopcore_media_outcomes_total",
                "Media events handled, by outcome: processed, rejected, skipped (decided before or moot), deleted, kept (the content is attached again)",
            ),
            &["outcome"],
        )
        .expect("valid metric"),
    )
});

pub(super) static ANALYSIS_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register(
        Histogram::with_opts(
            HistogramOpts::new(
                "shopcore_media_analysis_seconds",
                "Time to check one object's bytes and make its thumbnail",
            )
            .buckets(vec![0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
        )
        .expect("valid metric"),
    )
});
