//! The Product aggregate over gRPC, against the command service binary and a real Postgres:
//! create, variants with SKUs unique across the catalog (also under a race), the lifecycle,
//! optimistic concurrency, idempotency, bad input and access.

use std::collections::BTreeMap;

use shopcore_auth::scopes::{MANAGE_PRODUCTS, VIEW_PRODUCTS};
use shopcore_e2e::TestApp;
use shopcore_proto::catalog::v1 as pb;
use shopcore_proto::catalog::v1::category_commands_client::CategoryCommandsClient;
use shopcore_proto::catalog::v1::product_commands_client::ProductCommandsClient;
use shopcore_proto::common::v1::CommandOptions;
use shopcore_proto::decode_error_detail;
use tonic::transport::Channel;
use tonic::Code;
use uuid::Uuid;

/// A product client, after creating the categories the tests' products name.
async fn client(app: &TestApp) -> anyhow::Result<ProductCommandsClient<Channel>> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc_addr))?
        .connect()
        .await?;
    let mut tree = CategoryCommandsClient::new(channel.clone());
    for key in ["mens-shoes", "sale"] {
        tree.create_category(app.grpc(pb::CreateCategoryRequest {
            key: key.into(),
            name: key.into(),
            parent: None,
            position: 0,
            options: None,
        }))
        .await?;
    }
    Ok(ProductCommandsClient::new(channel))
}

fn text(value: &str) -> pb::AttributeValue {
    pb::AttributeValue {
        value: Some(pb::attribute_value::Value::Text(value.to_owned())),
    }
}

fn create(name: &str) -> pb::CreateProductRequest {
    pb::CreateProductRequest {
        product_id: String::new(),
        name: name.to_owned(),
        description: "A shoe".into(),
        brand: Some("Acme".into()),
        attributes: BTreeMap::from([
            ("material".to_owned(), text(" Cafe\u{301} leather ")),
            (
                "weight_grams".to_owned(),
                pb::AttributeValue {
                    value: Some(pb::attribute_value::Value::Integer(340)),
                },
            ),
            (
                "list_price".to_owned(),
                pb::AttributeValue {
                    value: Some(pb::attribute_value::Value::Money(pb::Money {
                        amount_minor: 12_999,
                        currency: "EUR".into(),
                    })),
                },
            ),
        ]),
        categories: vec!["Mens-Shoes".into(), "sale".into()],
        options: None,
    }
}

fn add_variant(product_id: &str, sku: &str) -> pb::AddVariantRequest {
    pb::AddVariantRequest {
        product_id: product_id.to_owned(),
        variant_id: String::new(),
        sku: sku.to_owned(),
        attributes: BTreeMap::from([("size".to_owned(), text("42"))]),
        options: None,
    }
}

fn lifecycle(product_id: &str, expected_version: Option<u64>) -> pb::ProductLifecycleRequest {
    pb::ProductLifecycleRequest {
        product_id: product_id.to_owned(),
        options: Some(CommandOptions {
            expected_version,
            idempotency_key: String::new(),
        }),
    }
}

