//! Why a cart command was rejected.

use super::events::PriceChange;
use crate::error_kind::DomainErrorKind;
use crate::money::{Currency, MoneyError};

/// A rejected cart command. Each message names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CartError {
    #[error("{field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("cart does not exist")]
    NotCreated,
    #[error("cart already exists")]
    AlreadyCreated,
    #[error("cart is checked out and can no longer change")]
    CheckedOut,
    #[error("cart has expired")]
    Expired,
    #[error("cart was merged into another cart and can no longer change")]
    Merged,
    #[error("customerId: the cart belongs to another customer")]
    OtherCustomer,
    #[error("cart has not expired yet")]
    NotYetExpired,
    #[error("quantity: must be between 1 and {max}")]
    QuantityOutOfRange { max: u32 },
    #[error("sku: a cart holds at most {max} different items")]
    TooManyLines { max: usize },
    #[error("sku: {0} is not in the cart")]
    UnknownItem(String),
    #[error("sku: {0} has no price (unknown or not for sale)")]
    NotForSale(String),
    #[error("currency: the cart is in {expected}, the price is in {found}")]
    CurrencyMismatch { expected: Currency, found: Currency },
    #[error("code: {0} is not a known coupon")]
    UnknownCoupon(String),
    #[error("code: {code} cannot be used: {reason}")]
    CouponNotApplicable { code: String, reason: String },
    #[error("code: the cart has no coupon")]
    NoCoupon,
    #[error("cart is empty")]
    EmptyCart,
    /// Checkout found unit prices other than the lines'; nothing was written. Checking out
    /// again with the new prices accepted goes through (if they have not moved again).
    #[error("lines: {} price(s) changed since they were added; accept them to check out", changes.len())]
    PricesChanged { changes: Vec<PriceChange> },
    #[error("lookup failed: {0}")]
    LookupFailed(String),
    /// A price in the cart's currency would use a stale exchange rate; retry once the rates
    /// are synced.
    #[error("currency: the exchange rate for {0} is stale; carts in {0} are priced again once the rates are synced")]
    StaleRate(Currency),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl CartError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            reason: reason.into(),
        }
    }

    /// How adapters should report this rejection.
    pub fn kind(&self) -> DomainErrorKind {
        match self {
            Self::InvalidField { .. } | Self::QuantityOutOfRange { .. } | Self::Money(_) => {
                DomainErrorKind::InvalidArgument
            }
            Self::NotCreated
            | Self::UnknownItem(_)
            | Self::NotForSale(_)
            | Self::UnknownCoupon(_) => DomainErrorKind::NotFound,
            Self::AlreadyCreated => DomainErrorKind::Conflict,
            Self::Expired => DomainErrorKind::Gone,
            Self::PricesChanged { .. } => DomainErrorKind::PricesChanged,
            Self::CheckedOut
            | Self::Merged
            | Self::OtherCustomer
            | Self::NotYetExpired
            | Self::TooManyLines { .. }
            | Self::CurrencyMismatch { .. }
            | Self::CouponNotApplicable { .. }
            | Self::NoCoupon
            | Self::EmptyCart => DomainErrorKind::FailedPrecondition,
            Self::LookupFailed(_) | Self::StaleRate(_) => DomainErrorKind::Unavailable,
        }
    }

    /// The input field the rejection is about, in the API's camelCase.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::InvalidField { field, .. } => Some(field),
            Self::QuantityOutOfRange { .. } => Some("quantity"),
            Self::TooManyLines { .. } | Self::UnknownItem(_) | Self::NotForSale(_) => Some("sku"),
            Self::CurrencyMismatch { .. } | Self::StaleRate(_) => Some("currency"),
            Self::PricesChanged { .. } => Some("lines"),
            Self::OtherCustomer => Some("customerId"),
            Self::UnknownCoupon(_) | Self::CouponNotApplicable { .. } | Self::NoCoupon => {
                Some("code")
            }
            _ => None,
        }
    }
}
