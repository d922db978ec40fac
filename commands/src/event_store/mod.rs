//! The Postgres event store.
//!
//! The schema is postgres-es's `events` table extended with a global log (see the migration in
//! `infra/migrations/postgres`). Aggregates are loaded through cqrs-es's plain event store over
//! [`postgres_es::PostgresEventRepository`] (no snapshots: cqrs-es 0.5.0 applies events twice with
//! its aggregate/snapshot stores). Appends go through [`EventStore::append`], which writes the
//! events, their unique claims and the idempotency record in one transaction and returns the
//! global positions the events got.

pub(crate) mod append;

use std::time::Duration;

use anyhow::Context as _;
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, AggregateError, EventStore as _};
use postgres_es::PostgresEventRepository;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

pub use append::{AppendRequest, Appended, IdempotentResult, UniqueClaim};

use crate::error::StoreError;

/// Migrations of the event store database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../infra/migrations/postgres");

/// Handle on the event store database.
#[derive(Clone, Debug)]
pub struct EventStore {
    pool: PgPool,
}

/// An aggregate as loaded from its events.
#[derive(Debug)]
pub struct LoadedAggregate<A> {
    pub aggregate: A,
    /// Number of events of the aggregate (0 when it does not exist yet).
    pub version: u64,
}

impl EventStore {
    /// Connects, creating the database when it is missing, and runs the migrations.
    pub async fn connect(database_url: &str, max_connections: u32) -> anyhow::Result<Self> {
        if !Postgres::database_exists(database_url)
            .await
            .context("while checking the event store database")?
        {
            // Two processes starting at once may both try; the loser's error is harmless.
            if let Err(error) = Postgres::create_database(database_url).await {
                if !Postgres::database_exists(database_url)
                    .await
                    .unwrap_or(false)
                {
                    return Err(error).context("while creating the event store database");
                }
            }
        }
        let options: PgConnectOptions =
            database_url.parse().context("while parsing DATABASE_URL")?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .context("while connecting to the event store")?;
        MIGRATOR
            .run(&pool)
            .await
            .context("while migrating the event store")?;
        Ok(Self { pool })
    }

    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Rebuilds an aggregate from all its events.
    pub async fn load<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<LoadedAggregate<A>, StoreError> {
        let store: PersistedEventStore<PostgresEventRepository, A> =
            PersistedEventStore::new_event_store(PostgresEventRepository::new(self.pool.clone()));
        let context = store
            .load_aggregate(aggregate_id)
            .await
            .map_err(load_error::<A>)?;
        Ok(LoadedAggregate {
            aggregate: context.aggregate,
            version: context.current_sequence as u64,
        })
    }

    /// The position of the newest event of an aggregate (0 when it has none).
    pub async fn latest_position(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<u64, StoreError> {
        let position: Option<i64> = sqlx::query_scalar(
            "SELECT max(position) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(aggregate_type)
        .bind(aggregate_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(position.unwrap_or(0) as u64)
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
}

fn load_error<A: Aggregate>(error: AggregateError<A::Error>) -> StoreError {
    match error {
        AggregateError::DatabaseConnectionError(e) => {
            StoreError::Corrupt(format!("connection: {e}"))
        }
        AggregateError::DeserializationError(e) => {
            StoreError::Corrupt(format!("deserialization: {e}"))
        }
        other => StoreError::Corrupt(other.to_string()),
    }
}
