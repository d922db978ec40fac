//! The pricing projector against real Postgres and MariaDB: a history of price books, rules,
//! promotions and FX rates written through the command pipelines, projected by a projector
//! killed at random points, must leave every table equal to the aggregates folded from their
//! events; a rebuild from the start writes the same rows again.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use rand::{Rng as _, SeedableRng as _};
use shopcore_commands::grpc::pricing::currency_rate::{
    currency_rate_pipeline, currency_rate_snapshots,
};
use shopcore_commands::grpc::pricing::price_book::{price_book_pipeline, price_book_snapshots};
use shopcore_commands::grpc::pricing::price_rule::{price_rule_pipeline, price_rule_snapshots};
use shopcore_commands::grpc::pricing::promotion::{promotion_pipeline, promotion_snapshots};
use shopcore_commands::metadata::CommandContext;
use shopcore_domain::money::{Currency, Money, Percent, Rate};
use shopcore_domain::pricing::promotion_change::PromotionChanges;
use shopcore_domain::pricing::{
    CurrencyRate, CurrencyRateCommand, Discount, PriceBook, PriceBookCommand, PriceRule,
    PriceRuleCommand, PriceRuleDefinition, Promotion, PromotionCommand, RuleAction, RuleConditions,
    RuleTargets,
};
use shopcore_event_store::testing::{settled_head, TestEventStore};
use shopcore_event_store::{EventStore, GlobalLog};
use shopcore_projections::pricing::PricingMysqlProjector;
use shopcore_projections::runtime::{ProjectionRunner, Projector};
use shopcore_projections::stores::connect_mysql;
use sqlx::migrate::MigrateDatabase;
use sqlx::MySqlPool;
use uuid::Uuid;

mod common;
use common::run_with_crashes;

fn context() -> CommandContext {
    CommandContext::new("test.pricing", "pricing-mysql-test")
}

fn sku(n: u32) -> String {
    format!("SKU-{n:03}")
}

