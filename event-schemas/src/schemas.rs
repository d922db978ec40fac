//! The loaded schema set: every event record, and each topic's value schema (the union of its
//! event records).

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use apache_avro::schema::{Name, ResolvedSchema};
use apache_avro::types::Value;
use apache_avro::Schema;
use serde_json::Value as Json;

use crate::envelope::EventEnvelope;
use crate::error::{EncodeError, SchemaError};
use crate::topics::{TopicSpec, TOPICS};

/// One embedded `.avsc` file.
#[derive(Debug)]
pub struct SchemaFile {
    pub context: &'static str,
    pub event_type: &'static str,
    pub version: u32,
    /// Path relative to the crate, for messages.
    pub path: &'static str,
    pub json: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/schema_files.rs"));

/// A topic with its value schema.
#[derive(Debug)]
pub struct TopicSchema {
    pub spec: &'static TopicSpec,
    /// The union as JSON, exactly as registered with the schema registry.
    pub schema_json: String,
    pub schema: Schema,
    /// Union branch of each (event type, version).
    branches: HashMap<(&'static str, u32), usize>,
    /// Named types of the union, for resolving a branch's record.
    names: HashMap<Name, Schema>,
}

impl TopicSchema {
    /// The record schemas of the union, in branch order.
    pub fn branches(&self) -> &[Schema] {
        match &self.schema {
            Schema::Union(union) => union.variants(),
            _ => std::slice::from_ref(&self.schema),
        }
    }

    /// The (event type, version) of each branch, in branch order.
    pub fn branch_events(&self) -> Vec<(&'static str, u32)> {
        let mut events: Vec<_> = self.branches.iter().map(|(k, v)| (*v, *k)).collect();
        events.sort();
        events.into_iter().map(|(_, k)| k).collect()
    }
}

/// An event encoded as the value of its topic's schema.
#[derive(Debug, Clone)]
pub struct AvroEvent {
    pub topic: &'static str,
    /// Version of the event's schema (the `.v<N>` of its file).
    pub schema_version: u32,
    /// `Value::Union(branch, record)` for a topic of several event types, the record for a
    /// topic of one; resolved against the topic schema.
    pub value: Value,
}

/// Every schema and topic, checked against each other.
#[derive(Debug)]
pub struct EventSchemas {
    files: Vec<&'static SchemaFile>,
    topics: Vec<TopicSchema>,
}

static SCHEMAS: LazyLock<Result<EventSchemas, String>> =
    LazyLock::new(|| EventSchemas::load(SCHEMA_FILES, TOPICS).map_err(|e| e.to_string()));

impl EventSchemas {
    /// The embedded schemas and [`TOPICS`]. Fails only on a defect of this crate, which its
    /// tests catch; the error is kept so every caller sees it.
    pub fn embedded() -> Result<&'static EventSchemas, SchemaError> {
        SCHEMAS.as_ref().map_err(|message| SchemaError::Topic {
            topic: "*".into(),
            message: message.clone(),
        })
    }

    /// Loads and cross-checks schema files and topics.
    pub fn load(
        files: &'static [SchemaFile],
        topics: &'static [TopicSpec],
    ) -> Result<Self, SchemaError> {
        let mut by_event: BTreeMap<&str, Vec<&'static SchemaFile>> = BTreeMap::new();
        for file in files {
            let json: Json = serde_json::from_str(file.json).map_err(|e| SchemaError::File {
                path: file.path.into(),
                message: format!("not JSON: {e}"),
            })?;
            Schema::parse(&json).map_err(|e| SchemaError::File {
                path: file.path.into(),
                message: format!("not a valid Avro schema: {e}"),
            })?;
            let expected_name = record_name(file.event_type, file.version);
            let expected_namespace = format!("shopcore.{}", file.context);
            if json.get("name").and_then(Json::as_str) != Some(expected_name.as_str())
                || json.get("namespace").and_then(Json::as_str) != Some(expected_namespace.as_str())
            {
                return Err(SchemaError::File {
                    path: file.path.into(),
                    message: format!(
                        "the record must be named {expected_namespace}.{expected_name}"
                    ),
                });
            }
            by_event.entry(file.event_type).or_default().push(file);
        }
        for versions in by_event.values_mut() {
            versions.sort_by_key(|f| f.version);
        }

        let mut seen_events = HashMap::new();
        let mut loaded = Vec::with_capacity(topics.len());
        for spec in topics {
            let topic_error = |message: String| SchemaError::Topic {
                topic: spec.topic.into(),
                message,
            };
            let mut branches = HashMap::new();
            let mut union = Vec::new();
            let mut defined = HashMap::new();
            for &event_type in spec.event_types {
                if let Some(other) = seen_events.insert(event_type, spec.topic) {
                    return Err(topic_error(format!(
                        "{event_type} is also mapped to {other}"
                    )));
                }
                let versions = by_event
                    .get(event_type)
                    .ok_or_else(|| topic_error(format!("no schema file for {event_type}")))?;
                for file in versions {
                    if file.context != spec.context {
                        return Err(topic_error(format!(
                            "{} belongs to context {}, the topic to {}",
                            file.path, file.context, spec.context
                        )));
                    }
                    let mut json: Json = serde_json::from_str(file.json).expect("checked above");
                    share_named_types(&mut json, None, &mut defined)
                        .map_err(|m| topic_error(format!("{}: {m}", file.path)))?;
                    branches.insert((event_type, file.version), union.len());
                    union.push(json);
                }
            }
            // A topic of one event type has that record as its schema (a one-branch union only
            // adds a byte); adding a second type later turns it into a union, which readers of
            // the record can still be upgraded to (BACKWARD compatible).
            let union = if union.len() == 1 {
                union.pop().expect("one")
            } else {
                Json::Array(union)
            };
            let schema = Schema::parse(&union)
                .map_err(|e| topic_error(format!("the union is not a valid schema: {e}")))?;
            let names = ResolvedSchema::try_from(&schema)
                .map_err(|e| topic_error(format!("unresolvable names: {e}")))?
                .get_names()
                .iter()
                .map(|(name, schema)| (name.clone(), (*schema).clone()))
                .collect();
            loaded.push(TopicSchema {
                spec,
                schema_json: serde_json::to_string(&union).expect("JSON"),
                schema,
                branches,
                names,
            });
        }
        for file in files {
            if !seen_events.contains_key(file.event_type) {
                return Err(SchemaError::File {
                    path: file.path.into(),
                    message: format!("{} is not mapped to any topic", file.event_type),
                });
            }
        }
        Ok(Self {
            files: files.iter().collect(),
            topics: loaded,
        })
    }

