//! Issuing one scheduled activation through the promotion's command pipeline.
//!
//! The command is `ActivateScheduledPromotion { scheduled_for, now }` with actor
//! [`super::ACTOR`] and an idempotency key of the promotion id and the scheduled instant, bound
//! to a fingerprint of that key (not of `now`, which differs between schedulers). Of two
//! schedulers at the same promotion, the second finds the key taken (it waits and then gets the
//! first one's result) or, without the key, loses the append's version check and, after
//! reloading, finds the promotion active. Either way one `PromotionActivated` is written.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use shopcore_domain::error_kind::DomainErrorKind;
use shopcore_domain::pricing::{Promotion, PromotionCommand};

use super::due::DuePromotion;
use super::metrics;
use crate::error::CommandError;
use crate::metadata::CommandContext;
use crate::pipeline::CommandPipeline;

/// The command type of the scheduler's activations (the idempotency key's scope).
pub const COMMAND_TYPE: &str = "promotion.activate_scheduled";

/// Tries per promotion and tick, for version conflicts and a key another scheduler holds.
const ATTEMPTS: u32 = 6;

/// What became of one due promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// This scheduler wrote `PromotionActivated`.
    Activated,
    /// Active already: another scheduler, an earlier run or a person switched it on.
    AlreadyActive,
    /// No longer scheduled for that instant (cancelled or moved since the read model said so).
    NotScheduled,
    /// The window ended before the activation: not activated.
    Ended,
}

impl Activation {
    pub fn label(self) -> &'static str {
        match self {
            Self::Activated => "activated",
            Self::AlreadyActive => "already_active",
            Self::NotScheduled => "not_scheduled",
            Self::Ended => "ended",
        }
    }
}

/// Why an activation did not happen this tick (it is tried again on the next).
#[derive(Debug, thiserror::Error)]
pub enum ActivationFailure {
    #[error("event store: {0}")]
    EventStore(CommandError),
    #[error("rejected: {0}")]
    Rejected(String),
    #[error("another scheduler is still running this activation")]
    Busy,
    #[error("version conflicts on every attempt")]
    Conflict,
}

impl ActivationFailure {
    pub fn label(&self) -> &'static str {
        match self {
            Self::EventStore(_) => "event_store",
            Self::Rejected(_) => "rejected",
            Self::Busy => "busy",
            Self::Conflict => "conflict",
        }
    }
}

/// The idempotency key of the activation of `due`: the promotion and the instant, to the
/// microsecond.
pub fn idempotency_key(due: &DuePromotion) -> String {
    format!(
        "scheduled-activation:{}:{}",
        due.promotion_id,
        due.scheduled_for
            .to_rfc3339_opts(SecondsFormat::Micros, true)
    )
}

fn fingerprint(key: &str) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(key.as_bytes()).to_vec()
}

/// Activates `due` unless the aggregate says there is nothing (more) to do.
pub async fn activate(
    pipeline: &CommandPipeline<Promotion>,
    due: &DuePromotion,
    actor: &str,
) -> Result<Activation, ActivationFailure> {
    let key = idempotency_key(due);
    let mut with_key = true;
    let mut last = ActivationFailure::Conflict;
    for attempt in 0..ATTEMPTS {
        let mut context = CommandContext::new(COMMAND_TYPE, key.clone());
        context.actor = actor.to_owned();
        if with_key {
            context.idempotency_key = Some(key.clone());
            context.request_fingerprint = Some(fingerprint(&key));
        }
        let command = PromotionCommand::ActivateScheduledPromotion {
            scheduled_for: due.scheduled_for,
            now: Utc::now(),
        };
        match pipeline.execute(&due.promotion_id, command, &context).await {
            Ok(done) if done.events_written > 0 => return Ok(Activation::Activated),
            Ok(done) if done.state.active => return Ok(Activation::AlreadyActive),
            Ok(done)
                if done.replayed
                    && done.state.activation_scheduled_at.is_some_and(|at| {
                        at.timestamp_micros() == due.scheduled_for.timestamp_micros()
                    }) =>
            {
                // The key's activation was undone since (deactivated) and the promotion was
                // scheduled again for the same instant: a new activation, without the key.
                tracing::info!(
                    promotion_id = %due.promotion_id,
                    "scheduled again for an instant activated before; activating without the key"
                );
                with_key = false;
            }
            Ok(_) => return Ok(Activation::NotScheduled),
            Err(CommandError::VersionConflict { current, .. }) => {
                metrics::CONFLICTS.inc();
                tracing::info!(
                    promotion_id = %due.promotion_id,
                    current,
                    attempt,
                    "another writer appended first; reloading"
                );
                last = ActivationFailure::Conflict;
            }
            Err(CommandError::IdempotencyKeyInUse) => {
                last = ActivationFailure::Busy;
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt + 1))).await;
            }
            Err(CommandError::Rejected {
                kind: DomainErrorKind::FailedPrecondition,
                ..
            }) => return Ok(Activation::Ended),
            Err(CommandError::Rejected { message, .. }) => {
                return Err(ActivationFailure::Rejected(message))
            }
            Err(CommandError::IdempotencyKeyMismatch) => {
                return Err(ActivationFailure::Rejected(
                    "the idempotency key was used with another request".to_owned(),
                ))
            }
            Err(error) => return Err(ActivationFailure::EventStore(error)),
        }
    }
    Err(last)
}
