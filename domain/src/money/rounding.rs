//! Rounding of exact rationals to whole minor units. Every place that divides money goes
//! through [`div_round`], so the rounding rule is explicit and the same everywhere.

use serde::{Deserialize, Serialize};

/// How a result that falls between two minor units is rounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RoundingMode {
    /// Ties go to the even neighbour (banker's rounding): 0.5 → 0, 1.5 → 2, 2.5 → 2.
    #[default]
    HalfEven,
    /// Ties go away from zero: 0.5 → 1, -0.5 → -1.
    HalfUp,
}

/// `numerator / denominator` rounded to an integer with `mode`; `None` if the denominator is
/// zero or the result does not fit.
pub fn div_round(numerator: i128, denominator: i128, mode: RoundingMode) -> Option<i128> {
    if denominator == 0 {
        return None;
    }
    let (numerator, denominator) = if denominator < 0 {
        (numerator.checked_neg()?, denominator.checked_neg()?)
    } else {
        (numerator, denominator)
    };
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder == 0 {
        return Some(quotient);
    }
    let away = if numerator < 0 { -1 } else { 1 };
    let twice = remainder.unsigned_abs().checked_mul(2)?;
    let denominator = denominator.unsigned_abs();
    let round_away = match twice.cmp(&denominator) {
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => match mode {
            RoundingMode::HalfUp => true,
            RoundingMode::HalfEven => quotient % 2 != 0,
        },
    };
    if round_away {
        quotient.checked_add(away)
    } else {
        Some(quotient)
    }
}
