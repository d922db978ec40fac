//! The `shopcore-projections` process: runs every projector, serves `/metrics`, `/healthz`,
//! `/readyz` (503 naming the projector and the event while one is halted) and `/status` (every
//! projector's state, checkpoint and lag as JSON, which `shopcore-projections status` prints).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::routing::get;
use serde_json::json;
use shopcore_event_store::tail::{SharedStatus, TailStatus};
use shopcore_event_store::GlobalLog;
use shopcore_telemetry::process::{ops_router, Readiness};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cart::mysql::CartMysqlProjector;
use crate::cart::redis::CartRedisProjector;
use crate::catalog::couch::CatalogCouchProjector;
use crate::catalog::taxonomy::TaxonomyMysqlProjector;
use crate::couch::CouchDb;
use crate::customer::mysql::CustomerMysqlProjector;
use crate::customer::redis::CustomerRedisProjector;
use crate::pricing::PricingMysqlProjector;
use crate::runtime::{ProjectionRunner, Projector};
use crate::settings::ProjectionSettings;
use crate::stores::{connect_event_log, connect_mysql, connect_redis};

/// Every projector of the deployment, by name. Migrates the MySQL read models (this process
/// owns them); checks, never migrates, the event store.
pub async fn projectors(
    settings: &ProjectionSettings,
) -> anyhow::Result<(GlobalLog, Vec<Arc<dyn Projector>>)> {
    let log = connect_event_log(&settings.database_url, Duration::from_secs(60)).await?;
    let mysql = connect_mysql(&settings.mysql_url).await?;
    let redis = connect_redis(&settings.redis_url).await?;
    let catalog = CatalogCouchProjector::new(
        CouchDb::new(&settings.couchdb_url, &settings.couchdb_catalog_db)?,
        log.clone(),
    );
    // Tried once here, but a CouchDB that is down must not keep the other projectors from
    // starting: the projector prepares its database on its first checkpoint read, retrying.
    if let Err(error) = catalog.prepare().await {
        tracing::warn!(%error, "the CouchDB catalog database is not ready; its projector will retry");
    }
    let projectors: Vec<Arc<dyn Projector>> = vec![
        Arc::new(CustomerMysqlProjector::new(mysql.clone(), log.clone())),
        Arc::new(TaxonomyMysqlProjector::new(mysql.clone())),
        Arc::new(PricingMysqlProjector::new(mysql.clone())),
        Arc::new(CartMysqlProjector::new(mysql)),
        Arc::new(CustomerRedisProjector::new(
            redis.clone(),
            log.clone(),
            settings.redis_key_prefix.clone(),
        )),
        Arc::new(CartRedisProjector::new(
            redis,
            log.clone(),
            settings.redis_key_prefix.clone(),
        )),
        Arc::new(catalog),
    ];
    Ok((log, projectors))
}

/// Every projector's status.
fn snapshot(statuses: &[SharedStatus]) -> Vec<TailStatus> {
    statuses
        .iter()
        .map(|status| status.read().expect("status lock").clone())
        .collect()
}

/// Runs all projectors until `shutdown` resolves.
pub async fn run(
    settings: ProjectionSettings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (log, projectors) = projectors(&settings).await?;
    let listener = TcpListener::bind(settings.metrics_addr)
        .await
        .with_context(|| format!("while binding {}", settings.metrics_addr))?;
    tracing::info!(metrics_addr = %listener.local_addr()?, "listening");
    let (stop, stopped) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let mut statuses = Vec::new();
    for projector in projectors {
        let runner = ProjectionRunner::new(log.clone(), projector, settings.batch_size);
        statuses.push(runner.status());
        let stopped = stopped.clone();
        tasks.spawn(async move { runner.run(stopped).await });
    }
    let statuses = Arc::new(statuses);
    let for_ready = statuses.clone();
    let for_status = statuses.clone();
    let router = ops_router(Arc::new(move || {
        let projectors = snapshot(&for_ready);
        Box::pin(async move {
            let ready = projectors.iter().all(|p| p.state.is_ready());
            let projectors: Vec<_> = projectors.iter().map(TailStatus::for_readiness).collect();
            Readiness {
                ready,
                body: json!({ "ready": ready, "projectors": projectors }),
            }
        })
    }))
    .route(
        "/status",
        get(move || {
            let projectors = snapshot(&for_status);
            async move { axum::Json(json!({ "projectors": projectors })) }
        }),
    );
    let mut metrics_stopped = stopped.clone();
    tasks.spawn(async move {
        let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
            let _ = metrics_stopped.wait_for(|stop| *stop).await;
        });
        if let Err(error) = serve.await {
            tracing::error!(error = %error, "metrics server failed");
        }
    });
    shutdown.await;
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}
