//! Given / when / then tests of every customer command, rejections included.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use cqrs_es::test::TestFramework;
use cqrs_es::DomainEvent;
use uuid::Uuid;

use super::*;

struct FakeEmails(HashMap<String, Uuid>);

#[async_trait]
impl CustomerEmailLookup for FakeEmails {
    async fn owner_of(&self, email: &str) -> Result<Option<Uuid>, String> {
        Ok(self.0.get(email).copied())
    }
}

const ID: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001);
const OTHER: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0002);
const ADDRESS: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_00a1);

fn framework(taken: &[(&str, Uuid)]) -> TestFramework<Customer> {
    let emails = taken.iter().map(|(e, id)| (e.to_string(), *id)).collect();
    TestFramework::with(CustomerServices {
        emails: Arc::new(FakeEmails(emails)),
    })
}

fn registered() -> CustomerEvent {
    CustomerEvent::CustomerRegistered {
        customer_id: ID,
        email: "ada@example.com".into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        phone: None,
    }
}

fn home() -> Address {
    Address {
        line1: "12 St James's Square".into(),
        city: "London".into(),
        postal_code: "SW1Y 4JH".into(),
        country: "GB".into(),
        label: "home".into(),
        ..Address::default()
    }
}

fn register(email: &str) -> CustomerCommand {
    CustomerCommand::Register {
        customer_id: ID,
        email: email.into(),
        first_name: " Ada ".into(),
        last_name: "Lovelace".into(),
        phone: Some("".into()),
    }
}

#[tokio::test]
async fn register_normalises_and_records_the_customer() {
    framework(&[])
        .given_no_previous_events()
        .when_async(register("  Ada@Example.COM "))
        .await
        .then_expect_events(vec![registered()]);
}

#[tokio::test]
async fn register_rejects_an_invalid_email_naming_the_field() {
    for bad in [
        "",
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "a da@example.com",
    ] {
        let result = framework(&[])
            .given_no_previous_events()
            .when_async(register(bad))
            .await
            .inspect_result();
        let error = result.expect_err(bad);
        assert_eq!(error.field(), Some("email"), "{bad}: {error}");
        assert_eq!(
            error.kind(),
            crate::error_kind::DomainErrorKind::InvalidArgument
        );
    }
}

#[tokio::test]
async fn register_rejects_an_email_used_by_another_customer() {
    framework(&[("ada@example.com", OTHER)])
        .given_no_previous_events()
        .when_async(register("ada@example.com"))
        .await
        .then_expect_error(CustomerError::EmailInUse);
}

#[tokio::test]
async fn register_twice_is_a_conflict() {
    framework(&[])
        .given(vec![registered()])
        .when_async(register("ada@example.com"))
        .await
        .then_expect_error(CustomerError::AlreadyRegistered);
}

#[tokio::test]
async fn update_records_only_the_fields_that_change() {
    let changes = ProfileChanges {
        email: Some("ada@example.com".into()),
        last_name: Some("King".into()),
        phone: Some("+44 20 7946 0958".into()),
        ..ProfileChanges::default()
    };
    framework(&[("ada@example.com", ID)])
        .given(vec![registered()])
        .when_async(CustomerCommand::UpdateProfile(changes))
        .await
        .then_expect_events(vec![CustomerEvent::CustomerProfileUpdated(
            ProfileChanged {
                last_name: Some("King".into()),
                phone: Some(Some("+442079460958".into())),
                ..ProfileChanged::default()
            },
        )]);
}

#[tokio::test]
async fn update_without_fields_is_rejected() {
    framework(&[])
        .given(vec![registered()])
        .when_async(CustomerCommand::UpdateProfile(ProfileChanges::default()))
        .await
        .then_expect_error(CustomerError::EmptyUpdate);
}

#[tokio::test]
async fn update_to_an_email_of_another_customer_is_a_conflict() {
    let changes = ProfileChanges {
        email: Some("grace@example.com".into()),
        ..ProfileChanges::default()
    };
    framework(&[("grace@example.com", OTHER)])
        .given(vec![registered()])
        .when_async(CustomerCommand::UpdateProfile(changes))
        .await
        .then_expect_error(CustomerError::EmailInUse);
}

#[tokio::test]
async fn update_of_an_unknown_customer_is_not_found() {
    let changes = ProfileChanges {
        first_name: Some("Grace".into()),
        ..ProfileChanges::default()
    };
    framework(&[])
        .given_no_previous_events()
        .when_async(CustomerCommand::UpdateProfile(changes))
        .await
        .then_expect_error(CustomerError::NotRegistered);
}

#[tokio::test]
async fn update_with_an_empty_name_names_the_field() {
    let changes = ProfileChanges {
        first_name: Some("   ".into()),
        ..ProfileChanges::default()
    };
    framework(&[])
        .given(vec![registered()])
        .when_async(CustomerCommand::UpdateProfile(changes))
        .await
        .then_expect_error(CustomerError::invalid("firstName", "must not be empty"));
}

#[tokio::test]
async fn add_update_and_remove_an_address() {
    let added = CustomerEvent::CustomerAddressAdded {
        address_id: ADDRESS,
        address: home(),
    };
    framework(&[])
        .given(vec![registered()])
        .when_async(CustomerCommand::AddAddress {
            address_id: ADDRESS,
            address: Address {
                country: "gb".into(),
                ..home()
            },
        })
        .await
        .then_expect_events(vec![added.clone()]);

    let moved = Address {
        city: "Cambridge".into(),
        ..home()
    };
    framework(&[])
        .given(vec![registered(), added.clone()])
        .when_async(CustomerCommand::UpdateAddress {
            address_id: ADDRESS,
            address: moved.clone(),
        })
        .await
        .then_expect_events(vec![CustomerEvent::CustomerAddressUpdated {
            address_id: ADDRESS,
            address: moved,
        }]);

    framework(&[])
        .given(vec![registered(), added])
        .when_async(CustomerCommand::RemoveAddress {
            address_id: ADDRESS,
        })
        .await
        .then_expect_events(vec![CustomerEvent::CustomerAddressRemoved {
            address_id: ADDRESS,
        }]);
}

