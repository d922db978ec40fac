//! The `Product` aggregate: name, description, brand, typed attributes, variants with SKUs,
//! categories, media references and a lifecycle (draft → published ⇄ draft → discontinued).
//!
//! - [`commands`]: what a caller may ask ([`ProductCommand`]).
//! - [`events`]: what happened ([`ProductEvent`]); updates carry a field-level diff.
//! - [`errors`]: why a command was rejected ([`ProductError`]).
//! - [`taxonomy`]: the category tree, one aggregate ([`taxonomy::Taxonomy`]).
//! - [`media`]: uploaded media, what processing found, and their limits.
//! - [`values`]: attributes, variants, validation and the diff.
//! - this file: the aggregate state, `handle` (decide) and `apply` (fold).
//!
//! SKU uniqueness across the catalog is asked of [`SkuCatalog`] for a clear rejection; the
//! command service should also reserve SKUs in the same transaction as the events, so two
//! racing variants cannot both take one.

pub mod commands;
pub mod errors;
pub mod events;
pub mod media;
pub mod taxonomy;
pub mod values;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use commands::{ProductChanges, ProductCommand};
pub use errors::ProductError;
pub use events::{ProductEvent, EVENT_SCHEMA_VERSION};
pub use media::{Media, MediaFacts, MediaRef, MediaStatus};
pub use values::{AttributeValue, Attributes, FieldChange, ProductStatus, Variant};

/// Which product, if any, holds a SKU in the catalog.
#[async_trait]
pub trait SkuCatalog: Send + Sync {
    /// The product that has a variant with exactly this `sku`, if any.
    async fn sku_owner(&self, sku: &str) -> Result<Option<Uuid>, String>;
}

/// Which category keys the catalog's taxonomy has.
#[async_trait]
pub trait CategoryDirectory: Send + Sync {
    /// Those of `keys` that name no category, in the given order.
    async fn unknown(&self, keys: &[String]) -> Result<Vec<String>, String>;
}

/// What the Product aggregate needs from outside.
#[derive(Clone)]
pub struct ProductServices {
    pub skus: Arc<dyn SkuCatalog>,
    pub categories: Arc<dyn CategoryDirectory>,
}

/// The state a command needs to be decided; rebuilt from the product's events.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub id: Option<Uuid>,
    pub name: String,
    pub description: String,
    pub brand: Option<String>,
    pub attributes: Attributes,
    pub variants: BTreeMap<Uuid, Variant>,
    pub categories: Vec<String>,
    pub media: Vec<Media>,
    pub status: ProductStatus,
    pub created_at: Option<DateTime<Utc>>,
}

impl Product {
    /// The id of an existing product that may still change.
    fn editable(&self) -> Result<Uuid, ProductError> {
        let id = self.id.ok_or(ProductError::NotCreated)?;
        if self.status == ProductStatus::Discontinued {
            return Err(ProductError::Discontinued);
        }
        Ok(id)
    }

    /// The status of one of the product's media.
    fn media_status(&self, media_id: Uuid) -> Result<MediaStatus, ProductError> {
        self.media
            .iter()
            .find(|m| m.media_id == media_id)
            .map(|m| m.status)
            .ok_or(ProductError::UnknownMedia(media_id))
    }

    /// Rejects a SKU used by another variant here (`except` aside) or by another product.
    async fn ensure_sku_free(
        &self,
        sku: &str,
        except: Option<Uuid>,
        me: Uuid,
        services: &ProductServices,
    ) -> Result<(), ProductError> {
        let taken_here = self
            .variants
            .values()
            .any(|v| v.sku == sku && Some(v.variant_id) != except);
        if taken_here {
            return Err(ProductError::DuplicateSku(sku.to_owned()));
        }
        match services.skus.sku_owner(sku).await {
            Ok(Some(owner)) if owner != me => Err(ProductError::DuplicateSku(sku.to_owned())),
            Ok(_) => Ok(()),
            Err(reason) => Err(ProductError::LookupFailed(reason)),
        }
    }

    /// Rejects category keys the taxonomy does not have.
    async fn ensure_categories_exist(
        categories: &[String],
        services: &ProductServices,
    ) -> Result<(), ProductError> {
        if categories.is_empty() {
            return Ok(());
        }
        match services.categories.unknown(categories).await {
            Ok(unknown) => match unknown.into_iter().next() {
                Some(key) => Err(ProductError::UnknownCategory(key)),
                None => Ok(()),
            },
            Err(reason) => Err(ProductError::LookupFailed(reason)),
        }
    }

