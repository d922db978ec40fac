//! Projectors stopped at random points mid-stream resume without losing or double-applying an
//! event: the MySQL read model and the Redis snapshots end up equal to a fold of the event store.
//! Real Postgres, MariaDB and Redis.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use shopcore_commands::grpc::customer::customer_snapshots;
use shopcore_commands::metadata::CommandContext;
use shopcore_commands::pipeline::CommandPipeline;
use shopcore_domain::customer::{
    Customer, CustomerCommand, CustomerEmailLookup, CustomerServices, ProfileChanges,
};
use shopcore_event_store::testing::TestEventStore;
use shopcore_event_store::GlobalLog;
use shopcore_projections::customer::mysql::{
    count_customers, find_customer, CustomerMysqlProjector,
};
use shopcore_projections::customer::redis::{cached_customer, CustomerRedisProjector};
use shopcore_projections::customer::{CustomerView, AGGREGATE_TYPE};
use shopcore_projections::runtime::{ProjectionRunner, Projector};
use shopcore_projections::stores::{connect_mysql, connect_redis};
use sqlx::migrate::MigrateDatabase;
use uuid::Uuid;

mod common;
use common::run_with_crashes;

/// The store's unique claims guard e-mails; the test needs no lookup.
struct NoEmailsTaken;

#[async_trait]
impl CustomerEmailLookup for NoEmailsTaken {
    async fn owner_of(&self, _email: &str) -> Result<Option<Uuid>, String> {
        Ok(None)
    }
}

const CUSTOMERS: usize = 120;

async fn seed_customers(pipeline: &CommandPipeline<Customer>) -> anyhow::Result<Vec<Uuid>> {
    let mut ids = Vec::new();
    for n in 0..CUSTOMERS {
        let id = Uuid::now_v7();
        let context = CommandContext::new("test.seed", "restart-test");
        pipeline
            .execute(
                &id.to_string(),
                CustomerCommand::Register {
                    customer_id: id,
                    email: format!("customer{n}@example.com"),
                    first_name: "Ada".into(),
                    last_name: format!("Number{n}"),
                    phone: None,
                },
                &context,
            )
            .await?;
        let segments = if n % 3 == 0 {
            vec!["VIP".into()]
        } else {
            vec!["general".into()]
        };
        pipeline
            .execute(
                &id.to_string(),
                CustomerCommand::AssignSegments { segments },
                &context,
            )
            .await?;
        let changes = ProfileChanges {
            last_name: Some(format!("Renamed{n}")),
            ..ProfileChanges::default()
        };
        pipeline
            .execute(
                &id.to_string(),
                CustomerCommand::UpdateProfile(changes),
                &context,
            )
            .await?;
        ids.push(id);
    }
    Ok(ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_projectors_resume_without_loss_or_double_effect() -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let services = CustomerServices {
        emails: Arc::new(NoEmailsTaken),
    };
    let pipeline =
        CommandPipeline::<Customer>::new(db.store.clone(), services, customer_snapshots());
    let ids = seed_customers(&pipeline).await?;
    let log = GlobalLog::new(db.store.pool().clone());
    let head = shopcore_event_store::testing::settled_head(&log).await?;

    let mysql_url = format!(
        "{}/shopcore_test_{}",
        shopcore_event_store::testing::mysql_server_url(),
        Uuid::new_v4().simple()
    );
    let mysql = connect_mysql(&mysql_url).await?;
    let redis = connect_redis(&shopcore_event_store::testing::redis_url()).await?;
    let prefix = format!("test:{}:", Uuid::new_v4().simple());

    let mysql_projector = Arc::new(CustomerMysqlProjector::new(mysql.clone(), log.clone()));
    let redis_projector = Arc::new(CustomerRedisProjector::new(
        redis.clone(),
        log.clone(),
        prefix.clone(),
    ));
    let (mysql_kills, redis_kills) = tokio::try_join!(
        run_with_crashes(
            ProjectionRunner::new(log.clone(), mysql_projector.clone(), 7),
            head
        ),
        run_with_crashes(
            ProjectionRunner::new(log.clone(), redis_projector.clone(), 7),
            head
        ),
    )?;
    assert!(
        mysql_kills > 1 && redis_kills > 1,
        "the projectors were never stopped mid-stream"
    );

    assert_eq!(count_customers(&mysql).await?, CUSTOMERS as u64);
    let mut redis_conn = redis.clone();
    for id in ids {
        let history = log
            .aggregate_events(AGGREGATE_TYPE, &id.to_string(), None)
            .await?;
        let expected = CustomerView::fold(&history)?.expect("customer exists");
        assert_eq!(expected.version, 3);
        let in_mysql = find_customer(&mysql, id).await?.expect("customer in mysql");
        assert_eq!(
            in_mysql, expected,
            "mysql read model differs from the events"
        );
        let in_redis = cached_customer(&mut redis_conn, &prefix, id)
            .await?
            .expect("customer in redis");
        assert_eq!(in_redis, expected, "redis snapshot differs from the events");
    }
    assert_eq!(mysql_projector.checkpoint().await?, head);
    assert_eq!(redis_projector.checkpoint().await?, head);

    // Clean up the per-test MySQL database, Redis keys and Postgres database.
    redis_projector.reset().await?;
    let _: () = redis::AsyncCommands::del(
        &mut redis_conn,
        format!("{prefix}shopcore:projection:customer_redis:checkpoint"),
    )
    .await?;
    // Bounded for the same reason as the Postgres pool (see `TestEventStore::drop_database`).
    let _ = tokio::time::timeout(Duration::from_secs(5), mysql.close()).await;
    sqlx::MySql::drop_database(&mysql_url).await?;
    db.drop_database().await
}
