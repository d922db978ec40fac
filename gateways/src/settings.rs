//! Typed settings of the gateway, from the environment (and an optional `.env`).

use std::net::SocketAddr;

use shopcore_telemetry::process::redact_url;

/// Settings of `shopcore-gateway`.
#[derive(Clone, clap::Parser)]
#[command(name = "shopcore-gateway", about = "Shopcore's REST gateway")]
pub struct GatewaySettings {
    /// Where the HTTP server listens (port 0 picks a free port).
    #[arg(long, env = "HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// The gRPC command service.
    #[arg(long, env = "COMMANDS_URL", default_value = "http://127.0.0.1:50051")]
    pub commands_url: String,
    /// The Postgres event store, read only: to tell whether a `Shopcore-Min-Position` names an
    /// event of the log, and to feed the pricing index replica.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/shopcore"
    )]
    pub database_url: String,
    /// MySQL (MariaDB) read models.
    #[arg(
        long,
        env = "MYSQL_URL",
        default_value = "mysql://root@127.0.0.1:3306/shopcore"
    )]
    pub mysql_url: String,
    /// Redis snapshots and caches.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    /// Prefix of every Redis key of this deployment.
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "")]
    pub redis_key_prefix: String,
    /// CouchDB (or pouchdb-server) holding the catalog's product documents.
    #[arg(long, env = "COUCHDB_URL", default_value = "http://127.0.0.1:5984")]
    pub couchdb_url: String,
    /// The catalog database in CouchDB (the projections process creates it).
    #[arg(long, env = "COUCHDB_CATALOG_DB", default_value = "shopcore_catalog")]
    pub couchdb_catalog_db: String,
    /// The media store: a directory, `file:///…` or `s3://bucket/prefix` (with `AWS_*`
    /// variables). Default: `$SHOPCORE_HOME/media` (`~/.local/share/shopcore/media`).
    #[arg(long, env = "MEDIA_STORE_URL")]
    pub media_store_url: Option<String>,
    /// Where clients fetch media: the gateway's own `/media` (default), or a CDN or public
    /// bucket serving the same keys.
    #[arg(long, env = "MEDIA_PUBLIC_BASE_URL", default_value = "/media")]
    pub media_public_base_url: String,
    /// How long a read waits for the read model to reach `Shopcore-Min-Position`, in
    /// milliseconds.
    #[arg(long, env = "READ_YOUR_WRITES_TIMEOUT_MS", default_value_t = 5000)]
    pub read_your_writes_timeout_ms: u64,
    /// Bearer token verification.
    #[command(flatten)]
    pub auth: shopcore_auth::AuthSettings,
    /// The gateway's replica of the pricing index (`PRICING_*`, `FX_*`, as the command
    /// service's).
    #[command(flatten)]
    pub pricing: shopcore_pricing_index::settings::PricingIndexSettings,
}

impl std::fmt::Debug for GatewaySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewaySettings")
            .field("http_addr", &self.http_addr)
            .field("commands_url", &self.commands_url)
            .field("database_url", &redact_url(&self.database_url))
            .field("mysql_url", &redact_url(&self.mysql_url))
            .field("redis_url", &redact_url(&self.redis_url))
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("couchdb_url", &redact_url(&self.couchdb_url))
            .field("couchdb_catalog_db", &self.couchdb_catalog_db)
            .field("media_store_url", &self.media_store_url)
            .field("media_public_base_url", &self.media_public_base_url)
            .field(
                "read_your_writes_timeout_ms",
                &self.read_your_writes_timeout_ms,
            )
            .field("auth", &self.auth)
            .field("pricing", &self.pricing)
            .finish()
    }
}
