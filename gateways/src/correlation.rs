//! The correlation id and request metrics middleware (the plan's `@instrument_route`).
//!
//! Every request gets a correlation id (from `X-Correlation-Id`, or a new v7 UUID), carried in a
//! request extension, the request's span, the response header, gRPC metadata of commands and
//! from there into event metadata. Each request is counted and timed by route.

use std::sync::LazyLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts};
use tracing::Instrument as _;
use uuid::Uuid;

pub const CORRELATION_HEADER: &str = "x-correlation-id";

/// The correlation id of the current request, and the W3C `traceparent` the client sent.
#[derive(Debug, Clone)]
pub struct CorrelationId(pub String, pub Option<String>);

impl CorrelationId {
    /// The trace context to hand on: this process's span when tracing is on, else the client's
    /// `traceparent` unchanged, so a trace is not cut by a hop that does not export spans.
    pub fn traceparent(&self) -> Option<String> {
        shopcore_telemetry::traceparent().or_else(|| self.1.clone())
    }
}

/// A syntactically valid W3C traceparent (`00-<32 hex>-<16 hex>-<2 hex>`).
fn valid_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    parts.len() == 4
        && hex(parts[0], 2)
        && hex(parts[1], 32)
        && hex(parts[2], 16)
        && hex(parts[3], 2)
        && parts[1] != "0".repeat(32)
        && parts[2] != "0".repeat(16)
}

static REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let counter = IntCounterVec::new(
        Opts::new(
            "http_requests_total",
            "HTTP requests by route, method and status",
        ),
        &["route", "method", "status"],
    )
    .expect("valid metric");
    let _ = prometheus::register(Box::new(counter.clone()));
    counter
});

static DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    let histogram = HistogramVec::new(
        HistogramOpts::new(
            "http_request_duration_seconds",
            "HTTP request latency by route",
        ),
        &["route", "method"],
    )
    .expect("valid metric");
    let _ = prometheus::register(Box::new(histogram.clone()));
    histogram
});

/// Middleware: correlation id, request span, metrics.
pub async fn correlate(mut request: Request, next: Next) -> Response {
    let correlation_id = request
        .headers()
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::now_v7().to_string());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let traceparent = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| valid_traceparent(v))
        .map(str::to_owned);
    let span = tracing::info_span!("http", %method, %route, correlation_id = %correlation_id);
    if let Some(traceparent) = &traceparent {
        shopcore_telemetry::set_parent_from_traceparent(&span, traceparent);
    }
    request
        .extensions_mut()
        .insert(CorrelationId(correlation_id.clone(), traceparent));
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "request handled"
        );
    });
    REQUESTS
        .with_label_values(&[route.as_str(), method.as_str(), status.as_str()])
        .inc();
    DURATION
        .with_label_values(&[route.as_str(), method.as_str()])
        .observe(started.elapsed().as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&correlation_id) {
        response.headers_mut().insert(CORRELATION_HEADER, value);
    }
    response
}
