//! [`PriceRuleEvaluator`]: the unit price of a SKU under a set of price rules, with an
//! explanation of every candidate rule. The precedence below is also written up in
//! `docs/pricing.md`; the two must agree.
//!
//! # Candidates
//! Rules are indexed by target SKU and by target category (hash maps). The candidates for a
//! context are the rules targeting its SKU plus those targeting any of its categories; no other
//! rule is looked at, so the cost does not grow with the size of the rule book.
//!
//! # Precedence (total, so the result never depends on the order rules were loaded in)
//! 1. rules that target the SKU itself before rules that reach it only through a category;
//! 2. the more specific condition set first ([`RuleConditions::specificity`]: customer segment >
//!    channel > region > validity window > minimum quantity > currency, compared as bits);
//! 3. higher `priority` first;
//! 4. earlier `created_at` first;
//! 5. smaller rule id first.
//!
//! # Stacking
//! Candidates are checked in precedence order. Every rule whose conditions hold applies, up to
//! and including the first *exclusive* one; every later candidate is reported as stopped. Of the
//! applying rules, the first `setPrice` replaces the base price and later `setPrice` rules are
//! reported as shadowed. Then `percentOff` and `amountOff` rules apply in precedence order to
//! the running price: each percentage is taken of the running price and rounded to the minor
//! unit with the evaluator's rounding mode (half-even unless set), amounts are subtracted, and
//! the price never goes below zero.
//!
//! # Currency
//! The evaluator works in the context's currency only: the base price must already be in it
//! (see [`super::quote`] for conversion from a price book) and a rule carrying money in another
//! currency does not match (its failed condition is `currency`).
//!
//! [`RuleConditions::specificity`]: super::rule::RuleConditions::specificity

use std::cmp::{Ordering, Reverse};
use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::errors::PricingError;
use super::rule::{FailedCondition, PriceRuleSpec, PricingContext, RuleAction};
use super::rule_index::{InlineVec, RuleIndex};
use crate::money::{Money, MoneyError, RoundingMode};

/// Rules indexed for evaluation, sorted by precedence. Build it once per rule-book version
/// and share it; evaluation takes `&self`.
#[derive(Debug, Clone, Default)]
pub struct PriceRuleEvaluator {
    rules: Vec<PriceRuleSpec>,
    index: RuleIndex,
    rounding: RoundingMode,
}

/// Ranks of the rules that apply, with their position in the explanation.
type Applying = InlineVec<(usize, u32), 16>;

/// How a candidate rule reached the SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MatchedBy {
    Sku,
    Category,
}

/// What became of a candidate rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum RuleOutcome {
    /// Its conditions held and its action changed the running price.
    Applied,
    /// A condition did not hold; `failed` is the first in checking order.
    NotMatched { failed: FailedCondition },
    /// A `setPrice` rule whose conditions held, but an earlier `setPrice` rule won.
    Shadowed { by: Uuid },
    /// Not checked: an earlier exclusive rule applied.
    Stopped { by: Uuid },
}

/// The precedence key (docs/pricing.md §4) that put a candidate after the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PrecedenceStep {
    /// The first candidate.
    First,
    /// The previous candidate targets the SKU itself, this one only a category.
    Target,
    /// The previous candidate's condition set is more specific.
    Specificity,
    /// Same specificity, higher priority before.
    Priority,
    /// Same priority, created earlier before.
    Age,
    /// Created at the same instant: the smaller rule id before.
    RuleId,
}

/// One line of the explanation: a candidate rule, in precedence order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleVerdict {
    pub rule_id: Uuid,
    pub matched_by: MatchedBy,
    pub specificity: u8,
    pub priority: i32,
    pub action: RuleAction,
    pub outcome: RuleOutcome,
    /// The running price right after this rule applied.
    pub price_after: Option<Money>,
    /// Why this candidate comes after the previous one.
    pub ranked_by: PrecedenceStep,
}

/// The unit price and how it came about (the answer of `POST /pricing/{sku}/simulate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceQuote {
    pub base_price: Money,
    pub unit_price: Money,
    /// Every candidate rule in precedence order.
    pub explanation: Vec<RuleVerdict>,
}

impl PriceQuote {
    /// The rules that changed the price, in the order they applied (`setPrice` first).
    pub fn applied_rules(&self) -> Vec<Uuid> {
        let applied = || {
            self.explanation
                .iter()
                .filter(|v| v.outcome == RuleOutcome::Applied)
        };
        let is_set = |v: &&RuleVerdict| matches!(v.action, RuleAction::SetPrice { .. });
        applied()
            .filter(is_set)
            .chain(applied().filter(|v| !is_set(v)))
            .map(|v| v.rule_id)
            .collect()
    }
}

fn precedence(a: &PriceRuleSpec, b: &PriceRuleSpec) -> Ordering {
    let key = |r: &PriceRuleSpec| {
        (
            Reverse(r.definition.conditions.specificity()),
            Reverse(r.definition.priority),
        )
    };
    key(a)
        .cmp(&key(b))
        .then(a.created_at.cmp(&b.created_at))
        .then(a.rule_id.cmp(&b.rule_id))
}

