//! Appending a command's events in one transaction: unique claims, events, idempotency record.

use cqrs_es::{Aggregate, DomainEvent};
use serde_json::Value;
use sqlx::Row;

use super::EventStore;
use crate::error::{CommandError, StoreError};

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
    /// Global position of the last appended event.
    pub position: u64,
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
    /// idempotency record. A concurrent append to the same aggregate makes this one fail with
    /// [`CommandError::VersionConflict`]; nothing is written then.
    pub async fn append<A: Aggregate>(
        &self,
        request: AppendRequest<'_, A>,
    ) -> Result<Appended, CommandError> {
        let count = request.events.len();
        let mut sequences = Vec::with_capacity(count);
        let mut types = Vec::with_capacity(count);
        let mut versions = Vec::with_capacity(count);
        let mut payloads = Vec::with_capacity(count);
        for (offset, event) in request.events.iter().enumerate() {
            sequences.push((request.version + offset as u64 + 1) as i64);
            types.push(event.event_type());
            versions.push(event.event_version());
            payloads
                .push(serde_json::to_value(event).map_err(|e| StoreError::Corrupt(e.to_string()))?);
        }

        let mut tx = self.pool.begin().await.map_err(StoreError::from)?;
        for claim in &request.claims {
            apply_claim(&mut tx, claim, request.aggregate_id).await?;
        }
        // The position trigger takes the append lock here; keep the rest of the transaction short.
        let rows = sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             SELECT $1, $2, s, t, v, p, $7
             FROM unnest($3::bigint[], $4::text[], $5::text[], $6::jsonb[]) AS e(s, t, v, p)
             RETURNING position",
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
            Some(EVENTS_PKEY) => CommandError::VersionConflict {
                expected: Some(request.version),
                current: request.version,
            },
            _ => StoreError::from(error).into(),
        })?;
        let position = rows
            .iter()
            .map(|row| row.get::<i64, _>("position"))
            .max()
            .unwrap_or_default();
        let appended = Appended {
            version: request.version + count as u64,
            position: position as u64,
            events_written: count as u32,
        };
        if let Some(key) = request.idempotency_key {
            sqlx::query(
                "INSERT INTO command_idempotency
                   (idempotency_key, aggregate_type, aggregate_id, command_type, version, position, events_written)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(key)
            .bind(A::TYPE)
            .bind(request.aggregate_id)
            .bind(request.command_type)
            .bind(appended.version as i64)
            .bind(appended.position as i64)
            .bind(appended.events_written as i32)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(appended)
    }

    /// The stored result of the command first sent with `key`.
    pub async fn idempotent_result(
        &self,
        key: &str,
    ) -> Result<Option<IdempotentResult>, StoreError> {
        let row = sqlx::query(
            "SELECT aggregate_type, aggregate_id, command_type, version, position, events_written
             FROM command_idempotency WHERE idempotency_key = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| IdempotentResult {
            aggregate_type: row.get("aggregate_type"),
            aggregate_id: row.get("aggregate_id"),
            command_type: row.get("command_type"),
            appended: Appended {
                version: row.get::<i64, _>("version") as u64,
                position: row.get::<i64, _>("position") as u64,
                events_written: row.get::<i32, _>("events_written") as u32,
            },
        }))
    }
}

/// Whether an append failed only because a concurrent call with the same idempotency key won.
pub(crate) fn is_idempotency_race(error: &CommandError) -> bool {
    matches!(error, CommandError::Store(StoreError::Database(e)) if constraint_of(e) == Some(IDEMPOTENCY_PKEY))
}

async fn apply_claim(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    claim: &UniqueClaim,
    aggregate_id: &str,
) -> Result<(), CommandError> {
    match claim {
        UniqueClaim::Claim {
            scope,
            field,
            value,
        } => {
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
                Some(CLAIMS_PKEY) => CommandError::UniqueViolation {
                    scope: (*scope).to_owned(),
                    field,
                },
                _ => StoreError::from(error).into(),
            })?;
            if inserted.rows_affected() == 0 {
                return Err(CommandError::UniqueViolation {
                    scope: (*scope).to_owned(),
                    field,
                });
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
            .await
            .map_err(StoreError::from)?;
        }
    }
    Ok(())
}

fn constraint_of(error: &sqlx::Error) -> Option<&str> {
    error.as_database_error().and_then(|e| e.constraint())
}