    fn decide_update(&self, changes: ProductChanges) -> Result<Vec<FieldChange>, ProductError> {
        if changes.is_empty() {
            return Err(ProductError::EmptyUpdate);
        }
        let mut diff = Vec::new();
        if let Some(name) = changes.name {
            let name = values::product_name(&name)?;
            diff.extend(FieldChange::text("name", Some(&self.name), Some(&name)));
        }
        if let Some(description) = changes.description {
            let description = values::description(&description)?;
            diff.extend(FieldChange::text(
                "description",
                Some(&self.description),
                Some(&description),
            ));
        }
        if let Some(brand) = changes.brand {
            let brand = values::brand(&brand)?;
            diff.extend(FieldChange::text(
                "brand",
                self.brand.as_deref(),
                brand.as_deref(),
            ));
        }
        if let Some(attributes) = changes.attributes {
            let attributes = values::attributes(attributes)?;
            diff.extend(values::diff_attributes(&self.attributes, &attributes));
        }
        Ok(diff)
    }

    async fn decide_variant_update(
        &self,
        me: Uuid,
        variant_id: Uuid,
        sku: Option<String>,
        attributes: Option<Attributes>,
        services: &ProductServices,
    ) -> Result<Vec<FieldChange>, ProductError> {
        let current = self
            .variants
            .get(&variant_id)
            .ok_or(ProductError::UnknownVariant(variant_id))?;
        if sku.is_none() && attributes.is_none() {
            return Err(ProductError::EmptyUpdate);
        }
        let mut diff = Vec::new();
        if let Some(sku) = sku {
            let sku = values::sku(&sku)?;
            if sku != current.sku {
                self.ensure_sku_free(&sku, Some(variant_id), me, services)
                    .await?;
                diff.extend(FieldChange::text("sku", Some(&current.sku), Some(&sku)));
            }
        }
        if let Some(attributes) = attributes {
            let attributes = values::attributes(attributes)?;
            diff.extend(values::diff_attributes(&current.attributes, &attributes));
        }
        Ok(diff)
    }
}

