//! The `Promotion` aggregate: a campaign with a discount, a validity window, an on/off switch
//! (activation emits `PromotionActivated` → `promotion.activated.v1`), optional coupon codes and
//! usage limits in total and per customer, enforced when a redemption is recorded.
//!
//! Coupon codes are normalised to upper case ([`super::coupon`]). Within one promotion their
//! uniqueness is checked here; across promotions the aggregate asks the
//! [`CouponCodeDirectory`](super::coupon::CouponCodeDirectory) for a clear rejection, and the
//! command service reserves every code in the append transaction (as for SKUs). A promotion's
//! name, discount, window and limits can be changed later ([`super::promotion_change`]). A
//! promotion can also be scheduled to switch itself on when its window starts
//! ([`super::promotion_schedule`]): the schedule is state of the aggregate, and the scheduler
//! process activates it through [`PromotionCommand::ActivateScheduledPromotion`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::coupon::{coupon_codes, ensure_codes_free, PromotionServices};
use super::promotion_change::{decide_change, PromotionChanges};
use super::promotion_schedule::{
    decide_activation, decide_schedule, decide_scheduled_activation, moved_schedule, window_ended,
};
use crate::error_kind::DomainErrorKind;

pub use super::coupon::normalize_coupon_code;
pub use super::discount::Discount;

/// At most this many characters in a promotion's name.
pub const MAX_NAME_CHARS: usize = 200;

/// What a caller may ask of a promotion.
#[derive(Debug, Clone, PartialEq)]
pub enum PromotionCommand {
    CreatePromotion {
        promotion_id: Uuid,
        name: String,
        discount: Discount,
        valid_from: DateTime<Utc>,
        valid_until: DateTime<Utc>,
        usage_limit_total: Option<u32>,
        usage_limit_per_customer: Option<u32>,
        coupon_codes: Vec<String>,
        /// Also schedule the activation for `valid_from` (refused when the window has ended
        /// by `now`).
        activate_at_start: bool,
        now: DateTime<Utc>,
    },
    /// Changes name, discount, window and/or limits; what is absent stays. The same values
    /// again change nothing. A scheduled activation moves with `valid_from`.
    ChangePromotion {
        changes: PromotionChanges,
        now: DateTime<Utc>,
    },
    /// Adds codes; ones the promotion already has are ignored.
    AddCouponCodes { codes: Vec<String> },
    /// Switches the promotion on (before or during its window). Already active: no change.
    /// Clears a scheduled activation.
    ActivatePromotion { now: DateTime<Utc> },
    /// Switches it off and cancels a scheduled activation. Already inactive and not
    /// scheduled: no change.
    DeactivatePromotion { now: DateTime<Utc> },
    /// Schedules the activation for the start of the window (`valid_from`, at once when that
    /// has passed). Refused when the window has ended; active or already scheduled: no change.
    SchedulePromotionActivation { now: DateTime<Utc> },
    /// The scheduler's activation: switches the promotion on only while it is still scheduled
    /// for `scheduled_for` and that instant has come; otherwise (activated, cancelled or moved
    /// meanwhile) no change. Refused when the window has ended.
    ActivateScheduledPromotion {
        scheduled_for: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    /// Records one use, enforcing window, code and limits. A repeated `redemption_id` is
    /// accepted without a second event.
    RedeemPromotion {
        redemption_id: Uuid,
        customer_id: Option<Uuid>,
        coupon_code: Option<String>,
        now: DateTime<Utc>,
    },
}

/// What happened to a promotion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PromotionEvent {
    #[serde(rename_all = "camelCase")]
    PromotionCreated {
        promotion_id: Uuid,
        name: String,
        discount: Discount,
        valid_from: DateTime<Utc>,
        valid_until: DateTime<Utc>,
        usage_limit_total: Option<u32>,
        usage_limit_per_customer: Option<u32>,
        coupon_codes: Vec<String>,
    },
    #[serde(rename_all = "camelCase")]
    PromotionCouponCodesAdded { codes: Vec<String> },
    #[serde(rename_all = "camelCase")]
    PromotionActivated {
        activated_at: DateTime<Utc>,
        discount: Discount,
        valid_from: DateTime<Utc>,
        valid_until: DateTime<Utc>,
    },
    #[serde(rename_all = "camelCase")]
    PromotionDeactivated { deactivated_at: DateTime<Utc> },
    #[serde(rename_all = "camelCase")]
    PromotionRedeemed {
        redemption_id: Uuid,
        customer_id: Option<Uuid>,
        coupon_code: Option<String>,
        redeemed_at: DateTime<Utc>,
    },
    /// Carries every changeable field as it is after the change, changed or not.
    #[serde(rename_all = "camelCase")]
    PromotionChanged {
        name: String,
        discount: Discount,
        valid_from: DateTime<Utc>,
        valid_until: DateTime<Utc>,
        usage_limit_total: Option<u32>,
        usage_limit_per_customer: Option<u32>,
        changed_at: DateTime<Utc>,
    },
    /// The promotion will be switched on at `activate_at` (its `valid_from`). Recorded again
    /// when a change of the window moves it; `PromotionActivated` and `PromotionDeactivated`
    /// clear it.
    #[serde(rename_all = "camelCase")]
    PromotionActivationScheduled { activate_at: DateTime<Utc> },
}

