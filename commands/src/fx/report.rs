//! What a sync did ([`SyncReport`], the answer of `POST /sync` and `--once`) and what the sync
//! knows of every pair ([`SyncStatus`], the body of `/status`).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use shopcore_domain::money::Rate;

use super::document::SkippedEntry;

/// Why a sync changed nothing (or stopped part-way; what it recorded before stands).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncFailure {
    /// `timeout`, `unreachable`, `http_status`, `too_large`, `malformed`, `no_rates`, `store`
    /// or `contention`.
    pub reason: &'static str,
    pub detail: String,
}

impl SyncFailure {
    pub(super) fn new(reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }

    /// The provider, not Shopcore, is at fault.
    pub fn is_provider_failure(&self) -> bool {
        !matches!(self.reason, "store" | "contention")
    }
}

/// One rate the sync changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RateChange {
    /// `EUR-USD`.
    pub pair: String,
    pub rate: Rate,
    pub previous_rate: Option<Rate>,
    /// The pair's version after the change.
    pub version: u64,
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    /// A usable document was read and every rate in it is recorded.
    pub ok: bool,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// The date of the provider's document.
    pub document_date: Option<NaiveDate>,
    /// The `source` the changes carry, `ecb:<date>`.
    pub source: Option<String>,
    /// Usable rates in the document.
    pub rates: usize,
    pub changed: Vec<RateChange>,
    /// Rates equal to the recorded ones: nothing written.
    pub unchanged: usize,
    /// Changes another sync (another instance, or this one before a retry) recorded first.
    pub already_recorded: usize,
    /// Entries left out: currencies Shopcore does not support.
    pub unknown: Vec<SkippedEntry>,
    /// Entries left out: malformed codes, EUR itself, unusable rates, rejected commands.
    pub invalid: Vec<SkippedEntry>,
    pub error: Option<SyncFailure>,
    /// Pairs whose rate is older than the stale age after this sync.
    pub stale_pairs: Vec<String>,
}

/// A pair's rate and its age.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PairAge {
    pub pair: String,
    pub rate: Rate,
    /// When the rate took effect (its last `FxRateChanged`).
    pub changed_at: DateTime<Utc>,
    pub age_seconds: i64,
    pub stale: bool,
}

/// Whether syncs succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SyncState {
    /// No sync has finished yet.
    Starting,
    /// The last sync succeeded.
    Synced,
    /// The last sync failed; the next tick tries again.
    Failing,
}

/// The sync's view since the process started, for `/status`, `/readyz` and tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    pub state: SyncState,
    pub runs: u64,
    pub consecutive_failures: u32,
    /// Failed syncs by reason.
    pub failures: BTreeMap<&'static str, u64>,
    /// Entries left out, by reason (`unknown_currency`, `invalid`), over all syncs.
    pub skipped: BTreeMap<&'static str, u64>,
    /// Events this sync wrote.
    pub events_written: u64,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_sync: Option<SyncReport>,
    pub stale_after_seconds: i64,
    /// Every pair of the event store, by id.
    pub pairs: Vec<PairAge>,
    pub stale_pairs: Vec<String>,
}
