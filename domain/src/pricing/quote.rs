//! Read-side pricing: the base price of a SKU in a currency (from a price book, converted with
//! an exchange rate when the book has no price in that currency) and the full quote through the
//! rule evaluator. This is what `GET /pricing/{sku}` and the cart's pricing adapter call.
//!
//! Conversion happens once, on the base price, before any rule: the book's price in its default
//! currency is converted with the direct rate (or the inverse of the opposite pair) and rounded
//! to the target currency's minor unit with the given rounding mode (half-even by default).
//! There is no triangulation through a third currency.

use serde::{Deserialize, Serialize};

use super::currency_rate::FxRates;
use super::errors::PricingError;
use super::evaluator::{PriceQuote, PriceRuleEvaluator};
use super::price_book::PriceBook;
use super::rule::PricingContext;
use crate::money::{Currency, ExchangeRate, Money, RoundingMode};

/// Where a base price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum BasePriceSource {
    /// Listed in the book in the requested currency.
    Listed,
    /// Converted from the book's price in its default currency.
    Converted { from: Money, rate: ExchangeRate },
}

/// A base price in the requested currency and its origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BasePrice {
    pub price: Money,
    pub source: BasePriceSource,
}

/// A quote with the origin of its base price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkuPrice {
    pub base: BasePrice,
    pub quote: PriceQuote,
}

/// The base price of `sku` in `currency`: listed, else converted from the book's default
/// currency.
pub fn resolve_base_price(
    book: &PriceBook,
    sku: &str,
    currency: Currency,
    rates: &FxRates,
    mode: RoundingMode,
) -> Result<BasePrice, PricingError> {
    if let Some(price) = book.price(sku, currency) {
        return Ok(BasePrice {
            price,
            source: BasePriceSource::Listed,
        });
    }
    let no_price = || PricingError::NoBasePrice {
        sku: sku.to_owned(),
        currency,
    };
    let default = book.default_currency.ok_or_else(no_price)?;
    let from = book.price(sku, default).ok_or_else(no_price)?;
    let rate = rates.get(default, currency).ok_or(PricingError::NoRate {
        from: default,
        to: currency,
    })?;
    Ok(BasePrice {
        price: rate.convert(from, mode)?,
        source: BasePriceSource::Converted { from, rate },
    })
}

/// The unit price of `ctx.sku` in `ctx.currency`: base price from `book` (converted if need
/// be), then the rules of `evaluator`.
pub fn quote_price(
    book: &PriceBook,
    rates: &FxRates,
    evaluator: &PriceRuleEvaluator,
    ctx: &PricingContext,
) -> Result<SkuPrice, PricingError> {
    let base = resolve_base_price(book, &ctx.sku, ctx.currency, rates, RoundingMode::default())?;
    let quote = evaluator.evaluate(base.price, ctx)?;
    Ok(SkuPrice { base, quote })
}
