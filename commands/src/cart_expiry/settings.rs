//! Settings of `shopcore-commands cart-expiry-sweep`. The event store is the command service's
//! (`DATABASE_URL`); the read models are the projections' (`MYSQL_URL`, `REDIS_URL`,
//! `REDIS_KEY_PREFIX`).

use std::net::SocketAddr;
use std::time::Duration;

use shopcore_telemetry::process::redact_url;

/// Where the sweep reads due carts, how often, and where its endpoints listen.
#[derive(Clone, clap::Args)]
pub struct CartExpirySettings {
    /// The MySQL (MariaDB) read models, where `carts` says which open carts are past their
    /// `expires_at`. Credentials in the URL are never printed.
    #[arg(
        long,
        env = "MYSQL_URL",
        default_value = "mysql://root@127.0.0.1:3306/shopcore"
    )]
    pub mysql_url: String,
    /// The Redis of the cart cache (`{prefix}cart::{id}`), from which expired carts are removed.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    /// Prefix of every Redis key of this deployment (the projections' `REDIS_KEY_PREFIX`).
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "")]
    pub redis_key_prefix: String,
    /// Time between two rounds (`10s`, `500ms`): how long an expired cart may stay open in the
    /// read models at most, plus their lag. Writes are refused from the instant `expiresAt`
    /// passes whatever the sweep does.
    #[arg(
        long,
        env = "CART_EXPIRY_INTERVAL",
        default_value = "10s",
        value_parser = humantime::parse_duration
    )]
    pub interval: Duration,
    /// Due carts handled per round; the rest wait for the next one.
    #[arg(long, env = "CART_EXPIRY_BATCH_SIZE", default_value_t = 500)]
    pub batch_size: u32,
    /// `Expire` commands in flight at once within a round.
    #[arg(long, env = "CART_EXPIRY_CONCURRENCY", default_value_t = 8)]
    pub concurrency: usize,
    /// Where `/metrics`, `/healthz` and `/readyz` of the sweep listen.
    #[arg(
        long,
        env = "CART_EXPIRY_METRICS_ADDR",
        default_value = "127.0.0.1:9472"
    )]
    pub metrics_addr: SocketAddr,
    /// Sweep once, print the round's report as JSON and exit (non-zero when the read model
    /// could not be read or a cart failed); no endpoints.
    #[arg(long)]
    pub once: bool,
}

impl std::fmt::Debug for CartExpirySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CartExpirySettings")
            .field("mysql_url", &redact_url(&self.mysql_url))
            .field("redis_url", &redact_url(&self.redis_url))
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("interval", &self.interval)
            .field("batch_size", &self.batch_size)
            .field("concurrency", &self.concurrency)
            .field("metrics_addr", &self.metrics_addr)
            .field("once", &self.once)
            .finish()
    }
}
