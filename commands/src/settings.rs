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
    /// The pricing index and its queries (`PRICING_*`, `FX_*`).
    #[command(flatten)]
    pub pricing: shopcore_pricing_index::settings::PricingIndexSettings,
    /// Carts (`CART_*`).
    #[command(flatten)]
    pub carts: CartLimits,
}

/// How long carts live and how much they hold.
#[derive(Debug, Clone, clap::Args)]
pub struct CartLimits {
    /// A cart expires this many seconds after its last change (every change slides it).
    #[arg(long, env = "CART_TTL_SECONDS", default_value_t = 86_400)]
    pub cart_ttl_seconds: u32,
    /// Most units of one SKU in a cart.
    #[arg(long, env = "CART_MAX_QUANTITY_PER_LINE", default_value_t = 99)]
    pub cart_max_quantity_per_line: u32,
    /// Most different SKUs in a cart.
    #[arg(long, env = "CART_MAX_LINES", default_value_t = 100)]
    pub cart_max_lines: u16,
}

impl CartLimits {
    /// The domain's settings of carts.
    pub fn settings(&self) -> shopcore_domain::cart::CartSettings {
        shopcore_domain::cart::CartSettings {
            ttl: chrono::TimeDelta::seconds(i64::from(self.cart_ttl_seconds.max(1))),
            max_quantity_per_line: self.cart_max_quantity_per_line.max(1),
            max_lines: usize::from(self.cart_max_lines.max(1)),
        }
    }
}

impl CommandSettings {
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
            .field("pricing", &self.pricing)
            .field("carts", &self.carts)
            .finish()
    }
}
