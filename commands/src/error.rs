//! Errors of the command side: a rejected command is never confused with a store failure.

use shopcore_domain::error_kind::DomainErrorKind;
use shopcore_event_store::{AppendError, StoreError};
use shopcore_proto::ErrorCode;

/// A domain error the pipeline can classify.
pub trait DomainRejection: std::error::Error + Send + Sync + 'static {
    fn kind(&self) -> DomainErrorKind;
    fn field(&self) -> Option<&'static str>;
    /// What the caller needs besides the message to act on the refusal (the prices a checkout
    /// found changed), as JSON.
    fn detail(&self) -> Option<serde_json::Value> {
        None
    }
}

impl DomainRejection for shopcore_domain::cart::CartError {
    fn kind(&self) -> DomainErrorKind {
        self.kind()
    }
    fn field(&self) -> Option<&'static str> {
        self.field()
    }
    fn detail(&self) -> Option<serde_json::Value> {
        match self {
            Self::PricesChanged { changes } => serde_json::to_value(changes).ok(),
            _ => None,
        }
    }
}

impl DomainRejection for shopcore_domain::customer::CustomerError {
    fn kind(&self) -> DomainErrorKind {
        self.kind()
    }
    fn field(&self) -> Option<&'static str> {
        self.field()
    }
}

impl DomainRejection for shopcore_domain::catalog::ProductError {
    fn kind(&self) -> DomainErrorKind {
        self.kind()
    }
    fn field(&self) -> Option<&'static str> {
        self.field()
    }
}

impl DomainRejection for shopcore_domain::catalog::taxonomy::TaxonomyError {
    fn kind(&self) -> DomainErrorKind {
        self.kind()
    }
    fn field(&self) -> Option<&'static str> {
        self.field()
    }
}

/// Implements [`DomainRejection`] for error enums with `kind()` and `field()` of their own.
macro_rules! domain_rejections {
    ($($error:ty),* $(,)?) => {
        $(impl DomainRejection for $error {
            fn kind(&self) -> DomainErrorKind {
                self.kind()
            }
            fn field(&self) -> Option<&'static str> {
                self.field()
            }
        })*
    };
}

domain_rejections!(
    shopcore_domain::pricing::PriceBookError,
    shopcore_domain::pricing::PriceRuleError,
    shopcore_domain::pricing::PromotionError,
    shopcore_domain::pricing::CurrencyRateError,
);

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The aggregate refused the command.
    #[error("{message}")]
    Rejected {
        kind: DomainErrorKind,
        field: Option<&'static str>,
        message: String,
        /// See [`DomainRejection::detail`].
        detail: Option<serde_json::Value>,
    },
    /// The aggregate is not at the version the client expected, or another command won a race.
    #[error("{}", version_conflict_message(*expected, *current))]
    VersionConflict { expected: Option<u64>, current: u64 },
    /// A value that must be unique is claimed by another aggregate.
    #[error("{field}: value is already in use (unique within {scope})")]
    UniqueViolation { scope: String, field: &'static str },
    /// The idempotency key was first used with another request.
    #[error("idempotencyKey: the key was already used with a different request; use a new key for a new request")]
    IdempotencyKeyMismatch,
    /// The first request with this idempotency key is still running.
    #[error("idempotencyKey: a request with this key is still being processed; retry shortly")]
    IdempotencyKeyInUse,
    /// An event the command would write is larger than the store accepts.
    #[error("the change is too large to store ({bytes} bytes, at most {limit})")]
    TooLarge { bytes: usize, limit: usize },
    /// Other commands kept winning the race for an aggregate this one is linked to.
    #[error("too many concurrent changes to what this command also changes; retry shortly")]
    Busy,
    /// The event store failed; the command may be retried.
    #[error("event store failure: {0}")]
    Store(#[from] StoreError),
}

fn version_conflict_message(expected: Option<u64>, current: u64) -> String {
    match expected {
        Some(expected) => {
            format!("expected version {expected}, but the aggregate is at version {current}")
        }
        None => {
            format!("another command changed the aggregate first; it is now at version {current}")
        }
    }
}

/// An append's failure, with the version conflict still to be completed by the caller (the
/// store knows the version the events were decided on, not the current one).
impl From<AppendError> for CommandError {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::VersionConflict { decided_on } => Self::VersionConflict {
                expected: None,
                current: decided_on,
            },
            AppendError::UniqueViolation { scope, field } => Self::UniqueViolation { scope, field },
            AppendError::EventTooLarge { bytes, limit, .. } => Self::TooLarge { bytes, limit },
            AppendError::Store(error) => Self::Store(error),
        }
    }
}

impl CommandError {
    pub fn rejected<E: DomainRejection>(error: E) -> Self {
        Self::Rejected {
            kind: error.kind(),
            field: error.field(),
            message: error.to_string(),
            detail: error.detail(),
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
                DomainErrorKind::Unavailable => ErrorCode::Unavailable,
                DomainErrorKind::Gone => ErrorCode::Gone,
                DomainErrorKind::PricesChanged => ErrorCode::PricesChanged,
            },
            Self::VersionConflict { .. } => ErrorCode::VersionConflict,
            Self::UniqueViolation { .. } => ErrorCode::Conflict,
            Self::IdempotencyKeyMismatch => ErrorCode::Unprocessable,
            Self::IdempotencyKeyInUse | Self::Busy => ErrorCode::Unavailable,
            Self::TooLarge { .. } => ErrorCode::InvalidArgument,
            Self::Store(error) if error.is_transient() => ErrorCode::Unavailable,
            Self::Store(_) => ErrorCode::Internal,
        }
    }

    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Rejected { field, .. } => *field,
            Self::UniqueViolation { field, .. } => Some(field),
            Self::IdempotencyKeyMismatch | Self::IdempotencyKeyInUse => Some("idempotencyKey"),
            Self::VersionConflict { .. } => Some("expectedVersion"),
            Self::TooLarge { .. } | Self::Busy | Self::Store(_) => None,
        }
    }
}
