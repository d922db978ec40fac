//! The MySQL category tree projector against real Postgres and MariaDB: a random history of
//! creates, renames, moves of whole subtrees and removals, projected by a projector killed at
//! random points, ends with exactly the rows (path and depth included) of a fold of the
//! events; the tree reads back depth first.

use std::time::Duration;

use cqrs_es::Aggregate as _;
use rand::{Rng as _, SeedableRng as _};
use shopcore_commands::grpc::taxonomy::taxonomy_pipeline;
use shopcore_commands::metadata::CommandContext;
use shopcore_domain::catalog::taxonomy::{Taxonomy, TaxonomyCommand, TaxonomyEvent, TAXONOMY_ID};
use shopcore_event_store::testing::TestEventStore;
use shopcore_event_store::GlobalLog;
use shopcore_projections::catalog::taxonomy::{
    category_tree, rows_of, TaxonomyMysqlProjector, AGGREGATE_TYPE,
};
use shopcore_projections::runtime::{ProjectionRunner, Projector};
use shopcore_projections::stores::connect_mysql;
use sqlx::migrate::MigrateDatabase;
use uuid::Uuid;

mod common;
use common::run_with_crashes;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_tree_projector_ends_with_the_rows_of_the_events() -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
    let events = TestEventStore::create().await?;
    let pipeline = taxonomy_pipeline(events.store.clone());
    let context = CommandContext::new("test.taxonomy", "taxonomy-test");
    let seed: u64 = std::env::var("TAXONOMY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut keys: Vec<String> = Vec::new();
    let mut accepted = std::collections::BTreeMap::<&str, u32>::new();
    for n in 0..160 {
        let pick = |rng: &mut rand::rngs::StdRng, keys: &[String]| {
            (!keys.is_empty() && rng.random_bool(0.8))
                .then(|| keys[rng.random_range(0..keys.len())].clone())
        };
        let command = match rng.random_range(0..10) {
            0..=4 => {
                let key = format!("c{n}");
                keys.push(key.clone());
                TaxonomyCommand::CreateCategory {
                    key,
                    name: format!("Category {n}"),
                    parent: pick(&mut rng, &keys[..keys.len() - 1]),
                    position: rng.random_range(0..5),
                }
            }
            5 | 6 if !keys.is_empty() => TaxonomyCommand::MoveCategory {
                key: keys[rng.random_range(0..keys.len())].clone(),
                parent: pick(&mut rng, &keys),
                position: rng.random_range(0..5),
            },
            7 | 8 if !keys.is_empty() => TaxonomyCommand::UpdateCategory {
                key: keys[rng.random_range(0..keys.len())].clone(),
                name: Some(format!("Renamed {n}")),
                position: Some(rng.random_range(0..5)),
            },
            _ if !keys.is_empty() => TaxonomyCommand::RemoveCategory {
                key: keys[rng.random_range(0..keys.len())].clone(),
            },
            _ => continue,
        };
        // Cycles, too deep, removals with children and creates under removed parents are
        // refused by the aggregate; the rest makes the history.
        let kind = match &command {
            TaxonomyCommand::CreateCategory { .. } => "create",
            TaxonomyCommand::MoveCategory { .. } => "move",
            TaxonomyCommand::UpdateCategory { .. } => "update",
            TaxonomyCommand::RemoveCategory { .. } => "remove",
        };
        let removed = match &command {
            TaxonomyCommand::RemoveCategory { key } => Some(key.clone()),
            _ => None,
        };
        if pipeline
            .execute(TAXONOMY_ID, command, &context)
            .await
            .is_ok()
        {
            *accepted.entry(kind).or_default() += 1;
            keys.retain(|key| Some(key) != removed.as_ref());
        } else if kind == "create" {
            keys.pop();
        }
    }
    assert!(
        accepted.len() == 4 && accepted["create"] > 20,
        "seed {seed}: too little history {accepted:?}"
    );

    let log = GlobalLog::new(events.store.pool().clone());
    let mysql_url = format!(
        "{}/shopcore_test_{}",
        shopcore_event_store::testing::mysql_server_url(),
        Uuid::new_v4().simple()
    );
    let mysql = connect_mysql(&mysql_url).await?;
    let projector = std::sync::Arc::new(TaxonomyMysqlProjector::new(mysql.clone()));
    let kills = run_with_crashes(
        ProjectionRunner::new(log.clone(), projector.clone(), 5),
        shopcore_event_store::testing::settled_head(&log).await?,
    )
    .await?;
    assert!(kills > 1, "the projector was never stopped mid-stream");

    let mut tree = Taxonomy::default();
    for stored in log
        .aggregate_events(AGGREGATE_TYPE, TAXONOMY_ID, None)
        .await?
    {
        tree.apply(serde_json::from_value::<TaxonomyEvent>(stored.payload)?);
    }
    let read = category_tree(&mysql).await?;
    let expected = rows_of(&tree);
    assert_eq!(read.len(), expected.len(), "seed {seed}");
    for row in &read {
        assert_eq!(Some(row), expected.get(&row.key), "seed {seed}");
        assert_eq!(row.path.split('/').count(), usize::from(row.depth));
    }
    // Depth first: every row comes after its parent, and a parent's subtree is contiguous.
    for (i, row) in read.iter().enumerate() {
        if let Some(parent) = &row.parent {
            let at = read
                .iter()
                .position(|r| &r.key == parent)
                .expect("parent read");
            assert!(at < i, "seed {seed}: {} before its parent", row.key);
            assert!(
                read[at..=i]
                    .iter()
                    .all(|r| r.path.starts_with(&read[at].path)),
                "seed {seed}: subtree of {parent} is not contiguous"
            );
        }
    }
    assert_eq!(
        projector.checkpoint().await?,
        shopcore_event_store::testing::settled_head(&log).await?
    );

    let _ = tokio::time::timeout(Duration::from_secs(5), mysql.close()).await;
    sqlx::MySql::drop_database(&mysql_url).await?;
    events.drop_database().await
}
