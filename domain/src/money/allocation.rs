//! Splitting an amount across lines in proportion to their weights (line totals) so that the
//! parts sum exactly to the amount: the largest-remainder (Hamilton) method.
//!
//! Each part first gets `floor(total × weight / Σweights)`; the minor units still missing go,
//! one each, to the parts with the largest remainders, ties to the earlier line. With a total
//! no larger than the sum of the weights, no part exceeds its own weight. Weights that are all
//! zero share the amount equally.

use super::{Currency, Money, MoneyError};

/// Splits `total` across `weights` proportionally. The parts sum to `total` exactly, are never
/// negative, and come back in the order of `weights`.
///
/// Rejects a negative total or weight, mixed currencies, and a non-zero total with no lines.
pub fn allocate_proportionally(total: Money, weights: &[Money]) -> Result<Vec<Money>, MoneyError> {
    let currency = total.currency();
    if total.is_negative() {
        return Err(MoneyError::InvalidAllocation(
            "the amount to allocate must not be negative",
        ));
    }
    let mut raw = Vec::with_capacity(weights.len());
    for weight in weights {
        if weight.currency() != currency {
            return Err(MoneyError::CurrencyMismatch {
                left: currency,
                right: weight.currency(),
            });
        }
        if weight.is_negative() {
            return Err(MoneyError::InvalidAllocation(
                "line totals must not be negative",
            ));
        }
        raw.push(i128::from(weight.amount()));
    }
    if raw.is_empty() {
        return if total.is_zero() {
            Ok(Vec::new())
        } else {
            Err(MoneyError::InvalidAllocation(
                "there are no lines to allocate to",
            ))
        };
    }
    if raw.iter().all(|w| *w == 0) {
        raw.iter_mut().for_each(|w| *w = 1);
    }
    let parts = largest_remainder(i128::from(total.amount()), &raw)?;
    parts
        .into_iter()
        .map(|part| to_money(part, currency))
        .collect()
}

fn to_money(amount: i128, currency: Currency) -> Result<Money, MoneyError> {
    i64::try_from(amount)
        .map(|amount| Money::new(amount, currency))
        .map_err(|_| MoneyError::Overflow)
}

/// `total` (≥ 0) split over non-negative `weights` with a positive sum.
fn largest_remainder(total: i128, weights: &[i128]) -> Result<Vec<i128>, MoneyError> {
    let sum = weights
        .iter()
        .try_fold(0_i128, |sum, w| sum.checked_add(*w))
        .ok_or(MoneyError::Overflow)?;
    if sum <= 0 {
        return Err(MoneyError::InvalidAllocation(
            "line totals must not all be zero",
        ));
    }
    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut allocated = 0_i128;
    for (index, weight) in weights.iter().enumerate() {
        // total and weight are each below 2^63, so the product fits in i128.
        let share = total.checked_mul(*weight).ok_or(MoneyError::Overflow)?;
        parts.push(share / sum);
        remainders.push((share % sum, index));
        allocated += share / sum;
    }
    let missing = usize::try_from(total - allocated).map_err(|_| MoneyError::Overflow)?;
    // Largest remainder first; equal remainders go to the earlier line.
    remainders.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, index) in remainders.into_iter().take(missing) {
        if let Some(part) = parts.get_mut(index) {
            *part += 1;
        }
    }
    Ok(parts)
}
