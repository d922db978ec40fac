//! Adding, changing and removing variants, with catalog-wide SKU uniqueness.

use super::*;

#[tokio::test]
async fn add_variant_with_a_free_sku() {
    framework(&[("OTHER-SKU", OTHER), ("TRAIL-BLUE-42", ID)])
        .given(vec![created(), red_added()])
        .when_async(add_blue(" TRAIL-BLUE-42 "))
        .await
        .then_expect_events(vec![ProductEvent::ProductVariantAdded {
            variant: Variant {
                variant_id: BLUE,
                sku: "TRAIL-BLUE-42".into(),
                attributes: attrs(&[("color", text("blue"))]),
            },
        }]);
}

#[tokio::test]
async fn add_variant_rejects_duplicate_skus_here_and_elsewhere() {
    expect_error(
        vec![created(), red_added()],
        add_blue("TRAIL-RED-42"),
        ProductError::DuplicateSku("TRAIL-RED-42".into()),
    )
    .await;
    framework(&[("TRAIL-BLUE-42", OTHER)])
        .given(vec![created()])
        .when_async(add_blue("TRAIL-BLUE-42"))
        .await
        .then_expect_error(ProductError::DuplicateSku("TRAIL-BLUE-42".into()));
    assert_eq!(
        ProductError::DuplicateSku(String::new()).kind(),
        DomainErrorKind::Conflict
    );
}

#[tokio::test]
async fn add_variant_other_rejections() {
    expect_error(
        vec![created()],
        add_blue("BROKEN"),
        ProductError::LookupFailed("catalog index unavailable".into()),
    )
    .await;
    let error = framework(&[])
        .given(vec![created()])
        .when_async(add_blue("bad sku!"))
        .await
        .inspect_result();
    assert_eq!(error.expect_err("bad sku").field(), Some("sku"));
    let duplicate_id = ProductCommand::AddVariant {
        variant_id: RED,
        sku: "X".into(),
        attributes: Attributes::new(),
    };
    expect_error(
        vec![created(), red_added()],
        duplicate_id,
        ProductError::VariantAlreadyExists(RED),
    )
    .await;
    expect_error(vec![], add_blue("X"), ProductError::NotCreated).await;
}

#[tokio::test]
async fn update_variant_changes_sku_and_attributes_with_a_diff() {
    let command = ProductCommand::UpdateVariant {
        variant_id: RED,
        sku: Some("TRAIL-RED-43".into()),
        attributes: Some(attrs(&[
            ("color", text("red")),
            ("size", AttributeValue::Integer(43)),
        ])),
    };
    framework(&[])
        .given(vec![created(), red_added()])
        .when_async(command)
        .await
        .then_expect_events(vec![ProductEvent::ProductVariantUpdated {
            variant_id: RED,
            changes: vec![
                FieldChange {
                    field: "sku".into(),
                    old: Some(text("TRAIL-RED-42")),
                    new: Some(text("TRAIL-RED-43")),
                },
                FieldChange {
                    field: "attributes.size".into(),
                    old: Some(AttributeValue::Integer(42)),
                    new: Some(AttributeValue::Integer(43)),
                },
            ],
        }]);
}

#[tokio::test]
async fn update_variant_rejections() {
    let unknown = ProductCommand::UpdateVariant {
        variant_id: BLUE,
        sku: Some("X".into()),
        attributes: None,
    };
    expect_error(
        vec![created(), red_added()],
        unknown,
        ProductError::UnknownVariant(BLUE),
    )
    .await;
    let taken = ProductCommand::UpdateVariant {
        variant_id: RED,
        sku: Some("USED".into()),
        attributes: None,
    };
    framework(&[("USED", OTHER)])
        .given(vec![created(), red_added()])
        .when_async(taken)
        .await
        .then_expect_error(ProductError::DuplicateSku("USED".into()));
    let nothing = ProductCommand::UpdateVariant {
        variant_id: RED,
        sku: None,
        attributes: None,
    };
    expect_error(
        vec![created(), red_added()],
        nothing,
        ProductError::EmptyUpdate,
    )
    .await;
}

#[tokio::test]
async fn remove_variant() {
    framework(&[])
        .given(vec![created(), red_added()])
        .when_async(ProductCommand::RemoveVariant { variant_id: RED })
        .await
        .then_expect_events(vec![ProductEvent::ProductVariantRemoved {
            variant_id: RED,
            sku: "TRAIL-RED-42".into(),
        }]);
    expect_error(
        vec![created()],
        ProductCommand::RemoveVariant { variant_id: RED },
        ProductError::UnknownVariant(RED),
    )
    .await;
    expect_error(
        vec![
            created(),
            red_added(),
            ProductEvent::ProductPublished {
                published_at: now(),
            },
        ],
        ProductCommand::RemoveVariant { variant_id: RED },
        ProductError::NoVariants,
    )
    .await;
}
