//! Exchange rates as exact decimals and the conversion of money between currencies.
//!
//! A [`Rate`] is a positive decimal with at most 12 decimals, kept as `mantissa / 10^scale`
//! (never a float) and written as a string on the wire (`"1.0845"`). An [`ExchangeRate`] says
//! that one major unit of `base` is worth `rate` major units of `quote`. Conversion multiplies
//! exactly in 128-bit integers and rounds once, at the end, to the target's minor unit — also
//! along a chain of pairs ([`convert_through`], for cross rates through a base currency).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::rounding::{div_round, RoundingMode};
use super::{Currency, Money, MoneyError};

/// At most this many decimals in a rate.
pub const MAX_RATE_SCALE: u8 = 12;
const MAX_RATE_DIGITS: usize = 18;

/// A positive exact decimal: `mantissa / 10^scale`, normalised (no trailing fractional zeros).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    mantissa: u64,
    scale: u8,
}

impl Rate {
    /// A rate from its parts, normalised; rejects zero and scales above [`MAX_RATE_SCALE`].
    pub fn new(mantissa: u64, scale: u8) -> Result<Self, MoneyError> {
        if mantissa == 0 {
            return Err(MoneyError::InvalidRate("must be greater than zero".into()));
        }
        if scale > MAX_RATE_SCALE {
            return Err(MoneyError::InvalidRate(format!(
                "must have at most {MAX_RATE_SCALE} decimals"
            )));
        }
        let (mut mantissa, mut scale) = (mantissa, scale);
        while scale > 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            scale -= 1;
        }
        Ok(Self { mantissa, scale })
    }

    /// Parses a plain decimal such as `"1.0845"` or `"155"`.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let invalid =
            || MoneyError::InvalidRate(format!("{:?} is not a positive decimal", cut(text)));
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return Err(invalid());
        }
        if text.contains('.') && fraction.is_empty() {
            return Err(invalid());
        }
        let fraction = fraction.trim_end_matches('0');
        let whole = whole.trim_start_matches('0');
        if whole.len() + fraction.len() > MAX_RATE_DIGITS {
            return Err(MoneyError::InvalidRate(format!(
                "must have at most {MAX_RATE_DIGITS} significant digits"
            )));
        }
        let scale = u8::try_from(fraction.len()).map_err(|_| invalid())?;
        let digits = format!("{whole}{fraction}");
        let mantissa = if digits.is_empty() {
            0
        } else {
            digits.parse::<u64>().map_err(|_| invalid())?
        };
        Self::new(mantissa, scale)
    }

    pub fn mantissa(&self) -> u64 {
        self.mantissa
    }

    pub fn scale(&self) -> u8 {
        self.scale
    }
}

fn cut(text: &str) -> String {
    text.chars().take(32).collect()
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.to_string();
        let scale = usize::from(self.scale);
        if scale == 0 {
            return f.write_str(&digits);
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        write!(f, "{whole}.{fraction}")
    }
}

impl fmt::Debug for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// One major unit of `base` is worth `rate` major units of `quote`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeRate {
    pub base: Currency,
    pub quote: Currency,
    pub rate: Rate,
}

impl ExchangeRate {
    /// Converts `money` (in `base` or in `quote`) into the other currency of the pair, rounding
    /// once to the target's minor unit with `mode`.
    pub fn convert(&self, money: Money, mode: RoundingMode) -> Result<Money, MoneyError> {
        convert_through(money, std::slice::from_ref(self), mode)
    }

    /// The ratio one major unit of `from` is worth in the pair's other currency: the rate as
    /// it stands from `base`, its inverse from `quote`.
    fn factor_from(&self, from: Currency) -> Option<(Currency, Ratio)> {
        let mantissa = i128::from(self.rate.mantissa);
        let scale = 10_i128.pow(u32::from(self.rate.scale));
        if from == self.base {
            Some((self.quote, Ratio::new(mantissa, scale)))
        } else if from == self.quote {
            Some((self.base, Ratio::new(scale, mantissa)))
        } else {
            None
        }
    }
}

/// Converts `money` along `path`, one pair after another, each used directly from its `base`
/// or inversely from its `quote` (the first pair must hold `money`'s currency, each next one
/// the currency the previous step reached). The whole product is exact — 128-bit integers,
/// reduced as it goes, nothing rounded in between — and is rounded **once**, at the end, to
/// the minor unit of the last currency with `mode`. An empty path returns `money` as is.
///
/// A path whose pairs do not connect is a [`MoneyError::CurrencyMismatch`]; a result that does
/// not fit (in `i64` minor units, or an intermediate beyond 128 bits) is
/// [`MoneyError::Overflow`], never a panic.
pub fn convert_through(
    money: Money,
    path: &[ExchangeRate],
    mode: RoundingMode,
) -> Result<Money, MoneyError> {
    if path.is_empty() {
        return Ok(money);
    }
    let source = money.currency();
    let mut currency = source;
    let mut factor = Ratio::ONE;
    for pair in path {
        let (next, step) = pair
            .factor_from(currency)
            .ok_or(MoneyError::CurrencyMismatch {
                left: currency,
                right: pair.base,
            })?;
        factor = factor.times(step).ok_or(MoneyError::Overflow)?;
        currency = next;
    }
    // Minor units: × 10^e(target) / 10^e(source).
    let minor = Ratio::new(
        pow10(u32::from(currency.exponent()))?,
        pow10(u32::from(source.exponent()))?,
    );
    let factor = factor.times(minor).ok_or(MoneyError::Overflow)?;
    let amount = i128::from(money.amount());
    let common = gcd(amount.unsigned_abs(), factor.denominator.unsigned_abs());
    let common = i128::try_from(common).map_err(|_| MoneyError::Overflow)?;
    let numerator = (amount / common)
        .checked_mul(factor.numerator)
        .ok_or(MoneyError::Overflow)?;
    let converted =
        div_round(numerator, factor.denominator / common, mode).ok_or(MoneyError::Overflow)?;
    let amount = i64::try_from(converted).map_err(|_| MoneyError::Overflow)?;
    Ok(Money::new(amount, currency))
}

/// A positive fraction, kept in lowest terms so that chained rates stay far from overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ratio {
    numerator: i128,
    denominator: i128,
}

impl Ratio {
    const ONE: Self = Self {
        numerator: 1,
        denominator: 1,
    };

    /// Both parts positive (rates are never zero, powers of ten never are).
    fn new(numerator: i128, denominator: i128) -> Self {
        let common = gcd(numerator.unsigned_abs(), denominator.unsigned_abs()).max(1);
        // The gcd divides both, so it fits in i128 whenever they do.
        let common = i128::try_from(common).unwrap_or(1);
        Self {
            numerator: numerator / common,
            denominator: denominator / common,
        }
    }

    /// The exact product, cross-reduced before multiplying; `None` beyond 128 bits.
    fn times(self, other: Self) -> Option<Self> {
        let left = Self::new(self.numerator, other.denominator);
        let right = Self::new(other.numerator, self.denominator);
        Some(Self {
            numerator: left.numerator.checked_mul(right.numerator)?,
            denominator: right.denominator.checked_mul(left.denominator)?,
        })
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn pow10(exponent: u32) -> Result<i128, MoneyError> {
    10_i128.checked_pow(exponent).ok_or(MoneyError::Overflow)
}
