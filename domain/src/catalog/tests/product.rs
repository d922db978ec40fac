//! Creating and updating products, categories, media, the lifecycle, and event serde.

use super::*;

#[tokio::test]
async fn create_normalises_and_records_the_product() {
    framework(&[])
        .given_no_previous_events()
        .when_async(create())
        .await
        .then_expect_events(vec![created()]);
}

#[tokio::test]
async fn create_rejects_an_empty_name_naming_the_field() {
    let command = ProductCommand::CreateProduct {
        product_id: ID,
        name: "   ".into(),
        description: String::new(),
        brand: None,
        attributes: Attributes::new(),
        categories: vec![],
        now: now(),
    };
    let error = framework(&[])
        .given_no_previous_events()
        .when_async(command)
        .await
        .inspect_result();
    let error = error.expect_err("empty name");
    assert_eq!(error, ProductError::invalid("name", "must not be empty"));
    assert_eq!(error.to_string(), "name: must not be empty");
    assert_eq!(error.kind(), DomainErrorKind::InvalidArgument);
}

#[tokio::test]
async fn create_rejects_bad_attribute_keys_and_categories() {
    for (key, categories) in [
        ("Colour", vec![]),
        ("", vec![]),
        ("ok", vec!["".to_string()]),
    ] {
        let command = ProductCommand::CreateProduct {
            product_id: ID,
            name: "Shoe".into(),
            description: String::new(),
            brand: None,
            attributes: attrs(&[(key, text("x"))]),
            categories,
            now: now(),
        };
        let result = framework(&[])
            .given_no_previous_events()
            .when_async(command)
            .await
            .inspect_result();
        let error = result.expect_err(key);
        assert!(
            matches!(error.field(), Some("attributes" | "categories")),
            "{error}"
        );
    }
}

#[tokio::test]
async fn create_twice_is_a_conflict() {
    expect_error(vec![created()], create(), ProductError::AlreadyCreated).await;
}

#[tokio::test]
async fn update_carries_a_field_level_diff() {
    let changes = ProductChanges {
        name: Some("Trail Shoe 2".into()),
        description: Some("Light and grippy.".into()),
        brand: Some(String::new()),
        attributes: Some(attrs(&[
            ("material", text("knit")),
            ("waterproof", AttributeValue::Boolean(true)),
        ])),
    };
    let expected = ProductEvent::ProductUpdated {
        changes: vec![
            FieldChange {
                field: "name".into(),
                old: Some(text("Trail Shoe")),
                new: Some(text("Trail Shoe 2")),
            },
            FieldChange {
                field: "brand".into(),
                old: Some(text("Acme")),
                new: None,
            },
            FieldChange {
                field: "attributes.material".into(),
                old: Some(text("mesh")),
                new: Some(text("knit")),
            },
            FieldChange {
                field: "attributes.waterproof".into(),
                old: None,
                new: Some(AttributeValue::Boolean(true)),
            },
            FieldChange {
                field: "attributes.weight_grams".into(),
                old: Some(AttributeValue::Integer(280)),
                new: None,
            },
        ],
    };
    framework(&[])
        .given(vec![created()])
        .when_async(ProductCommand::UpdateProduct(changes))
        .await
        .then_expect_events(vec![expected.clone()]);

    let mut product = Product::default();
    product.apply(created());
    product.apply(expected);
    assert_eq!(product.name, "Trail Shoe 2");
    assert_eq!(product.brand, None);
    assert_eq!(
        product.attributes,
        attrs(&[
            ("material", text("knit")),
            ("waterproof", AttributeValue::Boolean(true))
        ])
    );
}

