//! Snapshots make a command's cost independent of its aggregate's history, and can never make
//! it wrong: a snapshot of another schema, or one that cannot be decoded, is ignored. Real
//! Postgres.

use std::sync::Arc;

use async_trait::async_trait;
use shopcore_commands::grpc::customer::customer_snapshots;
use shopcore_commands::metadata::CommandContext;
use shopcore_commands::pipeline::CommandPipeline;
use shopcore_domain::customer::{Customer, CustomerCommand, CustomerEmailLookup, CustomerServices};
use shopcore_event_store::snapshot::SnapshotPolicy;
use shopcore_event_store::testing::TestEventStore;
use uuid::Uuid;

struct NoEmailsTaken;

#[async_trait]
impl CustomerEmailLookup for NoEmailsTaken {
    async fn owner_of(&self, _email: &str) -> Result<Option<Uuid>, String> {
        Ok(None)
    }
}

fn pipeline(db: &TestEventStore, policy: SnapshotPolicy) -> CommandPipeline<Customer> {
    let services = CustomerServices {
        emails: Arc::new(NoEmailsTaken),
    };
    CommandPipeline::new(db.store.clone(), services, policy)
}

/// Registers a customer and toggles its segments until it has `events` events.
async fn customer_with_history(
    pipeline: &CommandPipeline<Customer>,
    events: u64,
) -> anyhow::Result<String> {
    let id = Uuid::now_v7();
    let key = id.to_string();
    let context = CommandContext::new("test.snapshots", "snapshots");
    pipeline
        .execute(
            &key,
            CustomerCommand::Register {
                customer_id: id,
                email: format!("{id}@example.com"),
                first_name: "Snap".into(),
                last_name: "Shot".into(),
                phone: None,
            },
            &context,
        )
        .await?;
    for n in 1..events {
        let segment = if n % 2 == 0 { "even" } else { "odd" };
        pipeline
            .execute(
                &key,
                CustomerCommand::AssignSegments {
                    segments: vec![segment.into(), format!("s{}", n % 7)],
                },
                &context,
            )
            .await?;
    }
    Ok(key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loading_from_a_snapshot_equals_folding_every_event() -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let policy = customer_snapshots();
    let pipeline = pipeline(&db, policy.clone());
    let id = customer_with_history(&pipeline, 250).await?;

    let from_snapshot = db.store.load::<Customer>(&policy, &id).await?;
    let from_events = db
        .store
        .load::<Customer>(&SnapshotPolicy::disabled(), &id)
        .await?;
    assert_eq!(from_events.version, 250);
    assert_eq!(from_events.events_folded, 250);
    assert_eq!(from_snapshot.version, 250);
    assert_eq!(from_snapshot.aggregate, from_events.aggregate);
    assert!(
        from_snapshot.events_folded < policy.every,
        "folded {} events after the snapshot",
        from_snapshot.events_folded
    );

    // A snapshot taken under another event schema is ignored, not trusted.
    let other_schema = SnapshotPolicy::new("customer", policy.every, 1, "2");
    let ignored = db.store.load::<Customer>(&other_schema, &id).await?;
    assert_eq!(ignored.events_folded, 250);
    assert_eq!(ignored.aggregate, from_events.aggregate);
    db.drop_database().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_that_cannot_be_decoded_is_ignored_and_replaced() -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let policy = customer_snapshots();
    let pipeline = pipeline(&db, policy.clone());
    let id = customer_with_history(&pipeline, 120).await?;
    let truth = db
        .store
        .load::<Customer>(&SnapshotPolicy::disabled(), &id)
        .await?;

    sqlx::query("UPDATE aggregate_snapshots SET state = '{\"segments\": 42}'::jsonb WHERE aggregate_id = $1")
        .bind(&id)
        .execute(db.store.pool())
        .await?;
    let loaded = db.store.load::<Customer>(&policy, &id).await?;
    assert_eq!(
        loaded.aggregate, truth.aggregate,
        "the events are the truth"
    );
    assert_eq!(loaded.events_folded, 120);

    // The next command saves a good snapshot again.
    let context = CommandContext::new("test.snapshots", "snapshots");
    pipeline
        .execute(
            &id,
            CustomerCommand::AssignSegments {
                segments: vec!["after".into()],
            },
            &context,
        )
        .await?;
    let reloaded = db.store.load::<Customer>(&policy, &id).await?;
    assert_eq!(reloaded.events_folded, 0);
    assert_eq!(reloaded.version, 121);
    assert!(reloaded.aggregate.segments.contains("after"));
    db.drop_database().await
}
