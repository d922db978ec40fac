//! Properties of the evaluator: the quote does not depend on the order the rules are given in,
//! the fast path agrees with the explained one, and prices never go negative.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::{at, id, usd};
use crate::money::{Currency, Money, Percent};
use crate::pricing::rule_index::RuleIndex;
use crate::pricing::*;

const SKUS: [&str; 3] = ["A", "B", "C"];
const CATEGORIES: [&str; 6] = ["x", "y", "z", "u", "v", "w"];
const SEGMENTS: [&str; 2] = ["vip", "staff"];

fn subset(pool: &'static [&'static str]) -> impl Strategy<Value = BTreeSet<String>> {
    prop::sample::subsequence(pool.to_vec(), 0..=pool.len())
        .prop_map(|values| values.into_iter().map(str::to_owned).collect())
}

fn action() -> impl Strategy<Value = RuleAction> {
    prop_oneof![
        (0_i64..20_000).prop_map(|a| RuleAction::SetPrice { price: usd(a) }),
        (1_u32..=10_000).prop_map(|b| RuleAction::PercentOff {
            percent: Percent::from_basis_points(b).expect("in range")
        }),
        (1_i64..5_000).prop_map(|a| RuleAction::AmountOff { amount: usd(a) }),
        (1_i64..5_000).prop_map(|a| RuleAction::AmountOff {
            amount: Money::new(a, Currency::EUR)
        }),
    ]
}

fn conditions() -> impl Strategy<Value = RuleConditions> {
    (
        subset(&SEGMENTS),
        subset(&["web", "app"]),
        subset(&["EU", "US"]),
        prop::option::of(prop_oneof![Just(Currency::USD), Just(Currency::EUR)]),
        prop::option::of(-2_i64..3),
        prop::option::of(1_u32..4),
    )
        .prop_map(
            |(customer_segments, channels, regions, currency, from, min_quantity)| RuleConditions {
                customer_segments,
                channels,
                regions,
                currency,
                valid_from: from.map(at),
                valid_until: from.map(|h| at(h + 2)),
                min_quantity,
            },
        )
}

fn rules() -> impl Strategy<Value = Vec<PriceRuleSpec>> {
    let one = (
        subset(&SKUS),
        subset(&CATEGORIES),
        -2_i32..3,
        0_i64..3,
        conditions(),
        action(),
        prop::bool::weighted(0.2),
    );
    prop::collection::vec(one, 0..40).prop_map(|specs| {
        (0_u128..)
            .zip(specs)
            .map(
                |(n, (skus, categories, priority, age, conditions, action, exclusive))| {
                    PriceRuleSpec {
                        rule_id: id(n * 7919 % 1000),
                        created_at: at(-age),
                        definition: PriceRuleDefinition {
                            name: format!("r{n}"),
                            targets: RuleTargets { skus, categories },
                            priority,
                            conditions,
                            action,
                            exclusive,
                        },
                    }
                },
            )
            .collect()
    })
}

fn contexts() -> impl Strategy<Value = PricingContext> {
    (
        prop::sample::select(SKUS.to_vec()),
        subset(&CATEGORIES),
        1_u32..5,
        subset(&SEGMENTS),
        prop::option::of(prop::sample::select(vec!["web", "app"])),
        prop::option::of(prop::sample::select(vec!["EU", "US"])),
        -1_i64..3,
    )
        .prop_map(
            |(sku, categories, quantity, segments, channel, region, hour)| PricingContext {
                sku: sku.to_owned(),
                categories: categories.into_iter().collect(),
                quantity,
                currency: Currency::USD,
                customer_segments: segments.into_iter().collect(),
                channel: channel.map(str::to_owned),
                region: region.map(str::to_owned),
                at: at(hour),
            },
        )
}

proptest! {
    #[test]
    fn the_quote_is_stable_under_reordering(
        (rules, shuffled) in rules().prop_flat_map(|rules| (Just(rules.clone()), Just(rules).prop_shuffle())),
        ctx in contexts(),
        base in 0_i64..50_000,
    ) {
        let first = PriceRuleEvaluator::new(rules.clone()).evaluate(usd(base), &ctx);
        let second = PriceRuleEvaluator::new(shuffled).evaluate(usd(base), &ctx);
        prop_assert_eq!(&first, &second);
        let mut reversed = rules;
        reversed.reverse();
        prop_assert_eq!(&first, &PriceRuleEvaluator::new(reversed).evaluate(usd(base), &ctx));
    }

    #[test]
    fn the_fast_path_agrees_and_prices_stay_non_negative(rules in rules(), ctx in contexts(), base in 0_i64..50_000) {
        let evaluator = PriceRuleEvaluator::new(rules);
        let quote = evaluator.evaluate(usd(base), &ctx).expect("same currency");
        prop_assert_eq!(evaluator.price(usd(base), &ctx), Ok(quote.unit_price));
        prop_assert!(!quote.unit_price.is_negative());
        // Every candidate is reported once; only applied rules carry a running price.
        let ids: BTreeSet<_> = quote.explanation.iter().map(|v| v.rule_id).collect();
        prop_assert_eq!(ids.len(), quote.explanation.len());
        for verdict in &quote.explanation {
            prop_assert_eq!(verdict.price_after.is_some(), verdict.outcome == RuleOutcome::Applied);
        }
        // At most one exclusive rule applies, and nothing after it does.
        if let Some(stop) = quote.explanation.iter().position(|v| matches!(v.outcome, RuleOutcome::Stopped { .. })) {
            let stopped = |v: &RuleVerdict| matches!(v.outcome, RuleOutcome::Stopped { .. });
            prop_assert!(quote.explanation[stop..].iter().all(stopped), "a stopped rule is followed by a checked one");
        }
    }

    #[test]
    fn the_compiled_check_agrees_with_the_reference(rules in rules(), ctx in contexts()) {
        let index = RuleIndex::build(&rules);
        let labels = index.intern_context(&ctx);
        for (rank, spec) in (0_u32..).zip(&rules) {
            let compiled = index.rule(rank).map(|rule| rule.check(&ctx, &labels));
            prop_assert_eq!(compiled, Some(spec.definition.check(&ctx)));
        }
    }

    #[test]
    fn candidates_are_every_targeting_rule_sku_first(rules in rules(), ctx in contexts()) {
        let evaluator = PriceRuleEvaluator::new(rules);
        let quote = evaluator.evaluate(usd(1_000), &ctx).expect("same currency");
        let found: Vec<_> = quote.explanation.iter().map(|v| (v.rule_id, v.matched_by)).collect();
        let by_sku = |r: &&PriceRuleSpec| r.definition.targets.skus.contains(&ctx.sku);
        let by_category =
            |r: &&PriceRuleSpec| !by_sku(r) && ctx.categories.iter().any(|c| r.definition.targets.categories.contains(c));
        let expected: Vec<_> = evaluator.rules().iter().filter(by_sku).map(|r| (r.rule_id, MatchedBy::Sku))
            .chain(evaluator.rules().iter().filter(by_category).map(|r| (r.rule_id, MatchedBy::Category)))
            .collect();
        prop_assert_eq!(found, expected);
    }
}
