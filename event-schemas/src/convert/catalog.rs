//! `shopcore.catalog` records.

use std::collections::HashMap;

use apache_avro::types::Value;
use shopcore_domain::catalog::taxonomy::TaxonomyEvent;
use shopcore_domain::catalog::{
    AttributeValue, Attributes, FieldChange, MediaFacts, MediaRef, ProductEvent, Variant,
};

use super::{domain_event, money, string_array, uuid_id, Record};
use crate::envelope::EventEnvelope;
use crate::error::EncodeError;

pub(super) fn to_record(event: &EventEnvelope<'_>) -> Result<Value, EncodeError> {
    let domain: ProductEvent = domain_event(event)?;
    let head = Record::event(event, "productId", uuid_id(event)?);
    Ok(match domain {
        ProductEvent::ProductCreated {
            product_id: _,
            name,
            description,
            brand,
            attributes,
            categories,
            created_at,
        } => head
            .string("name", name)
            .string("description", description)
            .optional("brand", brand.map(Value::String))
            .field("attributes", attributes_map(attributes))
            .strings("categories", categories)
            .timestamp("createdAt", created_at),
        ProductEvent::ProductUpdated { changes } => head.field("changes", field_changes(changes)),
        ProductEvent::ProductVariantAdded { variant } => {
            head.field("variant", variant_record(variant))
        }
        ProductEvent::ProductVariantUpdated {
            variant_id,
            changes,
        } => head
            .uuid("variantId", variant_id)
            .field("changes", field_changes(changes)),
        ProductEvent::ProductVariantRemoved { variant_id, sku } => {
            head.uuid("variantId", variant_id).string("sku", sku)
        }
        ProductEvent::ProductCategoriesAssigned {
            categories,
            added,
            removed,
        } => head
            .strings("categories", categories)
            .strings("added", added)
            .strings("removed", removed),
        ProductEvent::ProductMediaAttached { media } => head.field("media", media_record(media)),
        ProductEvent::ProductMediaProcessed { media_id, facts } => head
            .uuid("mediaId", media_id)
            .field("facts", facts_record(facts)),
        ProductEvent::ProductMediaRejected { media_id, reason } => {
            head.uuid("mediaId", media_id).string("reason", reason)
        }
        ProductEvent::ProductMediaRemoved {
            media_id,
            uri,
            thumbnail_uri,
        } => head
            .uuid("mediaId", media_id)
            .string("uri", uri)
            .optional("thumbnailUri", thumbnail_uri.map(Value::String)),
        ProductEvent::ProductPublished { published_at } => {
            head.timestamp("publishedAt", published_at)
        }
        ProductEvent::ProductUnpublished { unpublished_at } => {
            head.timestamp("unpublishedAt", unpublished_at)
        }
        ProductEvent::ProductDiscontinued { discontinued_at } => {
            head.timestamp("discontinuedAt", discontinued_at)
        }
    }
    .build())
}

/// A category tree event: the tree's id, the category's key and what changed.
pub(super) fn taxonomy_record(event: &EventEnvelope<'_>) -> Result<Value, EncodeError> {
    let domain: TaxonomyEvent = domain_event(event)?;
    let head = Record::event(
        event,
        "taxonomyId",
        Value::String(event.aggregate_id.to_owned()),
    );
    let position = |position: u32| i32::try_from(position).unwrap_or(i32::MAX);
    Ok(match domain {
        TaxonomyEvent::CategoryCreated {
            key,
            name,
            parent,
            position: at,
        } => head
            .string("key", key)
            .string("name", name)
            .optional("parent", parent.map(Value::String))
            .int("position", position(at)),
        TaxonomyEvent::CategoryRenamed { key, name } => {
            head.string("key", key).string("name", name)
        }
        TaxonomyEvent::CategoryMoved {
            key,
            parent,
            position: at,
        } => head
            .string("key", key)
            .optional("parent", parent.map(Value::String))
            .int("position", position(at)),
        TaxonomyEvent::CategoryRemoved { key } => head.string("key", key),
    }
    .build())
}

/// `AttributeValue`: a `kind` enum and one value field set, the others null.
fn attribute_value(value: AttributeValue) -> Value {
    let (kind, text, integer, boolean, money_value, text_list) = match value {
        AttributeValue::Text(text) => ("TEXT", Some(Value::String(text)), None, None, None, None),
        AttributeValue::Integer(n) => ("INTEGER", None, Some(Value::Long(n)), None, None, None),
        AttributeValue::Boolean(b) => ("BOOLEAN", None, None, Some(Value::Boolean(b)), None, None),
        AttributeValue::Money(m) => ("MONEY", None, None, None, Some(money(m)), None),
        AttributeValue::TextList(items) => (
            "TEXT_LIST",
            None,
            None,
            None,
            None,
            Some(string_array(items)),
        ),
    };
    Record::new()
        .symbol("kind", kind)
        .optional("text", text)
        .optional("integer", integer)
        .optional("boolean", boolean)
        .optional("money", money_value)
        .optional("textList", text_list)
        .build()
}

fn attributes_map(attributes: Attributes) -> Value {
    Value::Map(
        attributes
            .into_iter()
            .map(|(key, value)| (key, attribute_value(value)))
            .collect::<HashMap<_, _>>(),
    )
}

fn field_changes(changes: Vec<FieldChange>) -> Value {
    Value::Array(
        changes
            .into_iter()
            .map(|change| {
                let FieldChange { field, old, new } = change;
                Record::new()
                    .string("field", field)
                    .optional("oldValue", old.map(attribute_value))
                    .optional("newValue", new.map(attribute_value))
                    .build()
            })
            .collect(),
    )
}

fn variant_record(variant: Variant) -> Value {
    let Variant {
        variant_id,
        sku,
        attributes,
    } = variant;
    Record::new()
        .uuid("variantId", variant_id)
        .string("sku", sku)
        .field("attributes", attributes_map(attributes))
        .build()
}

fn media_record(media: MediaRef) -> Value {
    let MediaRef {
        media_id,
        uri,
        content_type,
        alt_text,
        checksum_sha256,
    } = media;
    Record::new()
        .uuid("mediaId", media_id)
        .string("uri", uri)
        .string("contentType", content_type)
        .optional("altText", alt_text.map(Value::String))
        .optional("checksumSha256", checksum_sha256.map(Value::String))
        .build()
}

fn facts_record(facts: MediaFacts) -> Value {
    let MediaFacts {
        content_type,
        size_bytes,
        checksum_sha256,
        width,
        height,
        thumbnail_uri,
    } = facts;
    let pixels = |side: Option<u32>| side.map(|n| Value::Int(i32::try_from(n).unwrap_or(i32::MAX)));
    Record::new()
        .string("contentType", content_type)
        .long("sizeBytes", i64::try_from(size_bytes).unwrap_or(i64::MAX))
        .string("checksumSha256", checksum_sha256)
        .optional("width", pixels(width))
        .optional("height", pixels(height))
        .optional("thumbnailUri", thumbnail_uri.map(Value::String))
        .build()
}
