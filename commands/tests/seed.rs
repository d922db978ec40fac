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
