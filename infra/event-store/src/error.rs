//! Errors of the event store. They describe the store only; the command side wraps them in its
//! own error, and nothing here knows about commands or transports.

/// A failure of the event store itself.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached, or gave up on the statement (a timeout, a lock wait
    /// over `lock_timeout`): retrying later may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The database refused the statement.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// A stored row is not what the store expects (an undecodable event, a bad position).
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    /// The database schema is older or newer than this build expects.
    #[error("{0}")]
    Schema(String),
}

impl StoreError {
    /// True when retrying the same operation later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// SQLSTATEs of statements the server gave up on: `query_canceled` (statement_timeout),
/// `lock_not_available` (lock_timeout), `idle_in_transaction_session_timeout`,
/// `serialization_failure`, `deadlock_detected`, `admin_shutdown`, `cannot_connect_now`,
/// `too_many_connections`.
const TRANSIENT_SQLSTATES: &[&str] = &[
    "57014", "55P03", "25P03", "40001", "40P01", "57P01", "57P03", "53300",
];

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => Self::Unavailable(error),
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|code| TRANSIENT_SQLSTATES.contains(&code.as_ref())) =>
            {
                Self::Unavailable(error)
            }
            _ => Self::Database(error),
        }
    }
}

/// Why an append wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Another append reached the aggregate first: its version is no longer the one the events
    /// were decided on.
    #[error("the aggregate moved past version {decided_on}")]
    VersionConflict { decided_on: u64 },
    /// A value that must be unique within `scope` is held by another aggregate.
    #[error("{field}: value is already in use (unique within {scope})")]
    UniqueViolation { scope: String, field: &'static str },
    /// One event's payload is larger than the store accepts.
    #[error("event {index} is {bytes} bytes, more than the limit of {limit}")]
    EventTooLarge {
        index: usize,
        bytes: usize,
        limit: usize,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AppendError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(error.into())
    }
}
