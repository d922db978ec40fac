//! Every product event encodes to its schema, with the values it carries.

mod support;

use std::collections::BTreeMap;

use apache_avro::types::Value;
use chrono::{TimeZone, Utc};
use shopcore_domain::catalog::{
    AttributeValue, FieldChange, MediaFacts, MediaRef, ProductEvent, Variant,
};
use shopcore_domain::money::{Currency, Money};
use support::{field, items, null, s, some};
use uuid::Uuid;

#[test]
fn every_product_event_round_trips_through_its_topic_schema() {
    let product = Uuid::now_v7();
    let variant_id = Uuid::now_v7();
    let media_id = Uuid::now_v7();
    let at = Utc.with_ymd_and_hms(2026, 11, 20, 9, 30, 0).unwrap();
    let attributes = BTreeMap::from([
        ("material".to_owned(), AttributeValue::Text("cotton".into())),
        ("weight_grams".to_owned(), AttributeValue::Integer(180)),
        ("organic".to_owned(), AttributeValue::Boolean(true)),
        (
            "deposit".to_owned(),
            AttributeValue::Money(Money::new(250, Currency::EUR)),
        ),
        (
            "care".to_owned(),
            AttributeValue::TextList(vec!["wash 30".into(), "no dryer".into()]),
        ),
    ]);
    let events = vec![
        ProductEvent::ProductCreated {
            product_id: product,
            name: "Tee".into(),
            description: String::new(),
            brand: None,
            attributes: attributes.clone(),
            categories: vec!["apparel".into(), "tops".into()],
            created_at: at,
        },
        ProductEvent::ProductUpdated {
            changes: vec![
                FieldChange {
                    field: "brand".into(),
                    old: None,
                    new: Some(AttributeValue::Text("Acme".into())),
                },
                FieldChange {
                    field: "attributes.weight_grams".into(),
                    old: Some(AttributeValue::Integer(180)),
                    new: Some(AttributeValue::Integer(175)),
                },
                FieldChange {
                    field: "attributes.deposit".into(),
                    old: Some(AttributeValue::Money(Money::new(250, Currency::EUR))),
                    new: None,
                },
            ],
        },
        ProductEvent::ProductVariantAdded {
            variant: Variant {
                variant_id,
                sku: "TEE-RED-M".into(),
                attributes: BTreeMap::from([("size".to_owned(), AttributeValue::Text("M".into()))]),
            },
        },
        ProductEvent::ProductVariantUpdated {
            variant_id,
            changes: vec![FieldChange {
                field: "sku".into(),
                old: Some(AttributeValue::Text("TEE-RED-M".into())),
                new: Some(AttributeValue::Text("TEE-RED-MED".into())),
            }],
        },
        ProductEvent::ProductVariantRemoved {
            variant_id,
            sku: "TEE-RED-MED".into(),
        },
        ProductEvent::ProductCategoriesAssigned {
            categories: vec!["apparel".into(), "sale".into()],
            added: vec!["sale".into()],
            removed: vec!["tops".into()],
        },
        ProductEvent::ProductMediaAttached {
            media: MediaRef {
                media_id,
                uri: "https://cdn.example.com/tee.jpg".into(),
                content_type: "image/jpeg".into(),
                alt_text: None,
                checksum_sha256: Some("ab".repeat(32)),
            },
        },
        ProductEvent::ProductMediaProcessed {
            media_id,
            facts: MediaFacts {
                content_type: "image/png".into(),
                size_bytes: 48_213,
                checksum_sha256: "ab".repeat(32),
                width: Some(1200),
                height: None,
                thumbnail_uri: Some("products/p/ab-thumb.jpg".into()),
            },
        },
        ProductEvent::ProductMediaRejected {
            media_id,
            reason: "the bytes are not an image".into(),
        },
        ProductEvent::ProductMediaRemoved {
            media_id,
            uri: "products/p/ab.jpg".into(),
            thumbnail_uri: None,
        },
        ProductEvent::ProductPublished { published_at: at },
        ProductEvent::ProductUnpublished { unpublished_at: at },
        ProductEvent::ProductDiscontinued {
            discontinued_at: at,
        },
    ];
    let decoded = support::round_trip(
        "product",
        &product.to_string(),
        ProductEvent::EVENT_TYPES,
        &events,
    );
    assert!(decoded
        .iter()
        .all(|d| d.topic == "catalog.product.updated.v1"));

    let created = &decoded[0];
    assert_eq!(created.get("productId"), &Value::Uuid(product));
    assert_eq!(created.get("brand"), &null());
    assert_eq!(created.get("description"), &s(""));
    assert_eq!(
        created.get("createdAt"),
        &Value::TimestampMicros(at.timestamp_micros())
    );
    let Value::Map(attrs) = created.get("attributes") else {
        panic!("attributes is a map")
    };
    assert_eq!(attrs.len(), 5);
    let deposit = &attrs["deposit"];
    assert_eq!(field(deposit, "kind"), &Value::Enum(3, "MONEY".into()));
    assert_eq!(field(deposit, "text"), &null());
    let money = field(deposit, "money");
    assert_eq!(field(money, "amountMinor"), &Value::Long(250));
    assert_eq!(field(money, "currency"), &s("EUR"));
    assert_eq!(
        field(&attrs["weight_grams"], "integer"),
        &some(Value::Long(180))
    );
    assert_eq!(
        field(&attrs["organic"], "boolean"),
        &some(Value::Boolean(true))
    );
    assert_eq!(
        field(&attrs["care"], "textList"),
        &some(Value::Array(vec![s("wash 30"), s("no dryer")]))
    );

    let updated = &decoded[1];
    let changes = items(updated.get("changes"));
    assert_eq!(changes.len(), 3);
    assert_eq!(field(&changes[0], "field"), &s("brand"));
    assert_eq!(field(&changes[0], "oldValue"), &null(), "no brand before");
    assert_eq!(
        field(field(&changes[0], "newValue"), "text"),
        &some(s("Acme"))
    );
    assert_eq!(
        field(field(&changes[1], "oldValue"), "integer"),
        &some(Value::Long(180))
    );
    assert_eq!(
        field(field(&changes[1], "newValue"), "integer"),
        &some(Value::Long(175))
    );
    assert_eq!(field(&changes[2], "newValue"), &null(), "attribute removed");
    assert_eq!(
        field(
            field(field(&changes[2], "oldValue"), "money"),
            "amountMinor"
        ),
        &Value::Long(250)
    );

    let added = &decoded[2];
    let variant = added.get("variant");
    assert_eq!(field(variant, "variantId"), &Value::Uuid(variant_id));
    assert_eq!(field(variant, "sku"), &s("TEE-RED-M"));

    let variant_updated = &decoded[3];
    assert_eq!(variant_updated.get("variantId"), &Value::Uuid(variant_id));
    let change = &items(variant_updated.get("changes"))[0];
    assert_eq!(field(change, "field"), &s("sku"));
    assert_eq!(
        field(field(change, "newValue"), "text"),
        &some(s("TEE-RED-MED"))
    );

    assert_eq!(decoded[5].get("removed"), &Value::Array(vec![s("tops")]));

    let media = decoded[6].get("media");
    assert_eq!(field(media, "mediaId"), &Value::Uuid(media_id));
    assert_eq!(field(media, "contentType"), &s("image/jpeg"));
    assert_eq!(field(media, "altText"), &null());
    assert_eq!(field(media, "checksumSha256"), &some(s(&"ab".repeat(32))));

    let facts = decoded[7].get("facts");
    assert_eq!(decoded[7].get("mediaId"), &Value::Uuid(media_id));
    assert_eq!(field(facts, "contentType"), &s("image/png"));
    assert_eq!(field(facts, "sizeBytes"), &Value::Long(48_213));
    assert_eq!(field(facts, "width"), &some(Value::Int(1200)));
    assert_eq!(field(facts, "height"), &null());
    assert_eq!(decoded[8].get("reason"), &s("the bytes are not an image"));
    assert_eq!(decoded[9].get("uri"), &s("products/p/ab.jpg"));
    assert_eq!(decoded[9].get("thumbnailUri"), &null());

    assert_eq!(decoded[12].record, "ProductDiscontinued");
    assert_eq!(
        decoded[12].get("discontinuedAt"),
        &Value::TimestampMicros(at.timestamp_micros())
    );
}

