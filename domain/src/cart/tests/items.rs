//! Creating a cart, adding, changing and removing items, coupons, and what an expired or
//! checked-out cart refuses.

use super::*;
use crate::error_kind::DomainErrorKind;

fn new_cart(token: &str) -> CartCommand {
    CartCommand::CreateCart(NewCart {
        cart_id: CART,
        session_token: token.into(),
        customer_id: Some(CUSTOMER),
        currency: Currency::USD,
        channel: Some(" web ".into()),
        region: Some("EU".into()),
        now: at(0),
    })
}

fn add(sku: &str, quantity: u32, minute: i64) -> CartCommand {
    CartCommand::AddItem {
        sku: sku.into(),
        quantity,
        now: at(minute),
    }
}

#[tokio::test]
async fn create_opens_a_cart_that_expires_after_the_ttl() {
    framework()
        .given_no_previous_events()
        .when_async(new_cart(" sess-abc123 "))
        .await
        .then_expect_events(vec![created()]);
}

#[tokio::test]
async fn create_rejections() {
    framework()
        .given(vec![created()])
        .when_async(new_cart("sess-abc123"))
        .await
        .then_expect_error(CartError::AlreadyCreated);
    for token in ["", "  ", "has space"] {
        let error = framework()
            .given_no_previous_events()
            .when_async(new_cart(token))
            .await
            .inspect_result();
        assert_eq!(error.expect_err(token).field(), Some("sessionToken"));
    }
}

#[tokio::test]
async fn add_item_stores_the_priced_snapshot_and_slides_expiry() {
    let pricing = FakePricing::with(&[("TEE-M", 1_999)]);
    let framework = framework_with(pricing);
    framework
        .given(vec![created()])
        .when_async(add(" TEE-M ", 2, 30))
        .await
        .then_expect_events(vec![added("TEE-M", 2, 1_999, 30)]);
}

#[tokio::test]
async fn the_pricing_service_gets_the_cart_context() {
    let pricing = Arc::new(FakePricing::with(&[("TEE-M", 1_999)]));
    let services = CartServices {
        pricing: pricing.clone(),
        coupons: Arc::new(FakeCoupons),
        settings: settings(),
    };
    TestFramework::<Cart>::with(services)
        .given(vec![created()])
        .when_async(add("TEE-M", 1, 5))
        .await
        .inspect_result()
        .ok();
    let requests = pricing
        .requests
        .lock()
        .map(|r| r.clone())
        .unwrap_or_default();
    assert_eq!(
        requests,
        vec![PriceRequest {
            sku: "TEE-M".into(),
            quantity: 1,
            currency: Currency::USD,
            customer_id: Some(CUSTOMER),
            channel: Some("web".into()),
            region: Some("EU".into()),
            at: at(5),
        }]
    );
}

#[tokio::test]
async fn adding_to_a_line_reprices_it_at_the_new_quantity() {
    framework()
        .given(vec![created(), added("TEE-M", 4, 1_999, 10)])
        .when_async(add("TEE-M", 6, 20))
        .await
        .then_expect_events(vec![CartEvent::CartItemAdded {
            sku: "TEE-M".into(),
            quantity: 6,
            line_quantity: 10,
            price: PriceSnapshot {
                unit_price: usd(1_799),
                list_price: usd(1_999),
                applied_rules: vec![RULE],
                priced_at: at(20),
            },
            expires_at: at(140),
        }]);
}

