//! Idempotency keys expire: after the retention a key counts as absent, and the purge removes
//! its record. Real Postgres.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use shopcore_commands::error::CommandError;
use shopcore_commands::grpc::customer::customer_snapshots;
use shopcore_commands::metadata::CommandContext;
use shopcore_commands::pipeline::CommandPipeline;
use shopcore_domain::customer::{Customer, CustomerCommand, CustomerEmailLookup, CustomerServices};
use shopcore_event_store::testing::TestEventStore;
use shopcore_event_store::StoreOptions;
use uuid::Uuid;

struct NoEmailsTaken;

#[async_trait]
impl CustomerEmailLookup for NoEmailsTaken {
    async fn owner_of(&self, _email: &str) -> Result<Option<Uuid>, String> {
        Ok(None)
    }
}

fn keyed(key: &str) -> CommandContext {
    let mut context = CommandContext::new("customer.assign_segments", "idempotency-test");
    context.actor = "tester".into();
    context.idempotency_key = Some(key.into());
    context
}

fn segments(names: &[&str]) -> CustomerCommand {
    CustomerCommand::AssignSegments {
        segments: names.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_replayed_refused_then_forgotten_after_the_retention() -> anyhow::Result<()> {
    let options = StoreOptions {
        idempotency_retention: Duration::from_secs(1),
        ..StoreOptions::default()
    };
    let db = TestEventStore::create_with(options).await?;
    let services = CustomerServices {
        emails: Arc::new(NoEmailsTaken),
    };
    let pipeline =
        CommandPipeline::<Customer>::new(db.store.clone(), services, customer_snapshots());
    let id = Uuid::now_v7();
    let key = id.to_string();
    pipeline
        .execute(
            &key,
            CustomerCommand::Register {
                customer_id: id,
                email: "keys@example.com".into(),
                first_name: "Ke".into(),
                last_name: "Ys".into(),
                phone: None,
            },
            &CommandContext::new("customer.register", "idempotency-test"),
        )
        .await?;

    let first = pipeline
        .execute(&key, segments(&["a"]), &keyed("k-1"))
        .await?;
    assert_eq!(first.events_written, 1);
    let again = pipeline
        .execute(&key, segments(&["a"]), &keyed("k-1"))
        .await?;
    assert!(again.replayed);
    assert_eq!(again.position, first.position);
    let other = pipeline
        .execute(&key, segments(&["b"]), &keyed("k-1"))
        .await;
    assert!(
        matches!(other, Err(CommandError::IdempotencyKeyMismatch)),
        "{other:?}"
    );

    tokio::time::sleep(Duration::from_millis(1_500)).await;
    // Expired: the key counts as absent, so another request with it runs.
    let later = pipeline
        .execute(&key, segments(&["b"]), &keyed("k-1"))
        .await?;
    assert!(!later.replayed);
    assert_eq!(later.events_written, 1);

    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        db.store.purge_idempotency_keys().await?,
        1,
        "the expired record is purged"
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM command_idempotency")
        .fetch_one(db.store.pool())
        .await?;
    assert_eq!(left, 0);
    db.drop_database().await
}
