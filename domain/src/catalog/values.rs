//! Validated value objects of the catalog and the field-level diff carried by update events.
//! Parsing trims text and rejects with an error naming the API field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization as _;
use uuid::Uuid;

use super::errors::ProductError;
use crate::money::Money;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
pub const MAX_BRAND_CHARS: usize = 100;
pub const MAX_ATTRIBUTES: usize = 100;
pub const MAX_ATTRIBUTE_TEXT_CHARS: usize = 1_000;
pub const MAX_LIST_ITEMS: usize = 50;
pub const MAX_SKU_CHARS: usize = 64;
pub const MAX_VARIANTS: usize = 500;
pub const MAX_CATEGORIES: usize = 50;
pub const MAX_CATEGORY_CHARS: usize = 128;
pub const MAX_MEDIA: usize = 50;
pub const MAX_URI_CHARS: usize = 2_048;

/// Product and variant attributes by key (`^[a-z][a-z0-9_]{0,63}$`).
pub type Attributes = BTreeMap<String, AttributeValue>;

/// A typed attribute value. On the wire `{"type": "integer", "value": 42}`. Decimals are
/// modelled as integers with the unit in the key (`weight_grams`) or as money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "camelCase")]
pub enum AttributeValue {
    Text(String),
    Integer(i64),
    Boolean(bool),
    Money(Money),
    TextList(Vec<String>),
}

/// A sellable variant of a product, identified by its id and by a catalog-wide unique SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Variant {
    pub variant_id: Uuid,
    pub sku: String,
    pub attributes: Attributes,
}

pub use super::media::MediaRef;

/// Where a product is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProductStatus {
    #[default]
    Draft,
    Published,
    Discontinued,
}

/// One changed field: `name`, `description`, `brand`, `sku` or `attributes.<key>`, with the value
/// before and after (`None` = absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    pub field: String,
    pub old: Option<AttributeValue>,
    pub new: Option<AttributeValue>,
}

impl FieldChange {
    pub(crate) fn text(field: &str, old: Option<&str>, new: Option<&str>) -> Option<Self> {
        (old != new).then(|| Self {
            field: field.to_owned(),
            old: old.map(|s| AttributeValue::Text(s.to_owned())),
            new: new.map(|s| AttributeValue::Text(s.to_owned())),
        })
    }

    /// The new text of a text field, if any.
    pub fn new_text(&self) -> Option<String> {
        match &self.new {
            Some(AttributeValue::Text(text)) => Some(text.clone()),
            _ => None,
        }
    }
}

/// Key-level diff of two attribute maps, as `attributes.<key>` changes in key order.
pub(crate) fn diff_attributes(old: &Attributes, new: &Attributes) -> Vec<FieldChange> {
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let (before, after) = (old.get(key), new.get(key));
            (before != after).then(|| FieldChange {
                field: format!("attributes.{key}"),
                old: before.cloned(),
                new: after.cloned(),
            })
        })
        .collect()
}

/// Applies `attributes.<key>` changes to a map; other fields are ignored.
pub(crate) fn apply_attribute_changes(attributes: &mut Attributes, changes: &[FieldChange]) {
    for change in changes {
        if let Some(key) = change.field.strip_prefix("attributes.") {
            match &change.new {
                Some(value) => attributes.insert(key.to_owned(), value.clone()),
                None => attributes.remove(key),
            };
        }
    }
}

/// Free text: NFC, trimmed, nothing invisible (see [`crate::text`]); line breaks and tabs are
/// allowed where `multiline` (descriptions).
pub(crate) fn bounded_text(
    raw: &str,
    field: &'static str,
    max: usize,
    required: bool,
) -> Result<String, ProductError> {
    let multiline = field == "description";
    // Line breaks and tabs of a description are kept; everything else that does not show is
    // refused as in every other text field.
    let text = if multiline {
        let lines: Result<Vec<String>, _> = raw
            .trim()
            .split('\n')
            .map(|line| {
                line.split('\t')
                    .map(|part| crate::text::clean(part.trim_end_matches('\r')))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|parts| parts.join("\t"))
            })
            .collect();
        lines.map(|lines| lines.join("\n"))
    } else {
        crate::text::clean(raw)
    }
    .map_err(|issue| ProductError::invalid(field, issue.reason()))?;
    if required && text.is_empty() {
        return Err(ProductError::invalid(field, "must not be empty"));
    }
    if text.chars().count() > max {
        return Err(ProductError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(text)
}

pub(crate) fn product_name(raw: &str) -> Result<String, ProductError> {
    bounded_text(raw, "name", MAX_NAME_CHARS, true)
}

pub(crate) fn description(raw: &str) -> Result<String, ProductError> {
    bounded_text(raw, "description", MAX_DESCRIPTION_CHARS, false)
}

/// A brand; empty means none.
pub(crate) fn brand(raw: &str) -> Result<Option<String>, ProductError> {
    let brand = bounded_text(raw, "brand", MAX_BRAND_CHARS, false)?;
    Ok((!brand.is_empty()).then_some(brand))
}

/// A trimmed SKU of letters, digits, `-`, `_` and `.`, case preserved.
pub fn sku(raw: &str) -> Result<String, ProductError> {
    clean_sku(raw).map_err(|reason| ProductError::invalid("sku", reason))
}

/// The SKU rule shared by every context: the trimmed SKU, or why it is invalid.
pub fn clean_sku(raw: &str) -> Result<String, String> {
    let sku = raw.trim();
    if sku.is_empty() {
        return Err("must not be empty".into());
    }
    if sku.len() > MAX_SKU_CHARS {
        return Err(format!("must be at most {MAX_SKU_CHARS} characters"));
    }
    if !sku
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err("may contain only letters, digits, '-', '_' and '.'".into());
    }
    Ok(sku.to_owned())
}