impl Aggregate for Product {
    const TYPE: &'static str = "product";
    type Command = ProductCommand;
    type Event = ProductEvent;
    type Error = ProductError;
    type Services = ProductServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            ProductCommand::CreateProduct {
                product_id,
                name,
                description,
                brand,
                attributes,
                categories,
                now,
            } => {
                if self.id.is_some() {
                    return Err(ProductError::AlreadyCreated);
                }
                let name = values::product_name(&name)?;
                let description = values::description(&description)?;
                let brand = brand.map(|b| values::brand(&b)).transpose()?.flatten();
                let attributes = values::attributes(attributes)?;
                let categories = values::categories(&categories)?;
                Self::ensure_categories_exist(&categories, services).await?;
                ProductEvent::ProductCreated {
                    product_id,
                    name,
                    description,
                    brand,
                    attributes,
                    categories,
                    created_at: now,
                }
            }
            ProductCommand::UpdateProduct(changes) => {
                self.editable()?;
                let changes = self.decide_update(changes)?;
                if changes.is_empty() {
                    return Ok(());
                }
                ProductEvent::ProductUpdated { changes }
            }
            ProductCommand::AddVariant {
                variant_id,
                sku,
                attributes,
            } => {
                let me = self.editable()?;
                if self.variants.contains_key(&variant_id) {
                    return Err(ProductError::VariantAlreadyExists(variant_id));
                }
                if self.variants.len() >= values::MAX_VARIANTS {
                    return Err(ProductError::invalid("variants", "at most 500 variants"));
                }
                let sku = values::sku(&sku)?;
                let attributes = values::attributes(attributes)?;
                self.ensure_sku_free(&sku, None, me, services).await?;
                ProductEvent::ProductVariantAdded {
                    variant: Variant {
                        variant_id,
                        sku,
                        attributes,
                    },
                }
            }
            ProductCommand::UpdateVariant {
                variant_id,
                sku,
                attributes,
            } => {
                let me = self.editable()?;
                let changes = self
                    .decide_variant_update(me, variant_id, sku, attributes, services)
                    .await?;
                if changes.is_empty() {
                    return Ok(());
                }
                ProductEvent::ProductVariantUpdated {
                    variant_id,
                    changes,
                }
            }
            ProductCommand::RemoveVariant { variant_id } => {
                self.editable()?;
                let variant = self
                    .variants
                    .get(&variant_id)
                    .ok_or(ProductError::UnknownVariant(variant_id))?;
                if self.status == ProductStatus::Published && self.variants.len() == 1 {
                    return Err(ProductError::NoVariants);
                }
                ProductEvent::ProductVariantRemoved {
                    variant_id,
                    sku: variant.sku.clone(),
                }
            }
            ProductCommand::AssignCategories { categories } => {
                self.editable()?;
                let wanted = values::categories(&categories)?;
                if wanted == self.categories {
                    return Ok(());
                }
                let new: Vec<String> = wanted
                    .iter()
                    .filter(|c| !self.categories.contains(c))
                    .cloned()
                    .collect();
                Self::ensure_categories_exist(&new, services).await?;
                let added = wanted
                    .iter()
                    .filter(|c| !self.categories.contains(c))
                    .cloned()
                    .collect();
                let removed = self
                    .categories
                    .iter()
                    .filter(|c| !wanted.contains(c))
                    .cloned()
                    .collect();
                ProductEvent::ProductCategoriesAssigned {
                    categories: wanted,
                    added,
                    removed,
                }
            }
            ProductCommand::AttachMedia(media) => {
                self.editable()?;
                let media = media.validated()?;
                if self.media.iter().any(|m| m.media_id == media.media_id) {
                    return Err(ProductError::MediaAlreadyAttached(media.media_id));
                }
                let same_content = self.media.iter().find(|m| {
                    m.uri == media.uri
                        || (media.checksum_sha256.is_some()
                            && m.checksum_sha256 == media.checksum_sha256)
                });
                if let Some(existing) = same_content {
                    return Err(ProductError::DuplicateMedia(existing.media_id));
                }
                if self.media.len() >= values::MAX_MEDIA {
                    return Err(ProductError::invalid(
                        "media",
                        "at most 50 media references",
                    ));
                }
                ProductEvent::ProductMediaAttached { media }
            }
            ProductCommand::MarkMediaProcessed { media_id, facts } => {
                self.editable()?;
                if self.media_status(media_id)? != MediaStatus::Pending {
                    return Ok(());
                }
                ProductEvent::ProductMediaProcessed {
                    media_id,
                    facts: facts.validated()?,
                }
            }
            ProductCommand::RejectMedia { media_id, reason } => {
                self.editable()?;
                if self.media_status(media_id)? != MediaStatus::Pending {
                    return Ok(());
                }
                ProductEvent::ProductMediaRejected {
                    media_id,
                    reason: media::reason(&reason),
                }
            }
            ProductCommand::RemoveMedia { media_id } => {
                self.editable()?;
                let media = self
                    .media
                    .iter()
                    .find(|m| m.media_id == media_id)
                    .ok_or(ProductError::UnknownMedia(media_id))?;
                ProductEvent::ProductMediaRemoved {
                    media_id,
                    uri: media.uri.clone(),
                    thumbnail_uri: media.thumbnail_uri.clone(),
                }
            }
            ProductCommand::PublishProduct { now } => {
                self.editable()?;
                if self.status == ProductStatus::Published {
                    return Ok(());
                }
                if self.variants.is_empty() {
                    return Err(ProductError::NoVariants);
                }
                ProductEvent::ProductPublished { published_at: now }
            }
            ProductCommand::UnpublishProduct { now } => {
                self.editable()?;
                if self.status != ProductStatus::Published {
                    return Ok(());
                }
                ProductEvent::ProductUnpublished {
                    unpublished_at: now,
                }
            }
            ProductCommand::DiscontinueProduct { now } => {
                self.editable()?;
                ProductEvent::ProductDiscontinued {
                    discontinued_at: now,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ProductEvent::ProductCreated {
                product_id,
                name,
                description,
                brand,
                attributes,
                categories,
                created_at,
            } => {
                self.id = Some(product_id);
                self.name = name;
                self.description = description;
                self.brand = brand;
                self.attributes = attributes;
                self.categories = categories;
                self.status = ProductStatus::Draft;
                self.created_at = Some(created_at);
            }
            ProductEvent::ProductUpdated { changes } => {
                for change in &changes {
                    match change.field.as_str() {
                        "name" => self.name = change.new_text().unwrap_or_default(),
                        "description" => self.description = change.new_text().unwrap_or_default(),
                        "brand" => self.brand = change.new_text(),
                        _ => {}
                    }
                }
                values::apply_attribute_changes(&mut self.attributes, &changes);
            }
            ProductEvent::ProductVariantAdded { variant } => {
                self.variants.insert(variant.variant_id, variant);
            }
            ProductEvent::ProductVariantUpdated {
                variant_id,
                changes,
            } => {
                if let Some(variant) = self.variants.get_mut(&variant_id) {
                    if let Some(sku) = changes
                        .iter()
                        .find(|c| c.field == "sku")
                        .and_then(FieldChange::new_text)
                    {
                        variant.sku = sku;
                    }
                    values::apply_attribute_changes(&mut variant.attributes, &changes);
                }
            }
            ProductEvent::ProductVariantRemoved { variant_id, .. } => {
                self.variants.remove(&variant_id);
            }
            ProductEvent::ProductCategoriesAssigned { categories, .. } => {
                self.categories = categories;
            }
            ProductEvent::ProductMediaAttached { media } => self.media.push(media.into()),
            ProductEvent::ProductMediaProcessed { media_id, facts } => {
                if let Some(media) = self.media.iter_mut().find(|m| m.media_id == media_id) {
                    media.processed(facts);
                }
            }
            ProductEvent::ProductMediaRejected { media_id, reason } => {
                if let Some(media) = self.media.iter_mut().find(|m| m.media_id == media_id) {
                    media.rejected(reason);
                }
            }
            ProductEvent::ProductMediaRemoved { media_id, .. } => {
                self.media.retain(|m| m.media_id != media_id);
            }
            ProductEvent::ProductPublished { .. } => self.status = ProductStatus::Published,
            ProductEvent::ProductUnpublished { .. } => self.status = ProductStatus::Draft,
            ProductEvent::ProductDiscontinued { .. } => self.status = ProductStatus::Discontinued,
        }
    }
}
