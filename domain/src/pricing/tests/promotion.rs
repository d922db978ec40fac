//! Given / when / then tests of the Promotion aggregate.

use cqrs_es::test::TestFramework;

use super::{assert_round_trips, at, id, usd};
use crate::error_kind::DomainErrorKind;
use crate::money::{Money, Percent, RoundingMode};
use crate::pricing::*;

pub(super) fn ten_percent() -> Discount {
    Discount::PercentOff {
        percent: Percent::from_basis_points(1_000).expect("valid"),
    }
}

pub(super) fn create(codes: &[&str]) -> PromotionCommand {
    PromotionCommand::CreatePromotion {
        promotion_id: id(1),
        name: " Black Friday ".into(),
        discount: ten_percent(),
        valid_from: at(0),
        valid_until: at(24),
        usage_limit_total: Some(2),
        usage_limit_per_customer: Some(1),
        coupon_codes: codes.iter().map(|c| c.to_string()).collect(),
        activate_at_start: false,
        now: at(-2),
    }
}

pub(super) fn created() -> PromotionEvent {
    PromotionEvent::PromotionCreated {
        promotion_id: id(1),
        name: "Black Friday".into(),
        discount: ten_percent(),
        valid_from: at(0),
        valid_until: at(24),
        usage_limit_total: Some(2),
        usage_limit_per_customer: Some(1),
        coupon_codes: vec!["BF-2026".into()],
    }
}

pub(super) fn activated() -> PromotionEvent {
    PromotionEvent::PromotionActivated {
        activated_at: at(-1),
        discount: ten_percent(),
        valid_from: at(0),
        valid_until: at(24),
    }
}

fn redeemed(n: u128, customer: u128) -> PromotionEvent {
    PromotionEvent::PromotionRedeemed {
        redemption_id: id(100 + n),
        customer_id: Some(id(customer)),
        coupon_code: Some("BF-2026".into()),
        redeemed_at: at(1),
    }
}

fn redeem(n: u128, customer: Option<u128>, code: Option<&str>, hour: i64) -> PromotionCommand {
    PromotionCommand::RedeemPromotion {
        redemption_id: id(100 + n),
        customer_id: customer.map(id),
        coupon_code: code.map(str::to_owned),
        now: at(hour),
    }
}

pub(super) fn promotions() -> TestFramework<Promotion> {
    TestFramework::with(PromotionServices::default())
}

#[test]
fn create_normalises_codes() {
    promotions()
        .given_no_previous_events()
        .when(create(&[" bf-2026 ", "BF-2026"]))
        .then_expect_events(vec![created()]);
    promotions()
        .given(vec![created()])
        .when(create(&[]))
        .then_expect_error(PromotionError::AlreadyCreated);
}

#[test]
fn create_rejections_name_the_field() {
    let mut cases = Vec::new();
    let mut bad_window = create(&[]);
    if let PromotionCommand::CreatePromotion { valid_until, .. } = &mut bad_window {
        *valid_until = at(0);
    }
    cases.push((bad_window, "validUntil"));
    let mut no_name = create(&[]);
    if let PromotionCommand::CreatePromotion { name, .. } = &mut no_name {
        *name = "  ".into();
    }
    cases.push((no_name, "name"));
    let mut zero_limit = create(&[]);
    if let PromotionCommand::CreatePromotion {
        usage_limit_total, ..
    } = &mut zero_limit
    {
        *usage_limit_total = Some(0);
    }
    cases.push((zero_limit, "usageLimitTotal"));
    let mut no_discount = create(&[]);
    if let PromotionCommand::CreatePromotion { discount, .. } = &mut no_discount {
        *discount = Discount::AmountOff { amount: usd(0) };
    }
    cases.push((no_discount, "discount.amount"));
    cases.push((create(&["no"]), "couponCodes"));
    for (command, field) in cases {
        let error = promotions()
            .given_no_previous_events()
            .when(command)
            .inspect_result()
            .expect_err(field);
        assert!(
            error.to_string().starts_with(&format!("{field}:")),
            "{error}"
        );
        assert_eq!(error.kind(), DomainErrorKind::InvalidArgument);
    }
}

#[test]
fn add_coupon_codes_only_records_new_ones() {
    promotions()
        .given(vec![created()])
        .when(PromotionCommand::AddCouponCodes {
            codes: vec!["bf-2026".into(), "VIP-10".into()],
        })
        .then_expect_events(vec![PromotionEvent::PromotionCouponCodesAdded {
            codes: vec!["VIP-10".into()],
        }]);
    promotions()
        .given(vec![created()])
        .when(PromotionCommand::AddCouponCodes {
            codes: vec!["BF-2026".into()],
        })
        .then_expect_events(vec![]);
    promotions()
        .given_no_previous_events()
        .when(PromotionCommand::AddCouponCodes {
            codes: vec!["VIP-10".into()],
        })
        .then_expect_error(PromotionError::NotCreated);
}

