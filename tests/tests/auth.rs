//! Who may do what: every route refuses a request without a valid token (401 with a
//! `WWW-Authenticate` challenge) and a token without the scope it needs (403 naming the
//! scope); a customer-bound token reaches only its own customer and never assigns segments; the
//! gRPC service checks the same, and records the token's subject as the actor.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shopcore_auth::scopes::{
    MANAGE_CUSTOMERS, MANAGE_MY_PROFILE, MANAGE_PRODUCTS, VIEW_CUSTOMERS, VIEW_MY_PROFILE,
    VIEW_PRODUCTS,
};
use shopcore_e2e::TestApp;
use shopcore_proto::customer::v1 as pb;
use shopcore_proto::customer::v1::customer_commands_client::CustomerCommandsClient;
use uuid::Uuid;

/// Every protected route, with a body that would be valid, and the scope it needs.
fn routes(id: &str) -> Vec<(Method, String, Option<Value>, &'static str)> {
    vec![
        (
            Method::POST,
            "/customers".to_owned(),
            Some(
                json!({"email": format!("new-{}@example.com", Uuid::new_v4()), "firstName": "N", "lastName": "W"}),
            ),
            MANAGE_CUSTOMERS,
        ),
        (
            Method::GET,
            format!("/customers/{id}"),
            None,
            VIEW_CUSTOMERS,
        ),
        (
            Method::PUT,
            format!("/customers/{id}"),
            Some(json!({"lastName": "Changed"})),
            MANAGE_CUSTOMERS,
        ),
        (
            Method::POST,
            format!("/customers/{id}/segments"),
            Some(json!({"segments": ["VIP"]})),
            MANAGE_CUSTOMERS,
        ),
        (
            Method::POST,
            format!("/customers/{id}/addresses"),
            Some(json!({"line1": "Main St 1", "city": "Oslo", "country": "NO"})),
            MANAGE_CUSTOMERS,
        ),
        (
            Method::PUT,
            format!("/customers/{id}/addresses/{}", Uuid::new_v4()),
            Some(json!({"line1": "Main St 2", "city": "Oslo", "country": "NO"})),
            MANAGE_CUSTOMERS,
        ),
        (
            Method::DELETE,
            format!("/customers/{id}/addresses/{}", Uuid::new_v4()),
            None,
            MANAGE_CUSTOMERS,
        ),
        (Method::GET, "/products".to_owned(), None, VIEW_PRODUCTS),
        (
            Method::GET,
            format!("/products/{}", Uuid::new_v4()),
            None,
            VIEW_PRODUCTS,
        ),
        (Method::GET, "/categories".to_owned(), None, VIEW_PRODUCTS),
        (
            Method::POST,
            "/products".to_owned(),
            Some(json!({"name": "Shoe"})),
            MANAGE_PRODUCTS,
        ),
        (
            Method::PATCH,
            format!("/products/{}", Uuid::new_v4()),
            Some(json!({"name": "Boot"})),
            MANAGE_PRODUCTS,
        ),
        (
            Method::DELETE,
            format!("/products/{}", Uuid::new_v4()),
            None,
            MANAGE_PRODUCTS,
        ),
        (
            Method::PUT,
            format!("/products/{}/categories", Uuid::new_v4()),
            Some(json!({"categories": []})),
            MANAGE_PRODUCTS,
        ),
        (
            Method::POST,
            format!("/products/{}/variants", Uuid::new_v4()),
            Some(json!({"sku": "S-1"})),
            MANAGE_PRODUCTS,
        ),
        (
            Method::PATCH,
            format!("/products/{}/variants/{}", Uuid::new_v4(), Uuid::new_v4()),
            Some(json!({"sku": "S-2"})),
            MANAGE_PRODUCTS,
        ),
        (
            Method::DELETE,
            format!("/products/{}/variants/{}", Uuid::new_v4(), Uuid::new_v4()),
            None,
            MANAGE_PRODUCTS,
        ),
        (
            Method::POST,
            format!("/products/{}/publish", Uuid::new_v4()),
            None,
            MANAGE_PRODUCTS,
        ),
        (
            Method::POST,
            format!("/products/{}/unpublish", Uuid::new_v4()),
            None,
            MANAGE_PRODUCTS,
        ),
        (
            Method::POST,
            "/categories".to_owned(),
            Some(json!({"key": "shoes", "name": "Shoes"})),
            MANAGE_PRODUCTS,
        ),
        (
            Method::PATCH,
            "/categories/shoes".to_owned(),
            Some(json!({"name": "Footwear"})),
            MANAGE_PRODUCTS,
        ),
        (
            Method::POST,
            "/categories/shoes/move".to_owned(),
            Some(json!({"position": 1})),
            MANAGE_PRODUCTS,
        ),
        (
            Method::DELETE,
            "/categories/shoes".to_owned(),
            None,
            MANAGE_PRODUCTS,
        ),
    ]
}

