//! The read side of Shopcore.
//!
//! - [`runtime`]: the projector runtime: tail the global log from a checkpoint in batches, retry
//!   with backoff, wake on appends ([`runtime::ProjectionRunner`]).
//! - [`customer`]: the customer read model ([`customer::CustomerView`]), its MySQL projector
//!   (transactional), its Redis snapshot projector (idempotent by version) and the queries the
//!   gateway uses.
//! - [`stores`]: connecting to MySQL (with migrations) and Redis.
//! - [`rebuild`]: replay the whole log into a fresh read model through the same projector code.
//! - [`app`]: the `shopcore-projections` process.

pub mod app;
pub mod customer;
pub mod error;
pub mod rebuild;
pub mod runtime;
pub mod settings;
pub mod stores;
