//! Settings of `shopcore-commands fx-provider` and `shopcore-commands currency-rate-sync`, from
//! flags or the environment. Durations are humantime (`15m`, `10s`, `1h 30m`) or a bare number
//! of seconds. The age after which a rate is stale is the command service's
//! `FX_STALE_AFTER_SECONDS`, so the sync and the price answers agree on it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use shopcore_telemetry::process::redact_url;

use super::provider::RATES_PATH;

/// The stale age when none is configured: 96 hours (the ECB skips weekends and holidays).
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(96 * 3600);

/// Settings of the fake rates provider.
#[derive(Debug, Clone, clap::Args)]
pub struct FxProviderSettings {
    /// Where the provider listens (port 0 picks a free port).
    #[arg(long, env = "FX_PROVIDER_ADDR", default_value = "127.0.0.1:8082")]
    pub addr: SocketAddr,
    /// A file that keeps the document a `PUT` stored across restarts (read at start when it
    /// exists). Unset: the document lives in memory only, and a restart serves the default
    /// (`infra/fx/eurofxref-daily.xml`, built in).
    #[arg(long, env = "FX_PROVIDER_FILE")]
    pub file: Option<PathBuf>,
}

impl FxProviderSettings {
    /// The file to persist to, if one is named (an empty value names none).
    pub fn file(&self) -> Option<PathBuf> {
        self.file
            .clone()
            .filter(|path| !path.as_os_str().is_empty())
    }
}

/// Settings of the currency rate sync.
#[derive(Clone, clap::Args)]
pub struct CurrencyRateSyncSettings {
    /// The ECB daily reference rates document to read (the fake provider by default).
    #[arg(
        long,
        env = "FX_PROVIDER_URL",
        default_value = "http://127.0.0.1:8082/stats/eurofxref/eurofxref-daily.xml"
    )]
    pub provider_url: String,
    /// How often the provider is read (and on `POST /sync`).
    #[arg(long, env = "FX_SYNC_INTERVAL", default_value = "15m", value_parser = parse_positive_duration)]
    pub interval: Duration,
    /// Longest a fetch of the document may take, body included.
    #[arg(long, env = "FX_PROVIDER_TIMEOUT", default_value = "10s", value_parser = parse_positive_duration)]
    pub timeout: Duration,
    /// Where `/metrics`, `/healthz`, `/readyz`, `/status` and `POST /sync` listen.
    #[arg(long, env = "FX_SYNC_METRICS_ADDR", default_value = "127.0.0.1:9469")]
    pub metrics_addr: SocketAddr,
    /// Sync once, print what was done as JSON and exit (non-zero when the sync failed).
    #[arg(long)]
    pub once: bool,
    /// A rate older than this is reported stale; set from `FX_STALE_AFTER_SECONDS`.
    #[arg(skip = DEFAULT_STALE_AFTER)]
    pub stale_after: Duration,
}

impl std::fmt::Debug for CurrencyRateSyncSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrencyRateSyncSettings")
            .field("provider_url", &redact_url(&self.provider_url))
            .field("interval", &humantime::format_duration(self.interval))
            .field("timeout", &humantime::format_duration(self.timeout))
            .field("metrics_addr", &self.metrics_addr)
            .field("once", &self.once)
            .field("stale_after", &humantime::format_duration(self.stale_after))
            .finish()
    }
}

impl CurrencyRateSyncSettings {
    /// Settings for tests: the provider at `provider` (a base URL such as
    /// `http://127.0.0.1:4242`), a short timeout, the endpoints on port 0.
    pub fn local(provider: &str) -> Self {
        Self {
            provider_url: format!("{}{RATES_PATH}", provider.trim_end_matches('/')),
            interval: Duration::from_secs(900),
            timeout: Duration::from_secs(2),
            metrics_addr: "127.0.0.1:0".parse().expect("valid address"),
            once: false,
            stale_after: DEFAULT_STALE_AFTER,
        }
    }
}

/// A duration as humantime (`15m`, `48h`, `1h 30m`, `500ms`) or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|e| e.to_string());
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration such as 15m, 10s or 900: {e}"))
}

fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_humantime_or_seconds() {
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("900"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-5").is_err());
        assert!(parse_positive_duration("0").is_err());
    }
}