async fn send(
    app: &TestApp,
    token: Option<&str>,
    (method, path, body): (Method, &str, Option<&Value>),
) -> anyhow::Result<reqwest::Response> {
    let mut request = reqwest::Client::new().request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    Ok(request.send().await?)
}

async fn problem(response: reqwest::Response, status: StatusCode) -> anyhow::Result<Value> {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    Ok(response.json().await?)
}

async fn create(app: &TestApp, email: &str) -> anyhow::Result<String> {
    let created = app
        .http
        .post(app.url("/customers"))
        .json(&json!({"email": email, "firstName": "Au", "lastName": "Th"}))
        .send()
        .await?;
    assert_eq!(created.status(), StatusCode::CREATED);
    let position = created.headers()["shopcore-position"].to_str()?.to_owned();
    let id = created.json::<Value>().await?["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // The tests read it back with other tokens: wait until the read model has it (another
    // test's open transaction can hold every projector back for a while).
    for _ in 0..60 {
        let read = app
            .http
            .get(app.url(&format!("/customers/{id}")))
            .header("Shopcore-Min-Position", &position)
            .send()
            .await?;
        if read.status() == StatusCode::OK {
            return Ok(id);
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    anyhow::bail!("customer {id} never reached the read model")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_missing_bad_and_underscoped_tokens() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let id = create(&app, "owner@example.com").await?;
    let events_before = app.event_count().await?;

    let other_deployment = shopcore_auth::token::mint_hs256(
        b"a secret of some other deployment!!",
        "shopcore",
        "shopcore",
        "intruder",
        &[MANAGE_CUSTOMERS, VIEW_CUSTOMERS],
        None,
        std::time::Duration::from_secs(600),
    )?;
    // A token with a scope, but not the one the route needs.
    let catalog_reader = app.token("catalog-service", &[VIEW_PRODUCTS], None)?;
    let customer_reader = app.token("crm-service", &[VIEW_CUSTOMERS], None)?;
    for (method, path, body, scope) in routes(&id) {
        let route = format!("{method} {path}");
        let missing = send(&app, None, (method.clone(), &path, body.as_ref())).await?;
        assert_eq!(
            missing.headers()["www-authenticate"],
            r#"Bearer realm="shopcore""#,
            "{route}"
        );
        let missing = problem(missing, StatusCode::UNAUTHORIZED).await?;
        assert_eq!(
            missing["type"], "https://shopcore.dev/problems/unauthenticated",
            "{route}"
        );

        for bad in [other_deployment.as_str(), "not.a.jwt", ""] {
            let response = send(&app, Some(bad), (method.clone(), &path, body.as_ref())).await?;
            assert!(
                response.headers()["www-authenticate"]
                    .to_str()?
                    .starts_with("Bearer realm=\"shopcore\""),
                "{route}"
            );
            problem(response, StatusCode::UNAUTHORIZED).await?;
        }

        let forbidden = send(
            &app,
            Some(if scope == VIEW_PRODUCTS {
                &customer_reader
            } else {
                &catalog_reader
            }),
            (method.clone(), &path, body.as_ref()),
        )
        .await?;
        let forbidden = problem(forbidden, StatusCode::FORBIDDEN).await?;
        assert_eq!(forbidden["scope"], scope, "{route}: {forbidden}");
        assert_eq!(
            forbidden["type"],
            "https://shopcore.dev/problems/permission-denied"
        );
    }
    assert_eq!(
        app.event_count().await?,
        events_before,
        "a refused request wrote an event"
    );

    // The operational endpoints stay open.
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let response = reqwest::Client::new().get(app.url(path)).send().await?;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_token_reaches_only_its_own_customer() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let mine = create(&app, "me@example.com").await?;
    let theirs = create(&app, "them@example.com").await?;
    let token = app.token(
        "storefront-session-1",
        &[VIEW_MY_PROFILE, MANAGE_MY_PROFILE],
        Some(Uuid::parse_str(&mine)?),
    )?;

    let own = send(
        &app,
        Some(&token),
        (Method::GET, &format!("/customers/{mine}"), None),
    )
    .await?;
    assert_eq!(own.status(), StatusCode::OK);
    let changed = send(
        &app,
        Some(&token),
        (
            Method::PUT,
            &format!("/customers/{mine}"),
            Some(&json!({"firstName": "Me"})),
        ),
    )
    .await?;
    assert_eq!(changed.status(), StatusCode::OK);

    for (method, path, body) in [
        (Method::GET, format!("/customers/{theirs}"), None),
        (
            Method::PUT,
            format!("/customers/{theirs}"),
            Some(json!({"firstName": "Hacked"})),
        ),
        (
            Method::POST,
            format!("/customers/{mine}/segments"),
            Some(json!({"segments": ["VIP"]})),
        ),
        (
            Method::POST,
            "/customers".to_owned(),
            Some(json!({"email": "x@example.com", "firstName": "X", "lastName": "Y"})),
        ),
    ] {
        let response = send(&app, Some(&token), (method.clone(), &path, body.as_ref())).await?;
        let body = problem(response, StatusCode::FORBIDDEN).await?;
        assert!(body["scope"].is_string(), "{method} {path}: {body}");
    }
    let theirs_now = app
        .http
        .get(app.url(&format!("/customers/{theirs}")))
        .send()
        .await?
        .json::<Value>()
        .await?;
    assert_eq!(
        theirs_now["firstName"], "Au",
        "the other customer is untouched"
    );
    app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grpc_service_checks_tokens_and_records_their_subject_as_actor() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc_addr))?
        .connect()
        .await?;
    let mut client = CustomerCommandsClient::new(channel);
    let register = |email: &str| pb::RegisterCustomerRequest {
        customer_id: Uuid::now_v7().to_string(),
        email: email.to_owned(),
        first_name: "G".into(),
        last_name: "Rpc".into(),
        phone: None,
        options: None,
    };

    let anonymous = client
        .register_customer(register("anon@example.com"))
        .await
        .expect_err("no token");
    assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);

    let viewer = app.token("viewer", &[VIEW_CUSTOMERS], None)?;
    let mut request = tonic::Request::new(register("viewer@example.com"));
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {viewer}").parse()?);
    let denied = client
        .register_customer(request)
        .await
        .expect_err("no manage scope");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    assert!(
        denied.message().contains(MANAGE_CUSTOMERS),
        "{}",
        denied.message()
    );

    // A client-supplied actor header changes nothing: the actor is the token's subject.
    let writer = app.token("back-office-7", &[MANAGE_CUSTOMERS], None)?;
    let message = register("writer@example.com");
    let id = message.customer_id.clone();
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {writer}").parse()?);
    request
        .metadata_mut()
        .insert("x-actor", "someone-else".parse()?);
    client.register_customer(request).await?;
    let actor: String = sqlx::query_scalar(
        "SELECT metadata->>'actor' FROM events WHERE aggregate_id = $1 AND sequence = 1",
    )
    .bind(&id)
    .fetch_one(&app.pg)
    .await?;
    assert_eq!(actor, "back-office-7");
    assert_eq!(
        app.event_count().await?,
        1,
        "the refused commands wrote nothing"
    );
    app.cleanup().await
}