#[tokio::test]
async fn unknown_address_is_rejected() {
    framework(&[])
        .given(vec![registered()])
        .when_async(CustomerCommand::RemoveAddress {
            address_id: ADDRESS,
        })
        .await
        .then_expect_error(CustomerError::UnknownAddress(ADDRESS));
    framework(&[])
        .given(vec![registered()])
        .when_async(CustomerCommand::UpdateAddress {
            address_id: ADDRESS,
            address: home(),
        })
        .await
        .then_expect_error(CustomerError::UnknownAddress(ADDRESS));
}

#[tokio::test]
async fn address_without_country_code_names_the_field() {
    let result = framework(&[])
        .given(vec![registered()])
        .when_async(CustomerCommand::AddAddress {
            address_id: ADDRESS,
            address: Address {
                country: "Germany".into(),
                ..home()
            },
        })
        .await
        .inspect_result();
    assert_eq!(result.unwrap_err().field(), Some("address.country"));
}

#[tokio::test]
async fn assign_segments_records_the_difference() {
    let vip = CustomerEvent::CustomerSegmentsAssigned {
        segments: vec!["VIP".into(), "general".into()],
        added: vec!["VIP".into(), "general".into()],
        removed: vec![],
    };
    framework(&[])
        .given(vec![registered()])
        .when_async(CustomerCommand::AssignSegments {
            segments: vec!["general".into(), "VIP".into(), "VIP".into()],
        })
        .await
        .then_expect_events(vec![vip.clone()]);

    framework(&[])
        .given(vec![registered(), vip.clone()])
        .when_async(CustomerCommand::AssignSegments {
            segments: vec!["general".into()],
        })
        .await
        .then_expect_events(vec![CustomerEvent::CustomerSegmentsAssigned {
            segments: vec!["general".into()],
            added: vec![],
            removed: vec!["VIP".into()],
        }]);

    // The same set again changes nothing.
    framework(&[])
        .given(vec![registered(), vip])
        .when_async(CustomerCommand::AssignSegments {
            segments: vec!["VIP".into(), "general".into()],
        })
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn invalid_segment_name_is_rejected() {
    let result = framework(&[])
        .given(vec![registered()])
        .when_async(CustomerCommand::AssignSegments {
            segments: vec!["big spender!".into()],
        })
        .await
        .inspect_result();
    assert_eq!(result.unwrap_err().field(), Some("segments"));
}

#[test]
fn every_event_round_trips_through_json_with_a_stable_name() {
    let events = vec![
        registered(),
        CustomerEvent::CustomerProfileUpdated(ProfileChanged {
            phone: Some(None),
            ..ProfileChanged::default()
        }),
        CustomerEvent::CustomerAddressAdded {
            address_id: ADDRESS,
            address: home(),
        },
        CustomerEvent::CustomerAddressUpdated {
            address_id: ADDRESS,
            address: home(),
        },
        CustomerEvent::CustomerAddressRemoved {
            address_id: ADDRESS,
        },
        CustomerEvent::CustomerSegmentsAssigned {
            segments: vec!["VIP".into()],
            added: vec!["VIP".into()],
            removed: vec![],
        },
        super::recalculation_tests::example_recalculated(),
    ];
    let names: Vec<String> = events.iter().map(DomainEvent::event_type).collect();
    assert_eq!(names, CustomerEvent::EVENT_TYPES);
    for event in events {
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json.as_object().unwrap().keys().next().unwrap(),
            &event.event_type()
        );
        let back: CustomerEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
        assert_eq!(event.event_version(), "1");
    }
}

#[test]
fn a_v1_payload_kept_as_fixture_still_reads() {
    let stored = r#"{"CustomerProfileUpdated":{"firstName":"Grace","phone":null}}"#;
    let event: CustomerEvent = serde_json::from_str(stored).unwrap();
    assert_eq!(
        event,
        CustomerEvent::CustomerProfileUpdated(ProfileChanged {
            first_name: Some("Grace".into()),
            phone: Some(None),
            ..ProfileChanged::default()
        })
    );
}

#[test]
fn names_emails_and_phones_are_normalised_so_look_alikes_are_one_value() {
    use super::values::{optional_phone, person_name, Email};
    assert_eq!(
        person_name("Ame\u{301}lie", "firstName"),
        person_name("Amélie", "firstName"),
        "NFC"
    );
    assert!(
        person_name("Ada\u{200B}", "firstName").is_err(),
        "zero-width space"
    );
    assert!(
        Email::parse("ada\u{202E}@example.com").is_err(),
        "bidi override"
    );
    assert_eq!(
        Email::parse("Ada@Example.COM").map(Email::into_string),
        Ok("ada@example.com".to_owned())
    );
    for (raw, normalised) in [
        ("+44 20 7946 0958", "+442079460958"),
        ("+1 (202) 555-0100", "+12025550100"),
        ("+49.30.123456", "+4930123456"),
    ] {
        assert_eq!(
            optional_phone(raw),
            Ok(Some(normalised.to_owned())),
            "{raw}"
        );
    }
    for bad in [
        "020 7946 0958",
        "+0 123 4567",
        "+12 34",
        "+1234567890123456",
        "+1 202 555 0100 ext 7",
        "+١٢٣٤٥٦٧٨",
    ] {
        assert!(optional_phone(bad).is_err(), "{bad}");
    }
}
