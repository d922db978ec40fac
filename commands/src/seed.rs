//! Seed data: customers with segments (the plan's "1k customers with segmentation (VIP,
//! general)"). Ids and idempotency keys are derived from the customer's number, so seeding twice
//! writes nothing new.

use std::sync::Arc;

use futures::{stream, StreamExt as _, TryStreamExt as _};
use shopcore_domain::customer::CustomerCommand;
use shopcore_event_store::EventStore;
use uuid::Uuid;

use crate::error::CommandError;
use crate::grpc::customer::customer_pipeline;
use crate::metadata::CommandContext;

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
