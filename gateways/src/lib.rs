//! The HTTP edge of Shopcore: the plan's REST API over the read models, with writes sent to the
//! command service over gRPC.
//!
//! - [`app`]: build (bind, connect) and run the gateway; the router.
//! - [`auth`]: the bearer-token middleware; handlers check the access they need.
//! - [`routes`]: one file per route group (`customers`, `health`).
//! - [`problem`]: `application/problem+json` errors and the JSON/path extractors that produce them.
//! - [`correlation`]: the `X-Correlation-Id` middleware and request metrics.
//! - [`openapi`]: the OpenAPI document, generated from the handlers with utoipa.
//! - [`settings`]: typed settings from the environment.
//!
//! The gateway migrates nothing and links neither the command service nor Kafka: it reads the
//! read models (through `shopcore-projections`), asks the event store only whether a
//! `Shopcore-Min-Position` names a stored event, and sends writes over gRPC.

// `Problem` (about 160 bytes) is the error of every handler and extractor; it is built on the
// error path only, where its size costs nothing worth a box.
#![allow(clippy::result_large_err)]

pub mod app;
pub mod auth;
pub mod correlation;
pub mod graphql;
pub mod openapi;
pub mod problem;
pub mod routes;
pub mod settings;