    pub fn topics(&self) -> &[TopicSchema] {
        &self.topics
    }

    pub fn files(&self) -> &[&'static SchemaFile] {
        &self.files
    }

    pub fn topic(&self, topic: &str) -> Option<&TopicSchema> {
        self.topics.iter().find(|t| t.spec.topic == topic)
    }

    /// Where an event goes: its topic schema and union branch.
    pub fn route(
        &self,
        event_type: &str,
        event_version: &str,
    ) -> Option<(&TopicSchema, usize, u32)> {
        let version: u32 = event_version.parse().ok()?;
        self.topics.iter().find_map(|topic| {
            topic
                .branches
                .iter()
                .find(|((t, v), _)| *t == event_type && *v == version)
                .map(|(_, branch)| (topic, *branch, version))
        })
    }

    /// Converts a stored event to the Avro value of its topic.
    pub fn to_avro(&self, event: &EventEnvelope<'_>) -> Result<AvroEvent, EncodeError> {
        let (topic, branch, version) = self
            .route(event.event_type, event.event_version)
            .ok_or_else(|| EncodeError::Unmapped {
                event_id: event.event_id,
                event_type: event.event_type.into(),
                event_version: event.event_version.into(),
            })?;
        let record = crate::convert::to_record(event)?;
        let branch_schema = &topic.branches()[branch];
        let resolved = record
            .resolve_with_names(branch_schema, &topic.names)
            .map_err(|e| EncodeError::Schema {
                event_id: event.event_id,
                event_type: event.event_type.into(),
                message: e.to_string(),
            })?;
        Ok(AvroEvent {
            topic: topic.spec.topic,
            schema_version: version,
            value: match topic.schema {
                Schema::Union(_) => Value::Union(branch as u32, Box::new(resolved)),
                _ => resolved,
            },
        })
    }
}

/// The record name of an event type's schema: `CustomerRegistered`, `CustomerRegisteredV2`, …
pub fn record_name(event_type: &str, version: u32) -> String {
    if version <= 1 {
        event_type.to_owned()
    } else {
        format!("{event_type}V{version}")
    }
}

/// Replaces a named type (record, enum, fixed) already defined by an earlier branch with a
/// reference to it, so that standalone `.avsc` files can share types in one union. Two
/// definitions of one name must be identical.
fn share_named_types(
    json: &mut Json,
    namespace: Option<&str>,
    defined: &mut HashMap<String, Json>,
) -> Result<(), String> {
    match json {
        Json::Array(items) => {
            for item in items {
                share_named_types(item, namespace, defined)?;
            }
            Ok(())
        }
        Json::Object(object) => {
            let kind = object.get("type").and_then(Json::as_str).unwrap_or("");
            match kind {
                "record" | "error" | "enum" | "fixed" => {
                    let name = object
                        .get("name")
                        .and_then(Json::as_str)
                        .ok_or("a named type without a name")?;
                    let own_namespace = object
                        .get("namespace")
                        .and_then(Json::as_str)
                        .or(namespace)
                        .map(str::to_owned);
                    let full_name = match (&own_namespace, name.contains('.')) {
                        (Some(ns), false) => format!("{ns}.{name}"),
                        _ => name.to_owned(),
                    };
                    if let Some(previous) = defined.get(&full_name) {
                        let mut this = json.clone();
                        strip_docs(&mut this);
                        if *previous != this {
                            return Err(format!(
                                "{full_name} is defined differently in another schema of the topic"
                            ));
                        }
                        *json = Json::String(full_name);
                        return Ok(());
                    }
                    let mut this = json.clone();
                    strip_docs(&mut this);
                    defined.insert(full_name, this);
                    if let Some(Json::Array(fields)) =
                        json.as_object_mut().and_then(|o| o.get_mut("fields"))
                    {
                        for field in fields {
                            if let Some(field_type) = field.get_mut("type") {
                                share_named_types(field_type, own_namespace.as_deref(), defined)?;
                            }
                        }
                    }
                    Ok(())
                }
                "array" => match object.get_mut("items") {
                    Some(items) => share_named_types(items, namespace, defined),
                    None => Ok(()),
                },
                "map" => match object.get_mut("values") {
                    Some(values) => share_named_types(values, namespace, defined),
                    None => Ok(()),
                },
                _ => match object.get_mut("type") {
                    // {"type": {...}} wrapping another type
                    Some(inner @ (Json::Object(_) | Json::Array(_))) => {
                        share_named_types(inner, namespace, defined)
                    }
                    _ => Ok(()),
                },
            }
        }
        _ => Ok(()),
    }
}

/// Documentation does not make two definitions different.
fn strip_docs(json: &mut Json) {
    match json {
        Json::Object(object) => {
            object.remove("doc");
            for value in object.values_mut() {
                strip_docs(value);
            }
        }
        Json::Array(items) => items.iter_mut().for_each(strip_docs),
        _ => {}
    }
}