impl PromotionEvent {
    /// Every event type name of the aggregate, for exhaustive topic and schema maps.
    pub const EVENT_TYPES: &'static [&'static str] = &[
        "PromotionCreated",
        "PromotionCouponCodesAdded",
        "PromotionActivated",
        "PromotionDeactivated",
        "PromotionRedeemed",
        "PromotionChanged",
        "PromotionActivationScheduled",
    ];
}

impl DomainEvent for PromotionEvent {
    fn event_type(&self) -> String {
        match self {
            Self::PromotionCreated { .. } => "PromotionCreated",
            Self::PromotionCouponCodesAdded { .. } => "PromotionCouponCodesAdded",
            Self::PromotionActivated { .. } => "PromotionActivated",
            Self::PromotionDeactivated { .. } => "PromotionDeactivated",
            Self::PromotionRedeemed { .. } => "PromotionRedeemed",
            Self::PromotionChanged { .. } => "PromotionChanged",
            Self::PromotionActivationScheduled { .. } => "PromotionActivationScheduled",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        super::EVENT_SCHEMA_VERSION.to_owned()
    }
}

/// A rejected promotion command. Each message names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromotionError {
    #[error("{field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("promotion does not exist")]
    NotCreated,
    #[error("promotion already exists")]
    AlreadyCreated,
    #[error("promotion is not active")]
    NotActive,
    #[error("promotion has not started yet")]
    NotStarted,
    #[error("promotion has ended")]
    Ended,
    #[error("couponCode: {0} is not a code of this promotion")]
    UnknownCoupon(String),
    #[error("promotion has reached its total usage limit")]
    UsageLimitReached,
    #[error("customerId: the customer has reached this promotion's usage limit")]
    CustomerLimitReached,
    #[error("couponCodes: {0} is already a code of another promotion")]
    CouponCodeTaken(String),
    #[error("nothing to change: give at least one field")]
    EmptyChange,
    /// The coupon code directory did not answer.
    #[error("couponCodes: the codes could not be checked ({0})")]
    LookupFailed(String),
}

impl PromotionError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            reason: reason.into(),
        }
    }

    /// How adapters should report this rejection.
    pub fn kind(&self) -> DomainErrorKind {
        match self {
            Self::InvalidField { .. } | Self::EmptyChange => DomainErrorKind::InvalidArgument,
            Self::NotCreated | Self::UnknownCoupon(_) => DomainErrorKind::NotFound,
            Self::AlreadyCreated | Self::CouponCodeTaken(_) => DomainErrorKind::Conflict,
            Self::LookupFailed(_) => DomainErrorKind::Unavailable,
            Self::NotActive
            | Self::NotStarted
            | Self::Ended
            | Self::UsageLimitReached
            | Self::CustomerLimitReached => DomainErrorKind::FailedPrecondition,
        }
    }

    /// The input field the rejection is about, in the API's camelCase.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::InvalidField { field, .. } => Some(field),
            Self::UnknownCoupon(_) => Some("couponCode"),
            Self::CustomerLimitReached => Some("customerId"),
            Self::CouponCodeTaken(_) | Self::LookupFailed(_) => Some("couponCodes"),
            Self::NotCreated
            | Self::AlreadyCreated
            | Self::NotActive
            | Self::NotStarted
            | Self::Ended
            | Self::UsageLimitReached
            | Self::EmptyChange => None,
        }
    }
}

