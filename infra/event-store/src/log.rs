//! The global log: every stored event, in the order readers take them.
//!
//! Appends commit in parallel (see [`crate::append`]), so an event with a smaller `position`
//! may become visible after one with a larger. Readers therefore take only events of
//! transactions older than the oldest transaction still running — `tx_id <
//! pg_snapshot_xmin(pg_current_snapshot())`, all settled, committed or rolled back — in
//! `(tx_id, position)` order, and remember that pair ([`LogPosition`]) as their checkpoint. An
//! event that commits late belongs to a transaction at or above the horizon, so it sorts after
//! everything a reader could have taken before: nobody skips it. This is the scheme of Emmett's
//! PostgreSQL event store; Marten's alternative, a "high-water mark" of positions without gaps,
//! must guess how long a gap may stay open before it skips it, which is the very failure this
//! avoids. The price: one long transaction anywhere in the cluster holds every reader back,
//! which is why the write path has short timeouts.

use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::error::StoreError;
use crate::notify::CHANNEL;
use crate::position::LogPosition;

/// One event as stored, with its place in the global log.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Id of the transaction that wrote the event.
    pub tx_id: u64,
    /// The event's position: unique, drawn when it was inserted.
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
    /// The event's place in the read order of the log.
    pub fn log_position(&self) -> LogPosition {
        LogPosition::new(self.tx_id, self.position)
    }

    /// A metadata entry such as `correlationId` or `traceparent`.
    pub fn metadata_str(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(Value::as_str)
    }
}

/// How far a reader is behind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lag {
    /// Settled events after the reader's checkpoint (counted up to the cap given).
    pub events: u64,
    /// Age of the oldest of them (zero when there is none).
    pub seconds: f64,
}

/// Reader of the global log.
#[derive(Clone, Debug)]
pub struct GlobalLog {
    pool: PgPool,
}

const SELECT_EVENTS: &str =
    "SELECT tx_id::text::bigint AS tx, position, event_id, aggregate_type, aggregate_id, sequence,
        event_type, event_version, payload, metadata, recorded_at FROM events";

/// Events after `($1, $2)` in read order, below the horizon of settled transactions.
const AFTER: &str = "(tx_id, position) > ($1::bigint::text::xid8, $2)
     AND tx_id < pg_snapshot_xmin(pg_current_snapshot())";

// What readers ask over and over, each in a form whose generic plan reads the
// `(tx_id, position)` (or `position`) index from where the reader is, never the table:
// `tests/global_log.rs` checks each plan on a log of 20 000 events.

/// Up to `$3` settled events after `($1, $2)`, in read order.
pub(crate) static READ_AFTER: LazyLock<String> =
    LazyLock::new(|| format!("{SELECT_EVENTS} WHERE {AFTER} ORDER BY tx_id, position LIMIT $3"));

/// The same, of the aggregate types `$4` only.
pub(crate) static READ_AFTER_OF_TYPES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{SELECT_EVENTS} WHERE {AFTER} AND aggregate_type = ANY($4)
         ORDER BY tx_id, position LIMIT $3"
    )
});

/// How many settled events (up to `$3`) follow `($1, $2)`, and the age of the first.
pub(crate) static LAG: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT count(*) AS events, extract(epoch FROM now() - min(recorded_at))::float8 AS seconds
         FROM (SELECT recorded_at FROM events WHERE {AFTER}
               ORDER BY tx_id, position LIMIT $3) settled"
    )
});

/// The last settled event. (The sort names the table's columns: a bare `tx_id` would be the
/// output column of that name, the bigint, and sort the whole table.)
pub(crate) const HEAD: &str = "SELECT tx_id::text::bigint, position FROM events
     WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY events.tx_id DESC, events.position DESC LIMIT 1";

/// Whether `($1, $2)` is an event of the log.
pub(crate) const CONTAINS: &str =
    "SELECT EXISTS (SELECT 1 FROM events WHERE position = $2 AND tx_id = $1::bigint::text::xid8)";

/// Whether the log's last event is after `($1, $2)`: one entry read from the end of the
/// `(tx_id, position)` index, however long the log. (`EXISTS (… WHERE (tx_id, position) > …)`
/// says the same, but a prepared statement's generic plan cannot tell how many rows match and
/// scans the table for the first one: every idle reader read the whole log once a second.)
pub(crate) const HELD_BACK: &str = "SELECT COALESCE(
     (SELECT (tx_id, position) > ($1::bigint::text::xid8, $2) FROM events
      ORDER BY tx_id DESC, position DESC LIMIT 1), false)";

