//! Given / when / then tests of every cart command, rejections included, with in-memory fakes
//! of the pricing and coupon services.

mod checkout;
mod items;
mod merge;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeDelta, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;
use crate::money::{Currency, Money, Percent};
use crate::pricing::Discount;

pub(super) const CART: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_00c1);
pub(super) const CUSTOMER: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_00c2);
pub(super) const PROMOTION: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_00c3);
pub(super) const RULE: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_00c4);

pub(super) fn at(minutes: i64) -> DateTime<Utc> {
    let start = Utc
        .with_ymd_and_hms(2026, 11, 23, 9, 0, 0)
        .single()
        .unwrap_or_default();
    start + Duration::minutes(minutes)
}

pub(super) fn usd(amount: i64) -> Money {
    Money::new(amount, Currency::USD)
}

/// Unit prices by SKU; 10 or more units get 10 % off. `EURO` is priced in euros, `DOWN` fails.
#[derive(Default)]
pub(super) struct FakePricing {
    prices: HashMap<String, Money>,
    pub requests: Mutex<Vec<PriceRequest>>,
}

impl FakePricing {
    pub fn with(prices: &[(&str, i64)]) -> Self {
        let mut prices: HashMap<String, Money> = prices
            .iter()
            .map(|(s, p)| (s.to_string(), usd(*p)))
            .collect();
        prices.insert("EURO".into(), Money::new(100, Currency::EUR));
        Self {
            prices,
            requests: Mutex::default(),
        }
    }
}

#[async_trait]
impl CartPricing for FakePricing {
    async fn price(&self, request: &PriceRequest) -> Result<PricedItem, PricingLookupError> {
        if let Ok(mut requests) = self.requests.lock() {
            requests.push(request.clone());
        }
        if request.sku == "DOWN" {
            return Err(PricingLookupError::Unavailable("pricing timed out".into()));
        }
        let list = *self
            .prices
            .get(&request.sku)
            .ok_or_else(|| PricingLookupError::NotForSale(request.sku.clone()))?;
        if request.quantity >= 10 {
            let percent = Percent::from_basis_points(1_000)
                .map_err(|e| PricingLookupError::Unavailable(e.to_string()))?;
            let unit = list
                .less_percent(percent, crate::money::RoundingMode::HalfEven)
                .map_err(|e| PricingLookupError::Unavailable(e.to_string()))?;
            return Ok(PricedItem {
                unit_price: unit,
                list_price: list,
                applied_rules: vec![RULE],
            });
        }
        Ok(PricedItem {
            unit_price: list,
            list_price: list,
            applied_rules: vec![],
        })
    }
}

/// `SAVE10` 10 % off, `FIVE` 5.00 USD off, `EUROS` 5.00 EUR off, `ENDED` not applicable,
/// `DOWN` unavailable; anything else unknown.
pub(super) struct FakeCoupons;

pub(super) fn save10() -> AppliedCoupon {
    AppliedCoupon {
        code: "SAVE10".into(),
        promotion_id: PROMOTION,
        discount: Discount::PercentOff {
            percent: Percent::from_basis_points(1_000).expect("10%"),
        },
    }
}

pub(super) fn five_off() -> AppliedCoupon {
    AppliedCoupon {
        code: "FIVE".into(),
        promotion_id: PROMOTION,
        discount: Discount::AmountOff { amount: usd(500) },
    }
}

#[async_trait]
impl CouponValidator for FakeCoupons {
    async fn validate(&self, request: &CouponRequest) -> Result<ValidCoupon, CouponRejection> {
        let coupon = match request.code.as_str() {
            "SAVE10" => save10(),
            "FIVE" => five_off(),
            "EUROS" => AppliedCoupon {
                code: "EUROS".into(),
                promotion_id: PROMOTION,
                discount: Discount::AmountOff {
                    amount: Money::new(500, Currency::EUR),
                },
            },
            "ENDED" => return Err(CouponRejection::NotApplicable("promotion has ended".into())),
            "DOWN" => return Err(CouponRejection::Unavailable("promotions store down".into())),
            _ => return Err(CouponRejection::Unknown),
        };
        Ok(ValidCoupon {
            code: coupon.code,
            promotion_id: coupon.promotion_id,
            discount: coupon.discount,
        })
    }
}

pub(super) fn settings() -> CartSettings {
    CartSettings {
        ttl: TimeDelta::minutes(120),
        max_quantity_per_line: 20,
        max_lines: 3,
    }
}

pub(super) fn framework_with(pricing: FakePricing) -> TestFramework<Cart> {
    TestFramework::with(CartServices {
        pricing: Arc::new(pricing),
        coupons: Arc::new(FakeCoupons),
        settings: settings(),
    })
}

pub(super) fn framework() -> TestFramework<Cart> {
    framework_with(FakePricing::with(&[
        ("TEE-M", 1_999),
        ("CAP", 1_000),
        ("SOCKS", 333),
        ("MUG", 1_250),
    ]))
}

pub(super) fn created() -> CartEvent {
    CartEvent::CartCreated {
        cart_id: CART,
        session_token_hash: session_token_hash("sess-abc123"),
        customer_id: Some(CUSTOMER),
        currency: Currency::USD,
        channel: Some("web".into()),
        region: Some("EU".into()),
        created_at: at(0),
        expires_at: at(120),
    }
}

pub(super) fn snapshot(unit: i64, minute: i64) -> PriceSnapshot {
    PriceSnapshot {
        unit_price: usd(unit),
        list_price: usd(unit),
        applied_rules: vec![],
        priced_at: at(minute),
    }
}

pub(super) fn added(sku: &str, quantity: u32, unit: i64, minute: i64) -> CartEvent {
    CartEvent::CartItemAdded {
        sku: sku.into(),
        quantity,
        line_quantity: quantity,
        price: snapshot(unit, minute),
        expires_at: at(minute + 120),
    }
}

pub(super) fn coupon_applied(coupon: AppliedCoupon, minute: i64) -> CartEvent {
    CartEvent::CartCouponApplied {
        coupon,
        replaced: None,
        expires_at: at(minute + 120),
    }
}
