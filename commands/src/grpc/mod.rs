//! The tonic services: one file per aggregate, plus request context and status mapping.

pub mod cart;
pub mod catalog;
pub mod customer;
pub mod metrics;
pub mod pricing;
pub mod taxonomy;

use shopcore_auth::{Denied, Principal};
use tonic::metadata::MetadataMap;
use uuid::Uuid;

use shopcore_proto::common::v1::{CommandOptions, CommandResult};
use shopcore_proto::{error_status, ErrorCode};

use crate::error::CommandError;
use crate::metadata::CommandContext;
use crate::pipeline::CommandOutcome;

/// gRPC metadata keys the command service reads.
pub const CORRELATION_ID: &str = "x-correlation-id";
pub const CAUSATION_ID: &str = "x-causation-id";
pub const TRACEPARENT: &str = "traceparent";

const MAX_IDEMPOTENCY_KEY_LEN: usize = 200;

/// Builds the command context from the caller's token, the request metadata and the command's
/// options. The actor is the token's subject, never a client-supplied header.
pub fn command_context(
    command_type: &'static str,
    principal: &Principal,
    metadata: &MetadataMap,
    options: Option<&CommandOptions>,
    fingerprint: Vec<u8>,
) -> Result<CommandContext, tonic::Status> {
    let text = |key: &str| {
        metadata
            .get(key)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 200)
            .map(str::to_owned)
    };
    let mut context = CommandContext::new(
        command_type,
        text(CORRELATION_ID).unwrap_or_else(|| Uuid::now_v7().to_string()),
    );
    context.causation_id = text(CAUSATION_ID);
    context.traceparent = text(TRACEPARENT).or_else(shopcore_telemetry::traceparent);
    context.actor = principal.subject.clone();
    if let Some(options) = options {
        context.expected_version = options.expected_version;
        let key = options.idempotency_key.trim();
        if key.len() > MAX_IDEMPOTENCY_KEY_LEN {
            return Err(invalid(
                "options.idempotencyKey",
                "must be at most 200 bytes",
            ));
        }
        if !key.is_empty() {
            context.idempotency_key = Some(key.to_owned());
            context.request_fingerprint = Some(fingerprint);
        }
    }
    Ok(context)
}

pub use shopcore_pricing_index::wire::{invalid, parse_uuid};

/// The reply of a successful command.
pub fn command_result<A>(
    aggregate_id: impl Into<String>,
    outcome: &CommandOutcome<A>,
) -> CommandResult {
    CommandResult {
        aggregate_id: aggregate_id.into(),
        version: outcome.version,
        position: outcome.position.position,
        events_written: outcome.events_written,
        replayed: outcome.replayed,
        log_position: outcome.position.to_string(),
    }
}

/// The status of a failed command. Internal failures are logged here and reported without
/// their details.
pub fn command_status(error: CommandError) -> tonic::Status {
    let code = error.code();
    let current_version = match &error {
        CommandError::VersionConflict { current, .. } => Some(*current),
        _ => None,
    };
    let message = match code {
        ErrorCode::Internal => {
            tracing::error!(error = %error, "command failed");
            "internal error; see the command service logs".to_owned()
        }
        ErrorCode::Unavailable => {
            tracing::warn!(error = %error, "command failed, a dependency is unavailable");
            match error {
                // A refusal naming a field is in the domain's own words (a stale exchange rate
                // for the cart's currency); a lookup's failure may hold a driver's text.
                CommandError::IdempotencyKeyInUse
                | CommandError::Busy
                | CommandError::Rejected { field: Some(_), .. } => error.to_string(),
                _ => "a service this command needs is unavailable; retry shortly".to_owned(),
            }
        }
        _ => {
            tracing::info!(error = %error, "command rejected");
            error.to_string()
        }
    };
    let detail = match &error {
        CommandError::Rejected {
            detail: Some(detail),
            ..
        } => Some(detail.to_string()),
        _ => None,
    };
    let mut status = error_status(code, message, error.field(), current_version);
    if let Some(detail) = detail {
        status.metadata_mut().insert_bin(
            REJECTION_DETAIL,
            tonic::metadata::MetadataValue::from_bytes(detail.as_bytes()),
        );
    }
    status
}

/// Binary metadata of a refused command's status: what the caller needs to act on it, as JSON
/// (the prices a checkout found changed).
pub const REJECTION_DETAIL: &str = "x-rejection-detail-bin";

/// The status of a request the caller's token does not allow.
pub fn denied(denied: Denied) -> tonic::Status {
    error_status(
        ErrorCode::PermissionDenied,
        format!("{} (needs {})", denied.reason, denied.scope),
        None,
        None,
    )
}

