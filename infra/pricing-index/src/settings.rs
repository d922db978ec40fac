//! The settings of a pricing index, the same in every process that holds one (the command
//! service and the gateway read the same variables).

use std::sync::Arc;
use std::time::Duration;

use shopcore_domain::money::Currency;
use shopcore_event_store::GlobalLog;

use crate::answer::PricingAnswers;
use crate::PricingQueries;

/// `PRICING_*` and `FX_*` settings of the index and its queries.
#[derive(Debug, Clone, clap::Args)]
pub struct PricingIndexSettings {
    /// How long a price query naming a position waits for the pricing index, in ms.
    #[arg(
        long,
        env = "PRICING_READ_YOUR_WRITES_TIMEOUT_MS",
        default_value_t = 5000
    )]
    pub pricing_read_your_writes_timeout_ms: u64,
    /// A price converted with a rate older than this many seconds is marked `stale`.
    #[arg(long, env = "FX_STALE_AFTER_SECONDS", default_value_t = 345_600)]
    pub fx_stale_after_seconds: u64,
    /// The currency cross rates go through (A→base→B when no A–B rate is known); empty: none.
    #[arg(long, env = "FX_BASE_CURRENCY", default_value = "EUR")]
    pub fx_base_currency: String,
    /// Events the pricing index reads per batch from the log.
    #[arg(long, env = "PRICING_INDEX_BATCH_SIZE", default_value_t = 1000)]
    pub pricing_index_batch_size: u32,
}

impl PricingIndexSettings {
    /// `FX_BASE_CURRENCY` as a currency (`None` when empty).
    pub fn fx_base(&self) -> anyhow::Result<Option<Currency>> {
        let code = self.fx_base_currency.trim();
        if code.is_empty() {
            return Ok(None);
        }
        Currency::parse(code).map(Some).map_err(|_| {
            anyhow::anyhow!("FX_BASE_CURRENCY: {code:?} is not a supported ISO 4217 code")
        })
    }

    /// An empty index following `log` (not yet running: spawn [`PricingQueries::run`]) and
    /// the queries over it.
    pub fn build(&self, log: GlobalLog) -> anyhow::Result<(Arc<PricingQueries>, PricingAnswers)> {
        let queries = Arc::new(PricingQueries::new(
            log.clone(),
            self.pricing_index_batch_size,
            self.fx_base()?,
        ));
        let answers = PricingAnswers::new(
            queries.index().clone(),
            log,
            Duration::from_millis(self.pricing_read_your_writes_timeout_ms),
            Duration::from_secs(self.fx_stale_after_seconds),
        );
        Ok((queries, answers))
    }
}
