//! Errors of schema loading and event encoding.

use uuid::Uuid;

/// The embedded schemas or the topic map are inconsistent (a build defect, caught by tests).
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("topic {topic}: {message}")]
    Topic { topic: String, message: String },
}

/// An event that cannot be turned into its Avro record. None of these go away by retrying.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// No topic or no schema for this event type and version: publishing it would need a schema
    /// change, and skipping it would lose it.
    #[error("event {event_id}: no topic or Avro schema for event type {event_type} version {event_version}")]
    Unmapped {
        event_id: Uuid,
        event_type: String,
        event_version: String,
    },
    #[error("event {event_id} ({event_type}): the stored payload is not a valid domain event: {message}")]
    Payload {
        event_id: Uuid,
        event_type: String,
        message: String,
    },
    #[error("event {event_id} ({event_type}): the record does not fit its schema: {message}")]
    Schema {
        event_id: Uuid,
        event_type: String,
        message: String,
    },
}

impl EncodeError {
    /// A short label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unmapped { .. } => "unmapped_event_type",
            Self::Payload { .. } => "invalid_payload",
            Self::Schema { .. } => "schema_mismatch",
        }
    }
}
