//! Kafka helpers for tests of this crate and the crates above it. (A throw-away event store is
//! `shopcore_event_store::testing::TestEventStore`.)

/// The Kafka-compatible broker tests use (`infra/up` starts it).
pub fn kafka_brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_owned())
}

pub use crate::relay::consumer::{consume, Consumed};