#[tokio::test]
async fn add_item_rejections() {
    let cases = vec![
        (
            vec![created()],
            add("TEE-M", 0, 1),
            CartError::QuantityOutOfRange { max: 20 },
        ),
        (
            vec![created()],
            add("TEE-M", 21, 1),
            CartError::QuantityOutOfRange { max: 20 },
        ),
        (
            vec![created(), added("TEE-M", 15, 1_999, 1)],
            add("TEE-M", 6, 2),
            CartError::QuantityOutOfRange { max: 20 },
        ),
        (
            vec![created()],
            add("NOPE", 1, 1),
            CartError::NotForSale("NOPE".into()),
        ),
        (
            vec![created()],
            add("DOWN", 1, 1),
            CartError::LookupFailed("pricing timed out".into()),
        ),
        (
            vec![created()],
            add("EURO", 1, 1),
            CartError::CurrencyMismatch {
                expected: Currency::USD,
                found: Currency::EUR,
            },
        ),
        (
            vec![
                created(),
                added("TEE-M", 1, 1_999, 1),
                added("CAP", 1, 1_000, 1),
                added("SOCKS", 1, 333, 1),
            ],
            add("MUG", 1, 2),
            CartError::TooManyLines { max: 3 },
        ),
        (vec![], add("TEE-M", 1, 1), CartError::NotCreated),
        (vec![created()], add("TEE-M", 1, 120), CartError::Expired),
        (
            vec![
                created(),
                CartEvent::CartExpired {
                    expired_at: at(121),
                },
            ],
            add("TEE-M", 1, 1),
            CartError::Expired,
        ),
    ];
    for (given, command, expected) in cases {
        framework()
            .given(given)
            .when_async(command)
            .await
            .then_expect_error(expected);
    }
    let error = framework()
        .given(vec![created()])
        .when_async(add("no spaces", 1, 1))
        .await
        .inspect_result();
    assert_eq!(error.expect_err("bad sku").field(), Some("sku"));
    assert_eq!(
        CartError::NotForSale(String::new()).kind(),
        DomainErrorKind::NotFound
    );
    // An expired cart is gone for good (HTTP 410); a checked-out one is a state conflict.
    assert_eq!(CartError::Expired.kind(), DomainErrorKind::Gone);
    assert_eq!(
        CartError::CheckedOut.kind(),
        DomainErrorKind::FailedPrecondition
    );
}

#[tokio::test]
async fn change_quantity_reprices_the_line() {
    let change = |quantity| CartCommand::ChangeItemQuantity {
        sku: "TEE-M".into(),
        quantity,
        now: at(30),
    };
    framework()
        .given(vec![created(), added("TEE-M", 2, 1_999, 10)])
        .when_async(change(3))
        .await
        .then_expect_events(vec![CartEvent::CartItemQuantityChanged {
            sku: "TEE-M".into(),
            quantity: 3,
            previous_quantity: 2,
            price: snapshot(1_999, 30),
            expires_at: at(150),
        }]);
    framework()
        .given(vec![created(), added("TEE-M", 2, 1_999, 10)])
        .when_async(change(2))
        .await
        .then_expect_events(vec![]);
    framework()
        .given(vec![created(), added("TEE-M", 2, 1_999, 10)])
        .when_async(change(0))
        .await
        .then_expect_error(CartError::QuantityOutOfRange { max: 20 });
    framework()
        .given(vec![created()])
        .when_async(change(1))
        .await
        .then_expect_error(CartError::UnknownItem("TEE-M".into()));
}

#[tokio::test]
async fn remove_item() {
    let remove = CartCommand::RemoveItem {
        sku: "TEE-M".into(),
        now: at(30),
    };
    framework()
        .given(vec![created(), added("TEE-M", 2, 1_999, 10)])
        .when_async(remove.clone())
        .await
        .then_expect_events(vec![CartEvent::CartItemRemoved {
            sku: "TEE-M".into(),
            expires_at: at(150),
        }]);
    framework()
        .given(vec![created()])
        .when_async(remove)
        .await
        .then_expect_error(CartError::UnknownItem("TEE-M".into()));
}

