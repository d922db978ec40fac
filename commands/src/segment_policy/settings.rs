//! Settings of `shopcore-commands segment-policy`. The event store is the command service's
//! (`DATABASE_URL`); cross rates go through `FX_BASE_CURRENCY`, as in the pricing index.

use std::net::SocketAddr;

use shopcore_domain::customer::SpendRule;
use shopcore_domain::money::{Currency, Money};

/// The rule the policy applies, its name and where its endpoints listen.
#[derive(Debug, Clone, clap::Args)]
pub struct SegmentPolicySettings {
    /// A customer is VIP while the spend of the window reaches this many minor units of
    /// SEGMENT_BASE_CURRENCY (100000 = 1000.00 EUR).
    #[arg(long, env = "SEGMENT_VIP_THRESHOLD_MINOR", default_value_t = 100_000)]
    pub vip_threshold_minor: i64,
    /// The currency spend is counted in; checkouts in others are converted with the FX rates.
    #[arg(long, env = "SEGMENT_BASE_CURRENCY", default_value = "EUR")]
    pub base_currency: String,
    /// The segment the policy owns: it adds and removes this one only (case-sensitive).
    #[arg(long, env = "SEGMENT_VIP_SEGMENT", default_value = "vip")]
    pub vip_segment: String,
    /// The spend window: checkouts of this many days up to the checkout being recalculated.
    #[arg(long, env = "SEGMENT_WINDOW_DAYS", default_value_t = 365)]
    pub window_days: u32,
    /// The policy's checkpoint name (and the key of its spend records): a policy under a new
    /// name replays the whole log beside the live one, writing nothing the live one wrote.
    #[arg(long, env = "SEGMENT_POLICY_NAME", default_value = "segment-policy")]
    pub name: String,
    /// Events read per batch.
    #[arg(long, env = "SEGMENT_POLICY_BATCH_SIZE", default_value_t = 200)]
    pub batch_size: u32,
    /// Where `/metrics`, `/healthz` and `/readyz` of the policy listen.
    #[arg(
        long,
        env = "SEGMENT_POLICY_METRICS_ADDR",
        default_value = "127.0.0.1:9471"
    )]
    pub metrics_addr: SocketAddr,
}

impl SegmentPolicySettings {
    /// The rule, checked as the customer aggregate will check it.
    pub fn rule(&self) -> anyhow::Result<SpendRule> {
        let currency = Currency::parse(self.base_currency.trim()).map_err(|_| {
            anyhow::anyhow!(
                "SEGMENT_BASE_CURRENCY: {:?} is not a supported ISO 4217 code",
                self.base_currency
            )
        })?;
        SpendRule {
            segment: self.vip_segment.clone(),
            threshold: Money::new(self.vip_threshold_minor, currency),
            window_days: self.window_days,
        }
        .validated()
        .map_err(|error| anyhow::anyhow!("segment policy rule: {error}"))
    }
}
