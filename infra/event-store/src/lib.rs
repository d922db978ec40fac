//! Shopcore's event store on Postgres, and everything that reads it in order.
//!
//! Every process that touches the event log links this crate and nothing heavier: the command
//! service appends through it, projectors and the Kafka relay tail it, the gateway asks it how
//! far the log goes. What is where:
//!
//! - [`store`]: [`EventStore`]: connecting (with the write path's timeouts), loading an
//!   aggregate (from its newest snapshot, then its later events), and what a command asks before
//!   it decides (versions, unique-value owners).
//! - [`append`]: one transaction per command: unique claims, events, idempotency record.
//! - [`idempotency`]: idempotency keys per caller and operation, with request fingerprints.
//! - [`snapshot`]: aggregate snapshots taken every N events, keyed by the event schema.
//! - [`position`]: [`LogPosition`], a place in the global log, and its text form (the
//!   `Shopcore-Position` token).
//! - [`log`]: [`GlobalLog`]: events in log order, only below the horizon of settled
//!   transactions, so that commits run in parallel and a reader still skips nothing.
//! - [`notify`]: wakes tailers after commits without serialising the commits.
//! - [`tail`]: the one tail loop (listen, read a batch, apply, back off, halt on a poison
//!   event) that every projector and the relay run, with its metrics and status.
//! - [`schema`]: the event store's migrations, run by their one owner, and the schema check
//!   every other process makes.
//! - [`error`]: the store's own errors; callers wrap them, never the other way round.
//! - [`testing`]: a throw-away event store database on the real server, for tests.

pub mod append;
pub mod error;
pub mod idempotency;
pub mod log;
pub mod notify;
pub mod position;
pub mod schema;
pub mod snapshot;
pub mod store;
pub mod tail;
pub mod testing;

pub use append::{AppendRequest, Appended, LinkedEvents, UniqueClaim};
pub use error::{AppendError, StoreError};
pub use idempotency::{Claim, IdempotencyKey, IdempotentResult};
pub use log::{GlobalLog, StoredEvent};
pub use position::LogPosition;
pub use store::{EventStore, LoadedAggregate, StoreOptions};
