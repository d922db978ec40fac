//! Explicit conversions from stored domain events to Avro records.
//!
//! The wire type is not the domain type: each conversion names every field the schema has, so a
//! domain refactoring cannot silently change what consumers receive (the encode tests would
//! fail instead). The records are built as [`Value`]s and then resolved against the branch
//! schema, which checks them and fills logical types and union branches.

mod cart;
mod catalog;
mod customer;
mod pricing;

use apache_avro::types::Value;
use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::de::DeserializeOwned;
use shopcore_domain::money::Money;
use uuid::Uuid;

use crate::envelope::EventEnvelope;
use crate::error::EncodeError;

/// The Avro record (unresolved) of an event.
pub(crate) fn to_record(event: &EventEnvelope<'_>) -> Result<Value, EncodeError> {
    match event.aggregate_type {
        "customer" => customer::to_record(event),
        "product" => catalog::to_record(event),
        "taxonomy" => catalog::taxonomy_record(event),
        "price_book" | "price_rule" | "promotion" | "currency_rate" => pricing::to_record(event),
        "cart" => cart::to_record(event),
        _ => Err(EncodeError::Unmapped {
            event_id: event.event_id,
            event_type: event.event_type.into(),
            event_version: event.event_version.into(),
        }),
    }
}

/// Deserialises the stored payload as the aggregate's event enum and checks it is the variant
/// the event type says.
pub(crate) fn domain_event<E>(event: &EventEnvelope<'_>) -> Result<E, EncodeError>
where
    E: DeserializeOwned + DomainEvent,
{
    let invalid = |message: String| EncodeError::Payload {
        event_id: event.event_id,
        event_type: event.event_type.into(),
        message,
    };
    let domain: E =
        serde_json::from_value(event.payload.clone()).map_err(|e| invalid(e.to_string()))?;
    let variant = domain.event_type();
    if variant != event.event_type {
        return Err(invalid(format!("the payload is a {variant}")));
    }
    Ok(domain)
}

/// Builds a record field by field.
pub(crate) struct Record(Vec<(String, Value)>);

impl Record {
    /// A record with the fields every event has: `eventId`, the aggregate id under
    /// `id_field`, `sequence` and `occurredAt`.
    pub(crate) fn event(event: &EventEnvelope<'_>, id_field: &str, aggregate_id: Value) -> Self {
        Self(Vec::with_capacity(12))
            .uuid("eventId", event.event_id)
            .field(id_field, aggregate_id)
            .long(
                "sequence",
                i64::try_from(event.sequence).unwrap_or(i64::MAX),
            )
            .field(
                "occurredAt",
                Value::TimestampMicros(event.recorded_at.timestamp_micros()),
            )
    }

    pub(crate) fn new() -> Self {
        Self(Vec::with_capacity(8))
    }

    pub(crate) fn field(mut self, name: &str, value: Value) -> Self {
        self.0.push((name.to_owned(), value));
        self
    }

    pub(crate) fn string(self, name: &str, value: impl Into<String>) -> Self {
        self.field(name, Value::String(value.into()))
    }

    pub(crate) fn uuid(self, name: &str, value: Uuid) -> Self {
        self.field(name, Value::Uuid(value))
    }

    pub(crate) fn long(self, name: &str, value: i64) -> Self {
        self.field(name, Value::Long(value))
    }

    pub(crate) fn int(self, name: &str, value: i32) -> Self {
        self.field(name, Value::Int(value))
    }

    pub(crate) fn boolean(self, name: &str, value: bool) -> Self {
        self.field(name, Value::Boolean(value))
    }

    /// A `timestamp-micros` field.
    pub(crate) fn timestamp(self, name: &str, value: DateTime<Utc>) -> Self {
        self.field(name, timestamp(value))
    }

    /// A `Money` record field.
    pub(crate) fn money(self, name: &str, value: Money) -> Self {
        self.field(name, money(value))
    }

    /// An Avro enum field; the symbol is checked against the schema when the record is
    /// resolved (which also sets its index).
    pub(crate) fn symbol(self, name: &str, symbol: &str) -> Self {
        self.field(name, Value::Enum(0, symbol.to_owned()))
    }

    /// A `["null", T]` field.
    pub(crate) fn optional(self, name: &str, value: Option<Value>) -> Self {
        self.field(name, nullable(value))
    }

    pub(crate) fn strings<S: AsRef<str>>(
        self,
        name: &str,
        values: impl IntoIterator<Item = S>,
    ) -> Self {
        self.field(name, string_array(values))
    }

    pub(crate) fn build(self) -> Value {
        Value::Record(self.0)
    }
}

/// A value of a `["null", T]` union.
pub(crate) fn nullable(value: Option<Value>) -> Value {
    match value {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(value) => Value::Union(1, Box::new(value)),
    }
}

pub(crate) fn string_array<S: AsRef<str>>(values: impl IntoIterator<Item = S>) -> Value {
    Value::Array(
        values
            .into_iter()
            .map(|s| Value::String(s.as_ref().to_owned()))
            .collect(),
    )
}

/// A `timestamp-micros` value.
pub(crate) fn timestamp(value: DateTime<Utc>) -> Value {
    Value::TimestampMicros(value.timestamp_micros())
}

/// The `Money` record of every context: `{amountMinor, currency}`.
pub(crate) fn money(value: Money) -> Value {
    Record::new()
        .long("amountMinor", value.amount())
        .string("currency", value.currency().code())
        .build()
}

pub(crate) fn uuid_array(values: impl IntoIterator<Item = Uuid>) -> Value {
    Value::Array(values.into_iter().map(Value::Uuid).collect())
}

/// The aggregate id as a UUID, for aggregates keyed by one.
pub(crate) fn uuid_id(event: &EventEnvelope<'_>) -> Result<Value, EncodeError> {
    Uuid::parse_str(event.aggregate_id)
        .map(Value::Uuid)
        .map_err(|e| EncodeError::Payload {
            event_id: event.event_id,
            event_type: event.event_type.into(),
            message: format!("aggregate id {:?} is not a UUID: {e}", event.aggregate_id),
        })
}
