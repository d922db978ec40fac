//! The relay's HTTP endpoints: `/metrics`, `/healthz` (the process is up) and `/readyz` (the
//! relay is active or standing by, and not failing; 503 with the state otherwise).

use std::sync::Arc;

use serde_json::json;
use shopcore_event_store::tail::SharedStatus;
use shopcore_telemetry::process::{ops_router, Readiness};
use tokio::net::TcpListener;

pub fn router(status: SharedStatus) -> axum::Router {
    ops_router(Arc::new(move || {
        let status = status.read().expect("status lock").clone();
        Box::pin(async move {
            let ready = status.state.is_ready();
            Readiness {
                ready,
                body: json!({ "ready": ready, "relay": status.for_readiness() }),
            }
        })
    }))
}

/// Serves the endpoints on `listener` until the runtime stops.
pub fn spawn(listener: TcpListener, status: SharedStatus) {
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router(status)).await {
            tracing::error!(%error, "relay metrics server stopped");
        }
    });
}
