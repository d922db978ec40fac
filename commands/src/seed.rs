//! Seed data: customers with segments (the plan's "1k customers with segmentation (VIP,
//! general)"). Ids and idempotency keys are derived from the customer's number, so seeding twice
//! writes nothing new. The catalog and pricing below, and carts in [`carts`].

use std::sync::Arc;

use futures::{stream, StreamExt as _, TryStreamExt as _};
use shopcore_domain::customer::CustomerCommand;
use shopcore_event_store::EventStore;
use uuid::Uuid;

use crate::error::CommandError;
use crate::grpc::customer::customer_pipeline;
use crate::metadata::CommandContext;

pub mod carts;

pub use carts::{seed_carts, CartSeed, CartSeedReport};

const SEED_NAMESPACE: Uuid = Uuid::from_u128(0x2d0c_51a5_4a3e_4f5b_8e77_a1c3_93f0_5eed);

/// What seeding wrote.
#[derive(Debug, Default, Clone, Copy)]
pub struct SeedReport {
    pub customers: usize,
    pub events_written: u64,
}

/// Registers `count` customers (every tenth `VIP`, the rest `general`), 8 commands at a time.
pub async fn seed_customers(store: &EventStore, count: usize) -> Result<SeedReport, CommandError> {
    let pipeline = Arc::new(customer_pipeline(store.clone()));
    let written: Vec<u64> = stream::iter(0..count)
        .map(|n| {
            let pipeline = pipeline.clone();
            async move {
                let id = Uuid::new_v5(&SEED_NAMESPACE, format!("customer-{n}").as_bytes());
                let mut context = CommandContext::new("customer.register", format!("seed-{n}"));
                context.actor = "seed".to_owned();
                context.idempotency_key = Some(format!("seed-customer-{n}"));
                let registered = pipeline
                    .execute(
                        &id.to_string(),
                        CustomerCommand::Register {
                            customer_id: id,
                            email: format!("seed.customer{n}@example.com"),
                            first_name: "Seed".to_owned(),
                            last_name: format!("Customer {n}"),
                            phone: None,
                        },
                        &context,
                    )
                    .await?;
                let mut context =
                    CommandContext::new("customer.assign_segments", format!("seed-{n}"));
                context.actor = "seed".to_owned();
                let segment = if n % 10 == 0 { "VIP" } else { "general" };
                let segmented = pipeline
                    .execute(
                        &id.to_string(),
                        CustomerCommand::AssignSegments {
                            segments: vec![segment.to_owned()],
                        },
                        &context,
                    )
                    .await?;
                Ok::<_, CommandError>(u64::from(
                    registered.events_written + segmented.events_written,
                ))
            }
        })
        .buffer_unordered(8)
        .try_collect()
        .await?;
    Ok(SeedReport {
        customers: count,
        events_written: written.iter().sum(),
    })
}

/// The sample category tree: `(key, name, parent)`, parents first.
pub const SAMPLE_CATEGORIES: &[(&str, &str, Option<&str>)] = &[
    ("apparel", "Apparel", None),
    ("tops", "Tops", Some("apparel")),
    ("bottoms", "Bottoms", Some("apparel")),
    ("outerwear", "Outerwear", Some("apparel")),
    ("footwear", "Footwear", None),
    ("running", "Running shoes", Some("footwear")),
    ("trail", "Trail shoes", Some("footwear")),
    ("boots", "Boots", Some("footwear")),
    ("accessories", "Accessories", None),
    ("bags", "Bags", Some("accessories")),
    ("hats", "Hats", Some("accessories")),
];

/// What catalog seeding wrote.
#[derive(Debug, Default, Clone, Copy)]
pub struct CatalogSeedReport {
    pub categories: usize,
    pub products: usize,
    pub events_written: u64,
}

/// A seed command's context: its idempotency key names the step, and since a seed step is
/// the same request every time (only its clock differs), the key is its fingerprint too.
fn seed_context(command_type: &'static str, key: String) -> CommandContext {
    let mut context = CommandContext::new(command_type, key.clone());
    context.actor = "seed".to_owned();
    context.request_fingerprint = Some(key.clone().into_bytes());
    context.idempotency_key = Some(key);
    context
}

