//! Every cart event encodes to its schema, with the values it carries.

mod support;

use apache_avro::types::Value;
use chrono::{Duration, TimeZone, Utc};
use shopcore_domain::cart::{
    AppliedCoupon, CartEvent, CheckedOutLine, MergedLine, PriceChange, PriceSnapshot,
};
use shopcore_domain::money::{Currency, Money, Percent};
use shopcore_domain::pricing::Discount;
use support::{field, items, null, s, some};
use uuid::Uuid;

fn money(amount: i64) -> Value {
    Value::Record(vec![
        ("amountMinor".into(), Value::Long(amount)),
        ("currency".into(), s("EUR")),
    ])
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

#[test]
fn every_cart_event_round_trips_through_its_topic_schemas() {
    let cart = Uuid::now_v7();
    let customer = Uuid::now_v7();
    let promotion = Uuid::now_v7();
    let rule = Uuid::now_v7();
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
    let expires = now + Duration::days(7);
    let snapshot = |unit: i64, list: i64, rules: Vec<Uuid>| PriceSnapshot {
        unit_price: eur(unit),
        list_price: eur(list),
        applied_rules: rules,
        priced_at: now,
    };
    let ten_percent = AppliedCoupon {
        code: "WELCOME10".into(),
        promotion_id: promotion,
        discount: Discount::PercentOff {
            percent: Percent::from_basis_points(1000).unwrap(),
        },
    };
    let ten_percent_again = ten_percent.clone();
    let events = vec![
        CartEvent::CartCreated {
            cart_id: cart,
            session_token_hash: shopcore_domain::cart::session_token_hash("sess-secret"),
            customer_id: None,
            currency: Currency::EUR,
            channel: Some("web".into()),
            region: None,
            created_at: now,
            expires_at: expires,
        },
        CartEvent::CartItemAdded {
            sku: "TEE-RED-M".into(),
            quantity: 2,
            line_quantity: 3,
            price: snapshot(1800, 2000, vec![rule]),
            expires_at: expires,
        },
        CartEvent::CartItemQuantityChanged {
            sku: "TEE-RED-M".into(),
            quantity: 1,
            previous_quantity: 3,
            price: snapshot(2000, 2000, vec![]),
            expires_at: expires,
        },
        CartEvent::CartItemRemoved {
            sku: "MUG-1".into(),
            expires_at: expires,
        },
        CartEvent::CartCouponApplied {
            coupon: AppliedCoupon {
                code: "FIVEOFF".into(),
                promotion_id: promotion,
                discount: Discount::AmountOff { amount: eur(500) },
            },
            replaced: None,
            expires_at: expires,
        },
        CartEvent::CartCouponApplied {
            coupon: ten_percent.clone(),
            replaced: Some("FIVEOFF".into()),
            expires_at: expires,
        },
        CartEvent::CartCouponRemoved {
            code: "WELCOME10".into(),
            expires_at: expires,
        },
        CartEvent::CartCheckedOut {
            cart_id: cart,
            customer_id: Some(customer),
            lines: vec![
                CheckedOutLine {
                    sku: "CAP-1".into(),
                    quantity: 1,
                    unit_price: eur(1000),
                    list_price: eur(1000),
                    applied_rules: vec![],
                    line_total: eur(1000),
                    discount: eur(100),
                    total: eur(900),
                },
                CheckedOutLine {
                    sku: "TEE-RED-M".into(),
                    quantity: 3,
                    unit_price: eur(1800),
                    list_price: eur(2000),
                    applied_rules: vec![rule],
                    line_total: eur(5400),
                    discount: eur(540),
                    total: eur(4860),
                },
            ],
            price_changes: vec![PriceChange {
                sku: "TEE-RED-M".into(),
                previous_unit_price: eur(2000),
                unit_price: eur(1800),
            }],
            coupon: Some(ten_percent),
            subtotal: eur(6400),
            discount: eur(640),
            total: eur(5760),
            checked_out_at: now,
        },
        CartEvent::CartCheckedOut {
            cart_id: cart,
            customer_id: None,
            lines: vec![],
            price_changes: vec![],
            coupon: None,
            subtotal: eur(0),
            discount: eur(0),
            total: eur(0),
            checked_out_at: now,
        },
        CartEvent::CartExpired {
            expired_at: expires,
        },
        CartEvent::CartCustomerAssigned {
            customer_id: customer,
            expires_at: expires,
        },
        CartEvent::CartLinesMerged {
            from_cart_id: promotion,
            lines: vec![MergedLine {
                sku: "TEE-RED-M".into(),
                quantity: 1,
                line_quantity: 4,
                price: snapshot(1800, 2000, vec![rule]),
            }],
            left_out: vec!["MUG".into()],
            coupon: Some(ten_percent_again.clone()),
            expires_at: expires,
        },
        CartEvent::CartMerged {
            into_cart_id: customer,
            merged_at: now,
        },
    ];
    let decoded = support::round_trip("cart", &cart.to_string(), CartEvent::EVENT_TYPES, &events);

    let created = &decoded[0];
    assert_eq!(created.topic, "cart.updated");
    assert_eq!(created.get("cartId"), &Value::Uuid(cart));
    assert_eq!(created.get("customerId"), &null(), "guest cart");
    assert_eq!(created.get("currency"), &s("EUR"));
    assert_eq!(created.get("channel"), &some(s("web")));
    assert_eq!(created.get("region"), &null());
    assert_eq!(
        created.get("expiresAt"),
        &Value::TimestampMicros(expires.timestamp_micros())
    );
    assert!(
        created.fields.iter().all(|(_, v)| *v != s("sess-secret")),
        "the session token is not published"
    );

    let added = &decoded[1];
    assert_eq!(added.topic, "cart.item.added");
    assert_eq!(added.get("quantity"), &Value::Long(2));
    assert_eq!(added.get("lineQuantity"), &Value::Long(3));
    let price = added.get("price");
    assert_eq!(field(price, "unitPrice"), &money(1800));
    assert_eq!(field(price, "listPrice"), &money(2000));
    assert_eq!(
        field(price, "appliedRules"),
        &Value::Array(vec![Value::Uuid(rule)])
    );
    assert_eq!(
        field(price, "pricedAt"),
        &Value::TimestampMicros(now.timestamp_micros())
    );

    let changed = &decoded[2];
    assert_eq!(changed.topic, "cart.updated");
    assert_eq!(changed.get("previousQuantity"), &Value::Long(3));
    assert_eq!(
        field(changed.get("price"), "appliedRules"),
        &Value::Array(vec![])
    );

    let amount_coupon = decoded[4].get("coupon");
    assert_eq!(field(amount_coupon, "code"), &s("FIVEOFF"));
    assert_eq!(field(amount_coupon, "promotionId"), &Value::Uuid(promotion));
    let discount = field(amount_coupon, "discount");
    assert_eq!(
        field(discount, "kind"),
        &Value::Enum(1, "AMOUNT_OFF".into())
    );
    assert_eq!(field(discount, "amount"), &some(money(500)));
    assert_eq!(decoded[4].get("replaced"), &null());
    assert_eq!(decoded[5].get("replaced"), &some(s("FIVEOFF")));

    let checked_out = &decoded[7];
    assert_eq!(checked_out.topic, "cart.checkedout");
    assert_eq!(checked_out.get("customerId"), &some(Value::Uuid(customer)));
    assert_eq!(checked_out.get("subtotal"), &money(6400));
    assert_eq!(checked_out.get("discount"), &money(640));
    assert_eq!(checked_out.get("total"), &money(5760));
    let lines = items(checked_out.get("lines"));
    assert_eq!(lines.len(), 2);
    let tee = &lines[1];
    assert_eq!(field(tee, "sku"), &s("TEE-RED-M"));
    assert_eq!(field(tee, "quantity"), &Value::Long(3));
    assert_eq!(field(tee, "lineTotal"), &money(5400));
    assert_eq!(field(tee, "discount"), &money(540));
    assert_eq!(field(tee, "total"), &money(4860));
    assert_eq!(
        field(tee, "appliedRules"),
        &Value::Array(vec![Value::Uuid(rule)])
    );
    let change = &items(checked_out.get("priceChanges"))[0];
    assert_eq!(field(change, "previousUnitPrice"), &money(2000));
    assert_eq!(field(change, "unitPrice"), &money(1800));
    let coupon = checked_out.get("coupon");
    assert_eq!(field(coupon, "code"), &s("WELCOME10"));
    assert_eq!(
        field(field(coupon, "discount"), "percentBasisPoints"),
        &some(Value::Int(1000))
    );

    let bare = &decoded[8];
    assert_eq!(bare.get("coupon"), &null());
    assert_eq!(bare.get("customerId"), &null());
    assert_eq!(bare.get("lines"), &Value::Array(vec![]));

    assert_eq!(decoded[9].record, "CartExpired");

    let assigned = &decoded[10];
    assert_eq!(assigned.topic, "cart.updated");
    assert_eq!(assigned.get("customerId"), &Value::Uuid(customer));
    let merged = &decoded[11];
    assert_eq!(merged.get("fromCartId"), &Value::Uuid(promotion));
    let line = &items(merged.get("lines"))[0];
    assert_eq!(field(line, "lineQuantity"), &Value::Long(4));
    assert_eq!(field(field(line, "price"), "unitPrice"), &money(1800));
    assert_eq!(merged.get("leftOut"), &Value::Array(vec![s("MUG")]));
    assert_eq!(field(merged.get("coupon"), "code"), &s("WELCOME10"));
    assert_eq!(decoded[12].get("intoCartId"), &Value::Uuid(customer));
}
