//! Pricing over REST and GraphQL against the three processes: a price book over gRPC, a
//! product whose categories the pricing index learns from the catalog, rules written over
//! REST and used at once by `GET /pricing/{sku}` with `Shopcore-Min-Position`, simulation with
//! a draft that replaces a live rule and a new one, reads of rules, promotions and books, bad
//! input that names its field and writes nothing, scopes, and the GraphQL `price` query.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shopcore_auth::scopes::{MANAGE_PRICES, VIEW_PRICES, VIEW_PRODUCTS};
use shopcore_e2e::TestApp;
use shopcore_proto::pricing::v1 as pb;
use shopcore_proto::pricing::v1::price_book_commands_client::PriceBookCommandsClient;
use uuid::Uuid;

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    /// The problem's `field`, after checking the answer is a problem with `status`.
    fn problem(&self, status: StatusCode) -> String {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.header("content-type"),
            "application/problem+json",
            "{}",
            self.body
        );
        self.body["field"].as_str().unwrap_or_default().to_owned()
    }
}

async fn send(
    app: &TestApp,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> anyhow::Result<Answer> {
    let mut request = match token {
        None => app.http.request(method, app.url(path)),
        Some(token) => reqwest::Client::new()
            .request(method, app.url(path))
            .bearer_auth(token),
    };
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
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

async fn get(app: &TestApp, path: &str, position: Option<&str>) -> anyhow::Result<Answer> {
    let headers: Vec<(&str, &str)> = position
        .map(|p| vec![("Shopcore-Min-Position", p)])
        .unwrap_or_default();
    send(app, None, Method::GET, path, None, &headers).await
}

async fn post(app: &TestApp, path: &str, body: Value) -> anyhow::Result<Answer> {
    send(app, None, Method::POST, path, Some(body), &[]).await
}

/// A book in EUR with `TR-42` at 100.00 EUR and `TR-43` at 50.00 EUR; returns its id.
async fn book(app: &TestApp) -> anyhow::Result<(String, String)> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc_addr))?
        .connect()
        .await?;
    let mut books = PriceBookCommandsClient::new(channel);
    let created = books
        .create_price_book(app.grpc(pb::CreatePriceBookRequest {
            price_book_id: String::new(),
            name: "Retail".into(),
            default_currency: "EUR".into(),
            options: None,
        }))
        .await?
        .into_inner();
    let id = created.result.expect("result").aggregate_id;
    let mut position = String::new();
    for (sku, amount_minor) in [("TR-42", 10_000), ("TR-43", 5_000)] {
        let set = books
            .set_base_price(app.grpc(pb::SetBasePriceRequest {
                price_book_id: id.clone(),
                sku: sku.into(),
                price: Some(pb::Money {
                    amount_minor,
                    currency: "EUR".into(),
                }),
                options: None,
            }))
            .await?
            .into_inner();
        position = set.result.expect("result").log_position;
    }
    Ok((id, position))
}

/// A product in the category `sale` with the variant `TR-42`; returns the write's position.
async fn product_on_sale(app: &TestApp) -> anyhow::Result<String> {
    let created = post(app, "/categories", json!({"key": "sale", "name": "Sale"})).await?;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let product = post(
        app,
        "/products",
        json!({"name": "Trail Runner", "categories": ["sale"]}),
    )
    .await?;
    assert_eq!(product.status, StatusCode::CREATED, "{}", product.body);
    let id = product.body["id"].as_str().expect("id").to_owned();
    let variant = post(
        app,
        &format!("/products/{id}/variants"),
        json!({"sku": "TR-42"}),
    )
    .await?;
    assert_eq!(variant.status, StatusCode::CREATED, "{}", variant.body);
    Ok(variant.header("shopcore-position"))
}

