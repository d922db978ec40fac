//! GraphQL over HTTP against the three processes: a Relay connection of products with their
//! categories through one DataLoader batch per page, lookups by id and SKU, the tree, customers
//! and `me`, scopes as in REST, GraphiQL.

use reqwest::StatusCode;
use serde_json::{json, Value};
use shopcore_auth::scopes::{VIEW_CUSTOMERS, VIEW_MY_PROFILE};
use shopcore_e2e::TestApp;
use uuid::Uuid;

async fn post(app: &TestApp, path: &str, body: Value) -> anyhow::Result<(Value, String)> {
    let response = app.http.post(app.url(path)).json(&body).send().await?;
    let position = response.headers()["shopcore-position"].to_str()?.to_owned();
    anyhow::ensure!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    Ok((response.json().await?, position))
}

async fn graphql(
    app: &TestApp,
    token: Option<&str>,
    position: Option<&str>,
    query: &str,
    variables: Value,
) -> anyhow::Result<(StatusCode, Value)> {
    let mut request = reqwest::Client::new()
        .post(app.url("/graphql"))
        .json(&json!({"query": query, "variables": variables}));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(position) = position {
        request = request.header("Shopcore-Min-Position", position);
    }
    let response = request.send().await?;
    Ok((response.status(), response.json().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_reads_the_catalog_and_customers_with_scopes() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let admin = app.token("graphql-admin", &["view_products", "view_customers"], None)?;
    post(
        &app,
        "/categories",
        json!({"key": "shoes", "name": "Shoes"}),
    )
    .await?;
    post(
        &app,
        "/categories",
        json!({"key": "trail", "name": "Trail", "parent": "shoes"}),
    )
    .await?;
    let mut last = String::new();
    for n in 0..3 {
        let (product, _) = post(
            &app,
            "/products",
            json!({"name": format!("Runner {n}"), "categories": ["trail", "shoes"]}),
        )
        .await?;
        let id = product["id"].as_str().expect("id").to_owned();
        let (_, position) = post(
            &app,
            &format!("/products/{id}/variants"),
            json!({"sku": format!("RUN-{n}")}),
        )
        .await?;
        last = position;
    }

    let page = r#"query Page($after: String) {
        products(first: 2, after: $after) {
            edges { cursor node { name categories { key path } variants { sku } } }
            pageInfo { hasNextPage endCursor }
        } }"#;
    let (status, body) = graphql(&app, Some(&admin), Some(&last), page, json!({})).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let products = &body["data"]["products"];
    assert_eq!(
        products["edges"].as_array().map(Vec::len),
        Some(2),
        "{body}"
    );
    assert_eq!(products["edges"][0]["node"]["name"], "Runner 0");
    assert_eq!(
        products["edges"][0]["node"]["categories"][0]["path"],
        json!(["shoes", "trail"])
    );
    assert_eq!(products["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        body["extensions"]["categoryQueries"], 1,
        "one batch for the page: {body}"
    );
    let after = products["pageInfo"]["endCursor"].clone();
    let (_, body) = graphql(&app, Some(&admin), None, page, json!({"after": after})).await?;
    let products = &body["data"]["products"];
    assert_eq!(products["edges"][0]["node"]["name"], "Runner 2", "{body}");
    assert_eq!(products["pageInfo"]["hasNextPage"], false);

    let (_, body) = graphql(
        &app,
        Some(&admin),
        None,
        r#"{ productBySku(sku: "RUN-1") { name } categories { key depth } }"#,
        json!({}),
    )
    .await?;
    assert_eq!(body["data"]["productBySku"]["name"], "Runner 1", "{body}");
    assert_eq!(
        body["data"]["categories"],
        json!([{"key": "shoes", "depth": 1}, {"key": "trail", "depth": 2}])
    );
    // The tree walked down by `children`: one query per level, not one per category.
    post(
        &app,
        "/categories",
        json!({"key": "road", "name": "Road", "parent": "shoes", "position": 1}),
    )
    .await?;
    let (_, body) = graphql(
        &app,
        Some(&admin),
        None,
        r#"{ categories { key children { key children { key } } } }"#,
        json!({}),
    )
    .await?;
    assert_eq!(
        body["data"]["categories"][0],
        json!({"key": "shoes", "children": [
            {"key": "trail", "children": []},
            {"key": "road", "children": []},
        ]}),
        "{body}"
    );
    assert_eq!(
        body["extensions"]["categoryQueries"], 2,
        "a batch per level below the roots: {body}"
    );
    let (_, body) = graphql(
        &app,
        Some(&admin),
        None,
        r#"{ products(first: 0) { edges { cursor } } }"#,
        json!({}),
    )
    .await?;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );

    // Customers: by id with view_customers; `me` for a token bound to the customer.
    let created = app
        .http
        .post(app.url("/customers"))
        .json(&json!({"email": "gql@example.com", "firstName": "Graph", "lastName": "Ql"}))
        .send()
        .await?;
    let position = created.headers()["shopcore-position"].to_str()?.to_owned();
    let customer: Value = created.json().await?;
    let id = customer["id"].as_str().expect("id");
    // Wait for the customer read model through REST's read-your-writes.
    let read = app
        .http
        .get(app.url(&format!("/customers/{id}")))
        .header("Shopcore-Min-Position", &position)
        .send()
        .await?;
    assert_eq!(read.status(), StatusCode::OK);
    let query = format!(r#"{{ customer(id: "{id}") {{ email segments }} }}"#);
    let (_, body) = graphql(&app, Some(&admin), None, &query, json!({})).await?;
    assert_eq!(
        body["data"]["customer"]["email"], "gql@example.com",
        "{body}"
    );
    let own = app.token("shopper", &[VIEW_MY_PROFILE], Some(Uuid::parse_str(id)?))?;
    let (_, body) = graphql(&app, Some(&own), None, "{ me { firstName } }", json!({})).await?;
    assert_eq!(body["data"]["me"]["firstName"], "Graph", "{body}");
    let other = format!(r#"{{ customer(id: "{}") {{ email }} }}"#, Uuid::now_v7());
    let (_, body) = graphql(&app, Some(&own), None, &other, json!({})).await?;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );

    // Scopes and tokens as in REST.
    let crm = app.token("crm", &[VIEW_CUSTOMERS], None)?;
    let (_, body) = graphql(&app, Some(&crm), None, "{ categories { key } }", json!({})).await?;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap_or("")
        .contains("view_products"));
    let (status, _) = graphql(&app, None, None, "{ categories { key } }", json!({})).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let graphiql = reqwest::get(app.url("/graphql")).await?;
    assert_eq!(graphiql.status(), StatusCode::OK);
    assert!(graphiql.text().await?.to_lowercase().contains("graphiql"));
    app.cleanup().await
}