/// Creates the sample category tree, then `count` products with 2 to 4 variants each,
/// attributes of every type, a leaf category, most of them published and a few discontinued —
/// all through the command pipelines, 8 products at a time. Ids, SKUs and idempotency keys
/// derive from the product's number, so seeding twice writes nothing new.
pub async fn seed_catalog(
    store: &EventStore,
    count: usize,
) -> Result<CatalogSeedReport, CommandError> {
    use shopcore_domain::catalog::taxonomy::{TaxonomyCommand, TAXONOMY_ID};
    use shopcore_domain::catalog::{AttributeValue, Attributes, ProductCommand};
    use shopcore_domain::money::{Currency, Money};

    let tree = crate::grpc::taxonomy::taxonomy_pipeline(store.clone());
    let mut events_written = 0;
    for (key, name, parent) in SAMPLE_CATEGORIES {
        let outcome = tree
            .execute(
                TAXONOMY_ID,
                TaxonomyCommand::CreateCategory {
                    key: (*key).to_owned(),
                    name: (*name).to_owned(),
                    parent: parent.map(str::to_owned),
                    position: 0,
                },
                &seed_context("category.create", format!("seed-category-{key}")),
            )
            .await?;
        events_written += u64::from(outcome.events_written);
    }

    let leaves: Vec<&str> = SAMPLE_CATEGORIES
        .iter()
        .filter(|(key, _, _)| !SAMPLE_CATEGORIES.iter().any(|(_, _, p)| p == &Some(*key)))
        .map(|(key, _, _)| *key)
        .collect();
    const BRANDS: &[&str] = &["Acme", "Northwind", "Fjell", "Lumen", "Kestrel"];
    const ADJECTIVES: &[&str] = &["Light", "Classic", "Storm", "Urban", "Alpine", "Café"];
    const MATERIALS: &[&str] = &["cotton", "merino wool", "recycled polyester", "leather"];
    const SIZES: &[&str] = &["S", "M", "L", "XL"];
    let pipeline = Arc::new(crate::grpc::catalog::product_pipeline(store.clone()));
    let written: Vec<u64> = stream::iter(0..count)
        .map(|n| {
            let pipeline = pipeline.clone();
            let category = leaves[n % leaves.len()].to_owned();
            async move {
                let id = Uuid::new_v5(&SEED_NAMESPACE, format!("product-{n}").as_bytes());
                let aggregate = id.to_string();
                let mut written = 0u64;
                let step = |step: &str, command_type: &'static str| {
                    seed_context(command_type, format!("seed-product-{n}-{step}"))
                };
                let attributes: Attributes = [
                    (
                        "material".to_owned(),
                        AttributeValue::Text(MATERIALS[n % MATERIALS.len()].to_owned()),
                    ),
                    (
                        "weight_grams".to_owned(),
                        AttributeValue::Integer(150 + (n as i64 * 37) % 900),
                    ),
                    ("waterproof".to_owned(), AttributeValue::Boolean(n % 3 == 0)),
                    (
                        "deposit".to_owned(),
                        AttributeValue::Money(Money::new(250, Currency::EUR)),
                    ),
                    (
                        "care".to_owned(),
                        AttributeValue::TextList(vec!["wash at 30 °C".into(), "no dryer".into()]),
                    ),
                ]
                .into_iter()
                .collect();
                let context = step("create", "product.create");
                let outcome = pipeline
                    .execute(
                        &aggregate,
                        ProductCommand::CreateProduct {
                            product_id: id,
                            name: format!(
                                "{} {} {}",
                                ADJECTIVES[n % ADJECTIVES.len()],
                                category.replace('-', " "),
                                n
                            ),
                            description: format!(
                                "Seed product {n}.\nMade of {}.",
                                MATERIALS[n % MATERIALS.len()]
                            ),
                            brand: Some(BRANDS[n % BRANDS.len()].to_owned()),
                            attributes,
                            categories: vec![category.clone()],
                            now: chrono::Utc::now(),
                        },
                        &context,
                    )
                    .await?;
                written += u64::from(outcome.events_written);
                for size in &SIZES[..2 + n % 3] {
                    let context = step(&format!("variant-{size}"), "product.add_variant");
                    let outcome = pipeline
                        .execute(
                            &aggregate,
                            ProductCommand::AddVariant {
                                variant_id: Uuid::new_v5(&id, size.as_bytes()),
                                sku: format!("SC-{n:05}-{size}"),
                                attributes: [(
                                    "size".to_owned(),
                                    AttributeValue::Text((*size).to_owned()),
                                )]
                                .into_iter()
                                .collect(),
                            },
                            &context,
                        )
                        .await?;
                    written += u64::from(outcome.events_written);
                }
                let lifecycle = match n % 10 {
                    0..=7 => Some(("publish", "product.publish")),
                    _ if n % 30 == 9 => Some(("discontinue", "product.discontinue")),
                    _ => None,
                };
                if let Some((name, command_type)) = lifecycle {
                    let context = step(name, command_type);
                    let now = chrono::Utc::now();
                    let command = if name == "publish" {
                        ProductCommand::PublishProduct { now }
                    } else {
                        ProductCommand::DiscontinueProduct { now }
                    };
                    let outcome = pipeline.execute(&aggregate, command, &context).await?;
                    written += u64::from(outcome.events_written);
                }
                Ok::<_, CommandError>(written)
            }
        })
        .buffer_unordered(8)
        .try_collect()
        .await?;
    Ok(CatalogSeedReport {
        categories: SAMPLE_CATEGORIES.len(),
        products: count,
        events_written: events_written + written.iter().sum::<u64>(),
    })
}

