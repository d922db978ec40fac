//! The two processes as `shopcore-commands` runs them: bind, serve, stop on Ctrl-C or SIGTERM.

use std::time::Duration;

use shopcore_event_store::{schema, EventStore};
use shopcore_telemetry::process::shutdown_signal;

use super::server;
use super::settings::{CurrencyRateSyncSettings, FxProviderSettings};
use super::{CurrencyRateSync, FxProvider};
use crate::settings::CommandSettings;

/// `shopcore-commands fx-provider`: serves until stopped.
pub async fn run_provider(settings: FxProviderSettings) -> anyhow::Result<()> {
    tracing::info!(settings = ?settings, "starting");
    let provider = FxProvider::open(settings.file()).await?;
    let listener = tokio::net::TcpListener::bind(settings.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, path = super::RATES_PATH, "listening");
    provider.serve(listener, shutdown_signal()).await?;
    tracing::info!("fx provider stopped");
    Ok(())
}

/// `shopcore-commands currency-rate-sync`: syncs on its schedule until stopped, or once with
/// `--once` (the report as the last line of stdout; an error when the sync failed).
pub async fn run_sync(
    commands: &CommandSettings,
    settings: CurrencyRateSyncSettings,
) -> anyhow::Result<()> {
    tracing::info!(settings = ?settings, "starting");
    let options = shopcore_event_store::StoreOptions {
        max_connections: 4,
        ..commands.store_options()
    };
    let store = EventStore::connect(&commands.database_url, &options).await?;
    schema::check(store.pool(), Duration::from_secs(60)).await?;
    let sync = CurrencyRateSync::new(store, &settings)?;
    if settings.once {
        let report = sync.sync_once().await;
        // One line, the last of stdout (log lines go there too).
        println!("{}", serde_json::to_string(&report)?);
        return match report.error {
            None => Ok(()),
            Some(error) => Err(anyhow::anyhow!(
                "the currency rate sync failed ({}): {}",
                error.reason,
                error.detail
            )),
        };
    }
    let listener = tokio::net::TcpListener::bind(settings.metrics_addr).await?;
    tracing::info!(metrics_addr = %listener.local_addr()?, "listening");
    server::spawn(listener, sync.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    sync.run(stopped).await;
    Ok(())
}
