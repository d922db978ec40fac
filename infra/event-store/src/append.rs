//! Appending a command's events in one transaction — unique claims, events, idempotency
//! record, and the events of one linked aggregate when the command has them — sent as one
//! statement (`shopcore_append`, `shopcore_append_linked`, see their migrations) and committed
//! on its own: one round trip per command.
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
    /// The claimed key whose record the append completes (see [`crate::idempotency`]).
    pub idempotency: Option<&'a crate::IdempotencyKey>,
    /// Events of a second aggregate that commit with these or not at all (a checkout and the
    /// redemption of its coupon), each stream checked against its own version.
    pub linked: Option<LinkedEvents>,
}

/// Events of another aggregate, decided on its `version`, appended in the same transaction.
#[derive(Debug, Clone)]
pub struct LinkedEvents {
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    pub version: u64,
    event_types: Vec<String>,
    event_versions: Vec<String>,
    payloads: Vec<Value>,
}

impl LinkedEvents {
    /// `events` of aggregate `B` with id `aggregate_id`, decided on `version`.
    pub fn of<B: Aggregate>(
        aggregate_id: impl Into<String>,
        version: u64,
        events: &[B::Event],
    ) -> Result<Self, AppendError> {
        let mut linked = Self {
            aggregate_type: B::TYPE,
            aggregate_id: aggregate_id.into(),
            version,
            event_types: Vec::with_capacity(events.len()),
            event_versions: Vec::with_capacity(events.len()),
            payloads: Vec::with_capacity(events.len()),
        };
        for (index, event) in events.iter().enumerate() {
            linked.event_types.push(event.event_type());
            linked.event_versions.push(event.event_version());
            linked.payloads.push(payload(index, event)?);
        }
        Ok(linked)
    }

    /// The linked aggregate's version after the append.
    pub fn version_after(&self) -> u64 {
        self.version + self.payloads.len() as u64
    }

    fn sequences(&self) -> Vec<i64> {
        (1..=self.payloads.len() as u64)
            .map(|n| (self.version + n) as i64)
            .collect()
    }
}

/// An event as the store keeps it, refused when larger than [`MAX_EVENT_PAYLOAD_BYTES`].
fn payload<E: serde::Serialize>(index: usize, event: &E) -> Result<Value, AppendError> {
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
    Ok(payload)
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

const EVENTS_PKEY: &str = "events_pkey";
/// SQLSTATE `shopcore_append` raises when a unique value is held by another aggregate.
const CLAIM_TAKEN: &str = "SC001";

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
            payloads.push(payload(index, event)?);
        }

        let mut kinds = Vec::with_capacity(request.claims.len());
        let mut scopes = Vec::with_capacity(request.claims.len());
        let mut values = Vec::with_capacity(request.claims.len());
        for claim in &request.claims {
            let (kind, scope, value) = match claim {
                UniqueClaim::Claim { scope, value, .. } => ("claim", *scope, value.as_str()),
                UniqueClaim::Release { scope, value } => ("release", *scope, value.as_str()),
            };
            kinds.push(kind);
            scopes.push(scope);
            values.push(value);
        }
        // One statement, committed on its own: see the migration of `shopcore_append`.
        let (key, command_type, caller, fingerprint) = match request.idempotency {
            Some(key) => (
                Some(key.key.as_str()),
                key.command_type.as_str(),
                key.caller.as_str(),
                key.fingerprint.as_slice(),
            ),
            None => (None, "", "", &[][..]),
        };
        let sql = if request.linked.is_some() {
            "SELECT tx, event_position FROM shopcore_append_linked($1, $2, $3, $4, $5, $6, $7, \
             $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
        } else {
            "SELECT tx, event_position
             FROM shopcore_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        };
        let query = sqlx::query_as(sql)
            .bind(A::TYPE)
            .bind(request.aggregate_id)
            .bind(&sequences)
            .bind(&types)
            .bind(&versions)
            .bind(&payloads)
            .bind(&request.metadata)
            .bind(&kinds)
            .bind(&scopes)
            .bind(&values)
            .bind(key)
            .bind(command_type)
            .bind(caller)
            .bind(fingerprint);
        let query = match &request.linked {
            Some(linked) => query
                .bind(linked.aggregate_type)
                .bind(&linked.aggregate_id)
                .bind(linked.sequences())
                .bind(&linked.event_types)
                .bind(&linked.event_versions)
                .bind(&linked.payloads),
            None => query,
        };
        let rows: Vec<(i64, i64)> = query
            .fetch_all(self.pool())
            .await
            .map_err(|error| append_error(error, &request))?;
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
        self.notifier().notify();
        Ok(appended)
    }
}

/// What a failed `shopcore_append` means.
fn append_error<A: Aggregate>(error: sqlx::Error, request: &AppendRequest<'_, A>) -> AppendError {
    if constraint_of(&error) == Some(EVENTS_PKEY) {
        return AppendError::VersionConflict {
            decided_on: request.version,
        };
    }
    let claimed_scope = error
        .as_database_error()
        .and_then(|db| db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>())
        .filter(|db| db.code() == CLAIM_TAKEN)
        .and_then(|db| db.detail().map(str::to_owned));
    if let Some(scope) = claimed_scope {
        let field = request
            .claims
            .iter()
            .find_map(|claim| match claim {
                UniqueClaim::Claim {
                    scope: s, field, ..
                } if *s == scope => Some(*field),
                _ => None,
            })
            .unwrap_or("value");
        return AppendError::UniqueViolation { scope, field };
    }
    error.into()
}

fn constraint_of(error: &sqlx::Error) -> Option<&str> {
    error.as_database_error().and_then(|e| e.constraint())
}
