//! `shopcore-gateway`: the REST gateway.
//!
//! - `shopcore-gateway` serves;
//! - `shopcore-gateway openapi` prints the OpenAPI document;
//! - `shopcore-gateway token [--scope S]... [--all-scopes] [--customer-id ID]` mints a
//!   development bearer token with the configured `AUTH_JWT_SECRET` and prints it.

use std::time::Duration;

use clap::Parser as _;
use shopcore_gateways::app::GatewayApp;
use shopcore_gateways::settings::GatewaySettings;
use shopcore_telemetry::process::shutdown_signal;

/// Mints a development token (HS256, `AUTH_JWT_SECRET`).
#[derive(clap::Parser)]
#[command(
    name = "shopcore-gateway token",
    about = "Mint a development bearer token"
)]
struct TokenArgs {
    /// The token's subject, recorded as the actor of the events it causes.
    #[arg(long, default_value = "developer")]
    subject: String,
    /// A scope to grant (repeat for several); see the README for the list.
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Grant every scope.
    #[arg(long)]
    all_scopes: bool,
    /// Bind the token to one customer (a storefront session).
    #[arg(long)]
    customer_id: Option<uuid::Uuid>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 86_400)]
    ttl_seconds: u64,
    #[command(flatten)]
    auth: shopcore_auth::AuthSettings,
}

/// mimalloc: a request allocates and frees many small buffers (headers, JSON, strings); glibc's
/// malloc took a sixth of the gateway's time under load (`infra/bench-pricing`, perf).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    match std::env::args().nth(1).as_deref() {
        Some("openapi") => {
            println!("{}", shopcore_gateways::openapi::openapi_json());
            return Ok(());
        }
        Some("graphql-sdl") => {
            print!("{}", shopcore_gateways::graphql::sdl());
            return Ok(());
        }
        Some("token") => return mint(TokenArgs::parse_from(std::env::args().skip(1))),
        _ => {}
    }
    let settings = GatewaySettings::parse();
    let _telemetry = shopcore_telemetry::init("shopcore-gateway")?;
    tracing::info!(settings = ?settings, "starting");
    let app = GatewayApp::build(&settings).await?;
    app.run(shutdown_signal()).await
}

fn mint(args: TokenArgs) -> anyhow::Result<()> {
    let known: Vec<&str> = shopcore_auth::scopes::ALL.iter().map(|(s, _)| *s).collect();
    let mut scopes: Vec<&str> = if args.all_scopes {
        known.clone()
    } else {
        Vec::new()
    };
    for scope in &args.scopes {
        anyhow::ensure!(
            known.contains(&scope.as_str()),
            "unknown scope {scope:?}; known: {}",
            known.join(" ")
        );
        scopes.push(scope);
    }
    anyhow::ensure!(
        !scopes.is_empty(),
        "grant at least one --scope, or --all-scopes"
    );
    let token = args.auth.mint(
        &args.subject,
        &scopes,
        args.customer_id,
        Duration::from_secs(args.ttl_seconds),
    )?;
    println!("{token}");
    Ok(())
}
