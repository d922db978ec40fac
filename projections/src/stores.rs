//! Connections to the read-model stores: MySQL and Redis; the MySQL schema's migrations (the
//! projections process owns them) and the check other readers make; the event store as the
//! read side sees it.

use std::time::Duration;

use anyhow::Context as _;
use shopcore_event_store::LogPosition;
use sqlx::migrate::MigrateDatabase;
use sqlx::mysql::MySqlPoolOptions;
use sqlx::{MySql, MySqlPool, Transaction};

use crate::error::ProjectionError;

/// Migrations of the MySQL read-model database.
pub static MYSQL_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../infra/migrations/mysql");

/// Connects to MySQL, creating the database when missing, and runs the migrations. Only the
/// owner of the read-model schema (the projections process, its rebuild jobs) calls this.
pub async fn connect_mysql(url: &str) -> anyhow::Result<MySqlPool> {
    let pool = connect_mysql_unchecked(url, true).await?;
    migrate_mysql(&pool)
        .await
        .context("while migrating the MySQL read models")?;
    Ok(pool)
}

/// Connects to MySQL and waits (up to `patience`) until its schema is the one this build
/// expects; fails saying what to run when it stays behind. For readers such as the gateway.
pub async fn connect_mysql_checked(url: &str, patience: Duration) -> anyhow::Result<MySqlPool> {
    let expected = MYSQL_MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let deadline = std::time::Instant::now() + patience;
    // The database may not exist yet: its owner creates it when it starts.
    let pool = loop {
        match connect_mysql_unchecked(url, false).await {
            Ok(pool) => break pool,
            Err(error) if std::time::Instant::now() >= deadline => return Err(error),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    };
    loop {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&pool)
                .await
                .unwrap_or(None);
        let applied = applied.unwrap_or(0);
        if applied >= expected {
            return Ok(pool);
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the MySQL read-model schema is at migration {applied}, this build needs {expected}: \
             start shopcore-projections (or run `shopcore-projections migrate`), which migrates it"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The event store as the read side sees it: a small pool whose schema is checked, never
/// migrated (the command service owns it).
pub async fn connect_event_log(
    database_url: &str,
    patience: Duration,
) -> anyhow::Result<shopcore_event_store::GlobalLog> {
    let options = shopcore_event_store::StoreOptions {
        max_connections: 8,
        statement_timeout: Duration::from_secs(30),
        ..Default::default()
    };
    let pool = shopcore_event_store::store::connect_pool(database_url, &options)
        .await
        .context("while connecting to the event store")?;
    shopcore_event_store::schema::check(&pool, patience).await?;
    Ok(shopcore_event_store::GlobalLog::new(pool))
}

async fn connect_mysql_unchecked(url: &str, create: bool) -> anyhow::Result<MySqlPool> {
    if create
        && !MySql::database_exists(url)
            .await
            .context("while checking the MySQL database")?
    {
        if let Err(error) = MySql::create_database(url).await {
            if !MySql::database_exists(url).await.unwrap_or(false) {
                return Err(error).context("while creating the MySQL database");
            }
        }
    }
    let pool = MySqlPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .context("while connecting to MySQL")?;
    Ok(pool)
}

/// Runs the migrations while holding a named lock, so that processes starting together (the
/// gateway and the projectors both migrate) take turns. sqlx's own lock uses `GET_LOCK(…, -1)`,
/// which MariaDB does not wait on: the second process then found the first one's migration
/// half-done ("partially applied") and failed to start.
async fn migrate_mysql(pool: &MySqlPool) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    let mut connection = pool.acquire().await?.detach();
    let locked: Option<i64> =
        sqlx::query_scalar("SELECT GET_LOCK(CONCAT('shopcore_migrations:', DATABASE()), 60)")
            .fetch_one(&mut connection)
            .await?;
    anyhow::ensure!(
        locked == Some(1),
        "another process held the migration lock for 60 s"
    );
    // `run_direct` on a connection (`run` with `&mut MySqlConnection` is not `Send` enough for
    // spawned tasks: sqlx issue "implementation of Acquire is not general enough").
    let result = MYSQL_MIGRATOR.run_direct(&mut connection).await;
    // Closing the connection releases the lock as well.
    let _ = connection.close().await;
    Ok(result?)
}

/// A Redis connection that reconnects by itself after an outage.
///
/// redis 0.32 hands `factor` to backon as the exponent base (its default, 100, meant
/// milliseconds): with it a request during an outage waited about two minutes before it
/// failed, and readers that fall back to MySQL waited with it. Base 2 with delays of at most
/// 500 ms lets a request fail within about two seconds.
pub async fn connect_redis(url: &str) -> anyhow::Result<redis::aio::ConnectionManager> {
    let client = redis::Client::open(url).context("while parsing REDIS_URL")?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(2))
        .set_response_timeout(Duration::from_secs(2))
        .set_number_of_retries(2)
        .set_factor(2)
        .set_max_delay(500);
    redis::aio::ConnectionManager::new_with_config(client, config)
        .await
        .context("while connecting to Redis")
}

/// Starts a MySQL transaction that survives the cancellation of its caller. sqlx 0.8 counts a
/// transaction only once `BEGIN` has answered; a caller dropped in between (an aborted
/// projector task, a timeout) would return the connection to the pool inside a server-side
/// transaction that nobody rolls back, and its next user would read an old snapshot. Here
/// `BEGIN` runs in a task of its own: a cancelled caller leaves that task to finish, and the
/// transaction it then drops is rolled back as usual.
pub async fn begin(pool: &MySqlPool) -> Result<sqlx::Transaction<'static, MySql>, sqlx::Error> {
    let pool = pool.clone();
    tokio::spawn(async move { pool.begin().await })
        .await
        .map_err(|join| sqlx::Error::Io(std::io::Error::other(join.to_string())))?
}

