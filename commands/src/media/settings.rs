//! Settings of `shopcore-commands media-worker`.

use std::net::SocketAddr;

/// Where the worker finds uploads, what it is called and where its endpoints listen.
#[derive(Debug, Clone, clap::Args)]
pub struct MediaWorkerSettings {
    /// The media store: a directory, `file:///…` or `s3://bucket/prefix` (with `AWS_*`
    /// variables). Default: `$SHOPCORE_HOME/media` (`~/.local/share/shopcore/media`).
    #[arg(long, env = "MEDIA_STORE_URL")]
    pub media_store_url: Option<String>,
    /// The worker's checkpoint name; workers of one name share the work's progress.
    #[arg(long, env = "MEDIA_WORKER_NAME", default_value = "media-worker")]
    pub name: String,
    /// Events read per batch.
    #[arg(long, env = "MEDIA_WORKER_BATCH_SIZE", default_value_t = 100)]
    pub batch_size: u32,
    /// Where `/metrics`, `/healthz` and `/readyz` of the worker listen.
    #[arg(
        long,
        env = "MEDIA_WORKER_METRICS_ADDR",
        default_value = "127.0.0.1:9467"
    )]
    pub metrics_addr: SocketAddr,
}

impl MediaWorkerSettings {
    /// The media store URL, or the default location.
    pub fn media_store_url(&self) -> String {
        self.media_store_url
            .clone()
            .filter(|url| !url.trim().is_empty())
            .unwrap_or_else(shopcore_media_store::default_url)
    }
}
