//! Errors of projectors, and which of them a retry can cure.

use shopcore_event_store::tail::TailError;
use shopcore_event_store::StoreError;

/// Why a projector could not apply a batch. None moves the checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("event store: {0}")]
    EventStore(#[from] StoreError),
    #[error("mysql: {0}")]
    Mysql(#[from] sqlx::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("{0}")]
    Couch(#[from] crate::couch::CouchError),
    /// Another instance (or a rebuild) moved the checkpoint; the runner reloads it.
    #[error("checkpoint of {projector} moved from {expected} to {found} under us")]
    CheckpointMoved {
        projector: String,
        expected: String,
        found: String,
    },
    /// The read model does not match the events (an event would be applied out of order).
    #[error("read model out of step: {reason}")]
    OutOfStep { reason: String },
    #[error("event cannot be decoded: {reason}")]
    Undecodable { reason: String },
}

/// MySQL error numbers about the data, not the server: a value the column cannot hold, a
/// duplicate key, a bad foreign key. Retrying the same event gives the same error.
const MYSQL_DATA_ERRORS: &[u16] = &[
    1048, // column cannot be null
    1062, // duplicate entry
    1264, // out of range value
    1265, // data truncated
    1292, // incorrect value
    1366, // incorrect string value (a character the charset cannot hold)
    1406, // data too long for column
    1451, 1452, // foreign key constraint
    3140, // invalid JSON
    4025, // CHECK constraint
];

impl ProjectionError {
    /// True when applying the same events again can never succeed.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::OutOfStep { .. } | Self::Undecodable { .. } => true,
            Self::EventStore(error) => !error.is_transient(),
            Self::Mysql(sqlx::Error::Database(db)) => db
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .is_some_and(|e| MYSQL_DATA_ERRORS.contains(&e.number())),
            Self::Mysql(sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_)) => true,
            // Redis refuses data only by type; everything else (OOM, READONLY, a lost
            // connection) passes.
            Self::Redis(error) => error.kind() == redis::ErrorKind::TypeError,
            // CouchDB refusing the request itself (bad request, a validation function); a
            // conflict, a server error or silence passes.
            Self::Couch(error) => error.is_permanent(),
            _ => false,
        }
    }

    /// A short, stable reason for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::EventStore(_) => "event_store",
            Self::Mysql(_) => "mysql",
            Self::Redis(_) => "redis",
            Self::Couch(_) => "couchdb",
            Self::CheckpointMoved { .. } => "checkpoint_moved",
            Self::OutOfStep { .. } => "out_of_step",
            Self::Undecodable { .. } => "undecodable",
        }
    }

    /// The error as the tail loop sorts it.
    pub fn into_tail(self) -> TailError {
        if self.is_permanent() {
            TailError::permanent(self.reason(), self)
        } else {
            TailError::transient(self.reason(), self)
        }
    }
}