impl GlobalLog {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Up to `limit` settled events after `after`, in read order, optionally only of the given
    /// aggregate types.
    pub async fn read_after(
        &self,
        after: LogPosition,
        limit: u32,
        aggregate_types: Option<&[&str]>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let (tx, position) = after.as_i64();
        let rows = match aggregate_types {
            None => {
                sqlx::query(&READ_AFTER)
                    .bind(tx)
                    .bind(position)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?
            }
            Some(types) => {
                sqlx::query(&READ_AFTER_OF_TYPES)
                    .bind(tx)
                    .bind(position)
                    .bind(i64::from(limit))
                    .bind(types)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(decode).collect()
    }

    /// True when committed events follow `after`, settled or not. Asked after a read that
    /// returned nothing: they wait behind a transaction still running, or committed (and
    /// settled) since that read, so the reader should look again soon rather than wait for the
    /// next append. (Checking only for unsettled ones would race with the horizon moving on
    /// between the two statements.)
    pub async fn held_back(&self, after: LogPosition) -> Result<bool, StoreError> {
        let (tx, position) = after.as_i64();
        Ok(sqlx::query_scalar(HELD_BACK)
            .bind(tx)
            .bind(position)
            .fetch_one(&self.pool)
            .await?)
    }

    /// How far `after` is behind the settled end of the log; events are counted up to `cap`.
    pub async fn lag(&self, after: LogPosition, cap: u32) -> Result<Lag, StoreError> {
        let (tx, position) = after.as_i64();
        let row = sqlx::query(&LAG)
            .bind(tx)
            .bind(position)
            .bind(i64::from(cap))
            .fetch_one(&self.pool)
            .await?;
        Ok(Lag {
            events: row.try_get::<i64, _>("events").unwrap_or(0) as u64,
            seconds: row
                .try_get::<Option<f64>, _>("seconds")
                .ok()
                .flatten()
                .unwrap_or(0.0)
                .max(0.0),
        })
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

    /// The event at `position`, if the log holds it.
    pub async fn event_at(&self, position: LogPosition) -> Result<Option<StoredEvent>, StoreError> {
        let (tx, position) = position.as_i64();
        let row = sqlx::query(&format!(
            "{SELECT_EVENTS} WHERE position = $2 AND tx_id = $1::bigint::text::xid8"
        ))
        .bind(tx)
        .bind(position)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(decode).transpose()
    }

    /// The last settled event's place in the log ([`LogPosition::START`] for an empty log).
    pub async fn head(&self) -> Result<LogPosition, StoreError> {
        let row: Option<(i64, i64)> = sqlx::query_as(HEAD).fetch_optional(&self.pool).await?;
        Ok(row.map_or(LogPosition::START, |(tx, position)| {
            LogPosition::new(tx as u64, position as u64)
        }))
    }

    /// Whether `position` names a stored event (or is [`LogPosition::START`]). A read that asks
    /// to see a position the log does not hold can never be served.
    pub async fn contains(&self, position: LogPosition) -> Result<bool, StoreError> {
        if position.is_start() {
            return Ok(true);
        }
        let (tx, position) = position.as_i64();
        Ok(sqlx::query_scalar(CONTAINS)
            .bind(tx)
            .bind(position)
            .fetch_one(&self.pool)
            .await?)
    }

    /// The checkpoint of the current scheme for a reader that had handled every event up to
    /// `position` under the old one (positions in commit order): the place just before the
    /// first event above `position`, so nothing is skipped.
    pub async fn upgrade_legacy_checkpoint(
        &self,
        position: u64,
    ) -> Result<LogPosition, StoreError> {
        let first_left: Option<(i64, i64)> = sqlx::query_as(
            "SELECT tx_id::text::bigint, position - 1 FROM events WHERE position > $1
             ORDER BY events.tx_id, events.position LIMIT 1",
        )
        .bind(position as i64)
        .fetch_optional(&self.pool)
        .await?;
        if let Some((tx, position)) = first_left {
            return Ok(LogPosition::new(tx as u64, position as u64));
        }
        let last: Option<(i64, i64)> = sqlx::query_as(
            "SELECT tx_id::text::bigint, position FROM events
             ORDER BY events.tx_id DESC, events.position DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(last.map_or(LogPosition::START, |(tx, position)| {
            LogPosition::new(tx as u64, position as u64)
        }))
    }

    /// A listener that is notified when appends commit. Use with [`Self::wait_for_append`].
    pub async fn listen(&self) -> Result<PgListener, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
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
        tx_id: row.try_get::<i64, _>("tx").map_err(corrupt)? as u64,
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