#[tokio::test]
async fn apply_coupon_validates_and_replaces() {
    let apply = |code: &str| CartCommand::ApplyCoupon {
        code: code.into(),
        now: at(30),
    };
    framework()
        .given(vec![created()])
        .when_async(apply(" save10 "))
        .await
        .then_expect_events(vec![coupon_applied(save10(), 30)]);
    framework()
        .given(vec![created(), coupon_applied(save10(), 10)])
        .when_async(apply("FIVE"))
        .await
        .then_expect_events(vec![CartEvent::CartCouponApplied {
            coupon: five_off(),
            replaced: Some("SAVE10".into()),
            expires_at: at(150),
        }]);
    framework()
        .given(vec![created(), coupon_applied(save10(), 10)])
        .when_async(apply("SAVE10"))
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn apply_coupon_rejections() {
    let apply = |code: &str| CartCommand::ApplyCoupon {
        code: code.into(),
        now: at(30),
    };
    let cases = vec![
        (apply("NOPE-1"), CartError::UnknownCoupon("NOPE-1".into())),
        (
            apply("ENDED"),
            CartError::CouponNotApplicable {
                code: "ENDED".into(),
                reason: "promotion has ended".into(),
            },
        ),
        (
            apply("DOWN"),
            CartError::LookupFailed("promotions store down".into()),
        ),
        (
            apply("EUROS"),
            CartError::CouponNotApplicable {
                code: "EUROS".into(),
                reason: "the discount is in EUR, the cart in USD".into(),
            },
        ),
        (
            apply("x"),
            CartError::invalid("code", "must be 3 to 32 letters, digits, '-' or '_'"),
        ),
    ];
    for (command, expected) in cases {
        framework()
            .given(vec![created()])
            .when_async(command)
            .await
            .then_expect_error(expected);
    }
}

#[tokio::test]
async fn remove_coupon() {
    let remove = CartCommand::RemoveCoupon { now: at(30) };
    framework()
        .given(vec![created(), coupon_applied(save10(), 10)])
        .when_async(remove.clone())
        .await
        .then_expect_events(vec![CartEvent::CartCouponRemoved {
            code: "SAVE10".into(),
            expires_at: at(150),
        }]);
    framework()
        .given(vec![created()])
        .when_async(remove)
        .await
        .then_expect_error(CartError::NoCoupon);
}

#[tokio::test]
async fn activity_keeps_a_cart_alive() {
    // Created at 0 (expires 120); an item at 100 slides expiry to 220.
    framework()
        .given(vec![created(), added("CAP", 1, 1_000, 100)])
        .when_async(add("CAP", 1, 200))
        .await
        .then_expect_events(vec![CartEvent::CartItemAdded {
            sku: "CAP".into(),
            quantity: 1,
            line_quantity: 2,
            price: snapshot(1_000, 200),
            expires_at: at(320),
        }]);
}

#[tokio::test]
async fn a_change_whose_totals_would_not_fit_the_currency_is_refused() {
    let half = i64::MAX / 2;
    let framework = || framework_with(FakePricing::with(&[("HUGE", half), ("HUGE-2", half)]));
    // Two units fit (i64::MAX − 1 minor units); a third does not, as a line or as the cart.
    framework()
        .given(vec![created()])
        .when_async(add("HUGE", 2, 1))
        .await
        .then_expect_events(vec![CartEvent::CartItemAdded {
            sku: "HUGE".into(),
            quantity: 2,
            line_quantity: 2,
            price: snapshot(half, 1),
            expires_at: at(121),
        }]);
    let full = vec![created(), added("HUGE", 2, half, 1)];
    for command in [
        add("HUGE", 1, 2),
        add("HUGE-2", 1, 2),
        CartCommand::ChangeItemQuantity {
            sku: "HUGE".into(),
            quantity: 3,
            now: at(2),
        },
    ] {
        let error = framework()
            .given(full.clone())
            .when_async(command.clone())
            .await
            .inspect_result()
            .expect_err("overflow");
        assert_eq!(error.field(), Some("quantity"), "{command:?}: {error}");
        assert_eq!(error.kind(), DomainErrorKind::InvalidArgument);
    }
}
