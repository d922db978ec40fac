//! Issuing one cart's `Expire` through the cart's command pipeline.
//!
//! The command is `Expire { now }` with actor [`super::ACTOR`], no expected version and no
//! idempotency key: the aggregate itself makes it safe to repeat. An expired cart writes
//! nothing; an open cart is expired only when `now ≥ expiresAt` by the aggregate's own state,
//! whatever the read model said. Two sweepers at one cart meet at the event store's version
//! check: one appends `CartExpired`, the other's append fails as a version conflict, and
//! deciding once more on the new version answers "already expired" (or, when the other writer
//! was a shopper whose change slid the expiry, "not yet expired"). Either way the cart is
//! done for this round: a conflict is never a failure unless it repeats on every attempt.

use chrono::{DateTime, Utc};
use shopcore_domain::cart::{Cart, CartCommand, CartError};
use shopcore_domain::error_kind::DomainErrorKind;
use shopcore_event_store::LogPosition;
use uuid::Uuid;

use super::metrics;
use crate::error::CommandError;
use crate::metadata::CommandContext;
use crate::pipeline::CommandPipeline;

/// The command type of the sweep's commands.
pub const COMMAND_TYPE: &str = "cart.expire";

/// Tries per cart and round; only version conflicts are tried again.
const ATTEMPTS: u32 = 5;

/// What became of one cart the read model listed as due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// This sweep appended `CartExpired`, the cart's event number `version` at `position`.
    Expired {
        version: u64,
        position: LogPosition,
    },
    /// Expired already (by another sweeper or an earlier round): nothing written. `version`
    /// and `position` are those of its `CartExpired`, its last event.
    AlreadyExpired {
        version: u64,
        position: LogPosition,
    },
    /// Open until `expires_at`: a change slid its expiry after the read model listed it.
    NotYetExpired {
        expires_at: Option<DateTime<Utc>>,
    },
    /// Checked out, or merged into another cart, before it expired.
    CheckedOut,
    Merged,
    /// The event store has no such cart (the read model lists one it never had).
    Unknown,
}

impl Expiry {
    pub fn label(self) -> &'static str {
        match self {
            Self::Expired { .. } => "expired",
            Self::AlreadyExpired { .. } => "already_expired",
            Self::NotYetExpired { .. } => "not_yet_expired",
            Self::CheckedOut => "checked_out",
            Self::Merged => "merged",
            Self::Unknown => "unknown",
        }
    }
}

/// Why a cart was not dealt with this round (it is tried again at the next).
#[derive(Debug, thiserror::Error)]
pub enum ExpiryFailure {
    #[error("event store: {0}")]
    EventStore(CommandError),
    #[error("rejected: {0}")]
    Rejected(String),
    #[error("version conflicts on every attempt")]
    Conflict,
}

impl ExpiryFailure {
    pub fn label(&self) -> &'static str {
        match self {
            Self::EventStore(_) => "event_store",
            Self::Rejected(_) => "rejected",
            Self::Conflict => "conflict",
        }
    }
}

/// Expires `cart_id` if the aggregate says it is due, as `actor`.
pub async fn expire(
    pipeline: &CommandPipeline<Cart>,
    cart_id: Uuid,
    actor: &str,
) -> Result<Expiry, ExpiryFailure> {
    let id = cart_id.to_string();
    for attempt in 1..=ATTEMPTS {
        let mut context = CommandContext::new(COMMAND_TYPE, format!("cart-expiry:{id}"));
        context.actor = actor.to_owned();
        let command = CartCommand::Expire { now: Utc::now() };
        match pipeline.execute(&id, command, &context).await {
            Ok(done) if done.events_written > 0 => {
                return Ok(Expiry::Expired {
                    version: done.version,
                    position: done.position,
                })
            }
            // The aggregate writes nothing only for a cart that is expired already.
            Ok(done) => {
                return Ok(Expiry::AlreadyExpired {
                    version: done.version,
                    position: done.position,
                })
            }
            Err(CommandError::VersionConflict { current, .. }) => {
                metrics::CONFLICTS.inc();
                tracing::info!(
                    cart_id = %id,
                    current,
                    attempt,
                    "another writer appended first; deciding again"
                );
            }
            Err(CommandError::Rejected {
                kind: DomainErrorKind::NotFound,
                ..
            }) => return Ok(Expiry::Unknown),
            Err(CommandError::Rejected { message, .. }) => {
                return classify_refusal(pipeline, &id, message).await
            }
            Err(error) => return Err(ExpiryFailure::EventStore(error)),
        }
    }
    Err(ExpiryFailure::Conflict)
}

/// The outcome of a refused `Expire`, from the aggregate's reason.
async fn classify_refusal(
    pipeline: &CommandPipeline<Cart>,
    id: &str,
    message: String,
) -> Result<Expiry, ExpiryFailure> {
    if message == CartError::CheckedOut.to_string() {
        return Ok(Expiry::CheckedOut);
    }
    if message == CartError::Merged.to_string() {
        return Ok(Expiry::Merged);
    }
    if message != CartError::NotYetExpired.to_string() {
        return Err(ExpiryFailure::Rejected(message));
    }
    // Rare (the read model was behind a change): one more load for the new expiry, so the
    // sweep leaves the cart alone until then while the read model catches up.
    let expires_at = pipeline
        .store()
        .load::<Cart>(&crate::cart::cart_snapshots(), id)
        .await
        .map(|loaded| loaded.aggregate.expires_at)
        .map_err(|error| ExpiryFailure::EventStore(error.into()))?;
    Ok(Expiry::NotYetExpired { expires_at })
}
