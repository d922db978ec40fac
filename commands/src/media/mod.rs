//! The media worker: processes uploaded product media after they are attached.
//!
//! It is one more checkpointed reader of the global log, driven by the event store's tail loop
//! (checkpoint in `relay_checkpoints`, under its name). For each `ProductMediaAttached` it
//! reads the stored object (refusing one over the upload limit without reading it), works out
//! what the bytes really are ([`analysis`]), stores a thumbnail, and issues
//! `MarkMediaProcessed` or `RejectMedia` through the product's command pipeline, with the
//! attach event as causation. A rejected object is deleted; `ProductMediaRemoved` deletes the
//! object and its thumbnail unless the product has attached the same content again since.
//!
//! **Nothing lost, nothing twice.** The checkpoint moves only past events whose outcome is
//! recorded, so a crash repeats at most the tail of a batch; repeating is harmless because
//! the commands are idempotent (only a pending media changes: the first decision stands) and a
//! media that is no longer pending is skipped before its object is read. A media store or
//! event store that is down is a transient failure: the tail loop retries the batch with
//! backoff. An object the store does not have, a product since discontinued or a media since
//! removed are outcomes, not failures: logged, counted, passed.

pub mod analysis;
mod metrics;
pub mod settings;

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::json;
use shopcore_domain::catalog::media::{self, MAX_MEDIA_BYTES};
use shopcore_domain::catalog::{MediaFacts, MediaStatus, Product, ProductCommand, ProductEvent};
use shopcore_event_store::snapshot::SnapshotPolicy;
use shopcore_event_store::tail::{
    LogConsumer, SharedStatus, Step, StepError, TailError, TailLoop, TailMetrics,
};
use shopcore_event_store::{EventStore, GlobalLog, LogPosition, StoredEvent};
use shopcore_media_store::{MediaStore, MediaStoreError};
use shopcore_telemetry::process::{ops_router, Readiness};
use tokio::net::TcpListener;
use tokio::sync::watch;
use uuid::Uuid;

use crate::error::CommandError;
use crate::grpc::catalog::{product_pipeline, product_snapshots};
use crate::metadata::CommandContext;
use crate::pipeline::CommandPipeline;
use analysis::{analyse, Analysis, Rejection};
pub use settings::MediaWorkerSettings;

/// The actor of the worker's commands, as their events record it.
pub const ACTOR: &str = "media-worker";

/// The media worker: its consumer and the tail loop that drives it.
pub struct MediaWorker {
    tail: TailLoop,
}

impl MediaWorker {
    /// A worker named `name` over the event store and the media store.
    pub fn new(store: EventStore, media: MediaStore, name: &str, batch_size: u32) -> Self {
        let log = GlobalLog::new(store.pool().clone());
        let processor = Arc::new(MediaProcessor {
            name: name.to_owned(),
            pipeline: product_pipeline(store.clone()),
            snapshots: product_snapshots(),
            store,
            media,
        });
        let tail = TailLoop::new(log, processor, batch_size, TailMetrics::projector(name));
        Self { tail }
    }

    pub fn status(&self) -> SharedStatus {
        self.tail.status()
    }

    /// Processes the next batch of the log, for tests.
    pub async fn step(&self) -> Result<Step, StepError> {
        self.tail.step().await
    }

    /// Runs until `shutdown` turns true.
    pub async fn run(&self, shutdown: watch::Receiver<bool>) {
        tracing::info!("media worker starting");
        self.tail.run(shutdown).await;
        tracing::info!("media worker stopped");
    }

    /// Serves `/metrics`, `/healthz` and `/readyz` (503 while halted or failing) on `listener`.
    pub fn serve_ops(&self, listener: TcpListener) {
        let status = self.status();
        let router = ops_router(Arc::new(move || {
            let status = status.read().expect("status lock").clone();
            Box::pin(async move {
                let ready = status.state.is_ready();
                Readiness {
                    ready,
                    body: json!({ "ready": ready, "mediaWorker": status.for_readiness() }),
                }
            })
        }));
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "media worker ops server stopped");
            }
        });
    }
}

/// What became of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Processed,
    Rejected,
    /// Nothing to do any more (decided before, removed, discontinued).
    Skipped,
    Deleted,
    Kept,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Processed => "processed",
            Self::Rejected => "rejected",
            Self::Skipped => "skipped",
            Self::Deleted => "deleted",
            Self::Kept => "kept",
        }
    }
}

