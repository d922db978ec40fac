//! The `Promotion` aggregate: a campaign with a discount, a validity window, an on/off switch
//! (activation emits `PromotionActivated` → `promotion.activated.v1`), optional coupon codes and
//! usage limits in total and per customer, enforced when a redemption is recorded.
//!
//! Coupon codes are normalised to upper case. Their uniqueness across promotions is the command
//! service's job (a reservation table, as for SKUs); within one promotion it is checked here.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error_kind::DomainErrorKind;
use crate::money::{Money, MoneyError, Percent, RoundingMode};

const MAX_CODES_PER_COMMAND: usize = 1_000;

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

    fn validated(self) -> Result<Self, PromotionError> {
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

/// A coupon code trimmed and upper-cased: 3 to 32 letters, digits, `-` or `_`.
pub fn normalize_coupon_code(raw: &str) -> Result<String, String> {
    let code = raw.trim().to_ascii_uppercase();
    let valid = (3..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        Ok(code)
    } else {
        Err("must be 3 to 32 letters, digits, '-' or '_'".into())
    }
}

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
    },
    /// Adds codes; ones the promotion already has are ignored.
    AddCouponCodes { codes: Vec<String> },
    /// Switches the promotion on (before or during its window). Already active: no change.
    ActivatePromotion { now: DateTime<Utc> },
    /// Switches it off. Already inactive: no change.
    DeactivatePromotion { now: DateTime<Utc> },
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
}

impl PromotionEvent {
    /// Every event type name of the aggregate, for exhaustive topic and schema maps.
    pub const EVENT_TYPES: &'static [&'static str] = &[
        "PromotionCreated",
        "PromotionCouponCodesAdded",
        "PromotionActivated",
        "PromotionDeactivated",
        "PromotionRedeemed",
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
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
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
            Self::InvalidField { .. } => DomainErrorKind::InvalidArgument,
            Self::NotCreated | Self::UnknownCoupon(_) => DomainErrorKind::NotFound,
            Self::AlreadyCreated => DomainErrorKind::Conflict,
            Self::NotActive
            | Self::NotStarted
            | Self::Ended
            | Self::UsageLimitReached
            | Self::CustomerLimitReached => DomainErrorKind::FailedPrecondition,
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

fn coupon_codes(raw: &[String]) -> Result<Vec<String>, PromotionError> {
    if raw.len() > MAX_CODES_PER_COMMAND {
        return Err(PromotionError::invalid(
            "couponCodes",
            "at most 1000 codes at a time",
        ));
    }
    let mut codes = Vec::with_capacity(raw.len());
    for code in raw {
        let code = normalize_coupon_code(code)
            .map_err(|reason| PromotionError::invalid("couponCodes", reason))?;
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    Ok(codes)
}

fn positive_limit(limit: Option<u32>, field: &'static str) -> Result<Option<u32>, PromotionError> {
    match limit {
        Some(0) => Err(PromotionError::invalid(field, "must be at least 1")),
        other => Ok(other),
    }
}

impl Aggregate for Promotion {
    const TYPE: &'static str = "promotion";
    type Command = PromotionCommand;
    type Event = PromotionEvent;
    type Error = PromotionError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &(),
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
            } => {
                if self.id.is_some() {
                    return Err(PromotionError::AlreadyCreated);
                }
                let name = name.trim().to_owned();
                if name.is_empty() || name.chars().count() > 200 {
                    return Err(PromotionError::invalid(
                        "name",
                        "must be 1 to 200 characters",
                    ));
                }
                if valid_from >= valid_until {
                    return Err(PromotionError::invalid(
                        "validUntil",
                        "must be after validFrom",
                    ));
                }
                PromotionEvent::PromotionCreated {
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
                }
            }
            PromotionCommand::AddCouponCodes { codes } => {
                self.id.ok_or(PromotionError::NotCreated)?;
                let codes: Vec<String> = coupon_codes(&codes)?
                    .into_iter()
                    .filter(|c| !self.coupon_codes.contains(c))
                    .collect();
                if codes.is_empty() {
                    return Ok(());
                }
                PromotionEvent::PromotionCouponCodesAdded { codes }
            }
            PromotionCommand::ActivatePromotion { now } => {
                let (Some(discount), Some(valid_from), Some(valid_until)) =
                    (self.discount, self.valid_from, self.valid_until)
                else {
                    return Err(PromotionError::NotCreated);
                };
                if self.active {
                    return Ok(());
                }
                if now >= valid_until {
                    return Err(PromotionError::Ended);
                }
                PromotionEvent::PromotionActivated {
                    activated_at: now,
                    discount,
                    valid_from,
                    valid_until,
                }
            }
            PromotionCommand::DeactivatePromotion { now } => {
                self.id.ok_or(PromotionError::NotCreated)?;
                if !self.active {
                    return Ok(());
                }
                PromotionEvent::PromotionDeactivated {
                    deactivated_at: now,
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
            PromotionEvent::PromotionCouponCodesAdded { codes } => self.coupon_codes.extend(codes),
            PromotionEvent::PromotionActivated { .. } => self.active = true,
            PromotionEvent::PromotionDeactivated { .. } => self.active = false,
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
