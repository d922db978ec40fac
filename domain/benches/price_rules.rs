//! Price-rule evaluation against a book of 1 000 rules: the indexed [`PriceRuleEvaluator`]
//! (with and without the explanation) next to a baseline that scans every rule linearly, in the
//! same run. Throughput is reported as evaluations per second ("elem/s").
//!
//! The book: 500 SKUs in 50 categories; 70 % of the rules target one to three SKUs, 30 % one
//! category; conditions (segments, channels, regions, windows, minimum quantities, currency)
//! and actions are drawn from a fixed-seed generator, so every run measures the same book.
//! Each iteration prices the next of 1 024 pre-built contexts (different SKUs and shoppers).

use std::collections::BTreeSet;
use std::hint::black_box;

use chrono::{DateTime, Duration, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shopcore_domain::money::{Currency, Money, Percent};
use shopcore_domain::pricing::{
    PriceRuleDefinition, PriceRuleEvaluator, PriceRuleSpec, PricingContext, RuleAction,
    RuleConditions, RuleTargets,
};
use uuid::Uuid;

const RULES: usize = 1_000;
const SKUS: u64 = 500;
const CATEGORIES: u64 = 50;
const CONTEXTS: usize = 1_024;
const SEGMENTS: [&str; 4] = ["vip", "staff", "b2b", "new"];
const CHANNELS: [&str; 3] = ["web", "app", "store"];
const REGIONS: [&str; 4] = ["EU", "US", "APAC", "VN"];

/// A small deterministic generator (SplitMix64), so the book is the same every run.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, values: &[&'a str]) -> &'a str {
        values[self.below(values.len() as u64) as usize]
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn sku(n: u64) -> String {
    format!("SKU-{n:04}")
}

fn category_of(sku: u64, which: u64) -> String {
    format!("cat-{:02}", (sku * 7 + which * 13) % CATEGORIES)
}

fn some(rng: &mut Seeded, percent: u64, values: &[&str]) -> BTreeSet<String> {
    if rng.chance(percent) {
        [rng.pick(values).to_owned()].into()
    } else {
        BTreeSet::new()
    }
}

fn rule(n: usize, rng: &mut Seeded) -> PriceRuleSpec {
    let targets = if rng.chance(70) {
        let skus = (0..=rng.below(3)).map(|_| sku(rng.below(SKUS))).collect();
        RuleTargets {
            skus,
            categories: BTreeSet::new(),
        }
    } else {
        RuleTargets {
            skus: BTreeSet::new(),
            categories: [format!("cat-{:02}", rng.below(CATEGORIES))].into(),
        }
    };
    let dated = rng.chance(30);
    let from = start() + Duration::days(rng.below(30) as i64);
    let conditions = RuleConditions {
        customer_segments: some(rng, 30, &SEGMENTS),
        channels: some(rng, 30, &CHANNELS),
        regions: some(rng, 30, &REGIONS),
        currency: rng.chance(20).then_some(Currency::USD),
        valid_from: dated.then_some(from),
        valid_until: dated.then_some(from + Duration::days(14)),
        min_quantity: rng.chance(20).then(|| 1 + rng.below(5) as u32),
    };
    let action = match rng.below(3) {
        0 => RuleAction::SetPrice {
            price: Money::new(500 + rng.below(10_000) as i64, Currency::USD),
        },
        1 => RuleAction::PercentOff {
            percent: Percent::from_basis_points(100 + rng.below(3_000) as u32).expect("≤ 100 %"),
        },
        _ => RuleAction::AmountOff {
            amount: Money::new(50 + rng.below(500) as i64, Currency::USD),
        },
    };
    PriceRuleSpec {
        rule_id: Uuid::from_u128(rng.next() as u128),
        created_at: start() - Duration::minutes(n as i64),
        definition: PriceRuleDefinition {
            name: format!("rule {n}"),
            targets,
            priority: rng.below(10) as i32,
            conditions,
            action,
            exclusive: rng.chance(5),
        },
    }
}

fn context(rng: &mut Seeded) -> PricingContext {
    let n = rng.below(SKUS);
    PricingContext {
        sku: sku(n),
        categories: vec![category_of(n, 0), category_of(n, 1)],
        quantity: 1 + rng.below(6) as u32,
        currency: Currency::USD,
        customer_segments: if rng.chance(50) {
            vec![rng.pick(&SEGMENTS).to_owned()]
        } else {
            vec![]
        },
        channel: Some(rng.pick(&CHANNELS).to_owned()),
        region: Some(rng.pick(&REGIONS).to_owned()),
        at: start() + Duration::hours(rng.below(24 * 40) as i64),
    }
}

/// The baseline: every rule of the book, in precedence order, checked for its targets first.
/// Same stacking as the evaluator (first setPrice, then discounts, exclusive stops).
fn linear_scan(rules: &[PriceRuleSpec], base: Money, ctx: &PricingContext) -> Money {
    let targets = |r: &PriceRuleSpec| {
        r.definition.targets.skus.contains(&ctx.sku)
            || ctx
                .categories
                .iter()
                .any(|c| r.definition.targets.categories.contains(c))
    };
    let by_sku = rules
        .iter()
        .filter(|r| r.definition.targets.skus.contains(&ctx.sku));
    let by_category = rules
        .iter()
        .filter(|r| !r.definition.targets.skus.contains(&ctx.sku) && targets(r));
    let mut applying = Vec::new();
    for rule in by_sku.chain(by_category) {
        if rule.definition.check(ctx).is_ok() {
            applying.push(rule);
            if rule.definition.exclusive {
                break;
            }
        }
    }
    let mut price = applying
        .iter()
        .find_map(|r| match r.definition.action {
            RuleAction::SetPrice { price } => Some(price),
            _ => None,
        })
        .unwrap_or(base);
    for rule in applying {
        price = match rule.definition.action {
            RuleAction::SetPrice { .. } => continue,
            RuleAction::PercentOff { percent } => price
                .less_percent(percent, Default::default())
                .unwrap_or(price),
            RuleAction::AmountOff { amount } => price.checked_sub(amount).unwrap_or(price),
        }
        .clamp_at_zero();
    }
    price
}

fn bench(c: &mut Criterion) {
    let mut rng = Seeded(0x5EED);
    let evaluator = PriceRuleEvaluator::new((0..RULES).map(|n| rule(n, &mut rng)));
    let contexts: Vec<PricingContext> = (0..CONTEXTS).map(|_| context(&mut rng)).collect();
    let base = Money::new(9_999, Currency::USD);

    let mut candidates = 0;
    for ctx in &contexts {
        let quote = evaluator.evaluate(base, ctx).expect("same currency");
        assert_eq!(
            linear_scan(evaluator.rules(), base, ctx),
            quote.unit_price,
            "baseline must agree"
        );
        candidates += quote.explanation.len();
    }
    println!(
        "book: {} rules; {:.1} candidate rules per evaluation on average",
        evaluator.rules().len(),
        candidates as f64 / CONTEXTS as f64
    );

    let mut group = c.benchmark_group("price_rules_1000");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("indexed_evaluate_with_explanation", |b| {
        b.iter(|| {
            i = (i + 1) % CONTEXTS;
            black_box(evaluator.evaluate(base, black_box(&contexts[i])))
        })
    });
    group.bench_function("indexed_price_only", |b| {
        b.iter(|| {
            i = (i + 1) % CONTEXTS;
            black_box(evaluator.price(base, black_box(&contexts[i])))
        })
    });
    group.bench_function("baseline_linear_scan", |b| {
        b.iter(|| {
            i = (i + 1) % CONTEXTS;
            black_box(linear_scan(
                evaluator.rules(),
                base,
                black_box(&contexts[i]),
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
