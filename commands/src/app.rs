//! The command service process: start-up (it owns the event store's schema and migrates it),
//! serving gRPC and the operational HTTP endpoints, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use serde_json::json;
use shopcore_auth::TokenVerifier;
use shopcore_event_store::{schema, store, EventStore};
use shopcore_proto::{error_status, ErrorCode};
use shopcore_telemetry::process::{ops_router, Readiness};
use tokio::net::TcpListener;

use shopcore_proto::cart::v1::cart_commands_server::CartCommandsServer;
use shopcore_proto::catalog::v1::category_commands_server::CategoryCommandsServer;
use shopcore_proto::catalog::v1::product_commands_server::ProductCommandsServer;
use shopcore_proto::customer::v1::customer_commands_server::CustomerCommandsServer;
use shopcore_proto::pricing::v1::currency_rate_commands_server::CurrencyRateCommandsServer;
use shopcore_proto::pricing::v1::price_book_commands_server::PriceBookCommandsServer;
use shopcore_proto::pricing::v1::price_rule_commands_server::PriceRuleCommandsServer;
use shopcore_proto::pricing::v1::pricing_queries_server::PricingQueriesServer;
use shopcore_proto::pricing::v1::promotion_commands_server::PromotionCommandsServer;

use crate::grpc::cart::CartService;
use crate::grpc::catalog::ProductService;
use crate::grpc::customer::CustomerService;
use crate::grpc::pricing::currency_rate::CurrencyRateService;
use crate::grpc::pricing::price_book::PriceBookService;
use crate::grpc::pricing::price_rule::PriceRuleService;
use crate::grpc::pricing::promotion::PromotionService;
use crate::grpc::taxonomy::CategoryService;
use crate::pricing_query::service::PricingQueryService;
use crate::settings::CommandSettings;

/// Creates the event store database when missing and runs its migrations. The command service
/// is their one owner: every other process only checks the schema.
pub async fn migrate(settings: &CommandSettings) -> anyhow::Result<EventStore> {
    store::create_database_if_missing(&settings.database_url)
        .await
        .context("while creating the event store database")?;
    let store = EventStore::connect(&settings.database_url, &settings.store_options())
        .await
        .context("while connecting to the event store")?;
    schema::migrate(store.pool())
        .await
        .context("while migrating the event store")?;
    Ok(store)
}

/// A bound, ready-to-serve command service.
pub struct CommandApp {
    listener: TcpListener,
    ops_listener: TcpListener,
    store: EventStore,
    verifier: Arc<TokenVerifier>,
    settings: CommandSettings,
}