/// A seed constant the domain refused (a defect of the seed data).
fn seed_value(error: impl std::fmt::Display) -> CommandError {
    CommandError::Rejected {
        kind: shopcore_domain::error_kind::DomainErrorKind::InvalidArgument,
        field: None,
        message: format!("seed data refused: {error}"),
        detail: None,
    }
}

/// What pricing seeding wrote.
#[derive(Debug, Default, Clone, Copy)]
pub struct PricingSeedReport {
    pub books: usize,
    pub prices: usize,
    pub rules: usize,
    pub rates: usize,
    pub promotions: usize,
    pub events_written: u64,
}

/// The SKUs [`seed_catalog`] gives product `n` (2 to 4 sizes).
pub fn sample_skus(n: usize) -> Vec<String> {
    ["S", "M", "L", "XL"][..2 + n % 3]
        .iter()
        .map(|size| format!("SC-{n:05}-{size}"))
        .collect()
}

/// The regions, channels and segments seeded rules condition on.
pub const SAMPLE_REGIONS: &[&str] = &["EU", "US", "UK"];
pub const SAMPLE_CHANNELS: &[&str] = &["web", "app", "store"];

/// The id of seeded price book `name` (`retail`, `outlet`).
pub fn sample_book_id(name: &str) -> Uuid {
    Uuid::new_v5(&SEED_NAMESPACE, format!("price-book-{name}").as_bytes())
}

