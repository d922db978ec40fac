//! The catalog read side: one CouchDB document per product ([`ProductDocument`]), folded from
//! the product's events by the domain's own `apply`, and its projector ([`couch`]); the
//! category tree in MySQL ([`taxonomy`]).

pub mod couch;
pub mod read_model;
pub mod taxonomy;

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shopcore_domain::catalog::{Attributes, Media, Product, ProductEvent, ProductStatus, Variant};
use shopcore_event_store::StoredEvent;
use uuid::Uuid;

use crate::error::ProjectionError;

/// The aggregate type of products in the event store.
pub const AGGREGATE_TYPE: &str = "product";

/// A product as the catalog database holds it: `_id` is the product id. `skus` repeats the
/// variants' SKUs for the SKU index; `version` and `logPosition` say which event it reflects.
/// Fields another writer added are kept as they are (`other`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductDocument {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "_rev", default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub product_id: Uuid,
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub brand: Option<String>,
    pub attributes: Attributes,
    /// In SKU order.
    pub variants: Vec<Variant>,
    pub skus: Vec<String>,
    pub categories: Vec<String>,
    /// In the order attached, with their processing status (older documents without one
    /// read as `pending`).
    pub media: Vec<Media>,
    pub status: ProductStatus,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
    pub log_position: String,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl ProductDocument {
    /// The document of `state` after the event `last`.
    fn of(state: &Product, last: &StoredEvent, other: Map<String, Value>) -> Self {
        let mut variants: Vec<Variant> = state.variants.values().cloned().collect();
        variants.sort_by(|a, b| a.sku.cmp(&b.sku));
        Self {
            id: last.aggregate_id.clone(),
            rev: None,
            kind: "product".to_owned(),
            product_id: state.id.unwrap_or_default(),
            name: state.name.clone(),
            description: state.description.clone(),
            brand: state.brand.clone(),
            attributes: state.attributes.clone(),
            skus: variants.iter().map(|v| v.sku.clone()).collect(),
            variants,
            categories: state.categories.clone(),
            media: state.media.clone(),
            status: state.status,
            created_at: state.created_at,
            updated_at: last.recorded_at,
            version: last.sequence,
            log_position: last.log_position().to_string(),
            other,
        }
    }

    /// The aggregate state this document reflects, to fold further events onto.
    fn state(&self) -> Product {
        Product {
            id: Some(self.product_id),
            name: self.name.clone(),
            description: self.description.clone(),
            brand: self.brand.clone(),
            attributes: self.attributes.clone(),
            variants: self
                .variants
                .iter()
                .map(|v| (v.variant_id, v.clone()))
                .collect(),
            categories: self.categories.clone(),
            media: self.media.clone(),
            status: self.status,
            created_at: self.created_at,
        }
    }

    /// Folds `events` (consecutive events of one product) onto `start`, the document of the
    /// events before them (`None`: the product's first event comes first).
    pub fn fold(
        start: Option<&ProductDocument>,
        events: &[StoredEvent],
    ) -> Result<Option<Self>, ProjectionError> {
        let Some(last) = events.last() else {
            return Ok(start.cloned());
        };
        let mut state = start.map(Self::state).unwrap_or_default();
        for stored in events {
            let event: ProductEvent =
                serde_json::from_value(stored.payload.clone()).map_err(|error| {
                    ProjectionError::Undecodable {
                        reason: format!(
                            "{} {} of product {}: {error}",
                            stored.event_type, stored.sequence, stored.aggregate_id
                        ),
                    }
                })?;
            state.apply(event);
        }
        // Another writer's fields stay; CouchDB's own metadata (`_conflicts`, `_revisions`…)
        // is not ours to write back, attachments are.
        let other = start
            .map(|doc| {
                doc.other
                    .iter()
                    .filter(|(key, _)| !key.starts_with('_') || *key == "_attachments")
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(Self::of(&state, last, other)))
    }
}
