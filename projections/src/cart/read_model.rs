//! What the gateway, the sign-in merge and the expiry sweep read of carts: one cart, from the
//! Redis cache when it is fresh enough for the caller, else from MySQL once the MySQL
//! projection has reached the caller's position (read-your-writes); the session's open cart;
//! the customer's open cart; the open carts due for expiry.
//!
//! **The TTL disagreement.** The domain treats a cart as expired from the instant `expiresAt`
//! passes, while the read models only learn it from the `CartExpired` event that the expiry
//! sweep writes some time later (and Redis drops the key at `expiresAt` by its TTL). Every
//! answer here therefore applies the domain's rule itself: a cart stored as `open` whose
//! `expiresAt` ≤ now reads as `expired` ([`CartView::as_of`]), is nobody's open cart, and is
//! listed by [`CartReadModel::due_for_expiry`] until its `CartExpired` event arrives.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use shopcore_event_store::LogPosition;
use sqlx::MySqlPool;
use uuid::Uuid;

use super::mysql::{db_instant, find_cart, CartMysqlProjector};
use super::redis::cached_cart;
use super::CartView;
use crate::error::ProjectionError;
use crate::stores::mysql_checkpoint;

/// How long [`CartReadModel::get`] waits for MySQL to reach the caller's position by default
/// (the gateway's `READ_YOUR_WRITES_TIMEOUT_MS` default).
pub const DEFAULT_READ_YOUR_WRITES_TIMEOUT: Duration = Duration::from_secs(5);

/// Errors reading the cart read model.
#[derive(Debug, thiserror::Error)]
pub enum CartReadError {
    #[error("mysql: {0}")]
    Mysql(#[from] sqlx::Error),
    /// A stored row the projector's types do not read (a projector bug, never user input).
    #[error("cart read model: {0}")]
    Corrupt(String),
    /// The read model did not reach the requested position in time (answer 503, retry).
    #[error("read model is at position {reached}, not yet at {wanted}")]
    NotYetAt {
        wanted: LogPosition,
        reached: LogPosition,
    },
}

impl From<ProjectionError> for CartReadError {
    fn from(error: ProjectionError) -> Self {
        match error {
            ProjectionError::Mysql(error) => Self::Mysql(error),
            other => Self::Corrupt(other.to_string()),
        }
    }
}

/// Queries over the cart read model.
#[derive(Clone)]
pub struct CartReadModel {
    mysql: MySqlPool,
    redis: ConnectionManager,
    redis_prefix: String,
    read_your_writes_timeout: Duration,
}

impl CartReadModel {
    pub fn new(
        mysql: MySqlPool,
        redis: ConnectionManager,
        redis_prefix: impl Into<String>,
    ) -> Self {
        Self {
            mysql,
            redis,
            redis_prefix: redis_prefix.into(),
            read_your_writes_timeout: DEFAULT_READ_YOUR_WRITES_TIMEOUT,
        }
    }

    /// How long [`Self::get`] waits for MySQL to reach the caller's position.
    pub fn with_read_your_writes_timeout(mut self, timeout: Duration) -> Self {
        self.read_your_writes_timeout = timeout;
        self
    }

    /// The position the MySQL cart projection has reached.
    pub async fn position(&self) -> Result<LogPosition, CartReadError> {
        Ok(mysql_checkpoint(&self.mysql, CartMysqlProjector::NAME).await?)
    }

    /// Waits (polling, at most `timeout`) until the MySQL projection has reached `wanted`.
    pub async fn wait_for(
        &self,
        wanted: LogPosition,
        timeout: Duration,
    ) -> Result<LogPosition, CartReadError> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(5);
        loop {
            let reached = self.position().await?;
            if reached >= wanted {
                return Ok(reached);
            }
            if Instant::now() + pause > deadline {
                return Err(CartReadError::NotYetAt { wanted, reached });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// A cart as of now. From Redis when its cached view is at least at `min_position` (the
    /// position the caller was told about; [`LogPosition::START`] when none); else from MySQL,
    /// after waiting for the MySQL projection to reach `min_position`
    /// ([`CartReadError::NotYetAt`] when it does not in time). A Redis outage only costs the
    /// cache.
    pub async fn get(
        &self,
        cart_id: Uuid,
        min_position: LogPosition,
    ) -> Result<Option<CartView>, CartReadError> {
        let mut redis = self.redis.clone();
        match cached_cart(&mut redis, &self.redis_prefix, cart_id).await {
            Ok(Some(view)) if view.position >= min_position => {
                return Ok(Some(view.as_of(Utc::now())))
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "redis unavailable, reading mysql"),
        }
        if !min_position.is_start() {
            self.wait_for(min_position, self.read_your_writes_timeout)
                .await?;
        }
        Ok(find_cart(&self.mysql, cart_id)
            .await?
            .map(|view| view.as_of(Utc::now())))
    }

    /// The newest cart of this session that is open now (`sessionTokenHash`: SHA-256 of the
    /// session token, lower-case hex, as `shopcore_domain::cart::session_token_hash` makes it).
    pub async fn by_session_hash(
        &self,
        session_token_hash: &str,
    ) -> Result<Option<CartView>, CartReadError> {
        let now = Utc::now();
        let id: Option<String> = sqlx::query_scalar(
            "SELECT cart_id FROM carts
             WHERE session_token_hash = ? AND status = 'open' AND expires_at > ?
             ORDER BY created_at DESC, cart_id DESC LIMIT 1",
        )
        .bind(session_token_hash)
        .bind(db_instant(now))
        .fetch_optional(&self.mysql)
        .await?;
        let Some(id) = id else { return Ok(None) };
        let id = parse_id(&id)?;
        Ok(find_cart(&self.mysql, id)
            .await?
            .map(|view| view.as_of(now)))
    }

    /// The newest cart of this customer that is open now, if any (what a sign-in merges into).
    pub async fn open_cart_of_customer(
        &self,
        customer_id: Uuid,
    ) -> Result<Option<Uuid>, CartReadError> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT cart_id FROM carts
             WHERE customer_id = ? AND status = 'open' AND expires_at > ?
             ORDER BY created_at DESC, cart_id DESC LIMIT 1",
        )
        .bind(customer_id.to_string())
        .bind(db_instant(Utc::now()))
        .fetch_optional(&self.mysql)
        .await?;
        id.as_deref().map(parse_id).transpose()
    }

    /// Up to `limit` carts stored as open whose `expiresAt` ≤ `now`, soonest expired first,
    /// with their versions (for the sweep's expected version).
    pub async fn due_for_expiry(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(Uuid, u64)>, CartReadError> {
        let rows: Vec<(String, u64)> = sqlx::query_as(
            "SELECT cart_id, version FROM carts
             WHERE status = 'open' AND expires_at <= ?
             ORDER BY expires_at, cart_id LIMIT ?",
        )
        .bind(db_instant(now))
        .bind(limit)
        .fetch_all(&self.mysql)
        .await?;
        rows.into_iter()
            .map(|(id, version)| Ok((parse_id(&id)?, version)))
            .collect()
    }

    pub fn mysql(&self) -> &MySqlPool {
        &self.mysql
    }
}

fn parse_id(id: &str) -> Result<Uuid, CartReadError> {
    Uuid::parse_str(id).map_err(|e| CartReadError::Corrupt(format!("cart id {id:?}: {e}")))
}
