//! Load → decide → append, for any aggregate.
//!
//! [`CommandPipeline::execute`] loads the aggregate (from its snapshot and later events),
//! checks the expected version, lets the aggregate decide, and appends the resulting events with
//! their metadata, unique claims and idempotency record in one transaction. An idempotency key
//! (the caller's, for this command type) is claimed before the command runs: the same request
//! again returns the first result and writes nothing, another request with it is refused, a
//! duplicate that arrives meanwhile waits for the first (see `shopcore_event_store::idempotency`). After an append
//! that crosses a snapshot boundary the new state is saved as the aggregate's snapshot.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use shopcore_event_store::snapshot::{self, SnapshotPolicy};
use std::sync::Arc;

use shopcore_event_store::{
    AppendError, AppendRequest, Claim, EventStore, IdempotencyKey, LinkedEvents, LogPosition,
};
use tracing::Instrument as _;

use crate::claims::UniqueClaims;
use crate::error::{CommandError, DomainRejection};
use crate::metadata::CommandContext;

/// What a successful command did.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandOutcome<A> {
    /// The aggregate the command went to (for a replay: the one the first request created).
    pub aggregate_id: String,
    pub version: u64,
    /// Log position of the command's last event (of the aggregate's latest event when the
    /// command changed nothing).
    pub position: LogPosition,
    pub events_written: u32,
    /// True when this is the stored result of an earlier call with the same idempotency key.
    pub replayed: bool,
    /// The aggregate after the command (as it is now, for a replayed command).
    pub state: A,
}

/// Decides the events of a second aggregate that must commit with a command's own (the
/// redemption of a checkout's coupon), from the aggregate after the command and its events.
#[async_trait::async_trait]
pub trait Link<A: Aggregate>: Send + Sync {
    async fn link(
        &self,
        after: &A,
        events: &[A::Event],
    ) -> Result<Option<LinkedEvents>, CommandError>;
}

/// How often a command whose linked aggregate moved meanwhile is decided again.
const LINKED_ATTEMPTS: u32 = 64;

/// Runs commands of aggregate `A` against the event store.
pub struct CommandPipeline<A: Aggregate> {
    store: EventStore,
    services: A::Services,
    snapshots: SnapshotPolicy,
    link: Option<Arc<dyn Link<A>>>,
}