/// The caller, as the authentication interceptor left it in the request's extensions.
pub fn principal(extensions: &tonic::Extensions) -> Result<&Principal, tonic::Status> {
    extensions.get::<Principal>().ok_or_else(|| {
        error_status(
            ErrorCode::Unauthenticated,
            "a bearer token is required",
            None,
            None,
        )
    })
}

/// A command request: its [`CommandOptions`] travel beside it, the rest is what an idempotency
/// key is bound to.
pub trait CommandRequest: prost::Message + Sized {
    fn options_mut(&mut self) -> &mut Option<CommandOptions>;

    /// The request without its options, the options, and the request's [`fingerprint`].
    fn split(mut self) -> (Self, Option<CommandOptions>, Vec<u8>) {
        let options = self.options_mut().take();
        let fingerprint = fingerprint(&self);
        (self, options, fingerprint)
    }
}

/// Implements [`CommandRequest`] for messages with an `options` field.
macro_rules! command_requests {
    ($($message:ty),* $(,)?) => {
        $(impl $crate::grpc::CommandRequest for $message {
            fn options_mut(&mut self) -> &mut Option<shopcore_proto::common::v1::CommandOptions> {
                &mut self.options
            }
        })*
    };
}
pub(crate) use command_requests;

/// Runs one command of a gRPC call through `pipeline`: the context from the caller's token,
/// metadata and options, the command metrics, the status of a failure.
pub async fn execute<A>(
    pipeline: &crate::pipeline::CommandPipeline<A>,
    command_type: &'static str,
    (principal, metadata): (&Principal, &MetadataMap),
    (options, fingerprint): (Option<CommandOptions>, Vec<u8>),
    aggregate_id: &str,
    command: A::Command,
) -> Result<CommandOutcome<A>, tonic::Status>
where
    A: cqrs_es::Aggregate + crate::claims::UniqueClaims + Clone,
    A::Error: crate::error::DomainRejection,
    A::Command: std::fmt::Debug + Clone,
{
    let started = std::time::Instant::now();
    let context = command_context(
        command_type,
        principal,
        metadata,
        options.as_ref(),
        fingerprint,
    )?;
    let result = pipeline.execute(aggregate_id, command, &context).await;
    metrics::record_command(command_type, result.as_ref().err(), started.elapsed());
    result.map_err(command_status)
}

/// The id of a new aggregate or entity: the caller's UUID, or a new v7 UUID when it sent none
/// (never derived from an idempotency key; a retry finds the first id through the key).
pub fn new_id(value: &str, field: &str) -> Result<Uuid, tonic::Status> {
    match value.trim() {
        "" => Ok(Uuid::now_v7()),
        given => parse_uuid(given, field),
    }
}

/// SHA-256 of a command request as received, without its options: what an idempotency key
/// remembers of the first request (the same key with another request is refused). The key is
/// scoped by command type already, so the message alone is hashed.
pub fn fingerprint<M: prost::Message>(message: &M) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(message.encode_to_vec()).to_vec()
}

#[cfg(test)]
mod tests {
    use shopcore_domain::customer::CustomerError;

    use super::*;

    #[test]
    fn a_failed_lookup_is_unavailable_and_says_nothing_of_the_store() {
        let error = CommandError::rejected(CustomerError::LookupFailed(
            "pool timed out while waiting for an open connection to 10.0.0.7".into(),
        ));
        let status = command_status(error);
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert!(
            !status.message().contains("10.0.0.7"),
            "{}",
            status.message()
        );
        assert!(status.message().contains("retry"), "{}", status.message());
    }

    #[test]
    fn a_request_with_a_map_always_has_the_same_fingerprint() {
        use shopcore_proto::catalog::v1 as catalog;
        // Built twice, as two calls would: with hash maps the entries would encode in
        // another order each time, and a retry would look like another request.
        let request = || catalog::CreateProductRequest {
            name: "Shoe".into(),
            attributes: (0..32)
                .map(|n| {
                    let value = catalog::attribute_value::Value::Integer(n);
                    (
                        format!("key_{n}"),
                        catalog::AttributeValue { value: Some(value) },
                    )
                })
                .collect(),
            ..Default::default()
        };
        assert_eq!(fingerprint(&request()), fingerprint(&request()));
    }

    #[test]
    fn messages_carry_no_debug_formatting() {
        let conflict = command_status(CommandError::VersionConflict {
            expected: Some(7),
            current: 3,
        });
        assert_eq!(
            conflict.message(),
            "expected version 7, but the aggregate is at version 3"
        );
        let raced = command_status(CommandError::VersionConflict {
            expected: None,
            current: 3,
        });
        assert!(!raced.message().contains("None"), "{}", raced.message());
    }
}
