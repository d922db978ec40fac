//! The `shopcore-projections` process: runs every projector, serves `/metrics` and `/healthz`.

use std::sync::Arc;

use anyhow::Context as _;
use shopcore_commands::event_log::GlobalLog;
use shopcore_commands::event_store::EventStore;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::customer::mysql::CustomerMysqlProjector;
use crate::customer::redis::CustomerRedisProjector;
use crate::runtime::{ProjectionRunner, Projector};
use crate::settings::ProjectionSettings;
use crate::stores::{connect_mysql, connect_redis};

/// Every projector of the deployment, by name.
pub async fn projectors(
    settings: &ProjectionSettings,
) -> anyhow::Result<(GlobalLog, Vec<Arc<dyn Projector>>)> {
    let store = EventStore::connect(&settings.database_url, 8).await?;
    let log = GlobalLog::new(store.pool().clone());
    let mysql = connect_mysql(&settings.mysql_url).await?;
    let redis = connect_redis(&settings.redis_url).await?;
    let projectors: Vec<Arc<dyn Projector>> = vec![
        Arc::new(CustomerMysqlProjector::new(mysql)),
        Arc::new(CustomerRedisProjector::new(
            redis,
            log.clone(),
            settings.redis_key_prefix.clone(),
        )),
    ];
    Ok((log, projectors))
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
    for projector in projectors {
        let runner = ProjectionRunner::new(log.clone(), projector, settings.batch_size);
        let stopped = stopped.clone();
        tasks.spawn(async move { runner.run(stopped).await });
    }
    let router = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(|| async { shopcore_telemetry::metrics_text() }),
        )
        .route("/healthz", axum::routing::get(|| async { "ok" }));
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
