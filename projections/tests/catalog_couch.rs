//! The CouchDB product projector against real Postgres and a real CouchDB-API server
//! (pouchdb-server): killed at random points mid-stream, it resumes until every product
//! document equals a fold of the product's events; a replay from the start rewrites nothing;
//! documents another writer changed (unknown fields, a newer `_rev`, a field of another type)
//! neither stop it nor survive as wrong data.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};
use shopcore_commands::grpc::catalog::product_pipeline;
use shopcore_commands::metadata::CommandContext;
use shopcore_commands::pipeline::CommandPipeline;
use shopcore_domain::catalog::{
    AttributeValue, Attributes, Product, ProductChanges, ProductCommand,
};
use shopcore_event_store::testing::TestEventStore;
use shopcore_event_store::GlobalLog;
use shopcore_projections::catalog::couch::{CatalogCouchProjector, INDEXES};
use shopcore_projections::catalog::{ProductDocument, AGGREGATE_TYPE};
use shopcore_projections::couch::testing::{couchdb_url, OwnCouch};
use shopcore_projections::couch::CouchDb;
use shopcore_projections::runtime::{ProjectionRunner, Projector};
use uuid::Uuid;

mod common;
use common::run_with_crashes;

const PRODUCTS: usize = 40;

async fn run(
    pipeline: &CommandPipeline<Product>,
    id: Uuid,
    command: ProductCommand,
) -> anyhow::Result<()> {
    let context = CommandContext::new("test.catalog", "catalog-couch-test");
    pipeline.execute(&id.to_string(), command, &context).await?;
    Ok(())
}

/// The categories the products name.
async fn create_categories(store: &shopcore_event_store::EventStore) -> anyhow::Result<()> {
    let tree = shopcore_commands::grpc::taxonomy::taxonomy_pipeline(store.clone());
    let context = CommandContext::new("test.catalog", "catalog-couch-test");
    for (key, parent) in [
        ("shoes", None),
        ("range-0", Some("shoes")),
        ("range-1", Some("shoes")),
        ("range-2", Some("shoes")),
        ("range-3", None),
    ] {
        let command = shopcore_domain::catalog::taxonomy::TaxonomyCommand::CreateCategory {
            key: key.into(),
            name: key.into(),
            parent: parent.map(str::to_owned),
            position: 0,
        };
        tree.execute(
            shopcore_domain::catalog::taxonomy::TAXONOMY_ID,
            command,
            &context,
        )
        .await?;
    }
    Ok(())
}

/// Products with variants, renames, categories and a lifecycle: about 6 events each.
/// SKUs are `{tag}{n}-{size}`: unique across the catalog, so a second seed needs another tag.
async fn seed(pipeline: &CommandPipeline<Product>, tag: &str) -> anyhow::Result<Vec<Uuid>> {
    let mut ids = Vec::new();
    let now = chrono::Utc::now();
    for n in 0..PRODUCTS {
        let id = Uuid::now_v7();
        let attributes =
            Attributes::from([("colour".to_owned(), AttributeValue::Text("red".into()))]);
        run(
            pipeline,
            id,
            ProductCommand::CreateProduct {
                product_id: id,
                name: format!("Product {n}"),
                description: "Ünïcode and\nlines".into(),
                brand: Some("Acme".into()),
                attributes,
                categories: vec!["shoes".into()],
                now,
            },
        )
        .await?;
        for size in [41, 42] {
            run(
                pipeline,
                id,
                ProductCommand::AddVariant {
                    variant_id: Uuid::now_v7(),
                    sku: format!("{tag}{n}-{size}"),
                    attributes: Attributes::from([(
                        "size".to_owned(),
                        AttributeValue::Integer(size),
                    )]),
                },
            )
            .await?;
        }
        run(
            pipeline,
            id,
            ProductCommand::UpdateProduct(ProductChanges {
                name: Some(format!("Renamed {n}")),
                attributes: Some(Attributes::new()),
                ..ProductChanges::default()
            }),
        )
        .await?;
        run(
            pipeline,
            id,
            ProductCommand::AssignCategories {
                categories: vec!["shoes".into(), format!("range-{}", n % 4)],
            },
        )
        .await?;
        run(pipeline, id, ProductCommand::PublishProduct { now }).await?;
        if n % 5 == 0 {
            run(pipeline, id, ProductCommand::DiscontinueProduct { now }).await?;
        }
        ids.push(id);
    }
    Ok(ids)
}

/// The document a product's events fold to.
async fn expected(log: &GlobalLog, id: Uuid) -> anyhow::Result<ProductDocument> {
    let history = log
        .aggregate_events(AGGREGATE_TYPE, &id.to_string(), None)
        .await?;
    Ok(ProductDocument::fold(None, &history)?.expect("the product exists"))
}

/// The stored document, without its `_rev`.
async fn stored(db: &CouchDb, id: Uuid) -> anyhow::Result<(ProductDocument, String)> {
    let raw = db.get(&id.to_string()).await?.expect("document exists");
    let rev = raw["_rev"].as_str().expect("a _rev").to_owned();
    let mut doc: ProductDocument = serde_json::from_value(raw)?;
    doc.rev = None;
    Ok((doc, rev))
}

