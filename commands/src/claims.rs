//! Unique claims per aggregate: which values a batch of events reserves or frees.
//!
//! Claimed values are compared byte for byte, so each aggregate claims its values in the one
//! spelling its domain normalises them to: e-mail addresses as the customer domain stores them,
//! SKUs with their case kept (`SHOE-42` and `shoe-42` are two SKUs), coupon codes upper-cased
//! (`save10` and `SAVE10` are one code, so one claim).

use std::collections::BTreeMap;

use shopcore_domain::cart::{Cart, CartEvent};
use shopcore_domain::catalog::taxonomy::{Taxonomy, TaxonomyEvent};
use shopcore_domain::catalog::{AttributeValue, Product, ProductEvent};
use shopcore_domain::customer::{Customer, CustomerEvent};
use shopcore_domain::pricing::{
    CurrencyRate, CurrencyRateEvent, PriceBook, PriceBookEvent, PriceRule, PriceRuleEvent,
    Promotion, PromotionEvent,
};
use uuid::Uuid;

use shopcore_event_store::UniqueClaim;

/// An aggregate whose events may claim values that must be unique across its kind.
pub trait UniqueClaims: cqrs_es::Aggregate {
    /// The claims `events` make, given the state `before` them.
    fn unique_claims(before: &Self, events: &[Self::Event]) -> Vec<UniqueClaim>;
}

/// Scope of customers' e-mail addresses.
pub const CUSTOMER_EMAIL: &str = "customer_email";

impl UniqueClaims for Customer {
    fn unique_claims(before: &Self, events: &[CustomerEvent]) -> Vec<UniqueClaim> {
        let mut claims = Vec::new();
        let mut current = before.email.clone();
        for event in events {
            let new_email = match event {
                CustomerEvent::CustomerRegistered { email, .. } => Some(email),
                CustomerEvent::CustomerProfileUpdated(changed) => changed.email.as_ref(),
                _ => None,
            };
            if let Some(email) = new_email {
                if !current.is_empty() {
                    claims.push(UniqueClaim::Release {
                        scope: CUSTOMER_EMAIL,
                        value: current.clone(),
                    });
                }
                claims.push(UniqueClaim::Claim {
                    scope: CUSTOMER_EMAIL,
                    field: "email",
                    value: email.clone(),
                });
                current = email.clone();
            }
        }
        claims
    }
}

/// The category tree claims nothing: its one aggregate keeps its keys unique itself.
impl UniqueClaims for Taxonomy {
    fn unique_claims(_before: &Self, _events: &[TaxonomyEvent]) -> Vec<UniqueClaim> {
        Vec::new()
    }
}

/// Scope of variant SKUs, unique across the catalog.
pub const PRODUCT_SKU: &str = "product_sku";

impl UniqueClaims for Product {
    /// A variant claims its SKU when added or given a new one, and frees it when removed or
    /// renamed; a discontinued product frees all of its SKUs.
    fn unique_claims(before: &Self, events: &[ProductEvent]) -> Vec<UniqueClaim> {
        let mut claims = Vec::new();
        let mut skus: BTreeMap<Uuid, String> = before
            .variants
            .iter()
            .map(|(id, variant)| (*id, variant.sku.clone()))
            .collect();
        let claim = |sku: &str| UniqueClaim::Claim {
            scope: PRODUCT_SKU,
            field: "sku",
            value: sku.to_owned(),
        };
        let release = |sku: &str| UniqueClaim::Release {
            scope: PRODUCT_SKU,
            value: sku.to_owned(),
        };
        for event in events {
            match event {
                ProductEvent::ProductVariantAdded { variant } => {
                    claims.push(claim(&variant.sku));
                    skus.insert(variant.variant_id, variant.sku.clone());
                }
                ProductEvent::ProductVariantUpdated {
                    variant_id,
                    changes,
                } => {
                    let new_sku = changes
                        .iter()
                        .find(|c| c.field == "sku")
                        .and_then(|c| match &c.new {
                            Some(AttributeValue::Text(sku)) => Some(sku.clone()),
                            _ => None,
                        });
                    if let Some(new_sku) = new_sku {
                        if let Some(old) = skus.insert(*variant_id, new_sku.clone()) {
                            claims.push(release(&old));
                        }
                        claims.push(claim(&new_sku));
                    }
                }
                ProductEvent::ProductVariantRemoved { variant_id, sku } => {
                    skus.remove(variant_id);
                    claims.push(release(sku));
                }
                ProductEvent::ProductDiscontinued { .. } => {
                    claims.extend(skus.values().map(|sku| release(sku)));
                    skus.clear();
                }
                _ => {}
            }
        }
        claims
    }
}

/// Scope of coupon codes, unique across all promotions.
pub const PROMOTION_COUPON_CODE: &str = "promotion_coupon_code";

impl UniqueClaims for Promotion {
    /// A promotion claims each code (upper case, as the domain normalises it) when created
    /// with it or given it. Codes are never freed: a promotion is never deleted, and a code
    /// that once meant one discount must not later mean another.
    fn unique_claims(_before: &Self, events: &[PromotionEvent]) -> Vec<UniqueClaim> {
        let claim = |code: &String| UniqueClaim::Claim {
            scope: PROMOTION_COUPON_CODE,
            field: "couponCodes",
            value: code.clone(),
        };
        events
            .iter()
            .flat_map(|event| match event {
                PromotionEvent::PromotionCreated { coupon_codes, .. } => coupon_codes.as_slice(),
                PromotionEvent::PromotionCouponCodesAdded { codes } => codes.as_slice(),
                _ => &[],
            })
            .map(claim)
            .collect()
    }
}

/// Carts claim nothing: a cart is found by its id, its session token's hash or its customer,
/// none of them unique across carts.
impl UniqueClaims for Cart {
    fn unique_claims(_before: &Self, _events: &[CartEvent]) -> Vec<UniqueClaim> {
        Vec::new()
    }
}

/// Price books claim nothing: a SKU may have a price in every book.
impl UniqueClaims for PriceBook {
    fn unique_claims(_before: &Self, _events: &[PriceBookEvent]) -> Vec<UniqueClaim> {
        Vec::new()
    }
}

/// Price rules claim nothing: several rules may target one SKU (precedence decides).
impl UniqueClaims for PriceRule {
    fn unique_claims(_before: &Self, _events: &[PriceRuleEvent]) -> Vec<UniqueClaim> {
        Vec::new()
    }
}

/// Currency rates claim nothing: the aggregate id is the pair, unique by itself.
impl UniqueClaims for CurrencyRate {
    fn unique_claims(_before: &Self, _events: &[CurrencyRateEvent]) -> Vec<UniqueClaim> {
        Vec::new()
    }
}
