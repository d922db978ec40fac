//! The promotion scheduler against real Postgres and MariaDB, with a read model written by
//! hand so it can lie: the aggregate, not the read model, decides. A due promotion is activated
//! once by two schedulers ticking together, and again after it was switched off and scheduled
//! anew; one the read model still lists after it was cancelled or moved is left alone; one
//! whose window ended is reported once; an unreachable MySQL fails the tick and the next one,
//! without a panic.

use std::time::Duration;

use chrono::{DateTime, Utc};
use shopcore_commands::grpc::pricing::promotion::promotion_pipeline;
use shopcore_commands::metadata::CommandContext;
use shopcore_commands::promotion_scheduler::due::ScheduleReadModel;
use shopcore_commands::promotion_scheduler::{PromotionScheduler, PromotionSchedulerSettings};
use shopcore_domain::money::Percent;
use shopcore_domain::pricing::promotion_change::PromotionChanges;
use shopcore_domain::pricing::{Discount, PromotionCommand};
use shopcore_event_store::testing::{mysql_server_url, TestEventStore};
use shopcore_event_store::EventStore;
use sqlx::migrate::{MigrateDatabase as _, Migrator};
use sqlx::MySqlPool;
use uuid::Uuid;

fn settings(mysql_url: &str) -> PromotionSchedulerSettings {
    PromotionSchedulerSettings {
        mysql_url: mysql_url.to_owned(),
        interval: Duration::from_millis(100),
        batch_size: 100,
        metrics_addr: "127.0.0.1:0".parse().expect("address"),
    }
}

fn context() -> CommandContext {
    let mut context = CommandContext::new("test.promotion", "promotion-scheduler-test");
    context.actor = "test".into();
    context
}

/// Creates a promotion in the event store, optionally scheduled.
async fn create(
    store: &EventStore,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    activate_at_start: bool,
) -> anyhow::Result<Uuid> {
    let id = Uuid::now_v7();
    let command = PromotionCommand::CreatePromotion {
        promotion_id: id,
        name: format!("Promo {id}"),
        discount: Discount::PercentOff {
            percent: Percent::parse("10").expect("percent"),
        },
        valid_from: from,
        valid_until: until,
        usage_limit_total: None,
        usage_limit_per_customer: None,
        coupon_codes: vec![],
        activate_at_start,
        now: Utc::now() - chrono::Duration::hours(3),
    };
    promotion_pipeline(store.clone())
        .execute(&id.to_string(), command, &context())
        .await?;
    Ok(id)
}

/// The read model's row of a promotion, as a projector would have written it (or not yet).
async fn row(
    mysql: &MySqlPool,
    id: Uuid,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    scheduled: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO promotion_campaigns (promotion_id, name, discount, valid_from, valid_until,
           active, activation_scheduled_at, redemptions, created_at, updated_at)
         VALUES (?, 'p', '{}', ?, ?, FALSE, ?, 0, ?, ?)",
    )
    .bind(id.to_string())
    .bind(from)
    .bind(until)
    .bind(scheduled)
    .bind(Utc::now())
    .bind(Utc::now())
    .execute(mysql)
    .await?;
    Ok(())
}

