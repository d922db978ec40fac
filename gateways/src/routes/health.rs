//! `/healthz` (the process is up), `/readyz` (its stores and the command service answer; the
//! pricing index replica's progress) and
//! `/metrics` (Prometheus).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use super::AppState;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    // Bodies name the dependency and what is wrong, never a driver's error text.
    let mysql = sqlx::query("SELECT 1")
        .execute(state.customer_reads.mysql())
        .await
        .map_err(|_| "unreachable".to_owned());
    let event_store = sqlx::query("SELECT 1")
        .execute(state.log.pool())
        .await
        .map(|_| ())
        .map_err(|_| "unreachable".to_owned());
    let mut redis = state.redis.clone();
    let redis: Result<(), String> = redis::cmd("PING")
        .query_async::<String>(&mut redis)
        .await
        .map(|_| ())
        .map_err(|_| "unreachable".to_owned());
    let commands = state
        .health
        .clone()
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .map_err(|_| "unreachable".to_owned())
        .and_then(|r| match r.into_inner().status() {
            tonic_health::pb::health_check_response::ServingStatus::Serving => Ok(()),
            _ => Err("not serving".to_owned()),
        });
    let checks = [
        ("mysql", mysql.map(|_| ())),
        ("eventStore", event_store),
        ("redis", redis),
        ("commands", commands),
    ];
    let ready = checks.iter().all(|(_, r)| r.is_ok());
    let mut body: serde_json::Map<String, serde_json::Value> = checks
        .into_iter()
        .map(|(name, result)| {
            (
                name.to_owned(),
                json!(result.err().unwrap_or_else(|| "ok".to_owned())),
            )
        })
        .collect();
    // Prices wait for the index replica to load the log (they answer 503 until then); the
    // other routes do not, so it is reported, not required.
    let tail = state
        .pricing_index
        .status()
        .read()
        .map(|s| s.for_readiness())
        .unwrap_or_default();
    body.insert(
        "pricingIndex".to_owned(),
        json!({ "loaded": state.pricing_index.index().progress().ready, "tail": tail }),
    );
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({ "ready": ready, "checks": body })),
    )
}

pub async fn metrics() -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        shopcore_telemetry::metrics_text(),
    )
}
