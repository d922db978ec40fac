//! Changing a promotion after it was created: its name, discount, validity window and usage
//! limits, each optional (absent stays as it is), checked by the same rules as at creation.
//!
//! The event, `PromotionChanged`, carries every changeable field as it is after the change, so
//! a read model applies it without knowing the state before. A change may be made while the
//! promotion is active; an active promotion whose window is moved into the past simply stops
//! applying (redemptions check the window). A limit lowered below the uses already recorded
//! allows no further use; it does not undo the earlier ones. Coupon codes are not changed here
//! (`AddCouponCodes`), nor the on/off switch (`ActivatePromotion`, `DeactivatePromotion`).

use chrono::{DateTime, Utc};

use super::discount::Discount;
use super::promotion::{
    positive_limit, promotion_name, window, Promotion, PromotionError, PromotionEvent,
};

/// What a `ChangePromotion` command changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromotionChanges {
    pub name: Option<String>,
    pub discount: Option<Discount>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    /// `Some(None)` removes the limit.
    pub usage_limit_total: Option<Option<u32>>,
    /// `Some(None)` removes the limit.
    pub usage_limit_per_customer: Option<Option<u32>>,
}

impl PromotionChanges {
    /// Whether the command names no field at all.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.discount.is_none()
            && self.valid_from.is_none()
            && self.valid_until.is_none()
            && self.usage_limit_total.is_none()
            && self.usage_limit_per_customer.is_none()
    }
}

/// The event of a change, or `None` when every given value is the current one.
pub(crate) fn decide_change(
    current: &Promotion,
    changes: PromotionChanges,
    now: DateTime<Utc>,
) -> Result<Option<PromotionEvent>, PromotionError> {
    let (Some(_), Some(discount), Some(valid_from), Some(valid_until)) = (
        current.id,
        current.discount,
        current.valid_from,
        current.valid_until,
    ) else {
        return Err(PromotionError::NotCreated);
    };
    if changes.is_empty() {
        return Err(PromotionError::EmptyChange);
    }
    let name = match changes.name {
        Some(raw) => promotion_name(&raw)?,
        None => current.name.clone(),
    };
    let discount = match changes.discount {
        Some(new) => new.validated()?,
        None => discount,
    };
    let (valid_from, valid_until) = window(
        changes.valid_from.unwrap_or(valid_from),
        changes.valid_until.unwrap_or(valid_until),
    )?;
    let usage_limit_total = match changes.usage_limit_total {
        Some(limit) => positive_limit(limit, "usageLimitTotal")?,
        None => current.usage_limit_total,
    };
    let usage_limit_per_customer = match changes.usage_limit_per_customer {
        Some(limit) => positive_limit(limit, "usageLimitPerCustomer")?,
        None => current.usage_limit_per_customer,
    };
    let unchanged = name == current.name
        && Some(discount) == current.discount
        && Some(valid_from) == current.valid_from
        && Some(valid_until) == current.valid_until
        && usage_limit_total == current.usage_limit_total
        && usage_limit_per_customer == current.usage_limit_per_customer;
    if unchanged {
        return Ok(None);
    }
    Ok(Some(PromotionEvent::PromotionChanged {
        name,
        discount,
        valid_from,
        valid_until,
        usage_limit_total,
        usage_limit_per_customer,
        changed_at: now,
    }))
}