struct MediaProcessor {
    name: String,
    store: EventStore,
    pipeline: CommandPipeline<Product>,
    snapshots: SnapshotPolicy,
    media: MediaStore,
}

fn media_failure(error: MediaStoreError) -> TailError {
    TailError::transient("media_store", error)
}

fn command_failure(error: CommandError) -> TailError {
    TailError::transient("command", error)
}

impl MediaProcessor {
    /// The product as it is now.
    async fn product(&self, id: &str) -> Result<Product, TailError> {
        Ok(self
            .store
            .load::<Product>(&self.snapshots, id)
            .await?
            .aggregate)
    }

    /// Runs a command of the worker's; a rejection that says the work is moot is `Skipped`.
    async fn command(
        &self,
        event: &StoredEvent,
        command_type: &'static str,
        command: ProductCommand,
    ) -> Result<bool, TailError> {
        let mut context = CommandContext::new(
            command_type,
            event
                .metadata_str("correlationId")
                .map_or_else(|| event.event_id.to_string(), str::to_owned),
        );
        context.causation_id = Some(event.event_id.to_string());
        context.traceparent = event.metadata_str("traceparent").map(str::to_owned);
        context.actor = ACTOR.to_owned();
        match self
            .pipeline
            .execute(&event.aggregate_id, command, &context)
            .await
        {
            Ok(_) => Ok(true),
            Err(CommandError::Rejected { message, .. }) => {
                tracing::info!(product_id = %event.aggregate_id, reason = %message, "media command moot");
                Ok(false)
            }
            Err(error) => Err(command_failure(error)),
        }
    }

    /// Reads, checks and records one attached object.
    async fn process(
        &self,
        event: &StoredEvent,
        media_id: Uuid,
        uri: &str,
        expected_sha256: Option<String>,
    ) -> Result<Outcome, TailError> {
        let product = self.product(&event.aggregate_id).await?;
        let pending = product
            .media
            .iter()
            .any(|m| m.media_id == media_id && m.status == MediaStatus::Pending);
        if !pending {
            return Ok(Outcome::Skipped);
        }
        let verdict = match self.media.read(uri, MAX_MEDIA_BYTES).await {
            Ok(bytes) => examine(bytes, expected_sha256).await,
            Err(MediaStoreError::NotFound(_)) => {
                Err("the uploaded object is missing from the media store".to_owned())
            }
            Err(MediaStoreError::TooLarge { size, .. }) => {
                Err(Rejection::TooLarge(size).to_string())
            }
            Err(MediaStoreError::BadKey(key)) => Err(format!("{key} is not a media key")),
            Err(error) => return Err(media_failure(error)),
        };
        match verdict {
            Ok(found) => {
                let product_id = Uuid::parse_str(&event.aggregate_id).unwrap_or_default();
                let thumbnail_key = media::thumbnail_key(
                    product_id,
                    &found.checksum_sha256,
                    found.thumbnail.extension,
                );
                self.media
                    .put(&thumbnail_key, Bytes::from(found.thumbnail.bytes))
                    .await
                    .map_err(media_failure)?;
                let facts = MediaFacts {
                    content_type: found.content_type.to_owned(),
                    size_bytes: found.size_bytes,
                    checksum_sha256: found.checksum_sha256,
                    width: Some(found.width),
                    height: Some(found.height),
                    thumbnail_uri: Some(thumbnail_key),
                };
                let command = ProductCommand::MarkMediaProcessed { media_id, facts };
                let done = self.command(event, "media.process", command).await?;
                Ok(if done {
                    Outcome::Processed
                } else {
                    Outcome::Skipped
                })
            }
            Err(reason) => {
                tracing::info!(product_id = %event.aggregate_id, %media_id, %reason, "media rejected");
                let command = ProductCommand::RejectMedia { media_id, reason };
                if !self.command(event, "media.reject", command).await? {
                    return Ok(Outcome::Skipped);
                }
                // The bytes were refused: they are not kept to be served.
                self.media.delete(uri).await.map_err(media_failure)?;
                Ok(Outcome::Rejected)
            }
        }
    }

