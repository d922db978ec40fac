//! `shopcore.pricing` records: price books, price rules, promotions and currency rates.

use apache_avro::types::Value;
use shopcore_domain::money::Percent;
use shopcore_domain::pricing::{
    CurrencyRateEvent, Discount, PriceBookEvent, PriceRuleDefinition, PriceRuleEvent,
    PromotionEvent, RuleAction, RuleConditions, RuleTargets,
};

use super::{domain_event, money, timestamp, uuid_id, Record};
use crate::envelope::EventEnvelope;
use crate::error::EncodeError;

pub(super) fn to_record(event: &EventEnvelope<'_>) -> Result<Value, EncodeError> {
    match event.aggregate_type {
        "price_book" => price_book(event),
        "price_rule" => price_rule(event),
        "promotion" => promotion(event),
        "currency_rate" => currency_rate(event),
        _ => Err(EncodeError::Unmapped {
            event_id: event.event_id,
            event_type: event.event_type.into(),
            event_version: event.event_version.into(),
        }),
    }
}

fn price_book(event: &EventEnvelope<'_>) -> Result<Value, EncodeError> {
    let domain: PriceBookEvent = domain_event(event)?;
    let head = Record::event(event, "priceBookId", uuid_id(event)?);
    Ok(match domain {
        PriceBookEvent::PriceBookCreated {
            price_book_id: _,
            name,
            default_currency,
        } => head
            .string("name", name)
            .string("defaultCurrency", default_currency.code()),
        PriceBookEvent::BasePriceSet {
            sku,
            price,
            previous,
        } => head
            .string("sku", sku)
            .money("price", price)
            .optional("previous", previous.map(money)),
        PriceBookEvent::BasePriceRemoved {
            sku,
            currency,
            previous,
        } => head
            .string("sku", sku)
            .string("currency", currency.code())
            .money("previous", previous),
    }
    .build())
}

fn price_rule(event: &EventEnvelope<'_>) -> Result<Value, EncodeError> {
    let domain: PriceRuleEvent = domain_event(event)?;
    let head = Record::event(event, "ruleId", uuid_id(event)?);
    Ok(match domain {
        PriceRuleEvent::PriceRuleCreated {
            rule_id: _,
            definition,
            created_at,
        } => head
            .field("definition", rule_definition(definition))
            .timestamp("createdAt", created_at),
        PriceRuleEvent::PriceRuleUpdated {
            definition,
            updated_at,
        } => head
            .field("definition", rule_definition(definition))
            .timestamp("updatedAt", updated_at),
        PriceRuleEvent::PriceRuleRemoved { removed_at } => head.timestamp("removedAt", removed_at),
    }
    .build())
}

fn promotion(event: &EventEnvelope<'_>) -> Result<Value, EncodeError> {
    let domain: PromotionEvent = domain_event(event)?;
    let head = Record::event(event, "promotionId", uuid_id(event)?);
    Ok(match domain {
        PromotionEvent::PromotionCreated {
            promotion_id: _,
            name,
            discount,
            valid_from,
            valid_until,
            usage_limit_total,
            usage_limit_per_customer,
            coupon_codes,
        } => head
            .string("name", name)
            .field("discount", discount_record(discount))
            .timestamp("validFrom", valid_from)
            .timestamp("validUntil", valid_until)
            .optional(
                "usageLimitTotal",
                usage_limit_total.map(|n| Value::Long(n.into())),
            )
            .optional(
                "usageLimitPerCustomer",
                usage_limit_per_customer.map(|n| Value::Long(n.into())),
            )
            .strings("couponCodes", coupon_codes),
        PromotionEvent::PromotionCouponCodesAdded { codes } => head.strings("codes", codes),
        PromotionEvent::PromotionActivated {
            activated_at,
            discount,
            valid_from,
            valid_until,
        } => head
            .timestamp("activatedAt", activated_at)
            .field("discount", discount_record(discount))
            .timestamp("validFrom", valid_from)
            .timestamp("validUntil", valid_until),
        PromotionEvent::PromotionDeactivated { deactivated_at } => {
            head.timestamp("deactivatedAt", deactivated_at)
        }
        PromotionEvent::PromotionRedeemed {
            redemption_id,
            customer_id,
            coupon_code,
            redeemed_at,
        } => head
            .uuid("redemptionId", redemption_id)
            .optional("customerId", customer_id.map(Value::Uuid))
            .optional("couponCode", coupon_code.map(Value::String))
            .timestamp("redeemedAt", redeemed_at),
        PromotionEvent::PromotionChanged {
            name,
            discount,
            valid_from,
            valid_until,
            usage_limit_total,
            usage_limit_per_customer,
            changed_at,
        } => head
            .string("name", name)
            .field("discount", discount_record(discount))
            .timestamp("validFrom", valid_from)
            .timestamp("validUntil", valid_until)
            .optional(
                "usageLimitTotal",
                usage_limit_total.map(|n| Value::Long(n.into())),
            )
            .optional(
                "usageLimitPerCustomer",
                usage_limit_per_customer.map(|n| Value::Long(n.into())),
            )
            .timestamp("changedAt", changed_at),
        PromotionEvent::PromotionActivationScheduled { activate_at } => {
            head.timestamp("activateAt", activate_at)
        }
    }
    .build())
}