/// Writes a random but domain-valid pricing history; returns the aggregate ids.
async fn write_history(
    store: &EventStore,
    seed: u64,
) -> anyhow::Result<(Vec<Uuid>, Vec<Uuid>, Vec<Uuid>, Vec<String>)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let now = Utc
        .with_ymd_and_hms(2026, 12, 1, 9, 0, 0)
        .single()
        .expect("time");
    let books = price_book_pipeline(store.clone());
    let rules = price_rule_pipeline(store.clone());
    let promotions = promotion_pipeline(store.clone());
    let rates = currency_rate_pipeline(store.clone());
    let currencies = [Currency::EUR, Currency::USD];

    let mut book_ids = Vec::new();
    for n in 0..2 {
        let id = Uuid::now_v7();
        let create = PriceBookCommand::CreatePriceBook {
            price_book_id: id,
            name: format!("Book {n} — Ünïcode"),
            default_currency: Currency::EUR,
        };
        books.execute(&id.to_string(), create, &context()).await?;
        book_ids.push(id);
    }
    for _ in 0..80 {
        let book = book_ids[rng.random_range(0..book_ids.len())];
        let currency = currencies[rng.random_range(0..2)];
        let command = if rng.random_bool(0.8) {
            PriceBookCommand::SetBasePrice {
                sku: sku(rng.random_range(0..25)),
                price: Money::new(rng.random_range(1..100_000), currency),
            }
        } else {
            PriceBookCommand::RemoveBasePrice {
                sku: sku(rng.random_range(0..25)),
                currency,
            }
        };
        // Removing a price the book lacks is refused by the domain: that is fine here.
        let _ = books.execute(&book.to_string(), command, &context()).await;
    }

    let mut rule_ids = Vec::new();
    for n in 0..12u32 {
        let id = Uuid::now_v7();
        rule_ids.push(id);
        let definition = |priority: i32, targets: u32| PriceRuleDefinition {
            name: format!("Rule {n}"),
            targets: RuleTargets {
                skus: (0..targets).map(|t| sku(t * 3 + n)).collect(),
                categories: BTreeSet::from([format!("cat-{}", n % 3)]),
            },
            priority,
            conditions: RuleConditions {
                valid_from: Some(now),
                // Past 2038-01-19 too, where MariaDB's TIMESTAMP ends.
                valid_until: Some(now + Duration::days(if n % 2 == 0 { 30 } else { 30_000 })),
                ..RuleConditions::default()
            },
            action: RuleAction::PercentOff {
                percent: Percent::parse("12.5").expect("percent"),
            },
            exclusive: n % 4 == 0,
        };
        let upsert = |definition| PriceRuleCommand::UpsertPriceRule {
            rule_id: id,
            definition,
            now,
        };
        rules
            .execute(&id.to_string(), upsert(definition(n as i32, 2)), &context())
            .await?;
        if rng.random_bool(0.5) {
            rules
                .execute(
                    &id.to_string(),
                    upsert(definition(-(n as i32), 4)),
                    &context(),
                )
                .await?;
        }
        if rng.random_bool(0.3) {
            rules
                .execute(
                    &id.to_string(),
                    PriceRuleCommand::RemovePriceRule { now },
                    &context(),
                )
                .await?;
            if rng.random_bool(0.5) {
                rules
                    .execute(&id.to_string(), upsert(definition(7, 1)), &context())
                    .await?;
            }
        }
    }

    let mut promotion_ids = Vec::new();
    for n in 0..8u32 {
        let id = Uuid::now_v7();
        promotion_ids.push(id);
        let create = PromotionCommand::CreatePromotion {
            promotion_id: id,
            name: format!("Promo {n}"),
            discount: Discount::PercentOff {
                percent: Percent::parse("10").expect("percent"),
            },
            valid_from: now,
            valid_until: now + Duration::days(if n % 2 == 0 { 7 } else { 30_000 }),
            usage_limit_total: Some(100),
            usage_limit_per_customer: None,
            coupon_codes: vec![format!("promo-{n}"), format!("PROMO-{n}-B")],
            activate_at_start: rng.random_bool(0.3),
            now,
        };
        promotions
            .execute(&id.to_string(), create, &context())
            .await?;
        let mut later = vec![
            PromotionCommand::AddCouponCodes {
                codes: vec![format!("extra-{n}")],
            },
            PromotionCommand::SchedulePromotionActivation { now },
            // Moves the schedule with valid_from.
            PromotionCommand::ChangePromotion {
                changes: PromotionChanges {
                    valid_from: Some(now + Duration::hours(i64::from(n) + 1)),
                    ..PromotionChanges::default()
                },
                now,
            },
            PromotionCommand::ActivatePromotion { now },
            PromotionCommand::ChangePromotion {
                changes: PromotionChanges {
                    name: Some(format!("Promo {n} (changed)")),
                    usage_limit_total: Some(None),
                    discount: Some(Discount::AmountOff {
                        amount: Money::new(500, Currency::EUR),
                    }),
                    ..PromotionChanges::default()
                },
                now,
            },
            PromotionCommand::DeactivatePromotion { now },
            PromotionCommand::SchedulePromotionActivation { now },
        ];
        later.truncate(rng.random_range(0..=later.len()));
        for command in later {
            promotions
                .execute(&id.to_string(), command, &context())
                .await?;
        }
    }

    let mut pairs = Vec::new();
    for (base, quote, values) in [
        (
            Currency::EUR,
            Currency::USD,
            &["1.0842", "1.0911", "1.0842"][..],
        ),
        (Currency::GBP, Currency::EUR, &["1.1702"][..]),
    ] {
        let id = CurrencyRate::aggregate_id(base, quote);
        for rate in values {
            let command = CurrencyRateCommand::SetFxRate {
                base,
                quote,
                rate: Rate::parse(rate).expect("rate"),
                source: "ecb".into(),
                now,
            };
            rates.execute(&id, command, &context()).await?;
        }
        pairs.push(id);
    }
    Ok((book_ids, rule_ids, promotion_ids, pairs))
}

