//! CouchDB for Shopcore: the catalog read model lives in a CouchDB database (pouchdb-server
//! on the project's machines), written by the catalog projector, read by the gateway and
//! followed by the catalog change feed. They share this one small client instead of each
//! linking the crate of another process (a gateway that imported the commands crate for it
//! would link rdkafka).
//!
//! - [`client`]: [`CouchDb`], the HTTP client of one database, and [`CouchError`].
//! - [`testing`]: [`testing::OwnCouch`], a pouchdb-server of a test's own that the test can
//!   kill and restart, and [`testing::couchdb_url`], the shared server tests use.

pub mod client;
pub mod testing;

pub use client::{BulkResult, ChangeRow, ChangesPage, CouchDb, CouchError};