fn id_and_version(reply: &pb::ProductResult) -> (String, u64) {
    let result = reply.result.as_ref().expect("a result");
    (result.aggregate_id.clone(), result.version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_variants_and_skus_unique_across_the_catalog() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let mut products = client(&app).await?;

    // Create: the service picks the id; text is normalised, category keys lower-cased.
    let created = products
        .create_product(app.grpc(create("  Runner ")))
        .await?
        .into_inner();
    let (shoe, version) = id_and_version(&created);
    assert_eq!(version, 1);
    let product = created.product.expect("the product");
    assert_eq!(product.name, "Runner");
    assert_eq!(product.status, "draft");
    assert_eq!(product.categories, ["mens-shoes", "sale"]);
    assert_eq!(product.attributes["material"], text("Café leather"));

    let added = products
        .add_variant(app.grpc(add_variant(&shoe, "SHOE-42")))
        .await?
        .into_inner();
    assert_eq!(id_and_version(&added).1, 2);
    let variant_id = added.variant_id.clone();
    assert!(Uuid::parse_str(&variant_id).is_ok(), "{variant_id:?}");

    // The SKU belongs to the catalog, not to one product.
    let other = products
        .create_product(app.grpc(create("Other")))
        .await?
        .into_inner();
    let (other, _) = id_and_version(&other);
    let before = app.event_count().await?;
    let taken = products
        .add_variant(app.grpc(add_variant(&other, "SHOE-42")))
        .await
        .expect_err("SKU taken");
    assert_eq!(taken.code(), Code::AlreadyExists, "{taken:?}");
    assert_eq!(
        decode_error_detail(&taken).map(|d| d.field),
        Some("sku".into())
    );
    assert_eq!(app.event_count().await?, before, "nothing written");

    // Renaming the SKU frees the old one.
    products
        .update_variant(app.grpc(pb::UpdateVariantRequest {
            product_id: shoe.clone(),
            variant_id: variant_id.clone(),
            sku: Some("SHOE-42-B".into()),
            attributes: None,
            options: None,
        }))
        .await?;
    products
        .add_variant(app.grpc(add_variant(&other, "SHOE-42")))
        .await?;

    // Optimistic concurrency: a stale expected version is ABORTED with the current one.
    let stale = products
        .publish_product(app.grpc(lifecycle(&shoe, Some(1))))
        .await
        .expect_err("stale version");
    assert_eq!(stale.code(), Code::Aborted);
    assert_eq!(
        decode_error_detail(&stale).and_then(|d| d.current_version),
        Some(3)
    );
    let published = products
        .publish_product(app.grpc(lifecycle(&shoe, Some(3))))
        .await?
        .into_inner();
    assert_eq!(published.product.expect("product").status, "published");

    // Discontinued: final, and its SKUs are free again.
    products
        .discontinue_product(app.grpc(lifecycle(&shoe, None)))
        .await?;
    let refused = products
        .publish_product(app.grpc(lifecycle(&shoe, None)))
        .await
        .expect_err("discontinued");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    products
        .add_variant(app.grpc(add_variant(&other, "SHOE-42-B")))
        .await?;

    // Eight products race for one SKU: exactly one gets it.
    let mut racers = Vec::new();
    for n in 0..8 {
        let reply = products
            .create_product(app.grpc(create(&format!("Racer {n}"))))
            .await?
            .into_inner();
        racers.push(id_and_version(&reply).0);
    }
    let attempts = racers.iter().map(|product| {
        let mut products = products.clone();
        let request = app.grpc(add_variant(product, "RACE-1"));
        async move { products.add_variant(request).await }
    });
    let results = futures::future::join_all(attempts).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "{results:?}");
    for result in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(result.code(), Code::AlreadyExists, "{result:?}");
    }

    // The projections process keeps the CouchDB catalog: the product's document arrives.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let doc = loop {
        if let Some(doc) = app.catalog.get(&shoe).await? {
            if doc["status"] == "discontinued" {
                break doc;
            }
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the product never reached CouchDB"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(doc["name"], "Runner");
    assert_eq!(doc["skus"], serde_json::json!(["SHOE-42-B"]));
    assert_eq!(doc["categories"], serde_json::json!(["mens-shoes", "sale"]));
    app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_variants_bad_input_and_access() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let mut products = client(&app).await?;
    let created = products
        .create_product(app.grpc(create("Boot")))
        .await?
        .into_inner();
    let (boot, _) = id_and_version(&created);

    // A retry with the same key returns the first variant; the key with another SKU is refused.
    let keyed = |sku: &str| {
        let mut request = add_variant(&boot, sku);
        request.options = Some(CommandOptions {
            expected_version: None,
            idempotency_key: "add-boot-variant".into(),
        });
        request
    };
    let first = products
        .add_variant(app.grpc(keyed("BOOT-1")))
        .await?
        .into_inner();
    let again = products
        .add_variant(app.grpc(keyed("BOOT-1")))
        .await?
        .into_inner();
    assert!(again.result.as_ref().is_some_and(|r| r.replayed));
    assert_eq!(again.variant_id, first.variant_id);
    let other_body = products
        .add_variant(app.grpc(keyed("BOOT-2")))
        .await
        .expect_err("the key is bound to its first request");
    assert_eq!(other_body.code(), Code::InvalidArgument);
    assert_eq!(
        decode_error_detail(&other_body).map(|d| d.code),
        Some("unprocessable".into())
    );

    // Bad input names the field and writes nothing.
    let before = app.event_count().await?;
    let no_value = pb::AddVariantRequest {
        attributes: BTreeMap::from([("size".to_owned(), pb::AttributeValue { value: None })]),
        ..add_variant(&boot, "BOOT-3")
    };
    let bad_currency = pb::AddVariantRequest {
        attributes: BTreeMap::from([(
            "price".to_owned(),
            pb::AttributeValue {
                value: Some(pb::attribute_value::Value::Money(pb::Money {
                    amount_minor: 1,
                    currency: "EURO".into(),
                })),
            },
        )]),
        ..add_variant(&boot, "BOOT-3")
    };
    for (request, field) in [
        (no_value, "attributes"),
        (bad_currency, "attributes"),
        (add_variant(&boot, "BOOT 3"), "sku"),
        (add_variant(&boot, &"S".repeat(65)), "sku"),
        (add_variant(&boot, ""), "sku"),
        (add_variant("not-a-uuid", "BOOT-3"), "productId"),
    ] {
        let error = products
            .add_variant(app.grpc(request))
            .await
            .expect_err(field);
        assert_eq!(error.code(), Code::InvalidArgument, "{field}: {error:?}");
        assert_eq!(
            decode_error_detail(&error).map(|d| d.field),
            Some(field.into())
        );
    }
    let mut invisible = create("Boot\u{200B}");
    invisible.categories = vec![];
    let error = products
        .create_product(app.grpc(invisible))
        .await
        .expect_err("zero-width space");
    assert_eq!(
        decode_error_detail(&error).map(|d| d.field),
        Some("name".into())
    );
    let mut uncategorised = create("Clog");
    uncategorised.categories = vec!["sale".into(), "no-such-category".into()];
    let error = products
        .create_product(app.grpc(uncategorised))
        .await
        .expect_err("a category the tree does not have");
    assert_eq!(error.code(), Code::FailedPrecondition);
    assert_eq!(
        decode_error_detail(&error).map(|d| d.field),
        Some("categories".into())
    );
    assert!(
        error.message().contains("no-such-category"),
        "{}",
        error.message()
    );
    let unknown = products
        .publish_product(app.grpc(lifecycle(&Uuid::now_v7().to_string(), None)))
        .await
        .expect_err("no such product");
    assert_eq!(unknown.code(), Code::NotFound);

    // Access: a token is required; viewing is not managing; a storefront token never manages.
    let with_token = |token: Option<String>| {
        let mut request = tonic::Request::new(create("Sandal"));
        if let Some(token) = token {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        request
    };
    let anonymous = products
        .create_product(with_token(None))
        .await
        .expect_err("no token");
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let viewer = app.token("viewer", &[VIEW_PRODUCTS], None)?;
    let denied = products
        .create_product(with_token(Some(viewer)))
        .await
        .expect_err("view only");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(
        denied.message().contains(MANAGE_PRODUCTS),
        "{}",
        denied.message()
    );
    let shopper = app.token("shopper", &[MANAGE_PRODUCTS], Some(Uuid::now_v7()))?;
    let denied = products
        .create_product(with_token(Some(shopper)))
        .await
        .expect_err("customer-bound");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(app.event_count().await?, before, "nothing written");

    let manager = app.token("merchandiser-3", &[MANAGE_PRODUCTS], None)?;
    let made = products
        .create_product(with_token(Some(manager)))
        .await?
        .into_inner();
    let actor: String = sqlx::query_scalar(
        "SELECT metadata->>'actor' FROM events WHERE aggregate_id = $1 AND sequence = 1",
    )
    .bind(id_and_version(&made).0)
    .fetch_one(&app.pg)
    .await?;
    assert_eq!(actor, "merchandiser-3");
    app.cleanup().await
}
