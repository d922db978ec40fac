//! The evaluator's compiled rule book: rules flattened into compact records sorted by
//! precedence, SKU and category indexes, and labels (segments, channels, regions) interned to
//! integers so that checking a candidate compares numbers, not strings.
//!
//! [`CompiledRule::check`] must agree with [`PriceRuleDefinition::check`], the readable
//! reference; a property test holds them together.
//!
//! The indexes use a small multiplicative hasher instead of SipHash: their keys come from the
//! rule book (written by staff), so flooding them with colliding keys is not a concern, and
//! lookups by SKU are most of an evaluation's cost.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::evaluator::PrecedenceStep;
use super::rule::{
    FailedCondition, PriceRuleDefinition, PriceRuleSpec, PricingContext, RuleAction,
};
use crate::money::Currency;

/// FxHash-style hasher: rotate, xor, multiply, eight bytes at a time.
#[derive(Default, Clone, Copy)]
pub(super) struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0_u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(SEED);
        }
        for byte in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*byte)).wrapping_mul(SEED);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(super) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// A vector that keeps its first `N` items inline and only allocates beyond that.
pub(super) struct InlineVec<T: Copy + Default, const N: usize> {
    inline: [T; N],
    len: usize,
    spill: Vec<T>,
}

impl<T: Copy + Default, const N: usize> InlineVec<T, N> {
    pub fn new() -> Self {
        Self {
            inline: [T::default(); N],
            len: 0,
            spill: Vec::new(),
        }
    }

    pub fn push(&mut self, value: T) {
        if self.spill.is_empty() {
            if let Some(slot) = self.inline.get_mut(self.len) {
                *slot = value;
                self.len += 1;
                return;
            }
            self.spill.extend_from_slice(&self.inline);
        }
        self.spill.push(value);
    }

    pub fn as_slice(&self) -> &[T] {
        if self.spill.is_empty() {
            self.inline.get(..self.len).unwrap_or(&[])
        } else {
            &self.spill
        }
    }

    pub fn as_mut_slice(&mut self) -> &mut [T] {
        if self.spill.is_empty() {
            self.inline.get_mut(..self.len).unwrap_or(&mut [])
        } else {
            &mut self.spill
        }
    }
}

/// A rule reduced to what checking and applying it needs.
#[derive(Debug, Clone)]
pub(super) struct CompiledRule {
    pub rule_id: Uuid,
    pub priority: i32,
    pub specificity: u8,
    pub exclusive: bool,
    pub action: RuleAction,
    created_at: DateTime<Utc>,
    currency: Option<Currency>,
    action_currency: Option<Currency>,
    valid_from: Option<DateTime<Utc>>,
    valid_until: Option<DateTime<Utc>>,
    min_quantity: Option<u32>,
    /// Interned segments, then channels, then regions.
    labels: Box<[u32]>,
    segments_end: usize,
    channels_end: usize,
}

/// The context's labels as interned ids; labels unknown to the book are left out (they
/// cannot satisfy any rule).
pub(super) struct InternedContext {
    segments: InlineVec<u32, 8>,
    channel: Option<u32>,
    region: Option<u32>,
}

impl CompiledRule {
    fn segments(&self) -> &[u32] {
        self.labels.get(..self.segments_end).unwrap_or(&[])
    }

    fn channels(&self) -> &[u32] {
        self.labels
            .get(self.segments_end..self.channels_end)
            .unwrap_or(&[])
    }

    fn regions(&self) -> &[u32] {
        self.labels.get(self.channels_end..).unwrap_or(&[])
    }

    /// The first precedence key after the target (specificity, priority, age, id) on which
    /// `before`, ranked earlier with the same target, differs from this rule.
    pub fn ranked_after(&self, before: &CompiledRule) -> PrecedenceStep {
        if before.specificity != self.specificity {
            PrecedenceStep::Specificity
        } else if before.priority != self.priority {
            PrecedenceStep::Priority
        } else if before.created_at != self.created_at {
            PrecedenceStep::Age
        } else {
            PrecedenceStep::RuleId
        }
    }

    /// The same decision as [`PriceRuleDefinition::check`], on the compiled form.
    pub fn check(
        &self,
        ctx: &PricingContext,
        labels: &InternedContext,
    ) -> Result<(), FailedCondition> {
        for required in [self.currency, self.action_currency].into_iter().flatten() {
            if required != ctx.currency {
                return Err(FailedCondition::Currency {
                    required,
                    actual: ctx.currency,
                });
            }
        }
        if let Some(valid_from) = self.valid_from {
            if ctx.at < valid_from {
                return Err(FailedCondition::NotYetValid { valid_from });
            }
        }
        if let Some(valid_until) = self.valid_until {
            if ctx.at >= valid_until {
                return Err(FailedCondition::Expired { valid_until });
            }
        }
        let segments = self.segments();
        if !segments.is_empty()
            && !labels
                .segments
                .as_slice()
                .iter()
                .any(|s| segments.contains(s))
        {
            return Err(FailedCondition::CustomerSegment);
        }
        let one_of = |allowed: &[u32], actual: Option<u32>| {
            allowed.is_empty() || actual.is_some_and(|a| allowed.contains(&a))
        };
        if !one_of(self.channels(), labels.channel) {
            return Err(FailedCondition::Channel);
        }
        if !one_of(self.regions(), labels.region) {
            return Err(FailedCondition::Region);
        }
        match self.min_quantity {
            Some(required) if ctx.quantity < required => Err(FailedCondition::MinQuantity {
                required,
                actual: ctx.quantity,
            }),
            _ => Ok(()),
        }
    }
}

