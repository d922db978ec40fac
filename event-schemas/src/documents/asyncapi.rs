//! The document topics in the AsyncAPI document: `catalog.product.document.v1` (Avro, through
//! the registry) and its dead-letter topic (the raw JSON of documents that drifted too far to
//! encode).

use serde_json::{json, Map, Value};

use super::{headers, DocumentSchema, PRODUCT_DOCUMENT_DLQ_TOPIC, PRODUCT_DOCUMENT_TOPIC};

/// Adds the document channels and their messages.
pub(crate) fn add_channels(
    channels: &mut Map<String, Value>,
    messages: &mut Map<String, Value>,
) -> anyhow::Result<()> {
    let schema = DocumentSchema::product()?;
    let subject = schema.value_subject();
    let key = json!({
        "kafka": {
            "key": { "type": "string", "description": "The document id (the product id)." },
            "schemaIdLocation": "payload",
            "schemaIdPayloadEncoding": "confluent",
            "schemaLookupStrategy": "TopicIdStrategy",
            "bindingVersion": "0.4.0"
        }
    });
    messages.insert(
        "ProductDocument".into(),
        json!({
            "name": "ProductDocument",
            "title": format!("ProductDocument v{}", schema.version),
            "summary": "The whole current product document of the catalog database, or a tombstone (null value) when the document was deleted.",
            "description": format!(
                "The `{subject}` schema. Value: Confluent wire format (magic byte 0, 4-byte schema id, Avro binary); null for a deleted document. Fields the schema does not know are left out (counted as unknown_field drift)."
            ),
            "contentType": "application/vnd.apache.avro+binary",
            "schemaFormat": "application/vnd.apache.avro+json;version=1.9.0",
            "headers": {
                "type": "object",
                "required": [headers::DOCUMENT_REV],
                "properties": {
                    headers::DOCUMENT_REV: { "type": "string", "description": "The CouchDB revision; with the id and version, the deduplication key." },
                    headers::DRIFT: { "type": "string", "description": "Drift kinds found in the document, comma-separated (only unknown_field on this topic); absent when none." },
                }
            },
            "bindings": key,
            "payload": schema.schema_value(),
        }),
    );
    messages.insert(
        "ProductDocumentDeadLetter".into(),
        json!({
            "name": "ProductDocumentDeadLetter",
            "title": "ProductDocument dead letter",
            "summary": "A product document that cannot be encoded with the schema (a missing required field, a value of another type), as the JSON the database holds.",
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "required": [headers::DRIFT, headers::DRIFT_PATHS],
                "properties": {
                    headers::DOCUMENT_REV: { "type": "string", "description": "The CouchDB revision, when the change had one." },
                    headers::DRIFT: { "type": "string", "description": "Drift kinds found (unknown_field, missing_field, type_mismatch), comma-separated." },
                    headers::DRIFT_PATHS: { "type": "string", "description": "Paths of the drifting fields (variants[2].sku; $ is the document), comma-separated, at most 20." },
                }
            },
            "bindings": { "kafka": { "key": { "type": "string", "description": "The document id." }, "bindingVersion": "0.4.0" } },
            "payload": { "type": "object", "description": "The document as CouchDB returned it." },
        }),
    );
    channels.insert(
        PRODUCT_DOCUMENT_TOPIC.into(),
        json!({
            "description": format!(
                "The replicated view of the catalog: the catalog change feed follows the CouchDB database's _changes and publishes every product document, at least once, in change order per document. Value subject `{subject}`; key: the document id. Not the domain events (those are catalog.product.updated.v1)."
            ),
            "bindings": { "kafka": { "topic": PRODUCT_DOCUMENT_TOPIC, "bindingVersion": "0.4.0" } },
            "subscribe": {
                "operationId": "onCatalogProductDocument",
                "summary": "Product documents of the catalog database.",
                "message": { "$ref": "#/components/messages/ProductDocument" },
            },
        }),
    );
    channels.insert(
        PRODUCT_DOCUMENT_DLQ_TOPIC.into(),
        json!({
            "description": "Product documents the catalog change feed could not encode (CATALOG_FEED_ON_DRIFT=dead-letter, the default), as raw JSON; key: the document id.",
            "bindings": { "kafka": { "topic": PRODUCT_DOCUMENT_DLQ_TOPIC, "bindingVersion": "0.4.0" } },
            "subscribe": {
                "operationId": "onCatalogProductDocumentDeadLetter",
                "summary": "Drifted product documents.",
                "message": { "$ref": "#/components/messages/ProductDocumentDeadLetter" },
            },
        }),
    );
    Ok(())
}
