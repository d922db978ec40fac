//! Pricing: base prices, price rules and their evaluator, promotions and currency rates.
//!
//! - [`errors`]: the errors shared across these files ([`PricingError`], [`PriceRuleError`]).
//! - [`price_book`]: the `PriceBook` aggregate (base prices per SKU and currency).
//! - [`price_rule`]: the `PriceRule` aggregate (upsert / remove one rule).
//! - [`rule`]: what a rule is (targets, conditions, action) and how its conditions are checked.
//! - [`evaluator`]: [`PriceRuleEvaluator`], indexed by SKU and category, with the documented
//!   precedence and an explanation of every candidate rule.
//! - [`quote`]: base price resolution (with currency conversion) and the full quote.
//! - [`promotion`]: the `Promotion` aggregate (campaigns, coupon codes, usage limits), with
//!   [`discount`] (what it takes off), [`coupon`] (code normalisation and the directory of codes
//!   held across promotions), [`promotion_change`] (changing name, discount, window, limits)
//!   and [`promotion_schedule`] (activation, also scheduled for the start of the window).
//! - [`currency_rate`]: the `CurrencyRate` aggregate and the [`FxRates`] table.
//!
//! The precedence, stacking, rounding and conversion rules are written up in `docs/pricing.md`.

/// Schema version of every pricing event (the `.v1` of their Avro files); part of the
/// aggregates' snapshot policies, so changing it invalidates their snapshots.
pub const EVENT_SCHEMA_VERSION: &str = "1";

pub mod coupon;
pub mod currency_rate;
pub mod discount;
pub mod errors;
pub mod evaluator;
pub mod price_book;
pub mod price_rule;
pub mod promotion;
pub mod promotion_change;
pub mod promotion_schedule;
pub mod quote;
pub mod rule;
mod rule_index;

#[cfg(test)]
mod tests;

pub use coupon::{CouponCodeDirectory, NoCouponCodes, PromotionServices};
pub use currency_rate::{
    rate_is_stale, CurrencyRate, CurrencyRateCommand, CurrencyRateError, CurrencyRateEvent,
    FxConversion, FxRates,
};
pub use errors::{PriceRuleError, PricingError};
pub use evaluator::{
    MatchedBy, PrecedenceStep, PriceQuote, PriceRuleEvaluator, RuleOutcome, RuleVerdict,
};
pub use price_book::{
    PriceBook, PriceBookCommand, PriceBookError, PriceBookEvent, MAX_PRICES_PER_COMMAND,
};
pub use price_rule::{PriceRule, PriceRuleCommand, PriceRuleEvent};
pub use promotion::{Discount, Promotion, PromotionCommand, PromotionError, PromotionEvent};
pub use promotion_change::PromotionChanges;
pub use quote::{
    quote_price, resolve_base_price, resolve_listed_base_price, BasePrice, BasePriceSource,
    SkuPrice,
};
pub use rule::{
    FailedCondition, PriceRuleDefinition, PriceRuleSpec, PricingContext, RuleAction,
    RuleConditions, RuleTargets,
};
