//! Given / when / then tests of `RecalculateSegments`: the verdicts, hand-assigned segments
//! kept, once per checkout (also for replays of older checkouts), and rejected inputs.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate as _;
use uuid::Uuid;

use super::*;
use crate::money::{Currency, Money};

struct NoEmails;

#[async_trait]
impl CustomerEmailLookup for NoEmails {
    async fn owner_of(&self, _email: &str) -> Result<Option<Uuid>, String> {
        Ok(None)
    }
}

const ID: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001);

fn framework() -> TestFramework<Customer> {
    TestFramework::with(CustomerServices {
        emails: Arc::new(NoEmails),
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

fn hand_assigned(segments: &[&str]) -> CustomerEvent {
    CustomerEvent::CustomerSegmentsAssigned {
        segments: segments.iter().map(|s| s.to_string()).collect(),
        added: segments.iter().map(|s| s.to_string()).collect(),
        removed: vec![],
    }
}

fn rule() -> SpendRule {
    SpendRule {
        segment: "vip".into(),
        threshold: Money::new(100_000, Currency::EUR),
        window_days: 365,
    }
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

/// The recalculation for the checkout at log position `position`.
fn recalculation(position: u64, spend: i64, uncounted: u32) -> SegmentRecalculation {
    SegmentRecalculation {
        cause: CheckoutCause {
            event_id: Uuid::from_u128(u128::from(position)),
            log_order: LogOrder::new(700 + position, position),
            checked_out_at: Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap(),
        },
        rule: rule(),
        spend: Spend {
            total: eur(spend),
            counted: 2,
            uncounted,
        },
    }
}

/// The event `recalculation(position, spend, uncounted)` records for a customer who ends
/// with `segments`.
fn recalculated(
    position: u64,
    spend: i64,
    uncounted: u32,
    verdict: Verdict,
    segments: &[&str],
    added: &[&str],
    removed: &[&str],
) -> CustomerEvent {
    let owned = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let command = recalculation(position, spend, uncounted);
    CustomerEvent::CustomerSegmentRecalculated(SegmentRecalculated {
        checkout_event_id: command.cause.event_id,
        checkout_log_order: command.cause.log_order,
        checked_out_at: command.cause.checked_out_at,
        rule: rule(),
        spend: eur(spend),
        checkouts_counted: 2,
        checkouts_uncounted: uncounted,
        verdict,
        segments: owned(segments),
        added: owned(added),
        removed: owned(removed),
    })
}

#[tokio::test]
async fn reaching_the_threshold_adds_the_rules_segment_beside_hand_assigned_ones() {
    framework()
        .given(vec![registered(), hand_assigned(&["b2b", "VIP"])])
        .when_async(CustomerCommand::RecalculateSegments(recalculation(
            10, 100_000, 0,
        )))
        .await
        .then_expect_events(vec![recalculated(
            10,
            100_000,
            0,
            Verdict::Member,
            &["VIP", "b2b", "vip"],
            &["vip"],
            &[],
        )]);
}

#[tokio::test]
async fn falling_below_removes_only_the_rules_segment() {
    framework()
        .given(vec![
            registered(),
            hand_assigned(&["b2b"]),
            recalculated(
                10,
                120_000,
                0,
                Verdict::Member,
                &["b2b", "vip"],
                &["vip"],
                &[],
            ),
        ])
        .when_async(CustomerCommand::RecalculateSegments(recalculation(
            11, 99_999, 0,
        )))
        .await
        .then_expect_events(vec![recalculated(
            11,
            99_999,
            0,
            Verdict::NotMember,
            &["b2b"],
            &[],
            &["vip"],
        )]);
}

#[tokio::test]
async fn a_recalculation_that_changes_nothing_is_still_recorded() {
    framework()
        .given(vec![registered()])
        .when_async(CustomerCommand::RecalculateSegments(recalculation(
            10, 5_000, 0,
        )))
        .await
        .then_expect_events(vec![recalculated(
            10,
            5_000,
            0,
            Verdict::NotMember,
            &[],
            &[],
            &[],
        )]);
}

#[tokio::test]
async fn an_incomplete_spend_below_the_threshold_never_removes_the_segment() {
    let member = recalculated(10, 150_000, 0, Verdict::Member, &["vip"], &["vip"], &[]);
    framework()
        .given(vec![registered(), member])
        .when_async(CustomerCommand::RecalculateSegments(recalculation(
            11, 20_000, 1,
        )))
        .await
        .then_expect_events(vec![recalculated(
            11,
            20_000,
            1,
            Verdict::Undecided,
            &["vip"],
            &[],
            &[],
        )]);
    // A lower bound that reaches the threshold is enough to add it.
    framework()
        .given(vec![registered()])
        .when_async(CustomerCommand::RecalculateSegments(recalculation(
            11, 100_000, 3,
        )))
        .await
        .then_expect_events(vec![recalculated(
            11,
            100_000,
            3,
            Verdict::Member,
            &["vip"],
            &["vip"],
            &[],
        )]);
}

#[tokio::test]
async fn the_same_checkout_or_an_earlier_one_writes_nothing() {
    let first = recalculated(10, 150_000, 0, Verdict::Member, &["vip"], &["vip"], &[]);
    // Again (a policy restarted before its checkpoint moved).
    framework()
        .given(vec![registered(), first.clone()])
        .when_async(CustomerCommand::RecalculateSegments(recalculation(
            10, 150_000, 0,
        )))
        .await
        .then_expect_events(vec![]);
    // An earlier checkout replayed after the segments were changed by hand: still nothing.
    framework()
        .given(vec![registered(), first, hand_assigned(&["b2b"])])
        .when_async(CustomerCommand::RecalculateSegments(recalculation(
            9, 150_000, 0,
        )))
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn the_last_checkout_recalculated_for_is_kept_in_the_state() {
    let mut customer = Customer::default();
    customer.apply(registered());
    customer.apply(recalculated(
        10,
        150_000,
        0,
        Verdict::Member,
        &["vip"],
        &["vip"],
        &[],
    ));
    assert_eq!(
        customer.segments_recalculated_through,
        Some(LogOrder::new(710, 10))
    );
    // A snapshot taken before the field existed reads as "never recalculated".
    let mut old = serde_json::to_value(&customer).unwrap();
    old.as_object_mut()
        .unwrap()
        .remove("segments_recalculated_through");
    let back: Customer = serde_json::from_value(old).unwrap();
    assert_eq!(back.segments_recalculated_through, None);
    // Log order is transaction first.
    assert!(LogOrder::new(5, 100) < LogOrder::new(6, 1));
}

#[tokio::test]
async fn bad_inputs_are_rejected_naming_the_field() {
    let cases: Vec<(SegmentRecalculation, &str)> = vec![
        (
            SegmentRecalculation {
                rule: SpendRule {
                    segment: "big spender".into(),
                    ..rule()
                },
                ..recalculation(10, 1, 0)
            },
            "segment",
        ),
        (
            SegmentRecalculation {
                rule: SpendRule {
                    threshold: eur(0),
                    ..rule()
                },
                ..recalculation(10, 1, 0)
            },
            "threshold",
        ),
        (
            SegmentRecalculation {
                rule: SpendRule {
                    window_days: 0,
                    ..rule()
                },
                ..recalculation(10, 1, 0)
            },
            "windowDays",
        ),
        (
            SegmentRecalculation {
                spend: Spend {
                    total: Money::new(1, Currency::USD),
                    counted: 1,
                    uncounted: 0,
                },
                ..recalculation(10, 1, 0)
            },
            "spend",
        ),
        (recalculation(10, -1, 0), "spend"),
    ];
    for (command, field) in cases {
        let error = framework()
            .given(vec![registered()])
            .when_async(CustomerCommand::RecalculateSegments(command))
            .await
            .inspect_result()
            .expect_err(field);
        assert_eq!(error.field(), Some(field), "{error}");
    }
    framework()
        .given_no_previous_events()
        .when_async(CustomerCommand::RecalculateSegments(recalculation(
            10, 1, 0,
        )))
        .await
        .then_expect_error(CustomerError::NotRegistered);
}

#[tokio::test]
async fn a_customer_with_every_segment_slot_taken_cannot_get_the_rules_segment() {
    let full: Vec<String> = (0..limits::MAX_SEGMENTS).map(|n| format!("s{n}")).collect();
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    let error = framework()
        .given(vec![registered(), hand_assigned(&full)])
        .when_async(CustomerCommand::RecalculateSegments(recalculation(
            10, 200_000, 0,
        )))
        .await
        .inspect_result()
        .expect_err("full");
    assert_eq!(error.field(), Some("segments"), "{error}");
}

#[test]
fn the_window_ends_at_the_checkout_and_the_threshold_is_inclusive() {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    assert_eq!(
        rule().window_start(at),
        Utc.with_ymd_and_hms(2025, 12, 1, 10, 0, 0).unwrap()
    );
    let spend = |total, uncounted| Spend {
        total: eur(total),
        counted: 1,
        uncounted,
    };
    assert_eq!(rule().verdict(&spend(100_000, 0)), Verdict::Member);
    assert_eq!(rule().verdict(&spend(99_999, 0)), Verdict::NotMember);
    assert_eq!(rule().verdict(&spend(99_999, 1)), Verdict::Undecided);
    assert_eq!(rule().validated().map(|r| r.segment), Ok("vip".to_owned()));
}

/// An example of the event, for the JSON round trip of every customer event.
pub(super) fn example_recalculated() -> CustomerEvent {
    recalculated(
        10,
        150_000,
        1,
        Verdict::Member,
        &["b2b", "vip"],
        &["vip"],
        &[],
    )
}

#[test]
fn a_v1_payload_kept_as_fixture_still_reads() {
    let stored = r#"{"CustomerSegmentRecalculated":{
        "checkoutEventId":"0192f0c4-7a00-7000-8000-000000000010",
        "checkoutLogOrder":{"tx":710,"position":10},
        "checkedOutAt":"2026-12-01T10:00:00Z",
        "rule":{"segment":"vip","threshold":{"amount":100000,"currency":"EUR"},"windowDays":365},
        "spend":{"amount":150000,"currency":"EUR"},
        "checkoutsCounted":2,"checkoutsUncounted":1,"verdict":"member",
        "segments":["b2b","vip"],"added":["vip"],"removed":[]}}"#;
    let event: CustomerEvent = serde_json::from_str(stored).unwrap();
    let CustomerEvent::CustomerSegmentRecalculated(expected) = example_recalculated() else {
        unreachable!()
    };
    assert_eq!(
        event,
        CustomerEvent::CustomerSegmentRecalculated(SegmentRecalculated {
            checkout_event_id: Uuid::parse_str("0192f0c4-7a00-7000-8000-000000000010").unwrap(),
            ..expected
        })
    );
}
