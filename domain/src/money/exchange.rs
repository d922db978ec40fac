//! Exchange rates as exact decimals and the conversion of money between currencies.
//!
//! A [`Rate`] is a positive decimal with at most 12 decimals, kept as `mantissa / 10^scale`
//! (never a float) and written as a string on the wire (`"1.0845"`). An [`ExchangeRate`] says
//! that one major unit of `base` is worth `rate` major units of `quote`. Conversion multiplies
//! exactly in 128-bit integers and rounds once, at the end, to the target's minor unit.

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
        let amount = i128::from(money.amount());
        let mantissa = i128::from(self.rate.mantissa);
        let rate_scale = pow10(u32::from(self.rate.scale))?;
        let (target, numerator, denominator) = if money.currency() == self.base {
            // quote_minor = base_minor * rate * 10^e(quote) / 10^e(base)
            let numerator = amount
                .checked_mul(mantissa)
                .and_then(|n| n.checked_mul(pow10(u32::from(self.quote.exponent())).ok()?));
            let denominator = rate_scale.checked_mul(pow10(u32::from(self.base.exponent()))?);
            (self.quote, numerator, denominator)
        } else if money.currency() == self.quote {
            // base_minor = quote_minor * 10^scale * 10^e(base) / (mantissa * 10^e(quote))
            let numerator = amount
                .checked_mul(rate_scale)
                .and_then(|n| n.checked_mul(pow10(u32::from(self.base.exponent())).ok()?));
            let denominator = mantissa.checked_mul(pow10(u32::from(self.quote.exponent()))?);
            (self.base, numerator, denominator)
        } else {
            return Err(MoneyError::CurrencyMismatch {
                left: money.currency(),
                right: self.base,
            });
        };
        let (Some(numerator), Some(denominator)) = (numerator, denominator) else {
            return Err(MoneyError::Overflow);
        };
        let converted = div_round(numerator, denominator, mode).ok_or(MoneyError::Overflow)?;
        let amount = i64::try_from(converted).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::new(amount, target))
    }
}

fn pow10(exponent: u32) -> Result<i128, MoneyError> {
    10_i128.checked_pow(exponent).ok_or(MoneyError::Overflow)
}
