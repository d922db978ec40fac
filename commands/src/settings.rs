//! Typed settings of the command service, from the environment (and an optional `.env`).

use std::net::SocketAddr;

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
    /// Connections in the event store pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    pub database_max_connections: u32,
}

impl std::fmt::Debug for CommandSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandSettings")
            .field("database_url", &redact_url(&self.database_url))
            .field("grpc_addr", &self.grpc_addr)
            .field("database_max_connections", &self.database_max_connections)
            .finish()
    }
}

/// A URL with its password replaced by `***`, safe to log.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://app:s3cret@db:5432/shopcore"),
            "postgres://app:***@db:5432/shopcore"
        );
        assert_eq!(
            super::redact_url("postgres://postgres@127.0.0.1/shopcore"),
            "postgres://postgres@127.0.0.1/shopcore"
        );
    }
}
