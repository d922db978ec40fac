//! The commands and raw events the cart read-model tests write: a history that makes every
//! cart event type with the longest and most varied values the domain accepts, and event
//! payloads for histories the domain would never write.

use chrono::{DateTime, TimeDelta, Utc};
use shopcore_domain::cart::{session_token_hash, CartCommand, CartEvent, MergeSource, NewCart};
use shopcore_domain::money::{Currency, Money, Percent};
use shopcore_domain::pricing::Discount;
use uuid::Uuid;

use super::CartWriter;

/// The longest SKU the domain accepts (64 characters), of every character class it allows.
pub fn longest_sku() -> String {
    let sku: String = "Zz09-_.".chars().cycle().take(64).collect();
    assert_eq!(sku.len(), shopcore_domain::catalog::values::MAX_SKU_CHARS);
    sku
}

/// The longest coupon code (32 characters after normalisation).
pub const LONGEST_CODE: &str = "SAVE_10-ZZZZZZZZZZZZZZZZZZZZZZZZ";

pub fn new_cart(id: Uuid, token: &str, customer: Option<Uuid>, now: DateTime<Utc>) -> CartCommand {
    CartCommand::CreateCart(NewCart {
        cart_id: id,
        session_token: token.into(),
        customer_id: customer,
        currency: Currency::EUR,
        channel: Some("web".into()),
        region: Some("EU".into()),
        now,
    })
}

pub fn add(sku: &str, quantity: u32, now: DateTime<Utc>) -> CartCommand {
    CartCommand::AddItem {
        sku: sku.into(),
        quantity,
        now,
    }
}

