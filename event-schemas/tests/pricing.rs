//! Every price book, price rule, promotion and currency rate event encodes to its schema, with
//! the values it carries.

mod support;

use std::collections::BTreeSet;

use apache_avro::types::Value;
use chrono::{TimeZone, Utc};
use shopcore_domain::money::{Currency, Money, Percent, Rate};
use shopcore_domain::pricing::{
    CurrencyRate, CurrencyRateEvent, Discount, PriceBookEvent, PriceRuleDefinition, PriceRuleEvent,
    PromotionEvent, RuleAction, RuleConditions, RuleTargets,
};
use support::{field, null, s, some};
use uuid::Uuid;

fn money(amount: i64, currency: &str) -> Value {
    Value::Record(vec![
        ("amountMinor".into(), Value::Long(amount)),
        ("currency".into(), s(currency)),
    ])
}

fn strings(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

#[test]
fn every_price_book_event_round_trips_through_its_topic_schema() {
    let book = Uuid::now_v7();
    let events = vec![
        PriceBookEvent::PriceBookCreated {
            price_book_id: book,
            name: "Retail".into(),
            default_currency: Currency::USD,
        },
        PriceBookEvent::BasePriceSet {
            sku: "TEE-RED-M".into(),
            price: Money::new(1999, Currency::USD),
            previous: None,
        },
        PriceBookEvent::BasePriceSet {
            sku: "TEE-RED-M".into(),
            price: Money::new(1799, Currency::USD),
            previous: Some(Money::new(1999, Currency::USD)),
        },
        PriceBookEvent::BasePriceRemoved {
            sku: "TEE-RED-M".into(),
            currency: Currency::KWD,
            previous: Money::new(6125, Currency::KWD),
        },
    ];
    let decoded = support::round_trip(
        "price_book",
        &book.to_string(),
        PriceBookEvent::EVENT_TYPES,
        &events,
    );
    assert!(decoded.iter().all(|d| d.topic == "pricing.updated.v1"));

    assert_eq!(decoded[0].get("priceBookId"), &Value::Uuid(book));
    assert_eq!(decoded[0].get("defaultCurrency"), &s("USD"));

    assert_eq!(decoded[1].get("price"), &money(1999, "USD"));
    assert_eq!(decoded[1].get("previous"), &null(), "first price");
    assert_eq!(decoded[2].get("price"), &money(1799, "USD"));
    assert_eq!(decoded[2].get("previous"), &some(money(1999, "USD")));

    let removed = &decoded[3];
    assert_eq!(removed.get("currency"), &s("KWD"));
    assert_eq!(removed.get("previous"), &money(6125, "KWD"), "3 decimals");
}

#[test]
fn every_price_rule_event_round_trips_through_its_topic_schema() {
    let rule = Uuid::now_v7();
    let from = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap();
    let vip_sale = PriceRuleDefinition {
        name: "VIP tees".into(),
        targets: RuleTargets {
            skus: strings(&["TEE-RED-M"]),
            categories: strings(&["tops"]),
        },
        priority: -5,
        conditions: RuleConditions {
            customer_segments: strings(&["VIP"]),
            channels: BTreeSet::new(),
            regions: strings(&["EU", "VN"]),
            currency: None,
            valid_from: Some(from),
            valid_until: None,
            min_quantity: Some(3),
        },
        action: RuleAction::PercentOff {
            percent: Percent::from_basis_points(1250).unwrap(),
        },
        exclusive: true,
    };
    let fixed = PriceRuleDefinition {
        action: RuleAction::SetPrice {
            price: Money::new(1500, Currency::EUR),
        },
        conditions: RuleConditions {
            currency: Some(Currency::EUR),
            ..RuleConditions::default()
        },
        exclusive: false,
        ..vip_sale.clone()
    };
    let amount_off = PriceRuleDefinition {
        action: RuleAction::AmountOff {
            amount: Money::new(300, Currency::EUR),
        },
        ..fixed.clone()
    };
    let events = vec![
        PriceRuleEvent::PriceRuleCreated {
            rule_id: rule,
            definition: vip_sale,
            created_at: at,
        },
        PriceRuleEvent::PriceRuleUpdated {
            definition: fixed,
            updated_at: at,
        },
        PriceRuleEvent::PriceRuleUpdated {
            definition: amount_off,
            updated_at: at,
        },
        PriceRuleEvent::PriceRuleRemoved { removed_at: at },
    ];
    let decoded = support::round_trip(
        "price_rule",
        &rule.to_string(),
        PriceRuleEvent::EVENT_TYPES,
        &events,
    );
    assert!(decoded.iter().all(|d| d.topic == "pricing.rule.updated.v1"));
    assert_eq!(decoded[0].get("ruleId"), &Value::Uuid(rule));

    let created = decoded[0].get("definition");
    assert_eq!(field(created, "priority"), &Value::Int(-5));
    assert_eq!(field(created, "exclusive"), &Value::Boolean(true));
    let targets = field(created, "targets");
    assert_eq!(field(targets, "skus"), &Value::Array(vec![s("TEE-RED-M")]));
    let conditions = field(created, "conditions");
    assert_eq!(
        field(conditions, "regions"),
        &Value::Array(vec![s("EU"), s("VN")])
    );
    assert_eq!(field(conditions, "channels"), &Value::Array(vec![]));
    assert_eq!(field(conditions, "currency"), &null());
    assert_eq!(
        field(conditions, "validFrom"),
        &some(Value::TimestampMicros(from.timestamp_micros()))
    );
    assert_eq!(field(conditions, "validUntil"), &null());
    assert_eq!(field(conditions, "minQuantity"), &some(Value::Long(3)));
    let action = field(created, "action");
    assert_eq!(field(action, "kind"), &Value::Enum(1, "PERCENT_OFF".into()));
    assert_eq!(field(action, "percentBasisPoints"), &some(Value::Int(1250)));
    assert_eq!(field(action, "price"), &null());
    assert_eq!(field(action, "amount"), &null());

    let set_price = field(decoded[1].get("definition"), "action");
    assert_eq!(
        field(set_price, "kind"),
        &Value::Enum(0, "SET_PRICE".into())
    );
    assert_eq!(field(set_price, "price"), &some(money(1500, "EUR")));
    assert_eq!(field(set_price, "percentBasisPoints"), &null());
    assert_eq!(
        field(
            field(decoded[1].get("definition"), "conditions"),
            "currency"
        ),
        &some(s("EUR"))
    );

    let amount_off = field(decoded[2].get("definition"), "action");
    assert_eq!(
        field(amount_off, "kind"),
        &Value::Enum(2, "AMOUNT_OFF".into())
    );
    assert_eq!(field(amount_off, "amount"), &some(money(300, "EUR")));

    assert_eq!(
        decoded[3].get("removedAt"),
        &Value::TimestampMicros(at.timestamp_micros())
    );
}

#[test]
fn every_promotion_event_round_trips_through_its_topic_schemas() {
    let promotion = Uuid::now_v7();
    let customer = Uuid::now_v7();
    let redemption = Uuid::now_v7();
    let from = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
    let until = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let events = vec![
        PromotionEvent::PromotionCreated {
            promotion_id: promotion,
            name: "Black Friday".into(),
            discount: Discount::PercentOff {
                percent: Percent::from_basis_points(2000).unwrap(),
            },
            valid_from: from,
            valid_until: until,
            usage_limit_total: Some(10_000),
            usage_limit_per_customer: None,
            coupon_codes: vec!["BF2026".into()],
        },
        PromotionEvent::PromotionCouponCodesAdded {
            codes: vec!["BF-VIP".into(), "BF-APP".into()],
        },
        PromotionEvent::PromotionActivated {
            activated_at: from,
            discount: Discount::AmountOff {
                amount: Money::new(500_000, Currency::VND),
            },
            valid_from: from,
            valid_until: until,
        },
        PromotionEvent::PromotionRedeemed {
            redemption_id: redemption,
            customer_id: Some(customer),
            coupon_code: Some("BF2026".into()),
            redeemed_at: from,
        },
        PromotionEvent::PromotionRedeemed {
            redemption_id: Uuid::now_v7(),
            customer_id: None,
            coupon_code: None,
            redeemed_at: from,
        },
        PromotionEvent::PromotionDeactivated {
            deactivated_at: until,
        },
        PromotionEvent::PromotionChanged {
            name: "Black Week".into(),
            discount: Discount::AmountOff {
                amount: Money::new(1_500, Currency::EUR),
            },
            valid_from: from,
            valid_until: until,
            usage_limit_total: None,
            usage_limit_per_customer: Some(2),
            changed_at: from,
        },
        PromotionEvent::PromotionActivationScheduled { activate_at: from },
    ];
    let decoded = support::round_trip(
        "promotion",
        &promotion.to_string(),
        PromotionEvent::EVENT_TYPES,
        &events,
    );

    let created = &decoded[0];
    assert_eq!(created.topic, "promotion.updated.v1");
    assert_eq!(created.get("promotionId"), &Value::Uuid(promotion));
    let discount = created.get("discount");
    assert_eq!(
        field(discount, "kind"),
        &Value::Enum(0, "PERCENT_OFF".into())
    );
    assert_eq!(
        field(discount, "percentBasisPoints"),
        &some(Value::Int(2000))
    );
    assert_eq!(field(discount, "amount"), &null());
    assert_eq!(created.get("usageLimitTotal"), &some(Value::Long(10_000)));
    assert_eq!(created.get("usageLimitPerCustomer"), &null());
    assert_eq!(
        created.get("validUntil"),
        &Value::TimestampMicros(until.timestamp_micros())
    );

    assert_eq!(
        decoded[1].get("codes"),
        &Value::Array(vec![s("BF-VIP"), s("BF-APP")])
    );

    let activated = &decoded[2];
    assert_eq!(activated.topic, "promotion.activated.v1");
    let discount = activated.get("discount");
    assert_eq!(
        field(discount, "kind"),
        &Value::Enum(1, "AMOUNT_OFF".into())
    );
    assert_eq!(field(discount, "amount"), &some(money(500_000, "VND")));
    assert_eq!(field(discount, "percentBasisPoints"), &null());

    let redeemed = &decoded[3];
    assert_eq!(redeemed.topic, "promotion.updated.v1");
    assert_eq!(redeemed.get("redemptionId"), &Value::Uuid(redemption));
    assert_eq!(redeemed.get("customerId"), &some(Value::Uuid(customer)));
    assert_eq!(redeemed.get("couponCode"), &some(s("BF2026")));
    assert_eq!(decoded[4].get("customerId"), &null(), "anonymous use");
    assert_eq!(decoded[4].get("couponCode"), &null());

    assert_eq!(decoded[5].record, "PromotionDeactivated");

    let changed = &decoded[6];
    assert_eq!(changed.topic, "promotion.updated.v1");
    assert_eq!(changed.record, "PromotionChanged");
    assert_eq!(changed.get("name"), &s("Black Week"));
    assert_eq!(
        field(changed.get("discount"), "amount"),
        &some(money(1_500, "EUR"))
    );
    assert_eq!(changed.get("usageLimitTotal"), &null(), "limit removed");
    assert_eq!(changed.get("usageLimitPerCustomer"), &some(Value::Long(2)));
    assert_eq!(
        changed.get("changedAt"),
        &Value::TimestampMicros(from.timestamp_micros())
    );

    let scheduled = &decoded[7];
    assert_eq!(scheduled.topic, "promotion.updated.v1");
    assert_eq!(scheduled.record, "PromotionActivationScheduled");
    assert_eq!(scheduled.get("promotionId"), &Value::Uuid(promotion));
    assert_eq!(
        scheduled.get("activateAt"),
        &Value::TimestampMicros(from.timestamp_micros())
    );
}

#[test]
fn fx_rate_changes_keep_the_exact_decimal_and_the_pair_id() {
    let pair = CurrencyRate::aggregate_id(Currency::EUR, Currency::USD);
    let at = Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap();
    let events = vec![
        CurrencyRateEvent::FxRateChanged {
            base: Currency::EUR,
            quote: Currency::USD,
            rate: Rate::parse("1.0845").unwrap(),
            previous_rate: None,
            source: "ecb".into(),
            changed_at: at,
        },
        CurrencyRateEvent::FxRateChanged {
            base: Currency::EUR,
            quote: Currency::USD,
            rate: Rate::parse("1.000000000001").unwrap(),
            previous_rate: Some(Rate::parse("1.0845").unwrap()),
            source: "ecb".into(),
            changed_at: at,
        },
    ];
    let decoded = support::round_trip(
        "currency_rate",
        &pair,
        CurrencyRateEvent::EVENT_TYPES,
        &events,
    );
    let first = &decoded[0];
    assert_eq!(first.topic, "fx.rate.changed.v1");
    assert_eq!(first.get("currencyPair"), &s("EUR-USD"));
    assert_eq!(first.get("base"), &s("EUR"));
    assert_eq!(first.get("quote"), &s("USD"));
    assert_eq!(first.get("rate"), &s("1.0845"));
    assert_eq!(first.get("previousRate"), &null());
    assert_eq!(first.get("source"), &s("ecb"));
    assert_eq!(
        first.get("changedAt"),
        &Value::TimestampMicros(at.timestamp_micros())
    );
    let second = &decoded[1];
    assert_eq!(
        second.get("rate"),
        &s("1.000000000001"),
        "12 decimals, no float"
    );
    assert_eq!(second.get("previousRate"), &some(s("1.0845")));
}
