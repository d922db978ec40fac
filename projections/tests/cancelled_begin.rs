//! A transaction whose `BEGIN` is cancelled in flight (a projector task aborted at shutdown, a
//! timeout) must not leave its pooled connection inside a server-side transaction: sqlx 0.8
//! raises its transaction depth only after `BEGIN` answers, so its drop guard queues no
//! `ROLLBACK` then, and the next user of the connection would run inside the stale
//! transaction (and read an old snapshot). Real MariaDB; one pooled connection, so that every
//! iteration reuses it.

use std::time::Duration;

use rand::Rng as _;
use sqlx::mysql::MySqlPoolOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_begin_leaves_no_open_transaction_behind() -> anyhow::Result<()> {
    let server = shopcore_event_store::testing::mysql_server_url();
    let pool = MySqlPoolOptions::new()
        .max_connections(1)
        .connect(&format!("{server}/mysql"))
        .await?;
    let mut cancelled = 0;
    for _ in 0..400 {
        let wait = Duration::from_micros(rand::rng().random_range(0..400));
        if tokio::time::timeout(wait, shopcore_projections::stores::begin(&pool))
            .await
            .is_err()
        {
            cancelled += 1;
        }
        let open: u64 = sqlx::query_scalar("SELECT @@in_transaction")
            .fetch_one(&pool)
            .await?;
        assert_eq!(
            open, 0,
            "the pooled connection was left inside a transaction"
        );
    }
    assert!(
        cancelled > 0,
        "no BEGIN was ever cancelled: the test tested nothing"
    );
    Ok(())
}
