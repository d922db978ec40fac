//! Idempotency keys that cannot leak or collide (the IETF "Idempotency-Key" draft, as Stripe
//! implements it).
//!
//! A key belongs to a caller (the token's subject) and an operation (the command type), and
//! remembers a fingerprint of the first request. Before a keyed command runs, its key is
//! *claimed* with a pending record; the append completes the record in the same transaction as
//! the events. Then:
//!
//! - the same key with the same request, later: the first result ([`Claim::Replay`]);
//! - the same key with another request: refused ([`Claim::Mismatch`], 422), never the first
//!   result;
//! - a duplicate while the first still runs: waits for it, then replays it;
//! - a command that failed or changed nothing releases its claim, so a retry runs again;
//! - a claim left pending by a crash is taken over after [`ABANDONED_AFTER`];
//! - records older than the retention (24 h by default) count as absent and are purged.

use std::time::{Duration, Instant};

use crate::append::Appended;
use crate::error::StoreError;
use crate::position::LogPosition;
use crate::EventStore;

/// A pending claim older than this was left by a command that crashed; another may take it.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(30);
/// How long a duplicate waits for the first request before answering "retry".
pub const WAIT_FOR_FIRST: Duration = Duration::from_secs(10);

/// A key as the command side scopes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The token's subject.
    pub caller: String,
    /// The operation, e.g. `customer.register`.
    pub command_type: String,
    /// What the client sent.
    pub key: String,
    /// SHA-256 of the request the key was first used with.
    pub fingerprint: Vec<u8>,
}

/// The stored result of the first request with a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentResult {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub appended: Appended,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours: run the command.
    Claimed,
    /// The same request ran before: answer with its result.
    Replay(IdempotentResult),
    /// The key was first used with another request.
    Mismatch,
    /// The first request is still running after [`WAIT_FOR_FIRST`].
    StillRunning,
}

type Row = (bool, Vec<u8>, String, String, i64, i64, i64, i32);

impl EventStore {
    /// Claims `key` for a command about to run, or says why not; see the module documentation.
    pub async fn claim_idempotency_key(&self, key: &IdempotencyKey) -> Result<Claim, StoreError> {
        let retention = self.idempotency_retention();
        let deadline = Instant::now() + WAIT_FOR_FIRST;
        let mut pause = Duration::from_millis(10);
        loop {
            let claimed: Option<bool> = sqlx::query_scalar(
                "INSERT INTO command_idempotency (caller, command_type, idempotency_key, fingerprint,
                   aggregate_type, aggregate_id, version, position, tx_id, events_written,
                   completed, recorded_at)
                 VALUES ($1, $2, $3, $4, '', '', 0, 0, 0, 0, false, now())
                 ON CONFLICT (caller, command_type, idempotency_key) DO UPDATE
                   SET fingerprint = excluded.fingerprint, aggregate_type = '', aggregate_id = '',
                       version = 0, position = 0, tx_id = 0, events_written = 0,
                       completed = false, recorded_at = now()
                   WHERE command_idempotency.recorded_at < now() - make_interval(secs => $5)
                      OR (NOT command_idempotency.completed
                          AND command_idempotency.recorded_at < now() - make_interval(secs => $6))
                 RETURNING true",
            )
            .bind(&key.caller)
            .bind(&key.command_type)
            .bind(&key.key)
            .bind(&key.fingerprint)
            .bind(retention.as_secs_f64())
            .bind(ABANDONED_AFTER.as_secs_f64())
            .fetch_optional(self.pool())
            .await?;
            if claimed.is_some() {
                return Ok(Claim::Claimed);
            }
            let row: Option<Row> = sqlx::query_as(
                "SELECT completed, fingerprint, aggregate_type, aggregate_id, version, tx_id,
                        position, events_written
                 FROM command_idempotency
                 WHERE caller = $1 AND command_type = $2 AND idempotency_key = $3",
            )
            .bind(&key.caller)
            .bind(&key.command_type)
            .bind(&key.key)
            .fetch_optional(self.pool())
            .await?;
            match row {
                // Released or purged between the two statements: claim again.
                None => continue,
                Some((_, fingerprint, ..)) if fingerprint != key.fingerprint => {
                    return Ok(Claim::Mismatch)
                }
                Some((true, _, aggregate_type, aggregate_id, version, tx, position, events)) => {
                    return Ok(Claim::Replay(IdempotentResult {
                        aggregate_type,
                        aggregate_id,
                        appended: Appended {
                            version: version as u64,
                            position: LogPosition::new(tx as u64, position as u64),
                            events_written: events as u32,
                        },
                    }))
                }
                Some((false, ..)) => {
                    if Instant::now() + pause > deadline {
                        return Ok(Claim::StillRunning);
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
            }
        }
    }

    /// Gives up a claim whose command wrote nothing (rejected, failed, or a no-op), so that a
    /// retry runs again.
    pub async fn release_idempotency_key(&self, key: &IdempotencyKey) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM command_idempotency
             WHERE caller = $1 AND command_type = $2 AND idempotency_key = $3 AND NOT completed",
        )
        .bind(&key.caller)
        .bind(&key.command_type)
        .bind(&key.key)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Deletes records older than the retention; returns how many.
    pub async fn purge_idempotency_keys(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM command_idempotency WHERE recorded_at < now() - make_interval(secs => $1)",
        )
        .bind(self.idempotency_retention().as_secs_f64())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}