/// Validates keys and values of an attribute map; text values are trimmed.
pub(crate) fn attributes(raw: Attributes) -> Result<Attributes, ProductError> {
    if raw.len() > MAX_ATTRIBUTES {
        return Err(ProductError::invalid(
            "attributes",
            format!("at most {MAX_ATTRIBUTES} attributes"),
        ));
    }
    raw.into_iter()
        .map(|(key, value)| Ok((attribute_key(&key)?, attribute_value(&key, value)?)))
        .collect()
}

fn attribute_key(key: &str) -> Result<String, ProductError> {
    let mut bytes = key.bytes();
    let starts_with_letter = bytes.next().is_some_and(|b| b.is_ascii_lowercase());
    let rest_ok = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !starts_with_letter || !rest_ok || key.len() > 64 {
        return Err(ProductError::invalid(
            "attributes",
            format!("key {:?} must be lower-case letters, digits and '_', starting with a letter, at most 64", cut(key)),
        ));
    }
    Ok(key.to_owned())
}

fn attribute_value(key: &str, value: AttributeValue) -> Result<AttributeValue, ProductError> {
    let text_ok = |text: &str| {
        text.chars().count() <= MAX_ATTRIBUTE_TEXT_CHARS
            && !text.chars().any(crate::text::is_invisible)
    };
    let invalid = |reason: &str| ProductError::invalid("attributes", format!("{key}: {reason}"));
    match value {
        AttributeValue::Text(text) => {
            let text: String = text.nfc().collect::<String>().trim().to_owned();
            if !text_ok(&text) {
                return Err(invalid(
                    "text must be at most 1000 characters without control, format or invisible characters",
                ));
            }
            Ok(AttributeValue::Text(text))
        }
        AttributeValue::TextList(items) => {
            if items.len() > MAX_LIST_ITEMS {
                return Err(invalid("a list has at most 50 items"));
            }
            let items: Vec<String> = items
                .iter()
                .map(|item| item.nfc().collect::<String>().trim().to_owned())
                .collect();
            if items.iter().any(|item| item.is_empty() || !text_ok(item)) {
                return Err(invalid(
                    "list items must be non-empty text of at most 1000 characters",
                ));
            }
            Ok(AttributeValue::TextList(items))
        }
        other => Ok(other),
    }
}

/// Whether `key` is a category key: lower-case ASCII letters and digits in groups joined by
/// single '-' ("mens-shoes"), at most [`MAX_CATEGORY_CHARS`].
pub fn is_category_key(key: &str) -> bool {
    key.len() <= MAX_CATEGORY_CHARS
        && !key.is_empty()
        && key.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// Category keys: trimmed, lower-cased, de-duplicated, in the given order.
pub(crate) fn categories(raw: &[String]) -> Result<Vec<String>, ProductError> {
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for category in raw {
        let category = category.trim().to_ascii_lowercase();
        if !is_category_key(&category) {
            return Err(ProductError::invalid(
                "categories",
                format!("each category is a key of lower-case letters and digits joined by '-', at most {MAX_CATEGORY_CHARS} characters"),
            ));
        }
        if !out.contains(&category) {
            out.push(category);
        }
    }
    if out.len() > MAX_CATEGORIES {
        return Err(ProductError::invalid(
            "categories",
            format!("at most {MAX_CATEGORIES} categories"),
        ));
    }
    Ok(out)
}

fn cut(text: &str) -> String {
    text.chars().take(64).collect()
}
