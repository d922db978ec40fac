//! Processes that start together against a new MySQL database (the gateway and the projectors
//! both migrate on start) all come up: the migrations run once, under a lock.

use sqlx::migrate::MigrateDatabase as _;
use sqlx::MySql;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_start_ups_migrate_a_new_database_once() -> anyhow::Result<()> {
    let server = shopcore_event_store::testing::mysql_server_url();
    let url = format!(
        "{server}/shopcore_migrate_{}",
        uuid::Uuid::new_v4().simple()
    );
    let start_ups: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { shopcore_projections::stores::connect_mysql(&url).await })
        })
        .collect();
    let mut pools = Vec::new();
    for start_up in start_ups {
        pools.push(start_up.await??);
    }
    let applied: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&pools[0])
            .await?;
    assert_eq!(
        applied.len(),
        shopcore_projections::stores::MYSQL_MIGRATOR.iter().count()
    );
    assert!(applied.iter().all(|(_, success)| *success), "{applied:?}");
    for pool in pools {
        pool.close().await;
    }
    MySql::drop_database(&url).await?;
    Ok(())
}
