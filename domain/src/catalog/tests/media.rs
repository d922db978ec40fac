//! Media of a product: attached pending, processed or rejected once, removed; the same
//! content never twice; what processing reports is validated like any input.

use super::product::photo;
use super::*;

const SUM: &str = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";
const OTHER_MEDIA: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_00b2);

pub(super) fn facts() -> MediaFacts {
    MediaFacts {
        content_type: "image/png".into(),
        size_bytes: 2_048,
        checksum_sha256: SUM.into(),
        width: Some(640),
        height: Some(480),
        thumbnail_uri: Some("media/trail-shoe-thumb.png".into()),
    }
}

fn uploaded() -> MediaRef {
    MediaRef {
        checksum_sha256: Some(SUM.into()),
        ..photo()
    }
}

fn attached() -> Vec<ProductEvent> {
    vec![
        created(),
        ProductEvent::ProductMediaAttached { media: uploaded() },
    ]
}

#[tokio::test]
async fn the_same_content_is_attached_once_whatever_its_id() {
    let again = MediaRef {
        media_id: OTHER_MEDIA,
        uri: "media/copy.jpg".into(),
        ..uploaded()
    };
    expect_error(
        attached(),
        ProductCommand::AttachMedia(again),
        ProductError::DuplicateMedia(MEDIA),
    )
    .await;
    let same_object = MediaRef {
        media_id: OTHER_MEDIA,
        checksum_sha256: None,
        ..photo()
    };
    expect_error(
        attached(),
        ProductCommand::AttachMedia(same_object),
        ProductError::DuplicateMedia(MEDIA),
    )
    .await;
    // Removed media no longer count: the same picture may come back.
    let mut removed = attached();
    removed.push(ProductEvent::ProductMediaRemoved {
        media_id: MEDIA,
        uri: photo().uri,
        thumbnail_uri: None,
    });
    framework(&[])
        .given(removed)
        .when_async(ProductCommand::AttachMedia(MediaRef {
            media_id: OTHER_MEDIA,
            ..uploaded()
        }))
        .await
        .then_expect_events(vec![ProductEvent::ProductMediaAttached {
            media: MediaRef {
                media_id: OTHER_MEDIA,
                ..uploaded()
            },
        }]);
}

#[tokio::test]
async fn only_accepted_image_types_and_real_checksums_are_attached() {
    for (content_type, checksum) in [
        ("image/svg+xml", Some(SUM.to_owned())),
        ("text/html", None),
        ("image/png", Some("not-a-checksum".to_owned())),
    ] {
        let result = framework(&[])
            .given(vec![created()])
            .when_async(ProductCommand::AttachMedia(MediaRef {
                content_type: content_type.into(),
                checksum_sha256: checksum,
                ..photo()
            }))
            .await
            .inspect_result();
        let error = result.expect_err(content_type);
        assert_eq!(error.kind(), DomainErrorKind::InvalidArgument, "{error}");
        assert!(error.field().is_some_and(|f| f.starts_with("media.")));
    }
}

#[tokio::test]
async fn processing_decides_once_and_a_retry_changes_nothing() {
    framework(&[])
        .given(attached())
        .when_async(ProductCommand::MarkMediaProcessed {
            media_id: MEDIA,
            facts: MediaFacts {
                checksum_sha256: SUM.to_uppercase(),
                ..facts()
            },
        })
        .await
        .then_expect_events(vec![ProductEvent::ProductMediaProcessed {
            media_id: MEDIA,
            facts: facts(),
        }]);
    let mut processed = attached();
    processed.push(ProductEvent::ProductMediaProcessed {
        media_id: MEDIA,
        facts: facts(),
    });
    for command in [
        ProductCommand::MarkMediaProcessed {
            media_id: MEDIA,
            facts: facts(),
        },
        ProductCommand::RejectMedia {
            media_id: MEDIA,
            reason: "too late".into(),
        },
    ] {
        framework(&[])
            .given(processed.clone())
            .when_async(command)
            .await
            .then_expect_events(vec![]);
    }
    framework(&[])
        .given(attached())
        .when_async(ProductCommand::RejectMedia {
            media_id: MEDIA,
            reason: "  the bytes are text/html,\nnot image/jpeg ".into(),
        })
        .await
        .then_expect_events(vec![ProductEvent::ProductMediaRejected {
            media_id: MEDIA,
            reason: "the bytes are text/html, not image/jpeg".into(),
        }]);
}

#[tokio::test]
async fn processing_reports_are_validated() {
    let cases = [
        (
            MediaFacts {
                size_bytes: 0,
                ..facts()
            },
            "facts.sizeBytes",
        ),
        (
            MediaFacts {
                size_bytes: crate::catalog::media::MAX_MEDIA_BYTES + 1,
                ..facts()
            },
            "facts.sizeBytes",
        ),
        (
            MediaFacts {
                width: Some(crate::catalog::media::MAX_IMAGE_SIDE + 1),
                ..facts()
            },
            "facts.width",
        ),
        (
            MediaFacts {
                content_type: "application/pdf".into(),
                ..facts()
            },
            "facts.contentType",
        ),
        (
            MediaFacts {
                thumbnail_uri: Some("a b".into()),
                ..facts()
            },
            "facts.thumbnailUri",
        ),
    ];
    for (facts, field) in cases {
        let result = framework(&[])
            .given(attached())
            .when_async(ProductCommand::MarkMediaProcessed {
                media_id: MEDIA,
                facts,
            })
            .await
            .inspect_result();
        assert_eq!(result.expect_err(field).field(), Some(field));
    }
}

#[tokio::test]
async fn unknown_media_is_not_found_and_removal_names_its_objects() {
    for command in [
        ProductCommand::MarkMediaProcessed {
            media_id: OTHER_MEDIA,
            facts: facts(),
        },
        ProductCommand::RejectMedia {
            media_id: OTHER_MEDIA,
            reason: "x".into(),
        },
        ProductCommand::RemoveMedia {
            media_id: OTHER_MEDIA,
        },
    ] {
        expect_error(attached(), command, ProductError::UnknownMedia(OTHER_MEDIA)).await;
    }
    assert_eq!(
        ProductError::UnknownMedia(OTHER_MEDIA).kind(),
        DomainErrorKind::NotFound
    );
    let mut processed = attached();
    processed.push(ProductEvent::ProductMediaProcessed {
        media_id: MEDIA,
        facts: facts(),
    });
    framework(&[])
        .given(processed)
        .when_async(ProductCommand::RemoveMedia { media_id: MEDIA })
        .await
        .then_expect_events(vec![ProductEvent::ProductMediaRemoved {
            media_id: MEDIA,
            uri: photo().uri,
            thumbnail_uri: facts().thumbnail_uri,
        }]);
}

#[test]
fn the_state_records_what_processing_found() {
    let mut product = Product::default();
    for event in attached() {
        product.apply(event);
    }
    assert_eq!(product.media[0].status, MediaStatus::Pending);
    product.apply(ProductEvent::ProductMediaProcessed {
        media_id: MEDIA,
        facts: facts(),
    });
    let media = &product.media[0];
    assert_eq!(media.status, MediaStatus::Processed);
    assert_eq!(media.content_type, "image/png");
    assert_eq!((media.width, media.height), (Some(640), Some(480)));
    assert_eq!(media.size_bytes, Some(2_048));
    product.apply(ProductEvent::ProductMediaRemoved {
        media_id: MEDIA,
        uri: photo().uri,
        thumbnail_uri: None,
    });
    assert!(product.media.is_empty());
}