fn verdict<'a>(answer: &'a Value, rule: &str) -> &'a Value {
    answer["explanation"]
        .as_array()
        .and_then(|all| all.iter().find(|v| v["ruleId"] == rule))
        .unwrap_or_else(|| panic!("no verdict of {rule} in {answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_written_over_rest_price_at_once_and_simulate_explains_drafts() -> anyhow::Result<()>
{
    let app = TestApp::spawn().await?;
    let (book_id, _) = book(&app).await?;
    let catalog = product_on_sale(&app).await?;

    // The base price, once the index knows the SKU's categories.
    let price = get(&app, "/pricing/TR-42", Some(&catalog)).await?;
    assert_eq!(price.status, StatusCode::OK, "{}", price.body);
    assert_eq!(
        price.body["unitPrice"],
        json!({"amount": 10_000, "currency": "EUR"})
    );
    assert_eq!(price.body["base"]["source"], "listed");
    assert_eq!(price.body["categories"], json!(["sale"]));
    assert_eq!(price.body["priceBookId"], book_id.as_str());
    assert!(!price.header("shopcore-position").is_empty());

    // A SKU rule: 201 with Location and ETag; priced with at once through its position.
    let sku_rule = post(
        &app,
        "/pricing/rules",
        json!({"name": "Ten off", "targets": {"skus": ["TR-42"]}, "priority": 1,
               "action": {"type": "percentOff", "percent": "10"}}),
    )
    .await?;
    assert_eq!(sku_rule.status, StatusCode::CREATED, "{}", sku_rule.body);
    let sku_rule_id = sku_rule.body["id"].as_str().expect("id").to_owned();
    assert_eq!(
        sku_rule.header("location"),
        format!("/pricing/rules/{sku_rule_id}")
    );
    assert_eq!(sku_rule.header("etag"), "\"1\"");
    let position = sku_rule.header("shopcore-position");
    let price = get(&app, "/pricing/TR-42?explain=true", Some(&position)).await?;
    assert_eq!(price.body["unitPrice"]["amount"], 9_000, "{}", price.body);
    assert_eq!(price.body["lineTotal"]["amount"], 9_000);
    assert_eq!(price.body["appliedRules"], json!([sku_rule_id]));
    assert_eq!(verdict(&price.body, &sku_rule_id)["rankedBy"], "first");

    // A category rule for VIP shoppers: applies through the product's category.
    let category_rule = post(
        &app,
        "/pricing/rules",
        json!({"name": "VIP sale", "targets": {"categories": ["sale"]},
               "conditions": {"customerSegments": ["vip"]},
               "action": {"type": "amountOff", "amount": {"amount": 500, "currency": "EUR"}}}),
    )
    .await?;
    assert_eq!(
        category_rule.status,
        StatusCode::CREATED,
        "{}",
        category_rule.body
    );
    let category_rule_id = category_rule.body["id"].as_str().expect("id").to_owned();
    assert_eq!(category_rule.body["conditions"]["currency"], "EUR");
    let position = category_rule.header("shopcore-position");
    let vip = get(
        &app,
        "/pricing/TR-42?customerSegment=vip&customerSegment=vip&quantity=3&explain=true",
        Some(&position),
    )
    .await?;
    assert_eq!(vip.body["unitPrice"]["amount"], 8_500, "{}", vip.body);
    assert_eq!(vip.body["lineTotal"]["amount"], 25_500);
    assert_eq!(
        vip.body["appliedRules"],
        json!([sku_rule_id, category_rule_id])
    );
    let by_category = verdict(&vip.body, &category_rule_id);
    assert_eq!(by_category["matchedBy"], "category");
    assert_eq!(by_category["rankedBy"], "target");
    let guest = get(&app, "/pricing/TR-42?explain=true", None).await?;
    assert_eq!(guest.body["unitPrice"]["amount"], 9_000);
    let missed = verdict(&guest.body, &category_rule_id);
    assert_eq!(missed["outcome"], "notMatched");
    assert_eq!(missed["failedCondition"], "customerSegment");

    // The same id again replaces (200); reads see it at the write's position.
    let replaced = post(
        &app,
        "/pricing/rules",
        json!({"ruleId": sku_rule_id, "name": "Ten off", "targets": {"skus": ["TR-42"]},
               "priority": 2, "action": {"type": "percentOff", "percent": "10"}}),
    )
    .await?;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    assert_eq!(replaced.header("etag"), "\"2\"");
    let position = replaced.header("shopcore-position");
    let rule = get(
        &app,
        &format!("/pricing/rules/{sku_rule_id}"),
        Some(&position),
    )
    .await?;
    assert_eq!(rule.status, StatusCode::OK, "{}", rule.body);
    assert_eq!(
        (rule.body["priority"].clone(), rule.header("etag")),
        (json!(2), "\"2\"".to_owned())
    );
    assert_eq!(
        rule.body["action"],
        json!({"type": "percentOff", "percent": "10"})
    );
    let by_sku = get(&app, "/pricing/rules?sku=TR-42", Some(&position)).await?;
    let ids: Vec<&str> = by_sku.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids, [sku_rule_id.as_str()]);
    let by_category = get(&app, "/pricing/rules?category=sale&limit=1", None).await?;
    assert_eq!(
        by_category.body["items"][0]["id"],
        category_rule_id.as_str()
    );
    let either = get(&app, "/pricing/rules?sku=TR-42&category=sale&limit=1", None).await?;
    assert_eq!(either.body["items"].as_array().map(Vec::len), Some(1));
    let cursor = either.body["nextCursor"].as_str().expect("a second page");
    let rest = get(
        &app,
        &format!("/pricing/rules?sku=TR-42&category=sale&cursor={cursor}"),
        None,
    )
    .await?;
    assert_eq!(rest.body["items"].as_array().map(Vec::len), Some(1));

    // Simulate: a draft that stands in for the SKU rule, a new draft for the app channel and
    // a dated one; none is saved.
    let before = app.event_count().await?;
    let simulated = post(
        &app,
        "/pricing/TR-42/simulate",
        json!({
            "context": {"customerSegments": ["vip"], "channel": "web"},
            "draftRules": [
                {"ruleId": sku_rule_id, "name": "Twenty off", "targets": {"skus": ["TR-42"]},
                 "action": {"type": "percentOff", "percent": "20"}},
                {"name": "App only", "targets": {"skus": ["TR-42"]},
                 "conditions": {"channels": ["app"]},
                 "action": {"type": "amountOff", "amount": {"amount": 100, "currency": "EUR"}}},
                {"name": "Next year", "targets": {"skus": ["TR-42"]},
                 "conditions": {"validFrom": "2099-01-01T00:00:00Z"},
                 "action": {"type": "setPrice", "price": {"amount": 1, "currency": "EUR"}}}
            ]
        }),
    )
    .await?;
    assert_eq!(simulated.status, StatusCode::OK, "{}", simulated.body);
    let answer = &simulated.body;
    assert_eq!(answer["unitPrice"]["amount"], 7_500, "{answer}");
    let drafted = verdict(answer, &sku_rule_id);
    assert_eq!(
        (drafted["draft"].clone(), drafted["name"].clone()),
        (json!(true), json!("Twenty off"))
    );
    let new_ids = answer["draftRuleIds"].as_array().expect("ids");
    assert_eq!(new_ids.len(), 2);
    let app_only = verdict(answer, new_ids[0].as_str().expect("id"));
    assert_eq!(app_only["failedCondition"], "channel", "{answer}");
    assert_eq!(app_only["draft"], true);
    let dated = verdict(answer, new_ids[1].as_str().expect("id"));
    assert_eq!(dated["failedCondition"], "notYetValid");
    assert_eq!(dated["required"], "2099-01-01T00:00:00Z");
    let live = verdict(answer, &category_rule_id);
    assert_eq!(
        (live["draft"].clone(), live["outcome"].clone()),
        (json!(false), json!("applied"))
    );
    for verdict in answer["explanation"].as_array().expect("all") {
        assert!(verdict["rankedBy"].is_string(), "{verdict}");
    }
    assert_eq!(
        app.event_count().await?,
        before,
        "a simulation writes nothing"
    );
    let still = get(&app, "/pricing/TR-42", None).await?;
    assert_eq!(still.body["unitPrice"]["amount"], 9_000);

    // The price as at a later instant: the dated rule, saved, applies then and not now.
    let dated = post(
        &app,
        "/pricing/rules",
        json!({"name": "From 2099", "targets": {"skus": ["TR-42"]},
               "conditions": {"validFrom": "2099-01-01T00:00:00Z"},
               "action": {"type": "setPrice", "price": {"amount": 4_000, "currency": "EUR"}}}),
    )
    .await?;
    let position = dated.header("shopcore-position");
    let dated_id = dated.body["id"].as_str().expect("id").to_owned();
    let stored = get(&app, &format!("/pricing/rules/{dated_id}"), Some(&position)).await?;
    assert_eq!(
        stored.body["conditions"]["validFrom"], "2099-01-01T00:00:00Z",
        "the read model keeps the instant: {}",
        stored.body
    );
    let later = get(
        &app,
        "/pricing/TR-42?at=2099-06-01T00:00:00%2B02:00",
        Some(&position),
    )
    .await?;
    assert_eq!(later.body["unitPrice"]["amount"], 3_600, "{}", later.body);
    assert_eq!(later.body["at"], "2099-05-31T22:00:00Z");

    // GraphQL: the price with its rules, loaded in one batch.
    let query = r#"query($sku: String!) {
        price(sku: $sku, context: {customerSegments: ["vip"], quantity: 2}, explain: true) {
            unitPrice { amount currency } lineTotal { amount }
            appliedRules { id name }
            explanation { ruleId outcome rankedBy failedCondition rule { name } }
        } }"#;
    let response = reqwest::Client::new()
        .post(app.url("/graphql"))
        .bearer_auth(&app.admin_token)
        .header("Shopcore-Min-Position", &position)
        .json(&json!({"query": query, "variables": {"sku": "TR-42"}}))
        .send()
        .await?;
    let graphql: Value = response.json().await?;
    assert_eq!(graphql["errors"], Value::Null, "{graphql}");
    let price = &graphql["data"]["price"];
    assert_eq!(
        price["unitPrice"],
        json!({"amount": 8_500, "currency": "EUR"})
    );
    assert_eq!(price["lineTotal"]["amount"], 17_000);
    assert_eq!(price["appliedRules"][1]["name"], "VIP sale");
    let batches = graphql["extensions"]["pricingQueries"]
        .as_i64()
        .unwrap_or(99);
    assert!(
        (1..=2).contains(&batches),
        "the applied rules and the verdicts' rules load in batches, not one by one: {graphql}"
    );
    let reads = r#"{ priceRules(sku: "TR-42") { edges { node { id name action { type percent price { amount } } } } }
        priceBooks { edges { node { name prices(first: 1) { edges { node { sku price { amount } } } pageInfo { hasNextPage } } } } } }"#;
    let response = reqwest::Client::new()
        .post(app.url("/graphql"))
        .bearer_auth(&app.admin_token)
        .json(&json!({"query": reads}))
        .send()
        .await?;
    let graphql: Value = response.json().await?;
    assert_eq!(graphql["errors"], Value::Null, "{graphql}");
    assert_eq!(
        graphql["data"]["priceRules"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let book = &graphql["data"]["priceBooks"]["edges"][0]["node"];
    assert_eq!(book["prices"]["edges"][0]["node"]["sku"], "TR-42");
    assert_eq!(book["prices"]["pageInfo"]["hasNextPage"], true);

    // Remove the SKU rule: the price no longer has it.
    let removed = send(
        &app,
        None,
        Method::DELETE,
        &format!("/pricing/rules/{sku_rule_id}"),
        None,
        &[],
    )
    .await?;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    let position = removed.header("shopcore-position");
    let price = get(&app, "/pricing/TR-42", Some(&position)).await?;
    assert_eq!(price.body["unitPrice"]["amount"], 10_000, "{}", price.body);
    let gone = get(
        &app,
        &format!("/pricing/rules/{sku_rule_id}"),
        Some(&position),
    )
    .await?;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_pricing_input_names_its_field_writes_nothing_and_scopes_hold() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let (book_id, position) = book(&app).await?;
    let ok = get(&app, "/pricing/TR-43", Some(&position)).await?;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);

    let before = app.event_count().await?;
    let long = "S".repeat(65);
    let unknown_book = format!("/pricing/TR-43?priceBook={}", Uuid::now_v7());
    let cases: Vec<(String, StatusCode, &str)> = vec![
        ("/pricing/%20".into(), StatusCode::BAD_REQUEST, "sku"),
        (format!("/pricing/{long}"), StatusCode::BAD_REQUEST, "sku"),
        ("/pricing/TR%2F43".into(), StatusCode::BAD_REQUEST, "sku"),
        ("/pricing/NO-SUCH".into(), StatusCode::NOT_FOUND, "sku"),
        (
            "/pricing/TR-43?currency=eur".into(),
            StatusCode::BAD_REQUEST,
            "currency",
        ),
        (
            "/pricing/TR-43?currency=XXX".into(),
            StatusCode::BAD_REQUEST,
            "currency",
        ),
        (
            "/pricing/TR-43?currency=USD".into(),
            StatusCode::CONFLICT,
            "currency",
        ),
        (
            "/pricing/TR-43?quantity=0".into(),
            StatusCode::BAD_REQUEST,
            "quantity",
        ),
        (
            "/pricing/TR-43?quantity=1000001".into(),
            StatusCode::BAD_REQUEST,
            "quantity",
        ),
        (
            "/pricing/TR-43?quantity=99999999999999".into(),
            StatusCode::BAD_REQUEST,
            "quantity",
        ),
        (
            "/pricing/TR-43?quantity=-1".into(),
            StatusCode::BAD_REQUEST,
            "quantity",
        ),
        (
            "/pricing/TR-43?at=yesterday".into(),
            StatusCode::BAD_REQUEST,
            "at",
        ),
        (
            "/pricing/TR-43?at=2026-12-01".into(),
            StatusCode::BAD_REQUEST,
            "at",
        ),
        (
            "/pricing/TR-43?at=2026-12-01%2000:00:00Z".into(),
            StatusCode::BAD_REQUEST,
            "at",
        ),
        (
            "/pricing/TR-43?priceBook=retail".into(),
            StatusCode::BAD_REQUEST,
            "priceBook",
        ),
        (unknown_book, StatusCode::NOT_FOUND, "priceBook"),
        (
            "/pricing/TR-43?customerSegments=vip".into(),
            StatusCode::BAD_REQUEST,
            "customerSegments",
        ),
        (
            "/pricing/TR-43?customerSegment=".into(),
            StatusCode::BAD_REQUEST,
            "customerSegment",
        ),
        (
            "/pricing/TR-43?customerSegment=a%E2%80%8Bb".into(),
            StatusCode::BAD_REQUEST,
            "customerSegment",
        ),
        (
            "/pricing/TR-43?channel=%20".into(),
            StatusCode::BAD_REQUEST,
            "channel",
        ),
        (
            "/pricing/TR-43?explain=1".into(),
            StatusCode::BAD_REQUEST,
            "explain",
        ),
        (
            "/pricing/TR-43?region=EU&region=US".into(),
            StatusCode::BAD_REQUEST,
            "region",
        ),
    ];
    for (path, status, field) in &cases {
        let answer = get(&app, path, None).await?;
        assert_eq!(answer.problem(*status), *field, "{path}: {}", answer.body);
    }
    let many: String = (0..33).map(|n| format!("customerSegment=s{n}&")).collect();
    let answer = get(&app, &format!("/pricing/TR-43?{many}"), None).await?;
    assert_eq!(answer.problem(StatusCode::BAD_REQUEST), "customerSegment");
    let answer = get(&app, "/pricing/TR-43", Some("999999999-1")).await?;
    assert_eq!(
        answer.problem(StatusCode::BAD_REQUEST),
        "Shopcore-Min-Position"
    );
    // Unicode segments, repeated, and the largest quantity are fine.
    let answer = get(
        &app,
        "/pricing/TR-43?customerSegment=%C4%90%E1%BB%93ng-v%C3%A0ng&customerSegment=%C4%90%E1%BB%93ng-v%C3%A0ng&customerSegment=%E4%BC%9A%E5%91%98&quantity=1000000",
        None,
    )
    .await?;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["lineTotal"]["amount"], 5_000_000_000_i64);

    // Bad rules and drafts: each names its field.
    let rule = |patch: Value| {
        let mut body = json!({"name": "R", "targets": {"skus": ["TR-43"]},
                              "action": {"type": "percentOff", "percent": "5"}});
        if let (Some(body), Some(patch)) = (body.as_object_mut(), patch.as_object()) {
            for (key, value) in patch {
                body.insert(key.clone(), value.clone());
            }
        }
        body
    };
    let bad_rules = [
        (json!({"targets": {}}), "targets"),
        (json!({"targets": {"skus": [" TR-43"]}}), "targets.skus"),
        (json!({"name": "  "}), "name"),
        (json!({"name": "x".repeat(201)}), "name"),
        (json!({"priority": 2_147_483_648_i64}), "priority"),
        (
            json!({"action": {"type": "percentOff", "percent": "100.5"}}),
            "action.percent",
        ),
        (
            // A tagged object is read whole, so serde names the object, not its member.
            json!({"action": {"type": "percentOff", "percent": 5}}),
            "action",
        ),
        (
            json!({"action": {"type": "setPrice", "price": {"amount": 1, "currency": "eur"}}}),
            "action.price.currency",
        ),
        (
            json!({"action": {"type": "setPrice", "price": {"amount": -1, "currency": "EUR"}}}),
            "action.price",
        ),
        (
            json!({"action": {"type": "amountOff", "amount": {"amount": 1, "currency": "USD"}},
                "conditions": {"currency": "EUR"}}),
            "action",
        ),
        (
            json!({"conditions": {"validFrom": "2027-01-01T00:00:00Z", "validUntil": "2026-01-01T00:00:00Z"}}),
            "conditions.validUntil",
        ),
        (
            json!({"conditions": {"minQuantity": 0}}),
            "conditions.minQuantity",
        ),
        (
            json!({"conditions": {"channels": null}}),
            "conditions.channels",
        ),
        (json!({"exclusive": null}), "exclusive"),
        (json!({"colour": "red"}), "colour"),
    ];
    for (patch, field) in &bad_rules {
        let answer = post(&app, "/pricing/rules", rule(patch.clone())).await?;
        assert_eq!(
            answer.problem(StatusCode::BAD_REQUEST),
            *field,
            "{patch}: {}",
            answer.body
        );
        let draft = post(
            &app,
            "/pricing/TR-43/simulate",
            json!({"draftRules": [rule(json!({})), rule(patch.clone())]}),
        )
        .await?;
        assert_eq!(
            draft.problem(StatusCode::BAD_REQUEST),
            format!("draftRules[1].{field}"),
            "{patch}: {}",
            draft.body
        );
    }
    let twice = Uuid::now_v7();
    let answer = post(
        &app,
        "/pricing/TR-43/simulate",
        json!({"draftRules": [rule(json!({"ruleId": twice})), rule(json!({"ruleId": twice}))]}),
    )
    .await?;
    assert_eq!(
        answer.problem(StatusCode::BAD_REQUEST),
        "draftRules[1].ruleId"
    );
    let answer = post(
        &app,
        "/pricing/TR-43/simulate",
        json!({"context": {"quantity": 0, "customerSegments": ["vip"]}}),
    )
    .await?;
    assert_eq!(answer.problem(StatusCode::BAD_REQUEST), "context.quantity");
    let answer = post(
        &app,
        "/pricing/TR-43/simulate",
        json!({"context": {"currency": " EUR"}}),
    )
    .await?;
    assert_eq!(answer.problem(StatusCode::BAD_REQUEST), "context.currency");
    let hundred: Vec<Value> = (0..100).map(|_| rule(json!({}))).collect();
    let answer = post(
        &app,
        "/pricing/TR-43/simulate",
        json!({"draftRules": hundred}),
    )
    .await?;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "100 drafts are allowed: {}",
        answer.body
    );
    assert_eq!(
        answer.body["explanation"].as_array().map(Vec::len),
        Some(100),
        "every draft has its verdict"
    );
    let over: Vec<Value> = (0..101).map(|_| rule(json!({}))).collect();
    let answer = post(&app, "/pricing/TR-43/simulate", json!({"draftRules": over})).await?;
    assert_eq!(answer.problem(StatusCode::BAD_REQUEST), "draftRules");
    let thousand: Vec<Value> = (0..1000).map(|_| rule(json!({}))).collect();
    let answer = post(
        &app,
        "/pricing/TR-43/simulate",
        json!({"draftRules": thousand}),
    )
    .await?;
    assert!(
        matches!(
            answer.status,
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE
        ),
        "{}",
        answer.status
    );
    assert_eq!(answer.header("content-type"), "application/problem+json");

    // Promotions: bad input names its field. Windows end before 2038: the `pricing_mysql`
    // projector binds instants as MySQL TIMESTAMPs, which end on 2038-01-19 (a later
    // `validFrom` halts it on a NOT NULL column; reported, not this test's subject).
    let promotion = |patch: Value| {
        let mut body = json!({"name": "BF", "discount": {"type": "percentOff", "percent": "10"},
                              "validFrom": "2026-11-27T00:00:00Z", "validUntil": "2037-12-01T00:00:00Z"});
        if let (Some(body), Some(patch)) = (body.as_object_mut(), patch.as_object()) {
            for (key, value) in patch {
                body.insert(key.clone(), value.clone());
            }
        }
        body
    };
    for (patch, field) in [
        (json!({"validUntil": "2020-01-01T00:00:00Z"}), "validUntil"),
        (json!({"validFrom": "soon"}), "validFrom"),
        (
            json!({"discount": {"type": "percentOff", "percent": "0"}}),
            "discount.percent",
        ),
        (
            json!({"discount": {"type": "amountOff", "amount": {"amount": 0, "currency": "EUR"}}}),
            "discount.amount",
        ),
        (json!({"couponCodes": ["ok-1", " spaced"]}), "couponCodes"),
        (json!({"usageLimitTotal": 0}), "usageLimitTotal"),
        (json!({"activateAtStart": null}), "activateAtStart"),
    ] {
        let answer = post(&app, "/promotions", promotion(patch.clone())).await?;
        assert_eq!(
            answer.problem(StatusCode::BAD_REQUEST),
            field,
            "{patch}: {}",
            answer.body
        );
    }
    assert_eq!(
        app.event_count().await?,
        before,
        "no refused request wrote anything"
    );

    // A promotion scheduled for its start, one activated by hand, found by code.
    let scheduled = post(
        &app,
        "/promotions",
        promotion(
            json!({"validFrom": "2037-01-01T00:00:00Z", "activateAtStart": true,
                         "couponCodes": ["later-98"]}),
        ),
    )
    .await?;
    assert_eq!(scheduled.status, StatusCode::CREATED, "{}", scheduled.body);
    assert_eq!(
        scheduled.body["activationScheduledAt"],
        "2037-01-01T00:00:00Z"
    );
    assert_eq!(scheduled.body["active"], false);
    let created = post(
        &app,
        "/promotions",
        promotion(json!({"couponCodes": ["bf-2026"]})),
    )
    .await?;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert_eq!(created.header("location"), format!("/promotions/{id}"));
    assert_eq!(created.body["couponCodes"], json!(["BF-2026"]));
    let taken = post(
        &app,
        "/promotions",
        promotion(json!({"couponCodes": ["BF-2026"]})),
    )
    .await?;
    assert_eq!(taken.problem(StatusCode::CONFLICT), "couponCodes");
    let active = post(&app, &format!("/promotions/{id}/activate"), json!({})).await?;
    assert_eq!(active.status, StatusCode::OK, "{}", active.body);
    assert_eq!(active.body["active"], true);
    let position = active.header("shopcore-position");
    let found = get(&app, "/promotions?code=bf-2026", Some(&position)).await?;
    assert_eq!(found.body["items"][0]["id"], id.as_str(), "{}", found.body);
    assert_eq!(found.body["items"][0]["active"], true);
    let listed = get(&app, "/promotions?active=false", Some(&position)).await?;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
    let one = get(&app, &format!("/promotions/{id}"), Some(&position)).await?;
    assert_eq!(one.header("etag"), "\"2\"");
    let off = post(&app, &format!("/promotions/{id}/deactivate"), json!({})).await?;
    assert_eq!(off.body["active"], false);
    // A window that has ended cannot be scheduled: the promotion's state, so 409.
    let ended = post(
        &app,
        "/promotions",
        promotion(
            json!({"validFrom": "2020-01-01T00:00:00Z", "validUntil": "2021-01-01T00:00:00Z"}),
        ),
    )
    .await?;
    assert_eq!(ended.status, StatusCode::CREATED, "{}", ended.body);
    let ended_id = ended.body["id"].as_str().expect("id").to_owned();
    let answer = post(
        &app,
        &format!("/promotions/{ended_id}/schedule-activation"),
        json!({}),
    )
    .await?;
    assert_eq!(answer.problem(StatusCode::CONFLICT), "validUntil");
    let answer = post(
        &app,
        &format!("/promotions/{}/activate", Uuid::now_v7()),
        json!({}),
    )
    .await?;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);

    // The book with its prices, a page at a time.
    let page = get(&app, &format!("/price-books/{book_id}?limit=1"), None).await?;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        (
            page.body["priceCount"].clone(),
            page.body["prices"][0]["sku"].clone()
        ),
        (json!(2), json!("TR-42"))
    );
    let cursor = page.body["nextCursor"].as_str().expect("next").to_owned();
    assert_eq!(cursor, "TR-42/EUR");
    let next = get(
        &app,
        &format!("/price-books/{book_id}?limit=1&cursor={cursor}"),
        None,
    )
    .await?;
    assert_eq!(next.body["prices"][0]["sku"], "TR-43");
    assert_eq!(next.body["nextCursor"], Value::Null);
    let one_sku = get(&app, &format!("/price-books/{book_id}?sku=TR-43"), None).await?;
    assert_eq!(one_sku.body["prices"].as_array().map(Vec::len), Some(1));
    let books = get(&app, "/price-books", None).await?;
    assert_eq!(books.body["items"][0]["id"], book_id.as_str());
    let missing = get(&app, &format!("/price-books/{}", Uuid::now_v7()), None).await?;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Scopes: a storefront session needs view_prices for a price, and cannot read the rule
    // book, simulate or write; a platform reader cannot write.
    let customer = Uuid::now_v7();
    let without = app.token("shopper", &[VIEW_PRODUCTS], Some(customer))?;
    let answer = send(
        &app,
        Some(&without),
        Method::GET,
        "/pricing/TR-43",
        None,
        &[],
    )
    .await?;
    assert_eq!(answer.problem(StatusCode::FORBIDDEN), "");
    assert_eq!(answer.body["scope"], VIEW_PRICES);
    let shopper = app.token("shopper", &[VIEW_PRICES], Some(customer))?;
    let answer = send(
        &app,
        Some(&shopper),
        Method::GET,
        "/pricing/TR-43",
        None,
        &[],
    )
    .await?;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    for path in ["/pricing/rules", "/promotions", "/price-books"] {
        let answer = send(&app, Some(&shopper), Method::GET, path, None, &[]).await?;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
    }
    let answer = send(
        &app,
        Some(&shopper),
        Method::POST,
        "/pricing/TR-43/simulate",
        Some(json!({})),
        &[],
    )
    .await?;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let reader = app.token("analyst", &[VIEW_PRICES], None)?;
    let answer = send(
        &app,
        Some(&reader),
        Method::POST,
        "/pricing/rules",
        Some(rule(json!({}))),
        &[],
    )
    .await?;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.body["scope"], MANAGE_PRICES);
    let query = json!({"query": "{ price(sku: \"TR-43\") { unitPrice { amount } } }"});
    let graphql: Value = reqwest::Client::new()
        .post(app.url("/graphql"))
        .bearer_auth(&without)
        .json(&query)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        graphql["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{graphql}"
    );
    let graphql: Value = reqwest::Client::new()
        .post(app.url("/graphql"))
        .bearer_auth(&shopper)
        .json(&json!({"query": "{ price(sku: \"TR-43\", context: {currency: \"eur\"}) { unitPrice { amount } } }"}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        graphql["errors"][0]["extensions"]["field"], "context.currency",
        "{graphql}"
    );
    app.cleanup().await
}
