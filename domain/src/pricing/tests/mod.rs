//! Tests of the pricing aggregates (given / when / then, rejections included), the serde round
//! trip of every event, and the evaluator (examples and properties).

mod aggregates;
mod evaluator;
mod evaluator_properties;
mod fx;
mod promotion;
mod promotion_change;
mod promotion_schedule;

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use crate::money::{Currency, Money};

pub(super) fn at(hour: i64) -> DateTime<Utc> {
    let start = Utc
        .with_ymd_and_hms(2026, 11, 23, 0, 0, 0)
        .single()
        .unwrap_or_default();
    start + Duration::hours(hour)
}

pub(super) fn usd(amount: i64) -> Money {
    Money::new(amount, Currency::USD)
}

pub(super) fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0000 + n)
}

/// Serialises every event, checks the external tag is the stable name, and parses it back.
pub(super) fn assert_round_trips<E>(events: &[E], names: &[&str])
where
    E: cqrs_es::DomainEvent,
{
    let found: Vec<String> = events.iter().map(E::event_type).collect();
    assert_eq!(
        found, names,
        "one example per event type, in EVENT_TYPES order"
    );
    for event in events {
        let json = serde_json::to_value(event).expect("serialise");
        assert!(
            json.get(event.event_type()).is_some(),
            "externally tagged: {json}"
        );
        let back: E = serde_json::from_value(json).expect("deserialise");
        assert_eq!(&back, event);
        assert_eq!(event.event_version(), "1");
    }
}
