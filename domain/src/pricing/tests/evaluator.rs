//! Examples of the evaluator's precedence, stacking, explanation and conversion.

use std::collections::BTreeSet;

use super::{at, id, usd};
use crate::money::{Currency, ExchangeRate, Money, Percent, Rate, RoundingMode};
use crate::pricing::*;

fn set(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|v| v.to_string()).collect()
}

pub(super) fn rule(
    n: u128,
    skus: &[&str],
    categories: &[&str],
    action: RuleAction,
) -> PriceRuleSpec {
    PriceRuleSpec {
        rule_id: id(n),
        created_at: at(0),
        definition: PriceRuleDefinition {
            name: format!("rule {n}"),
            targets: RuleTargets {
                skus: set(skus),
                categories: set(categories),
            },
            priority: 0,
            conditions: RuleConditions::default(),
            action,
            exclusive: false,
        },
    }
}

fn percent(bps: u32) -> RuleAction {
    RuleAction::PercentOff {
        percent: Percent::from_basis_points(bps).expect("valid"),
    }
}

fn context() -> PricingContext {
    PricingContext {
        sku: "SHOE-42".into(),
        categories: vec!["shoes".into()],
        quantity: 1,
        currency: Currency::USD,
        customer_segments: vec!["vip".into()],
        channel: Some("web".into()),
        region: Some("EU".into()),
        at: at(10),
    }
}

fn outcomes(quote: &PriceQuote) -> Vec<(u128, RuleOutcome)> {
    quote
        .explanation
        .iter()
        .map(|v| (v.rule_id.as_u128() & 0xffff, v.outcome))
        .collect()
}

#[test]
fn only_indexed_candidates_are_considered_sku_before_category() {
    let evaluator = PriceRuleEvaluator::new([
        rule(1, &[], &["shoes"], percent(1_000)),
        rule(2, &["SHOE-42"], &[], percent(500)),
        rule(3, &["OTHER"], &["hats"], percent(9_000)),
        rule(
            4,
            &["SHOE-42"],
            &["shoes"],
            RuleAction::AmountOff { amount: usd(100) },
        ),
    ]);
    let quote = evaluator.evaluate(usd(10_000), &context()).expect("quote");
    let order: Vec<(u128, MatchedBy)> = quote
        .explanation
        .iter()
        .map(|v| (v.rule_id.as_u128() & 0xffff, v.matched_by))
        .collect();
    assert_eq!(
        order,
        vec![
            (2, MatchedBy::Sku),
            (4, MatchedBy::Sku),
            (1, MatchedBy::Category)
        ]
    );
    // 10000 − 5 % = 9500, − 1.00 = 9400, − 10 % = 8460.
    assert_eq!(quote.unit_price, usd(8_460));
    assert_eq!(quote.applied_rules(), vec![id(2), id(4), id(1)]);
    assert_eq!(evaluator.price(usd(10_000), &context()), Ok(usd(8_460)));
}

#[test]
fn specificity_then_priority_then_age_then_id() {
    let mut segment = rule(1, &["SHOE-42"], &[], percent(100));
    segment.definition.conditions.customer_segments = set(&["vip"]);
    let mut channel_region = rule(2, &["SHOE-42"], &[], percent(100));
    channel_region.definition.conditions.channels = set(&["web"]);
    channel_region.definition.conditions.regions = set(&["EU"]);
    let mut high = rule(3, &["SHOE-42"], &[], percent(100));
    high.definition.priority = 10;
    let mut older = rule(5, &["SHOE-42"], &[], percent(100));
    older.created_at = at(-1);
    let same_a = rule(6, &["SHOE-42"], &[], percent(100));
    let same_b = rule(4, &["SHOE-42"], &[], percent(100));
    let evaluator = PriceRuleEvaluator::new([same_a, older, high, channel_region, segment, same_b]);
    let quote = evaluator.evaluate(usd(10_000), &context()).expect("quote");
    let order: Vec<u128> = outcomes(&quote).into_iter().map(|(n, _)| n).collect();
    assert_eq!(order, vec![1, 2, 3, 5, 4, 6]);
    // Each candidate names the key that put it after the one before.
    let steps: Vec<PrecedenceStep> = quote.explanation.iter().map(|v| v.ranked_by).collect();
    assert_eq!(
        steps,
        vec![
            PrecedenceStep::First,
            PrecedenceStep::Specificity,
            PrecedenceStep::Specificity,
            PrecedenceStep::Priority,
            PrecedenceStep::Age,
            PrecedenceStep::RuleId,
        ]
    );
    // A category rule after SKU rules is placed by its target, whatever else differs.
    let mut by_category = rule(7, &[], &["shoes"], percent(100));
    by_category.definition.priority = 99;
    let evaluator =
        PriceRuleEvaluator::new([by_category, rule(8, &["SHOE-42"], &[], percent(100))]);
    let quote = evaluator.evaluate(usd(10_000), &context()).expect("quote");
    let steps: Vec<(u128, PrecedenceStep)> = quote
        .explanation
        .iter()
        .map(|v| (v.rule_id.as_u128() & 0xffff, v.ranked_by))
        .collect();
    assert_eq!(
        steps,
        vec![(8, PrecedenceStep::First), (7, PrecedenceStep::Target)]
    );
}

