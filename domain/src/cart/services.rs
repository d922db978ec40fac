//! What the Cart aggregate asks of the outside world: unit prices ([`CartPricing`]), coupon
//! checks ([`CouponValidator`]) and its settings ([`CartSettings`]). Adapters implement the
//! traits over the pricing read model; tests use in-memory fakes.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::{Currency, Money};
use crate::pricing::Discount;

/// The price of `quantity` units of `sku` for this cart, at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceRequest {
    pub sku: String,
    pub quantity: u32,
    pub currency: Currency,
    pub customer_id: Option<Uuid>,
    pub channel: Option<String>,
    pub region: Option<String>,
    pub at: DateTime<Utc>,
}

/// A priced SKU as the pricing service returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PricedItem {
    /// The price per unit after rules.
    pub unit_price: Money,
    /// The base price per unit before rules.
    pub list_price: Money,
    /// The rules that changed the price, in the order they applied.
    #[serde(default)]
    pub applied_rules: Vec<Uuid>,
}

/// Why the pricing service gave no price.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingLookupError {
    #[error("sku: {0} has no price (unknown or not for sale)")]
    NotForSale(String),
    #[error("pricing unavailable: {0}")]
    Unavailable(String),
    /// The price would be converted with an exchange rate older than the configured age.
    #[error("the exchange rate for {0} is stale")]
    StaleRate(Currency),
}

/// Unit prices for cart lines.
#[async_trait]
pub trait CartPricing: Send + Sync {
    async fn price(&self, request: &PriceRequest) -> Result<PricedItem, PricingLookupError>;
}

/// A coupon code to check for a cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponRequest {
    /// Normalised (trimmed, upper case).
    pub code: String,
    pub cart_id: Uuid,
    pub customer_id: Option<Uuid>,
    pub subtotal: Money,
    pub at: DateTime<Utc>,
}

/// A coupon that may be used, and what it gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidCoupon {
    pub code: String,
    pub promotion_id: Uuid,
    pub discount: Discount,
}

/// Why a coupon cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CouponRejection {
    #[error("unknown coupon")]
    Unknown,
    /// Known but not usable now: inactive, outside its window, limit reached, …
    #[error("{0}")]
    NotApplicable(String),
    #[error("coupon check unavailable: {0}")]
    Unavailable(String),
}

/// Checks coupon codes against promotions (see `Promotion::check_redeemable`).
#[async_trait]
pub trait CouponValidator: Send + Sync {
    async fn validate(&self, request: &CouponRequest) -> Result<ValidCoupon, CouponRejection>;
}

/// Limits and timing of carts, from the process settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CartSettings {
    /// How long a cart lives after its last change; every accepted command slides `expiresAt`.
    pub ttl: TimeDelta,
    /// Highest quantity of one line.
    pub max_quantity_per_line: u32,
    /// Most lines (distinct SKUs) in one cart.
    pub max_lines: usize,
}

impl Default for CartSettings {
    fn default() -> Self {
        Self {
            ttl: TimeDelta::hours(24),
            max_quantity_per_line: 99,
            max_lines: 100,
        }
    }
}

/// What the Cart aggregate needs from outside.
#[derive(Clone)]
pub struct CartServices {
    pub pricing: Arc<dyn CartPricing>,
    pub coupons: Arc<dyn CouponValidator>,
    pub settings: CartSettings,
}