pub fn minutes(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

pub fn percent(text: &str) -> Discount {
    Discount::PercentOff {
        percent: Percent::parse(text).expect("percent"),
    }
}

/// Carts that between them make every event type, with the longest and most varied values the
/// domain accepts. Returns (anonymous checked-out cart, max-quantity cart, customer's cart,
/// merged cart, assigned cart, expired cart, cart past its expiry).
pub async fn write_every_event_type(
    writer: &CartWriter,
    base: DateTime<Utc>,
) -> anyhow::Result<[Uuid; 7]> {
    let ids = [(); 7].map(|_| Uuid::now_v7());
    let [checked_out, max_quantity, customers, merged, assigned, expired, past_expiry] = ids;
    let sku = longest_sku();
    let promotion = Uuid::now_v7();
    writer.coupons.set(LONGEST_CODE, promotion, percent("12.5"));
    writer.coupons.set(
        "FIVE-OFF",
        promotion,
        Discount::AmountOff {
            amount: Money::new(500, Currency::EUR),
        },
    );

    // Unicode channel and region at the 64-character limit (4-byte and combining characters).
    writer
        .run(
            checked_out,
            CartCommand::CreateCart(NewCart {
                cart_id: checked_out,
                session_token: "séssion-🛒-A".into(),
                customer_id: None,
                currency: Currency::EUR,
                channel: Some("𝔘".repeat(64)),
                region: Some(format!("  {}  ", "e\u{301}".repeat(32))),
                now: base,
            }),
        )
        .await?;
    for command in [
        add(&sku, 3, base + minutes(1)),
        add("sku-a", 1, base + minutes(2)),
        add("SKU-A", 2, base + minutes(3)),
        // 13 units: the volume rule applies.
        add("sku-a", 12, base + minutes(4)),
        CartCommand::ChangeItemQuantity {
            sku: "SKU-A".into(),
            quantity: 5,
            now: base + minutes(5),
        },
        CartCommand::ApplyCoupon {
            code: format!("  {}  ", LONGEST_CODE.to_lowercase()),
            now: base + minutes(6),
        },
        CartCommand::RemoveItem {
            sku: "sku-a".into(),
            now: base + minutes(7),
        },
        CartCommand::ApplyCoupon {
            code: "five-off".into(),
            now: base + minutes(8),
        },
        CartCommand::RemoveCoupon {
            now: base + minutes(9),
        },
        CartCommand::ApplyCoupon {
            code: LONGEST_CODE.into(),
            now: base + minutes(10),
        },
    ] {
        writer.run(checked_out, command).await?;
    }
    // At checkout the price moved and the promotion gives more than when it was applied.
    writer.pricing.set(&sku, Money::new(2_345, Currency::EUR));
    writer.coupons.set(LONGEST_CODE, promotion, percent("20"));
    writer
        .run(
            checked_out,
            CartCommand::Checkout {
                now: base + minutes(11),
                accept_price_changes: true,
            },
        )
        .await?;
    writer.coupons.set(LONGEST_CODE, promotion, percent("12.5"));

    // The largest line the domain takes: u32::MAX units at a price that keeps it in an i64.
    writer
        .pricing
        .set("BIG", Money::new(2_147_483_647, Currency::EUR));
    writer
        .run(
            max_quantity,
            new_cart(max_quantity, "session-B", Some(Uuid::now_v7()), base),
        )
        .await?;
    writer.run(max_quantity, add("BIG", u32::MAX, base)).await?;
    writer
        .run(
            max_quantity,
            CartCommand::ApplyCoupon {
                code: LONGEST_CODE.into(),
                now: base,
            },
        )
        .await?;

    // A signed-in customer's cart takes an anonymous cart's lines and coupon at sign-in.
    let customer = Uuid::now_v7();
    writer
        .run(
            customers,
            new_cart(customers, "session-D", Some(customer), base),
        )
        .await?;
    writer.run(customers, add("D-1", 2, base)).await?;
    writer
        .run(merged, new_cart(merged, "session-E", None, base))
        .await?;
    writer.run(merged, add("D-1", 1, base)).await?;
    writer.run(merged, add("E-1", 4, base)).await?;
    writer
        .run(
            merged,
            CartCommand::ApplyCoupon {
                code: "FIVE-OFF".into(),
                now: base,
            },
        )
        .await?;
    let (source, _) = writer.load(merged).await?;
    writer
        .run(
            customers,
            CartCommand::MergeFrom {
                source: MergeSource {
                    cart_id: merged,
                    lines: source
                        .lines
                        .iter()
                        .map(|(sku, line)| (sku.clone(), line.quantity))
                        .collect(),
                    coupon: source.coupon.map(|c| c.code),
                },
                now: base + minutes(1),
            },
        )
        .await?;
    writer
        .run(
            merged,
            CartCommand::MarkMerged {
                into_cart_id: customers,
                now: base + minutes(1),
            },
        )
        .await?;

    // An anonymous cart given to the customer who signed in.
    writer
        .run(assigned, new_cart(assigned, "session-F", None, base))
        .await?;
    writer.run(assigned, add("F-1", 1, base)).await?;
    writer
        .run(
            assigned,
            CartCommand::AssignCustomer {
                customer_id: Uuid::now_v7(),
                now: base + minutes(2),
            },
        )
        .await?;

    // Expired by the sweep, and expired without its event yet.
    let long_ago = base - TimeDelta::hours(3);
    writer
        .run(expired, new_cart(expired, "session-G", None, long_ago))
        .await?;
    writer.run(expired, add("G-1", 1, long_ago)).await?;
    writer
        .run(expired, CartCommand::Expire { now: base })
        .await?;
    writer
        .run(
            past_expiry,
            new_cart(past_expiry, "session-H", None, long_ago),
        )
        .await?;
    writer.run(past_expiry, add("H-1", 1, long_ago)).await?;
    Ok(ids)
}

pub fn created(id: Uuid) -> serde_json::Value {
    serde_json::to_value(CartEvent::CartCreated {
        cart_id: id,
        session_token_hash: session_token_hash("poison"),
        customer_id: None,
        currency: Currency::EUR,
        channel: None,
        region: None,
        created_at: Utc::now(),
        expires_at: Utc::now() + TimeDelta::hours(1),
    })
    .expect("serialisable")
}

pub fn item_added(sku: &str) -> serde_json::Value {
    serde_json::to_value(CartEvent::CartItemAdded {
        sku: sku.into(),
        quantity: 1,
        line_quantity: 1,
        price: shopcore_domain::cart::PriceSnapshot {
            unit_price: Money::new(100, Currency::EUR),
            list_price: Money::new(100, Currency::EUR),
            applied_rules: Vec::new(),
            priced_at: Utc::now(),
        },
        expires_at: Utc::now() + TimeDelta::hours(1),
    })
    .expect("serialisable")
}
