//! Avro value → JSON document: what a consumer of `catalog.product.document.v1` gets back
//! after decoding, in the shape of the CouchDB document (`_id`, `_rev`, attributes as
//! `{"type", "value"}`, timestamps as RFC 3339 strings). Optional fields that are null come
//! back as `null`. Values that do not fit the schema come back as `null` too: this direction
//! reads what the encoder wrote, and never panics.

use apache_avro::types::Value;
use apache_avro::Schema;
use chrono::{DateTime, SecondsFormat};
use serde_json::{Map, Value as Json};

use super::DocumentSchema;

impl DocumentSchema {
    /// The JSON document of an Avro value of this schema.
    pub fn to_json(&self, value: &Value) -> Json {
        self.json(value, &self.schema)
    }

    fn json(&self, value: &Value, schema: &Schema) -> Json {
        if let Schema::Ref { name } = schema {
            return match self.named(name) {
                Some(named) => self.json(value, named),
                None => Json::Null,
            };
        }
        match (value, schema) {
            (Value::Union(index, inner), Schema::Union(union)) => {
                match union.variants().get(*index as usize) {
                    Some(branch) => self.json(inner, branch),
                    None => Json::Null,
                }
            }
            (Value::Record(fields), Schema::Record(record)) => {
                let typed =
                    record.attributes.get("jsonShape").and_then(Json::as_str) == Some("typeValue");
                let mut object = Map::new();
                if typed {
                    let kind = fields.iter().find_map(|(name, v)| match v {
                        Value::String(kind) if name == "type" => Some(kind.clone()),
                        _ => None,
                    });
                    let Some(kind) = kind else {
                        return Json::Null;
                    };
                    let value = record
                        .fields
                        .iter()
                        .zip(fields)
                        .find(|(field, _)| field.name == kind)
                        .map_or(Json::Null, |(field, (_, v))| self.json(v, &field.schema));
                    object.insert("type".into(), Json::String(kind));
                    object.insert("value".into(), value);
                    return Json::Object(object);
                }
                for (name, v) in fields {
                    let Some(field) = record.fields.iter().find(|f| f.name == *name) else {
                        continue;
                    };
                    let key = field
                        .custom_attributes
                        .get("jsonName")
                        .and_then(Json::as_str)
                        .unwrap_or(&field.name);
                    object.insert(key.to_owned(), self.json(v, &field.schema));
                }
                Json::Object(object)
            }
            (Value::Array(items), Schema::Array(array)) => Json::Array(
                items
                    .iter()
                    .map(|item| self.json(item, &array.items))
                    .collect(),
            ),
            (Value::Map(entries), Schema::Map(map)) => {
                let mut keys: Vec<&String> = entries.keys().collect();
                keys.sort();
                Json::Object(
                    keys.into_iter()
                        .map(|key| (key.clone(), self.json(&entries[key], &map.types)))
                        .collect(),
                )
            }
            (Value::TimestampMicros(micros), Schema::TimestampMicros) => {
                DateTime::from_timestamp_micros(*micros).map_or(Json::Null, |at| {
                    Json::String(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
                })
            }
            (Value::TimestampMillis(millis), Schema::TimestampMillis) => {
                DateTime::from_timestamp_millis(*millis).map_or(Json::Null, |at| {
                    Json::String(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
                })
            }
            (Value::Uuid(id), Schema::Uuid(_)) => Json::String(id.to_string()),
            (Value::String(text), Schema::String | Schema::Uuid(_))
            | (Value::Enum(_, text), Schema::Enum(_)) => Json::String(text.clone()),
            (Value::Long(n), Schema::Long) => Json::from(*n),
            (Value::Int(n), Schema::Int) => Json::from(*n),
            (Value::Boolean(b), Schema::Boolean) => Json::Bool(*b),
            (Value::Double(n), Schema::Double) => Json::from(*n),
            (Value::Float(n), Schema::Float) => Json::from(f64::from(*n)),
            _ => Json::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::from_json::tests::good;
    use super::*;

    fn without_nulls(json: Json) -> Json {
        match json {
            Json::Object(object) => Json::Object(
                object
                    .into_iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k, without_nulls(v)))
                    .collect(),
            ),
            Json::Array(items) => Json::Array(items.into_iter().map(without_nulls).collect()),
            other => other,
        }
    }

    #[test]
    #[allow(deprecated)] // the datum functions are the shortest way to the binary form
    fn a_document_survives_the_round_trip_through_avro_binary() {
        let schema = DocumentSchema::product().expect("schema loads");
        let value = schema.from_json(&good()).value.expect("encodable");
        let bytes = apache_avro::to_avro_datum(&schema.schema, value).expect("encodes");
        let decoded = apache_avro::from_avro_datum(&schema.schema, &mut bytes.as_slice(), None)
            .expect("decodes");
        assert_eq!(
            without_nulls(schema.to_json(&decoded)),
            without_nulls(good())
        );
    }

    #[test]
    fn a_value_of_another_shape_comes_back_as_null() {
        let schema = DocumentSchema::product().expect("schema loads");
        assert_eq!(schema.to_json(&Value::Long(3)), Json::Null);
        assert_eq!(
            schema.to_json(&Value::Record(vec![])),
            Json::Object(Map::new())
        );
    }
}
