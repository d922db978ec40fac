//! Events of the Product aggregate. Names are stable; a change of shape gets a new version.
//! All of them feed `catalog.product.updated.v1`; updates carry a field-level diff.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::media::{MediaFacts, MediaRef};
use super::values::{Attributes, FieldChange, Variant};

/// What happened to a product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProductEvent {
    #[serde(rename_all = "camelCase")]
    ProductCreated {
        product_id: Uuid,
        name: String,
        description: String,
        brand: Option<String>,
        attributes: Attributes,
        categories: Vec<String>,
        created_at: DateTime<Utc>,
    },
    /// Fields `name`, `description`, `brand`, `attributes.<key>` with old and new values.
    #[serde(rename_all = "camelCase")]
    ProductUpdated { changes: Vec<FieldChange> },
    #[serde(rename_all = "camelCase")]
    ProductVariantAdded { variant: Variant },
    /// Fields `sku`, `attributes.<key>` of the variant with old and new values.
    #[serde(rename_all = "camelCase")]
    ProductVariantUpdated {
        variant_id: Uuid,
        changes: Vec<FieldChange>,
    },
    #[serde(rename_all = "camelCase")]
    ProductVariantRemoved { variant_id: Uuid, sku: String },
    /// The full new list, and the difference to the previous one.
    #[serde(rename_all = "camelCase")]
    ProductCategoriesAssigned {
        categories: Vec<String>,
        added: Vec<String>,
        removed: Vec<String>,
    },
    /// An uploaded object, attached as `pending`.
    #[serde(rename_all = "camelCase")]
    ProductMediaAttached { media: MediaRef },
    /// Processing found the object to be what it claims, and what it is.
    #[serde(rename_all = "camelCase")]
    ProductMediaProcessed { media_id: Uuid, facts: MediaFacts },
    /// Processing refused the object; the reason is for people.
    #[serde(rename_all = "camelCase")]
    ProductMediaRejected { media_id: Uuid, reason: String },
    /// The media is gone from the product; `uri` and `thumbnail_uri` are the objects to delete.
    #[serde(rename_all = "camelCase")]
    ProductMediaRemoved {
        media_id: Uuid,
        uri: String,
        thumbnail_uri: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    ProductPublished { published_at: DateTime<Utc> },
    #[serde(rename_all = "camelCase")]
    ProductUnpublished { unpublished_at: DateTime<Utc> },
    #[serde(rename_all = "camelCase")]
    ProductDiscontinued { discontinued_at: DateTime<Utc> },
}

impl ProductEvent {
    /// Every event type name of the aggregate, for exhaustive topic and schema maps.
    pub const EVENT_TYPES: &'static [&'static str] = &[
        "ProductCreated",
        "ProductUpdated",
        "ProductVariantAdded",
        "ProductVariantUpdated",
        "ProductVariantRemoved",
        "ProductCategoriesAssigned",
        "ProductMediaAttached",
        "ProductMediaProcessed",
        "ProductMediaRejected",
        "ProductMediaRemoved",
        "ProductPublished",
        "ProductUnpublished",
        "ProductDiscontinued",
    ];
}

/// Schema version of every product event. Change it with the events' shape: it is stored with
/// each event, and snapshots of products taken under another version are ignored.
pub const EVENT_SCHEMA_VERSION: &str = "1";

impl DomainEvent for ProductEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ProductCreated { .. } => "ProductCreated",
            Self::ProductUpdated { .. } => "ProductUpdated",
            Self::ProductVariantAdded { .. } => "ProductVariantAdded",
            Self::ProductVariantUpdated { .. } => "ProductVariantUpdated",
            Self::ProductVariantRemoved { .. } => "ProductVariantRemoved",
            Self::ProductCategoriesAssigned { .. } => "ProductCategoriesAssigned",
            Self::ProductMediaAttached { .. } => "ProductMediaAttached",
            Self::ProductMediaProcessed { .. } => "ProductMediaProcessed",
            Self::ProductMediaRejected { .. } => "ProductMediaRejected",
            Self::ProductMediaRemoved { .. } => "ProductMediaRemoved",
            Self::ProductPublished { .. } => "ProductPublished",
            Self::ProductUnpublished { .. } => "ProductUnpublished",
            Self::ProductDiscontinued { .. } => "ProductDiscontinued",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        EVENT_SCHEMA_VERSION.to_owned()
    }
}