    /// Deletes a removed media's objects, unless the product holds the same content again.
    async fn delete(
        &self,
        event: &StoredEvent,
        uri: &str,
        thumbnail: Option<&str>,
    ) -> Result<Outcome, TailError> {
        let product = self.product(&event.aggregate_id).await?;
        if product.media.iter().any(|m| m.uri == uri) {
            return Ok(Outcome::Kept);
        }
        for key in std::iter::once(uri).chain(thumbnail) {
            match self.media.delete(key).await {
                Ok(()) | Err(MediaStoreError::BadKey(_)) => {}
                Err(error) => return Err(media_failure(error)),
            }
        }
        Ok(Outcome::Deleted)
    }

    /// Handles one event of the log (most are not the worker's business).
    async fn handle(&self, event: &StoredEvent) -> Result<Option<Outcome>, TailError> {
        if event.aggregate_type != <Product as cqrs_es::Aggregate>::TYPE
            || !event.event_type.starts_with("ProductMedia")
        {
            return Ok(None);
        }
        let decoded: ProductEvent = serde_json::from_value(event.payload.clone()).map_err(|e| {
            TailError::permanent(
                "undecodable",
                format!(
                    "{} of product {}: {e}",
                    event.event_type, event.aggregate_id
                ),
            )
        })?;
        let outcome = match decoded {
            ProductEvent::ProductMediaAttached { media } => {
                self.process(event, media.media_id, &media.uri, media.checksum_sha256)
                    .await?
            }
            ProductEvent::ProductMediaRemoved {
                uri, thumbnail_uri, ..
            } => self.delete(event, &uri, thumbnail_uri.as_deref()).await?,
            _ => return Ok(None),
        };
        metrics::OUTCOMES
            .with_label_values(&[outcome.label()])
            .inc();
        Ok(Some(outcome))
    }

    async fn save_checkpoint(&self, from: LogPosition, to: LogPosition) -> Result<(), TailError> {
        let (old_tx, old_position) = from.as_i64();
        let (tx, position) = to.as_i64();
        let moved = sqlx::query(
            "UPDATE relay_checkpoints SET tx_id = $4, position = $5, updated_at = now()
             WHERE name = $1 AND tx_id = $2 AND position = $3",
        )
        .bind(&self.name)
        .bind(old_tx)
        .bind(old_position)
        .bind(tx)
        .bind(position)
        .execute(self.store.pool())
        .await
        .map_err(|e| TailError::transient("store", e))?;
        if moved.rows_affected() != 1 {
            return Err(TailError::transient(
                "store",
                "the checkpoint moved under this worker: another worker of the same name is running",
            ));
        }
        Ok(())
    }
}

/// Analyses the bytes on a blocking thread; a decoder that panics is a rejection too.
async fn examine(bytes: Bytes, expected_sha256: Option<String>) -> Result<Analysis, String> {
    let started = Instant::now();
    let verdict =
        tokio::task::spawn_blocking(move || analyse(&bytes, expected_sha256.as_deref())).await;
    metrics::ANALYSIS_SECONDS.observe(started.elapsed().as_secs_f64());
    match verdict {
        Ok(verdict) => verdict.map_err(|rejection| rejection.to_string()),
        Err(_) => Err("the image decoder failed on these bytes".to_owned()),
    }
}

#[async_trait]
impl LogConsumer for MediaProcessor {
    fn name(&self) -> &str {
        &self.name
    }

    async fn checkpoint(&self) -> Result<LogPosition, TailError> {
        let store = |e: sqlx::Error| TailError::transient("store", e);
        sqlx::query(
            "INSERT INTO relay_checkpoints (name, tx_id, position) VALUES ($1, 0, 0)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&self.name)
        .execute(self.store.pool())
        .await
        .map_err(store)?;
        let (tx, position): (i64, i64) =
            sqlx::query_as("SELECT tx_id, position FROM relay_checkpoints WHERE name = $1")
                .bind(&self.name)
                .fetch_one(self.store.pool())
                .await
                .map_err(store)?;
        Ok(LogPosition::new(tx as u64, position as u64))
    }

    /// Handles the batch in order; the checkpoint moves to the last event handled, also when
    /// a later one fails.
    async fn apply(
        &self,
        checkpoint: LogPosition,
        events: &[StoredEvent],
    ) -> Result<(), TailError> {
        let mut done: Option<LogPosition> = None;
        let mut failure = None;
        for event in events {
            match self.handle(event).await {
                Ok(_) => done = Some(event.log_position()),
                Err(error) => {
                    failure = Some(error);
                    break;
                }
            }
        }
        if let Some(to) = done {
            self.save_checkpoint(checkpoint, to).await?;
        }
        failure.map_or(Ok(()), Err)
    }
}
