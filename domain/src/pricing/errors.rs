//! The errors shared across the pricing files: [`PricingError`] (why no price could be given,
//! raised by the evaluator, the rate table and the quote) and [`PriceRuleError`] (why a
//! price-rule command was rejected, raised by the rule definition's validation and the
//! `PriceRule` aggregate). They live here so that the files raising them do not import each
//! other.

use uuid::Uuid;

use crate::error_kind::DomainErrorKind;
use crate::money::{Currency, MoneyError};

/// Why no price could be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("sku: no base price for {sku} in {currency}")]
    NoBasePrice { sku: String, currency: Currency },
    #[error("currency: no exchange rate between {from} and {to}")]
    NoRate { from: Currency, to: Currency },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl PricingError {
    /// How adapters should report this error.
    pub fn kind(&self) -> DomainErrorKind {
        match self {
            Self::NoBasePrice { .. } => DomainErrorKind::NotFound,
            Self::NoRate { .. } => DomainErrorKind::FailedPrecondition,
            Self::Money(error) => error.kind(),
        }
    }
}

/// A rejected price-rule command. Each message names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceRuleError {
    #[error("{field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("price rule does not exist")]
    NotFound,
    #[error("ruleId: {0} does not match the rule's id")]
    IdMismatch(Uuid),
}

impl PriceRuleError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            reason: reason.into(),
        }
    }

    /// How adapters should report this rejection.
    pub fn kind(&self) -> DomainErrorKind {
        match self {
            Self::InvalidField { .. } | Self::IdMismatch(_) => DomainErrorKind::InvalidArgument,
            Self::NotFound => DomainErrorKind::NotFound,
        }
    }

    /// The input field the rejection is about, in the API's camelCase.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::InvalidField { field, .. } => Some(field),
            Self::IdMismatch(_) => Some("ruleId"),
            Self::NotFound => None,
        }
    }
}
