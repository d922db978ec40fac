//! Why a batch of the catalog feed failed. Every failure here is transient — a server down, a
//! timeout, a checkpoint that moved — and the batch is retried from the checkpoint: what one
//! document holds never fails a batch (that is drift, handled per document; see
//! [`super::drift`]).

use shopcore_couch::CouchError;

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// CouchDB down, the database missing, a garbled answer.
    #[error("{0}")]
    Couch(#[from] CouchError),
    /// The broker did not take or acknowledge a message, or topics could not be made.
    #[error("broker: {0}")]
    Broker(String),
    /// The schema registry did not register the schema or encode a value.
    #[error("schema registry: {0}")]
    Registry(String),
}

impl FeedError {
    /// The `reason` label of the failure metric.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Couch(_) => "couchdb",
            Self::Broker(_) => "broker",
            Self::Registry(_) => "registry",
        }
    }
}
