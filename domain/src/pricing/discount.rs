//! What a promotion takes off an order subtotal, and the one rule of every discount: more than
//! nothing, never more than the subtotal.

use serde::{Deserialize, Serialize};

use super::promotion::PromotionError;
use crate::money::{Money, MoneyError, Percent, RoundingMode};

/// A discount on an order subtotal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Discount {
    PercentOff { percent: Percent },
    AmountOff { amount: Money },
}

impl Discount {
    /// The discount on `subtotal`: the percentage rounded with `mode`, or the amount; never
    /// more than the subtotal, never negative.
    pub fn amount_for(&self, subtotal: Money, mode: RoundingMode) -> Result<Money, MoneyError> {
        let discount = match self {
            Self::PercentOff { percent } => subtotal.percent_of(*percent, mode)?,
            Self::AmountOff { amount } => amount.checked_min(subtotal)?,
        };
        Ok(discount.clamp_at_zero())
    }

    pub(crate) fn validated(self) -> Result<Self, PromotionError> {
        match self {
            Self::PercentOff { percent } if percent.basis_points() == 0 => Err(
                PromotionError::invalid("discount.percent", "must be greater than zero"),
            ),
            Self::AmountOff { amount } if !amount.is_positive() => Err(PromotionError::invalid(
                "discount.amount",
                "must be greater than zero",
            )),
            other => Ok(other),
        }
    }
}
