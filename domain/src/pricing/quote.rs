//! Read-side pricing: the base price of a SKU in a currency (from a price book, converted with
//! an exchange rate when the book has no price in that currency) and the full quote through the
//! rule evaluator. This is what `GET /pricing/{sku}` and the cart's pricing adapter call.
//!
//! Conversion happens once, on the base price, before any rule: the book's price in its default
//! currency is converted with the direct rate (or the inverse of the opposite pair), else —
//! when the rate table has a base currency — through the base (default→base→target), exactly,
//! and rounded once to the target currency's minor unit with the given rounding mode
//! (half-even by default). The source says which rates were used and when the oldest took
//! effect, so that a caller can mark the price stale.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::currency_rate::{FxConversion, FxRates};
use super::errors::PricingError;
use super::evaluator::{PriceQuote, PriceRuleEvaluator};
use super::price_book::PriceBook;
use super::rule::PricingContext;
use crate::money::{Currency, ExchangeRate, Money, RoundingMode};

/// Where a base price came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum BasePriceSource {
    /// Listed in the book in the requested currency.
    Listed,
    /// Converted from the book's price in its default currency.
    #[serde(rename_all = "camelCase")]
    Converted {
        from: Money,
        /// The rates used, in order: the pair of the two currencies (direct or opposite), or
        /// default–`via` then `via`–target.
        rates: Vec<ExchangeRate>,
        /// The base currency of a cross rate (triangulated), else `None`.
        via: Option<Currency>,
        /// When the oldest rate used took effect: older than the stale age, the price is
        /// stale.
        rates_as_of: DateTime<Utc>,
    },
}

/// A base price in the requested currency and its origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
/// currency (directly, inversely, or through the rate table's base currency).
pub fn resolve_base_price(
    book: &PriceBook,
    sku: &str,
    currency: Currency,
    rates: &FxRates,
    mode: RoundingMode,
) -> Result<BasePrice, PricingError> {
    resolve_listed_base_price(
        book.prices_of(sku),
        book.default_currency,
        sku,
        currency,
        rates,
        mode,
    )
}

/// [`resolve_base_price`] from the prices a book lists for `sku` (`listed`, by currency) and
/// the book's default currency, for a caller that has already looked the SKU up in the book:
/// one lookup per query, not one per currency tried.
pub fn resolve_listed_base_price(
    listed: Option<&BTreeMap<Currency, Money>>,
    default_currency: Option<Currency>,
    sku: &str,
    currency: Currency,
    rates: &FxRates,
    mode: RoundingMode,
) -> Result<BasePrice, PricingError> {
    let price_in = |currency: Currency| listed.and_then(|prices| prices.get(&currency)).copied();
    if let Some(price) = price_in(currency) {
        return Ok(BasePrice {
            price,
            source: BasePriceSource::Listed,
        });
    }
    let no_price = || PricingError::NoBasePrice {
        sku: sku.to_owned(),
        currency,
    };
    let default = default_currency.ok_or_else(no_price)?;
    let from = price_in(default).ok_or_else(no_price)?;
    let conversion = rates
        .conversion(default, currency)
        .ok_or(PricingError::NoRate {
            from: default,
            to: currency,
        })?;
    let price = conversion.convert(from, mode)?;
    let FxConversion {
        rates,
        via,
        rates_as_of,
        ..
    } = conversion;
    Ok(BasePrice {
        price,
        source: BasePriceSource::Converted {
            from,
            rates,
            via,
            rates_as_of,
        },
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
