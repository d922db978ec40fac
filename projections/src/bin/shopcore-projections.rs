//! `shopcore-projections`: runs the projectors, or rebuilds a read model.

use clap::{Parser, Subcommand};
use shopcore_commands::app::shutdown_signal;
use shopcore_projections::runtime::ProjectionRunner;
use shopcore_projections::settings::ProjectionSettings;

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
    /// Print each projector's checkpoint and lag behind the log head.
    Status,
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
        Command::Status => {
            let (log, projectors) = shopcore_projections::app::projectors(&cli.settings).await?;
            let head = log.head().await?;
            println!("log head: {head}");
            for projector in projectors {
                let checkpoint = projector.checkpoint().await?;
                println!(
                    "{:<20} {:?}  checkpoint {checkpoint}  lag {}",
                    projector.name(),
                    projector.delivery(),
                    head.saturating_sub(checkpoint)
                );
            }
            Ok(())
        }
    }
}
