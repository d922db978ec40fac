//! The event type → topic map: the one place that says where each event goes.
//!
//! Every topic has one value subject, `<topic>-value` (Confluent's topic-name strategy). A topic
//! that carries several event types has a union of their records as its value schema; adding an
//! event type to a topic appends a branch, which stays BACKWARD compatible. Messages are keyed
//! by aggregate id, so all events of one aggregate on one topic stay in log order. Events of
//! one aggregate that go to different topics are not ordered against each other: consumers that
//! need that use the `sequence` field.

/// A topic and the event types it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicSpec {
    pub topic: &'static str,
    /// The bounded context (also the schema directory and Avro namespace `shopcore.<context>`).
    pub context: &'static str,
    /// The aggregate type whose events go here (as stored in the event store).
    pub aggregate_type: &'static str,
    /// Event types, in union branch order. Append only: reordering breaks old readers.
    pub event_types: &'static [&'static str],
    pub description: &'static str,
}

impl TopicSpec {
    /// The schema registry subject of the message values (topic-name strategy).
    pub fn value_subject(&self) -> String {
        format!("{}-value", self.topic)
    }
}

/// All topics, in documentation order.
pub const TOPICS: &[TopicSpec] = &[
    TopicSpec {
        topic: "customer.updated",
        context: "customer",
        aggregate_type: "customer",
        event_types: &[
            "CustomerRegistered",
            "CustomerProfileUpdated",
            "CustomerAddressAdded",
            "CustomerAddressUpdated",
            "CustomerAddressRemoved",
        ],
        description: "A customer registered or changed profile or addresses.",
    },
    TopicSpec {
        topic: "customer.segment.recalculated",
        context: "customer",
        aggregate_type: "customer",
        event_types: &["CustomerSegmentsAssigned"],
        description: "A customer's segments changed, with the full new set and the difference.",
    },
];

/// The topic an event type goes to.
pub fn topic_of(event_type: &str) -> Option<&'static TopicSpec> {
    TOPICS.iter().find(|t| t.event_types.contains(&event_type))
}
