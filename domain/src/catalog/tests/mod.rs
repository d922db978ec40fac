//! Given / when / then tests of every product command, rejections included, and the serde
//! round trip of every event. This file holds the fakes and fixtures.

mod media;
mod product;
mod variants;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::DomainEvent;
use uuid::Uuid;

use super::*;
use crate::error_kind::DomainErrorKind;
use crate::money::{Currency, Money};

pub(super) struct FakeSkus(HashMap<String, Uuid>);

#[async_trait]
impl SkuCatalog for FakeSkus {
    async fn sku_owner(&self, sku: &str) -> Result<Option<Uuid>, String> {
        if sku == "BROKEN" {
            return Err("catalog index unavailable".into());
        }
        Ok(self.0.get(sku).copied())
    }
}

pub(super) const ID: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001);
pub(super) const OTHER: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0002);
pub(super) const RED: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_00a1);
pub(super) const BLUE: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_00a2);
pub(super) const MEDIA: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_00b1);

pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
        .single()
        .unwrap_or_default()
}

/// The taxonomy of the tests: every key the tests use but `missing`.
pub(super) struct FakeCategories;

#[async_trait]
impl CategoryDirectory for FakeCategories {
    async fn unknown(&self, keys: &[String]) -> Result<Vec<String>, String> {
        Ok(keys
            .iter()
            .filter(|k| k.contains("missing"))
            .cloned()
            .collect())
    }
}

pub(super) fn framework(taken: &[(&str, Uuid)]) -> TestFramework<Product> {
    let skus = taken.iter().map(|(s, id)| (s.to_string(), *id)).collect();
    TestFramework::with(ProductServices {
        skus: Arc::new(FakeSkus(skus)),
        categories: Arc::new(FakeCategories),
    })
}

pub(super) fn text(s: &str) -> AttributeValue {
    AttributeValue::Text(s.into())
}

pub(super) fn attrs(pairs: &[(&str, AttributeValue)]) -> Attributes {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

pub(super) fn created() -> ProductEvent {
    ProductEvent::ProductCreated {
        product_id: ID,
        name: "Trail Shoe".into(),
        description: "Light and grippy.".into(),
        brand: Some("Acme".into()),
        attributes: attrs(&[
            ("material", text("mesh")),
            ("weight_grams", AttributeValue::Integer(280)),
        ]),
        categories: vec!["shoes".into(), "outdoor".into()],
        created_at: now(),
    }
}

pub(super) fn create() -> ProductCommand {
    ProductCommand::CreateProduct {
        product_id: ID,
        name: "  Trail Shoe ".into(),
        description: "Light and grippy.".into(),
        brand: Some("Acme".into()),
        attributes: attrs(&[
            ("material", text(" mesh ")),
            ("weight_grams", AttributeValue::Integer(280)),
        ]),
        categories: vec!["shoes".into(), "outdoor".into(), "shoes".into()],
        now: now(),
    }
}

pub(super) fn red_added() -> ProductEvent {
    ProductEvent::ProductVariantAdded {
        variant: Variant {
            variant_id: RED,
            sku: "TRAIL-RED-42".into(),
            attributes: attrs(&[
                ("color", text("red")),
                ("size", AttributeValue::Integer(42)),
            ]),
        },
    }
}

pub(super) fn add_blue(sku: &str) -> ProductCommand {
    ProductCommand::AddVariant {
        variant_id: BLUE,
        sku: sku.into(),
        attributes: attrs(&[("color", text("blue"))]),
    }
}

pub(super) async fn expect_error(
    given: Vec<ProductEvent>,
    command: ProductCommand,
    expected: ProductError,
) {
    framework(&[])
        .given(given)
        .when_async(command)
        .await
        .then_expect_error(expected);
}
