//! Sign-in: assigning an anonymous cart to the customer, merging it into the customer's cart
//! (the rule in `cart::merge`), and closing it.

use super::*;

const ANONYMOUS: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_00c5);

fn anonymous_created() -> CartEvent {
    CartEvent::CartCreated {
        cart_id: CART,
        session_token_hash: session_token_hash("guest"),
        customer_id: None,
        currency: Currency::USD,
        channel: None,
        region: None,
        created_at: at(0),
        expires_at: at(120),
    }
}

fn merge(lines: &[(&str, u32)], coupon: Option<&str>, minute: i64) -> CartCommand {
    CartCommand::MergeFrom {
        source: MergeSource {
            cart_id: ANONYMOUS,
            lines: lines.iter().map(|(s, q)| (s.to_string(), *q)).collect(),
            coupon: coupon.map(str::to_owned),
        },
        now: at(minute),
    }
}

fn merged_line(sku: &str, quantity: u32, line_quantity: u32, unit: i64, minute: i64) -> MergedLine {
    MergedLine {
        sku: sku.into(),
        quantity,
        line_quantity,
        price: snapshot(unit, minute),
    }
}

#[tokio::test]
async fn an_anonymous_cart_is_assigned_once_and_never_to_a_second_customer() {
    let assign = |customer| CartCommand::AssignCustomer {
        customer_id: customer,
        now: at(10),
    };
    framework()
        .given(vec![anonymous_created()])
        .when_async(assign(CUSTOMER))
        .await
        .then_expect_events(vec![CartEvent::CartCustomerAssigned {
            customer_id: CUSTOMER,
            expires_at: at(130),
        }]);
    framework()
        .given(vec![created()])
        .when_async(assign(CUSTOMER))
        .await
        .then_expect_events(vec![]);
    framework()
        .given(vec![created()])
        .when_async(assign(Uuid::from_u128(7)))
        .await
        .then_expect_error(CartError::OtherCustomer);
}

#[tokio::test]
async fn merging_sums_quantities_capped_reprices_and_leaves_out_what_does_not_fit() {
    // The customer's cart holds CAP×2 and TEE-M×1 (limit: 3 lines, 20 per line). The guest's
    // CAP×19 is capped at 20, SOCKS×1 takes the last line, MUG×1 has no room.
    let given = vec![
        created(),
        added("CAP", 2, 1_000, 1),
        added("TEE-M", 1, 1_999, 1),
    ];
    framework()
        .given(given.clone())
        .when_async(merge(&[("CAP", 19), ("SOCKS", 1), ("MUG", 1)], None, 30))
        .await
        .then_expect_events(vec![CartEvent::CartLinesMerged {
            from_cart_id: ANONYMOUS,
            // 20 CAP: the fake's 10 % off from 10 units.
            lines: vec![
                MergedLine {
                    price: PriceSnapshot {
                        unit_price: usd(900),
                        list_price: usd(1_000),
                        applied_rules: vec![RULE],
                        priced_at: at(30),
                    },
                    ..merged_line("CAP", 18, 20, 0, 30)
                },
                merged_line("SOCKS", 1, 1, 333, 30),
            ],
            left_out: vec!["MUG".into()],
            coupon: None,
            expires_at: at(150),
        }]);
}

#[tokio::test]
async fn a_merge_repeated_after_a_crash_adds_nothing_twice() {
    let merged = CartEvent::CartLinesMerged {
        from_cart_id: ANONYMOUS,
        lines: vec![merged_line("SOCKS", 1, 1, 333, 30)],
        left_out: vec![],
        coupon: None,
        expires_at: at(150),
    };
    framework()
        .given(vec![created(), merged])
        .when_async(merge(&[("SOCKS", 1)], Some("SAVE10"), 31))
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn the_guest_coupon_is_carried_only_when_the_customer_has_none_and_it_applies() {
    framework()
        .given(vec![created()])
        .when_async(merge(&[("SOCKS", 1)], Some("SAVE10"), 30))
        .await
        .then_expect_events(vec![CartEvent::CartLinesMerged {
            from_cart_id: ANONYMOUS,
            lines: vec![merged_line("SOCKS", 1, 1, 333, 30)],
            left_out: vec![],
            coupon: Some(save10()),
            expires_at: at(150),
        }]);
    // The customer's own coupon stays.
    framework()
        .given(vec![created(), coupon_applied(five_off(), 5)])
        .when_async(merge(&[("SOCKS", 1)], Some("SAVE10"), 30))
        .await
        .then_expect_events(vec![CartEvent::CartLinesMerged {
            from_cart_id: ANONYMOUS,
            lines: vec![merged_line("SOCKS", 1, 1, 333, 30)],
            left_out: vec![],
            coupon: None,
            expires_at: at(150),
        }]);
    // One that no longer applies is dropped; the lines still merge.
    framework()
        .given(vec![created()])
        .when_async(merge(&[("SOCKS", 1)], Some("ENDED"), 30))
        .await
        .then_expect_events(vec![CartEvent::CartLinesMerged {
            from_cart_id: ANONYMOUS,
            lines: vec![merged_line("SOCKS", 1, 1, 333, 30)],
            left_out: vec![],
            coupon: None,
            expires_at: at(150),
        }]);
}

#[tokio::test]
async fn a_merged_cart_is_closed_and_says_where_it_went() {
    let mark = |into| CartCommand::MarkMerged {
        into_cart_id: into,
        now: at(40),
    };
    let closed = CartEvent::CartMerged {
        into_cart_id: ANONYMOUS,
        merged_at: at(40),
    };
    framework()
        .given(vec![anonymous_created(), added("SOCKS", 1, 333, 5)])
        .when_async(mark(ANONYMOUS))
        .await
        .then_expect_events(vec![closed.clone()]);
    framework()
        .given(vec![anonymous_created(), closed.clone()])
        .when_async(mark(ANONYMOUS))
        .await
        .then_expect_events(vec![]);
    framework()
        .given(vec![anonymous_created(), closed])
        .when_async(CartCommand::AddItem {
            sku: "CAP".into(),
            quantity: 1,
            now: at(41),
        })
        .await
        .then_expect_error(CartError::Merged);
    framework()
        .given(vec![anonymous_created()])
        .when_async(mark(CART))
        .await
        .then_expect_error(CartError::invalid(
            "intoCartId",
            "a cart cannot be merged into itself",
        ));
}
