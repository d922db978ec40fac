//! Appending a command's events in one transaction: unique claims, events, idempotency record.
//!
//! Nothing here takes a lock that outlives a statement: positions come from a sequence and the
//! transaction id is recorded with every event (see [`crate::log`] for why readers still skip
//! nothing). Concurrent appends to the same aggregate meet at the primary key
//! `(aggregate_type, aggregate_id, sequence)`: the second one fails with
//! [`AppendError::VersionConflict`] and writes nothing.

use cqrs_es::{Aggregate, DomainEvent};
use serde_json::Value;

use crate::error::{AppendError, StoreError};
use crate::position::LogPosition;
use crate::EventStore;

/// The largest event payload the store accepts, in bytes of JSON. Every read model and the
/// Kafka relay (whose default message limit is 1 MB) can hold an event of this size.
pub const MAX_EVENT_PAYLOAD_BYTES: usize = 256 * 1024;

/// A change to a value that must be unique across aggregates of a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UniqueClaim {
    /// Reserve `value` in `scope` for this aggregate; fails when another aggregate holds it.
    Claim {
        scope: &'static str,
        field: &'static str,
        value: String,
    },
    /// Give up `value` in `scope` if this aggregate holds it.
    Release { scope: &'static str, value: String },
}

/// What to append.
#[derive(Debug)]
pub struct AppendRequest<'a, A: Aggregate> {
    pub aggregate_id: &'a str,
    /// The version the events were decided on; the first event gets `version + 1`.
    pub version: u64,
    pub events: Vec<A::Event>,
    pub metadata: Value,
    pub claims: Vec<UniqueClaim>,
    pub idempotency_key: Option<&'a str>,
    pub command_type: &'a str,
}

/// The outcome of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The aggregate's version after the append.
    pub version: u64,
    /// Log position of the last appended event.
    pub position: LogPosition,
    pub events_written: u32,
}

/// The stored result of an earlier command with the same idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentResult {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub command_type: String,
    pub appended: Appended,
}

const EVENTS_PKEY: &str = "events_pkey";
const CLAIMS_PKEY: &str = "unique_claims_pkey";
const IDEMPOTENCY_PKEY: &str = "command_idempotency_pkey";

impl EventStore {
    /// Appends `request.events` after `request.version`, atomically with the claims and the
    /// idempotency record, then wakes the log's tailers.
    pub async fn append<A: Aggregate>(
        &self,
        request: AppendRequest<'_, A>,
    ) -> Result<Appended, AppendError> {
        let count = request.events.len();
        let mut sequences = Vec::with_capacity(count);
        let mut types = Vec::with_capacity(count);
        let mut versions = Vec::with_capacity(count);
        let mut payloads = Vec::with_capacity(count);
        for (index, event) in request.events.iter().enumerate() {
            sequences.push((request.version + index as u64 + 1) as i64);
            types.push(event.event_type());
            versions.push(event.event_version());
            let payload = serde_json::to_value(event)
                .map_err(|e| StoreError::Corrupt(format!("event does not serialise: {e}")))?;
            let bytes = payload.to_string().len();
            if bytes > MAX_EVENT_PAYLOAD_BYTES {
                return Err(AppendError::EventTooLarge {
                    index,
                    bytes,
                    limit: MAX_EVENT_PAYLOAD_BYTES,
                });
            }
            payloads.push(payload);
        }

        let mut tx = self.pool().begin().await?;
        for claim in &request.claims {
            apply_claim(&mut tx, claim, request.aggregate_id).await?;
        }
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             SELECT $1, $2, s, t, v, p, $7
             FROM unnest($3::bigint[], $4::text[], $5::text[], $6::jsonb[]) AS e(s, t, v, p)
             RETURNING tx_id::text::bigint, position",
        )
        .bind(A::TYPE)
        .bind(request.aggregate_id)
        .bind(&sequences)
        .bind(&types)
        .bind(&versions)
        .bind(&payloads)
        .bind(&request.metadata)
        .fetch_all(&mut *tx)
        .await
        .map_err(|error| match constraint_of(&error) {
            Some(EVENTS_PKEY) => AppendError::VersionConflict {
                decided_on: request.version,
            },
            _ => error.into(),
        })?;
        let position = rows
            .iter()
            .map(|&(tx, position)| LogPosition::new(tx as u64, position as u64))
            .max()
            .unwrap_or_default();
        let appended = Appended {
            version: request.version + count as u64,
            position,
            events_written: count as u32,
        };
        if let Some(key) = request.idempotency_key {
            let (tx_id, position) = position.as_i64();
            sqlx::query(
                "INSERT INTO command_idempotency
                   (idempotency_key, aggregate_type, aggregate_id, command_type, version, position, tx_id, events_written)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(key)
            .bind(A::TYPE)
            .bind(request.aggregate_id)
            .bind(request.command_type)
            .bind(appended.version as i64)
            .bind(position)
            .bind(tx_id)
            .bind(appended.events_written as i32)
            .execute(&mut *tx)
            .await
            .map_err(|error| match constraint_of(&error) {
                Some(IDEMPOTENCY_PKEY) => AppendError::IdempotencyRace,
                _ => error.into(),
            })?;
        }
        tx.commit().await?;
        self.notifier().notify();
        Ok(appended)
    }

    /// The stored result of the command first sent with `key`.
    pub async fn idempotent_result(
        &self,
        key: &str,
    ) -> Result<Option<IdempotentResult>, StoreError> {
        let row: Option<(String, String, String, i64, i64, i64, i32)> = sqlx::query_as(
            "SELECT aggregate_type, aggregate_id, command_type, version, tx_id, position, events_written
             FROM command_idempotency WHERE idempotency_key = $1",
        )
        .bind(key)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(
            |(aggregate_type, aggregate_id, command_type, version, tx, position, events)| {
                IdempotentResult {
                    aggregate_type,
                    aggregate_id,
                    command_type,
                    appended: Appended {
                        version: version as u64,
                        position: LogPosition::new(tx as u64, position as u64),
                        events_written: events as u32,
                    },
                }
            },
        ))
    }
}

async fn apply_claim(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    claim: &UniqueClaim,
    aggregate_id: &str,
) -> Result<(), AppendError> {
    match claim {
        UniqueClaim::Claim {
            scope,
            field,
            value,
        } => {
            let violation = || AppendError::UniqueViolation {
                scope: (*scope).to_owned(),
                field,
            };
            let inserted = sqlx::query(
                "INSERT INTO unique_claims (scope, value, aggregate_id) VALUES ($1, $2, $3)
                 ON CONFLICT (scope, value) DO UPDATE SET aggregate_id = excluded.aggregate_id
                 WHERE unique_claims.aggregate_id = excluded.aggregate_id",
            )
            .bind(scope)
            .bind(value)
            .bind(aggregate_id)
            .execute(&mut **tx)
            .await
            .map_err(|error| match constraint_of(&error) {
                Some(CLAIMS_PKEY) => violation(),
                _ => error.into(),
            })?;
            if inserted.rows_affected() == 0 {
                return Err(violation());
            }
        }
        UniqueClaim::Release { scope, value } => {
            sqlx::query(
                "DELETE FROM unique_claims WHERE scope = $1 AND value = $2 AND aggregate_id = $3",
            )
            .bind(scope)
            .bind(value)
            .bind(aggregate_id)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

fn constraint_of(error: &sqlx::Error) -> Option<&str> {
    error.as_database_error().and_then(|e| e.constraint())
}
