//! JSON document → Avro value, and the schema drift found on the way.
//!
//! The walk follows the schema into every record, array, map and union, so a drift deep in a
//! variant or an attribute is found with its path (`variants[2].sku`,
//! `attributes.colour.value`). It never stops at the first finding: a document is reported
//! with all that is wrong with it. Three kinds:
//!
//! - **unknown field**: a key the schema does not name (CouchDB's own top-level `_…` fields
//!   aside). Tolerated: the value is built without it (a tolerant reader).
//! - **missing field**: a field the schema needs that is absent or `null` (fields with a default,
//!   such as every optional one, take the default).
//! - **type mismatch**: a value of another JSON type, or one the logical type refuses (a UUID
//!   that does not parse, a timestamp that is not RFC 3339, an integer out of range, an
//!   attribute `type` no value field is named after). A document that is not even a JSON
//!   object is a type mismatch at `$`.
//!
//! Either of the last two means the document cannot be encoded: [`Converted::value`] is `None`.
//! Nothing here panics, whatever the input.

use std::collections::{BTreeSet, HashMap, HashSet};

use apache_avro::schema::{RecordSchema, UnionSchema};
use apache_avro::types::Value;
use apache_avro::Schema;
use chrono::DateTime;
use serde_json::Value as Json;

use super::DocumentSchema;

/// What kind of drift a finding is; the `kind` label of the drift metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DriftKind {
    UnknownField,
    MissingField,
    TypeMismatch,
}

impl DriftKind {
    pub const ALL: [DriftKind; 3] = [
        DriftKind::UnknownField,
        DriftKind::MissingField,
        DriftKind::TypeMismatch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownField => "unknown_field",
            Self::MissingField => "missing_field",
            Self::TypeMismatch => "type_mismatch",
        }
    }

    /// Whether a document with this drift is still encoded (without the drifting field).
    pub fn is_tolerated(self) -> bool {
        matches!(self, Self::UnknownField)
    }
}

impl std::fmt::Display for DriftKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding: what, where (`variants[2].sku`; `$` is the document itself) and a short
/// detail (`expected string, found number`) that never quotes the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub kind: DriftKind,
    pub path: String,
    pub detail: String,
}

/// The outcome of [`DocumentSchema::from_json`].
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// The Avro value (valid for the schema), unless a drift made it impossible.
    pub value: Option<Value>,
    /// Every drift found, in document order.
    pub drift: Vec<Drift>,
}

impl Converted {
    /// The kinds of drift found, each once.
    pub fn kinds(&self) -> BTreeSet<DriftKind> {
        self.drift.iter().map(|d| d.kind).collect()
    }
}

impl DocumentSchema {
    /// Converts a JSON document to the Avro value of this schema, reporting every drift.
    pub fn from_json(&self, document: &Json) -> Converted {
        let mut walk = Walk {
            schema: self,
            drift: Vec::new(),
        };
        let value = walk.value(document, &self.schema, "");
        // The walk builds values by the schema; resolving them is a second opinion that costs
        // little and keeps a defect of the walk from reaching the encoder.
        let value =
            value.and_then(
                |value| match value.resolve_with_names(&self.schema, &self.names) {
                    Ok(value) => Some(value),
                    Err(_) => {
                        walk.drift.push(Drift {
                            kind: DriftKind::TypeMismatch,
                            path: "$".into(),
                            detail: "the converted value does not fit the schema".into(),
                        });
                        None
                    }
                },
            );
        Converted {
            value,
            drift: walk.drift,
        }
    }
}

struct Walk<'a> {
    schema: &'a DocumentSchema,
    drift: Vec<Drift>,
}

