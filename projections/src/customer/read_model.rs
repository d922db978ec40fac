//! What the gateway reads: a customer, from the Redis snapshot when it is fresh enough, else from
//! MySQL; and waiting until the read model has reached a log position (read-your-writes).

use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use shopcore_event_store::LogPosition;
use sqlx::MySqlPool;
use uuid::Uuid;

use super::mysql::{find_customer, mysql_checkpoint, CustomerMysqlProjector};
use super::redis::cached_customer;
use super::CustomerView;

/// Errors reading the customer read model.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("mysql: {0}")]
    Mysql(#[from] sqlx::Error),
    /// The read model did not reach the requested position in time.
    #[error("read model is at position {reached}, not yet at {wanted}")]
    NotYetAt {
        wanted: LogPosition,
        reached: LogPosition,
    },
}

/// Queries over the customer read model.
#[derive(Clone)]
pub struct CustomerReadModel {
    mysql: MySqlPool,
    redis: ConnectionManager,
    redis_prefix: String,
}

impl CustomerReadModel {
    pub fn new(
        mysql: MySqlPool,
        redis: ConnectionManager,
        redis_prefix: impl Into<String>,
    ) -> Self {
        Self {
            mysql,
            redis,
            redis_prefix: redis_prefix.into(),
        }
    }

    /// The position the MySQL customer projection has reached.
    pub async fn position(&self) -> Result<LogPosition, ReadError> {
        Ok(mysql_checkpoint(&self.mysql, CustomerMysqlProjector::NAME).await?)
    }

    /// Waits (polling, at most `timeout`) until the projection has reached `wanted`.
    pub async fn wait_for(
        &self,
        wanted: LogPosition,
        timeout: Duration,
    ) -> Result<LogPosition, ReadError> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(5);
        loop {
            let reached = self.position().await?;
            if reached >= wanted {
                return Ok(reached);
            }
            if Instant::now() + pause > deadline {
                return Err(ReadError::NotYetAt { wanted, reached });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// A customer, from Redis when the snapshot is at least at `min_position`, else from MySQL.
    /// A Redis outage only costs the cache.
    pub async fn customer(
        &self,
        id: Uuid,
        min_position: LogPosition,
    ) -> Result<Option<CustomerView>, ReadError> {
        let mut redis = self.redis.clone();
        match cached_customer(&mut redis, &self.redis_prefix, id).await {
            Ok(Some(view)) if view.position >= min_position => return Ok(Some(view)),
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "redis unavailable, reading mysql"),
        }
        Ok(find_customer(&self.mysql, id).await?)
    }

    pub fn mysql(&self) -> &MySqlPool {
        &self.mysql
    }
}
