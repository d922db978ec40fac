//! The command service process: start-up, serving and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;

use anyhow::Context as _;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use shopcore_proto::customer::v1::customer_commands_server::CustomerCommandsServer;

use crate::error::CommandError;
use crate::event_store::EventStore;
use crate::grpc::customer::CustomerService;
use crate::settings::CommandSettings;

static COMMANDS_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let counter = IntCounterVec::new(
        Opts::new(
            "shopcore_commands_total",
            "Commands handled, by command type and outcome code",
        ),
        &["command", "outcome"],
    )
    .expect("valid metric");
    // Registration fails only for a duplicate name, which this LazyLock rules out.
    let _ = prometheus::register(Box::new(counter.clone()));
    counter
});

static COMMAND_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    let histogram = HistogramVec::new(
        HistogramOpts::new(
            "shopcore_command_duration_seconds",
            "Time to handle a command",
        ),
        &["command"],
    )
    .expect("valid metric");
    let _ = prometheus::register(Box::new(histogram.clone()));
    histogram
});

/// Counts a handled command and observes its duration.
pub fn record_command(command: &str, error: Option<&CommandError>, elapsed: Duration) {
    let outcome = error.map_or("ok", |e| e.code().as_str());
    COMMANDS_TOTAL.with_label_values(&[command, outcome]).inc();
    COMMAND_SECONDS
        .with_label_values(&[command])
        .observe(elapsed.as_secs_f64());
}

/// A bound, ready-to-serve command service.
pub struct CommandApp {
    listener: TcpListener,
    store: EventStore,
}

impl CommandApp {
    /// Connects to (and migrates) the event store and binds the gRPC port.
    pub async fn build(settings: &CommandSettings) -> anyhow::Result<Self> {
        let store =
            EventStore::connect(&settings.database_url, settings.database_max_connections).await?;
        let listener = TcpListener::bind(settings.grpc_addr)
            .await
            .with_context(|| format!("while binding the gRPC address {}", settings.grpc_addr))?;
        Ok(Self { listener, store })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `shutdown` resolves, then finishes in-flight calls.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr()?;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(shopcore_proto::FILE_DESCRIPTOR_SET)
            .build_v1()
            .context("while building the reflection service")?;
        let (health_reporter, health) = tonic_health::server::health_reporter();
        health_reporter
            .set_serving::<CustomerCommandsServer<CustomerService>>()
            .await;
        tracing::info!(grpc_addr = %addr, "listening");
        tonic::transport::Server::builder()
            .add_service(health)
            .add_service(reflection)
            .add_service(CustomerCommandsServer::new(CustomerService::new(
                self.store,
            )))
            .serve_with_incoming_shutdown(TcpListenerStream::new(self.listener), shutdown)
            .await
            .context("while serving gRPC")?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