fn field_path(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn shown(path: &str) -> String {
    if path.is_empty() {
        "$".to_owned()
    } else {
        path.to_owned()
    }
}

/// The JSON type of a value, for details.
fn json_kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// A whole number, also written with a zero fraction (`42.0`) within the exact range of a
/// double.
fn whole(json: &Json) -> Option<i64> {
    json.as_i64().or_else(|| {
        json.as_f64()
            .filter(|v| v.fract() == 0.0 && v.abs() <= 9_007_199_254_740_992.0)
            .map(|v| v as i64)
    })
}

fn null_branch(union: &UnionSchema) -> Option<usize> {
    union
        .variants()
        .iter()
        .position(|s| matches!(s, Schema::Null))
}

impl Walk<'_> {
    fn push(&mut self, kind: DriftKind, path: &str, detail: String) {
        self.drift.push(Drift {
            kind,
            path: shown(path),
            detail,
        });
    }

    fn mismatch(&mut self, json: &Json, path: &str, expected: &str) -> Option<Value> {
        self.push(
            DriftKind::TypeMismatch,
            path,
            format!("expected {expected}, found {}", json_kind(json)),
        );
        None
    }

    fn value(&mut self, json: &Json, schema: &Schema, path: &str) -> Option<Value> {
        match schema {
            Schema::Null => match json {
                Json::Null => Some(Value::Null),
                _ => self.mismatch(json, path, "null"),
            },
            Schema::Boolean => match json.as_bool() {
                Some(b) => Some(Value::Boolean(b)),
                None => self.mismatch(json, path, "boolean"),
            },
            Schema::Int => match whole(json).and_then(|n| i32::try_from(n).ok()) {
                Some(n) => Some(Value::Int(n)),
                None => self.mismatch(json, path, "32-bit integer"),
            },
            Schema::Long => match whole(json) {
                Some(n) => Some(Value::Long(n)),
                None => self.mismatch(json, path, "64-bit integer"),
            },
            Schema::Float => match json.as_f64() {
                Some(n) => Some(Value::Float(n as f32)),
                None => self.mismatch(json, path, "number"),
            },
            Schema::Double => match json.as_f64() {
                Some(n) => Some(Value::Double(n)),
                None => self.mismatch(json, path, "number"),
            },
            Schema::String => match json.as_str() {
                Some(text) => Some(Value::String(text.to_owned())),
                None => self.mismatch(json, path, "string"),
            },
            Schema::Uuid(_) => match json.as_str().and_then(|t| uuid::Uuid::parse_str(t).ok()) {
                Some(id) => Some(Value::Uuid(id)),
                None => self.mismatch(json, path, "UUID string"),
            },
            Schema::TimestampMicros | Schema::TimestampMillis => {
                let parsed = json
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
                match (parsed, schema) {
                    (Some(at), Schema::TimestampMicros) => {
                        Some(Value::TimestampMicros(at.timestamp_micros()))
                    }
                    (Some(at), _) => Some(Value::TimestampMillis(at.timestamp_millis())),
                    (None, _) => self.mismatch(json, path, "RFC 3339 timestamp string"),
                }
            }
            Schema::Enum(e) => match json.as_str() {
                Some(symbol) => match e.symbols.iter().position(|s| s == symbol) {
                    Some(index) => Some(Value::Enum(index as u32, symbol.to_owned())),
                    None => {
                        self.push(
                            DriftKind::TypeMismatch,
                            path,
                            format!("expected one of {}", e.symbols.join(", ")),
                        );
                        None
                    }
                },
                None => self.mismatch(json, path, "string"),
            },
            Schema::Array(array) => {
                let Some(items) = json.as_array() else {
                    return self.mismatch(json, path, "array");
                };
                let mut values = Vec::with_capacity(items.len());
                let mut whole_array = true;
                for (index, item) in items.iter().enumerate() {
                    match self.value(item, &array.items, &format!("{path}[{index}]")) {
                        Some(value) => values.push(value),
                        None => whole_array = false,
                    }
                }
                whole_array.then_some(Value::Array(values))
            }
            Schema::Map(map) => {
                let Some(entries) = json.as_object() else {
                    return self.mismatch(json, path, "object");
                };
                let mut values = HashMap::with_capacity(entries.len());
                let mut whole_map = true;
                for (key, item) in entries {
                    match self.value(item, &map.types, &field_path(path, key)) {
                        Some(value) => {
                            values.insert(key.clone(), value);
                        }
                        None => whole_map = false,
                    }
                }
                whole_map.then_some(Value::Map(values))
            }
            Schema::Union(union) => self.union(json, union, path),
            Schema::Record(record) => {
                let shape = record.attributes.get("jsonShape").and_then(Json::as_str);
                if shape == Some("typeValue") {
                    self.type_value(json, record, path)
                } else {
                    self.record(json, record, path)
                }
            }
            Schema::Ref { name } => match self.schema.named(name) {
                Some(named) => self.value(json, named, path),
                None => self.mismatch(json, path, "a type the schema defines"),
            },
            _ => self.mismatch(json, path, "a type documents do not use"),
        }
    }

    fn union(&mut self, json: &Json, union: &UnionSchema, path: &str) -> Option<Value> {
        if json.is_null() {
            return match null_branch(union) {
                Some(index) => Some(Value::Union(index as u32, Box::new(Value::Null))),
                None => self.mismatch(json, path, "a value"),
            };
        }
        let branches: Vec<(usize, &Schema)> = union
            .variants()
            .iter()
            .enumerate()
            .filter(|(_, s)| !matches!(s, Schema::Null))
            .collect();
        if let [(index, branch)] = branches.as_slice() {
            return self
                .value(json, branch, path)
                .map(|v| Value::Union(*index as u32, Box::new(v)));
        }
        // Several branches: the first that takes the value, with what it found.
        for (index, branch) in branches {
            let mut trial = Walk {
                schema: self.schema,
                drift: Vec::new(),
            };
            if let Some(value) = trial.value(json, branch, path) {
                self.drift.append(&mut trial.drift);
                return Some(Value::Union(index as u32, Box::new(value)));
            }
        }
        self.mismatch(json, path, "a type of the union")
    }

    /// The value of an absent field: its default, if it has one.
    fn default_of(&mut self, field: &apache_avro::schema::RecordField) -> Option<Value> {
        if let Schema::Union(union) = &field.schema {
            if field.default.as_ref().is_none_or(Json::is_null) {
                return null_branch(union)
                    .filter(|_| field.default.is_some())
                    .map(|index| Value::Union(index as u32, Box::new(Value::Null)));
            }
            // A union's default is of its first branch.
            let first = union.variants().first()?;
            let mut trial = Walk {
                schema: self.schema,
                drift: Vec::new(),
            };
            let value = trial.value(field.default.as_ref()?, first, "")?;
            return Some(Value::Union(0, Box::new(value)));
        }
        let mut trial = Walk {
            schema: self.schema,
            drift: Vec::new(),
        };
        trial.value(field.default.as_ref()?, &field.schema, "")
    }

    fn record(&mut self, json: &Json, record: &RecordSchema, path: &str) -> Option<Value> {
        let Some(object) = json.as_object() else {
            return self.mismatch(json, path, "object");
        };
        let top = path.is_empty();
        let mut known = HashSet::with_capacity(record.fields.len());
        let mut fields = Vec::with_capacity(record.fields.len());
        let mut complete = true;
        for field in &record.fields {
            let name = field
                .custom_attributes
                .get("jsonName")
                .and_then(Json::as_str)
                .unwrap_or(&field.name);
            known.insert(name);
            let here = field_path(path, name);
            let present = object.get(name).filter(|v| !v.is_null());
            let value = match present {
                Some(item) => self.value(item, &field.schema, &here),
                None => match self.default_of(field) {
                    Some(default) => Some(default),
                    None => {
                        let found = if object.contains_key(name) {
                            "null"
                        } else {
                            "absent"
                        };
                        self.push(DriftKind::MissingField, &here, format!("required, {found}"));
                        None
                    }
                },
            };
            match value {
                Some(value) => fields.push((field.name.clone(), value)),
                None => complete = false,
            }
        }
        for key in object.keys() {
            // CouchDB's own fields (`_attachments`, `_conflicts`, `_deleted`…) are metadata,
            // not drift; CouchDB refuses any other top-level `_` field.
            let metadata = top && key.starts_with('_');
            if !known.contains(key.as_str()) && !metadata {
                self.push(
                    DriftKind::UnknownField,
                    &field_path(path, key),
                    "not in the schema; left out".into(),
                );
            }
        }
        complete.then_some(Value::Record(fields))
    }

    /// A record written as `{"type": "<field>", "value": <that field's value>}`.
    fn type_value(&mut self, json: &Json, record: &RecordSchema, path: &str) -> Option<Value> {
        let Some(object) = json.as_object() else {
            return self.mismatch(json, path, "object");
        };
        for key in object.keys() {
            if key != "type" && key != "value" {
                self.push(
                    DriftKind::UnknownField,
                    &field_path(path, key),
                    "not in the schema; left out".into(),
                );
            }
        }
        let type_path = field_path(path, "type");
        let value_path = field_path(path, "value");
        let chosen = match object.get("type").filter(|v| !v.is_null()) {
            None => {
                self.push(DriftKind::MissingField, &type_path, "required".into());
                None
            }
            Some(Json::String(kind)) => {
                let field = record
                    .fields
                    .iter()
                    .find(|f| f.name != "type" && f.name == *kind);
                if field.is_none() {
                    let kinds: Vec<&str> = record
                        .fields
                        .iter()
                        .filter(|f| f.name != "type")
                        .map(|f| f.name.as_str())
                        .collect();
                    self.push(
                        DriftKind::TypeMismatch,
                        &type_path,
                        format!("expected one of {}", kinds.join(", ")),
                    );
                }
                field
            }
            Some(other) => {
                self.mismatch(other, &type_path, "string");
                None
            }
        };
        let value = match object.get("value").filter(|v| !v.is_null()) {
            None => {
                self.push(DriftKind::MissingField, &value_path, "required".into());
                None
            }
            Some(item) => match chosen {
                Some(field) => self.value(item, &field.schema, &value_path),
                None => None,
            },
        };
        let (chosen, value) = (chosen?, value?);
        let fields = record
            .fields
            .iter()
            .map(|field| {
                let v = if field.name == "type" {
                    Value::String(chosen.name.clone())
                } else if field.name == chosen.name {
                    value.clone()
                } else {
                    match &field.schema {
                        Schema::Union(union) => Value::Union(
                            null_branch(union).unwrap_or_default() as u32,
                            Box::new(Value::Null),
                        ),
                        _ => Value::Null,
                    }
                };
                (field.name.clone(), v)
            })
            .collect();
        Some(Value::Record(fields))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> &'static DocumentSchema {
        DocumentSchema::product().expect("schema loads")
    }

    /// A document as the projector writes it.
    pub(crate) fn good() -> Json {
        json!({
            "_id": "0190a0b0-0000-7000-8000-000000000001",
            "_rev": "3-abc",
            "type": "product",
            "productId": "0190a0b0-0000-7000-8000-000000000001",
            "name": "Trail shoe",
            "description": "",
            "brand": null,
            "attributes": {
                "colour": { "type": "text", "value": "red" },
                "weight_grams": { "type": "integer", "value": 310 },
                "vegan": { "type": "boolean", "value": true },
                "rrp": { "type": "money", "value": { "amount": 12900, "currency": "EUR" } },
                "tags": { "type": "textList", "value": ["trail", "running"] }
            },
            "variants": [
                {
                    "variantId": "0190a0b0-0000-7000-8000-000000000002",
                    "sku": "TS-41",
                    "attributes": { "size": { "type": "integer", "value": 41 } }
                }
            ],
            "skus": ["TS-41"],
            "categories": ["shoes"],
            "media": [
                {
                    "mediaId": "0190a0b0-0000-7000-8000-000000000003",
                    "uri": "media/ts.jpg",
                    "contentType": "image/jpeg"
                }
            ],
            "status": "published",
            "createdAt": null,
            "updatedAt": "2026-12-01T07:00:00.123456Z",
            "version": 4,
            "logPosition": "1042-17"
        })
    }

    fn kinds_and_paths(converted: &Converted) -> Vec<(DriftKind, &str)> {
        converted
            .drift
            .iter()
            .map(|d| (d.kind, d.path.as_str()))
            .collect()
    }

    #[test]
    fn a_projector_document_converts_without_drift() {
        let converted = schema().from_json(&good());
        assert_eq!(converted.drift, []);
        let Some(Value::Record(fields)) = converted.value else {
            panic!("a record");
        };
        let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v);
        assert_eq!(
            field("id"),
            Some(&Value::String(
                "0190a0b0-0000-7000-8000-000000000001".into()
            ))
        );
        assert_eq!(field("version"), Some(&Value::Long(4)));
        assert_eq!(
            field("updatedAt"),
            Some(&Value::TimestampMicros(1_796_108_400_123_456))
        );
    }

    #[test]
    fn couchdb_metadata_is_not_drift_but_a_nested_underscore_field_is() {
        let mut doc = good();
        doc["_attachments"] = json!({});
        doc["_conflicts"] = json!(["2-x"]);
        doc["media"][0]["_note"] = json!("x");
        let converted = schema().from_json(&doc);
        assert_eq!(
            kinds_and_paths(&converted),
            [(DriftKind::UnknownField, "media[0]._note")]
        );
        assert!(converted.value.is_some());
    }

    #[test]
    fn unknown_fields_are_reported_with_their_path_and_left_out() {
        let mut doc = good();
        doc["loyaltyPoints"] = json!(12);
        doc["variants"][0]["ean"] = json!("4006381333931");
        doc["attributes"]["colour"]["unit"] = json!("none");
        let converted = schema().from_json(&doc);
        let mut found = kinds_and_paths(&converted);
        found.sort();
        assert_eq!(
            found,
            [
                (DriftKind::UnknownField, "attributes.colour.unit"),
                (DriftKind::UnknownField, "loyaltyPoints"),
                (DriftKind::UnknownField, "variants[0].ean"),
            ]
        );
        let tolerated = schema().from_json(&good());
        assert_eq!(
            converted.value, tolerated.value,
            "the same value without them"
        );
    }

    #[test]
    fn a_missing_or_null_required_field_cannot_be_encoded() {
        let mut doc = good();
        doc.as_object_mut().unwrap().remove("name");
        doc["variants"][0]["sku"] = Json::Null;
        doc.as_object_mut().unwrap().remove("brand");
        let converted = schema().from_json(&doc);
        assert_eq!(
            kinds_and_paths(&converted),
            [
                (DriftKind::MissingField, "name"),
                (DriftKind::MissingField, "variants[0].sku"),
            ],
            "an absent optional field (brand) is no drift"
        );
        assert_eq!(converted.value, None);
    }

    #[test]
    fn a_changed_type_anywhere_cannot_be_encoded() {
        let mut doc = good();
        doc["version"] = json!("4");
        doc["variants"][0]["attributes"]["size"]["value"] = json!("41");
        doc["productId"] = json!("not-a-uuid");
        doc["updatedAt"] = json!(1_796_108_400);
        doc["attributes"]["rrp"]["value"]["amount"] = json!(129.5);
        doc["attributes"]["vegan"]["type"] = json!("decimal");
        let converted = schema().from_json(&doc);
        let mut found = kinds_and_paths(&converted);
        found.sort();
        assert_eq!(
            found,
            [
                (DriftKind::TypeMismatch, "attributes.rrp.value.amount"),
                (DriftKind::TypeMismatch, "attributes.vegan.type"),
                (DriftKind::TypeMismatch, "productId"),
                (DriftKind::TypeMismatch, "updatedAt"),
                (DriftKind::TypeMismatch, "variants[0].attributes.size.value"),
                (DriftKind::TypeMismatch, "version"),
            ]
        );
        assert_eq!(converted.value, None);
        let version = converted
            .drift
            .iter()
            .find(|d| d.path == "version")
            .unwrap();
        assert_eq!(version.detail, "expected 64-bit integer, found string");
    }

    #[test]
    fn whole_numbers_written_as_floats_are_accepted_fractions_are_not() {
        let mut doc = good();
        doc["version"] = json!(4.0);
        assert_eq!(schema().from_json(&doc).drift, []);
        doc["version"] = json!(1e300);
        assert_eq!(
            kinds_and_paths(&schema().from_json(&doc)),
            [(DriftKind::TypeMismatch, "version")]
        );
    }

    #[test]
    fn garbage_is_a_type_mismatch_at_the_root_and_never_panics() {
        for garbage in [
            json!(null),
            json!(42),
            json!("product"),
            json!([good()]),
            json!({}),
            json!({ "_id": 7, "attributes": [], "variants": {}, "media": [null, 1] }),
            json!({ "attributes": { "x": null, "y": [], "z": { "type": null, "value": null } } }),
        ] {
            let converted = schema().from_json(&garbage);
            assert_eq!(converted.value, None, "{garbage}");
            assert!(!converted.drift.is_empty(), "{garbage}");
        }
        let converted = schema().from_json(&json!([1, 2]));
        assert_eq!(
            kinds_and_paths(&converted),
            [(DriftKind::TypeMismatch, "$")]
        );
        let converted = schema().from_json(&json!({ "_id": 7 }));
        assert!(converted
            .drift
            .iter()
            .any(|d| d.kind == DriftKind::TypeMismatch && d.path == "_id"));
    }

    #[test]
    fn media_fields_beyond_the_reference_are_optional() {
        let mut doc = good();
        doc["media"][0]["status"] = json!("processed");
        doc["media"][0]["sizeBytes"] = json!(48213);
        doc["media"][0]["width"] = json!(800);
        doc["media"][0]["checksumSha256"] = json!("ab".repeat(32));
        assert_eq!(schema().from_json(&doc).drift, []);
    }
}
