//! What the relay knows about a stored event, independent of the event store's types.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A stored event with its identity and place in its aggregate's history.
#[derive(Debug, Clone, Copy)]
pub struct EventEnvelope<'a> {
    pub event_id: Uuid,
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    /// The aggregate's version after this event.
    pub sequence: u64,
    pub event_type: &'a str,
    pub event_version: &'a str,
    pub recorded_at: DateTime<Utc>,
    /// The domain event as stored (serde JSON of the domain enum).
    pub payload: &'a serde_json::Value,
}
