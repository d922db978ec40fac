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
