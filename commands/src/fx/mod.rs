//! FX rates from a provider: the fake provider the project runs, and the sync that records the
//! provider's rates as `CurrencyRate` commands.
//!
//! - [`provider`]: `shopcore-commands fx-provider`, an HTTP server that serves an ECB daily
//!   reference rates document at the ECB's path, which a scenario replaces with `PUT` (or makes
//!   fail or answer late).
//! - [`document`]: the ECB document, read strictly.
//! - [`sync`]: `shopcore-commands currency-rate-sync`. Every `FX_SYNC_INTERVAL`, on
//!   `POST /sync`, or once with `--once`, it fetches the document (`FX_PROVIDER_TIMEOUT` for
//!   the whole answer, at most 1 MiB), and for each rate of one euro it loads the `EUR-XXX`
//!   pair and issues `SetFxRate` through the pair's pipeline **only when the rate differs**
//!   (actor `currency-rate-sync`, source `ecb:<date>`, expected version = the version read,
//!   idempotency key = source, pair, rate and version). So a document read again writes
//!   nothing, a changed rate writes one `FxRateChanged` (with `previousRate`; the relay
//!   publishes it to `fx.rate.changed.v1`), and two syncs making the same change at once write
//!   it once. The rate takes effect when the sync records it (`changedAt` is the sync's time).
//! - [`report`]: what a sync did and the status of every pair: its age since it took effect,
//!   stale when older than `FX_STALE_AFTER_SECONDS` (metrics `shopcore_fx_rate_age_seconds`,
//!   `shopcore_fx_rates_stale`; `/status` and `/readyz` list the stale pairs).
//! - [`server`]: the sync's endpoints; [`settings`]: both processes' settings; [`process`]:
//!   how `shopcore-commands` runs them.
//!
//! **Nothing half-read is written.** A provider that is slow, down, answering an error status
//! or serving a document that is not usable (malformed XML, no rates) makes the sync write
//! nothing: the failure is logged, counted (`shopcore_fx_sync_failures_total{reason}`) and
//! shown on `/readyz`, and the next tick tries again; the process never exits for it. Entries
//! the document gets wrong one by one (a currency Shopcore does not support, a rate that is
//! not a positive decimal) are left out and counted, the others recorded.

pub mod document;
mod metrics;
pub mod process;
pub mod provider;
pub mod report;
pub mod server;
pub mod settings;
pub mod sync;

pub use provider::{Fault, FxProvider, RATES_PATH};
pub use report::{PairAge, RateChange, SyncFailure, SyncReport, SyncState, SyncStatus};
pub use settings::{CurrencyRateSyncSettings, FxProviderSettings};
pub use sync::CurrencyRateSync;