/// A promotion's state.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Promotion {
    pub id: Option<Uuid>,
    pub name: String,
    pub discount: Option<Discount>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub usage_limit_total: Option<u32>,
    pub usage_limit_per_customer: Option<u32>,
    pub coupon_codes: BTreeSet<String>,
    pub active: bool,
    pub redemptions: u32,
    pub redemptions_by_customer: BTreeMap<Uuid, u32>,
    pub redemption_ids: BTreeSet<Uuid>,
    /// When the promotion will switch itself on; `None` when no activation is scheduled.
    #[serde(default)]
    pub activation_scheduled_at: Option<DateTime<Utc>>,
}

impl Promotion {
    /// Whether one more use by `customer_id` with `coupon_code` would be accepted at `now`:
    /// active, inside the window, a code of this promotion if it has codes, under both limits.
    /// Coupon validators on the read side use the same check.
    pub fn check_redeemable(
        &self,
        customer_id: Option<Uuid>,
        coupon_code: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), PromotionError> {
        let (Some(_), Some(from), Some(until)) = (self.id, self.valid_from, self.valid_until)
        else {
            return Err(PromotionError::NotCreated);
        };
        if !self.active {
            return Err(PromotionError::NotActive);
        }
        if now < from {
            return Err(PromotionError::NotStarted);
        }
        if now >= until {
            return Err(PromotionError::Ended);
        }
        if !self.coupon_codes.is_empty() {
            let code =
                coupon_code.ok_or_else(|| PromotionError::invalid("couponCode", "is required"))?;
            let code = normalize_coupon_code(code)
                .map_err(|reason| PromotionError::invalid("couponCode", reason))?;
            if !self.coupon_codes.contains(&code) {
                return Err(PromotionError::UnknownCoupon(code));
            }
        }
        if self
            .usage_limit_total
            .is_some_and(|limit| self.redemptions >= limit)
        {
            return Err(PromotionError::UsageLimitReached);
        }
        if let Some(limit) = self.usage_limit_per_customer {
            let customer =
                customer_id.ok_or_else(|| PromotionError::invalid("customerId", "is required"))?;
            if self
                .redemptions_by_customer
                .get(&customer)
                .copied()
                .unwrap_or(0)
                >= limit
            {
                return Err(PromotionError::CustomerLimitReached);
            }
        }
        Ok(())
    }
}

