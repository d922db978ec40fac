//! ISO 4217 currency codes with their minor-unit exponents. Only codes in [`KNOWN`] are
//! accepted, so every [`Currency`] knows how many decimals its minor unit has.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::MoneyError;

/// Supported ISO 4217 codes and their minor-unit exponents, sorted by code.
pub const KNOWN: &[(&str, u8)] = &[
    ("AED", 2),
    ("AUD", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("MYR", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PHP", 2),
    ("PLN", 2),
    ("RON", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("UGX", 0),
    ("USD", 2),
    ("VND", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("ZAR", 2),
];

/// An ISO 4217 currency this system supports. Serialised as its code, e.g. `"USD"`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

impl Currency {
    pub const AUD: Self = Self::known("AUD", 2);
    pub const CAD: Self = Self::known("CAD", 2);
    pub const CHF: Self = Self::known("CHF", 2);
    pub const EUR: Self = Self::known("EUR", 2);
    pub const GBP: Self = Self::known("GBP", 2);
    pub const JPY: Self = Self::known("JPY", 0);
    pub const KWD: Self = Self::known("KWD", 3);
    pub const SGD: Self = Self::known("SGD", 2);
    pub const USD: Self = Self::known("USD", 2);
    pub const VND: Self = Self::known("VND", 0);

    const fn known(code: &str, exponent: u8) -> Self {
        let bytes = code.as_bytes();
        Self {
            code: [bytes[0], bytes[1], bytes[2]],
            exponent,
        }
    }

    /// Parses an upper-case three-letter code such as `"EUR"`; lower case is rejected.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(MoneyError::InvalidCurrencyCode(
                code.chars().take(16).collect(),
            ));
        }
        KNOWN
            .binary_search_by(|(known, _)| (*known).cmp(code))
            .ok()
            .and_then(|index| KNOWN.get(index))
            .filter(|(known, _)| known.len() == 3)
            .map(|(code, exponent)| Self::known(code, *exponent))
            .ok_or_else(|| MoneyError::UnsupportedCurrency(code.to_owned()))
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        // Always ASCII upper case: only codes from `KNOWN` are constructed.
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    /// Number of decimals of the minor unit (USD 2, JPY 0, KWD 3).
    pub const fn exponent(&self) -> u8 {
        self.exponent
    }

    /// Minor units per major unit: 10 to the power of the exponent.
    pub const fn minor_per_major(&self) -> i64 {
        10_i64.pow(self.exponent as u32)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for Currency {
    type Err = MoneyError;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::parse(code)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Self::parse(&code).map_err(serde::de::Error::custom)
    }
}