#[test]
fn first_set_price_wins_and_discounts_apply_after_it() {
    let mut vip_price = rule(
        1,
        &["SHOE-42"],
        &[],
        RuleAction::SetPrice { price: usd(8_000) },
    );
    vip_price.definition.conditions.customer_segments = set(&["vip"]);
    let discount = rule(2, &["SHOE-42"], &[], percent(2_500));
    let mut list_price = rule(
        3,
        &[],
        &["shoes"],
        RuleAction::SetPrice { price: usd(9_000) },
    );
    list_price.definition.priority = 100;
    let quote = PriceRuleEvaluator::new([discount, list_price, vip_price])
        .evaluate(usd(10_000), &context())
        .expect("quote");
    assert_eq!(
        outcomes(&quote),
        vec![
            (1, RuleOutcome::Applied),
            (2, RuleOutcome::Applied),
            (3, RuleOutcome::Shadowed { by: id(1) })
        ]
    );
    assert_eq!(quote.explanation[0].price_after, Some(usd(8_000)));
    assert_eq!(quote.unit_price, usd(6_000));
}

#[test]
fn an_exclusive_rule_stops_every_later_rule() {
    let mut exclusive = rule(1, &["SHOE-42"], &[], percent(1_000));
    exclusive.definition.exclusive = true;
    exclusive.definition.priority = 5;
    let later = rule(2, &["SHOE-42"], &[], percent(5_000));
    let mut not_matching = rule(3, &["SHOE-42"], &[], percent(5_000));
    not_matching.definition.priority = 9;
    not_matching.definition.conditions.min_quantity = Some(10);
    let evaluator = PriceRuleEvaluator::new([later, exclusive, not_matching]);
    let quote = evaluator.evaluate(usd(10_000), &context()).expect("quote");
    assert_eq!(
        outcomes(&quote),
        vec![
            (
                3,
                RuleOutcome::NotMatched {
                    failed: FailedCondition::MinQuantity {
                        required: 10,
                        actual: 1
                    }
                }
            ),
            (1, RuleOutcome::Applied),
            (2, RuleOutcome::Stopped { by: id(1) }),
        ]
    );
    assert_eq!(quote.unit_price, usd(9_000));
    assert_eq!(evaluator.price(usd(10_000), &context()), Ok(usd(9_000)));
}

#[test]
fn the_first_failed_condition_is_reported_in_checking_order() {
    let base = || rule(1, &["SHOE-42"], &[], percent(100));
    let mut cases: Vec<(PriceRuleSpec, FailedCondition)> = Vec::new();
    let mut r = base();
    r.definition.conditions.currency = Some(Currency::EUR);
    r.definition.conditions.customer_segments = set(&["staff"]);
    cases.push((
        r,
        FailedCondition::Currency {
            required: Currency::EUR,
            actual: Currency::USD,
        },
    ));
    let mut r = base();
    r.definition.action = RuleAction::AmountOff {
        amount: Money::new(5, Currency::GBP),
    };
    cases.push((
        r,
        FailedCondition::Currency {
            required: Currency::GBP,
            actual: Currency::USD,
        },
    ));
    let mut r = base();
    r.definition.conditions.valid_from = Some(at(11));
    r.definition.conditions.channels = set(&["app"]);
    cases.push((r, FailedCondition::NotYetValid { valid_from: at(11) }));
    let mut r = base();
    r.definition.conditions.valid_until = Some(at(10));
    cases.push((
        r,
        FailedCondition::Expired {
            valid_until: at(10),
        },
    ));
    let mut r = base();
    r.definition.conditions.customer_segments = set(&["staff"]);
    r.definition.conditions.regions = set(&["US"]);
    cases.push((r, FailedCondition::CustomerSegment));
    let mut r = base();
    r.definition.conditions.channels = set(&["app"]);
    r.definition.conditions.regions = set(&["US"]);
    cases.push((r, FailedCondition::Channel));
    let mut r = base();
    r.definition.conditions.regions = set(&["US"]);
    cases.push((r, FailedCondition::Region));
    let mut r = base();
    r.definition.conditions.min_quantity = Some(3);
    cases.push((
        r,
        FailedCondition::MinQuantity {
            required: 3,
            actual: 1,
        },
    ));
    for (rule, failed) in cases {
        let quote = PriceRuleEvaluator::new([rule])
            .evaluate(usd(1_000), &context())
            .expect("quote");
        assert_eq!(
            outcomes(&quote),
            vec![(1, RuleOutcome::NotMatched { failed })]
        );
        assert_eq!(quote.unit_price, usd(1_000));
    }
}