/// Every row of the pricing tables, as text, in a stable order.
async fn tables(mysql: &MySqlPool) -> anyhow::Result<Vec<String>> {
    let mut all = Vec::new();
    for (table, columns, order) in [
        ("price_books", "price_book_id, name, default_currency, created_at, updated_at", "price_book_id"),
        ("price_book_prices", "price_book_id, sku, currency, amount_minor, updated_at", "price_book_id, sku, currency"),
        ("price_rules", "rule_id, name, priority, exclusive, action_type, currency, valid_from, valid_until, definition, created_at, updated_at, removed_at", "rule_id"),
        ("price_rule_targets", "rule_id, kind, target", "rule_id, kind, target"),
        ("promotion_campaigns", "promotion_id, name, discount, valid_from, valid_until, usage_limit_total, usage_limit_per_customer, active, activation_scheduled_at, redemptions, created_at, updated_at", "promotion_id"),
        ("promotion_coupon_codes", "code, promotion_id", "code"),
        ("currency_rates", "base, quote, rate, previous_rate, source, changed_at", "base, quote"),
        ("pricing_versions", "aggregate_type, aggregate_id, version, last_tx_id, last_position", "aggregate_type, aggregate_id"),
    ] {
        let rows: Vec<(String,)> = sqlx::query_as(&format!(
            "SELECT CAST(CONCAT_WS('|', {}) AS CHAR CHARACTER SET utf8mb4) FROM {table} ORDER BY {order}",
            columns
                .split(", ")
                .map(|c| format!("IFNULL({c}, 'NULL')"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .fetch_all(mysql)
        .await?;
        all.push(format!("{table}: {}", rows.len()));
        all.extend(rows.into_iter().map(|(row,)| row));
    }
    Ok(all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_pricing_projector_ends_with_the_rows_of_the_events() -> anyhow::Result<()> {
    let seed: u64 = std::env::var("PRICING_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("PRICING_SEED={seed}");
    let db = TestEventStore::create().await?;
    let (books, rules, promotions, pairs) = write_history(&db.store, seed).await?;
    let log = GlobalLog::new(db.store.pool().clone());
    let head = settled_head(&log).await?;
    let mysql_url = format!(
        "{}/shopcore_test_{}",
        shopcore_event_store::testing::mysql_server_url(),
        Uuid::new_v4().simple()
    );
    let mysql = connect_mysql(&mysql_url).await?;
    let projector = Arc::new(PricingMysqlProjector::new(mysql.clone()));
    let runner = ProjectionRunner::new(log.clone(), projector.clone(), 9);
    let kills = run_with_crashes(runner.clone(), head).await?;
    assert!(kills > 1, "the projector was never stopped mid-stream");
    assert_eq!(projector.checkpoint().await?, head);

    // Price books and their prices equal the folded books.
    for id in &books {
        let book = db
            .store
            .load::<PriceBook>(&price_book_snapshots(), &id.to_string())
            .await?
            .aggregate;
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT CAST(sku AS CHAR CHARACTER SET utf8mb4), currency, amount_minor FROM price_book_prices
             WHERE price_book_id = ? ORDER BY sku, currency",
        )
        .bind(id.to_string())
        .fetch_all(&mysql)
        .await?;
        let expected: Vec<(String, String, i64)> = book
            .prices
            .iter()
            .flat_map(|(sku, by_currency)| {
                by_currency
                    .values()
                    .map(move |m| (sku.clone(), m.currency().code().to_owned(), m.amount()))
            })
            .collect();
        let mut expected = expected;
        expected.sort();
        assert_eq!(rows, expected, "prices of book {id}");
        let (name,): (String,) =
            sqlx::query_as("SELECT name FROM price_books WHERE price_book_id = ?")
                .bind(id.to_string())
                .fetch_one(&mysql)
                .await?;
        assert_eq!(name, book.name);
    }
    // Rules: live ones with their definition and targets, removed ones marked.
    for id in &rules {
        let rule = db
            .store
            .load::<PriceRule>(&price_rule_snapshots(), &id.to_string())
            .await?
            .aggregate;
        let (name, priority, removed, definition): (String, i32, bool, String) = sqlx::query_as(
            "SELECT name, priority, removed_at IS NOT NULL, definition FROM price_rules WHERE rule_id = ?",
        )
        .bind(id.to_string())
        .fetch_one(&mysql)
        .await?;
        let targets: Vec<(String, String)> = sqlx::query_as(
            "SELECT kind, CAST(target AS CHAR CHARACTER SET utf8mb4) FROM price_rule_targets WHERE rule_id = ? ORDER BY kind, target",
        )
        .bind(id.to_string())
        .fetch_all(&mysql)
        .await?;
        match &rule.definition {
            Some(live) => {
                assert!(!removed, "rule {id} is live");
                assert_eq!(
                    (name.as_str(), priority),
                    (live.name.as_str(), live.priority)
                );
                assert_eq!(
                    serde_json::from_str::<PriceRuleDefinition>(&definition)?,
                    *live
                );
                let mut expected: Vec<(String, String)> = live
                    .targets
                    .categories
                    .iter()
                    .map(|c| ("category".to_owned(), c.clone()))
                    .chain(
                        live.targets
                            .skus
                            .iter()
                            .map(|s| ("sku".to_owned(), s.clone())),
                    )
                    .collect();
                expected.sort();
                assert_eq!(targets, expected);
            }
            None => {
                assert!(removed, "rule {id} was removed");
                assert!(targets.is_empty());
            }
        }
    }
    // Promotions: fields, state and codes.
    for id in &promotions {
        let promotion = db
            .store
            .load::<Promotion>(&promotion_snapshots(), &id.to_string())
            .await?
            .aggregate;
        let (name, active, limit, discount, scheduled): (
            String,
            bool,
            Option<u32>,
            String,
            Option<chrono::DateTime<Utc>>,
        ) = sqlx::query_as(
            "SELECT name, active, usage_limit_total, discount, activation_scheduled_at
             FROM promotion_campaigns WHERE promotion_id = ?",
        )
        .bind(id.to_string())
        .fetch_one(&mysql)
        .await?;
        assert_eq!(name, promotion.name);
        assert_eq!(active, promotion.active);
        assert_eq!(
            scheduled, promotion.activation_scheduled_at,
            "promotion {id}"
        );
        assert_eq!(limit, promotion.usage_limit_total);
        assert_eq!(
            Some(serde_json::from_str::<Discount>(&discount)?),
            promotion.discount
        );
        let codes: Vec<(String,)> = sqlx::query_as(
            "SELECT CAST(code AS CHAR CHARACTER SET utf8mb4) FROM promotion_coupon_codes WHERE promotion_id = ? ORDER BY code",
        )
        .bind(id.to_string())
        .fetch_all(&mysql)
        .await?;
        let codes: BTreeSet<String> = codes.into_iter().map(|(c,)| c).collect();
        assert_eq!(codes, promotion.coupon_codes);
    }
    // Rates: the current one, exactly as written.
    for id in &pairs {
        let rate = db
            .store
            .load::<CurrencyRate>(&currency_rate_snapshots(), id)
            .await?
            .aggregate
            .rate
            .expect("a rate");
        let (stored,): (String,) =
            sqlx::query_as("SELECT rate FROM currency_rates WHERE base = ? AND quote = ?")
                .bind(rate.base.code())
                .bind(rate.quote.code())
                .fetch_one(&mysql)
                .await?;
        assert_eq!(stored, rate.rate.to_string());
    }

    // A rebuild from the start writes the same rows.
    let before = tables(&mysql).await?;
    projector.reset().await?;
    assert!(tables(&mysql)
        .await?
        .iter()
        .any(|row| row == "price_books: 0"));
    run_with_crashes(runner, head).await?;
    assert_eq!(tables(&mysql).await?, before);

    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), mysql.close()).await;
    sqlx::MySql::drop_database(&mysql_url).await?;
    db.drop_database().await
}