impl PriceRuleEvaluator {
    /// Indexes `rules`. Rule ids must be unique; of duplicates only the first in precedence
    /// order is kept. Rules without targets are ignored.
    pub fn new(rules: impl IntoIterator<Item = PriceRuleSpec>) -> Self {
        let mut rules: Vec<PriceRuleSpec> = rules
            .into_iter()
            .filter(|r| {
                !r.definition.targets.skus.is_empty() || !r.definition.targets.categories.is_empty()
            })
            .collect();
        rules.sort_by(precedence);
        let mut seen = HashSet::with_capacity(rules.len());
        rules.retain(|r| seen.insert(r.rule_id));
        let index = RuleIndex::build(&rules);
        Self {
            rules,
            index,
            rounding: RoundingMode::default(),
        }
    }

    /// Uses `mode` for percentage discounts instead of half-even.
    pub fn with_rounding(mut self, mode: RoundingMode) -> Self {
        self.rounding = mode;
        self
    }

    /// The indexed rules in precedence order (without the SKU-before-category split).
    pub fn rules(&self) -> &[PriceRuleSpec] {
        &self.rules
    }

    /// The unit price for `ctx`, starting from `base` (in the context's currency), with the
    /// explanation of every candidate rule.
    pub fn evaluate(&self, base: Money, ctx: &PricingContext) -> Result<PriceQuote, PricingError> {
        same_currency(base, ctx)?;
        let labels = self.index.intern_context(ctx);
        let mut explanation = Vec::with_capacity(16);
        let mut applying = Applying::new();
        let mut stopped_by = None;
        let mut previous: Option<(bool, u32)> = None;
        self.index.for_each_candidate(ctx, |rank, by_sku| {
            let Some(rule) = self.index.rule(rank) else {
                return true;
            };
            let ranked_by = match previous.and_then(|(sku, r)| Some((sku, self.index.rule(r)?))) {
                None => PrecedenceStep::First,
                Some((true, _)) if !by_sku => PrecedenceStep::Target,
                Some((_, before)) => rule.ranked_after(before),
            };
            previous = Some((by_sku, rank));
            let outcome = match stopped_by {
                Some(by) => RuleOutcome::Stopped { by },
                None => match rule.check(ctx, &labels) {
                    Err(failed) => RuleOutcome::NotMatched { failed },
                    Ok(()) => {
                        if rule.exclusive {
                            stopped_by = Some(rule.rule_id);
                        }
                        applying.push((explanation.len(), rank));
                        RuleOutcome::Applied
                    }
                },
            };
            explanation.push(RuleVerdict {
                rule_id: rule.rule_id,
                matched_by: if by_sku {
                    MatchedBy::Sku
                } else {
                    MatchedBy::Category
                },
                specificity: rule.specificity,
                priority: rule.priority,
                action: rule.action,
                outcome,
                price_after: None,
                ranked_by,
            });
            true
        });
        let unit_price = self.apply(
            base,
            applying.as_slice(),
            |position, outcome, price_after| {
                if let Some(verdict) = explanation.get_mut(position) {
                    verdict.outcome = outcome;
                    verdict.price_after = price_after;
                }
            },
        )?;
        Ok(PriceQuote {
            base_price: base,
            unit_price,
            explanation,
        })
    }

    /// The unit price alone: the same result as [`Self::evaluate`], without the explanation
    /// (and without allocating in the common case).
    pub fn price(&self, base: Money, ctx: &PricingContext) -> Result<Money, PricingError> {
        same_currency(base, ctx)?;
        let labels = self.index.intern_context(ctx);
        let mut applying = Applying::new();
        self.index.for_each_candidate(ctx, |rank, _| {
            let Some(rule) = self.index.rule(rank) else {
                return true;
            };
            if rule.check(ctx, &labels).is_err() {
                return true;
            }
            applying.push((0, rank));
            !rule.exclusive
        });
        Ok(self.apply(base, applying.as_slice(), |_, _, _| {})?)
    }

    /// Applies the matching rules (`(position, rank)` in precedence order) to `base`, telling
    /// `record` the final outcome and running price of each.
    fn apply(
        &self,
        base: Money,
        applying: &[(usize, u32)],
        mut record: impl FnMut(usize, RuleOutcome, Option<Money>),
    ) -> Result<Money, MoneyError> {
        let mut price = base;
        let mut fixed_by = None;
        for (position, rank) in applying {
            let Some(rule) = self.index.rule(*rank) else {
                continue;
            };
            if let RuleAction::SetPrice { price: fixed } = rule.action {
                match fixed_by {
                    None => {
                        price = fixed;
                        fixed_by = Some(rule.rule_id);
                        record(*position, RuleOutcome::Applied, Some(price));
                    }
                    Some(by) => record(*position, RuleOutcome::Shadowed { by }, None),
                }
            }
        }
        for (position, rank) in applying {
            let Some(rule) = self.index.rule(*rank) else {
                continue;
            };
            price = match rule.action {
                RuleAction::SetPrice { .. } => continue,
                RuleAction::PercentOff { percent } => price.less_percent(percent, self.rounding)?,
                RuleAction::AmountOff { amount } => price.checked_sub(amount)?,
            }
            .clamp_at_zero();
            record(*position, RuleOutcome::Applied, Some(price));
        }
        Ok(price)
    }
}

fn same_currency(base: Money, ctx: &PricingContext) -> Result<(), MoneyError> {
    if base.currency() == ctx.currency {
        Ok(())
    } else {
        Err(MoneyError::CurrencyMismatch {
            left: base.currency(),
            right: ctx.currency,
        })
    }
}
