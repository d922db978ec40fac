//! The global log: every stored event in position order.
//!
//! Positions are strictly increasing in commit order (see the event store migration), so a
//! reader that remembers the last position it handled and asks for what follows never skips an
//! event. [`GlobalLog::wait_for_append`] wakes a tailer as soon as an append commits.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::error::StoreError;

/// One event as stored, with its place in the global log.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub position: u64,
    pub event_id: Uuid,
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The aggregate's version after this event (1 for its first event).
    pub sequence: u64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
}

impl StoredEvent {
    /// A metadata entry such as `correlationId` or `traceparent`.
    pub fn metadata_str(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(Value::as_str)
    }
}

/// Reader of the global log.
#[derive(Clone, Debug)]
pub struct GlobalLog {
    pool: PgPool,
}

const SELECT_EVENTS: &str =
    "SELECT position, event_id, aggregate_type, aggregate_id, sequence, event_type,
        event_version, payload, metadata, recorded_at FROM events";

impl GlobalLog {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Up to `limit` events after `position`, in position order, optionally only of the given
    /// aggregate types.
    pub async fn read_after(
        &self,
        position: u64,
        limit: u32,
        aggregate_types: Option<&[&str]>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = match aggregate_types {
            None => {
                sqlx::query(&format!(
                    "{SELECT_EVENTS} WHERE position > $1 ORDER BY position LIMIT $2"
                ))
                .bind(position as i64)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
            Some(types) => {
                sqlx::query(&format!(
                    "{SELECT_EVENTS} WHERE position > $1 AND aggregate_type = ANY($3)
                     ORDER BY position LIMIT $2"
                ))
                .bind(position as i64)
                .bind(i64::from(limit))
                .bind(types)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(decode).collect()
    }

    /// Events of one aggregate, oldest first, up to and including `sequence` when given.
    pub async fn aggregate_events(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        up_to_sequence: Option<u64>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(&format!(
            "{SELECT_EVENTS} WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence <= $3
             ORDER BY sequence"
        ))
        .bind(aggregate_type)
        .bind(aggregate_id)
        .bind(up_to_sequence.map_or(i64::MAX, |s| s as i64))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    /// Position of the newest event (0 for an empty log).
    pub async fn head(&self) -> Result<u64, StoreError> {
        let head: Option<i64> = sqlx::query_scalar("SELECT max(position) FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(head.unwrap_or(0) as u64)
    }

    /// A listener that is notified when appends commit. Use with [`Self::wait_for_append`].
    pub async fn listen(&self) -> Result<PgListener, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen("shopcore_events").await?;
        Ok(listener)
    }

    /// Waits until an append commits or `timeout` passes, whichever is first.
    pub async fn wait_for_append(listener: &mut PgListener, timeout: Duration) {
        // A lost connection only costs latency: the caller polls again after the timeout.
        let _ = tokio::time::timeout(timeout, listener.recv()).await;
    }
}

fn decode(row: &sqlx::postgres::PgRow) -> Result<StoredEvent, StoreError> {
    let corrupt = |e: sqlx::Error| StoreError::Corrupt(e.to_string());
    Ok(StoredEvent {
        position: row.try_get::<i64, _>("position").map_err(corrupt)? as u64,
        event_id: row.try_get("event_id").map_err(corrupt)?,
        aggregate_type: row.try_get("aggregate_type").map_err(corrupt)?,
        aggregate_id: row.try_get("aggregate_id").map_err(corrupt)?,
        sequence: row.try_get::<i64, _>("sequence").map_err(corrupt)? as u64,
        event_type: row.try_get("event_type").map_err(corrupt)?,
        event_version: row.try_get("event_version").map_err(corrupt)?,
        payload: row.try_get("payload").map_err(corrupt)?,
        metadata: row.try_get("metadata").map_err(corrupt)?,
        recorded_at: row.try_get("recorded_at").map_err(corrupt)?,
    })
}
