//! Checkout (re-pricing, price changes, coupon re-check, exact discount allocation), expiry,
//! the closed-cart rules, totals properties and the serde round trip of every event.

use proptest::prelude::*;

use super::*;
use crate::cart::checkout::compute_totals;

fn checkout(minute: i64) -> CartCommand {
    CartCommand::Checkout {
        now: at(minute),
        accept_price_changes: true,
    }
}

fn line(sku: &str, quantity: u32, unit: i64, discount: i64) -> CheckedOutLine {
    let line_total = unit * i64::from(quantity);
    CheckedOutLine {
        sku: sku.into(),
        quantity,
        unit_price: usd(unit),
        list_price: usd(unit),
        applied_rules: vec![],
        line_total: usd(line_total),
        discount: usd(discount),
        total: usd(line_total - discount),
    }
}

#[tokio::test]
async fn checkout_reprices_and_reports_changed_prices() {
    // SOCKS was added at 3.00 and is 3.33 now; CAP is unchanged.
    let given = vec![
        created(),
        added("CAP", 1, 1_000, 5),
        added("SOCKS", 3, 300, 5),
        coupon_applied(save10(), 6),
    ];
    // Subtotal 10.00 + 9.99 = 19.99; 10 % = 1.999 → 2.00 (half-even); split 1000:999 → 1.00 / 1.00.
    framework()
        .given(given)
        .when_async(checkout(30))
        .await
        .then_expect_events(vec![CartEvent::CartCheckedOut {
            cart_id: CART,
            customer_id: Some(CUSTOMER),
            lines: vec![line("CAP", 1, 1_000, 100), line("SOCKS", 3, 333, 100)],
            price_changes: vec![PriceChange {
                sku: "SOCKS".into(),
                previous_unit_price: usd(300),
                unit_price: usd(333),
            }],
            coupon: Some(save10()),
            subtotal: usd(1_999),
            discount: usd(200),
            total: usd(1_799),
            checked_out_at: at(30),
        }]);
}

#[tokio::test]
async fn changed_prices_refuse_checkout_unless_accepted() {
    let given = vec![
        created(),
        added("CAP", 1, 1_000, 5),
        added("SOCKS", 3, 300, 5),
    ];
    framework()
        .given(given)
        .when_async(CartCommand::Checkout {
            now: at(30),
            accept_price_changes: false,
        })
        .await
        .then_expect_error(CartError::PricesChanged {
            changes: vec![PriceChange {
                sku: "SOCKS".into(),
                previous_unit_price: usd(300),
                unit_price: usd(333),
            }],
        });
    // Unchanged prices need no acceptance.
    framework()
        .given(vec![created(), added("CAP", 1, 1_000, 5)])
        .when_async(CartCommand::Checkout {
            now: at(30),
            accept_price_changes: false,
        })
        .await
        .then_expect_events(vec![CartEvent::CartCheckedOut {
            cart_id: CART,
            customer_id: Some(CUSTOMER),
            lines: vec![line("CAP", 1, 1_000, 0)],
            price_changes: vec![],
            coupon: None,
            subtotal: usd(1_000),
            discount: usd(0),
            total: usd(1_000),
            checked_out_at: at(30),
        }]);
}

#[tokio::test]
async fn an_amount_off_is_allocated_exactly_and_capped_at_the_subtotal() {
    let given = vec![
        created(),
        added("SOCKS", 1, 333, 5),
        added("CAP", 2, 1_000, 5),
        coupon_applied(five_off(), 6),
    ];
    framework()
        .given(given)
        .when_async(checkout(30))
        .await
        .then_expect_events(vec![CartEvent::CartCheckedOut {
            cart_id: CART,
            customer_id: Some(CUSTOMER),
            // 5.00 over 20.00 : 3.33 → 4.2845… and 0.7155… → 4.29 + 0.71.
            lines: vec![line("CAP", 2, 1_000, 429), line("SOCKS", 1, 333, 71)],
            price_changes: vec![],
            coupon: Some(five_off()),
            subtotal: usd(2_333),
            discount: usd(500),
            total: usd(1_833),
            checked_out_at: at(30),
        }]);
    let cheap = vec![
        created(),
        added("SOCKS", 1, 333, 5),
        coupon_applied(five_off(), 6),
    ];
    let result = framework()
        .given(cheap)
        .when_async(checkout(30))
        .await
        .inspect_result()
        .expect("checked out");
    assert!(
        matches!(&result[..], [CartEvent::CartCheckedOut { discount, total, .. }] if *discount == usd(333) && *total == usd(0))
    );
}