/// A name: NFC, trimmed, nothing invisible, 1 to [`MAX_NAME_CHARS`] characters.
pub(crate) fn promotion_name(raw: &str) -> Result<String, PromotionError> {
    let name =
        crate::text::clean(raw).map_err(|issue| PromotionError::invalid("name", issue.reason()))?;
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(PromotionError::invalid(
            "name",
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(name)
}

/// A usage limit: absent (none) or at least 1.
pub(crate) fn positive_limit(
    limit: Option<u32>,
    field: &'static str,
) -> Result<Option<u32>, PromotionError> {
    match limit {
        Some(0) => Err(PromotionError::invalid(field, "must be at least 1")),
        other => Ok(other),
    }
}

/// A validity window: `from` strictly before `until`.
pub(crate) fn window(
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), PromotionError> {
    if from >= until {
        return Err(PromotionError::invalid(
            "validUntil",
            "must be after validFrom",
        ));
    }
    Ok((from, until))
}

impl Aggregate for Promotion {
    const TYPE: &'static str = "promotion";
    type Command = PromotionCommand;
    type Event = PromotionEvent;
    type Error = PromotionError;
    type Services = PromotionServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &PromotionServices,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            PromotionCommand::CreatePromotion {
                promotion_id,
                name,
                discount,
                valid_from,
                valid_until,
                usage_limit_total,
                usage_limit_per_customer,
                coupon_codes: codes,
                activate_at_start,
                now,
            } => {
                if self.id.is_some() {
                    return Err(PromotionError::AlreadyCreated);
                }
                let name = promotion_name(&name)?;
                let (valid_from, valid_until) = window(valid_from, valid_until)?;
                let event = PromotionEvent::PromotionCreated {
                    promotion_id,
                    name,
                    discount: discount.validated()?,
                    valid_from,
                    valid_until,
                    usage_limit_total: positive_limit(usage_limit_total, "usageLimitTotal")?,
                    usage_limit_per_customer: positive_limit(
                        usage_limit_per_customer,
                        "usageLimitPerCustomer",
                    )?,
                    coupon_codes: coupon_codes(&codes)?,
                };
                if activate_at_start && now >= valid_until {
                    return Err(window_ended());
                }
                if let PromotionEvent::PromotionCreated { coupon_codes, .. } = &event {
                    ensure_codes_free(coupon_codes, promotion_id, services).await?;
                }
                sink.write(event, self).await;
                if activate_at_start {
                    if let Some(scheduled) = decide_schedule(self, now)? {
                        sink.write(scheduled, self).await;
                    }
                }
                return Ok(());
            }
            PromotionCommand::ChangePromotion { changes, now } => {
                let Some(event) = decide_change(self, changes, now)? else {
                    return Ok(());
                };
                sink.write(event, self).await;
                if let Some(moved) = moved_schedule(self) {
                    sink.write(moved, self).await;
                }
                return Ok(());
            }
            PromotionCommand::AddCouponCodes { codes } => {
                let me = self.id.ok_or(PromotionError::NotCreated)?;
                let codes: Vec<String> = coupon_codes(&codes)?
                    .into_iter()
                    .filter(|c| !self.coupon_codes.contains(c))
                    .collect();
                if codes.is_empty() {
                    return Ok(());
                }
                ensure_codes_free(&codes, me, services).await?;
                PromotionEvent::PromotionCouponCodesAdded { codes }
            }
            PromotionCommand::ActivatePromotion { now } => match decide_activation(self, now)? {
                Some(event) => event,
                None => return Ok(()),
            },
            PromotionCommand::DeactivatePromotion { now } => {
                self.id.ok_or(PromotionError::NotCreated)?;
                if !self.active && self.activation_scheduled_at.is_none() {
                    return Ok(());
                }
                PromotionEvent::PromotionDeactivated {
                    deactivated_at: now,
                }
            }
            PromotionCommand::SchedulePromotionActivation { now } => {
                match decide_schedule(self, now)? {
                    Some(event) => event,
                    None => return Ok(()),
                }
            }
            PromotionCommand::ActivateScheduledPromotion { scheduled_for, now } => {
                match decide_scheduled_activation(self, scheduled_for, now)? {
                    Some(event) => event,
                    None => return Ok(()),
                }
            }
            PromotionCommand::RedeemPromotion {
                redemption_id,
                customer_id,
                coupon_code,
                now,
            } => {
                if self.redemption_ids.contains(&redemption_id) {
                    return Ok(());
                }
                self.check_redeemable(customer_id, coupon_code.as_deref(), now)?;
                PromotionEvent::PromotionRedeemed {
                    redemption_id,
                    customer_id,
                    coupon_code: coupon_code.and_then(|c| normalize_coupon_code(&c).ok()),
                    redeemed_at: now,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            PromotionEvent::PromotionCreated {
                promotion_id,
                name,
                discount,
                valid_from,
                valid_until,
                usage_limit_total,
                usage_limit_per_customer,
                coupon_codes,
            } => {
                self.id = Some(promotion_id);
                self.name = name;
                self.discount = Some(discount);
                self.valid_from = Some(valid_from);
                self.valid_until = Some(valid_until);
                self.usage_limit_total = usage_limit_total;
                self.usage_limit_per_customer = usage_limit_per_customer;
                self.coupon_codes = coupon_codes.into_iter().collect();
            }
            PromotionEvent::PromotionChanged {
                name,
                discount,
                valid_from,
                valid_until,
                usage_limit_total,
                usage_limit_per_customer,
                changed_at: _,
            } => {
                self.name = name;
                self.discount = Some(discount);
                self.valid_from = Some(valid_from);
                self.valid_until = Some(valid_until);
                self.usage_limit_total = usage_limit_total;
                self.usage_limit_per_customer = usage_limit_per_customer;
            }
            PromotionEvent::PromotionCouponCodesAdded { codes } => self.coupon_codes.extend(codes),
            PromotionEvent::PromotionActivated { .. } => {
                self.active = true;
                self.activation_scheduled_at = None;
            }
            PromotionEvent::PromotionDeactivated { .. } => {
                self.active = false;
                self.activation_scheduled_at = None;
            }
            PromotionEvent::PromotionActivationScheduled { activate_at } => {
                self.activation_scheduled_at = Some(activate_at);
            }
            PromotionEvent::PromotionRedeemed {
                redemption_id,
                customer_id,
                ..
            } => {
                self.redemptions = self.redemptions.saturating_add(1);
                if let Some(customer) = customer_id {
                    let count = self.redemptions_by_customer.entry(customer).or_insert(0);
                    *count = count.saturating_add(1);
                }
                self.redemption_ids.insert(redemption_id);
            }
        }
    }
}
