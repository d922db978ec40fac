//! Catalog writes over REST against the three processes: categories and products created,
//! changed, published and discontinued; answers from the command's result with ETag and
//! Shopcore-Position; conflicts, idempotency, null fields and storefront tokens.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shopcore_auth::scopes::{MANAGE_PRODUCTS, VIEW_PRODUCTS};
use shopcore_e2e::TestApp;
use uuid::Uuid;

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> anyhow::Result<(StatusCode, reqwest::header::HeaderMap, Value)> {
    let mut request = app.http.request(method, app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)?
    };
    Ok((status, headers, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_and_categories_are_written_over_rest() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let (status, _, tree) = send(
        &app,
        Method::POST,
        "/categories",
        Some(json!({"key": "shoes", "name": "Shoes"})),
        &[],
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{tree}");
    let (status, _, tree) = send(
        &app,
        Method::POST,
        "/categories",
        Some(json!({"key": "trail", "name": "Trail", "parent": "shoes"})),
        &[],
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{tree}");
    assert_eq!(tree["categories"][1]["path"], "shoes/trail");
    let (status, _, problem) = send(
        &app,
        Method::POST,
        "/categories",
        Some(json!({"key": "x", "name": "X", "parent": ""})),
        &[],
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["field"], "parent");
    let (status, _, problem) = send(
        &app,
        Method::POST,
        "/categories/shoes/move",
        Some(json!({"parent": "trail"})),
        &[],
    )
    .await?;
    assert_eq!(status, StatusCode::CONFLICT, "a cycle: {problem}");

    // Create, with an idempotency key: a retry answers with the same product.
    let body = json!({
        "name": "Trail Runner", "brand": "Acme", "categories": ["trail"],
        "attributes": {"weight_grams": {"type": "integer", "value": 280.0},
                       "deposit": {"type": "money", "value": {"amount": 250, "currency": "EUR"}}}
    });
    let key = [("Idempotency-Key", "create-trail-runner")];
    let (status, headers, product) =
        send(&app, Method::POST, "/products", Some(body.clone()), &key).await?;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let id = product["id"].as_str().expect("id").to_owned();
    assert_eq!(headers["location"], format!("/products/{id}"));
    assert_eq!(headers["etag"], "\"1\"");
    assert_eq!(
        product["attributes"]["weight_grams"],
        json!({"type": "integer", "value": 280})
    );
    let (status, _, again) = send(&app, Method::POST, "/products", Some(body), &key).await?;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["id"], id.as_str());

    // A variant: 201 with its Location; its SKU is the catalog's.
    let (status, headers, product) = send(
        &app,
        Method::POST,
        &format!("/products/{id}/variants"),
        Some(json!({"sku": "TR-42"})),
        &[],
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let variant = product["variants"][0]["id"]
        .as_str()
        .expect("variant")
        .to_owned();
    assert_eq!(
        headers["location"],
        format!("/products/{id}/variants/{variant}")
    );
    let (_, _, other) = send(
        &app,
        Method::POST,
        "/products",
        Some(json!({"name": "Other"})),
        &[],
    )
    .await?;
    let other = other["id"].as_str().expect("id").to_owned();
    let (status, _, problem) = send(
        &app,
        Method::POST,
        &format!("/products/{other}/variants"),
        Some(json!({"sku": "TR-42"})),
        &[],
    )
    .await?;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["field"], "sku");

    // If-Match: a stale version is 409; null is not a value.
    let (status, _, problem) = send(
        &app,
        Method::PATCH,
        &format!("/products/{id}"),
        Some(json!({"name": "Renamed"})),
        &[("If-Match", "\"1\"")],
    )
    .await?;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (status, _, problem) = send(
        &app,
        Method::PATCH,
        &format!("/products/{id}"),
        Some(json!({"name": "Renamed", "brand": null})),
        &[],
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["field"], "brand");
    let (status, headers, product) = send(
        &app,
        Method::PATCH,
        &format!("/products/{id}"),
        Some(json!({"name": "Renamed", "brand": ""})),
        &[("If-Match", "\"2\"")],
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{product}");
    assert_eq!(product["name"], "Renamed");
    assert!(product.get("brand").is_none(), "{product}");
    let position = headers["shopcore-position"].to_str()?.to_owned();

    let (status, _, product) = send(
        &app,
        Method::POST,
        &format!("/products/{id}/publish"),
        None,
        &[],
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{product}");
    assert_eq!(product["status"], "published");
    let (status, _, problem) = send(
        &app,
        Method::DELETE,
        &format!("/products/{id}/variants/{variant}"),
        None,
        &[],
    )
    .await?;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "the last variant of a published product: {problem}"
    );

    // Read-your-writes through the catalog.
    let (status, _, read) = send(
        &app,
        Method::GET,
        &format!("/products/{id}"),
        None,
        &[("Shopcore-Min-Position", &position)],
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["name"], "Renamed");
    assert_eq!(read["categories"], json!(["trail"]));

    // Discontinued: readable, final, its SKU free again.
    let (status, _, product) =
        send(&app, Method::DELETE, &format!("/products/{id}"), None, &[]).await?;
    assert_eq!(status, StatusCode::OK, "{product}");
    assert_eq!(product["status"], "discontinued");
    let (status, _, _) = send(
        &app,
        Method::PATCH,
        &format!("/products/{id}"),
        Some(json!({"name": "Again"})),
        &[],
    )
    .await?;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _, _) = send(
        &app,
        Method::POST,
        &format!("/products/{other}/variants"),
        Some(json!({"sku": "TR-42"})),
        &[],
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED);

    // A storefront token may read the catalog, never change it.
    let shopper = app.token(
        "shopper",
        &[VIEW_PRODUCTS, MANAGE_PRODUCTS],
        Some(Uuid::now_v7()),
    )?;
    let response = reqwest::Client::new()
        .post(app.url("/products"))
        .bearer_auth(&shopper)
        .json(&json!({"name": "Nope"}))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = reqwest::Client::new()
        .get(app.url(&format!("/products/{other}")))
        .bearer_auth(&shopper)
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    app.cleanup().await
}
