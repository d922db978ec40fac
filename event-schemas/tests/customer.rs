//! Every customer event encodes to its schema, with the values it carries.

mod support;

use apache_avro::types::Value;
use shopcore_domain::customer::{
    Address, CustomerEvent, LogOrder, ProfileChanged, SegmentRecalculated, SpendRule, Verdict,
};
use shopcore_domain::money::{Currency, Money};
use support::{null, s, some};
use uuid::Uuid;

#[test]
fn every_customer_event_round_trips_through_its_topic_schema() {
    let customer = Uuid::now_v7();
    let address_id = Uuid::now_v7();
    let checkout = Uuid::now_v7();
    let address = Address {
        line1: "1 Main St".into(),
        line2: String::new(),
        city: "Hanoi".into(),
        region: String::new(),
        postal_code: "100000".into(),
        country: "VN".into(),
        label: "home".into(),
    };
    let events = vec![
        CustomerEvent::CustomerRegistered {
            customer_id: customer,
            email: "an@example.com".into(),
            first_name: "An".into(),
            last_name: "Nguyen".into(),
            phone: None,
        },
        CustomerEvent::CustomerProfileUpdated(ProfileChanged {
            email: None,
            first_name: Some("Anh".into()),
            last_name: None,
            phone: Some(None),
        }),
        CustomerEvent::CustomerAddressAdded {
            address_id,
            address: address.clone(),
        },
        CustomerEvent::CustomerAddressUpdated {
            address_id,
            address: Address {
                city: "Hue".into(),
                ..address
            },
        },
        CustomerEvent::CustomerAddressRemoved { address_id },
        CustomerEvent::CustomerSegmentsAssigned {
            segments: vec!["new".into(), "vip".into()],
            added: vec!["vip".into()],
            removed: vec![],
        },
        CustomerEvent::CustomerSegmentRecalculated(SegmentRecalculated {
            checkout_event_id: checkout,
            checkout_log_order: LogOrder::new(1042, 17),
            checked_out_at: chrono::DateTime::from_timestamp(1_796_000_000, 0).unwrap(),
            rule: SpendRule {
                segment: "vip".into(),
                threshold: Money::new(100_000, Currency::EUR),
                window_days: 365,
            },
            spend: Money::new(123_456, Currency::EUR),
            checkouts_counted: 3,
            checkouts_uncounted: 1,
            verdict: Verdict::Member,
            segments: vec!["new".into(), "vip".into()],
            added: vec![],
            removed: vec![],
        }),
    ];
    let decoded = support::round_trip(
        "customer",
        &customer.to_string(),
        CustomerEvent::EVENT_TYPES,
        &events,
    );

    let registered = &decoded[0];
    assert_eq!(registered.topic, "customer.updated");
    assert_eq!(registered.get("customerId"), &Value::Uuid(customer));
    assert_eq!(registered.get("sequence"), &Value::Long(1));
    assert_eq!(registered.get("email"), &s("an@example.com"));
    assert_eq!(registered.get("phone"), &null());

    let updated = &decoded[1];
    assert_eq!(
        updated.get("changedFields"),
        &Value::Array(vec![s("firstName"), s("phone")])
    );
    assert_eq!(updated.get("firstName"), &some(s("Anh")));
    assert_eq!(updated.get("phone"), &null(), "phone removed");
    assert_eq!(updated.get("email"), &null(), "email unchanged");

    let moved = &decoded[3];
    assert_eq!(moved.record, "CustomerAddressUpdated");
    let Value::Record(address) = moved.get("address") else {
        panic!("address is a record")
    };
    assert!(address.contains(&("city".into(), s("Hue"))));
    assert!(address.contains(&("postalCode".into(), s("100000"))));

    let segments = &decoded[5];
    assert_eq!(segments.topic, "customer.segment.recalculated");
    assert_eq!(segments.get("added"), &Value::Array(vec![s("vip")]));

    let recalculated = &decoded[6];
    assert_eq!(recalculated.topic, "customer.segment.recalculated");
    assert_eq!(recalculated.record, "CustomerSegmentRecalculated");
    assert_eq!(recalculated.get("checkoutEventId"), &Value::Uuid(checkout));
    assert_eq!(recalculated.get("checkoutPosition"), &s("1042-17"));
    assert_eq!(
        recalculated.get("checkedOutAt"),
        &Value::TimestampMicros(1_796_000_000_000_000)
    );
    assert_eq!(recalculated.get("segment"), &s("vip"));
    assert_eq!(recalculated.get("windowDays"), &Value::Int(365));
    assert_eq!(
        recalculated.get("spend"),
        &Value::Record(vec![
            ("amountMinor".into(), Value::Long(123_456)),
            ("currency".into(), s("EUR")),
        ])
    );
    assert_eq!(
        recalculated.get("threshold"),
        &Value::Record(vec![
            ("amountMinor".into(), Value::Long(100_000)),
            ("currency".into(), s("EUR")),
        ])
    );
    assert_eq!(recalculated.get("checkoutsCounted"), &Value::Int(3));
    assert_eq!(recalculated.get("checkoutsUncounted"), &Value::Int(1));
    assert_eq!(
        recalculated.get("verdict"),
        &Value::Enum(0, "MEMBER".into())
    );
    assert_eq!(
        recalculated.get("segments"),
        &Value::Array(vec![s("new"), s("vip")])
    );
    assert_eq!(recalculated.get("added"), &Value::Array(vec![]));
}

#[test]
fn a_payload_of_another_variant_or_shape_is_refused_naming_the_event() {
    let schemas = shopcore_event_schemas::EventSchemas::embedded().unwrap();
    let payload = serde_json::json!({ "CustomerAddressRemoved": { "addressId": Uuid::nil() } });
    let event_id = Uuid::now_v7();
    let envelope = shopcore_event_schemas::EventEnvelope {
        event_id,
        aggregate_type: "customer",
        aggregate_id: &Uuid::nil().to_string(),
        sequence: 2,
        event_type: "CustomerRegistered",
        event_version: "1",
        recorded_at: chrono::Utc::now(),
        payload: &payload,
    };
    let error = schemas.to_avro(&envelope).unwrap_err();
    assert_eq!(error.reason(), "invalid_payload");
    assert!(error.to_string().contains(&event_id.to_string()), "{error}");

    let unknown = shopcore_event_schemas::EventEnvelope {
        event_type: "CustomerErased",
        ..envelope
    };
    let error = schemas.to_avro(&unknown).unwrap_err();
    assert_eq!(error.reason(), "unmapped_event_type");
    assert!(error.to_string().contains("CustomerErased"), "{error}");
}
