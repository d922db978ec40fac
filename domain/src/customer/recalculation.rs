//! Segment recalculation: the spend rule behind the segment a policy owns, what the policy
//! tells the customer ([`SegmentRecalculation`]) and what the customer records
//! ([`SegmentRecalculated`]).
//!
//! The policy (the command side's `segment_policy`) follows checkouts in the global log, sums
//! the customer's spend over the rule's window in the rule's currency and sends the sum with
//! its cause, the checkout. The customer decides with [`SpendRule::verdict`]:
//!
//! - the spend reaches the threshold → the rule's segment is added;
//! - it is below and every checkout of the window was counted → the segment is removed;
//! - it is below but some checkout could not be counted (no exchange rate for its currency) →
//!   the segment stays as it is: the counted spend is only a lower bound, so it may add the
//!   segment but never take it away.
//!
//! Only the rule's own segment changes; every other segment (an operator's) is left alone.
//!
//! **Once per checkout.** The customer keeps the log place of the last checkout it recalculated
//! for ([`Customer::segments_recalculated_through`], one value, however many checkouts): a
//! command for that checkout or an earlier one writes nothing. A place rather than a list of
//! the last N checkout ids, because the log is read in order: a replay from the start sends
//! every old checkout again, and a bounded list would forget the old ones and record them
//! twice. Every checkout records an event — also when nothing changes — so the place always
//! moves on and a replay is a no-op even when the segments were changed by hand since.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::errors::CustomerError;
use super::limits::MAX_SEGMENTS;
use super::{values, Customer};
use crate::money::Money;

/// The longest window a rule may have, in days (ten years).
pub const MAX_WINDOW_DAYS: u32 = 3_660;

/// Where an event is in the global log: the transaction that wrote it and its position,
/// compared in the order the log is read (transaction first). The domain only needs the order;
/// the event store's `LogPosition` converts to and from it.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct LogOrder {
    pub tx: u64,
    pub position: u64,
}

impl LogOrder {
    pub const fn new(tx: u64, position: u64) -> Self {
        Self { tx, position }
    }
}

impl std::fmt::Display for LogOrder {
    /// The `Shopcore-Position` token form, `"<tx>-<position>"`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.tx, self.position)
    }
}

/// A customer belongs to `segment` while the spend of the last `window_days` days reaches
/// `threshold` (whose currency is the one spend is counted in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpendRule {
    pub segment: String,
    pub threshold: Money,
    pub window_days: u32,
}

/// What the rule says for one spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    /// The spend reaches the threshold: the customer is in the segment.
    Member,
    /// The spend, complete, is below the threshold: the customer is not.
    NotMember,
    /// The counted spend is below the threshold but some checkouts could not be counted: the
    /// segment stays as it is.
    Undecided,
}

/// A customer's spend over a rule's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spend {
    /// The sum of the counted checkouts, in the rule's currency.
    pub total: Money,
    /// Checkouts of the window in the sum.
    pub counted: u32,
    /// Checkouts of the window left out (their currency could not be converted).
    pub uncounted: u32,
}

impl SpendRule {
    /// The rule, checked: a valid segment name, a positive threshold, a window of 1 to
    /// [`MAX_WINDOW_DAYS`] days.
    pub fn validated(self) -> Result<Self, CustomerError> {
        let segment = values::segments(std::slice::from_ref(&self.segment))
            .map_err(|error| match error {
                CustomerError::InvalidField { reason, .. } => {
                    CustomerError::invalid("segment", reason)
                }
                other => other,
            })?
            .pop_first()
            .ok_or_else(|| CustomerError::invalid("segment", "must not be empty"))?;
        if !self.threshold.is_positive() {
            return Err(CustomerError::invalid(
                "threshold",
                "must be more than zero",
            ));
        }
        if !(1..=MAX_WINDOW_DAYS).contains(&self.window_days) {
            return Err(CustomerError::invalid(
                "windowDays",
                format!("must be 1 to {MAX_WINDOW_DAYS} days"),
            ));
        }
        Ok(Self { segment, ..self })
    }

    /// The start of the window that ends at `at`: checkouts strictly after it count.
    pub fn window_start(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        at - Duration::days(i64::from(self.window_days))
    }

    /// What the rule says for `spend` (in the threshold's currency).
    pub fn verdict(&self, spend: &Spend) -> Verdict {
        if spend.total.amount() >= self.threshold.amount() {
            Verdict::Member
        } else if spend.uncounted == 0 {
            Verdict::NotMember
        } else {
            Verdict::Undecided
        }
    }
}

/// The checkout a recalculation is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckoutCause {
    /// The id of the `CartCheckedOut` event.
    pub event_id: Uuid,
    /// Its place in the global log.
    pub log_order: LogOrder,
    pub checked_out_at: DateTime<Utc>,
}

/// The command's content: the cause, the rule and the spend the policy measured.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentRecalculation {
    pub cause: CheckoutCause,
    pub rule: SpendRule,
    pub spend: Spend,
}

/// The recorded recalculation: its cause, the rule's inputs, the verdict and the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentRecalculated {
    pub checkout_event_id: Uuid,
    pub checkout_log_order: LogOrder,
    pub checked_out_at: DateTime<Utc>,
    pub rule: SpendRule,
    /// The counted spend of the window, in the threshold's currency.
    pub spend: Money,
    pub checkouts_counted: u32,
    pub checkouts_uncounted: u32,
    pub verdict: Verdict,
    /// The full set after the recalculation, sorted.
    pub segments: Vec<String>,
    /// The rule's segment when it was added, else empty.
    pub added: Vec<String>,
    /// The rule's segment when it was removed, else empty.
    pub removed: Vec<String>,
}

impl Customer {
    /// Decides a recalculation: `None` when this checkout (or a later one) was recalculated
    /// for already, else the event to record.
    pub(super) fn decide_recalculation(
        &self,
        recalculation: SegmentRecalculation,
    ) -> Result<Option<SegmentRecalculated>, CustomerError> {
        let SegmentRecalculation { cause, rule, spend } = recalculation;
        if self
            .segments_recalculated_through
            .is_some_and(|done| cause.log_order <= done)
        {
            return Ok(None);
        }
        let rule = rule.validated()?;
        if spend.total.currency() != rule.threshold.currency() {
            return Err(CustomerError::invalid(
                "spend",
                format!(
                    "must be in {}, the threshold's currency, not {}",
                    rule.threshold.currency(),
                    spend.total.currency()
                ),
            ));
        }
        if spend.total.is_negative() {
            return Err(CustomerError::invalid("spend", "must not be negative"));
        }
        let verdict = rule.verdict(&spend);
        let mut segments: BTreeSet<String> = self.segments.clone();
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        match verdict {
            Verdict::Member if !segments.contains(&rule.segment) => {
                if segments.len() >= MAX_SEGMENTS {
                    return Err(CustomerError::invalid(
                        "segments",
                        format!(
                            "at most {MAX_SEGMENTS} segments: {} cannot be added",
                            rule.segment
                        ),
                    ));
                }
                segments.insert(rule.segment.clone());
                added.push(rule.segment.clone());
            }
            Verdict::NotMember if segments.remove(&rule.segment) => {
                removed.push(rule.segment.clone());
            }
            _ => {}
        }
        Ok(Some(SegmentRecalculated {
            checkout_event_id: cause.event_id,
            checkout_log_order: cause.log_order,
            checked_out_at: cause.checked_out_at,
            rule,
            spend: spend.total,
            checkouts_counted: spend.counted,
            checkouts_uncounted: spend.uncounted,
            verdict,
            segments: segments.into_iter().collect(),
            added,
            removed,
        }))
    }
}
