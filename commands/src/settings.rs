//! Typed settings of the command service, from the environment (and an optional `.env`).

use std::net::SocketAddr;
use std::time::Duration;

use shopcore_event_store::StoreOptions;
use shopcore_telemetry::process::redact_url;

/// Settings of `shopcore-commands`.
#[derive(Clone, clap::Parser)]
#[command(name = "shopcore-commands", about = "Shopcore's gRPC command service")]
pub struct CommandSettings {
    /// Postgres event store. The database is created when missing.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/shopcore"
    )]
    pub database_url: String,
    /// Where the gRPC server listens (port 0 picks a free port).
    #[arg(long, env = "GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: SocketAddr,
    /// Where `/metrics`, `/healthz` and `/readyz` of the command service listen.
    #[arg(long, env = "COMMANDS_METRICS_ADDR", default_value = "127.0.0.1:9463")]
    pub metrics_addr: SocketAddr,
    /// Connections in the event store pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    pub database_max_connections: u32,
    /// Longest an event store statement may run, in milliseconds.
    #[arg(long, env = "DATABASE_STATEMENT_TIMEOUT_MS", default_value_t = 5000)]
    pub statement_timeout_ms: u64,
    /// Longest an append may wait for a lock, in milliseconds.
    #[arg(long, env = "DATABASE_LOCK_TIMEOUT_MS", default_value_t = 2000)]
    pub lock_timeout_ms: u64,
    /// Longest a transaction may stay idle before the server ends it, in milliseconds.
    #[arg(
        long,
        env = "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS",
        default_value_t = 10000
    )]
    pub idle_in_transaction_timeout_ms: u64,
    /// How long idempotency keys are remembered, in hours (then purged).
    #[arg(long, env = "IDEMPOTENCY_RETENTION_HOURS", default_value_t = 24)]
    pub idempotency_retention_hours: u64,
    /// Bearer token verification (every command needs a token).
    #[command(flatten)]
    pub auth: shopcore_auth::AuthSettings,
    /// How long a price query naming `min_position` waits for the pricing index, in ms.
    #[arg(
        long,
        env = "PRICING_READ_YOUR_WRITES_TIMEOUT_MS",
        default_value_t = 5000
    )]
    pub pricing_read_your_writes_timeout_ms: u64,
    /// A price converted with a rate older than this many seconds is marked `stale`.
    #[arg(long, env = "FX_STALE_AFTER_SECONDS", default_value_t = 345_600)]
    pub fx_stale_after_seconds: u64,
    /// The currency cross rates go through (A→base→B when no A–B rate is known); empty: none.
    #[arg(long, env = "FX_BASE_CURRENCY", default_value = "EUR")]
    pub fx_base_currency: String,
    /// Events the pricing index reads per batch from the log.
    #[arg(long, env = "PRICING_INDEX_BATCH_SIZE", default_value_t = 1000)]
    pub pricing_index_batch_size: u32,
}

impl CommandSettings {
    /// `FX_BASE_CURRENCY` as a currency (`None` when empty).
    pub fn fx_base(&self) -> anyhow::Result<Option<shopcore_domain::money::Currency>> {
        let code = self.fx_base_currency.trim();
        if code.is_empty() {
            return Ok(None);
        }
        shopcore_domain::money::Currency::parse(code)
            .map(Some)
            .map_err(|_| {
                anyhow::anyhow!("FX_BASE_CURRENCY: {code:?} is not a supported ISO 4217 code")
            })
    }

    /// How the write path connects to the event store.
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            max_connections: self.database_max_connections,
            statement_timeout: Duration::from_millis(self.statement_timeout_ms),
            lock_timeout: Duration::from_millis(self.lock_timeout_ms),
            idle_in_transaction_timeout: Duration::from_millis(self.idle_in_transaction_timeout_ms),
            idempotency_retention: Duration::from_secs(self.idempotency_retention_hours * 3600),
            ..StoreOptions::default()
        }
    }
}

impl std::fmt::Debug for CommandSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandSettings")
            .field("database_url", &redact_url(&self.database_url))
            .field("grpc_addr", &self.grpc_addr)
            .field("metrics_addr", &self.metrics_addr)
            .field("database_max_connections", &self.database_max_connections)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("lock_timeout_ms", &self.lock_timeout_ms)
            .field(
                "idle_in_transaction_timeout_ms",
                &self.idle_in_transaction_timeout_ms,
            )
            .field(
                "idempotency_retention_hours",
                &self.idempotency_retention_hours,
            )
            .field("auth", &self.auth)
            .field(
                "pricing_read_your_writes_timeout_ms",
                &self.pricing_read_your_writes_timeout_ms,
            )
            .field("fx_stale_after_seconds", &self.fx_stale_after_seconds)
            .field("pricing_index_batch_size", &self.pricing_index_batch_size)
            .field("fx_base_currency", &self.fx_base_currency)
            .finish()
    }
}
