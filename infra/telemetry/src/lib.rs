//! Telemetry shared by every Shopcore process: JSON logs, OpenTelemetry traces and Prometheus
//! metrics.
//!
//! - [`init`] installs a `tracing` subscriber that writes JSON lines (filter from `RUST_LOG`,
//!   default `info`) and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, exports spans over OTLP/gRPC.
//!   It also installs the W3C trace-context propagator so `traceparent` travels through gRPC
//!   metadata, event metadata and Kafka headers.
//! - [`metrics_text`] renders the process's Prometheus registry.
//! - [`traceparent`] / [`set_parent_from_traceparent`] carry the current span's context as a W3C
//!   `traceparent` string.
//! - [`process`]: what every process shares around its work: [`process::shutdown_signal`],
//!   [`process::redact_url`] and the `/metrics`, `/healthz`, `/readyz` router.

pub mod process;

use std::collections::HashMap;

use anyhow::Context as _;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Keeps the trace exporter alive; dropping it flushes pending spans.
#[must_use = "dropping the guard shuts the trace exporter down"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(error) = provider.shutdown() {
                eprintln!("telemetry: trace exporter shutdown failed: {error}");
            }
        }
    }
}

/// Installs logging and tracing for a process named `service_name`. Call once, early in `main`.
pub fn init(service_name: &'static str) -> anyhow::Result<TelemetryGuard> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let json = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true);

    let provider = if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
            .context("while building the OTLP span exporter")?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(service_name)
            .build();
        Some(
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource)
                .build(),
        )
    } else {
        None
    };
    let otel = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer(service_name)));

    tracing_subscriber::registry()
        .with(filter)
        .with(json)
        .with(otel)
        .try_init()
        .context("while installing the tracing subscriber")?;
    Ok(TelemetryGuard { provider })
}

/// The Prometheus text exposition of every metric registered in the default registry.
pub fn metrics_text() -> String {
    let encoder = prometheus::TextEncoder::new();
    encoder
        .encode_to_string(&prometheus::gather())
        .unwrap_or_else(|error| format!("# metrics encoding failed: {error}\n"))
}

/// The W3C `traceparent` of the current span, when it belongs to a sampled trace.
pub fn traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

/// Makes the current span a child of the trace named by a W3C `traceparent`.
pub fn set_parent_from_traceparent(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    // An invalid or unsampled parent only loses the link; it never fails the request.
    let _ = span.set_parent(context);
}

/// Links `span` to the span named by a W3C `traceparent` (for work that serves many traces at
/// once, such as a relay batch). An invalid or unsampled traceparent adds no link.
pub fn link_traceparent(span: &tracing::Span, traceparent: &str) {
    use opentelemetry::trace::TraceContextExt as _;
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    let span_context = context.span().span_context().clone();
    if span_context.is_valid() {
        span.add_link(span_context);
    }
}
