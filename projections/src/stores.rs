//! Connections to the read-model stores: MySQL (migrated on connect) and Redis.

use std::time::Duration;

use anyhow::Context as _;
use sqlx::migrate::MigrateDatabase;
use sqlx::mysql::MySqlPoolOptions;
use sqlx::{MySql, MySqlPool};

/// Migrations of the MySQL read-model database.
pub static MYSQL_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../infra/migrations/mysql");

/// Connects to MySQL, creating the database when missing, and runs the migrations.
pub async fn connect_mysql(url: &str) -> anyhow::Result<MySqlPool> {
    if !MySql::database_exists(url)
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
    migrate_mysql(&pool)
        .await
        .context("while migrating the MySQL read models")?;
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
pub async fn connect_redis(url: &str) -> anyhow::Result<redis::aio::ConnectionManager> {
    let client = redis::Client::open(url).context("while parsing REDIS_URL")?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(2))
        .set_response_timeout(Duration::from_secs(2))
        .set_number_of_retries(2);
    redis::aio::ConnectionManager::new_with_config(client, config)
        .await
        .context("while connecting to Redis")
}
