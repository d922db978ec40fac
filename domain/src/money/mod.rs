//! Money in integer minor units with an ISO 4217 currency, and the only arithmetic allowed on it.
//!
//! - [`Money`]: an `i64` amount of minor units (cents, yen, fils) plus a [`Currency`]; on the
//!   wire `{"amount": 1999, "currency": "USD"}`. Every operation is checked: overflow and mixing
//!   currencies are [`MoneyError`]s, never a panic or a silent wrap.
//! - [`currency`]: the supported ISO 4217 codes and their exponents (JPY 0, USD 2, KWD 3).
//! - [`rounding`]: [`RoundingMode`] (half-even by default, half-up available) and the one
//!   division helper every rounding goes through.
//! - [`Percent`]: a percentage in basis points (1/100 of a percent), exact, 0 to 100 %.
//! - [`allocation`]: splitting a discount across lines so the parts sum exactly.
//! - [`exchange`]: exact decimal [`Rate`]s and conversion between currencies.

pub mod allocation;
pub mod currency;
pub mod exchange;
pub mod rounding;

#[cfg(test)]
mod tests;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error_kind::DomainErrorKind;

pub use allocation::allocate_proportionally;
pub use currency::Currency;
pub use exchange::{convert_through, ExchangeRate, Rate};
pub use rounding::RoundingMode;

/// Why a money operation or value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency: {0:?} must be three upper-case letters (ISO 4217)")]
    InvalidCurrencyCode(String),
    #[error("currency: {0} is not a supported ISO 4217 currency")]
    UnsupportedCurrency(String),
    #[error("currency: {left} and {right} cannot be combined")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("amount: the result is too large")]
    Overflow,
    #[error("amount: {text:?} is not a decimal amount with at most {decimals} decimals")]
    InvalidAmount { text: String, decimals: u8 },
    #[error("percent: {0} basis points is more than 100%")]
    PercentOutOfRange(u32),
    #[error("percent: {0}")]
    InvalidPercent(String),
    #[error("rate: {0}")]
    InvalidRate(String),
    #[error("allocation: {0}")]
    InvalidAllocation(&'static str),
}

impl MoneyError {
    /// How adapters should report this error: always bad input.
    pub fn kind(&self) -> DomainErrorKind {
        DomainErrorKind::InvalidArgument
    }
}

/// An amount of minor units in one currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    amount: i64,
    currency: Currency,
}

impl Money {
    /// `amount` minor units of `currency`: `Money::new(1999, Currency::USD)` is 19.99 USD.
    pub const fn new(amount: i64, currency: Currency) -> Self {
        Self { amount, currency }
    }

    pub const fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    /// Parses a plain decimal in major units, e.g. `"19.99"` USD → 1999; more decimals than
    /// the currency has are rejected rather than rounded.
    pub fn from_decimal_str(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let decimals = currency.exponent();
        let invalid = || MoneyError::InvalidAmount {
            text: text.chars().take(32).collect(),
            decimals,
        };
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !digits_only(whole)
            || !digits_only(fraction)
            || (unsigned.contains('.') && fraction.is_empty())
            || fraction.len() > usize::from(decimals)
        {
            return Err(invalid());
        }
        let whole: i64 = whole.parse().map_err(|_| MoneyError::Overflow)?;
        let padded = format!("{fraction:0<width$}", width = usize::from(decimals));
        let fraction: i64 = if padded.is_empty() {
            0
        } else {
            padded.parse().map_err(|_| invalid())?
        };
        let minor = whole
            .checked_mul(currency.minor_per_major())
            .and_then(|m| m.checked_add(fraction))
            .ok_or(MoneyError::Overflow)?;
        Ok(Self::new(if negative { -minor } else { minor }, currency))
    }

    /// The amount in minor units.
    pub const fn amount(&self) -> i64 {
        self.amount
    }

    pub const fn currency(&self) -> Currency {
        self.currency
    }

    pub const fn is_zero(&self) -> bool {
        self.amount == 0
    }

    pub const fn is_negative(&self) -> bool {
        self.amount < 0
    }