/// Prices for the SKUs of `products` seeded products, exchange rates and `rules` price rules,
/// through the command pipelines:
///
/// - book **Retail** (default EUR): every SKU in EUR (from 19.90 to 219.90 by product), every
///   fifth also listed in USD; book **Outlet** (default USD): the first tenth of the products at
///   a lower USD price. Imports go 1 000 prices per command (`SetBasePrices`).
/// - rates EUR→USD, EUR→GBP, EUR→JPY, EUR→CHF (source `seed`; the FX sync replaces them).
/// - rules, for the key SKUs (every product's `M` size, cycling): per region and channel a
///   percentage off; every fourth for the `VIP` segment; every seventh a tier from 3 pieces;
///   every tenth a fixed EUR price; every twentieth targets a category instead, exclusive.
///
/// Ids and idempotency keys derive from the numbers, so seeding twice writes nothing new.
pub async fn seed_pricing(
    store: &EventStore,
    products: usize,
    rules: usize,
) -> Result<PricingSeedReport, CommandError> {
    use shopcore_domain::money::{Currency, Money, Percent, Rate};
    use shopcore_domain::pricing::{
        CurrencyRateCommand, PriceBookCommand, PriceRuleCommand, PriceRuleDefinition, RuleAction,
        RuleConditions, RuleTargets, MAX_PRICES_PER_COMMAND,
    };

    let mut report = PricingSeedReport::default();
    let books = crate::grpc::pricing::price_book::price_book_pipeline(store.clone());
    let mut retail = Vec::new();
    let mut outlet = Vec::new();
    for n in 0..products {
        let eur = 1_990 + (n as i64 % 21) * 1_000;
        for sku in sample_skus(n) {
            retail.push((sku.clone(), Money::new(eur, Currency::EUR)));
            if n % 5 == 0 {
                retail.push((sku.clone(), Money::new(eur * 11 / 10, Currency::USD)));
            }
            if n < products / 10 {
                outlet.push((sku, Money::new(eur * 8 / 10, Currency::USD)));
            }
        }
    }
    for (name, label, currency, prices) in [
        ("retail", "Retail", Currency::EUR, retail),
        ("outlet", "Outlet", Currency::USD, outlet),
    ] {
        let id = sample_book_id(name);
        let outcome = books
            .execute(
                &id.to_string(),
                PriceBookCommand::CreatePriceBook {
                    price_book_id: id,
                    name: label.to_owned(),
                    default_currency: currency,
                },
                &seed_context("price_book.create", format!("seed-price-book-{name}")),
            )
            .await;
        match outcome {
            Ok(outcome) => report.events_written += u64::from(outcome.events_written),
            // Seeded before: the book is there.
            Err(CommandError::Rejected { .. }) => {}
            Err(error) => return Err(error),
        }
        report.books += 1;
        report.prices += prices.len();
        for (part, chunk) in prices.chunks(MAX_PRICES_PER_COMMAND).enumerate() {
            let outcome = books
                .execute(
                    &id.to_string(),
                    PriceBookCommand::SetBasePrices {
                        prices: chunk.to_vec(),
                    },
                    &seed_context(
                        "price_book.set_base_prices",
                        format!("seed-price-book-{name}-prices-{part}-{}", chunk.len()),
                    ),
                )
                .await?;
            report.events_written += u64::from(outcome.events_written);
        }
    }

    let rates = crate::grpc::pricing::currency_rate::currency_rate_pipeline(store.clone());
    for (quote, rate) in [
        (Currency::USD, "1.0842"),
        (Currency::GBP, "0.8351"),
        (Currency::JPY, "163.12"),
        (Currency::CHF, "0.9312"),
    ] {
        let rate = Rate::parse(rate).map_err(seed_value)?;
        let id = shopcore_domain::pricing::CurrencyRate::aggregate_id(Currency::EUR, quote);
        let outcome = rates
            .execute(
                &id,
                CurrencyRateCommand::SetFxRate {
                    base: Currency::EUR,
                    quote,
                    rate,
                    source: "seed".to_owned(),
                    now: chrono::Utc::now(),
                },
                &seed_context("currency_rate.set", format!("seed-rate-{id}")),
            )
            .await?;
        report.events_written += u64::from(outcome.events_written);
        report.rates += 1;
    }

    let leaves: Vec<&str> = SAMPLE_CATEGORIES
        .iter()
        .filter(|(key, _, _)| !SAMPLE_CATEGORIES.iter().any(|(_, _, p)| p == &Some(*key)))
        .map(|(key, _, _)| *key)
        .collect();
    let pipeline = Arc::new(crate::grpc::pricing::price_rule::price_rule_pipeline(
        store.clone(),
    ));
    let products = products.max(1);
    let written: Vec<u64> = stream::iter(0..rules)
        .map(|n| {
            let pipeline = pipeline.clone();
            let category = leaves[n % leaves.len()].to_owned();
            async move {
                let rule_id = Uuid::new_v5(&SEED_NAMESPACE, format!("price-rule-{n}").as_bytes());
                let region = SAMPLE_REGIONS[n % SAMPLE_REGIONS.len()];
                let channel = SAMPLE_CHANNELS[(n / SAMPLE_REGIONS.len()) % SAMPLE_CHANNELS.len()];
                let key_sku = format!("SC-{:05}-M", (n * 7) % products);
                let mut targets = RuleTargets::default();
                let mut conditions = RuleConditions {
                    regions: [region.to_owned()].into(),
                    channels: [channel.to_owned()].into(),
                    ..RuleConditions::default()
                };
                let percent =
                    Percent::from_basis_points(500 + (n as u32 % 6) * 500).map_err(seed_value)?;
                let mut action = RuleAction::PercentOff { percent };
                let mut exclusive = false;
                let kind;
                if n % 20 == 19 {
                    targets.categories.insert(category.clone());
                    exclusive = true;
                    kind = format!("{category} in {region}");
                } else {
                    targets.skus.insert(key_sku.clone());
                    kind = format!("{key_sku} {region}/{channel}");
                }
                if n % 4 == 3 {
                    conditions.customer_segments.insert("VIP".to_owned());
                }
                if n % 7 == 6 {
                    conditions.min_quantity = Some(3);
                }
                if n % 10 == 9 && n % 20 != 19 {
                    action = RuleAction::SetPrice {
                        price: Money::new(990 + (n as i64 % 10) * 100, Currency::EUR),
                    };
                }
                let definition = PriceRuleDefinition {
                    name: format!("Seed rule {n}: {kind}"),
                    targets,
                    priority: (n % 5) as i32,
                    conditions,
                    action,
                    exclusive,
                };
                let outcome = pipeline
                    .execute(
                        &rule_id.to_string(),
                        PriceRuleCommand::UpsertPriceRule {
                            rule_id,
                            definition,
                            now: chrono::Utc::now(),
                        },
                        &seed_context("price_rule.upsert", format!("seed-price-rule-{n}")),
                    )
                    .await?;
                Ok::<_, CommandError>(u64::from(outcome.events_written))
            }
        })
        .buffer_unordered(8)
        .try_collect()
        .await?;
    report.rules = rules;
    report.events_written += written.iter().sum::<u64>();
    let (promotions, events) = seed_promotions(store).await?;
    report.promotions = promotions;
    report.events_written += events;
    Ok(report)
}

