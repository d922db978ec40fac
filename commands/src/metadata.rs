//! Metadata stored with every event: who asked, why, and in which trace.

use std::collections::HashMap;

use uuid::Uuid;

/// The context a command runs in. It becomes the metadata of every event the command writes.
#[derive(Debug, Clone)]
pub struct CommandContext {
    /// Id of this command (a v7 UUID). Also the causation id of the events it writes.
    pub command_id: Uuid,
    /// Stable name of the command, e.g. `customer.register`.
    pub command_type: &'static str,
    /// Correlation id of the request that led here (from `X-Correlation-Id`, or made up).
    pub correlation_id: String,
    /// Id of the message that caused this command, if it was not a user request.
    pub causation_id: Option<String>,
    /// W3C trace context of the request.
    pub traceparent: Option<String>,
    /// Who sent the command.
    pub actor: String,
    /// Optimistic concurrency: the version the client expects the aggregate to have.
    pub expected_version: Option<u64>,
    /// A retried command with the same key returns the first result and writes nothing. The
    /// key belongs to the actor and the command type.
    pub idempotency_key: Option<String>,
    /// SHA-256 of the request as the edge received it (the gRPC message without its options);
    /// `None`: the pipeline fingerprints the domain command.
    pub request_fingerprint: Option<Vec<u8>>,
}

impl CommandContext {
    pub fn new(command_type: &'static str, correlation_id: impl Into<String>) -> Self {
        Self {
            command_id: Uuid::now_v7(),
            command_type,
            correlation_id: correlation_id.into(),
            causation_id: None,
            traceparent: None,
            actor: "anonymous".to_owned(),
            expected_version: None,
            idempotency_key: None,
            request_fingerprint: None,
        }
    }

    /// The event metadata: camelCase keys, absent values left out.
    pub fn event_metadata(&self) -> HashMap<String, String> {
        let mut metadata = HashMap::from([
            ("commandId".to_owned(), self.command_id.to_string()),
            ("commandType".to_owned(), self.command_type.to_owned()),
            ("correlationId".to_owned(), self.correlation_id.clone()),
            (
                "causationId".to_owned(),
                self.causation_id
                    .clone()
                    .unwrap_or_else(|| self.command_id.to_string()),
            ),
            ("actor".to_owned(), self.actor.clone()),
        ]);
        if let Some(traceparent) = &self.traceparent {
            metadata.insert("traceparent".to_owned(), traceparent.clone());
        }
        if let Some(key) = &self.idempotency_key {
            metadata.insert("idempotencyKey".to_owned(), key.clone());
        }
        metadata
    }
}
