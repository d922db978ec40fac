//! `shopcore-commands`: the gRPC command service, and seeding.

use clap::{Parser, Subcommand};
use shopcore_commands::app::{shutdown_signal, CommandApp};
use shopcore_commands::event_log::GlobalLog;
use shopcore_commands::event_store::EventStore;
use shopcore_commands::relay::{server, Relay, RelaySettings};
use shopcore_commands::settings::CommandSettings;

#[derive(Parser)]
#[command(name = "shopcore-commands", about = "Shopcore's gRPC command service")]
struct Cli {
    #[command(flatten)]
    settings: CommandSettings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve gRPC until stopped (the default).
    Serve,
    /// Write seed data through the command pipeline (idempotent: run it twice, get it once).
    Seed {
        /// Customers to register (every tenth is VIP).
        #[arg(long, default_value_t = 1000)]
        customers: usize,
    },
    /// Publish every stored event to Kafka (Avro, schema registry ids) until stopped.
    Relay {
        #[command(flatten)]
        relay: RelaySettings,
    },
    /// Print published events of a topic, decoded with the schema registry, as JSON lines.
    Events {
        /// A topic of the topic map (without KAFKA_TOPIC_PREFIX), e.g. customer.updated.
        topic: String,
        /// At most this many messages, from the beginning.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        relay: RelaySettings,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let _telemetry = shopcore_telemetry::init("shopcore-commands")?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            tracing::info!(settings = ?cli.settings, "starting");
            let app = CommandApp::build(&cli.settings).await?;
            app.run(shutdown_signal()).await
        }
        Command::Seed { customers } => {
            let store = EventStore::connect(&cli.settings.database_url, 16).await?;
            let started = std::time::Instant::now();
            let report = shopcore_commands::seed::seed_customers(&store, customers).await?;
            println!(
                "seeded {} customers, {} new events in {:.1} s",
                report.customers,
                report.events_written,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Relay { relay } => {
            tracing::info!(settings = ?cli.settings, relay = ?relay, "starting");
            let store = EventStore::connect(&cli.settings.database_url, 4).await?;
            let listener = tokio::net::TcpListener::bind(relay.metrics_addr).await?;
            let relay = Relay::new(relay, GlobalLog::new(store.pool().clone()))?;
            tracing::info!(metrics_addr = %listener.local_addr()?, "listening");
            server::spawn(listener, relay.state());
            let (stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                shutdown_signal().await;
                let _ = stop.send(true);
            });
            relay.run(stopped).await;
            Ok(())
        }
        Command::Events {
            topic,
            limit,
            relay,
        } => {
            let topic = format!("{}{topic}", relay.topic_prefix);
            shopcore_commands::relay::consumer::print_decoded(
                &relay.kafka_brokers,
                &relay.schema_registry_url,
                &[topic],
                relay.topic_partitions,
                limit,
            )
            .await?;
            Ok(())
        }
    }
}
