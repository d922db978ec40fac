//! Errors of the command side: a rejected command is never confused with a store failure.

use shopcore_domain::error_kind::DomainErrorKind;
use shopcore_proto::ErrorCode;

/// A domain error the pipeline can classify.
pub trait DomainRejection: std::error::Error + Send + Sync + 'static {
    fn kind(&self) -> DomainErrorKind;
    fn field(&self) -> Option<&'static str>;
}

impl DomainRejection for shopcore_domain::customer::CustomerError {
    fn kind(&self) -> DomainErrorKind {
        self.kind()
    }
    fn field(&self) -> Option<&'static str> {
        self.field()
    }
}

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The aggregate refused the command.
    #[error("{message}")]
    Rejected {
        kind: DomainErrorKind,
        field: Option<&'static str>,
        message: String,
    },
    /// The aggregate is not at the version the client expected, or another command won a race.
    #[error("expected version {expected:?}, but the aggregate is at version {current}")]
    VersionConflict { expected: Option<u64>, current: u64 },
    /// A value that must be unique is claimed by another aggregate.
    #[error("{field}: value is already in use (unique within {scope})")]
    UniqueViolation { scope: String, field: &'static str },
    /// The idempotency key was first used for another command or aggregate.
    #[error("idempotencyKey: key was already used for {command_type} on {aggregate_id}")]
    IdempotencyKeyReused {
        command_type: String,
        aggregate_id: String,
    },
    /// The event store failed; the command may be retried.
    #[error("event store failure: {0}")]
    Store(#[from] StoreError),
}

impl CommandError {
    pub fn rejected<E: DomainRejection>(error: E) -> Self {
        Self::Rejected {
            kind: error.kind(),
            field: error.field(),
            message: error.to_string(),
        }
    }

    /// The shared code both edges report.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Rejected { kind, .. } => match kind {
                DomainErrorKind::InvalidArgument => ErrorCode::InvalidArgument,
                DomainErrorKind::NotFound => ErrorCode::NotFound,
                DomainErrorKind::Conflict => ErrorCode::Conflict,
                DomainErrorKind::FailedPrecondition => ErrorCode::FailedPrecondition,
            },
            Self::VersionConflict { .. } => ErrorCode::VersionConflict,
            Self::UniqueViolation { .. } => ErrorCode::Conflict,
            Self::IdempotencyKeyReused { .. } => ErrorCode::InvalidArgument,
            Self::Store(StoreError::Unavailable(_)) => ErrorCode::Unavailable,
            Self::Store(_) => ErrorCode::Internal,
        }
    }

    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Rejected { field, .. } => *field,
            Self::UniqueViolation { field, .. } => Some(field),
            Self::IdempotencyKeyReused { .. } => Some("idempotencyKey"),
            Self::VersionConflict { .. } => Some("expectedVersion"),
            Self::Store(_) => None,
        }
    }
}

/// A failure of the event store itself.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("stored event could not be read: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed => Self::Unavailable(error),
            other => Self::Database(other),
        }
    }
}
