//! Documents on the wire: the Avro schema of a catalog product document, as the catalog change
//! feed publishes it (`catalog.product.document.v1`), and the conversions between the JSON
//! document and its Avro value.
//!
//! A document is not an event: it is the whole current product as the catalog database holds
//! it, written by the projector — or by anyone else with access to the database. So its schema
//! lives apart from the event schemas (`documents/<context>/<Name>.v<N>.avsc`, not
//! `schemas/`, whose every file must be an event of a topic), and the conversion from JSON is
//! also the check that the document still has the shape the schema describes:
//! [`DocumentSchema::from_json`] reports every [`Drift`] — a field the schema does not know, a
//! field it needs that is missing, a value of another type — with the field's path.
//!
//! The schema maps onto the JSON document field by field, with two annotations the conversions
//! read: a field's `jsonName` (`_id` → `id`, `_rev` → `rev`) and a record's
//! `"jsonShape": "typeValue"` (an attribute: `{"type": "integer", "value": 42}` in JSON, a
//! record with a `type` and one value field per type in Avro).
//!
//! - [`from_json`]: JSON document → Avro value and drift;
//! - [`to_json`]: Avro value (as a consumer decodes it) → JSON document;
//! - `asyncapi`: the document topics' part of the AsyncAPI document.

pub(crate) mod asyncapi;
pub mod from_json;
pub mod to_json;

use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

use apache_avro::schema::{Name, ResolvedSchema};
use apache_avro::Schema;
use serde_json::Value as Json;

use crate::compat::{self, Finding};
use crate::error::SchemaError;

pub use from_json::{Converted, Drift, DriftKind};

/// The topic of product documents (before `KAFKA_TOPIC_PREFIX`).
pub const PRODUCT_DOCUMENT_TOPIC: &str = "catalog.product.document.v1";

/// Where documents that cannot be encoded go, as the JSON they are, when the feed is set to
/// dead-letter them.
pub const PRODUCT_DOCUMENT_DLQ_TOPIC: &str = "catalog.product.document.v1.dlq";

/// Kafka header names of document messages.
pub mod headers {
    /// The CouchDB revision of the document (with its id, the deduplication key).
    pub const DOCUMENT_REV: &str = "document_rev";
    /// The drift kinds found, comma-separated (only when the document drifted).
    pub const DRIFT: &str = "drift";
    /// The paths of the drifting fields, comma-separated (dead-letter messages).
    pub const DRIFT_PATHS: &str = "drift_paths";
}

/// An Avro record schema of a document, with its named types resolved.
#[derive(Debug)]
pub struct DocumentSchema {
    /// The topic (before any prefix) whose values have this schema.
    pub topic: &'static str,
    /// Version of the schema (the `.v<N>` of its file).
    pub version: u32,
    /// The schema as registered with the schema registry.
    pub schema_json: String,
    pub schema: Schema,
    pub(crate) names: HashMap<Name, Schema>,
}

const PRODUCT_DOCUMENT_FILE: &str = include_str!("../../documents/catalog/ProductDocument.v1.avsc");

static PRODUCT_DOCUMENT: LazyLock<Result<DocumentSchema, String>> = LazyLock::new(|| {
    DocumentSchema::parse(PRODUCT_DOCUMENT_TOPIC, 1, PRODUCT_DOCUMENT_FILE)
        .map_err(|e| e.to_string())
});

impl DocumentSchema {
    /// The product document schema. Fails only on a defect of this crate, which its tests catch.
    pub fn product() -> Result<&'static DocumentSchema, SchemaError> {
        PRODUCT_DOCUMENT
            .as_ref()
            .map_err(|message| SchemaError::Topic {
                topic: PRODUCT_DOCUMENT_TOPIC.into(),
                message: message.clone(),
            })
    }

    fn parse(topic: &'static str, version: u32, text: &str) -> Result<Self, SchemaError> {
        let file_error = |message: String| SchemaError::File {
            path: format!("documents/{topic}"),
            message,
        };
        let json: Json =
            serde_json::from_str(text).map_err(|e| file_error(format!("not JSON: {e}")))?;
        let schema = Schema::parse(&json)
            .map_err(|e| file_error(format!("not a valid Avro schema: {e}")))?;
        if !matches!(schema, Schema::Record(_)) {
            return Err(file_error("a document schema must be a record".into()));
        }
        let names = ResolvedSchema::try_from(&schema)
            .map_err(|e| file_error(format!("unresolvable names: {e}")))?
            .get_names()
            .iter()
            .map(|(name, schema)| (name.clone(), (*schema).clone()))
            .collect();
        Ok(Self {
            topic,
            version,
            schema_json: serde_json::to_string(&json).map_err(|e| file_error(e.to_string()))?,
            schema,
            names,
        })
    }

    /// The schema registry subject of the values (topic-name strategy): `<topic>-value`.
    pub fn value_subject(&self) -> String {
        format!("{}-value", self.topic)
    }

    /// The schema as JSON (for the AsyncAPI document).
    pub fn schema_value(&self) -> Json {
        serde_json::from_str(&self.schema_json).unwrap_or(Json::Null)
    }

    /// The schema against its recorded history in `dir` (`subjects/` of this crate), with the
    /// same BACKWARD rule as the event topics.
    pub fn check_history(&self, dir: &Path) -> anyhow::Result<Finding> {
        compat::check_subject(
            dir,
            &self.value_subject(),
            &self.schema_value(),
            &self.schema,
        )
    }

    /// The named type `name`, for walking into a reference.
    pub(crate) fn named(&self, name: &Name) -> Option<&Schema> {
        self.names.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_product_document_schema_loads_and_is_recorded() {
        let schema = DocumentSchema::product().expect("loads");
        assert_eq!(schema.value_subject(), "catalog.product.document.v1-value");
        let finding = schema
            .check_history(&compat::default_dir())
            .expect("history readable");
        assert!(finding.is_ok(), "{finding}");
    }
}
