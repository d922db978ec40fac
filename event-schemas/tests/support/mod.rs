//! Shared by the encode tests: encode examples of every event type of an aggregate through its
//! topic schema, and decode them back; small builders and accessors of Avro values.

// Each test binary uses a different subset.
#![allow(dead_code)]

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use chrono::{TimeZone, Utc};
use cqrs_es::DomainEvent;
use serde::Serialize;
use shopcore_event_schemas::{EventEnvelope, EventSchemas};
use uuid::Uuid;

/// One decoded example: its topic and the record's fields by name.
pub struct Decoded {
    pub topic: &'static str,
    pub record: String,
    pub fields: Vec<(String, Value)>,
}

impl Decoded {
    pub fn get(&self, name: &str) -> &Value {
        &self
            .fields
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{} has no field {name}", self.record))
            .1
    }
}

/// Encodes `events` (which must cover every one of `event_types`) as stored events of one
/// aggregate, checks each against its topic schema by writing and reading it back, and returns
/// the decoded records in order.
pub fn round_trip<E: DomainEvent + Serialize>(
    aggregate_type: &str,
    aggregate_id: &str,
    event_types: &[&str],
    events: &[E],
) -> Vec<Decoded> {
    let schemas = EventSchemas::embedded().expect("schemas load");
    let covered: Vec<String> = events.iter().map(DomainEvent::event_type).collect();
    for event_type in event_types {
        assert!(
            covered.iter().any(|c| c == event_type),
            "no example of {event_type}"
        );
    }
    let recorded_at = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
    let mut decoded = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let payload = serde_json::to_value(event).expect("serialise");
        let event_type = event.event_type();
        let version = event.event_version();
        let envelope = EventEnvelope {
            event_id: Uuid::now_v7(),
            aggregate_type,
            aggregate_id,
            sequence: index as u64 + 1,
            event_type: &event_type,
            event_version: &version,
            recorded_at,
            payload: &payload,
        };
        let avro = schemas
            .to_avro(&envelope)
            .unwrap_or_else(|e| panic!("{event_type}: {e}"));
        let topic = schemas.topic(avro.topic).expect("topic");
        assert!(
            avro.value.validate(&topic.schema),
            "{event_type}: value does not validate against {}",
            avro.topic
        );
        let bytes = GenericDatumWriter::builder(&topic.schema)
            .build()
            .and_then(|w| w.write_value_to_vec(avro.value.clone()))
            .unwrap_or_else(|e| panic!("{event_type}: {e}"));
        let back = GenericDatumReader::builder(&topic.schema)
            .build()
            .and_then(|r| r.read_value(&mut bytes.as_slice()))
            .unwrap_or_else(|e| panic!("{event_type}: {e}"));
        assert_eq!(
            back, avro.value,
            "{event_type}: decodes to what was encoded"
        );
        let (branch, record) = match back {
            Value::Union(branch, record) => (branch, record),
            record @ Value::Record(_) => (0, Box::new(record)),
            other => panic!("{event_type}: neither a union nor a record: {other:?}"),
        };
        let Value::Record(fields) = *record else {
            panic!("{event_type}: not a record")
        };
        let record = match &topic.branches()[branch as usize] {
            apache_avro::Schema::Record(r) => r.name.name().to_owned(),
            other => panic!("{event_type}: branch is {other:?}"),
        };
        assert_eq!(
            record,
            shopcore_event_schemas::schemas::record_name(&event_type, version.parse().unwrap()),
            "{event_type} is encoded as its own record"
        );
        assert_eq!(fields[0].1, Value::Uuid(envelope.event_id));
        assert_eq!(
            fields[3].1,
            Value::TimestampMicros(recorded_at.timestamp_micros())
        );
        decoded.push(Decoded {
            topic: avro.topic,
            record,
            fields,
        });
    }
    decoded
}

pub fn s(v: &str) -> Value {
    Value::String(v.into())
}

/// The set branch of a `["null", T]` union.
pub fn some(v: Value) -> Value {
    Value::Union(1, Box::new(v))
}

/// The null branch of a `["null", T]` union.
pub fn null() -> Value {
    Value::Union(0, Box::new(Value::Null))
}

/// The fields of a record (or of the record in a union).
pub fn fields(value: &Value) -> &[(String, Value)] {
    match value {
        Value::Record(fields) => fields,
        Value::Union(_, inner) => fields(inner),
        other => panic!("not a record: {other:?}"),
    }
}

pub fn field<'a>(value: &'a Value, name: &str) -> &'a Value {
    &fields(value)
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no field {name} in {value:?}"))
        .1
}

pub fn items(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) => items,
        other => panic!("not an array: {other:?}"),
    }
}
