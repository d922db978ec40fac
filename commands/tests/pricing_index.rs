//! The pricing index against a real Postgres: a random history of price books, bulk and single
//! prices, rules, rates and catalog products (variants renamed and removed, categories
//! reassigned), written through the command pipelines while one index follows it in small
//! batches, must price every SKU exactly as the aggregates loaded from the store do — and so
//! must an index built afresh from the log afterwards (a restart). An event the index cannot
//! fold halts it at that event, and it keeps answering from what came before.

use std::collections::{BTreeMap, HashMap};

use chrono::{TimeZone, Utc};
use rand::{Rng as _, SeedableRng as _};
use shopcore_commands::grpc::catalog::{product_pipeline, product_snapshots};
use shopcore_commands::grpc::pricing::currency_rate::{
    currency_rate_pipeline, currency_rate_snapshots,
};
use shopcore_commands::grpc::pricing::price_book::{price_book_pipeline, price_book_snapshots};
use shopcore_commands::grpc::pricing::price_rule::{price_rule_pipeline, price_rule_snapshots};
use shopcore_commands::grpc::taxonomy::taxonomy_pipeline;
use shopcore_commands::metadata::CommandContext;
use shopcore_commands::pricing_query::PricingQueries;
use shopcore_domain::catalog::taxonomy::{TaxonomyCommand, TAXONOMY_ID};
use shopcore_domain::catalog::{Product, ProductCommand};
use shopcore_domain::money::{Currency, Money, Percent, Rate};
use shopcore_domain::pricing::{
    quote_price, CurrencyRate, CurrencyRateCommand, FxRates, PriceBook, PriceBookCommand,
    PriceRule, PriceRuleCommand, PriceRuleDefinition, PriceRuleEvaluator, PricingContext,
    RuleAction, RuleConditions, RuleTargets,
};
use shopcore_event_store::testing::{insert_raw_event, settled_head, TestEventStore};
use shopcore_event_store::{EventStore, GlobalLog};
use uuid::Uuid;

const SKUS: u32 = 16;
const CATEGORIES: &[&str] = &["a", "b", "c"];

fn sku(n: u32) -> String {
    format!("SKU-{n:02}")
}

fn context() -> CommandContext {
    CommandContext::new("test.pricing_index", "pricing-index-test")
}