#[test]
fn activation_emits_promotion_activated_once() {
    promotions()
        .given(vec![created()])
        .when(PromotionCommand::ActivatePromotion { now: at(-1) })
        .then_expect_events(vec![activated()]);
    promotions()
        .given(vec![created(), activated()])
        .when(PromotionCommand::ActivatePromotion { now: at(1) })
        .then_expect_events(vec![]);
    promotions()
        .given(vec![created()])
        .when(PromotionCommand::ActivatePromotion { now: at(24) })
        .then_expect_error(PromotionError::Ended);
    promotions()
        .given_no_previous_events()
        .when(PromotionCommand::ActivatePromotion { now: at(1) })
        .then_expect_error(PromotionError::NotCreated);
}

#[test]
fn deactivation() {
    promotions()
        .given(vec![created(), activated()])
        .when(PromotionCommand::DeactivatePromotion { now: at(2) })
        .then_expect_events(vec![PromotionEvent::PromotionDeactivated {
            deactivated_at: at(2),
        }]);
    promotions()
        .given(vec![created()])
        .when(PromotionCommand::DeactivatePromotion { now: at(2) })
        .then_expect_events(vec![]);
}

#[test]
fn redemption_within_window_and_limits() {
    promotions()
        .given(vec![created(), activated()])
        .when(redeem(1, Some(7), Some("bf-2026"), 1))
        .then_expect_events(vec![redeemed(1, 7)]);
    // The same redemption again is accepted without a second event.
    promotions()
        .given(vec![created(), activated(), redeemed(1, 7)])
        .when(redeem(1, Some(7), Some("BF-2026"), 1))
        .then_expect_events(vec![]);
}

#[test]
fn redemption_rejections() {
    let live = || vec![created(), activated()];
    let cases = vec![
        (
            vec![created()],
            redeem(1, Some(7), Some("BF-2026"), 1),
            PromotionError::NotActive,
        ),
        (
            live(),
            redeem(1, Some(7), Some("BF-2026"), -1),
            PromotionError::NotStarted,
        ),
        (
            live(),
            redeem(1, Some(7), Some("BF-2026"), 24),
            PromotionError::Ended,
        ),
        (
            live(),
            redeem(1, Some(7), Some("OTHER"), 1),
            PromotionError::UnknownCoupon("OTHER".into()),
        ),
        (
            live(),
            redeem(1, Some(7), None, 1),
            PromotionError::invalid("couponCode", "is required"),
        ),
        (
            live(),
            redeem(1, None, Some("BF-2026"), 1),
            PromotionError::invalid("customerId", "is required"),
        ),
        (
            vec![created(), activated(), redeemed(1, 7)],
            redeem(2, Some(7), Some("BF-2026"), 1),
            PromotionError::CustomerLimitReached,
        ),
        (
            vec![created(), activated(), redeemed(1, 7), redeemed(2, 8)],
            redeem(3, Some(9), Some("BF-2026"), 1),
            PromotionError::UsageLimitReached,
        ),
        (
            vec![],
            redeem(1, Some(7), Some("BF-2026"), 1),
            PromotionError::NotCreated,
        ),
    ];
    for (given, command, expected) in cases {
        promotions()
            .given(given)
            .when(command)
            .then_expect_error(expected);
    }
    assert_eq!(
        PromotionError::UsageLimitReached.kind(),
        DomainErrorKind::FailedPrecondition
    );
}

#[test]
fn discounts_never_exceed_the_subtotal() {
    assert_eq!(
        ten_percent().amount_for(usd(1_005), RoundingMode::HalfEven),
        Ok(usd(100))
    );
    assert_eq!(
        Discount::AmountOff { amount: usd(500) }.amount_for(usd(300), RoundingMode::HalfEven),
        Ok(usd(300))
    );
    let euros = Discount::AmountOff {
        amount: Money::new(5, crate::money::Currency::EUR),
    };
    assert!(euros.amount_for(usd(300), RoundingMode::HalfEven).is_err());
}

#[test]
fn every_promotion_event_round_trips() {
    assert_round_trips(
        &[
            created(),
            PromotionEvent::PromotionCouponCodesAdded {
                codes: vec!["VIP-10".into()],
            },
            PromotionEvent::PromotionActivated {
                activated_at: at(0),
                discount: Discount::AmountOff { amount: usd(500) },
                valid_from: at(0),
                valid_until: at(1),
            },
            PromotionEvent::PromotionDeactivated {
                deactivated_at: at(1),
            },
            PromotionEvent::PromotionRedeemed {
                redemption_id: id(5),
                customer_id: None,
                coupon_code: None,
                redeemed_at: at(1),
            },
            PromotionEvent::PromotionChanged {
                name: "Cyber Monday".into(),
                discount: Discount::AmountOff { amount: usd(500) },
                valid_from: at(0),
                valid_until: at(2),
                usage_limit_total: None,
                usage_limit_per_customer: Some(3),
                changed_at: at(1),
            },
            PromotionEvent::PromotionActivationScheduled { activate_at: at(0) },
        ],
        PromotionEvent::EVENT_TYPES,
    );
}
