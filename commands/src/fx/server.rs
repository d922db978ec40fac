//! The sync's HTTP endpoints: `/metrics`, `/healthz`, `/readyz` (503 while syncs fail; the body
//! lists the stale pairs either way), `GET /status` (every pair with its rate and age, the last
//! sync, counts) and `POST /sync` (sync now; the answer is what the sync did: 200, or 502 when
//! the provider failed and 503 when the event store did).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use shopcore_telemetry::process::{ops_router, Readiness};
use tokio::net::TcpListener;

use super::report::{SyncReport, SyncState, SyncStatus};
use super::sync::CurrencyRateSync;

pub fn router(sync: CurrencyRateSync) -> Router {
    let readiness = sync.clone();
    ops_router(std::sync::Arc::new(move || {
        let status = readiness.cached_status();
        Box::pin(async move {
            let ready = status.state != SyncState::Failing;
            let last_error = status
                .last_sync
                .as_ref()
                .and_then(|report| report.error.as_ref())
                .map(|error| error.reason);
            Readiness {
                ready,
                body: json!({
                    "ready": ready,
                    "currencyRateSync": {
                        "state": status.state,
                        "lastSuccessAt": status.last_success_at,
                        "consecutiveFailures": status.consecutive_failures,
                        "lastError": last_error,
                        "staleAfterSeconds": status.stale_after_seconds,
                        "stalePairs": status.stale_pairs,
                    }
                }),
            }
        })
    }))
    .merge(
        Router::new()
            .route("/status", get(status))
            .route("/sync", post(sync_now))
            .with_state(sync),
    )
}

async fn status(State(sync): State<CurrencyRateSync>) -> Json<SyncStatus> {
    Json(sync.status().await)
}

async fn sync_now(State(sync): State<CurrencyRateSync>) -> (StatusCode, Json<SyncReport>) {
    let report = sync.sync_once().await;
    let status = match &report.error {
        None => StatusCode::OK,
        Some(error) if error.is_provider_failure() => StatusCode::BAD_GATEWAY,
        Some(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(report))
}

/// Serves the endpoints on `listener` until the runtime stops.
pub fn spawn(listener: TcpListener, sync: CurrencyRateSync) {
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router(sync)).await {
            tracing::error!(%error, "currency rate sync ops server stopped");
        }
    });
}