fn seed() -> u64 {
    std::env::var("PRICING_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random())
}

/// Ids of what the history made.
#[derive(Default)]
struct Made {
    books: Vec<Uuid>,
    rules: Vec<Uuid>,
    products: Vec<Uuid>,
}

/// One random, domain-valid step of history. Rejections (a SKU taken, a rule already gone)
/// are part of the game and ignored.
async fn step(
    store: &EventStore,
    rng: &mut rand::rngs::StdRng,
    made: &mut Made,
) -> anyhow::Result<()> {
    let now = Utc
        .with_ymd_and_hms(2026, 12, 1, 9, 0, 0)
        .single()
        .unwrap_or_default();
    let currency = if rng.random_bool(0.7) {
        Currency::EUR
    } else {
        Currency::USD
    };
    let outcome = match rng.random_range(0..10) {
        0 if made.books.len() < 2 || rng.random_bool(0.1) => {
            let id = Uuid::now_v7();
            made.books.push(id);
            price_book_pipeline(store.clone())
                .execute(
                    &id.to_string(),
                    PriceBookCommand::CreatePriceBook {
                        price_book_id: id,
                        name: format!("Book {}", made.books.len()),
                        default_currency: currency,
                    },
                    &context(),
                )
                .await
                .map(|_| ())
        }
        0..=2 if !made.books.is_empty() => {
            let book = made.books[rng.random_range(0..made.books.len())];
            let command = if rng.random_bool(0.3) {
                PriceBookCommand::SetBasePrices {
                    prices: (0..rng.random_range(1..6))
                        .map(|_| {
                            (
                                sku(rng.random_range(0..SKUS)),
                                Money::new(rng.random_range(100..50_000), currency),
                            )
                        })
                        .collect(),
                }
            } else if rng.random_bool(0.15) {
                PriceBookCommand::RemoveBasePrice {
                    sku: sku(rng.random_range(0..SKUS)),
                    currency,
                }
            } else {
                PriceBookCommand::SetBasePrice {
                    sku: sku(rng.random_range(0..SKUS)),
                    price: Money::new(rng.random_range(100..50_000), currency),
                }
            };
            price_book_pipeline(store.clone())
                .execute(&book.to_string(), command, &context())
                .await
                .map(|_| ())
        }
        3..=5 => {
            let reuse = !made.rules.is_empty() && rng.random_bool(0.4);
            let id = if reuse {
                made.rules[rng.random_range(0..made.rules.len())]
            } else {
                Uuid::now_v7()
            };
            if !reuse {
                made.rules.push(id);
            }
            let command = if reuse && rng.random_bool(0.3) {
                PriceRuleCommand::RemovePriceRule { now }
            } else {
                let mut targets = RuleTargets::default();
                if rng.random_bool(0.6) {
                    targets.skus.insert(sku(rng.random_range(0..SKUS)));
                } else {
                    targets
                        .categories
                        .insert(CATEGORIES[rng.random_range(0..CATEGORIES.len())].to_owned());
                }
                let mut conditions = RuleConditions::default();
                if rng.random_bool(0.3) {
                    conditions.customer_segments.insert("VIP".into());
                }
                if rng.random_bool(0.3) {
                    conditions.regions.insert("EU".into());
                }
                if rng.random_bool(0.2) {
                    conditions.min_quantity = Some(3);
                }
                let action = match rng.random_range(0..3) {
                    0 => RuleAction::SetPrice {
                        price: Money::new(rng.random_range(50..20_000), currency),
                    },
                    1 => RuleAction::AmountOff {
                        amount: Money::new(rng.random_range(1..500), currency),
                    },
                    _ => RuleAction::PercentOff {
                        percent: Percent::from_basis_points(rng.random_range(1..5_000))?,
                    },
                };
                PriceRuleCommand::UpsertPriceRule {
                    rule_id: id,
                    definition: PriceRuleDefinition {
                        name: format!("rule {id}"),
                        targets,
                        priority: rng.random_range(-2..3),
                        conditions,
                        action,
                        exclusive: rng.random_bool(0.15),
                    },
                    now,
                }
            };
            price_rule_pipeline(store.clone())
                .execute(&id.to_string(), command, &context())
                .await
                .map(|_| ())
        }
        6 => {
            let rate = Rate::parse(&format!("1.{:04}", rng.random_range(0..9_999)))?;
            let id = CurrencyRate::aggregate_id(Currency::EUR, Currency::USD);
            currency_rate_pipeline(store.clone())
                .execute(
                    &id,
                    CurrencyRateCommand::SetFxRate {
                        base: Currency::EUR,
                        quote: Currency::USD,
                        rate,
                        source: "test".into(),
                        now: Utc::now(),
                    },
                    &context(),
                )
                .await
                .map(|_| ())
        }
        _ => {
            let products = product_pipeline(store.clone());
            let categories = |rng: &mut rand::rngs::StdRng| {
                CATEGORIES
                    .iter()
                    .filter(|_| rng.random_bool(0.5))
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
            };
            if made.products.is_empty() || rng.random_bool(0.3) {
                let id = Uuid::now_v7();
                made.products.push(id);
                products
                    .execute(
                        &id.to_string(),
                        ProductCommand::CreateProduct {
                            product_id: id,
                            name: "Product".into(),
                            description: String::new(),
                            brand: None,
                            attributes: Default::default(),
                            categories: categories(rng),
                            now,
                        },
                        &context(),
                    )
                    .await
                    .map(|_| ())
            } else {
                let id = made.products[rng.random_range(0..made.products.len())];
                let product: Product = store
                    .load(&product_snapshots(), &id.to_string())
                    .await?
                    .aggregate;
                let variant = product.variants.keys().next().copied();
                let command = match (rng.random_range(0..4), variant) {
                    (0, _) => ProductCommand::AssignCategories {
                        categories: categories(rng),
                    },
                    (1, Some(variant_id)) => ProductCommand::UpdateVariant {
                        variant_id,
                        sku: Some(sku(rng.random_range(0..SKUS))),
                        attributes: None,
                    },
                    (2, Some(variant_id)) => ProductCommand::RemoveVariant { variant_id },
                    _ => ProductCommand::AddVariant {
                        variant_id: Uuid::now_v7(),
                        sku: sku(rng.random_range(0..SKUS)),
                        attributes: Default::default(),
                    },
                };
                products
                    .execute(&id.to_string(), command, &context())
                    .await
                    .map(|_| ())
            }
        }
    };
    match outcome {
        Ok(()) => Ok(()),
        Err(shopcore_commands::error::CommandError::Rejected { .. })
        | Err(shopcore_commands::error::CommandError::UniqueViolation { .. }) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// Every SKU priced from the aggregates as the store has them: (book, result) per context.
type Prices = BTreeMap<String, Option<(Uuid, Result<(Money, Vec<Uuid>), String>)>>;

fn contexts() -> Vec<PricingContext> {
    let at = Utc
        .with_ymd_and_hms(2026, 12, 1, 12, 0, 0)
        .single()
        .unwrap_or_default();
    let mut all = Vec::new();
    for n in 0..SKUS {
        for currency in [Currency::EUR, Currency::USD] {
            for (segments, region, quantity) in [
                (vec![], None, 1),
                (vec!["VIP".to_owned()], Some("EU".to_owned()), 3),
            ] {
                all.push(PricingContext {
                    sku: sku(n),
                    categories: Vec::new(),
                    quantity,
                    currency,
                    customer_segments: segments.clone(),
                    channel: None,
                    region,
                    at,
                });
            }
        }
    }
    all
}

fn key(ctx: &PricingContext) -> String {
    format!(
        "{} {} {:?} {:?} {}",
        ctx.sku, ctx.currency, ctx.customer_segments, ctx.region, ctx.quantity
    )
}

async fn reference(store: &EventStore, made: &Made) -> anyhow::Result<Prices> {
    let mut books = Vec::new();
    for id in &made.books {
        books.push((
            *id,
            store
                .load::<PriceBook>(&price_book_snapshots(), &id.to_string())
                .await?
                .aggregate,
        ));
    }
    let mut specs = Vec::new();
    for id in &made.rules {
        let rule: PriceRule = store
            .load(&price_rule_snapshots(), &id.to_string())
            .await?
            .aggregate;
        specs.extend(rule.spec());
    }
    let evaluator = PriceRuleEvaluator::new(specs);
    let mut categories: HashMap<String, Vec<String>> = HashMap::new();
    for id in &made.products {
        let product: Product = store
            .load(&product_snapshots(), &id.to_string())
            .await?
            .aggregate;
        for variant in product.variants.values() {
            categories.insert(variant.sku.clone(), product.categories.clone());
        }
    }
    let pair: CurrencyRate = store
        .load(
            &currency_rate_snapshots(),
            &CurrencyRate::aggregate_id(Currency::EUR, Currency::USD),
        )
        .await?
        .aggregate;
    let mut rates = FxRates::with_base(Currency::EUR);
    if let (Some(rate), Some(at)) = (pair.rate, pair.changed_at) {
        rates.insert_at(rate, at);
    }
    let mut prices = Prices::new();
    for mut ctx in contexts() {
        ctx.categories = categories.get(&ctx.sku).cloned().unwrap_or_default();
        let answer = books
            .iter()
            .find(|(_, b)| b.prices.contains_key(&ctx.sku))
            .map(|(id, book)| {
                let quote = quote_price(book, &rates, &evaluator, &ctx)
                    .map(|q| (q.quote.unit_price, q.quote.applied_rules()))
                    .map_err(|e| e.to_string());
                (*id, quote)
            });
        prices.insert(key(&ctx), answer);
    }
    Ok(prices)
}

fn indexed(index: &PricingQueries) -> Prices {
    index.index().read(|state| {
        contexts()
            .into_iter()
            .map(|mut ctx| {
                ctx.categories = state.categories(&ctx.sku).to_vec();
                let answer = state.quote(None, &ctx).map(|(id, quote)| {
                    (
                        id,
                        quote
                            .map(|q| (q.quote.unit_price, q.quote.applied_rules()))
                            .map_err(|e| e.to_string()),
                    )
                });
                (key(&ctx), answer)
            })
            .collect()
    })
}

async fn catch_up(index: &PricingQueries, log: &GlobalLog) -> anyhow::Result<()> {
    let head = settled_head(log).await?;
    while index.index().progress().position < head {
        index.step().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_prices_as_the_aggregates_do_live_and_after_a_restart() -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let store = db.store.clone();
    let log = GlobalLog::new(store.pool().clone());
    for key in CATEGORIES {
        taxonomy_pipeline(store.clone())
            .execute(
                TAXONOMY_ID,
                TaxonomyCommand::CreateCategory {
                    key: (*key).into(),
                    name: key.to_uppercase(),
                    parent: None,
                    position: 0,
                },
                &context(),
            )
            .await?;
    }
    let seed = seed();
    println!("PRICING_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut made = Made::default();
    // Follows the log in batches of 3 while it is written.
    let live = PricingQueries::new(log.clone(), 3, Some(Currency::EUR));
    let mut priced = 0;
    for round in 0..8 {
        for _ in 0..40 {
            step(&store, &mut rng, &mut made).await?;
            if rng.random_bool(0.2) {
                live.step().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            }
        }
        catch_up(&live, &log).await?;
        let expected = reference(&store, &made).await?;
        assert_eq!(
            indexed(&live),
            expected,
            "round {round}, PRICING_SEED={seed}"
        );
        priced += expected
            .values()
            .filter(|a| matches!(a, Some((_, Ok(_)))))
            .count();
    }
    assert!(
        priced > 100,
        "the history priced too little to tell ({priced}); PRICING_SEED={seed}"
    );

    // A restart: a new index folds the whole log and answers the same.
    let fresh = PricingQueries::new(log.clone(), 1_000, Some(Currency::EUR));
    catch_up(&fresh, &log).await?;
    assert_eq!(indexed(&fresh), indexed(&live), "PRICING_SEED={seed}");

    // A rule event the index cannot fold halts it at that event; answers stay as they were.
    let rule = made.rules[0];
    let version = store
        .load::<PriceRule>(&price_rule_snapshots(), &rule.to_string())
        .await?
        .version;
    let before = indexed(&live);
    let (poison, _) = insert_raw_event(
        store.pool(),
        "price_rule",
        &rule.to_string(),
        i64::try_from(version + 1)?,
        "PriceRuleUpdated",
        serde_json::json!({"PriceRuleUpdated": {"definition": "not a definition"}}),
    )
    .await?;
    settled_head(&log).await?;
    let failure = loop {
        match live.step().await {
            Ok(step) if step.events == 0 && !step.held_back => {
                anyhow::bail!("the poison event was applied")
            }
            Ok(_) => continue,
            Err(failure) => break failure,
        }
    };
    assert_eq!(failure.event.map(|e| e.log_position()), Some(poison));
    assert!(live.index().progress().position < poison);
    assert_eq!(
        indexed(&live),
        before,
        "answers from the state before the poison event"
    );
    db.drop_database().await
}
