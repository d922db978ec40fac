//! The CouchDB product projector (idempotent by version).
//!
//! For every product a batch touches it reads the current document (all of them with one
//! `_all_docs` request), folds the batch's events onto it — or, when the document does not end
//! right before the batch (lost, older, or changed by another writer beyond recognition), the
//! product's whole history from the event store — and writes the new documents with their
//! current `_rev` in one `_bulk_docs` request. The checkpoint is a `_local` document, written
//! after the documents: a crash in between repeats the batch, and the versions make the repeat
//! change nothing. A conflict (another writer saved the document in between) is transient: the
//! next attempt reads the new `_rev`.
//!
//! The database and the Mango indexes the catalog queries use are created by the projector
//! ([`CatalogCouchProjector::prepare`], on its first checkpoint read and again after a reset),
//! never by hand. A CouchDB that is down at start-up only delays this projector.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{json, Value};
use shopcore_event_store::{GlobalLog, LogPosition, StoredEvent};

use super::{ProductDocument, AGGREGATE_TYPE};
use crate::couch::{CouchDb, CouchError};
use crate::error::ProjectionError;
use crate::runtime::{Delivery, Projector};

/// The Mango indexes of the catalog database: design document, index name, fields.
pub const INDEXES: &[(&str, &str, &[&str])] = &[
    ("shopcore-by-name", "by-name", &["type", "name"]),
    ("shopcore-by-sku", "by-sku", &["type", "skus"]),
    (
        "shopcore-by-category",
        "by-category",
        &["type", "categories"],
    ),
    (
        "shopcore-by-status",
        "by-status",
        &["type", "status", "name"],
    ),
];

/// Writes one document per product to the catalog database.
#[derive(Clone)]
pub struct CatalogCouchProjector {
    db: CouchDb,
    log: GlobalLog,
    /// Set once the database and its indexes exist: a CouchDB that is down when the process
    /// starts delays this projector (its first batches fail as transient) and nothing else.
    prepared: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl CatalogCouchProjector {
    pub const NAME: &'static str = "catalog_couch";

    pub fn new(db: CouchDb, log: GlobalLog) -> Self {
        Self {
            db,
            log,
            prepared: std::sync::Arc::default(),
        }
    }

    fn checkpoint_id() -> String {
        format!("shopcore-checkpoint-{}", Self::NAME)
    }

    /// Creates the database and its indexes when missing.
    pub async fn prepare(&self) -> Result<(), CouchError> {
        self.db.ensure_database().await?;
        for (ddoc, name, fields) in INDEXES {
            self.db.ensure_index(ddoc, name, fields).await?;
        }
        self.prepared
            .store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// [`Self::prepare`], once per process.
    async fn ensure_prepared(&self) -> Result<(), CouchError> {
        if self.prepared.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(());
        }
        self.prepare().await
    }

    /// The new document of one product after `batch` (its events in this batch, in order), or
    /// `None` when the stored one has them already.
    async fn next_document(
        &self,
        id: &str,
        batch: &[StoredEvent],
        stored: Option<&Value>,
    ) -> Result<Option<ProductDocument>, ProjectionError> {
        let first = batch[0].sequence;
        let newest = batch[batch.len() - 1].sequence;
        let rev = stored
            .and_then(|doc| doc["_rev"].as_str())
            .map(str::to_owned);
        // A document another writer broke (a field of another type) is rebuilt from the
        // events; its unknown fields are only kept when it still reads.
        let current: Option<ProductDocument> =
            stored.and_then(|doc| serde_json::from_value(doc.clone()).ok());
        if current.as_ref().is_some_and(|doc| doc.version >= newest) {
            return Ok(None);
        }
        let folded = match &current {
            Some(doc) if doc.version + 1 == first => ProductDocument::fold(Some(doc), batch)?,
            None if first == 1 && stored.is_none() => ProductDocument::fold(None, batch)?,
            _ => {
                let history = self
                    .log
                    .aggregate_events(AGGREGATE_TYPE, id, Some(newest))
                    .await?;
                let mut folded = ProductDocument::fold(None, &history)?;
                if let (Some(doc), Some(current)) = (folded.as_mut(), current.as_ref()) {
                    doc.other = current.other.clone();
                }
                folded
            }
        };
        Ok(folded.map(|mut doc| {
            doc.rev = rev;
            doc
        }))
    }
}

/// The position the CouchDB catalog projection has reached.
pub async fn couch_checkpoint(db: &CouchDb) -> Result<LogPosition, ProjectionError> {
    let id = CatalogCouchProjector::checkpoint_id();
    let Some(doc) = db.get_local(&id).await? else {
        return Ok(LogPosition::START);
    };
    doc["position"]
        .as_str()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| ProjectionError::OutOfStep {
            reason: format!(
                "the checkpoint document of {} is not readable",
                CatalogCouchProjector::NAME
            ),
        })
}

#[async_trait]
impl Projector for CatalogCouchProjector {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn delivery(&self) -> Delivery {
        Delivery::IdempotentByVersion
    }

    async fn checkpoint(&self) -> Result<LogPosition, ProjectionError> {
        self.ensure_prepared().await?;
        couch_checkpoint(&self.db).await
    }

    async fn apply(
        &self,
        _checkpoint: LogPosition,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let Some(last) = events.last() else {
            return Ok(());
        };
        self.ensure_prepared().await?;
        let mut touched: BTreeMap<&str, Vec<StoredEvent>> = BTreeMap::new();
        for event in events.iter().filter(|e| e.aggregate_type == AGGREGATE_TYPE) {
            touched
                .entry(&event.aggregate_id)
                .or_default()
                .push(event.clone());
        }
        let ids: Vec<String> = touched.keys().map(|id| (*id).to_owned()).collect();
        let stored = self.db.get_many(&ids).await?;
        let mut docs = Vec::with_capacity(touched.len());
        for (id, batch) in &touched {
            if let Some(doc) = self.next_document(id, batch, stored.get(*id)).await? {
                docs.push(
                    serde_json::to_value(&doc).map_err(|e| ProjectionError::OutOfStep {
                        reason: format!("product {id} does not serialise: {e}"),
                    })?,
                );
            }
        }
        if !docs.is_empty() {
            let results = self.db.bulk_docs(&docs).await?;
            if let Some(failed) = results.iter().find(|r| r.error.is_some()) {
                let error = failed.error.clone().unwrap_or_default();
                let status = match error.as_str() {
                    "conflict" => 409,
                    "forbidden" => 403,
                    "unauthorized" => 401,
                    "bad_request" | "doc_validation" => 400,
                    _ => 500,
                };
                tracing::warn!(
                    projector = Self::NAME,
                    product = %failed.id,
                    error = %error,
                    reason = failed.reason.as_deref().unwrap_or(""),
                    "a product document was not written"
                );
                return Err(CouchError::Status {
                    what: "write product document",
                    status,
                    error,
                }
                .into());
            }
        }
        self.db
            .put_local(
                &Self::checkpoint_id(),
                json!({ "position": last.log_position().to_string() }),
            )
            .await?;
        Ok(())
    }

    /// Deletes and re-creates the database with its indexes: an empty read model at the start
    /// of the log. (A `_changes` follower of this database starts again from `0` after it.)
    async fn reset(&self) -> Result<(), ProjectionError> {
        self.db.delete_database().await?;
        self.prepared
            .store(false, std::sync::atomic::Ordering::Release);
        self.prepare().await?;
        Ok(())
    }
}
