//! `shopcore-event-schemas`: inspect the topic map, check and record schema compatibility,
//! generate the AsyncAPI document, run a schema registry double.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use shopcore_event_schemas::compat::{self, Finding};
use shopcore_event_schemas::documents::DocumentSchema;
use shopcore_event_schemas::registry_double::RegistryDouble;
use shopcore_event_schemas::{asyncapi, EventSchemas};

#[derive(Parser)]
#[command(name = "shopcore-event-schemas", about = "Shopcore's event schemas")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the event type → topic map.
    Topics,
    /// Check every topic schema (events and documents) against its recorded history (exit 1
    /// on any finding).
    Check {
        #[arg(long, default_value_os_t = compat::default_dir())]
        dir: PathBuf,
    },
    /// Record new and compatibly changed topic schemas as their next version.
    Record {
        #[arg(long, default_value_os_t = compat::default_dir())]
        dir: PathBuf,
    },
    /// Print the AsyncAPI document (YAML).
    Asyncapi,
    /// Serve the schema registry double (for local runs without a registry).
    RegistryDouble {
        #[arg(long, env = "SCHEMA_REGISTRY_ADDR", default_value = "127.0.0.1:8081")]
        addr: SocketAddr,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let schemas = EventSchemas::embedded()?;
    match cli.command {
        Command::Topics => {
            for topic in schemas.topics() {
                for (event_type, version) in topic.branch_events() {
                    println!("{event_type} v{version}\t{}", topic.spec.topic);
                }
            }
        }
        Command::Check { dir } => {
            let mut findings = compat::check(schemas, &dir)?;
            findings.push(DocumentSchema::product()?.check_history(&dir)?);
            for finding in &findings {
                println!("{finding}");
            }
            if !findings.iter().all(Finding::is_ok) {
                std::process::exit(1);
            }
        }
        Command::Record { dir } => {
            for path in compat::record(schemas, &dir)? {
                println!("recorded {}", path.display());
            }
        }
        Command::Asyncapi => print!("{}", asyncapi::yaml(schemas)?),
        Command::RegistryDouble { addr } => {
            let registry = RegistryDouble::spawn(addr).await?;
            println!(
                "{{\"message\":\"listening\",\"registry_url\":\"{}\"}}",
                registry.url()
            );
            tokio::signal::ctrl_c().await?;
        }
    }
    Ok(())
}
