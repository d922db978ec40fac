//! The HTTP edge of Shopcore: the plan's REST API over the read models, with writes sent to the
//! command service over gRPC.
//!
//! - [`app`]: build (bind, connect) and run the gateway; the router.
//! - [`routes`]: one file per route group (`customers`, `health`).
//! - [`problem`]: `application/problem+json` errors and the JSON/path extractors that produce them.
//! - [`correlation`]: the `X-Correlation-Id` middleware and request metrics.
//! - [`openapi`]: the OpenAPI document, generated from the handlers with utoipa.
//! - [`settings`]: typed settings from the environment.
//!
//! The gateway migrates nothing and links neither the command service nor Kafka: it reads the
//! read models (through `shopcore-projections`), asks the event store only whether a
//! `Shopcore-Min-Position` names a stored event, and sends writes over gRPC.

pub mod app;
pub mod correlation;
pub mod openapi;
pub mod problem;
pub mod routes;
pub mod settings;