#[tokio::test]
async fn checkout_rejections() {
    let cases = vec![
        (vec![created()], CartError::EmptyCart),
        (vec![], CartError::NotCreated),
        (
            vec![
                created(),
                added("CAP", 1, 1_000, 5),
                coupon_applied(
                    AppliedCoupon {
                        code: "ENDED".into(),
                        ..save10()
                    },
                    6,
                ),
            ],
            CartError::CouponNotApplicable {
                code: "ENDED".into(),
                reason: "promotion has ended".into(),
            },
        ),
        (
            vec![created(), added("GONE", 1, 1_000, 5)],
            CartError::NotForSale("GONE".into()),
        ),
        (
            vec![created(), added("CAP", 1, 1_000, 5)],
            CartError::Expired,
        ),
    ];
    for (index, (given, expected)) in cases.into_iter().enumerate() {
        let minute = if index == 4 { 125 } else { 30 };
        framework()
            .given(given)
            .when_async(checkout(minute))
            .await
            .then_expect_error(expected);
    }
}

#[tokio::test]
async fn nothing_changes_after_checkout() {
    let done = vec![
        created(),
        added("CAP", 1, 1_000, 5),
        CartEvent::CartCheckedOut {
            cart_id: CART,
            customer_id: Some(CUSTOMER),
            lines: vec![line("CAP", 1, 1_000, 0)],
            price_changes: vec![],
            coupon: None,
            subtotal: usd(1_000),
            discount: usd(0),
            total: usd(1_000),
            checked_out_at: at(10),
        },
    ];
    let commands = vec![
        CartCommand::AddItem {
            sku: "CAP".into(),
            quantity: 1,
            now: at(11),
        },
        CartCommand::ChangeItemQuantity {
            sku: "CAP".into(),
            quantity: 2,
            now: at(11),
        },
        CartCommand::RemoveItem {
            sku: "CAP".into(),
            now: at(11),
        },
        CartCommand::ApplyCoupon {
            code: "SAVE10".into(),
            now: at(11),
        },
        CartCommand::RemoveCoupon { now: at(11) },
        checkout(11),
        CartCommand::Expire { now: at(500) },
    ];
    for command in commands {
        framework()
            .given(done.clone())
            .when_async(command)
            .await
            .then_expect_error(CartError::CheckedOut);
    }
}

#[tokio::test]
async fn expire() {
    let expire = |minute| CartCommand::Expire { now: at(minute) };
    framework()
        .given(vec![created(), added("CAP", 1, 1_000, 60)])
        .when_async(expire(180))
        .await
        .then_expect_events(vec![CartEvent::CartExpired {
            expired_at: at(180),
        }]);
    framework()
        .given(vec![created(), added("CAP", 1, 1_000, 60)])
        .when_async(expire(179))
        .await
        .then_expect_error(CartError::NotYetExpired);
    let expired = vec![
        created(),
        CartEvent::CartExpired {
            expired_at: at(120),
        },
    ];
    framework()
        .given(expired.clone())
        .when_async(expire(130))
        .await
        .then_expect_events(vec![]);
    framework()
        .given(expired.clone())
        .when_async(checkout(130))
        .await
        .then_expect_error(CartError::Expired);
    framework()
        .given(expired)
        .when_async(CartCommand::RemoveCoupon { now: at(1) })
        .await
        .then_expect_error(CartError::Expired);
    framework()
        .given_no_previous_events()
        .when_async(expire(1))
        .await
        .then_expect_error(CartError::NotCreated);
}

#[test]
fn cart_totals_follow_the_stored_prices_and_coupon() {
    let mut cart = Cart::default();
    for event in [
        created(),
        added("CAP", 2, 1_000, 5),
        added("SOCKS", 1, 333, 5),
        coupon_applied(save10(), 6),
    ] {
        cqrs_es::Aggregate::apply(&mut cart, event);
    }
    let totals = cart.totals().expect("totals");
    assert_eq!(
        (totals.subtotal, totals.discount, totals.total),
        (usd(2_333), usd(233), usd(2_100))
    );
    let json = serde_json::to_string(&cart).expect("snapshot");
    assert_eq!(serde_json::from_str::<Cart>(&json).expect("parse"), cart);
}

