//! `shopcore-commands`: the gRPC command service.

use clap::Parser as _;
use shopcore_commands::app::{shutdown_signal, CommandApp};
use shopcore_commands::settings::CommandSettings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    let settings = CommandSettings::parse();
    let _telemetry = shopcore_telemetry::init("shopcore-commands")?;
    tracing::info!(settings = ?settings, "starting");
    let app = CommandApp::build(&settings).await?;
    app.run(shutdown_signal()).await
}