/// Rules in precedence order with their indexes.
#[derive(Debug, Clone, Default)]
pub(super) struct RuleIndex {
    pub rules: Vec<CompiledRule>,
    by_sku: FastMap<Box<str>, Vec<u32>>,
    by_category: FastMap<Box<str>, Vec<u32>>,
    labels: FastMap<Box<str>, u32>,
}

impl RuleIndex {
    /// Compiles `specs`, which must already be in precedence order.
    pub fn build(specs: &[PriceRuleSpec]) -> Self {
        let mut index = Self::default();
        for (rank, spec) in (0_u32..).zip(specs) {
            let definition = &spec.definition;
            for sku in &definition.targets.skus {
                index
                    .by_sku
                    .entry(sku.as_str().into())
                    .or_default()
                    .push(rank);
            }
            for category in &definition.targets.categories {
                index
                    .by_category
                    .entry(category.as_str().into())
                    .or_default()
                    .push(rank);
            }
            let rule = index.compile(spec.rule_id, spec.created_at, definition);
            index.rules.push(rule);
        }
        index
    }

    fn intern(&mut self, label: &str) -> u32 {
        let next = u32::try_from(self.labels.len()).unwrap_or(u32::MAX);
        *self.labels.entry(label.into()).or_insert(next)
    }

    fn compile(
        &mut self,
        rule_id: Uuid,
        created_at: DateTime<Utc>,
        definition: &PriceRuleDefinition,
    ) -> CompiledRule {
        let c = &definition.conditions;
        let mut labels =
            Vec::with_capacity(c.customer_segments.len() + c.channels.len() + c.regions.len());
        labels.extend(c.customer_segments.iter().map(|s| self.intern(s)));
        let segments_end = labels.len();
        labels.extend(c.channels.iter().map(|s| self.intern(s)));
        let channels_end = labels.len();
        labels.extend(c.regions.iter().map(|s| self.intern(s)));
        CompiledRule {
            rule_id,
            priority: definition.priority,
            specificity: c.specificity(),
            exclusive: definition.exclusive,
            action: definition.action,
            created_at,
            currency: c.currency,
            action_currency: definition.action.currency(),
            valid_from: c.valid_from,
            valid_until: c.valid_until,
            min_quantity: c.min_quantity,
            labels: labels.into_boxed_slice(),
            segments_end,
            channels_end,
        }
    }

    pub fn rule(&self, rank: u32) -> Option<&CompiledRule> {
        self.rules.get(rank as usize)
    }

    /// The context's labels as ids of this book.
    pub fn intern_context(&self, ctx: &PricingContext) -> InternedContext {
        let mut segments = InlineVec::new();
        for segment in &ctx.customer_segments {
            if let Some(id) = self.labels.get(segment.as_str()) {
                segments.push(*id);
            }
        }
        let lookup =
            |label: &Option<String>| label.as_deref().and_then(|l| self.labels.get(l).copied());
        InternedContext {
            segments,
            channel: lookup(&ctx.channel),
            region: lookup(&ctx.region),
        }
    }

    /// Calls `visit` with each candidate rank in precedence order: SKU-targeted rules first,
    /// then rules reached only through a category (merged across categories, no duplicates).
    /// Stops when `visit` returns `false`.
    pub fn for_each_candidate(
        &self,
        ctx: &PricingContext,
        mut visit: impl FnMut(u32, bool) -> bool,
    ) {
        let direct = self
            .by_sku
            .get(ctx.sku.as_str())
            .map_or(&[][..], Vec::as_slice);
        for rank in direct {
            if !visit(*rank, true) {
                return;
            }
        }
        let mut lists: InlineVec<&[u32], 4> = InlineVec::new();
        for category in &ctx.categories {
            if let Some(ranks) = self.by_category.get(category.as_str()) {
                lists.push(ranks);
            }
        }
        let lists = lists.as_mut_slice();
        let mut last = None;
        loop {
            let mut best: Option<(usize, u32)> = None;
            for (i, list) in lists.iter().enumerate() {
                if let Some(head) = list.first() {
                    if best.is_none_or(|(_, b)| *head < b) {
                        best = Some((i, *head));
                    }
                }
            }
            let Some((i, rank)) = best else { return };
            if let Some(list) = lists.get_mut(i) {
                *list = list.get(1..).unwrap_or(&[]);
            }
            if last == Some(rank) || direct.binary_search(&rank).is_ok() {
                continue;
            }
            last = Some(rank);
            if !visit(rank, false) {
                return;
            }
        }
    }
}
