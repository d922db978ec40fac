//! Typed settings of the projections process, from the environment (and an optional `.env`).

use std::net::SocketAddr;

use shopcore_telemetry::process::redact_url;

/// Connection settings shared by the projection subcommands.
#[derive(Clone, clap::Args)]
pub struct ProjectionSettings {
    /// Postgres event store.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/shopcore"
    )]
    pub database_url: String,
    /// MySQL (MariaDB) read-model database. Created when missing.
    #[arg(
        long,
        env = "MYSQL_URL",
        default_value = "mysql://root@127.0.0.1:3306/shopcore"
    )]
    pub mysql_url: String,
    /// Redis for snapshots and caches.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    /// Prefix of every Redis key this deployment writes (isolates tests and tenants).
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "")]
    pub redis_key_prefix: String,
    /// CouchDB (or pouchdb-server) for the catalog documents; credentials in the URL are sent
    /// as basic auth.
    #[arg(long, env = "COUCHDB_URL", default_value = "http://127.0.0.1:5984")]
    pub couchdb_url: String,
    /// The catalog database in CouchDB. Created, with its indexes, when missing.
    #[arg(long, env = "COUCHDB_CATALOG_DB", default_value = "shopcore_catalog")]
    pub couchdb_catalog_db: String,
    /// Events per projector batch.
    #[arg(long, env = "PROJECTION_BATCH_SIZE", default_value_t = 500)]
    pub batch_size: u32,
    /// Where `/metrics` and `/healthz` of the projections process listen.
    #[arg(
        long,
        env = "PROJECTIONS_METRICS_ADDR",
        default_value = "127.0.0.1:9464"
    )]
    pub metrics_addr: SocketAddr,
}

impl std::fmt::Debug for ProjectionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectionSettings")
            .field("database_url", &redact_url(&self.database_url))
            .field("mysql_url", &redact_url(&self.mysql_url))
            .field("redis_url", &redact_url(&self.redis_url))
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("couchdb_url", &redact_url(&self.couchdb_url))
            .field("couchdb_catalog_db", &self.couchdb_catalog_db)
            .field("batch_size", &self.batch_size)
            .field("metrics_addr", &self.metrics_addr)
            .finish()
    }
}
