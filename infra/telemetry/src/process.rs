//! What every Shopcore process needs around its real work: a shutdown signal, URLs that are
//! safe to log, and the operational HTTP endpoints (`/metrics`, `/healthz`, `/readyz`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::Value;

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// A URL with its password replaced by `***`, safe to log.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The answer of a readiness check: ready or not, and a JSON body that says why. The body must
/// carry no driver errors, URLs or payloads: name the dependency and what is wrong.
pub struct Readiness {
    pub ready: bool,
    pub body: Value,
}

/// A readiness check, run on every `GET /readyz`.
pub type ReadinessCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Readiness> + Send>> + Send + Sync>;

/// `/metrics` (Prometheus text), `/healthz` (the process is up) and `/readyz` (`check` says
/// whether it can do its work; 503 when not).
pub fn ops_router(check: ReadinessCheck) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let check = check.clone();
                async move {
                    let readiness = check().await;
                    let status = if readiness.ready {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    };
                    (status, axum::Json(readiness.body))
                }
            }),
        )
}

/// `GET /metrics`.
pub async fn metrics() -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        crate::metrics_text(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://app:s3cret@db:5432/shopcore"),
            "postgres://app:***@db:5432/shopcore"
        );
        assert_eq!(
            super::redact_url("postgres://postgres@127.0.0.1/shopcore"),
            "postgres://postgres@127.0.0.1/shopcore"
        );
    }
}
