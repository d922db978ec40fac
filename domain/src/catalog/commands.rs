//! Commands of the Product aggregate.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::media::{MediaFacts, MediaRef};
use super::values::Attributes;

/// What a caller may ask of a product.
#[derive(Debug, Clone, PartialEq)]
pub enum ProductCommand {
    /// Creates the product in `draft`. The id is chosen by the caller.
    CreateProduct {
        product_id: Uuid,
        name: String,
        description: String,
        /// Empty or absent means no brand.
        brand: Option<String>,
        attributes: Attributes,
        categories: Vec<String>,
        now: DateTime<Utc>,
    },
    /// Changes the given fields; the event carries the field-level diff.
    UpdateProduct(ProductChanges),
    /// Adds a variant with a SKU that no other variant in the catalog uses.
    AddVariant {
        variant_id: Uuid,
        sku: String,
        attributes: Attributes,
    },
    /// Changes a variant's SKU and/or replaces its attributes.
    UpdateVariant {
        variant_id: Uuid,
        sku: Option<String>,
        attributes: Option<Attributes>,
    },
    RemoveVariant {
        variant_id: Uuid,
    },
    /// Replaces the product's categories with this list.
    AssignCategories {
        categories: Vec<String>,
    },
    /// Attaches a stored upload as `pending`. The same content twice on one product is a
    /// conflict naming the first.
    AttachMedia(MediaRef),
    /// Records what processing found. Only a pending media changes; asking again changes
    /// nothing (the first decision stands), so a retried worker is harmless.
    MarkMediaProcessed {
        media_id: Uuid,
        facts: MediaFacts,
    },
    /// Refuses a pending media with a reason; as idempotent as `MarkMediaProcessed`.
    RejectMedia {
        media_id: Uuid,
        reason: String,
    },
    /// Removes a media from the product (its objects are deleted afterwards).
    RemoveMedia {
        media_id: Uuid,
    },
    /// Makes the product visible; needs at least one variant. Publishing a published product
    /// changes nothing.
    PublishProduct {
        now: DateTime<Utc>,
    },
    /// Back to draft. Unpublishing a draft changes nothing.
    UnpublishProduct {
        now: DateTime<Utc>,
    },
    /// Final: a discontinued product accepts no further command.
    DiscontinueProduct {
        now: DateTime<Utc>,
    },
}

/// Requested product changes; `None` leaves a field as it is. `brand: Some("")` clears the
/// brand; `attributes` replaces the whole map (the diff is computed per key).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub brand: Option<String>,
    pub attributes: Option<Attributes>,
}

impl ProductChanges {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.description.is_none()
            && self.brand.is_none()
            && self.attributes.is_none()
    }
}