// --- checkpoints of transactional MySQL projectors -----------------------------------------

/// A checkpoint row: `tx_id` is NULL for a checkpoint of the old scheme (positions only).
pub(crate) async fn checkpoint_row(
    pool: &MySqlPool,
    name: &str,
) -> Result<Option<(Option<u64>, u64)>, sqlx::Error> {
    sqlx::query_as("SELECT tx_id, position FROM projection_checkpoints WHERE name = ?")
        .bind(name)
        .fetch_optional(pool)
        .await
}

/// The checkpoint of a MySQL projector as readers see it. A checkpoint of the old scheme,
/// not converted yet by its projector, reads as "before every event of the new scheme".
pub async fn mysql_checkpoint(pool: &MySqlPool, name: &str) -> Result<LogPosition, sqlx::Error> {
    Ok(match checkpoint_row(pool, name).await? {
        Some((Some(tx), position)) => LogPosition::new(tx, position),
        Some((None, _)) | None => LogPosition::START,
    })
}

/// Locks the checkpoint row of `name` and checks it is still `expected`.
pub(crate) async fn lock_checkpoint(
    tx: &mut Transaction<'_, MySql>,
    name: &str,
    expected: LogPosition,
) -> Result<(), ProjectionError> {
    sqlx::query(
        "INSERT IGNORE INTO projection_checkpoints (name, tx_id, position) VALUES (?, 0, 0)",
    )
    .bind(name)
    .execute(&mut **tx)
    .await?;
    let (found_tx, found_position): (Option<u64>, u64) = sqlx::query_as(
        "SELECT tx_id, position FROM projection_checkpoints WHERE name = ? FOR UPDATE",
    )
    .bind(name)
    .fetch_one(&mut **tx)
    .await?;
    let found = LogPosition::new(found_tx.unwrap_or(0), found_position);
    if found_tx.is_none() || found != expected {
        return Err(ProjectionError::CheckpointMoved {
            projector: name.to_owned(),
            expected: expected.to_string(),
            found: found.to_string(),
        });
    }
    Ok(())
}

/// Empties `tables` and puts the checkpoint of `name` back before the first event, in one
/// transaction: the reset of a transactional MySQL projector before a rebuild.
pub(crate) async fn reset_tables(
    pool: &MySqlPool,
    name: &str,
    tables: &[&str],
) -> Result<(), ProjectionError> {
    let mut tx = begin(pool).await?;
    for table in tables {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("REPLACE INTO projection_checkpoints (name, tx_id, position) VALUES (?, 0, 0)")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn move_checkpoint(
    tx: &mut Transaction<'_, MySql>,
    name: &str,
    position: LogPosition,
) -> Result<(), ProjectionError> {
    sqlx::query("UPDATE projection_checkpoints SET tx_id = ?, position = ? WHERE name = ?")
        .bind(position.tx)
        .bind(position.position)
        .bind(name)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
