//! Switching a promotion on, by hand or when its start time arrives.
//!
//! A schedule is state of the aggregate, recorded by `PromotionActivationScheduled
//! { activate_at }` with `activate_at` = the window's `valid_from` (at creation with
//! `activate_at_start`, or later with `SchedulePromotionActivation`). A change that moves
//! `valid_from` records the event again with the new instant; an activation or a deactivation
//! clears it. A promotion whose window has ended cannot be scheduled.
//!
//! The scheduler process finds due promotions in a read model, which may lag behind the log or
//! be halted, so it does not issue a plain `ActivatePromotion`: it issues
//! `ActivateScheduledPromotion { scheduled_for, now }`, which activates only while the aggregate
//! itself is still scheduled for that instant and the instant has come. Activation is
//! idempotent (already active: no event) and appends check the aggregate's version, so of
//! several schedulers racing for one promotion exactly one writes `PromotionActivated`; the
//! others, after reloading, find nothing to do.

use chrono::{DateTime, Utc};

use super::promotion::{Promotion, PromotionError, PromotionEvent};

/// The refusal of a schedule for a window that has ended.
pub(crate) fn window_ended() -> PromotionError {
    PromotionError::invalid(
        "validUntil",
        "has passed: a promotion whose window has ended cannot be scheduled to activate",
    )
}

/// `PromotionActivated`, or `None` when the promotion is active already.
pub(crate) fn decide_activation(
    current: &Promotion,
    now: DateTime<Utc>,
) -> Result<Option<PromotionEvent>, PromotionError> {
    let (Some(discount), Some(valid_from), Some(valid_until)) =
        (current.discount, current.valid_from, current.valid_until)
    else {
        return Err(PromotionError::NotCreated);
    };
    if current.active {
        return Ok(None);
    }
    if now >= valid_until {
        return Err(PromotionError::Ended);
    }
    Ok(Some(PromotionEvent::PromotionActivated {
        activated_at: now,
        discount,
        valid_from,
        valid_until,
    }))
}

/// `PromotionActivationScheduled` for the start of the window, or `None` when the promotion is
/// active or already scheduled for it.
pub(crate) fn decide_schedule(
    current: &Promotion,
    now: DateTime<Utc>,
) -> Result<Option<PromotionEvent>, PromotionError> {
    let (Some(_), Some(valid_from), Some(valid_until)) =
        (current.id, current.valid_from, current.valid_until)
    else {
        return Err(PromotionError::NotCreated);
    };
    if now >= valid_until {
        return Err(window_ended());
    }
    if current.active || current.activation_scheduled_at == Some(valid_from) {
        return Ok(None);
    }
    Ok(Some(PromotionEvent::PromotionActivationScheduled {
        activate_at: valid_from,
    }))
}

/// The scheduler's activation: `PromotionActivated` while the promotion is still scheduled for
/// `scheduled_for` and that instant has come, else `None` (nothing to do any more, or not
/// yet). Instants are compared to the microsecond, the precision of the read model the
/// scheduler found `scheduled_for` in.
pub(crate) fn decide_scheduled_activation(
    current: &Promotion,
    scheduled_for: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<PromotionEvent>, PromotionError> {
    if current.id.is_none() {
        return Err(PromotionError::NotCreated);
    }
    let Some(scheduled) = current.activation_scheduled_at else {
        return Ok(None);
    };
    if scheduled.timestamp_micros() != scheduled_for.timestamp_micros() || now < scheduled {
        return Ok(None);
    }
    decide_activation(current, now)
}

/// After a change: the schedule moved to the new `valid_from`, when there is one and it moved.
pub(crate) fn moved_schedule(current: &Promotion) -> Option<PromotionEvent> {
    match (current.activation_scheduled_at, current.valid_from) {
        (Some(scheduled), Some(valid_from)) if scheduled != valid_from => {
            Some(PromotionEvent::PromotionActivationScheduled {
                activate_at: valid_from,
            })
        }
        _ => None,
    }
}