impl<A> CommandPipeline<A>
where
    A: Aggregate + UniqueClaims + Clone,
    A::Error: DomainRejection,
    A::Command: std::fmt::Debug + Clone,
{
    pub fn new(store: EventStore, services: A::Services, snapshots: SnapshotPolicy) -> Self {
        Self {
            store,
            services,
            snapshots,
            link: None,
        }
    }

    /// Appends the events `link` decides with every command's own, in one transaction. When
    /// the linked aggregate moved between load and append (another command linked to it won),
    /// the command is loaded and decided again, up to 64 times; a move of this aggregate is a
    /// version conflict as always.
    pub fn with_link(mut self, link: Arc<dyn Link<A>>) -> Self {
        self.link = Some(link);
        self
    }

    pub fn store(&self) -> &EventStore {
        &self.store
    }

    pub fn services(&self) -> &A::Services {
        &self.services
    }

    pub async fn execute(
        &self,
        aggregate_id: &str,
        command: A::Command,
        context: &CommandContext,
    ) -> Result<CommandOutcome<A>, CommandError> {
        let span = tracing::info_span!(
            "command",
            aggregate_type = A::TYPE,
            aggregate_id,
            command_type = context.command_type,
            command_id = %context.command_id,
            correlation_id = %context.correlation_id,
        );
        self.execute_in_span(aggregate_id, command, context)
            .instrument(span)
            .await
    }

    async fn execute_in_span(
        &self,
        aggregate_id: &str,
        command: A::Command,
        context: &CommandContext,
    ) -> Result<CommandOutcome<A>, CommandError> {
        let Some(key) = &context.idempotency_key else {
            return self
                .decide_and_append_linked(aggregate_id, command, context, None)
                .await;
        };
        let key = IdempotencyKey {
            caller: context.actor.clone(),
            command_type: context.command_type.to_owned(),
            key: key.clone(),
            fingerprint: context
                .request_fingerprint
                .clone()
                .unwrap_or_else(|| fingerprint_of(&command)),
        };
        match self.store.claim_idempotency_key(&key).await? {
            Claim::Claimed => {}
            Claim::Mismatch => return Err(CommandError::IdempotencyKeyMismatch),
            Claim::StillRunning => return Err(CommandError::IdempotencyKeyInUse),
            Claim::Replay(stored) => {
                tracing::info!(
                    version = stored.appended.version,
                    "idempotent replay of an earlier command"
                );
                let current = self
                    .store
                    .load::<A>(&self.snapshots, &stored.aggregate_id)
                    .await?;
                return Ok(CommandOutcome {
                    aggregate_id: stored.aggregate_id,
                    version: current.version,
                    position: stored.appended.position,
                    events_written: 0,
                    replayed: true,
                    state: current.aggregate,
                });
            }
        }
        let outcome = self
            .decide_and_append_linked(aggregate_id, command, context, Some(&key))
            .await;
        // A command that wrote nothing leaves no record: a retry runs again.
        if !matches!(&outcome, Ok(done) if done.events_written > 0) {
            if let Err(error) = self.store.release_idempotency_key(&key).await {
                tracing::warn!(%error, "idempotency key not released; it is taken over after 30 s");
            }
        }
        outcome
    }

    async fn decide_and_append_linked(
        &self,
        aggregate_id: &str,
        command: A::Command,
        context: &CommandContext,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<CommandOutcome<A>, CommandError> {
        let mut attempt = 1;
        loop {
            match self
                .decide_and_append(aggregate_id, command.clone(), context, idempotency)
                .await
            {
                Err(Retry::LinkedMoved) if attempt < LINKED_ATTEMPTS => {
                    attempt += 1;
                    // Spread the losers of a race so they do not meet again at once.
                    let spread = 5 * u64::from(attempt.min(10));
                    let pause = 1 + (uuid::Uuid::new_v4().as_u128() as u64) % spread;
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                Err(Retry::LinkedMoved) => {
                    tracing::warn!(attempt, "linked aggregate kept moving; giving up");
                    return Err(CommandError::Busy);
                }
                Err(Retry::Failed(error)) => return Err(error),
                Ok(outcome) => return Ok(outcome),
            }
        }
    }

    async fn decide_and_append(
        &self,
        aggregate_id: &str,
        command: A::Command,
        context: &CommandContext,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<CommandOutcome<A>, Retry> {
        let loaded = self.store.load::<A>(&self.snapshots, aggregate_id).await?;
        if let Some(expected) = context.expected_version {
            if expected != loaded.version {
                return Err(CommandError::VersionConflict {
                    expected: Some(expected),
                    current: loaded.version,
                }
                .into());
            }
        }
        let before = loaded.aggregate.clone();
        let mut aggregate = loaded.aggregate;
        let sink = EventSink::default();
        aggregate
            .handle(command, &self.services, &sink)
            .await
            .map_err(CommandError::rejected)?;
        let events = sink.collect().await;
        if events.is_empty() {
            tracing::info!(version = loaded.version, "command changed nothing");
            return Ok(CommandOutcome {
                aggregate_id: aggregate_id.to_owned(),
                version: loaded.version,
                position: self.store.latest_position(A::TYPE, aggregate_id).await?,
                events_written: 0,
                replayed: false,
                state: aggregate,
            });
        }
        let linked = match &self.link {
            Some(link) => link.link(&aggregate, &events).await?,
            None => None,
        };
        let is_linked = linked.is_some();
        let metadata = serde_json::to_value(context.event_metadata()).unwrap_or_default();
        let request = AppendRequest::<A> {
            aggregate_id,
            version: loaded.version,
            claims: A::unique_claims(&before, &events),
            events,
            metadata,
            idempotency,
            linked,
        };
        match self.store.append(request).await {
            Ok(appended) => {
                tracing::info!(
                    version = appended.version,
                    position = %appended.position,
                    events = appended.events_written,
                    events_folded = loaded.events_folded,
                    "command appended events"
                );
                let since_snapshot = loaded.events_folded + u64::from(appended.events_written);
                if self.snapshots.due(since_snapshot) {
                    if let Err(error) = snapshot::save(
                        self.store.pool(),
                        &self.snapshots,
                        aggregate_id,
                        appended.version,
                        &aggregate,
                    )
                    .await
                    {
                        tracing::warn!(%error, "snapshot not saved; the next load folds more events");
                    }
                }
                Ok(CommandOutcome {
                    aggregate_id: aggregate_id.to_owned(),
                    version: appended.version,
                    position: appended.position,
                    events_written: appended.events_written,
                    replayed: false,
                    state: aggregate,
                })
            }
            Err(AppendError::VersionConflict { .. }) => {
                let current = self.store.current_version(A::TYPE, aggregate_id).await?;
                if is_linked && current == loaded.version {
                    return Err(Retry::LinkedMoved);
                }
                Err(CommandError::VersionConflict {
                    expected: context.expected_version,
                    current,
                }
                .into())
            }
            Err(error) => Err(CommandError::from(error).into()),
        }
    }
}

/// Why one attempt of a command did not complete.
enum Retry {
    /// The linked aggregate moved between load and append: decide again.
    LinkedMoved,
    Failed(CommandError),
}

impl<E: Into<CommandError>> From<E> for Retry {
    fn from(error: E) -> Self {
        Self::Failed(error.into())
    }
}

/// SHA-256 of a domain command, for callers inside the process (seeding) that send no request.
fn fingerprint_of<C: std::fmt::Debug>(command: &C) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(format!("{command:?}")).to_vec()
}