async fn activations(store: &EventStore, id: Uuid) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = 'promotion' AND aggregate_id = $1
           AND event_type = 'PromotionActivated'",
    )
    .bind(id.to_string())
    .fetch_one(store.pool())
    .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_aggregate_decides_what_the_read_model_says_is_due() -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let store = db.store.clone();
    let mysql_url = format!(
        "{}/shopcore_test_{}",
        mysql_server_url(),
        Uuid::new_v4().simple()
    );
    sqlx::MySql::create_database(&mysql_url).await?;
    let mysql = MySqlPool::connect(&mysql_url).await?;
    let migrations =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/migrations/mysql");
    Migrator::new(migrations).await?.run(&mysql).await?;

    // Micro-second instants, as the read model keeps them.
    let now = DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).expect("now");
    let hour = chrono::Duration::hours(1);
    let started = now - chrono::Duration::seconds(1);

    // Due: scheduled at creation, started a second ago.
    let due = create(&store, started, now + hour, true).await?;
    row(&mysql, due, started, now + hour, started).await?;
    // Cancelled since (deactivated), but the read model has not caught up.
    let cancelled = create(&store, started, now + hour, true).await?;
    promotion_pipeline(store.clone())
        .execute(
            &cancelled.to_string(),
            PromotionCommand::DeactivatePromotion { now },
            &context(),
        )
        .await?;
    row(&mysql, cancelled, started, now + hour, started).await?;
    // Moved an hour ahead since; the read model still has the old start.
    let moved = create(&store, started, now + hour * 2, true).await?;
    promotion_pipeline(store.clone())
        .execute(
            &moved.to_string(),
            PromotionCommand::ChangePromotion {
                changes: PromotionChanges {
                    valid_from: Some(now + hour),
                    ..PromotionChanges::default()
                },
                now,
            },
            &context(),
        )
        .await?;
    row(&mysql, moved, started, now + hour * 2, started).await?;
    // Scheduled, but its window ended before any scheduler ran.
    let ended = create(&store, now - hour * 2, now - hour, true).await?;
    row(&mysql, ended, now - hour * 2, now - hour, now - hour * 2).await?;

    // Two schedulers tick at the same time: one activation.
    let a = PromotionScheduler::with_read_model(
        store.clone(),
        ScheduleReadModel::new(mysql.clone()),
        &settings(&mysql_url),
    );
    let b = PromotionScheduler::with_read_model(
        store.clone(),
        ScheduleReadModel::new(mysql.clone()),
        &settings(&mysql_url),
    );
    let (first, second) = tokio::join!(a.tick(), b.tick());
    let (first, second) = (first?, second?);
    assert_eq!(first.due, 3, "{first:?}");
    assert_eq!(
        first.activated + second.activated,
        1,
        "{first:?} {second:?}"
    );
    assert_eq!(first.not_scheduled, 2, "cancelled and moved: {first:?}");
    assert_eq!(second.not_scheduled, 2, "cancelled and moved: {second:?}");
    assert_eq!(first.failed + second.failed, 0, "{first:?} {second:?}");
    assert_eq!((first.ended, second.ended), (1, 1), "once per scheduler");
    assert_eq!(activations(&store, due).await?, 1);
    for id in [cancelled, moved, ended] {
        assert_eq!(activations(&store, id).await?, 0, "{id}");
    }

    // Again, with the read model still behind: nothing new, the ended one not reported again.
    let again = a.tick().await?;
    assert_eq!(again.activated, 0, "{again:?}");
    assert_eq!(again.already_active, 1, "{again:?}");
    assert_eq!(again.ended, 0, "{again:?}");
    assert_eq!(activations(&store, due).await?, 1);

    // Switched off and scheduled again for the same instant: a new activation, although the
    // idempotency key (promotion and instant) is the first one's.
    let pipeline = promotion_pipeline(store.clone());
    for command in [
        PromotionCommand::DeactivatePromotion { now },
        PromotionCommand::SchedulePromotionActivation { now },
    ] {
        let done = pipeline
            .execute(&due.to_string(), command, &context())
            .await?;
        assert_eq!(done.events_written, 1);
    }
    let rescheduled = b.tick().await?;
    assert_eq!(rescheduled.activated, 1, "{rescheduled:?}");
    assert_eq!(activations(&store, due).await?, 2);

    // MySQL unreachable: the tick fails, and the next one too, and nothing panics.
    let down = PromotionScheduler::new(store.clone(), &settings("mysql://root@127.0.0.1:9/none"))?;
    assert!(down.tick().await.is_err());
    assert!(down.tick().await.is_err());

    mysql.close().await;
    sqlx::MySql::drop_database(&mysql_url).await?;
    db.drop_database().await
}
