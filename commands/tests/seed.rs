//! Seeding through the command pipelines against a real Postgres: the sample catalog lands as
//! commands (categories, products, variants, lifecycle), and seeding again writes nothing.

use cqrs_es::Aggregate as _;
use shopcore_commands::grpc::catalog::product_snapshots;
use shopcore_commands::seed::{seed_catalog, SAMPLE_CATEGORIES};
use shopcore_domain::catalog::{Product, ProductStatus};
use shopcore_event_store::testing::TestEventStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_catalog_seeds_once() -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let first = seed_catalog(&db.store, 30).await?;
    assert_eq!(first.categories, SAMPLE_CATEGORIES.len());
    assert!(first.events_written > 30 * 3, "{first:?}");
    let again = seed_catalog(&db.store, 30).await?;
    assert_eq!(again.events_written, 0, "a second seed writes nothing");

    let ids: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = $1")
            .bind(Product::TYPE)
            .fetch_all(db.store.pool())
            .await?;
    assert_eq!(ids.len(), 30);
    let mut published = 0;
    for id in &ids {
        let product = db
            .store
            .load::<Product>(&product_snapshots(), id)
            .await?
            .aggregate;
        assert!((2..=4).contains(&product.variants.len()), "{id}");
        assert_eq!(product.attributes.len(), 5);
        assert_eq!(product.categories.len(), 1);
        published += usize::from(product.status == ProductStatus::Published);
    }
    assert_eq!(published, 24, "eight in ten are published");
    db.drop_database().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_prices_seed_once_and_price_every_sku() -> anyhow::Result<()> {
    use shopcore_commands::grpc::pricing::price_book::price_book_snapshots;
    use shopcore_commands::grpc::pricing::promotion::promotion_snapshots;
    use shopcore_commands::seed::{sample_book_id, sample_skus, seed_pricing};
    use shopcore_domain::money::Currency;
    use shopcore_domain::pricing::{PriceBook, Promotion};

    let db = TestEventStore::create().await?;
    let first = seed_pricing(&db.store, 40, 60).await?;
    assert_eq!(
        (first.books, first.rates, first.rules, first.promotions),
        (2, 4, 60, 5)
    );
    let again = seed_pricing(&db.store, 40, 60).await?;
    assert_eq!(
        again.events_written, 0,
        "a second seed writes nothing: {again:?}"
    );

    let retail: PriceBook = db
        .store
        .load(
            &price_book_snapshots(),
            &sample_book_id("retail").to_string(),
        )
        .await?
        .aggregate;
    for n in 0..40 {
        for sku in sample_skus(n) {
            assert!(
                retail.price(&sku, Currency::EUR).is_some(),
                "{sku} has no EUR price"
            );
        }
    }
    let promotions: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = 'promotion'",
    )
    .fetch_all(db.store.pool())
    .await?;
    let mut active = 0;
    let mut scheduled = 0;
    for id in &promotions {
        let promotion: Promotion = db.store.load(&promotion_snapshots(), id).await?.aggregate;
        active += usize::from(promotion.active);
        scheduled += usize::from(promotion.activation_scheduled_at.is_some());
    }
    assert_eq!((promotions.len(), active, scheduled), (5, 2, 2));
    db.drop_database().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_carts_are_priced_through_the_pipeline_and_seed_once() -> anyhow::Result<()> {
    use std::collections::{BTreeMap, BTreeSet};

    use shopcore_commands::cart::cart_snapshots;
    use shopcore_commands::grpc::pricing::price_book::price_book_snapshots;
    use shopcore_commands::seed::{
        sample_book_id, sample_skus, seed_carts, seed_customers, seed_pricing, CartSeed,
    };
    use shopcore_domain::cart::{Cart, CartSettings, CartStatus};
    use shopcore_domain::money::Currency;
    use shopcore_domain::pricing::PriceBook;
    use shopcore_pricing_index::settings::PricingIndexSettings;
    use uuid::Uuid;

    let db = TestEventStore::create().await?;
    seed_customers(&db.store, 30).await?;
    seed_catalog(&db.store, 20).await?;
    seed_pricing(&db.store, 20, 12).await?;
    let pricing = PricingIndexSettings {
        pricing_read_your_writes_timeout_ms: 5_000,
        fx_stale_after_seconds: 345_600,
        fx_base_currency: "EUR".into(),
        pricing_index_batch_size: 1_000,
    };
    let seed = CartSeed {
        carts: 40,
        customers: 30,
        products: 20,
        settings: CartSettings::default(),
        near_expiry: chrono::TimeDelta::minutes(10),
    };
    let started = chrono::Utc::now();
    let first = seed_carts(&db.store, &seed, &pricing).await?;
    assert_eq!(
        (
            first.carts,
            first.anonymous,
            first.with_coupon,
            first.near_expiry,
            first.usd
        ),
        (40, 14, 7, 8, 4),
        "{first:?}"
    );
    assert_eq!((first.closed, first.refused), (0, 0), "{first:?}");
    assert!(first.events_written >= 40 + first.lines as u64, "{first:?}");

    // Every cart, as the aggregate folds it from the store.
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = 'cart'",
    )
    .fetch_all(db.store.pool())
    .await?;
    assert_eq!(ids.len(), 40);
    let customers: BTreeSet<Uuid> = (0..30)
        .map(|n| {
            Uuid::new_v5(
                &Uuid::from_u128(0x2d0c_51a5_4a3e_4f5b_8e77_a1c3_93f0_5eed),
                format!("customer-{n}").as_bytes(),
            )
        })
        .collect();
    let skus: BTreeSet<String> = (0..20).flat_map(sample_skus).collect();
    let retail: PriceBook = db
        .store
        .load(
            &price_book_snapshots(),
            &sample_book_id("retail").to_string(),
        )
        .await?
        .aggregate;
    let mut coupons: BTreeMap<String, usize> = BTreeMap::new();
    let (mut anonymous, mut near, mut lines) = (0, 0, 0);
    for id in &ids {
        let cart: Cart = db.store.load(&cart_snapshots(), id).await?.aggregate;
        assert_eq!(cart.status, CartStatus::Open, "{id}");
        assert!((1..=4).contains(&cart.lines.len()), "{id}: {cart:?}");
        match cart.customer_id {
            None => anonymous += 1,
            Some(customer) => assert!(customers.contains(&customer), "{id}: {customer}"),
        }
        let currency = cart.currency.expect("currency");
        for (sku, line) in &cart.lines {
            assert!(skus.contains(sku), "{id}: {sku}");
            assert!((1..=3).contains(&line.quantity), "{id}: {sku}");
            // Priced by the index: the book's price before rules, rules only lowering it.
            assert_eq!(
                Some(line.price.list_price),
                retail.price(sku, currency),
                "{id}: {sku} in {currency:?}"
            );
            assert!(
                line.price.unit_price.amount() <= line.price.list_price.amount(),
                "{id}: {sku}"
            );
            assert!(line.price.unit_price.amount() > 0, "{id}: {sku}");
        }
        lines += cart.lines.len();
        if let Some(coupon) = &cart.coupon {
            *coupons.entry(coupon.code.clone()).or_default() += 1;
        }
        let expires_at = cart.expires_at.expect("expiry");
        if expires_at < started + chrono::TimeDelta::hours(1) {
            near += 1;
            assert!(expires_at <= chrono::Utc::now() + chrono::TimeDelta::minutes(10));
        } else {
            assert!(expires_at >= started + chrono::TimeDelta::hours(24), "{id}");
        }
        if currency == Currency::USD {
            assert!(cart
                .lines
                .keys()
                .all(|sku| retail.price(sku, Currency::USD).is_some()));
        }
    }
    assert_eq!((anonymous, near, lines), (14, 8, first.lines));
    assert_eq!(
        coupons,
        [("VIP20".to_owned(), 4), ("WELCOME10".to_owned(), 3)].into(),
        "a quarter of the customers' carts carry a seeded coupon"
    );

    // Again: every step replays. And once the idempotency keys are gone (purged after a day),
    // the carts themselves say what is done: still nothing twice.
    let events = |pool: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events")
            .fetch_one(&pool)
            .await
    };
    let before = events(db.store.pool().clone()).await?;
    let again = seed_carts(&db.store, &seed, &pricing).await?;
    assert_eq!(again.events_written, 0, "{again:?}");
    sqlx::query("DELETE FROM command_idempotency")
        .execute(db.store.pool())
        .await?;
    let after_purge = seed_carts(&db.store, &seed, &pricing).await?;
    assert_eq!(after_purge.events_written, 0, "{after_purge:?}");
    assert_eq!(events(db.store.pool().clone()).await?, before);
    db.drop_database().await
}
