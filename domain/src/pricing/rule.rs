//! What a price rule is: its targets (SKUs, categories), conditions, action and exclusivity,
//! the context a price is asked for, and how one rule's conditions are checked against it.
//!
//! Conditions are checked in a fixed order and the first that fails is reported: currency,
//! validity window, customer segment, channel, region, minimum quantity. A set-valued condition
//! (segments, channels, regions) is met when the context has any of the listed values; an
//! empty set means "any". A rule whose action carries money only applies in that currency.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::errors::PriceRuleError;
use crate::catalog::values::clean_sku;
use crate::money::{Currency, Money, Percent};

const MAX_TARGETS: usize = 1_000;
const MAX_VALUES: usize = 100;
const MAX_VALUE_CHARS: usize = 128;

/// A rule as the evaluator sees it: the definition plus identity and age (for tie-breaks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceRuleSpec {
    pub rule_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub definition: PriceRuleDefinition,
}

/// Everything a caller states about a rule (the body of `POST /pricing/rules`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceRuleDefinition {
    pub name: String,
    pub targets: RuleTargets,
    /// Higher wins among rules of equal specificity.
    pub priority: i32,
    #[serde(default)]
    pub conditions: RuleConditions,
    pub action: RuleAction,
    /// When this rule applies, no rule after it (in precedence order) is considered.
    #[serde(default)]
    pub exclusive: bool,
}

/// The SKUs and categories a rule applies to; at least one of either.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleTargets {
    #[serde(default)]
    pub skus: BTreeSet<String>,
    #[serde(default)]
    pub categories: BTreeSet<String>,
}

/// When a rule applies. Absent or empty conditions always hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleConditions {
    #[serde(default)]
    pub customer_segments: BTreeSet<String>,
    #[serde(default)]
    pub channels: BTreeSet<String>,
    #[serde(default)]
    pub regions: BTreeSet<String>,
    #[serde(default)]
    pub currency: Option<Currency>,
    /// Inclusive start.
    #[serde(default)]
    pub valid_from: Option<DateTime<Utc>>,
    /// Exclusive end.
    #[serde(default)]
    pub valid_until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub min_quantity: Option<u32>,
}

/// What a rule does to the unit price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum RuleAction {
    /// Replaces the base price (the first such rule in precedence order wins).
    SetPrice { price: Money },
    /// Takes a percentage off the running price, rounded to the minor unit.
    PercentOff { percent: Percent },
    /// Takes a fixed amount off the running price, never below zero.
    AmountOff { amount: Money },
}

impl RuleAction {
    /// The currency the action is written in, if it carries money.
    pub fn currency(&self) -> Option<Currency> {
        match self {
            Self::SetPrice { price } => Some(price.currency()),
            Self::AmountOff { amount } => Some(amount.currency()),
            Self::PercentOff { .. } => None,
        }
    }
}

/// Who asks for a price of what, where and when (the query of `GET /pricing/{sku}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PricingContext {
    pub sku: String,
    /// The product's categories, for category-targeted rules.
    #[serde(default)]
    pub categories: Vec<String>,
    pub quantity: u32,
    pub currency: Currency,
    #[serde(default)]
    pub customer_segments: Vec<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    pub at: DateTime<Utc>,
}

/// The first condition of a rule that the context did not meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "condition", rename_all = "camelCase")]
pub enum FailedCondition {
    #[serde(rename_all = "camelCase")]
    Currency {
        required: Currency,
        actual: Currency,
    },
    #[serde(rename_all = "camelCase")]
    NotYetValid {
        valid_from: DateTime<Utc>,
    },
    #[serde(rename_all = "camelCase")]
    Expired {
        valid_until: DateTime<Utc>,
    },
    CustomerSegment,
    Channel,
    Region,
    #[serde(rename_all = "camelCase")]
    MinQuantity {
        required: u32,
        actual: u32,
    },
}

/// Bits of [`RuleConditions::specificity`], most significant first.
pub mod specificity {
    pub const CUSTOMER_SEGMENT: u8 = 1 << 5;
    pub const CHANNEL: u8 = 1 << 4;
    pub const REGION: u8 = 1 << 3;
    pub const DATED: u8 = 1 << 2;
    pub const MIN_QUANTITY: u8 = 1 << 1;
    pub const CURRENCY: u8 = 1;
}

impl RuleConditions {
    /// How specific the condition set is: one bit per constrained dimension, weighted so that
    /// customer segment > channel > region > validity window > minimum quantity > currency.
    /// Compared as a number, a rule with a segment condition beats any rule without one.
    pub fn specificity(&self) -> u8 {
        let mut score = 0;
        if !self.customer_segments.is_empty() {
            score |= specificity::CUSTOMER_SEGMENT;
        }
        if !self.channels.is_empty() {
            score |= specificity::CHANNEL;
        }
        if !self.regions.is_empty() {
            score |= specificity::REGION;
        }
        if self.valid_from.is_some() || self.valid_until.is_some() {
            score |= specificity::DATED;
        }
        if self.min_quantity.is_some() {
            score |= specificity::MIN_QUANTITY;
        }
        if self.currency.is_some() {
            score |= specificity::CURRENCY;
        }
        score
    }
}

