//! The command side of Shopcore: command handling, the gRPC services and the Kafka relay. The
//! event store they write to and read from is its own crate, `shopcore-event-store`.
//!
//! - [`pipeline`]: load → decide → append for any aggregate ([`pipeline::CommandPipeline`]),
//!   with snapshots.
//! - [`claims`]: values that must be unique across aggregates (a customer's e-mail, a SKU, a
//!   coupon code).
//! - [`metadata`]: the context of a command, which becomes its events' metadata.
//! - [`periodic`]: a round every interval until stopped (the promotion scheduler, the cart
//!   expiry sweep).
//! - [`error`]: why a command failed, one code for gRPC and REST.
//! - [`grpc`]: the tonic services, one file per aggregate (pricing's under `grpc::pricing`),
//!   status mapping and metrics.
//! - [`app`]: the process: it owns the event store's schema (migrations), serves gRPC with
//!   reflection (v1 and v1alpha) and health, and `/metrics`, `/healthz`, `/readyz` over HTTP.
//! - [`settings`]: the process's typed settings.
//! - [`seed`]: seed data through the command pipeline.
//! - [`relay`]: the Kafka relay, a consumer of the event store's tail loop.
//! - [`media`]: the media worker, another consumer: it checks uploaded media and records what
//!   they are.
//! - [`kafka`]: the producer, topic creation and librdkafka logging the relay and the catalog
//!   change feed share.
//! - [`catalog_feed`]: the catalog change feed: CouchDB `_changes` of the catalog database →
//!   Kafka, with schema drift detected, counted and routed.
//! - [`pricing_query`]: the pricing query service: an in-memory index of books, rules, rates
//!   and SKU categories kept current by the tail loop, served as `PricingQueries` over gRPC.
//! - [`promotion_scheduler`]: switches promotions on when their scheduled start time arrives,
//!   exactly once however many schedulers run.
//! - [`cart_expiry`]: the cart expiry sweep: closes carts past their expiry through the cart's
//!   command pipeline, exactly once however many sweeps run, and removes them from the Redis
//!   cart cache.
//! - [`segment_policy`]: recalculates a customer's spend segment after each checkout, once per
//!   checkout, through the customer's command pipeline.
//! - [`fx`]: FX rates: the fake ECB-format rates provider and the currency rate sync that
//!   records changed rates as `SetFxRate` commands.
//! - [`testing`]: Kafka helpers for tests.

pub mod app;
pub mod cart;
pub mod cart_expiry;
pub mod catalog_feed;
pub mod claims;
pub mod error;
pub mod fx;
pub mod grpc;
pub mod kafka;
pub mod media;
pub mod metadata;
pub mod periodic;
pub mod pipeline;
pub mod pricing_query;
pub mod promotion_scheduler;
pub mod relay;
pub mod seed;
pub mod segment_policy;
pub mod settings;
pub mod testing;
