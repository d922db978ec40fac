//! `shopcore.cart` records.

use apache_avro::types::Value;
use shopcore_domain::cart::{
    AppliedCoupon, CartEvent, CheckedOutLine, MergedLine, PriceChange, PriceSnapshot,
};

use super::pricing::discount_record;
use super::{domain_event, timestamp, uuid_array, uuid_id, Record};
use crate::envelope::EventEnvelope;
use crate::error::EncodeError;

pub(super) fn to_record(event: &EventEnvelope<'_>) -> Result<Value, EncodeError> {
    let domain: CartEvent = domain_event(event)?;
    let head = Record::event(event, "cartId", uuid_id(event)?);
    Ok(match domain {
        CartEvent::CartCreated {
            cart_id: _,
            // A bearer value of the shopper's session: kept out of the published record.
            session_token_hash: _,
            customer_id,
            currency,
            channel,
            region,
            created_at,
            expires_at,
        } => head
            .optional("customerId", customer_id.map(Value::Uuid))
            .string("currency", currency.code())
            .optional("channel", channel.map(Value::String))
            .optional("region", region.map(Value::String))
            .timestamp("createdAt", created_at)
            .timestamp("expiresAt", expires_at),
        CartEvent::CartItemAdded {
            sku,
            quantity,
            line_quantity,
            price,
            expires_at,
        } => head
            .string("sku", sku)
            .long("quantity", quantity.into())
            .long("lineQuantity", line_quantity.into())
            .field("price", price_snapshot(price))
            .timestamp("expiresAt", expires_at),
        CartEvent::CartItemQuantityChanged {
            sku,
            quantity,
            previous_quantity,
            price,
            expires_at,
        } => head
            .string("sku", sku)
            .long("quantity", quantity.into())
            .long("previousQuantity", previous_quantity.into())
            .field("price", price_snapshot(price))
            .timestamp("expiresAt", expires_at),
        CartEvent::CartItemRemoved { sku, expires_at } => {
            head.string("sku", sku).timestamp("expiresAt", expires_at)
        }
        CartEvent::CartCouponApplied {
            coupon,
            replaced,
            expires_at,
        } => head
            .field("coupon", applied_coupon(coupon))
            .optional("replaced", replaced.map(Value::String))
            .timestamp("expiresAt", expires_at),
        CartEvent::CartCouponRemoved { code, expires_at } => {
            head.string("code", code).timestamp("expiresAt", expires_at)
        }
        CartEvent::CartCheckedOut {
            cart_id: _,
            customer_id,
            lines,
            price_changes,
            coupon,
            subtotal,
            discount,
            total,
            checked_out_at,
        } => head
            .optional("customerId", customer_id.map(Value::Uuid))
            .field(
                "lines",
                Value::Array(lines.into_iter().map(checked_out_line).collect()),
            )
            .field(
                "priceChanges",
                Value::Array(price_changes.into_iter().map(price_change).collect()),
            )
            .optional("coupon", coupon.map(applied_coupon))
            .money("subtotal", subtotal)
            .money("discount", discount)
            .money("total", total)
            .timestamp("checkedOutAt", checked_out_at),
        CartEvent::CartExpired { expired_at } => head.timestamp("expiredAt", expired_at),
        CartEvent::CartCustomerAssigned {
            customer_id,
            expires_at,
        } => head
            .uuid("customerId", customer_id)
            .timestamp("expiresAt", expires_at),
        CartEvent::CartLinesMerged {
            from_cart_id,
            lines,
            left_out,
            coupon,
            expires_at,
        } => head
            .uuid("fromCartId", from_cart_id)
            .field(
                "lines",
                Value::Array(lines.into_iter().map(merged_line).collect()),
            )
            .field(
                "leftOut",
                Value::Array(left_out.into_iter().map(Value::String).collect()),
            )
            .optional("coupon", coupon.map(applied_coupon))
            .timestamp("expiresAt", expires_at),
        CartEvent::CartMerged {
            into_cart_id,
            merged_at,
        } => head
            .uuid("intoCartId", into_cart_id)
            .timestamp("mergedAt", merged_at),
    }
    .build())
}

fn price_snapshot(price: PriceSnapshot) -> Value {
    let PriceSnapshot {
        unit_price,
        list_price,
        applied_rules,
        priced_at,
    } = price;
    Record::new()
        .money("unitPrice", unit_price)
        .money("listPrice", list_price)
        .field("appliedRules", uuid_array(applied_rules))
        .field("pricedAt", timestamp(priced_at))
        .build()
}

fn merged_line(line: MergedLine) -> Value {
    let MergedLine {
        sku,
        quantity,
        line_quantity,
        price,
    } = line;
    Record::new()
        .string("sku", sku)
        .long("quantity", quantity.into())
        .long("lineQuantity", line_quantity.into())
        .field("price", price_snapshot(price))
        .build()
}

fn applied_coupon(coupon: AppliedCoupon) -> Value {
    let AppliedCoupon {
        code,
        promotion_id,
        discount,
    } = coupon;
    Record::new()
        .string("code", code)
        .uuid("promotionId", promotion_id)
        .field("discount", discount_record(discount))
        .build()
}

fn checked_out_line(line: CheckedOutLine) -> Value {
    let CheckedOutLine {
        sku,
        quantity,
        unit_price,
        list_price,
        applied_rules,
        line_total,
        discount,
        total,
    } = line;
    Record::new()
        .string("sku", sku)
        .long("quantity", quantity.into())
        .money("unitPrice", unit_price)
        .money("listPrice", list_price)
        .field("appliedRules", uuid_array(applied_rules))
        .money("lineTotal", line_total)
        .money("discount", discount)
        .money("total", total)
        .build()
}

fn price_change(change: PriceChange) -> Value {
    let PriceChange {
        sku,
        previous_unit_price,
        unit_price,
    } = change;
    Record::new()
        .string("sku", sku)
        .money("previousUnitPrice", previous_unit_price)
        .money("unitPrice", unit_price)
        .build()
}