#[tokio::test]
async fn update_that_changes_nothing_records_nothing() {
    let changes = ProductChanges {
        name: Some("Trail Shoe".into()),
        ..ProductChanges::default()
    };
    framework(&[])
        .given(vec![created()])
        .when_async(ProductCommand::UpdateProduct(changes))
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn update_rejections() {
    let empty_name = ProductChanges {
        name: Some(" ".into()),
        ..ProductChanges::default()
    };
    expect_error(
        vec![created()],
        ProductCommand::UpdateProduct(empty_name.clone()),
        ProductError::invalid("name", "must not be empty"),
    )
    .await;
    expect_error(
        vec![created()],
        ProductCommand::UpdateProduct(ProductChanges::default()),
        ProductError::EmptyUpdate,
    )
    .await;
    expect_error(
        vec![],
        ProductCommand::UpdateProduct(empty_name),
        ProductError::NotCreated,
    )
    .await;
    let rename = ProductChanges {
        name: Some("New".into()),
        ..ProductChanges::default()
    };
    expect_error(
        vec![
            created(),
            ProductEvent::ProductDiscontinued {
                discontinued_at: now(),
            },
        ],
        ProductCommand::UpdateProduct(rename),
        ProductError::Discontinued,
    )
    .await;
}

#[tokio::test]
async fn assign_categories_records_the_difference() {
    framework(&[])
        .given(vec![created()])
        .when_async(ProductCommand::AssignCategories {
            categories: vec!["outdoor".into(), " running ".into()],
        })
        .await
        .then_expect_events(vec![ProductEvent::ProductCategoriesAssigned {
            categories: vec!["outdoor".into(), "running".into()],
            added: vec!["running".into()],
            removed: vec!["shoes".into()],
        }]);
    framework(&[])
        .given(vec![created()])
        .when_async(ProductCommand::AssignCategories {
            categories: vec!["shoes".into(), "outdoor".into()],
        })
        .await
        .then_expect_events(vec![]);
    let too_many = (0..51).map(|i| format!("c{i}")).collect();
    let result = framework(&[])
        .given(vec![created()])
        .when_async(ProductCommand::AssignCategories {
            categories: too_many,
        })
        .await;
    assert_eq!(
        result.inspect_result().expect_err("too many").field(),
        Some("categories")
    );
}

pub(super) fn photo() -> MediaRef {
    MediaRef {
        media_id: MEDIA,
        uri: "media/trail-shoe.jpg".into(),
        content_type: "image/jpeg".into(),
        alt_text: None,
        checksum_sha256: None,
    }
}

#[tokio::test]
async fn attach_media() {
    let command = ProductCommand::AttachMedia(MediaRef {
        content_type: "Image/JPEG".into(),
        alt_text: Some(" ".into()),
        ..photo()
    });
    framework(&[])
        .given(vec![created()])
        .when_async(command)
        .await
        .then_expect_events(vec![ProductEvent::ProductMediaAttached { media: photo() }]);
    expect_error(
        vec![
            created(),
            ProductEvent::ProductMediaAttached { media: photo() },
        ],
        ProductCommand::AttachMedia(photo()),
        ProductError::MediaAlreadyAttached(MEDIA),
    )
    .await;
    let bad = ProductCommand::AttachMedia(MediaRef {
        content_type: "jpeg".into(),
        ..photo()
    });
    let result = framework(&[])
        .given(vec![created()])
        .when_async(bad)
        .await
        .inspect_result();
    assert_eq!(
        result.expect_err("bad type").field(),
        Some("media.contentType")
    );
}

#[tokio::test]
async fn publish_unpublish_and_discontinue() {
    let published = ProductEvent::ProductPublished {
        published_at: now(),
    };
    framework(&[])
        .given(vec![created(), red_added()])
        .when_async(ProductCommand::PublishProduct { now: now() })
        .await
        .then_expect_events(vec![published.clone()]);
    framework(&[])
        .given(vec![created(), red_added(), published.clone()])
        .when_async(ProductCommand::PublishProduct { now: now() })
        .await
        .then_expect_events(vec![]);
    framework(&[])
        .given(vec![created(), red_added(), published.clone()])
        .when_async(ProductCommand::UnpublishProduct { now: now() })
        .await
        .then_expect_events(vec![ProductEvent::ProductUnpublished {
            unpublished_at: now(),
        }]);
    framework(&[])
        .given(vec![created()])
        .when_async(ProductCommand::UnpublishProduct { now: now() })
        .await
        .then_expect_events(vec![]);
    framework(&[])
        .given(vec![created(), red_added(), published])
        .when_async(ProductCommand::DiscontinueProduct { now: now() })
        .await
        .then_expect_events(vec![ProductEvent::ProductDiscontinued {
            discontinued_at: now(),
        }]);
}

#[tokio::test]
async fn publish_needs_a_variant_and_nothing_follows_discontinuation() {
    expect_error(
        vec![created()],
        ProductCommand::PublishProduct { now: now() },
        ProductError::NoVariants,
    )
    .await;
    let discontinued = vec![
        created(),
        red_added(),
        ProductEvent::ProductDiscontinued {
            discontinued_at: now(),
        },
    ];
    let commands = vec![
        ProductCommand::PublishProduct { now: now() },
        ProductCommand::UnpublishProduct { now: now() },
        ProductCommand::DiscontinueProduct { now: now() },
        add_blue("NEW"),
        ProductCommand::RemoveVariant { variant_id: RED },
        ProductCommand::AssignCategories { categories: vec![] },
        ProductCommand::AttachMedia(photo()),
        ProductCommand::RemoveMedia { media_id: MEDIA },
        ProductCommand::RejectMedia {
            media_id: MEDIA,
            reason: "late".into(),
        },
    ];
    for command in commands {
        expect_error(discontinued.clone(), command, ProductError::Discontinued).await;
    }
    assert_eq!(
        ProductError::Discontinued.kind(),
        DomainErrorKind::FailedPrecondition
    );
}

fn every_event() -> Vec<ProductEvent> {
    vec![
        created(),
        ProductEvent::ProductUpdated {
            changes: vec![FieldChange {
                field: "attributes.price_hint".into(),
                old: None,
                new: Some(AttributeValue::Money(Money::new(1999, Currency::EUR))),
            }],
        },
        red_added(),
        ProductEvent::ProductVariantUpdated {
            variant_id: RED,
            changes: vec![FieldChange {
                field: "attributes.tags".into(),
                old: Some(AttributeValue::TextList(vec!["a".into()])),
                new: None,
            }],
        },
        ProductEvent::ProductVariantRemoved {
            variant_id: RED,
            sku: "TRAIL-RED-42".into(),
        },
        ProductEvent::ProductCategoriesAssigned {
            categories: vec!["a".into()],
            added: vec!["a".into()],
            removed: vec![],
        },
        ProductEvent::ProductMediaAttached {
            media: MediaRef {
                alt_text: Some("side view".into()),
                checksum_sha256: Some("ab".repeat(32)),
                ..photo()
            },
        },
        ProductEvent::ProductMediaProcessed {
            media_id: MEDIA,
            facts: super::media::facts(),
        },
        ProductEvent::ProductMediaRejected {
            media_id: MEDIA,
            reason: "not an image".into(),
        },
        ProductEvent::ProductMediaRemoved {
            media_id: MEDIA,
            uri: "media/trail-shoe.jpg".into(),
            thumbnail_uri: Some("media/trail-shoe-thumb.jpg".into()),
        },
        ProductEvent::ProductPublished {
            published_at: now(),
        },
        ProductEvent::ProductUnpublished {
            unpublished_at: now(),
        },
        ProductEvent::ProductDiscontinued {
            discontinued_at: now(),
        },
    ]
}

#[test]
fn every_event_round_trips_through_json_with_a_stable_name() {
    let events = every_event();
    let names: Vec<String> = events.iter().map(DomainEvent::event_type).collect();
    assert_eq!(names, ProductEvent::EVENT_TYPES);
    for event in events {
        let json = serde_json::to_value(&event).expect("serialise");
        assert!(
            json.get(event.event_type()).is_some(),
            "externally tagged: {json}"
        );
        let back: ProductEvent = serde_json::from_value(json).expect("deserialise");
        assert_eq!(back, event);
        assert_eq!(event.event_version(), "1");
    }
}

#[test]
fn payload_fields_are_camel_case() {
    let json = serde_json::to_value(created()).expect("serialise");
    let payload = &json["ProductCreated"];
    assert!(
        payload.get("productId").is_some() && payload.get("createdAt").is_some(),
        "{json}"
    );
    assert_eq!(
        payload["attributes"]["weight_grams"],
        serde_json::json!({"type": "integer", "value": 280})
    );
}

#[tokio::test]
async fn text_is_normalised_and_invisible_characters_are_refused() {
    let create_with =
        |name: &str, description: &str, categories: Vec<String>| ProductCommand::CreateProduct {
            product_id: ID,
            name: name.into(),
            description: description.into(),
            brand: None,
            attributes: attrs(&[("material", text("Cafe\u{301}"))]),
            categories,
            now: now(),
        };
    let events = framework(&[])
        .given_no_previous_events()
        .when_async(create_with(
            "  Cre\u{300}me Shoe ",
            "Line one\r\n\tindented\nline three",
            vec![" Mens-Shoes".into(), "mens-shoes".into()],
        ))
        .await
        .inspect_result()
        .expect("valid product");
    let ProductEvent::ProductCreated {
        name,
        description,
        attributes,
        categories,
        ..
    } = &events[0]
    else {
        panic!("{events:?}")
    };
    assert_eq!(name, "Crème Shoe", "NFC and trimmed");
    assert_eq!(description, "Line one\n\tindented\nline three");
    assert_eq!(attributes["material"], text("Café"));
    assert_eq!(
        categories,
        &["mens-shoes"],
        "keys lower-cased, duplicates dropped"
    );

    for (name, categories, field) in [
        ("Shoe\u{200B}", vec![], "name"),
        ("Shoe\u{202E}", vec![], "name"),
        ("Shoe", vec!["mens shoes".to_string()], "categories"),
        ("Shoe", vec!["mens--shoes".to_string()], "categories"),
        ("Shoe", vec!["ünïcode".to_string()], "categories"),
    ] {
        let error = framework(&[])
            .given_no_previous_events()
            .when_async(create_with(name, "", categories.clone()))
            .await
            .inspect_result()
            .expect_err(name);
        assert_eq!(
            error.field(),
            Some(field),
            "{name:?} {categories:?}: {error}"
        );
    }
}

#[tokio::test]
async fn categories_must_exist_in_the_taxonomy() {
    let command = ProductCommand::CreateProduct {
        product_id: ID,
        name: "Shoe".into(),
        description: String::new(),
        brand: None,
        attributes: Attributes::new(),
        categories: vec!["shoes".into(), "missing-one".into()],
        now: now(),
    };
    let error = framework(&[])
        .given_no_previous_events()
        .when_async(command)
        .await
        .inspect_result()
        .expect_err("unknown category");
    assert_eq!(error, ProductError::UnknownCategory("missing-one".into()));
    assert_eq!(error.field(), Some("categories"));
    let error = framework(&[])
        .given(vec![created()])
        .when_async(ProductCommand::AssignCategories {
            categories: vec!["missing-two".into()],
        })
        .await
        .inspect_result()
        .expect_err("unknown category");
    assert_eq!(error, ProductError::UnknownCategory("missing-two".into()));
}