#[test]
fn every_cart_event_round_trips_with_a_stable_name() {
    let events = vec![
        created(),
        CartEvent::CartItemAdded {
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
        },
        CartEvent::CartItemQuantityChanged {
            sku: "TEE-M".into(),
            quantity: 3,
            previous_quantity: 2,
            price: snapshot(1_999, 30),
            expires_at: at(150),
        },
        CartEvent::CartItemRemoved {
            sku: "TEE-M".into(),
            expires_at: at(150),
        },
        CartEvent::CartCouponApplied {
            coupon: five_off(),
            replaced: Some("SAVE10".into()),
            expires_at: at(150),
        },
        CartEvent::CartCouponRemoved {
            code: "FIVE".into(),
            expires_at: at(150),
        },
        CartEvent::CartCheckedOut {
            cart_id: CART,
            customer_id: None,
            lines: vec![line("CAP", 1, 1_000, 100)],
            price_changes: vec![PriceChange {
                sku: "CAP".into(),
                previous_unit_price: usd(900),
                unit_price: usd(1_000),
            }],
            coupon: Some(save10()),
            subtotal: usd(1_000),
            discount: usd(100),
            total: usd(900),
            checked_out_at: at(30),
        },
        CartEvent::CartExpired {
            expired_at: at(200),
        },
        CartEvent::CartCustomerAssigned {
            customer_id: CUSTOMER,
            expires_at: at(210),
        },
        CartEvent::CartLinesMerged {
            from_cart_id: PROMOTION,
            lines: vec![MergedLine {
                sku: "CAP".into(),
                quantity: 1,
                line_quantity: 2,
                price: snapshot(1_000, 30),
            }],
            left_out: vec!["MUG".into()],
            coupon: Some(save10()),
            expires_at: at(210),
        },
        CartEvent::CartMerged {
            into_cart_id: PROMOTION,
            merged_at: at(220),
        },
    ];
    let names: Vec<String> = events
        .iter()
        .map(cqrs_es::DomainEvent::event_type)
        .collect();
    assert_eq!(names, CartEvent::EVENT_TYPES);
    for event in events {
        let json = serde_json::to_value(&event).expect("serialise");
        assert!(
            json.get(cqrs_es::DomainEvent::event_type(&event)).is_some(),
            "{json}"
        );
        assert_eq!(
            serde_json::from_value::<CartEvent>(json).expect("parse"),
            event
        );
        assert_eq!(cqrs_es::DomainEvent::event_version(&event), "1");
    }
    let json = serde_json::to_value(added("CAP", 1, 1_000, 5)).expect("serialise");
    assert_eq!(
        json["CartItemAdded"]["price"]["unitPrice"],
        serde_json::json!({"amount": 1000, "currency": "USD"})
    );
}

proptest! {
    #[test]
    fn totals_are_exact_and_never_negative(
        lines in prop::collection::vec((1_u32..100, 0_i64..1_000_000), 1..20),
        percent in 1_u32..=10_000,
        amount in 1_i64..100_000_000,
        use_percent in any::<bool>(),
    ) {
        let skus: Vec<String> = (0..lines.len()).map(|i| format!("SKU-{i}")).collect();
        let discount = if use_percent {
            Discount::PercentOff { percent: Percent::from_basis_points(percent).expect("in range") }
        } else {
            Discount::AmountOff { amount: usd(amount) }
        };
        let input = skus.iter().zip(&lines).map(|(s, (q, p))| (s.as_str(), *q, usd(*p)));
        let totals = compute_totals(Currency::USD, input, Some(&discount)).expect("fits");
        let line_discounts = Money::sum(Currency::USD, totals.lines.iter().map(|l| &l.discount)).expect("fits");
        let line_totals = Money::sum(Currency::USD, totals.lines.iter().map(|l| &l.total)).expect("fits");
        prop_assert_eq!(line_discounts, totals.discount);
        prop_assert_eq!(line_totals, totals.total);
        prop_assert!(totals.discount.amount() <= totals.subtotal.amount());
        prop_assert!(totals.lines.iter().all(|l| !l.discount.is_negative() && !l.total.is_negative()));
    }
}
