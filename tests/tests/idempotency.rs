//! Idempotency keys that cannot leak or collide: a key is the caller's, for one operation, and
//! bound to the first request; duplicates that race the first wait for it; ids never come from
//! keys. The real processes over HTTP.

use futures::future::try_join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use shopcore_auth::scopes::{MANAGE_CUSTOMERS, VIEW_CUSTOMERS};
use shopcore_e2e::TestApp;
use uuid::Uuid;

async fn post(
    app: &TestApp,
    token: &str,
    key: &str,
    body: &Value,
) -> anyhow::Result<reqwest::Response> {
    Ok(reqwest::Client::new()
        .post(app.url("/customers"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_returns_the_first_result_and_another_request_is_refused() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let shop = app.token("shop-a", &[MANAGE_CUSTOMERS, VIEW_CUSTOMERS], None)?;
    let body = json!({"email": "retry@example.com", "firstName": "Re", "lastName": "Try"});

    let first = post(&app, &shop, "signup-42", &body).await?;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first_position = first.headers()["shopcore-position"].clone();
    let first: Value = first.json().await?;
    let id = first["id"].as_str().expect("id").to_owned();
    assert_eq!(
        Uuid::parse_str(&id)?.get_version_num(),
        7,
        "a fresh v7 id, not one derived from the key"
    );

    let retry = post(&app, &shop, "signup-42", &body).await?;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["shopcore-position"], first_position);
    let retry: Value = retry.json().await?;
    assert_eq!(retry["id"], first["id"]);
    assert_eq!(app.event_count().await?, 1);

    // The same key with another body: refused, and the first customer is not revealed.
    let other =
        json!({"email": "someone-else@example.com", "firstName": "Mal", "lastName": "Lory"});
    let refused = post(&app, &shop, "signup-42", &other).await?;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let problem = refused.text().await?;
    assert!(problem.contains("idempotencyKey"), "{problem}");
    assert!(
        !problem.contains(&id) && !problem.contains("retry@"),
        "leaks the first result: {problem}"
    );
    assert_eq!(app.event_count().await?, 1, "nothing written");

    // Another caller's key is another key: it gets its own customer, never shop-a's.
    let other_shop = app.token("shop-b", &[MANAGE_CUSTOMERS], None)?;
    let theirs = post(&app, &other_shop, "signup-42", &other).await?;
    assert_eq!(theirs.status(), StatusCode::CREATED);
    let theirs: Value = theirs.json().await?;
    assert_ne!(theirs["id"], first["id"]);
    assert_eq!(theirs["email"], "someone-else@example.com");
    // …and with shop-a's very body it runs afresh (the e-mail is taken), not as shop-a's replay.
    let clash = post(&app, &other_shop, "signup-43", &body).await?;
    assert_eq!(clash.status(), StatusCode::CONFLICT);
    let clash = clash.text().await?;
    assert!(!clash.contains(&id), "{clash}");

    // A request that failed leaves its key free: fixed and retried with the same key, it runs.
    let bad = json!({"email": "not-an-email", "firstName": "Fix", "lastName": "Me"});
    assert_eq!(
        post(&app, &shop, "signup-44", &bad).await?.status(),
        StatusCode::BAD_REQUEST
    );
    let fixed = json!({"email": "fixed@example.com", "firstName": "Fix", "lastName": "Me"});
    assert_eq!(
        post(&app, &shop, "signup-44", &fixed).await?.status(),
        StatusCode::CREATED
    );
    app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_wait_for_the_first_and_share_its_result() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let token = app.token("checkout", &[MANAGE_CUSTOMERS], None)?;
    let body = json!({"email": "burst@example.com", "firstName": "Bu", "lastName": "Rst"});
    let responses = try_join_all((0..8).map(|_| post(&app, &token, "burst-1", &body))).await?;
    let mut ids = Vec::new();
    for response in responses {
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "no 409 for a duplicate"
        );
        ids.push(response.json::<Value>().await?["id"].clone());
    }
    ids.dedup();
    assert_eq!(
        ids.len(),
        1,
        "every duplicate got the first result: {ids:?}"
    );
    assert_eq!(app.event_count().await?, 1);
    app.cleanup().await
}
