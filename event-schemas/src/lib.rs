//! Shopcore's events on the wire: Avro schemas, the topic map and the conversions from domain
//! events.
//!
//! - `schemas/<context>/<EventType>.v<N>.avsc`: one Avro record schema per event type and
//!   version, embedded at build time.
//! - [`topics`]: the event type → topic map, and so the schema registry subjects.
//! - [`schemas::EventSchemas`]: the loaded, cross-checked set; [`schemas::EventSchemas::to_avro`]
//!   turns a stored event into the Avro value of its topic.
//! - [`compat`]: the BACKWARD compatibility check against the recorded subject history in
//!   `subjects/`.
//! - [`documents`]: the Avro schema of catalog product documents (`documents/`), published by
//!   the catalog change feed, and the JSON ↔ Avro conversions that detect schema drift.
//! - [`asyncapi`]: the AsyncAPI document (`docs/api/asyncapi.yaml`).
//! - [`registry_double`]: an in-process HTTP double of the Confluent Schema Registry subset the
//!   relay uses, for tests and local runs (no registry can be installed on the build machines).

pub mod asyncapi;
pub mod compat;
mod convert;
pub mod documents;
pub mod envelope;
pub mod error;
pub mod registry_double;
pub mod schemas;
pub mod topics;

pub use envelope::EventEnvelope;
pub use error::{EncodeError, SchemaError};
pub use schemas::{AvroEvent, EventSchemas};
pub use topics::{TopicSpec, TOPICS};

/// Kafka header names set on every message.
pub mod headers {
    pub const EVENT_ID: &str = "event_id";
    pub const EVENT_TYPE: &str = "event_type";
    pub const SCHEMA_VERSION: &str = "schema_version";
    pub const AGGREGATE_TYPE: &str = "aggregate_type";
    pub const SEQUENCE: &str = "sequence";
    pub const CORRELATION_ID: &str = "correlation_id";
    pub const TRACEPARENT: &str = "traceparent";
}
