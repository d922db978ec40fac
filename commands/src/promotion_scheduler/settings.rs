//! Settings of `shopcore-commands promotion-scheduler`. The event store is the command
//! service's (`DATABASE_URL`); the read model is the projections' (`MYSQL_URL`).

use std::net::SocketAddr;
use std::time::Duration;

use shopcore_telemetry::process::redact_url;

/// Where the scheduler reads due promotions, how often, and where its endpoints listen.
#[derive(Clone, clap::Args)]
pub struct PromotionSchedulerSettings {
    /// The MySQL (MariaDB) read models, where `promotion_campaigns` says what is due.
    /// Credentials in the URL are never printed.
    #[arg(
        long,
        env = "MYSQL_URL",
        default_value = "mysql://root@127.0.0.1:3306/shopcore"
    )]
    pub mysql_url: String,
    /// Time between two looks for due promotions (`2s`, `500ms`): how late an activation may
    /// be, plus the read model's lag.
    #[arg(
        long,
        env = "PROMOTION_SCHEDULER_INTERVAL",
        default_value = "2s",
        value_parser = humantime::parse_duration
    )]
    pub interval: Duration,
    /// Due promotions handled per look; the rest wait for the next one.
    #[arg(long, env = "PROMOTION_SCHEDULER_BATCH_SIZE", default_value_t = 200)]
    pub batch_size: u32,
    /// Where `/metrics`, `/healthz` and `/readyz` of the scheduler listen.
    #[arg(
        long,
        env = "PROMOTION_SCHEDULER_METRICS_ADDR",
        default_value = "127.0.0.1:9470"
    )]
    pub metrics_addr: SocketAddr,
}

impl std::fmt::Debug for PromotionSchedulerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromotionSchedulerSettings")
            .field("mysql_url", &redact_url(&self.mysql_url))
            .field("interval", &self.interval)
            .field("batch_size", &self.batch_size)
            .field("metrics_addr", &self.metrics_addr)
            .finish()
    }
}
