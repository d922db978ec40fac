//! [`EventStore`]: the connection pool of the write path, and loading aggregates.
//!
//! Connections carry `statement_timeout`, `lock_timeout` and
//! `idle_in_transaction_session_timeout`, so a stalled writer (a client that stops half-way, a
//! lock wait behind a long transaction) costs its own command, never everyone's: appends commit
//! in parallel and no lock outlives a bounded statement.
//!
//! An aggregate is loaded from its newest snapshot (see [`crate::snapshot`]) and the events
//! after it, read through postgres-es's event repository and folded with the aggregate's own
//! `apply`.

use std::sync::Arc;
use std::time::Duration;

use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
use cqrs_es::{Aggregate, EventEnvelope};
use postgres_es::PostgresEventRepository;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use crate::error::StoreError;
use crate::notify::AppendNotifier;
use crate::snapshot::{self, SnapshotPolicy};

/// How to connect.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    /// Longest a statement may run.
    pub statement_timeout: Duration,
    /// Longest a statement may wait for a lock (another append's unique claim, say).
    pub lock_timeout: Duration,
    /// Longest a transaction may sit idle between statements before the server ends it.
    pub idle_in_transaction_timeout: Duration,
    /// Longest to wait for a free connection of the pool.
    pub acquire_timeout: Duration,
    /// How long idempotency keys are remembered.
    pub idempotency_retention: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            statement_timeout: Duration::from_secs(5),
            lock_timeout: Duration::from_secs(2),
            idle_in_transaction_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(5),
            idempotency_retention: Duration::from_secs(24 * 3600),
        }
    }
}

impl StoreOptions {
    pub fn with_max_connections(mut self, max_connections: u32) -> Self {
        self.max_connections = max_connections;
        self
    }
}

/// Handle on the event store database.
#[derive(Clone, Debug)]
pub struct EventStore {
    pool: PgPool,
    notifier: Arc<AppendNotifier>,
    idempotency_retention: Duration,
}

/// An aggregate as loaded from its snapshot and events.
#[derive(Debug)]
pub struct LoadedAggregate<A> {
    pub aggregate: A,
    /// Number of events of the aggregate (0 when it does not exist yet).
    pub version: u64,
    /// Events folded on top of the snapshot (all of them without one).
    pub events_folded: u64,
}

/// Creates the database when it is missing. Only the owner of the schema calls this.
pub async fn create_database_if_missing(database_url: &str) -> Result<(), StoreError> {
    if Postgres::database_exists(database_url).await? {
        return Ok(());
    }
    // Two processes starting at once may both try; the loser's error is harmless.
    if let Err(error) = Postgres::create_database(database_url).await {
        if !Postgres::database_exists(database_url)
            .await
            .unwrap_or(false)
        {
            return Err(error.into());
        }
    }
    Ok(())
}

/// A pool on `database_url` with the timeouts of `options` set on every connection.
pub async fn connect_pool(
    database_url: &str,
    options: &StoreOptions,
) -> Result<PgPool, StoreError> {
    let millis = |d: Duration| d.as_millis().to_string();
    let connect: PgConnectOptions = database_url
        .parse()
        .map_err(|e| StoreError::Schema(format!("DATABASE_URL is not a Postgres URL: {e}")))?;
    let connect = connect.application_name("shopcore").options([
        ("statement_timeout", millis(options.statement_timeout)),
        ("lock_timeout", millis(options.lock_timeout)),
        (
            "idle_in_transaction_session_timeout",
            millis(options.idle_in_transaction_timeout),
        ),
    ]);
    Ok(PgPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect)
        .await?)
}

impl EventStore {
    /// Connects to an existing event store. The schema is not touched: see [`crate::schema`].
    pub async fn connect(database_url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let mut store = Self::from_pool(connect_pool(database_url, options).await?);
        store.idempotency_retention = options.idempotency_retention;
        Ok(store)
    }

    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            notifier: Arc::new(AppendNotifier::new(pool.clone())),
            pool,
            idempotency_retention: StoreOptions::default().idempotency_retention,
        }
    }

    /// How long idempotency keys are remembered.
    pub fn idempotency_retention(&self) -> Duration {
        self.idempotency_retention
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) fn notifier(&self) -> &AppendNotifier {
        &self.notifier
    }

    /// Rebuilds an aggregate from its newest usable snapshot and the events after it.
    pub async fn load<A: Aggregate>(
        &self,
        policy: &SnapshotPolicy,
        aggregate_id: &str,
    ) -> Result<LoadedAggregate<A>, StoreError> {
        let (mut aggregate, mut version) =
            match snapshot::load::<A>(&self.pool, policy, aggregate_id).await? {
                Some(snapshot) => (snapshot.state, snapshot.version),
                None => (A::default(), 0),
            };
        let repository = PostgresEventRepository::new(self.pool.clone());
        let events = if version == 0 {
            repository.get_events::<A>(aggregate_id).await
        } else {
            repository
                .get_last_events::<A>(aggregate_id, version as usize)
                .await
        }
        .map_err(|e| StoreError::Corrupt(format!("loading {} {aggregate_id}: {e}", A::TYPE)))?;
        let events_folded = events.len() as u64;
        for serialized in events {
            let sequence = serialized.sequence as u64;
            if sequence != version + 1 {
                return Err(StoreError::Corrupt(format!(
                    "{} {aggregate_id}: event {sequence} follows version {version}",
                    A::TYPE
                )));
            }
            aggregate.apply(decode::<A>(serialized)?);
            version = sequence;
        }
        Ok(LoadedAggregate {
            aggregate,
            version,
            events_folded,
        })
    }

    /// The current version (number of events) of an aggregate.
    pub async fn current_version(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<u64, StoreError> {
        let version: Option<i64> = sqlx::query_scalar(
            "SELECT max(sequence) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(aggregate_type)
        .bind(aggregate_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(version.unwrap_or(0) as u64)
    }

    /// Which aggregate holds a unique value, if any.
    pub async fn claim_owner(
        &self,
        scope: &str,
        value: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT aggregate_id FROM unique_claims WHERE scope = $1 AND value = $2",
        )
        .bind(scope)
        .bind(value)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Which aggregates hold any of `values` in `scope`: (value, aggregate id) of each held one,
    /// in one query.
    pub async fn claim_owners(
        &self,
        scope: &str,
        values: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT value, aggregate_id FROM unique_claims WHERE scope = $1 AND value = ANY($2)",
        )
        .bind(scope)
        .bind(values)
        .fetch_all(&self.pool)
        .await?)
    }
}

fn decode<A: Aggregate>(serialized: SerializedEvent) -> Result<A::Event, StoreError> {
    let sequence = serialized.sequence;
    let id = serialized.aggregate_id.clone();
    EventEnvelope::<A>::try_from(serialized)
        .map(|envelope| envelope.payload)
        .map_err(|e| {
            StoreError::Corrupt(format!(
                "{} {id}: event {sequence} cannot be decoded: {e}",
                A::TYPE
            ))
        })
}

impl EventStore {
    /// The log position of an aggregate's newest event ([`LogPosition::START`] when it has none).
    pub async fn latest_position(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<crate::LogPosition, StoreError> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT tx_id::text::bigint, position FROM events
             WHERE aggregate_type = $1 AND aggregate_id = $2
             ORDER BY sequence DESC LIMIT 1",
        )
        .bind(aggregate_type)
        .bind(aggregate_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map_or(crate::LogPosition::START, |(tx, position)| {
            crate::LogPosition::new(tx as u64, position as u64)
        }))
    }
}