/// The seeded promotions: `(name, discount, days from today to the start, days it runs,
/// coupon codes, total limit, per-customer limit, activation)`.
type SamplePromotion = (
    &'static str,
    fn() -> Result<shopcore_domain::pricing::Discount, CommandError>,
    i64,
    i64,
    &'static [&'static str],
    Option<u32>,
    Option<u32>,
    Activation,
);

/// How a seeded promotion is switched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Activation {
    Now,
    AtStart,
    Never,
}

/// A few promotions: a welcome coupon (one use per customer), a VIP coupon limited to 500
/// uses, a fixed-amount winter coupon that starts in a week and is activated by the scheduler
/// when it does, a code-less flash sale starting tomorrow (scheduled too) and an expired
/// campaign left inactive. Windows start at today's midnight (UTC) plus the offset, so a second
/// run on the same day asks for exactly the same and writes nothing.
async fn seed_promotions(store: &EventStore) -> Result<(usize, u64), CommandError> {
    use shopcore_domain::money::{Currency, Money, Percent};
    use shopcore_domain::pricing::{Discount, PromotionCommand};

    fn percent(bps: u32) -> Result<Discount, CommandError> {
        Ok(Discount::PercentOff {
            percent: Percent::from_basis_points(bps).map_err(seed_value)?,
        })
    }
    const PROMOTIONS: &[SamplePromotion] = &[
        (
            "Welcome 10 %",
            || percent(1_000),
            -1,
            365,
            &["WELCOME10"],
            None,
            Some(1),
            Activation::Now,
        ),
        (
            "VIP 20 %",
            || percent(2_000),
            -1,
            90,
            &["VIP20", "VIPWINTER"],
            Some(500),
            Some(2),
            Activation::Now,
        ),
        (
            "Winter 15 EUR off",
            || {
                Ok(Discount::AmountOff {
                    amount: Money::new(1_500, Currency::EUR),
                })
            },
            7,
            30,
            &["WINTER15"],
            Some(1_000),
            Some(1),
            Activation::AtStart,
        ),
        (
            "Flash sale 25 %",
            || percent(2_500),
            1,
            2,
            &[],
            None,
            None,
            Activation::AtStart,
        ),
        (
            "Autumn 5 % (ended)",
            || percent(500),
            -60,
            30,
            &["AUTUMN5"],
            None,
            None,
            Activation::Never,
        ),
    ];
    let pipeline = crate::grpc::pricing::promotion::promotion_pipeline(store.clone());
    let today = chrono::Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let mut written = 0;
    for (n, (name, discount, starts_in, runs, codes, total, per_customer, activation)) in
        PROMOTIONS.iter().enumerate()
    {
        let id = Uuid::new_v5(&SEED_NAMESPACE, format!("promotion-{n}").as_bytes());
        let valid_from = today + chrono::Duration::days(*starts_in);
        let day = today.format("%Y-%m-%d");
        let outcome = pipeline
            .execute(
                &id.to_string(),
                PromotionCommand::CreatePromotion {
                    promotion_id: id,
                    name: (*name).to_owned(),
                    discount: discount()?,
                    valid_from,
                    valid_until: valid_from + chrono::Duration::days(*runs),
                    usage_limit_total: *total,
                    usage_limit_per_customer: *per_customer,
                    coupon_codes: codes.iter().map(|c| (*c).to_owned()).collect(),
                    activate_at_start: *activation == Activation::AtStart,
                    now: chrono::Utc::now(),
                },
                &seed_context("promotion.create", format!("seed-promotion-{n}-{day}")),
            )
            .await;
        match outcome {
            Ok(outcome) => written += u64::from(outcome.events_written),
            // Seeded on an earlier day: the promotion is there.
            Err(CommandError::Rejected { .. }) => continue,
            Err(error) => return Err(error),
        }
        if *activation == Activation::Now {
            let outcome = pipeline
                .execute(
                    &id.to_string(),
                    PromotionCommand::ActivatePromotion {
                        now: chrono::Utc::now(),
                    },
                    &seed_context("promotion.activate", format!("seed-promotion-{n}-activate")),
                )
                .await?;
            written += u64::from(outcome.events_written);
        }
    }
    Ok((PROMOTIONS.len(), written))
}
