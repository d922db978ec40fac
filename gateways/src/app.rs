//! The gateway process: connect, bind, route, serve until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::routing::{get, patch, post, put};
use axum::Router;
use shopcore_auth::TokenVerifier;
use shopcore_projections::cart::read_model::CartReadModel;
use shopcore_projections::catalog::read_model::{CatalogReadModel, MediaUrls};
use shopcore_projections::couch::CouchDb;
use shopcore_projections::customer::read_model::CustomerReadModel;
use shopcore_projections::pricing::read_model::PricingReadModel;
use shopcore_projections::stores::{connect_event_log, connect_mysql_checked, connect_redis};
use shopcore_proto::cart::v1::cart_commands_client::CartCommandsClient;
use shopcore_proto::catalog::v1::category_commands_client::CategoryCommandsClient;
use shopcore_proto::catalog::v1::product_commands_client::ProductCommandsClient;
use shopcore_proto::customer::v1::customer_commands_client::CustomerCommandsClient;
use shopcore_proto::pricing::v1::price_rule_commands_client::PriceRuleCommandsClient;
use shopcore_proto::pricing::v1::promotion_commands_client::PromotionCommandsClient;
use tokio::net::TcpListener;
use tonic::transport::Endpoint;

use crate::routes::{
    addresses, cart_writes, carts, catalog, catalog_writes, customers, health, media, price_books,
    price_rules, pricing, promotions, AppState,
};
use crate::settings::GatewaySettings;

/// A bound, ready-to-serve gateway.
pub struct GatewayApp {
    listener: TcpListener,
    state: AppState,
    verifier: Arc<TokenVerifier>,
}

impl GatewayApp {
    /// Connects to the read-model stores (the command service lazily) and binds the HTTP port.
    pub async fn build(settings: &GatewaySettings) -> anyhow::Result<Self> {
        let verifier = Arc::new(settings.auth.verifier()?);
        let endpoint = Endpoint::from_shared(settings.commands_url.clone())
            .context("while parsing COMMANDS_URL")?
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .tcp_nodelay(true);
        let channel = endpoint.connect_lazy();
        // The gateway migrates nothing: it waits for the schemas' owners (the command service,
        // the projections process) and fails saying what to run if they stay behind.
        let patience = Duration::from_secs(60);
        let log = connect_event_log(&settings.database_url, patience).await?;
        let mysql = connect_mysql_checked(&settings.mysql_url, patience).await?;
        let redis = connect_redis(&settings.redis_url).await?;
        // Prices are the hot read path: answered from this process's own replica of the pricing
        // index (a gRPC hop to the command service's cost five times the gateway's own work).
        let (pricing_index, pricing) = settings.pricing.build(log.clone())?;
        let catalog = CatalogReadModel::new(
            CouchDb::new(&settings.couchdb_url, &settings.couchdb_catalog_db)?,
            mysql.clone(),
        )
        .with_media_urls(MediaUrls::new(&settings.media_public_base_url));
        let media_url = settings
            .media_store_url
            .clone()
            .filter(|url| !url.trim().is_empty())
            .unwrap_or_else(shopcore_media_store::default_url);
        let media = shopcore_media_store::MediaStore::open(&media_url)
            .context("while opening MEDIA_STORE_URL")?;
        let read_your_writes_timeout = Duration::from_millis(settings.read_your_writes_timeout_ms);
        let cart_reads = CartReadModel::new(
            mysql.clone(),
            redis.clone(),
            settings.redis_key_prefix.clone(),
        )
        .with_read_your_writes_timeout(read_your_writes_timeout);
        let state = AppState::new(crate::routes::Services {
            catalog,
            carts: CartCommandsClient::new(channel.clone()),
            cart_reads,
            media,
            customers: CustomerCommandsClient::new(channel.clone()),
            products: ProductCommandsClient::new(channel.clone()),
            categories: CategoryCommandsClient::new(channel.clone()),
            pricing,
            pricing_index,
            price_rules: PriceRuleCommandsClient::new(channel.clone()),
            promotions: PromotionCommandsClient::new(channel.clone()),
            pricing_reads: PricingReadModel::new(mysql.clone()),
            health: tonic_health::pb::health_client::HealthClient::new(channel),
            customer_reads: CustomerReadModel::new(
                mysql,
                redis.clone(),
                settings.redis_key_prefix.clone(),
            ),
            redis,
            log,
            read_your_writes_timeout,
        });
        let listener = TcpListener::bind(settings.http_addr)
            .await
            .with_context(|| format!("while binding {}", settings.http_addr))?;
        Ok(Self {
            listener,
            state,
            verifier,
        })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `shutdown` resolves.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(http_addr = %self.local_addr()?, "listening");
        use axum::serve::ListenerExt as _;
        // TCP_NODELAY: a reply written in two parts must not wait for the client's delayed ACK.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "TCP_NODELAY not set");
            }
        });
        // The pricing index replica follows the log until the server has stopped.
        let (stop_index, index_stopped) = tokio::sync::watch::channel(false);
        let index = tokio::spawn({
            let index = self.state.pricing_index.clone();
            async move { index.run(index_stopped).await }
        });
        let served = axum::serve(listener, router(self.state, self.verifier))
            .with_graceful_shutdown(shutdown)
            .await
            .context("while serving HTTP");
        let _ = stop_index.send(true);
        let _ = index.await;
        served
    }
}