impl PriceRuleDefinition {
    /// Checks the conditions in their documented order; `Err` names the first that failed.
    pub fn check(&self, ctx: &PricingContext) -> Result<(), FailedCondition> {
        let c = &self.conditions;
        for required in [c.currency, self.action.currency()].into_iter().flatten() {
            if required != ctx.currency {
                return Err(FailedCondition::Currency {
                    required,
                    actual: ctx.currency,
                });
            }
        }
        if let Some(valid_from) = c.valid_from {
            if ctx.at < valid_from {
                return Err(FailedCondition::NotYetValid { valid_from });
            }
        }
        if let Some(valid_until) = c.valid_until {
            if ctx.at >= valid_until {
                return Err(FailedCondition::Expired { valid_until });
            }
        }
        if !c.customer_segments.is_empty()
            && !ctx
                .customer_segments
                .iter()
                .any(|s| c.customer_segments.contains(s))
        {
            return Err(FailedCondition::CustomerSegment);
        }
        if !one_of(&c.channels, ctx.channel.as_deref()) {
            return Err(FailedCondition::Channel);
        }
        if !one_of(&c.regions, ctx.region.as_deref()) {
            return Err(FailedCondition::Region);
        }
        match c.min_quantity {
            Some(required) if ctx.quantity < required => Err(FailedCondition::MinQuantity {
                required,
                actual: ctx.quantity,
            }),
            _ => Ok(()),
        }
    }

    /// Trims and checks every field; a money action also fixes the currency condition.
    pub fn validated(self) -> Result<Self, PriceRuleError> {
        let name = crate::text::clean(&self.name)
            .map_err(|issue| PriceRuleError::invalid("name", issue.reason()))?;
        if name.is_empty() {
            return Err(PriceRuleError::invalid("name", "must not be empty"));
        }
        if name.chars().count() > 200 {
            return Err(PriceRuleError::invalid(
                "name",
                "must be at most 200 characters",
            ));
        }
        let skus = self
            .targets
            .skus
            .iter()
            .map(|sku| {
                clean_sku(sku).map_err(|reason| PriceRuleError::invalid("targets.skus", reason))
            })
            .collect::<Result<BTreeSet<_>, _>>()?;
        let categories = labels(&self.targets.categories, "targets.categories", MAX_TARGETS)?;
        if skus.is_empty() && categories.is_empty() {
            return Err(PriceRuleError::invalid(
                "targets",
                "must name at least one SKU or category",
            ));
        }
        if skus.len() > MAX_TARGETS {
            return Err(PriceRuleError::invalid("targets.skus", "at most 1000 SKUs"));
        }
        let mut conditions = RuleConditions {
            customer_segments: labels(
                &self.conditions.customer_segments,
                "conditions.customerSegments",
                MAX_VALUES,
            )?,
            channels: labels(&self.conditions.channels, "conditions.channels", MAX_VALUES)?,
            regions: labels(&self.conditions.regions, "conditions.regions", MAX_VALUES)?,
            ..self.conditions
        };
        if let (Some(from), Some(until)) = (conditions.valid_from, conditions.valid_until) {
            if from >= until {
                return Err(PriceRuleError::invalid(
                    "conditions.validUntil",
                    "must be after validFrom",
                ));
            }
        }
        if conditions.min_quantity == Some(0) {
            return Err(PriceRuleError::invalid(
                "conditions.minQuantity",
                "must be at least 1",
            ));
        }
        validate_action(&self.action)?;
        if let Some(currency) = self.action.currency() {
            if conditions.currency.is_some_and(|c| c != currency) {
                return Err(PriceRuleError::invalid(
                    "action",
                    "must be in the currency of conditions.currency",
                ));
            }
            conditions.currency = Some(currency);
        }
        Ok(Self {
            name,
            targets: RuleTargets { skus, categories },
            conditions,
            ..self
        })
    }
}

fn validate_action(action: &RuleAction) -> Result<(), PriceRuleError> {
    match action {
        RuleAction::SetPrice { price } if price.is_negative() => Err(PriceRuleError::invalid(
            "action.price",
            "must not be negative",
        )),
        RuleAction::AmountOff { amount } if !amount.is_positive() => Err(PriceRuleError::invalid(
            "action.amount",
            "must be greater than zero",
        )),
        RuleAction::PercentOff { percent } if percent.basis_points() == 0 => Err(
            PriceRuleError::invalid("action.percent", "must be greater than zero"),
        ),
        _ => Ok(()),
    }
}

fn one_of(allowed: &BTreeSet<String>, actual: Option<&str>) -> bool {
    allowed.is_empty() || actual.is_some_and(|a| allowed.contains(a))
}

fn labels(
    raw: &BTreeSet<String>,
    field: &'static str,
    max: usize,
) -> Result<BTreeSet<String>, PriceRuleError> {
    if raw.len() > max {
        return Err(PriceRuleError::invalid(
            field,
            format!("at most {max} values"),
        ));
    }
    raw.iter()
        .map(|value| {
            let value = crate::text::clean(value)
                .map_err(|issue| PriceRuleError::invalid(field, issue.reason()))?;
            if value.is_empty() || value.chars().count() > MAX_VALUE_CHARS {
                Err(PriceRuleError::invalid(
                    field,
                    format!("each value must be 1 to {MAX_VALUE_CHARS} characters"),
                ))
            } else {
                Ok(value)
            }
        })
        .collect()
}
