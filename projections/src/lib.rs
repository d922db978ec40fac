//! The read side of Shopcore.
//!
//! - [`runtime`]: the [`runtime::Projector`] trait (named, transactional or idempotent by
//!   version, steppable) and [`runtime::ProjectionRunner`], which drives one through the event
//!   store's one tail loop (retry transient failures, halt at a poison event).
//! - [`error`]: why a projector failed, sorted into transient and permanent.
//! - [`customer`]: the customer read model ([`customer::CustomerView`]), its MySQL projector
//!   (transactional), its Redis snapshot projector (idempotent by version) and the queries the
//!   gateway uses.
//! - [`catalog`]: the product documents of the CouchDB catalog database and their projector
//!   (idempotent by version, checkpoint in a `_local` document, Mango indexes it creates).
//! - [`pricing`]: price books, rules, promotions and currency rates in MySQL (transactional).
//! - [`cart`]: the cart read model ([`cart::CartView`]): `carts`, `cart_items` and
//!   `cart_events` in MySQL (transactional), the `cart::{id}` cache in Redis whose TTL is the
//!   cart's expiry (idempotent by version, tombstones for removed carts), and the queries of
//!   the gateway, the sign-in merge and the expiry sweep.
//! - [`couch`]: the CouchDB HTTP client, the `shopcore-couch` crate (re-exported, so
//!   `shopcore_projections::couch::CouchDb` still names it).
//! - [`stores`]: connecting to MySQL (migrating it: this process owns that schema, or only
//!   checking it, for the gateway), Redis, and the event store (schema checked, never migrated).
//! - [`rebuild`]: replay the whole log into a fresh read model through the same projector code.
//! - [`app`]: the `shopcore-projections` process, with `/metrics`, `/healthz`, `/readyz` (503
//!   naming the event while a projector is halted) and `/status`.
//! - [`settings`]: its typed settings.

pub mod app;
pub mod cart;
pub mod catalog;
pub use shopcore_couch as couch;
pub mod customer;
pub mod error;
pub mod pricing;
pub mod rebuild;
pub mod runtime;
pub mod settings;
pub mod stores;
