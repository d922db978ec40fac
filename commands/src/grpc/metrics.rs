//! Metrics of the gRPC command services, shared by every service file and the process.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts};

use crate::error::CommandError;

static COMMANDS_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let counter = IntCounterVec::new(
        Opts::new(
            "shopcore_commands_total",
            "Commands handled, by command type and outcome code",
        ),
        &["command", "outcome"],
    )
    .expect("valid metric");
    // Registration fails only for a duplicate name, which this LazyLock rules out.
    let _ = prometheus::register(Box::new(counter.clone()));
    counter
});

static COMMAND_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    let histogram = HistogramVec::new(
        HistogramOpts::new(
            "shopcore_command_duration_seconds",
            "Time to handle a command",
        )
        .buckets(vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ]),
        &["command"],
    )
    .expect("valid metric");
    let _ = prometheus::register(Box::new(histogram.clone()));
    histogram
});

/// Counts a handled command and observes its duration.
pub fn record_command(command: &str, error: Option<&CommandError>, elapsed: Duration) {
    let outcome = error.map_or("ok", |e| e.code().as_str());
    COMMANDS_TOTAL.with_label_values(&[command, outcome]).inc();
    COMMAND_SECONDS
        .with_label_values(&[command])
        .observe(elapsed.as_secs_f64());
}
