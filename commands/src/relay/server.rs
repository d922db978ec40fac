//! The relay's HTTP endpoints: `/metrics`, `/healthz` (the process is up) and `/readyz` (the
//! relay is active and not failing).

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use super::RelayState;

pub fn router(state: Arc<Mutex<RelayState>>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|| async { shopcore_telemetry::metrics_text() }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn readyz(State(state): State<Arc<Mutex<RelayState>>>) -> (StatusCode, String) {
    let state = state.lock().expect("state lock").clone();
    match state {
        RelayState::Running => (StatusCode::OK, "ready".into()),
        RelayState::Standby => (StatusCode::OK, "standby".into()),
        RelayState::Starting => (StatusCode::SERVICE_UNAVAILABLE, "starting".into()),
        RelayState::Retrying(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("retrying: {error}"),
        ),
        RelayState::Halted(error) => (StatusCode::SERVICE_UNAVAILABLE, format!("halted: {error}")),
    }
}

/// Serves the endpoints on `listener` until the runtime stops.
pub fn spawn(listener: TcpListener, state: Arc<Mutex<RelayState>>) {
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router(state)).await {
            tracing::error!(%error, "relay metrics server stopped");
        }
    });
}
