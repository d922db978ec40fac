//! `shopcore-gateway`: the REST gateway. `shopcore-gateway openapi` prints the OpenAPI document.

use clap::Parser as _;
use shopcore_gateways::app::GatewayApp;
use shopcore_gateways::settings::GatewaySettings;
use shopcore_telemetry::process::shutdown_signal;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    if std::env::args().nth(1).as_deref() == Some("openapi") {
        println!("{}", shopcore_gateways::openapi::openapi_json());
        return Ok(());
    }
    let settings = GatewaySettings::parse();
    let _telemetry = shopcore_telemetry::init("shopcore-gateway")?;
    tracing::info!(settings = ?settings, "starting");
    let app = GatewayApp::build(&settings).await?;
    app.run(shutdown_signal()).await
}
