//! Route groups of the gateway, one file each: `customers` (profiles, segments, and the
//! helpers every customer write shares), `addresses`, `catalog` (products and categories),
//! `media` (uploads and the stored objects), `health`; pricing: `pricing` (price queries and
//! simulation, and what the pricing routes share), `price_rules`, `promotions`, `price_books`;
//! carts: `carts` (reads, who reaches a cart, the session header), `cart_writes` (the commands),
//! `cart_answers` (a command's result as the REST cart, its refusals as problems).

pub mod addresses;
pub mod cart_answers;
pub mod cart_writes;
pub mod carts;
pub mod catalog;
pub mod catalog_writes;
pub mod customers;
pub mod health;
pub mod media;
pub mod price_answers;
pub mod price_books;
pub mod price_rules;
pub mod pricing;
pub mod pricing_input;
pub mod promotions;

use std::time::Duration;

use axum::http::HeaderMap;
use shopcore_event_store::{GlobalLog, LogPosition};
use shopcore_projections::cart::read_model::CartReadModel;
use shopcore_projections::catalog::read_model::CatalogReadModel;
use shopcore_projections::customer::read_model::CustomerReadModel;
use shopcore_projections::pricing::read_model::PricingReadModel;
use shopcore_proto::cart::v1::cart_commands_client::CartCommandsClient;
use shopcore_proto::catalog::v1::category_commands_client::CategoryCommandsClient;
use shopcore_proto::catalog::v1::product_commands_client::ProductCommandsClient;
use shopcore_proto::customer::v1::customer_commands_client::CustomerCommandsClient;
use shopcore_proto::pricing::v1::price_rule_commands_client::PriceRuleCommandsClient;
use shopcore_proto::pricing::v1::promotion_commands_client::PromotionCommandsClient;
use shopcore_proto::ErrorCode;
use tonic::transport::Channel;

use crate::auth::BearerToken;
use crate::correlation::CorrelationId;
use crate::problem::Problem;

/// What the authentication and correlation middleware left on a request: the caller's
/// principal, its bearer token (forwarded to the gRPC services) and the correlation id (a new
/// one if the middleware did not run). No principal or token: 401.
pub(crate) fn caller_parts(
    parts: &axum::http::request::Parts,
) -> Result<(shopcore_auth::Principal, BearerToken, CorrelationId), Problem> {
    let missing = || Problem::unauthenticated(&shopcore_auth::AuthError::Missing);
    let principal = parts
        .extensions
        .get::<shopcore_auth::Principal>()
        .cloned()
        .ok_or_else(missing)?;
    let token = parts
        .extensions
        .get::<BearerToken>()
        .cloned()
        .ok_or_else(missing)?;
    let correlation = parts
        .extensions
        .get::<CorrelationId>()
        .cloned()
        .unwrap_or_else(|| CorrelationId(uuid::Uuid::now_v7().to_string(), None));
    Ok((principal, token, correlation))
}

/// Response header carrying the log position token of a write (or of what a read returned);
/// request header a read uses to ask for a read model at least that far.
pub const POSITION_HEADER: &str = "shopcore-position";
pub const MIN_POSITION_HEADER: &str = "shopcore-min-position";

/// What handlers share: one allocation, so that handing it to a request (every extractor
/// and handler takes it) is one reference count, not a copy of a dozen clients.
#[derive(Clone)]
pub struct AppState(std::sync::Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(std::sync::Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The clients, read models and settings behind [`AppState`].
pub struct Services {
    pub customers: CustomerCommandsClient<Channel>,
    pub products: ProductCommandsClient<Channel>,
    pub categories: CategoryCommandsClient<Channel>,
    pub health: tonic_health::pb::health_client::HealthClient<Channel>,
    /// Price queries, answered from this process's replica of the pricing index.
    pub pricing: shopcore_pricing_index::answer::PricingAnswers,
    /// The replica's progress and tail status (for `/readyz`).
    pub pricing_index: std::sync::Arc<shopcore_pricing_index::PricingQueries>,
    pub price_rules: PriceRuleCommandsClient<Channel>,
    pub promotions: PromotionCommandsClient<Channel>,
    /// Price books, rules and promotions as the `pricing_mysql` projector keeps them.
    pub pricing_reads: PricingReadModel,
    pub customer_reads: CustomerReadModel,
    pub carts: CartCommandsClient<Channel>,
    /// Carts as the `cart_mysql` and `cart_redis` projectors keep them.
    pub cart_reads: CartReadModel,
    pub catalog: CatalogReadModel,
    /// Uploaded media and their thumbnails.
    pub media: shopcore_media_store::MediaStore,
    pub redis: redis::aio::ConnectionManager,
    pub log: GlobalLog,
    pub read_your_writes_timeout: Duration,
}

/// The `Shopcore-Min-Position` header ([`LogPosition::START`] when absent). A token that names
/// no event of the log (made up, or from another deployment) can never be reached: 400 at once
/// rather than a wait that ends in 503.
pub async fn min_position(state: &AppState, headers: &HeaderMap) -> Result<LogPosition, Problem> {
    let Some(value) = headers.get(MIN_POSITION_HEADER) else {
        return Ok(LogPosition::START);
    };
    let position: LogPosition = value
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            Problem::invalid(
                "Shopcore-Min-Position",
                "must be a position token as returned in Shopcore-Position, e.g. \"1042-17\"",
            )
        })?;
    match state.log.contains(position).await {
        Ok(true) => Ok(position),
        Ok(false) => Err(Problem::invalid(
            "Shopcore-Min-Position",
            "names no event of the log; send a token this deployment returned in Shopcore-Position",
        )),
        Err(error) => {
            tracing::warn!(%error, "event store unavailable while checking a position");
            let mut problem = Problem::new(
                ErrorCode::Unavailable,
                "the event store is unavailable; retry shortly",
            );
            problem.retry_after_seconds = Some(1);
            Err(problem)
        }
    }
}
