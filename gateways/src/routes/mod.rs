//! Route groups of the gateway, one file each.

pub mod customers;
pub mod health;

use std::time::Duration;

use axum::http::HeaderMap;
use shopcore_projections::customer::read_model::CustomerReadModel;
use shopcore_proto::customer::v1::customer_commands_client::CustomerCommandsClient;
use tonic::transport::Channel;

use crate::problem::Problem;

/// Response header carrying the global log position of a write; request header a read uses to
/// ask for a read model at least that far.
pub const POSITION_HEADER: &str = "shopcore-position";
pub const MIN_POSITION_HEADER: &str = "shopcore-min-position";

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub customers: CustomerCommandsClient<Channel>,
    pub health: tonic_health::pb::health_client::HealthClient<Channel>,
    pub customer_reads: CustomerReadModel,
    pub redis: redis::aio::ConnectionManager,
    pub read_your_writes_timeout: Duration,
}

/// The `Shopcore-Min-Position` header, 0 when absent.
pub fn min_position(headers: &HeaderMap) -> Result<u64, Problem> {
    match headers.get(MIN_POSITION_HEADER) {
        None => Ok(0),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| {
                Problem::invalid("Shopcore-Min-Position", "must be a non-negative integer")
            }),
    }
}