fn couch(name: &str) -> anyhow::Result<CouchDb> {
    Ok(CouchDb::new(&couchdb_url(), name)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_couch_projector_resumes_to_documents_equal_to_the_events() -> anyhow::Result<()> {
    let events = TestEventStore::create().await?;
    create_categories(&events.store).await?;
    let pipeline = product_pipeline(events.store.clone());
    let ids = seed(&pipeline, "P").await?;
    let log = GlobalLog::new(events.store.pool().clone());
    let db = couch(&format!("shopcore_test_{}", Uuid::new_v4().simple()))?;
    let projector = Arc::new(CatalogCouchProjector::new(db.clone(), log.clone()));
    projector.prepare().await?;
    let indexes: Vec<String> = db
        .get_many(
            &INDEXES
                .iter()
                .map(|(ddoc, _, _)| format!("_design/{ddoc}"))
                .collect::<Vec<_>>(),
        )
        .await?
        .into_keys()
        .collect();
    assert_eq!(
        indexes.len(),
        INDEXES.len(),
        "indexes made by the projector"
    );

    let runner = ProjectionRunner::new(log.clone(), projector.clone(), 7);
    let kills = run_with_crashes(
        runner.clone(),
        shopcore_event_store::testing::settled_head(&log).await?,
    )
    .await?;
    assert!(kills > 1, "the projector was never stopped mid-stream");
    let mut revs = HashMap::new();
    for id in &ids {
        let (doc, rev) = stored(&db, *id).await?;
        assert_eq!(doc, expected(&log, *id).await?, "product {id}");
        revs.insert(*id, rev);
    }
    let (first, _) = stored(&db, ids[0]).await?;
    assert_eq!(first.skus, ["P0-41", "P0-42"]);
    assert_eq!(
        first.status,
        shopcore_domain::catalog::ProductStatus::Discontinued
    );

    // A replay from the start of the log rewrites nothing: every document has its events.
    db.put_local(
        "shopcore-checkpoint-catalog_couch",
        json!({ "position": "0-0" }),
    )
    .await?;
    run_with_crashes(
        runner.clone(),
        shopcore_event_store::testing::settled_head(&log).await?,
    )
    .await?;
    for id in &ids {
        assert_eq!(
            stored(&db, *id).await?.1,
            revs[id],
            "product {id} rewritten"
        );
    }

    // Another writer adds a field (a newer _rev), and breaks another product's name.
    let (extended, broken) = (ids[1], ids[2]);
    let mut raw = db.get(&extended.to_string()).await?.expect("doc");
    raw["promoBanner"] = json!("Winter sale");
    let mut bad = db.get(&broken.to_string()).await?.expect("doc");
    bad["name"] = json!(42);
    bad["variants"] = json!("not a list");
    let written = db.bulk_docs(&[raw, bad]).await?;
    assert!(written.iter().all(|r| r.error.is_none()), "{written:?}");
    for id in [extended, broken] {
        run(
            &pipeline,
            id,
            ProductCommand::UnpublishProduct {
                now: chrono::Utc::now(),
            },
        )
        .await?;
    }
    run_with_crashes(
        runner,
        shopcore_event_store::testing::settled_head(&log).await?,
    )
    .await?;
    let (doc, _) = stored(&db, extended).await?;
    assert_eq!(
        doc.other.get("promoBanner"),
        Some(&Value::from("Winter sale"))
    );
    let mut without_banner = doc.clone();
    without_banner.other.clear();
    assert_eq!(without_banner, expected(&log, extended).await?);
    let (doc, _) = stored(&db, broken).await?;
    assert_eq!(
        doc,
        expected(&log, broken).await?,
        "rebuilt from its events"
    );
    assert_eq!(
        projector.checkpoint().await?,
        shopcore_event_store::testing::settled_head(&log).await?
    );

    db.delete_database().await?;
    events.drop_database().await
}

// --- CouchDB outage ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_couchdb_outage_under_load_loses_nothing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut server = OwnCouch::new(dir.path())?;
    let events = TestEventStore::create().await?;
    create_categories(&events.store).await?;
    let pipeline = product_pipeline(events.store.clone());
    let log = GlobalLog::new(events.store.pool().clone());
    let db = CouchDb::new(&server.url(), "catalog")?;
    // The projector starts while CouchDB is still down: it must wait, not halt, and create
    // its database and indexes once the server answers.
    let projector = Arc::new(CatalogCouchProjector::new(db.clone(), log.clone()));
    let runner = ProjectionRunner::new(log.clone(), projector.clone(), 20);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let live = tokio::spawn({
        let runner = runner.clone();
        async move { runner.run(stopped).await }
    });

    // Products before CouchDB is up, and more while it is down again: the projector keeps
    // failing to reach it, then resumes where it stopped.
    let mut ids = seed(&pipeline, "A").await?;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    server.restart().await?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while projector.checkpoint().await? == shopcore_event_store::LogPosition::START {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "nothing projected");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.kill().await?;
    ids.extend(seed(&pipeline, "B").await?);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    server.restart().await?;

    let head = shopcore_event_store::testing::settled_head(&log).await?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    while projector.checkpoint().await? < head {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the projector did not catch up after the outage"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = stop.send(true);
    live.await?;
    for id in &ids {
        let (doc, _) = stored(&db, *id).await?;
        assert_eq!(doc, expected(&log, *id).await?, "product {id}");
    }
    let ddocs: Vec<String> = INDEXES
        .iter()
        .map(|(ddoc, _, _)| format!("_design/{ddoc}"))
        .collect();
    assert_eq!(
        db.get_many(&ddocs).await?.len(),
        INDEXES.len(),
        "indexes made late"
    );
    server.kill().await?;
    events.drop_database().await
}