impl CommandApp {
    /// Connects to (and migrates) the event store and binds the gRPC and HTTP ports.
    pub async fn build(settings: &CommandSettings) -> anyhow::Result<Self> {
        let verifier = Arc::new(settings.auth.verifier()?);
        let store = migrate(settings).await?;
        let listener = TcpListener::bind(settings.grpc_addr)
            .await
            .with_context(|| format!("while binding the gRPC address {}", settings.grpc_addr))?;
        let ops_listener = TcpListener::bind(settings.metrics_addr)
            .await
            .with_context(|| format!("while binding {}", settings.metrics_addr))?;
        Ok(Self {
            listener,
            ops_listener,
            store,
            verifier,
            settings: settings.clone(),
        })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    pub fn metrics_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.ops_listener.local_addr()?)
    }

    /// Serves until `shutdown` resolves, then finishes in-flight calls.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr()?;
        // grpcurl asks v1; Python's grpcio-reflection, Postman and older tools only v1alpha.
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(shopcore_proto::FILE_DESCRIPTOR_SET)
            .build_v1()
            .context("while building the reflection service")?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(shopcore_proto::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .context("while building the reflection service")?;
        let (health_reporter, health) = tonic_health::server::health_reporter();
        health_reporter
            .set_serving::<CustomerCommandsServer<CustomerService>>()
            .await;
        health_reporter
            .set_serving::<ProductCommandsServer<ProductService>>()
            .await;
        health_reporter
            .set_serving::<CategoryCommandsServer<CategoryService>>()
            .await;
        health_reporter
            .set_serving::<PriceBookCommandsServer<PriceBookService>>()
            .await;
        health_reporter
            .set_serving::<PriceRuleCommandsServer<PriceRuleService>>()
            .await;
        health_reporter
            .set_serving::<PromotionCommandsServer<PromotionService>>()
            .await;
        health_reporter
            .set_serving::<CurrencyRateCommandsServer<CurrencyRateService>>()
            .await;
        health_reporter
            .set_serving::<PricingQueriesServer<PricingQueryService>>()
            .await;
        let log = shopcore_event_store::GlobalLog::new(self.store.pool().clone());
        let (pricing, answers) = self.settings.pricing.build(log)?;
        let carts = Arc::new(crate::cart::cart_pipeline(
            self.store.clone(),
            answers.clone(),
            self.settings.carts.settings(),
        ));
        health_reporter
            .set_serving::<CartCommandsServer<CartService>>()
            .await;
        let pricing_service = PricingQueryService::new(answers);
        let (stop_pricing, pricing_stopped) = tokio::sync::watch::channel(false);
        let pricing_task = tokio::spawn({
            let pricing = pricing.clone();
            async move { pricing.run(pricing_stopped).await }
        });
        let pool = self.store.pool().clone();
        let pricing_status = pricing.status();
        let pricing_index = pricing.index().clone();
        let ready = ops_router(Arc::new(move || {
            let pool = pool.clone();
            let index = pricing_status.read().expect("status lock").for_readiness();
            let loaded = pricing_index.progress().ready;
            Box::pin(async move {
                let store = sqlx::query("SELECT 1").execute(&pool).await.is_ok();
                // Commands do not need the pricing index: it is reported, not required.
                Readiness {
                    ready: store,
                    body: json!({
                        "ready": store,
                        "checks": { "eventStore": if store { "ok" } else { "unreachable" } },
                        "pricingIndex": { "loaded": loaded, "tail": index },
                    }),
                }
            })
        }));
        tracing::info!(grpc_addr = %addr, metrics_addr = %self.metrics_addr()?, "listening");
        let purge = tokio::spawn(purge_idempotency_keys(self.store.clone()));
        let (stop_ops, ops_stopped) = tokio::sync::oneshot::channel::<()>();
        let ops_listener = self.ops_listener;
        let ops = tokio::spawn(async move {
            axum::serve(ops_listener, ready)
                .with_graceful_shutdown(async move {
                    let _ = ops_stopped.await;
                })
                .await
        });
        let served = tonic::transport::Server::builder()
            .add_service(health)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(CustomerCommandsServer::with_interceptor(
                CustomerService::new(self.store.clone()),
                authenticate(self.verifier.clone()),
            ))
            .add_service(ProductCommandsServer::with_interceptor(
                ProductService::new(self.store.clone()),
                authenticate(self.verifier.clone()),
            ))
            .add_service(CategoryCommandsServer::with_interceptor(
                CategoryService::new(self.store.clone()),
                authenticate(self.verifier.clone()),
            ))
            .add_service(PriceBookCommandsServer::with_interceptor(
                PriceBookService::new(self.store.clone()),
                authenticate(self.verifier.clone()),
            ))
            .add_service(PriceRuleCommandsServer::with_interceptor(
                PriceRuleService::new(self.store.clone()),
                authenticate(self.verifier.clone()),
            ))
            .add_service(PromotionCommandsServer::with_interceptor(
                PromotionService::new(self.store.clone()),
                authenticate(self.verifier.clone()),
            ))
            .add_service(CurrencyRateCommandsServer::with_interceptor(
                CurrencyRateService::new(self.store),
                authenticate(self.verifier.clone()),
            ))
            .add_service(CartCommandsServer::with_interceptor(
                CartService::new(carts),
                authenticate(self.verifier.clone()),
            ))
            .add_service(PricingQueriesServer::with_interceptor(
                pricing_service,
                authenticate(self.verifier),
            ))
            .serve_with_incoming_shutdown(
                // Without TCP_NODELAY a small reply can wait for the client's delayed ACK
                // (tens of milliseconds): every query and command pays for it at p99.
                tonic::transport::server::TcpIncoming::from(self.listener).with_nodelay(Some(true)),
                shutdown,
            )
            .await
            .context("while serving gRPC");
        let _ = stop_ops.send(());
        let _ = stop_pricing.send(true);
        let _ = ops.await;
        let _ = pricing_task.await;
        purge.abort();
        served?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The gRPC interceptor of the command services: a valid bearer token, or `UNAUTHENTICATED`.
/// The [`shopcore_auth::Principal`] goes into the request's extensions; each command then
/// checks the access it needs and records the token's subject as its actor. (Health and
/// reflection stay open.)
#[allow(clippy::result_large_err)] // tonic's interceptor signature
fn authenticate(
    verifier: Arc<TokenVerifier>,
) -> impl FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Clone {
    move |mut request: tonic::Request<()>| {
        let header = request
            .metadata()
            .get("authorization")
            .map(|value| value.to_str().unwrap_or_default().to_owned());
        match verifier.verify_header(header.as_deref()) {
            Ok(principal) => {
                request.extensions_mut().insert(principal);
                Ok(request)
            }
            Err(error) => Err(error_status(
                ErrorCode::Unauthenticated,
                error.to_string(),
                None,
                None,
            )),
        }
    }
}

/// Purges expired idempotency keys every ten minutes (several instances may: the delete is
/// idempotent).
async fn purge_idempotency_keys(store: EventStore) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        match store.purge_idempotency_keys().await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "expired idempotency keys purged"),
            Err(error) => tracing::warn!(%error, "idempotency keys not purged; next try in 10 min"),
        }
    }
}
