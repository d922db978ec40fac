//! Errors of projectors.

/// Why a projector could not apply a batch. Every variant is retried by the runtime; none
/// moves the checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("event store: {0}")]
    EventStore(#[from] shopcore_commands::error::StoreError),
    #[error("mysql: {0}")]
    Mysql(#[from] sqlx::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Another instance (or a rebuild) moved the checkpoint; the runner reloads it.
    #[error("checkpoint of {projector} moved from {expected} to {found} under us")]
    CheckpointMoved {
        projector: String,
        expected: u64,
        found: u64,
    },
    /// The read model does not match the events (an event would be applied out of order).
    #[error("read model out of step at position {position}: {reason}")]
    OutOfStep { position: u64, reason: String },
    #[error("event at position {position} cannot be decoded: {reason}")]
    Undecodable { position: u64, reason: String },
}
