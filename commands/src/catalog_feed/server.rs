//! The feed's HTTP endpoints: `/metrics`, `/healthz` (the process is up) and `/readyz` (the
//! feed is following; 503 naming the failing dependency while it retries).

use serde_json::json;
use shopcore_telemetry::process::{ops_router, Readiness};
use tokio::net::TcpListener;

use super::{FeedState, SharedFeedStatus};

pub fn router(status: SharedFeedStatus) -> axum::Router {
    ops_router(std::sync::Arc::new(move || {
        let status = status
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        Box::pin(async move {
            let ready = !matches!(status.state, FeedState::Retrying { .. });
            Readiness {
                ready,
                body: json!({ "ready": ready, "catalogFeed": status }),
            }
        })
    }))
}

/// Serves the endpoints on `listener` until the runtime stops.
pub fn spawn(listener: TcpListener, status: SharedFeedStatus) {
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router(status)).await {
            tracing::error!(%error, "catalog feed metrics server stopped");
        }
    });
}