/// Every route of the gateway. All but the operational ones need a bearer token.
pub fn router(state: AppState, verifier: Arc<TokenVerifier>) -> Router {
    let protected = Router::new()
        .route("/customers", post(customers::create_customer))
        .route(
            "/customers/{id}",
            get(customers::get_customer).put(customers::update_customer),
        )
        .route("/customers/{id}/segments", post(customers::assign_segments))
        .route("/customers/{id}/addresses", post(addresses::add_address))
        .route(
            "/customers/{id}/addresses/{addressId}",
            put(addresses::update_address).delete(addresses::remove_address),
        )
        .route(
            "/products",
            get(catalog::list_products).post(catalog_writes::create_product),
        )
        .route(
            "/products/{id}",
            get(catalog::get_product)
                .patch(catalog_writes::update_product)
                .delete(catalog_writes::discontinue_product),
        )
        .route(
            "/products/{id}/categories",
            put(catalog_writes::assign_categories),
        )
        .route("/products/{id}/variants", post(catalog_writes::add_variant))
        .route(
            "/products/{id}/variants/{variantId}",
            patch(catalog_writes::update_variant).delete(catalog_writes::remove_variant),
        )
        .route(
            "/products/{id}/media",
            post(media::upload_media).layer(axum::extract::DefaultBodyLimit::max(
                media::MAX_UPLOAD_BODY_BYTES,
            )),
        )
        .route(
            "/products/{id}/media/{mediaId}",
            get(media::get_media).delete(media::remove_media),
        )
        .route(
            "/products/{id}/publish",
            post(catalog_writes::publish_product),
        )
        .route(
            "/products/{id}/unpublish",
            post(catalog_writes::unpublish_product),
        )
        .route(
            "/categories",
            get(catalog::list_categories).post(catalog_writes::create_category),
        )
        .route(
            "/categories/{key}",
            patch(catalog_writes::update_category).delete(catalog_writes::remove_category),
        )
        .route(
            "/categories/{key}/move",
            post(catalog_writes::move_category),
        )
        // Pricing. `/pricing/rules` is matched before `/pricing/{sku}`: a SKU named `rules` is
        // priced through GraphQL's `price`.
        .route(
            "/pricing/rules",
            get(price_rules::list_price_rules).post(price_rules::upsert_price_rule),
        )
        .route(
            "/pricing/rules/{id}",
            get(price_rules::get_price_rule).delete(price_rules::remove_price_rule),
        )
        .route("/pricing/{sku}", get(pricing::get_price))
        .route("/pricing/{sku}/simulate", post(pricing::simulate))
        .route("/price-books", get(price_books::list_price_books))
        .route("/price-books/{id}", get(price_books::get_price_book))
        .route(
            "/promotions",
            get(promotions::list_promotions).post(promotions::create_promotion),
        )
        .route("/promotions/{id}", get(promotions::get_promotion))
        .route(
            "/promotions/{id}/activate",
            post(promotions::activate_promotion),
        )
        .route(
            "/promotions/{id}/deactivate",
            post(promotions::deactivate_promotion),
        )
        .route(
            "/promotions/{id}/schedule-activation",
            post(promotions::schedule_promotion_activation),
        )
        // Carts. The session token in `/carts/by-session/{token}` is a secret: the request's span
        // and metrics name the route template, never the path.
        .route("/carts", post(cart_writes::create_cart))
        .route("/carts/{id}", get(carts::get_cart))
        .route("/carts/by-session/{token}", get(carts::get_cart_by_session))
        .route("/carts/{id}/items", post(cart_writes::add_cart_item))
        .route(
            "/carts/{id}/items/{sku}",
            put(cart_writes::change_cart_item).delete(cart_writes::remove_cart_item),
        )
        .route("/carts/{id}/apply-coupon", post(cart_writes::apply_coupon))
        .route(
            "/carts/{id}/coupon",
            axum::routing::delete(cart_writes::remove_coupon),
        )
        .route("/carts/{id}/checkout", post(cart_writes::checkout_cart))
        .route("/carts/{id}/merge", post(cart_writes::merge_cart))
        .route_layer(crate::auth::layer(verifier.clone()));
    let graphql = post(crate::graphql::execute)
        .route_layer(crate::auth::layer(verifier))
        .layer(axum::Extension(crate::graphql::schema()));
    Router::new()
        .merge(protected)
        .route("/graphql", get(crate::graphql::graphiql).merge(graphql))
        .route("/media/{*key}", get(media::serve_media))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route(
            "/openapi.json",
            get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    crate::openapi::openapi_json(),
                )
            }),
        )
        .fallback(|| async { crate::problem::Problem::not_found("no such route") })
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::problem::MAX_BODY_BYTES,
        ))
        .layer(axum::middleware::from_fn(crate::correlation::correlate))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::GATEWAY_TIMEOUT,
            Duration::from_secs(30),
        ))
        .with_state(state)
}
