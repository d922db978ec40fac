//! The command side of Shopcore.
//!
//! - [`event_store`]: the Postgres event store (postgres-es schema extended with a global log),
//!   appends with optimistic concurrency, idempotency keys and unique claims.
//! - [`event_log`]: reading the global log by position ([`event_log::GlobalLog`]), for projectors,
//!   the Kafka relay and replay tools.
//! - [`pipeline`]: load → decide → append for any aggregate ([`pipeline::CommandPipeline`]).
//! - [`claims`]: values that must be unique across aggregates (a customer's e-mail).
//! - [`grpc`]: the tonic services, one file per aggregate, and status mapping.
//! - [`app`]: the process: settings, start-up and graceful shutdown.

pub mod app;
pub mod claims;
pub mod error;
pub mod event_log;
pub mod event_store;
pub mod grpc;
pub mod metadata;
pub mod pipeline;
pub mod relay;
pub mod seed;
pub mod settings;
pub mod testing;
