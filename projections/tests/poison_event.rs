//! An event a read model can never apply stops its projector exactly there: what precedes it
//! in the same batch is applied, the error names the event, and nothing after it is applied.
//! Real Postgres and MariaDB.

use std::sync::Arc;
use std::time::Duration;

use shopcore_domain::customer::CustomerEvent;
use shopcore_event_store::tail::TailError;
use shopcore_event_store::testing::TestEventStore;
use shopcore_event_store::{GlobalLog, LogPosition};
use shopcore_projections::customer::mysql::{count_customers, CustomerMysqlProjector};
use shopcore_projections::runtime::{ProjectionRunner, Projector};
use shopcore_projections::stores::connect_mysql;
use sqlx::migrate::MigrateDatabase;
use uuid::Uuid;

async fn insert(
    pool: &sqlx::PgPool,
    customer: Uuid,
    sequence: i64,
    event_type: &str,
    payload: serde_json::Value,
) -> anyhow::Result<(LogPosition, Uuid)> {
    shopcore_event_store::testing::insert_raw_event(
        pool,
        "customer",
        &customer.to_string(),
        sequence,
        event_type,
        payload,
    )
    .await
}

fn registered(customer: Uuid) -> serde_json::Value {
    serde_json::to_value(CustomerEvent::CustomerRegistered {
        customer_id: customer,
        email: format!("{customer}@example.com"),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        phone: None,
    })
    .expect("serialisable")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_halts_the_projector_right_before_it_naming_it() -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let pool = db.store.pool().clone();
    let mut last_good = LogPosition::START;
    for _ in 0..3 {
        (last_good, _) = insert(
            &pool,
            Uuid::new_v4(),
            1,
            "CustomerRegistered",
            registered(Uuid::new_v4()),
        )
        .await?;
    }
    let poisoned = Uuid::new_v4();
    let (_, poison_id) = insert(
        &pool,
        poisoned,
        1,
        "CustomerRegistered",
        serde_json::json!({ "CustomerRegistered": { "customerId": "not a uuid" } }),
    )
    .await?;
    insert(
        &pool,
        Uuid::new_v4(),
        1,
        "CustomerRegistered",
        registered(Uuid::new_v4()),
    )
    .await?;

    let mysql_url = format!(
        "{}/shopcore_test_{}",
        shopcore_event_store::testing::mysql_server_url(),
        Uuid::new_v4().simple()
    );
    let mysql = connect_mysql(&mysql_url).await?;
    let log = GlobalLog::new(pool.clone());
    // Another test's open transaction may hold the horizon before our five events.
    shopcore_event_store::testing::settled_head(&log).await?;
    let projector = Arc::new(CustomerMysqlProjector::new(mysql.clone(), log.clone()));
    // One batch holds all five events.
    let runner = ProjectionRunner::new(log, projector.clone(), 100);

    let failure = runner
        .step()
        .await
        .expect_err("the batch cannot be applied");
    assert!(
        matches!(
            failure.error,
            TailError::Permanent {
                reason: "undecodable",
                ..
            }
        ),
        "{failure}"
    );
    let event = failure.event.as_ref().expect("the event at fault is named");
    assert_eq!(event.event_id, poison_id);
    assert!(
        failure.to_string().contains(&poison_id.to_string()),
        "{failure}"
    );
    assert_eq!(
        projector.checkpoint().await?,
        last_good,
        "everything before the poison event is applied, nothing after it"
    );
    assert_eq!(count_customers(&mysql).await?, 3);

    // Trying again changes nothing: the projector stays right before the event.
    let again = runner.step().await.expect_err("still cannot be applied");
    assert_eq!(again.event.map(|e| e.event_id), Some(poison_id));
    assert_eq!(projector.checkpoint().await?, last_good);

    let _ = tokio::time::timeout(Duration::from_secs(5), mysql.close()).await;
    sqlx::MySql::drop_database(&mysql_url).await?;
    db.drop_database().await
}
