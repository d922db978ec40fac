//! Catalog reads over REST against the three processes: products written over gRPC, read
//! from CouchDB with read-your-writes, listed with filters and cursors; the category tree from
//! MySQL; bad queries named.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::Value;
use shopcore_e2e::TestApp;
use shopcore_proto::catalog::v1 as pb;
use shopcore_proto::catalog::v1::category_commands_client::CategoryCommandsClient;
use shopcore_proto::catalog::v1::product_commands_client::ProductCommandsClient;
use uuid::Uuid;

async fn get(
    app: &TestApp,
    path: &str,
    position: Option<&str>,
) -> anyhow::Result<(StatusCode, Value)> {
    let mut request = app.http.get(app.url(path));
    if let Some(position) = position {
        request = request.header("Shopcore-Min-Position", position);
    }
    let response = request.send().await?;
    Ok((response.status(), response.json().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_and_categories_read_back_with_filters_pages_and_fresh_writes(
) -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc_addr))?
        .connect()
        .await?;
    let mut tree = CategoryCommandsClient::new(channel.clone());
    let mut products = ProductCommandsClient::new(channel);
    let mut last_tree = String::new();
    for (key, parent, position) in [
        ("shoes", None, 1),
        ("boots", Some("shoes"), 0),
        ("bags", None, 0),
    ] {
        let reply = tree
            .create_category(app.grpc(pb::CreateCategoryRequest {
                key: key.into(),
                name: key.to_uppercase(),
                parent: parent.map(str::to_owned),
                position,
                options: None,
            }))
            .await?
            .into_inner();
        last_tree = reply.result.expect("result").log_position;
    }
    let (status, body) = get(&app, "/categories", Some(&last_tree)).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let keys: Vec<&str> = body["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .map(|c| c["key"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(keys, ["bags", "shoes", "boots"], "depth first, by position");
    assert_eq!(body["categories"][2]["path"], "shoes/boots");

    let mut ids = Vec::new();
    for n in 0..5 {
        let category = if n < 3 { "shoes" } else { "boots" };
        let created = products
            .create_product(app.grpc(pb::CreateProductRequest {
                product_id: String::new(),
                name: format!("{} {n}", if n % 2 == 0 { "Trail" } else { "Road" }),
                description: String::new(),
                brand: None,
                attributes: BTreeMap::from([
                    (
                        "material".to_owned(),
                        pb::AttributeValue {
                            value: Some(pb::attribute_value::Value::Text(
                                if n % 2 == 0 { "cotton" } else { "wool" }.into(),
                            )),
                        },
                    ),
                    (
                        "weight_grams".to_owned(),
                        pb::AttributeValue {
                            value: Some(pb::attribute_value::Value::Integer(200 + n)),
                        },
                    ),
                ]),
                categories: vec![category.into()],
                options: None,
            }))
            .await?
            .into_inner();
        let id = created.result.expect("result").aggregate_id;
        products
            .add_variant(app.grpc(pb::AddVariantRequest {
                product_id: id.clone(),
                variant_id: String::new(),
                sku: format!("SKU-{n}"),
                attributes: BTreeMap::new(),
                options: None,
            }))
            .await?;
        ids.push(id);
    }
    let published = products
        .publish_product(app.grpc(pb::ProductLifecycleRequest {
            product_id: ids[4].clone(),
            options: None,
        }))
        .await?
        .into_inner();
    let last = published.result.expect("result").log_position;

    // Read-your-writes: with the write's position the read waits for the catalog.
    let (status, product) = get(&app, &format!("/products/{}", ids[4]), Some(&last)).await?;
    assert_eq!(status, StatusCode::OK, "{product}");
    assert_eq!(product["status"], "published");
    assert_eq!(product["variants"][0]["sku"], "SKU-4");
    assert_eq!(product["version"], 3);

    let list = |query: &str| format!("/products?{query}");
    let names = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|p| p["name"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let (_, body) = get(&app, &list("category=boots"), Some(&last)).await?;
    assert_eq!(names(&body), ["Road 3", "Trail 4"]);
    let (_, body) = get(&app, &list("sku=SKU-1"), None).await?;
    assert_eq!(names(&body), ["Road 1"]);
    let (_, body) = get(&app, &list("q=Trail"), None).await?;
    assert_eq!(names(&body), ["Trail 0", "Trail 2", "Trail 4"]);
    let (_, body) = get(&app, &list("status=published"), None).await?;
    assert_eq!(names(&body), ["Trail 4"]);
    let (_, body) = get(&app, &list("category=shoes&q=Road"), None).await?;
    assert_eq!(names(&body), ["Road 1"]);
    let (_, body) = get(&app, &list("attribute=material:wool"), None).await?;
    assert_eq!(names(&body), ["Road 1", "Road 3"]);
    let (_, body) = get(&app, &list("attribute=weight_grams:202"), None).await?;
    assert_eq!(names(&body), ["Trail 2"]);
    let (_, body) = get(&app, &list("attribute=material:silk"), None).await?;
    assert_eq!(names(&body), Vec::<String>::new());

    // Pages of two, in creation order, each product once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let query = match &cursor {
            Some(cursor) => format!("limit=2&cursor={cursor}"),
            None => "limit=2".to_owned(),
        };
        let (status, page) = get(&app, &list(&query), None).await?;
        assert_eq!(status, StatusCode::OK, "{page}");
        for item in page["items"].as_array().expect("items") {
            seen.push(item["id"].as_str().unwrap_or("").to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ids);

    // Bad queries name the parameter; an unknown product is 404.
    for (query, field) in [
        ("category=Mens%20Shoes", "category"),
        ("sku=A%20B", "sku"),
        ("q=%E2%80%8B", "q"),
        ("status=gone", "status"),
        ("attribute=material", "attribute"),
        ("attribute=Material:wool", "attribute"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("cursor=nope", "cursor"),
    ] {
        let (status, problem) = get(&app, &list(query), None).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {problem}");
        assert_eq!(problem["field"], field, "{query}: {problem}");
    }
    let (status, _) = get(&app, &format!("/products/{}", Uuid::now_v7()), None).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.cleanup().await
}