#[test]
fn all_conditions_met_applies_the_rule() {
    let mut r = rule(
        1,
        &["SHOE-42"],
        &[],
        RuleAction::AmountOff { amount: usd(250) },
    );
    let c = &mut r.definition.conditions;
    c.customer_segments = set(&["vip", "staff"]);
    c.channels = set(&["web"]);
    c.regions = set(&["EU"]);
    c.valid_from = Some(at(10));
    c.valid_until = Some(at(11));
    c.min_quantity = Some(1);
    c.currency = Some(Currency::USD);
    let quote = PriceRuleEvaluator::new([r])
        .evaluate(usd(1_000), &context())
        .expect("quote");
    assert_eq!(quote.unit_price, usd(750));
    assert_eq!(quote.explanation[0].specificity, 0b11_1111);
}

#[test]
fn prices_never_go_below_zero_and_percentages_round_half_even() {
    let evaluator = PriceRuleEvaluator::new([rule(
        1,
        &["SHOE-42"],
        &[],
        RuleAction::AmountOff { amount: usd(5_000) },
    )]);
    assert_eq!(evaluator.price(usd(1_000), &context()), Ok(usd(0)));
    // 50 % of 25 cents is 12.5: half-even keeps 12 off (13 left), half-up takes 13 off (12 left).
    let half = PriceRuleEvaluator::new([rule(1, &["SHOE-42"], &[], percent(5_000))]);
    assert_eq!(half.price(usd(25), &context()), Ok(usd(13)));
    assert_eq!(
        half.with_rounding(RoundingMode::HalfUp)
            .price(usd(25), &context()),
        Ok(usd(12))
    );
}

#[test]
fn a_base_price_in_another_currency_is_an_error() {
    let evaluator = PriceRuleEvaluator::new([]);
    assert!(evaluator
        .evaluate(Money::new(1, Currency::EUR), &context())
        .is_err());
    assert!(evaluator
        .price(Money::new(1, Currency::EUR), &context())
        .is_err());
}

#[test]
fn the_explanation_serialises_for_the_simulate_endpoint() {
    let mut r = rule(1, &["SHOE-42"], &[], percent(100));
    r.definition.conditions.min_quantity = Some(2);
    let quote = PriceRuleEvaluator::new([r])
        .evaluate(usd(100), &context())
        .expect("quote");
    let json = serde_json::to_value(&quote).expect("serialise");
    assert_eq!(
        json["explanation"][0]["outcome"],
        serde_json::json!({"status": "notMatched", "failed": {"condition": "minQuantity", "required": 2, "actual": 1}})
    );
    assert_eq!(
        serde_json::from_value::<PriceQuote>(json).expect("parse"),
        quote
    );
}

fn book() -> PriceBook {
    let mut book = PriceBook {
        id: Some(id(9)),
        default_currency: Some(Currency::EUR),
        ..PriceBook::default()
    };
    book.prices
        .entry("SHOE-42".into())
        .or_default()
        .insert(Currency::EUR, Money::new(1_999, Currency::EUR));
    book.prices
        .entry("SHOE-42".into())
        .or_default()
        .insert(Currency::GBP, Money::new(1_700, Currency::GBP));
    book
}

#[test]
fn base_prices_are_listed_or_converted_once() {
    let rate = ExchangeRate {
        base: Currency::EUR,
        quote: Currency::USD,
        rate: Rate::parse("1.0845").expect("rate"),
    };
    let rates: FxRates = [(rate, at(0))].into_iter().collect();
    let listed = resolve_base_price(
        &book(),
        "SHOE-42",
        Currency::GBP,
        &rates,
        RoundingMode::HalfEven,
    )
    .expect("listed");
    assert_eq!(listed.source, BasePriceSource::Listed);
    let converted = resolve_base_price(
        &book(),
        "SHOE-42",
        Currency::USD,
        &rates,
        RoundingMode::HalfEven,
    )
    .expect("fx");
    assert_eq!(converted.price, usd(2_168));
    assert_eq!(
        converted.source,
        BasePriceSource::Converted {
            from: Money::new(1_999, Currency::EUR),
            rates: vec![rate],
            via: None,
            rates_as_of: at(0),
        }
    );
    assert_eq!(
        resolve_base_price(
            &book(),
            "SHOE-42",
            Currency::JPY,
            &rates,
            RoundingMode::HalfEven
        ),
        Err(PricingError::NoRate {
            from: Currency::EUR,
            to: Currency::JPY
        })
    );
    assert_eq!(
        resolve_base_price(
            &book(),
            "NOPE",
            Currency::EUR,
            &rates,
            RoundingMode::HalfEven
        ),
        Err(PricingError::NoBasePrice {
            sku: "NOPE".into(),
            currency: Currency::EUR
        })
    );
    // The opposite pair is used inversely.
    let inverse: FxRates = [ExchangeRate {
        base: Currency::USD,
        quote: Currency::EUR,
        rate: Rate::parse("0.5").expect("rate"),
    }]
    .into_iter()
    .collect();
    assert_eq!(
        inverse.convert(
            Money::new(1_999, Currency::EUR),
            Currency::USD,
            RoundingMode::HalfEven
        ),
        Ok(usd(3_998))
    );
    let evaluator = PriceRuleEvaluator::new([rule(1, &["SHOE-42"], &[], percent(1_000))]);
    let priced = quote_price(&book(), &rates, &evaluator, &context()).expect("quote");
    assert_eq!(priced.quote.unit_price, usd(1_951));
}