    pub const fn is_positive(&self) -> bool {
        self.amount > 0
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Self::new(amount, self.currency))
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let amount = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Self::new(amount, self.currency))
    }

    /// The amount times a whole number, e.g. a unit price times a quantity.
    pub fn checked_mul(self, factor: i64) -> Result<Money, MoneyError> {
        let amount = self
            .amount
            .checked_mul(factor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Self::new(amount, self.currency))
    }

    pub fn checked_neg(self) -> Result<Money, MoneyError> {
        let amount = self.amount.checked_neg().ok_or(MoneyError::Overflow)?;
        Ok(Self::new(amount, self.currency))
    }

    /// `self × numerator / denominator`, computed exactly and rounded once with `mode`.
    pub fn mul_ratio(
        self,
        numerator: i64,
        denominator: i64,
        mode: RoundingMode,
    ) -> Result<Money, MoneyError> {
        let product = i128::from(self.amount) * i128::from(numerator);
        let rounded = rounding::div_round(product, i128::from(denominator), mode)
            .ok_or(MoneyError::Overflow)?;
        let amount = i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?;
        Ok(Self::new(amount, self.currency))
    }

    /// `percent` of this amount, rounded to the minor unit with `mode`.
    pub fn percent_of(self, percent: Percent, mode: RoundingMode) -> Result<Money, MoneyError> {
        self.mul_ratio(
            i64::from(percent.basis_points()),
            i64::from(Percent::BASIS_POINTS_PER_WHOLE),
            mode,
        )
    }

    /// This amount less `percent` of it; the discount is rounded first, then subtracted.
    pub fn less_percent(self, percent: Percent, mode: RoundingMode) -> Result<Money, MoneyError> {
        self.checked_sub(self.percent_of(percent, mode)?)
    }

    /// The smaller of two amounts of the same currency.
    pub fn checked_min(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        Ok(if other.amount < self.amount {
            other
        } else {
            self
        })
    }

    /// Zero if negative, else the amount itself.
    pub fn clamp_at_zero(self) -> Money {
        Self::new(self.amount.max(0), self.currency)
    }

    /// The sum of `amounts`, all in `currency`.
    pub fn sum<'a>(
        currency: Currency,
        amounts: impl IntoIterator<Item = &'a Money>,
    ) -> Result<Money, MoneyError> {
        amounts
            .into_iter()
            .try_fold(Money::zero(currency), |sum, next| sum.checked_add(*next))
    }

    /// The amount in major units as a plain decimal string, e.g. `"-19.99"`, `"1500"`, `"1.250"`.
    pub fn to_decimal_string(&self) -> String {
        let exponent = usize::from(self.currency.exponent());
        let sign = if self.amount < 0 { "-" } else { "" };
        let digits = self.amount.unsigned_abs().to_string();
        if exponent == 0 {
            return format!("{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = exponent + 1);
        let (whole, fraction) = padded.split_at(padded.len() - exponent);
        format!("{sign}{whole}.{fraction}")
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({} {})", self.amount, self.currency)
    }
}

/// A percentage from 0 to 100 %, exact, in basis points: 1 250 is 12.5 %. Serialised as the
/// number of basis points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Percent(u32);

impl Percent {
    /// Basis points in 100 %.
    pub const BASIS_POINTS_PER_WHOLE: u32 = 10_000;

    pub fn from_basis_points(basis_points: u32) -> Result<Self, MoneyError> {
        if basis_points > Self::BASIS_POINTS_PER_WHOLE {
            return Err(MoneyError::PercentOutOfRange(basis_points));
        }
        Ok(Self(basis_points))
    }

    pub const fn basis_points(&self) -> u32 {
        self.0
    }

    /// Parses a plain decimal percentage with at most two decimals, e.g. `"12.5"` → 1 250
    /// basis points; negative values, exponents, more decimals and more than `"100"` are
    /// rejected rather than rounded or clamped.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let invalid = || {
            MoneyError::InvalidPercent(format!(
                "{:?} is not a decimal from 0 to 100 with at most 2 decimals",
                text.chars().take(32).collect::<String>()
            ))
        };
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !digits_only(whole)
            || !digits_only(fraction)
            || (text.contains('.') && fraction.is_empty())
            || fraction.len() > 2
        {
            return Err(invalid());
        }
        let whole = whole.trim_start_matches('0');
        // More than three digits before the point is more than 100 % whatever they are.
        if whole.len() > 3 {
            return Err(invalid());
        }
        let whole: u32 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid())?
        };
        let fraction: u32 = format!("{fraction:0<2}").parse().map_err(|_| invalid())?;
        Self::from_basis_points(whole * 100 + fraction)
    }

    /// The percentage as a plain decimal without trailing zeros: `"12.5"`, `"100"`, `"0.05"`.
    pub fn to_decimal_string(&self) -> String {
        let (whole, fraction) = (self.0 / 100, self.0 % 100);
        match fraction {
            0 => whole.to_string(),
            f if f % 10 == 0 => format!("{whole}.{}", f / 10),
            f => format!("{whole}.{f:02}"),
        }
    }
}

impl TryFrom<u32> for Percent {
    type Error = MoneyError;

    fn try_from(basis_points: u32) -> Result<Self, Self::Error> {
        Self::from_basis_points(basis_points)
    }
}

impl From<Percent> for u32 {
    fn from(percent: Percent) -> Self {
        percent.0
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}%", self.0 / 100, self.0 % 100)
    }
}