#[test]
fn every_category_tree_event_round_trips_through_its_topic_schema() {
    use shopcore_domain::catalog::taxonomy::{TaxonomyEvent, TAXONOMY_ID};
    let events = vec![
        TaxonomyEvent::CategoryCreated {
            key: "mens-shoes".into(),
            name: "Men's shoes".into(),
            parent: Some("shoes".into()),
            position: 2,
        },
        TaxonomyEvent::CategoryRenamed {
            key: "mens-shoes".into(),
            name: "Shoes for men".into(),
        },
        TaxonomyEvent::CategoryMoved {
            key: "mens-shoes".into(),
            parent: None,
            position: 0,
        },
        TaxonomyEvent::CategoryRemoved {
            key: "mens-shoes".into(),
        },
    ];
    let decoded = support::round_trip("taxonomy", TAXONOMY_ID, TaxonomyEvent::EVENT_TYPES, &events);
    assert!(decoded
        .iter()
        .all(|d| d.topic == "catalog.category.updated.v1"));
    let created = &decoded[0];
    assert_eq!(created.get("taxonomyId"), &s(TAXONOMY_ID));
    assert_eq!(created.get("key"), &s("mens-shoes"));
    assert_eq!(created.get("parent"), &some(s("shoes")));
    assert_eq!(created.get("position"), &Value::Int(2));
    assert_eq!(decoded[1].get("name"), &s("Shoes for men"));
    assert_eq!(decoded[2].get("parent"), &null());
    assert_eq!(decoded[3].get("key"), &s("mens-shoes"));
}
