//! Aggregate snapshots, so that a command's cost does not grow with its aggregate's history.
//!
//! The command pipeline saves the aggregate's state after an append that leaves
//! [`SnapshotPolicy::every`] or more events beyond the newest usable snapshot (so an aggregate
//! whose snapshot was invalidated gets a new one on its next command); loading starts from the newest snapshot and folds
//! only the events after it. A snapshot is an optimisation, never the truth: it is written after
//! the events commit (a failure to write it only costs speed), and it is ignored, and later
//! replaced, when its `schema` differs from the aggregate's policy's
//! [`SnapshotPolicy::schema`] or when it cannot be decoded. (cqrs-es 0.5.0's own snapshot
//! store applies events twice, hence this one.)

use cqrs_es::Aggregate;
use sqlx::PgPool;

use crate::error::StoreError;

/// When to take snapshots of an aggregate type, and which snapshots are still valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// Events between snapshots; 0 turns snapshots off.
    pub every: u64,
    /// Identifies the state's layout and the schema versions of the events folded into it. A
    /// snapshot saved under another value is ignored. Build it from the aggregate's state
    /// version and its events' schema version (see [`SnapshotPolicy::new`]), so that changing
    /// an event's version invalidates every snapshot without anyone having to remember it.
    pub schema: String,
}

impl SnapshotPolicy {
    /// A snapshot every `every` events, valid for this `state_version` of the aggregate's state
    /// and this `event_schema_version` of its events.
    pub fn new(
        aggregate_type: &str,
        every: u64,
        state_version: u32,
        event_schema_version: &str,
    ) -> Self {
        Self {
            every,
            schema: format!("{aggregate_type};state={state_version};events={event_schema_version}"),
        }
    }

    /// No snapshots: every load folds every event.
    pub fn disabled() -> Self {
        Self {
            every: 0,
            schema: String::new(),
        }
    }

    /// Whether to save a snapshot after a command, given how many events the aggregate has
    /// beyond its newest usable snapshot (folded on load plus just written).
    pub fn due(&self, events_since_snapshot: u64) -> bool {
        self.every > 0 && events_since_snapshot >= self.every
    }
}

/// A stored snapshot.
#[derive(Debug)]
pub struct Snapshot<A> {
    pub state: A,
    pub version: u64,
}

/// The newest usable snapshot of an aggregate.
pub async fn load<A: Aggregate>(
    pool: &PgPool,
    policy: &SnapshotPolicy,
    aggregate_id: &str,
) -> Result<Option<Snapshot<A>>, StoreError> {
    let row: Option<(i64, String, serde_json::Value)> = sqlx::query_as(
        "SELECT version, schema, state FROM aggregate_snapshots
         WHERE aggregate_type = $1 AND aggregate_id = $2",
    )
    .bind(A::TYPE)
    .bind(aggregate_id)
    .fetch_optional(pool)
    .await?;
    let Some((version, schema, state)) = row else {
        return Ok(None);
    };
    if policy.every == 0 || schema != policy.schema {
        tracing::debug!(
            aggregate_type = A::TYPE,
            aggregate_id,
            "snapshot of another schema ignored"
        );
        return Ok(None);
    }
    match serde_json::from_value(state) {
        Ok(state) => Ok(Some(Snapshot {
            state,
            version: version as u64,
        })),
        Err(error) => {
            tracing::warn!(aggregate_type = A::TYPE, aggregate_id, %error, "snapshot cannot be decoded; folding every event");
            Ok(None)
        }
    }
}

/// Saves `state` as the aggregate's snapshot at `version`, unless a newer one of the same
/// schema is stored.
pub async fn save<A: Aggregate>(
    pool: &PgPool,
    policy: &SnapshotPolicy,
    aggregate_id: &str,
    version: u64,
    state: &A,
) -> Result<(), StoreError> {
    let json = serde_json::to_value(state)
        .map_err(|e| StoreError::Corrupt(format!("snapshot of {}: {e}", A::TYPE)))?;
    sqlx::query(
        "INSERT INTO aggregate_snapshots (aggregate_type, aggregate_id, version, schema, state)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
           SET version = excluded.version, schema = excluded.schema, state = excluded.state,
               taken_at = now()
           WHERE aggregate_snapshots.version < excluded.version
              OR aggregate_snapshots.schema <> excluded.schema",
    )
    .bind(A::TYPE)
    .bind(aggregate_id)
    .bind(version as i64)
    .bind(&policy.schema)
    .bind(json)
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::SnapshotPolicy;

    #[test]
    fn due_once_enough_events_follow_the_snapshot() {
        let policy = SnapshotPolicy::new("customer", 100, 1, "1");
        assert!(!policy.due(99));
        assert!(policy.due(100));
        assert!(
            policy.due(10_000),
            "a history without a usable snapshot gets one"
        );
        assert!(!SnapshotPolicy::disabled().due(10_000));
    }

    #[test]
    fn the_schema_names_state_and_event_versions() {
        let v1 = SnapshotPolicy::new("customer", 100, 1, "1");
        assert_ne!(
            v1.schema,
            SnapshotPolicy::new("customer", 100, 1, "2").schema
        );
        assert_ne!(
            v1.schema,
            SnapshotPolicy::new("customer", 100, 2, "1").schema
        );
        assert_ne!(v1.schema, SnapshotPolicy::new("cart", 100, 1, "1").schema);
    }
}