fn currency_rate(event: &EventEnvelope<'_>) -> Result<Value, EncodeError> {
    let domain: CurrencyRateEvent = domain_event(event)?;
    // The id of a pair is `BASE-QUOTE`, not a UUID.
    let head = Record::event(
        event,
        "currencyPair",
        Value::String(event.aggregate_id.to_owned()),
    );
    Ok(match domain {
        CurrencyRateEvent::FxRateChanged {
            base,
            quote,
            rate,
            previous_rate,
            source,
            changed_at,
        } => head
            .string("base", base.code())
            .string("quote", quote.code())
            .string("rate", rate.to_string())
            .optional(
                "previousRate",
                previous_rate.map(|r| Value::String(r.to_string())),
            )
            .string("source", source)
            .timestamp("changedAt", changed_at),
    }
    .build())
}

fn rule_definition(definition: PriceRuleDefinition) -> Value {
    let PriceRuleDefinition {
        name,
        targets: RuleTargets { skus, categories },
        priority,
        conditions:
            RuleConditions {
                customer_segments,
                channels,
                regions,
                currency,
                valid_from,
                valid_until,
                min_quantity,
            },
        action,
        exclusive,
    } = definition;
    let targets = Record::new()
        .strings("skus", skus)
        .strings("categories", categories)
        .build();
    let conditions = Record::new()
        .strings("customerSegments", customer_segments)
        .strings("channels", channels)
        .strings("regions", regions)
        .optional("currency", currency.map(|c| Value::String(c.code().into())))
        .optional("validFrom", valid_from.map(timestamp))
        .optional("validUntil", valid_until.map(timestamp))
        .optional("minQuantity", min_quantity.map(|n| Value::Long(n.into())))
        .build();
    Record::new()
        .string("name", name)
        .field("targets", targets)
        .int("priority", priority)
        .field("conditions", conditions)
        .field("action", rule_action(action))
        .boolean("exclusive", exclusive)
        .build()
}

/// `RuleAction`: a `kind` enum and the one field of that kind set, the others null.
fn rule_action(action: RuleAction) -> Value {
    let (kind, price, percent, amount) = match action {
        RuleAction::SetPrice { price } => ("SET_PRICE", Some(money(price)), None, None),
        RuleAction::PercentOff { percent } => {
            ("PERCENT_OFF", None, Some(basis_points(percent)), None)
        }
        RuleAction::AmountOff { amount } => ("AMOUNT_OFF", None, None, Some(money(amount))),
    };
    Record::new()
        .symbol("kind", kind)
        .optional("price", price)
        .optional("percentBasisPoints", percent)
        .optional("amount", amount)
        .build()
}

/// `Discount` (also in `shopcore.cart`): a `kind` enum and the one field of that kind set.
pub(super) fn discount_record(discount: Discount) -> Value {
    let (kind, percent, amount) = match discount {
        Discount::PercentOff { percent } => ("PERCENT_OFF", Some(basis_points(percent)), None),
        Discount::AmountOff { amount } => ("AMOUNT_OFF", None, Some(money(amount))),
    };
    Record::new()
        .symbol("kind", kind)
        .optional("percentBasisPoints", percent)
        .optional("amount", amount)
        .build()
}

/// A percentage as its basis points, an `int` (a `Percent` is at most 10 000).
fn basis_points(percent: Percent) -> Value {
    Value::Int(i32::try_from(percent.basis_points()).unwrap_or(i32::MAX))
}
