//! Load → decide → append, for any aggregate.
//!
//! [`CommandPipeline::execute`] loads the aggregate (from its snapshot and later events),
//! checks the expected version, lets the aggregate decide, and appends the resulting events with
//! their metadata, unique claims and idempotency record in one transaction. A retried command
//! with the same idempotency key returns the first result and writes nothing. After an append
//! that crosses a snapshot boundary the new state is saved as the aggregate's snapshot.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use shopcore_event_store::snapshot::{self, SnapshotPolicy};
use shopcore_event_store::{AppendError, AppendRequest, EventStore, LogPosition};
use tracing::Instrument as _;

use crate::claims::UniqueClaims;
use crate::error::{CommandError, DomainRejection};
use crate::metadata::CommandContext;

/// What a successful command did.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandOutcome<A> {
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

/// Runs commands of aggregate `A` against the event store.
pub struct CommandPipeline<A: Aggregate> {
    store: EventStore,
    services: A::Services,
    snapshots: SnapshotPolicy,
}

impl<A> CommandPipeline<A>
where
    A: Aggregate + UniqueClaims + Clone,
    A::Error: DomainRejection,
{
    pub fn new(store: EventStore, services: A::Services, snapshots: SnapshotPolicy) -> Self {
        Self {
            store,
            services,
            snapshots,
        }
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
        if let Some(outcome) = self.replay(aggregate_id, context).await? {
            return Ok(outcome);
        }
        let loaded = self.store.load::<A>(&self.snapshots, aggregate_id).await?;
        if let Some(expected) = context.expected_version {
            if expected != loaded.version {
                return Err(CommandError::VersionConflict {
                    expected: Some(expected),
                    current: loaded.version,
                });
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
                version: loaded.version,
                position: self.store.latest_position(A::TYPE, aggregate_id).await?,
                events_written: 0,
                replayed: false,
                state: aggregate,
            });
        }
        let metadata = serde_json::to_value(context.event_metadata()).unwrap_or_default();
        let request = AppendRequest::<A> {
            aggregate_id,
            version: loaded.version,
            claims: A::unique_claims(&before, &events),
            events,
            metadata,
            idempotency_key: context.idempotency_key.as_deref(),
            command_type: context.command_type,
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
                    version: appended.version,
                    position: appended.position,
                    events_written: appended.events_written,
                    replayed: false,
                    state: aggregate,
                })
            }
            Err(AppendError::VersionConflict { .. }) => Err(CommandError::VersionConflict {
                expected: context.expected_version,
                current: self.store.current_version(A::TYPE, aggregate_id).await?,
            }),
            // A concurrent retry with the same key committed first: answer with its result.
            Err(AppendError::IdempotencyRace) => self
                .replay(aggregate_id, context)
                .await?
                .ok_or_else(|| AppendError::IdempotencyRace.into()),
            Err(error) => Err(error.into()),
        }
    }

    /// The stored result for the command's idempotency key, if it was seen before.
    async fn replay(
        &self,
        aggregate_id: &str,
        context: &CommandContext,
    ) -> Result<Option<CommandOutcome<A>>, CommandError> {
        let Some(key) = &context.idempotency_key else {
            return Ok(None);
        };
        let Some(stored) = self.store.idempotent_result(key).await? else {
            return Ok(None);
        };
        if stored.aggregate_type != A::TYPE
            || stored.aggregate_id != aggregate_id
            || stored.command_type != context.command_type
        {
            return Err(CommandError::IdempotencyKeyReused {
                command_type: stored.command_type,
                aggregate_id: stored.aggregate_id,
            });
        }
        tracing::info!(
            version = stored.appended.version,
            "idempotent replay of an earlier command"
        );
        let current = self.store.load::<A>(&self.snapshots, aggregate_id).await?;
        Ok(Some(CommandOutcome {
            version: stored.appended.version,
            position: stored.appended.position,
            events_written: 0,
            replayed: true,
            state: current.aggregate,
        }))
    }
}
