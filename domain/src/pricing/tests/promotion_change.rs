//! Given / when / then tests of changing a promotion and of coupon codes held by another
//! promotion (through a fake directory).

use std::sync::Arc;

use async_trait::async_trait;
use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::promotion::{activated, create, created, promotions, ten_percent};
use super::{at, id, usd};
use crate::error_kind::DomainErrorKind;
use crate::pricing::*;

fn change(changes: PromotionChanges) -> PromotionCommand {
    PromotionCommand::ChangePromotion {
        changes,
        now: at(2),
    }
}

fn changed(name: &str, until: i64, total: Option<u32>) -> PromotionEvent {
    PromotionEvent::PromotionChanged {
        name: name.into(),
        discount: ten_percent(),
        valid_from: at(0),
        valid_until: at(until),
        usage_limit_total: total,
        usage_limit_per_customer: Some(1),
        changed_at: at(2),
    }
}

#[test]
fn a_change_carries_every_field_as_it_is_after_it() {
    promotions()
        .given(vec![created(), activated()])
        .when(change(PromotionChanges {
            name: Some(" Black Week ".into()),
            valid_until: Some(at(168)),
            usage_limit_total: Some(None),
            ..PromotionChanges::default()
        }))
        .then_expect_events(vec![changed("Black Week", 168, None)]);
    // The same values again change nothing.
    promotions()
        .given(vec![created(), changed("Black Week", 168, None)])
        .when(change(PromotionChanges {
            name: Some("Black Week".into()),
            usage_limit_total: Some(None),
            ..PromotionChanges::default()
        }))
        .then_expect_events(vec![]);
    // The state follows the event.
    let mut state = Promotion::default();
    for event in [created(), changed("Black Week", 168, Some(5))] {
        cqrs_es::Aggregate::apply(&mut state, event);
    }
    assert_eq!(state.name, "Black Week");
    assert_eq!(state.valid_until, Some(at(168)));
    assert_eq!(state.usage_limit_total, Some(5));
    assert_eq!(state.coupon_codes.len(), 1, "codes are not touched");
}

#[test]
fn change_rejections_name_the_field() {
    let cases = [
        (
            PromotionChanges {
                valid_from: Some(at(24)),
                ..PromotionChanges::default()
            },
            "validUntil",
        ),
        (
            PromotionChanges {
                name: Some("Black\u{200B}Friday".into()),
                ..PromotionChanges::default()
            },
            "name",
        ),
        (
            PromotionChanges {
                name: Some("x".repeat(201)),
                ..PromotionChanges::default()
            },
            "name",
        ),
        (
            PromotionChanges {
                usage_limit_per_customer: Some(Some(0)),
                ..PromotionChanges::default()
            },
            "usageLimitPerCustomer",
        ),
        (
            PromotionChanges {
                discount: Some(Discount::AmountOff { amount: usd(-1) }),
                ..PromotionChanges::default()
            },
            "discount.amount",
        ),
    ];
    for (changes, field) in cases {
        let error = promotions()
            .given(vec![created()])
            .when(change(changes))
            .inspect_result()
            .expect_err(field);
        assert_eq!(error.field(), Some(field), "{error}");
        assert_eq!(error.kind(), DomainErrorKind::InvalidArgument);
    }
    promotions()
        .given(vec![created()])
        .when(change(PromotionChanges::default()))
        .then_expect_error(PromotionError::EmptyChange);
    promotions()
        .given_no_previous_events()
        .when(change(PromotionChanges {
            name: Some("New".into()),
            ..PromotionChanges::default()
        }))
        .then_expect_error(PromotionError::NotCreated);
}

/// Codes held by promotion `id(9)`; a lookup of `DOWN` fails.
struct HeldCodes;

#[async_trait]
impl CouponCodeDirectory for HeldCodes {
    async fn holders(&self, codes: &[String]) -> Result<Vec<(String, Uuid)>, String> {
        if codes.iter().any(|c| c == "DOWN") {
            return Err("directory timed out".into());
        }
        Ok(codes
            .iter()
            .filter(|c| c.starts_with("HELD") || *c == "BF-2026")
            .map(|c| (c.clone(), if c == "BF-2026" { id(1) } else { id(9) }))
            .collect())
    }
}

fn with_held_codes() -> TestFramework<Promotion> {
    TestFramework::with(PromotionServices {
        coupons: Arc::new(HeldCodes),
    })
}

#[test]
fn codes_held_by_another_promotion_are_refused_by_their_normalised_spelling() {
    let error = with_held_codes()
        .given_no_previous_events()
        .when(create(&["FREE-1", " held-1 "]))
        .inspect_result()
        .expect_err("held by id(9)");
    assert_eq!(error, PromotionError::CouponCodeTaken("HELD-1".into()));
    assert_eq!(error.kind(), DomainErrorKind::Conflict);
    assert_eq!(error.field(), Some("couponCodes"));
    with_held_codes()
        .given(vec![created()])
        .when(PromotionCommand::AddCouponCodes {
            codes: vec!["held-2".into()],
        })
        .then_expect_error(PromotionError::CouponCodeTaken("HELD-2".into()));
    // Its own code (held by itself, id(1)) is no conflict: already there, nothing to add.
    with_held_codes()
        .given(vec![created()])
        .when(PromotionCommand::AddCouponCodes {
            codes: vec!["bf-2026".into(), "NEW-1".into()],
        })
        .then_expect_events(vec![PromotionEvent::PromotionCouponCodesAdded {
            codes: vec!["NEW-1".into()],
        }]);
    let error = with_held_codes()
        .given(vec![created()])
        .when(PromotionCommand::AddCouponCodes {
            codes: vec!["down".into()],
        })
        .inspect_result()
        .expect_err("lookup failed");
    assert_eq!(error.kind(), DomainErrorKind::Unavailable);
}

#[test]
fn repeats_within_one_command_collapse_after_normalisation() {
    promotions()
        .given_no_previous_events()
        .when(create(&["save10", "SAVE10", " Save10 ", "bf-2026"]))
        .then_expect_events(vec![PromotionEvent::PromotionCreated {
            promotion_id: id(1),
            name: "Black Friday".into(),
            discount: ten_percent(),
            valid_from: at(0),
            valid_until: at(24),
            usage_limit_total: Some(2),
            usage_limit_per_customer: Some(1),
            coupon_codes: vec!["SAVE10".into(), "BF-2026".into()],
        }]);
}
