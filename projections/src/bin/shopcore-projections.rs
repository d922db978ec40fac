//! `shopcore-projections`: runs the projectors, or rebuilds a read model.

use std::time::Duration;

use clap::{Parser, Subcommand};
use shopcore_event_store::tail::TailStatus;
use shopcore_projections::runtime::ProjectionRunner;
use shopcore_projections::settings::ProjectionSettings;
use shopcore_telemetry::process::shutdown_signal;

#[derive(Parser)]
#[command(
    name = "shopcore-projections",
    about = "Shopcore's projectors and rebuild jobs"
)]
struct Cli {
    #[command(flatten)]
    settings: ProjectionSettings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run every projector until stopped (the default).
    Run,
    /// Empty a read model and replay the whole log into it.
    Rebuild {
        /// The projector to rebuild (see `status`), or `all`.
        projector: String,
        /// Continue an interrupted rebuild from its checkpoint instead of starting over.
        #[arg(long)]
        resume: bool,
    },
    /// Print each projector's checkpoint and lag, and, from the running process, whether it is
    /// halted and at which event.
    Status,
    /// Create the MySQL read-model database when missing and run its migrations, then exit.
    Migrate,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let _telemetry = shopcore_telemetry::init("shopcore-projections")?;
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => {
            tracing::info!(settings = ?cli.settings, "starting");
            shopcore_projections::app::run(cli.settings, shutdown_signal()).await
        }
        Command::Rebuild { projector, resume } => {
            let (log, projectors) = shopcore_projections::app::projectors(&cli.settings).await?;
            let chosen: Vec<_> = projectors
                .into_iter()
                .filter(|p| projector == "all" || p.name() == projector)
                .collect();
            anyhow::ensure!(
                !chosen.is_empty(),
                "no projector named {projector:?}; see `status`"
            );
            for projector in chosen {
                let name = projector.name();
                let runner = ProjectionRunner::new(log.clone(), projector, cli.settings.batch_size);
                let report =
                    shopcore_projections::rebuild::rebuild(&runner, &log, resume, true).await?;
                println!(
                    "rebuilt {name}: {} events in {:.2} s = {:.0} events/s, checkpoint {}",
                    report.events,
                    report.elapsed.as_secs_f64(),
                    report.events_per_second(),
                    report.checkpoint
                );
            }
            Ok(())
        }
        Command::Migrate => {
            shopcore_projections::stores::connect_mysql(&cli.settings.mysql_url).await?;
            println!("MySQL read models migrated");
            Ok(())
        }
        Command::Status => {
            let (log, projectors) = shopcore_projections::app::projectors(&cli.settings).await?;
            let running = running_status(&cli.settings).await;
            println!("log head: {}", log.head().await?);
            if running.is_none() {
                println!(
                    "(no projections process answers on {}; state unknown)",
                    cli.settings.metrics_addr
                );
            }
            let mut halted = false;
            for projector in projectors {
                let checkpoint = projector.checkpoint().await?;
                let lag = log.lag(checkpoint, 1_000_000).await?;
                let live = running
                    .as_ref()
                    .and_then(|all| all.iter().find(|s| s.name == projector.name()));
                let state = live.map_or_else(
                    || "unknown".to_owned(),
                    |s| {
                        serde_json::to_value(&s.state)
                            .ok()
                            .and_then(|v| {
                                v.get("state").and_then(|s| s.as_str()).map(str::to_owned)
                            })
                            .unwrap_or_default()
                    },
                );
                println!(
                    "{:<20} {:<10} {:?}  checkpoint {checkpoint}  lag {} events, {:.1} s",
                    projector.name(),
                    state,
                    projector.delivery(),
                    lag.events,
                    lag.seconds,
                );
                if let Some(shopcore_event_store::tail::TailState::Halted(fault)) =
                    live.map(|s| &s.state)
                {
                    halted = true;
                    println!(
                        "  halted at event {} ({}, {} {}, position {}): {} [{}]",
                        fault.event_id.map(|id| id.to_string()).unwrap_or_default(),
                        fault.event_type.as_deref().unwrap_or("?"),
                        fault.aggregate_type.as_deref().unwrap_or("?"),
                        fault.aggregate_id.as_deref().unwrap_or("?"),
                        fault.position.map(|p| p.to_string()).unwrap_or_default(),
                        fault.message,
                        fault.reason,
                    );
                }
            }
            if halted {
                std::process::exit(2);
            }
            Ok(())
        }
    }
}

/// The statuses the running projections process reports at `/status`, if one answers.
async fn running_status(settings: &ProjectionSettings) -> Option<Vec<TailStatus>> {
    #[derive(serde::Deserialize)]
    struct Body {
        projectors: Vec<TailStatus>,
    }
    let url = format!("http://{}/status", settings.metrics_addr);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .ok()?;
    let body: Body = client.get(url).send().await.ok()?.json().await.ok()?;
    Some(body.projectors)
}
