//! The customer slice end to end: REST → gRPC → event store → projectors → MySQL / Redis → REST.

use futures::future::try_join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use shopcore_e2e::TestApp;
use shopcore_event_store::LogPosition;

async fn create(app: &TestApp, body: Value) -> anyhow::Result<reqwest::Response> {
    Ok(app
        .http
        .post(app.url("/customers"))
        .json(&body)
        .send()
        .await?)
}

fn position(response: &reqwest::Response) -> LogPosition {
    response
        .headers()
        .get("shopcore-position")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a write answers with a Shopcore-Position token")
}

async fn problem(response: reqwest::Response, status: StatusCode) -> anyhow::Result<Value> {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "errors are problem documents"
    );
    Ok(response.json().await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_read_update_and_check_the_stores() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;

    let created = app
        .http
        .post(app.url("/customers"))
        .header("x-correlation-id", "e2e-create-1")
        .json(&json!({"email": "Ada@Example.com", "firstName": "Ada", "lastName": "Lovelace"}))
        .send()
        .await?;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["x-correlation-id"], "e2e-create-1");
    let created_at = position(&created);
    let customer: Value = created.json().await?;
    let id = customer["id"].as_str().expect("id").to_owned();
    assert_eq!(customer["email"], "ada@example.com");
    assert_eq!(customer["version"], 1);

    let read = app
        .http
        .get(app.url(&format!("/customers/{id}")))
        .header("shopcore-min-position", created_at.to_string())
        .send()
        .await?;
    assert_eq!(read.status(), StatusCode::OK);
    let read: Value = read.json().await?;
    assert_eq!(read["firstName"], "Ada");
    assert_eq!(read["segments"], json!([]));

    let updated = app
        .http
        .put(app.url(&format!("/customers/{id}")))
        .header("if-match", "\"1\"")
        .json(&json!({"lastName": "King", "phone": "+44 20 7946 0958"}))
        .send()
        .await?;
    assert_eq!(updated.status(), StatusCode::OK);
    let updated_at = position(&updated);
    assert!(updated_at > created_at);
    let updated: Value = updated.json().await?;
    assert_eq!(updated["lastName"], "King");
    assert_eq!(
        updated["firstName"], "Ada",
        "absent fields stay as they are"
    );
    assert_eq!(updated["version"], 2);

    let segmented = app
        .http
        .post(app.url(&format!("/customers/{id}/segments")))
        .json(&json!({"segments": ["VIP", "general"]}))
        .send()
        .await?;
    assert_eq!(segmented.status(), StatusCode::OK);
    let segmented_at = position(&segmented);
    let segmented: Value = segmented.json().await?;
    assert_eq!(segmented["segments"], json!(["VIP", "general"]));

    // Writes answer without waiting for the projections; a read asks to see the last one.
    let read = app
        .http
        .get(app.url(&format!("/customers/{id}")))
        .header("shopcore-min-position", segmented_at.to_string())
        .send()
        .await?;
    assert_eq!(read.status(), StatusCode::OK);
    let read: Value = read.json().await?;
    assert_eq!(read["segments"], json!(["VIP", "general"]));
    assert_eq!(read["version"], 3);
    assert!(read["createdAt"].is_string() && read["updatedAt"].is_string());

    // MySQL holds the profile, at the aggregate's version.
    let (last_name, phone, version): (String, Option<String>, u64) =
        sqlx::query_as("SELECT last_name, phone, version FROM customer_profiles WHERE id = ?")
            .bind(&id)
            .fetch_one(&app.mysql)
            .await?;
    assert_eq!(
        (last_name.as_str(), phone.as_deref(), version),
        ("King", Some("+442079460958"), 3)
    );
    let segments: Vec<String> =
        sqlx::query_scalar("SELECT CONVERT(segment USING utf8mb4) FROM customer_segments WHERE customer_id = ? ORDER BY segment")
            .bind(&id)
            .fetch_all(&app.mysql)
            .await?;
    assert_eq!(segments, ["VIP", "general"]);

    // Redis holds the snapshot; its projector may trail MySQL's by a moment.
    let key = format!("{}customer::{id}", app.redis_prefix);
    let mut redis = app.redis.clone();
    let mut snapshot = Value::Null;
    for _ in 0..100 {
        let json: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut redis).await?;
        snapshot = json
            .map(|j| serde_json::from_str(&j))
            .transpose()?
            .unwrap_or(Value::Null);
        let at: Option<LogPosition> = snapshot["position"].as_str().and_then(|p| p.parse().ok());
        if at >= Some(segmented_at) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(snapshot["version"], 3, "redis snapshot: {snapshot}");
    assert_eq!(snapshot["lastName"], "King");
    assert_eq!(snapshot["segments"], json!(["VIP", "general"]));

    // The correlation id travelled into the event's metadata.
    let correlation: String = sqlx::query_scalar(
        "SELECT metadata->>'correlationId' FROM events WHERE aggregate_id = $1 AND sequence = 1",
    )
    .bind(&id)
    .fetch_one(&app.pg)
    .await?;
    assert_eq!(correlation, "e2e-create-1");

    // Metrics name the plan's counters.
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        metrics.contains("customer_create_total{outcome=\"created\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("customer_update_latency_seconds_count 2"),
        "{metrics}"
    );
    let ready = app.http.get(app.url("/readyz")).send().await?;
    assert_eq!(ready.status(), StatusCode::OK);

    app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_problems_and_write_nothing() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let taken = create(
        &app,
        json!({"email": "grace@example.com", "firstName": "Grace", "lastName": "Hopper"}),
    )
    .await?;
    assert_eq!(taken.status(), StatusCode::CREATED);
    let grace: Value = taken.json().await?;
    let grace_id = grace["id"].as_str().unwrap().to_owned();
    let events_before = app.event_count().await?;

    let invalid_email = problem(
        create(
            &app,
            json!({"email": "not-an-email", "firstName": "A", "lastName": "B"}),
        )
        .await?,
        StatusCode::BAD_REQUEST,
    )
    .await?;
    assert_eq!(invalid_email["field"], "email");
    assert_eq!(
        invalid_email["type"],
        "https://shopcore.dev/problems/invalid-argument"
    );

    let missing = problem(
        create(&app, json!({"email": "a@example.com", "firstName": "A"})).await?,
        StatusCode::BAD_REQUEST,
    )
    .await?;
    assert_eq!(missing["field"], "lastName");

    let wrong_type = problem(
        create(
            &app,
            json!({"email": "a@example.com", "firstName": 7, "lastName": "B"}),
        )
        .await?,
        StatusCode::BAD_REQUEST,
    )
    .await?;
    assert_eq!(wrong_type["field"], "firstName");

    let malformed = app
        .http
        .post(app.url("/customers"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await?;
    problem(malformed, StatusCode::BAD_REQUEST).await?;

    let duplicate = problem(
        create(
            &app,
            json!({"email": "GRACE@example.com", "firstName": "G", "lastName": "H"}),
        )
        .await?,
        StatusCode::CONFLICT,
    )
    .await?;
    assert_eq!(duplicate["field"], "email");

    let bad_id = problem(
        app.http
            .get(app.url("/customers/not-a-uuid"))
            .send()
            .await?,
        StatusCode::BAD_REQUEST,
    )
    .await?;
    assert_eq!(bad_id["field"], "id");

    let unknown = app
        .http
        .get(app.url("/customers/0192f000-0000-7000-8000-000000000000"))
        .send()
        .await?;
    problem(unknown, StatusCode::NOT_FOUND).await?;
    let unknown_update = app
        .http
        .put(app.url("/customers/0192f000-0000-7000-8000-000000000000"))
        .json(&json!({"firstName": "Nobody"}))
        .send()
        .await?;
    problem(unknown_update, StatusCode::NOT_FOUND).await?;

    let stale = app
        .http
        .put(app.url(&format!("/customers/{grace_id}")))
        .header("if-match", "\"7\"")
        .json(&json!({"firstName": "Amazing Grace"}))
        .send()
        .await?;
    let stale = problem(stale, StatusCode::CONFLICT).await?;
    assert_eq!(stale["currentVersion"], 1);

    let empty = app
        .http
        .put(app.url(&format!("/customers/{grace_id}")))
        .json(&json!({}))
        .send()
        .await?;
    problem(empty, StatusCode::BAD_REQUEST).await?;

    let bad_segment = app
        .http
        .post(app.url(&format!("/customers/{grace_id}/segments")))
        .json(&json!({"segments": ["no spaces allowed"]}))
        .send()
        .await?;
    assert_eq!(
        problem(bad_segment, StatusCode::BAD_REQUEST).await?["field"],
        "segments"
    );

    assert_eq!(
        app.event_count().await?,
        events_before,
        "a rejected request wrote an event"
    );
    app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_clients_create_a_hundred_customers_each() -> anyhow::Result<()> {
    const CLIENTS: usize = 8;
    const PER_CLIENT: usize = 100;
    let app = TestApp::spawn().await?;
    let clients = (0..CLIENTS).map(|client| {
        let app = &app;
        async move {
            let mut created = Vec::new();
            for n in 0..PER_CLIENT {
                let response = create(
                    app,
                    json!({"email": format!("c{client}-{n}@example.com"), "firstName": "Client", "lastName": format!("N{n}")}),
                )
                .await?;
                anyhow::ensure!(response.status() == StatusCode::CREATED, "status {}", response.status());
                let at = position(&response);
                let body: Value = response.json().await?;
                created.push((body["id"].as_str().unwrap_or_default().to_owned(), at));
            }
            anyhow::Ok(created)
        }
    });
    let created: Vec<(String, LogPosition)> =
        try_join_all(clients).await?.into_iter().flatten().collect();
    assert_eq!(created.len(), CLIENTS * PER_CLIENT);

    for (id, at) in &created {
        let response = app
            .http
            .get(app.url(&format!("/customers/{id}")))
            .header("shopcore-min-position", at.to_string())
            .send()
            .await?;
        assert_eq!(response.status(), StatusCode::OK, "customer {id}");
    }
    let in_mysql: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customer_profiles")
        .fetch_one(&app.mysql)
        .await?;
    assert_eq!(in_mysql as usize, CLIENTS * PER_CLIENT);
    assert_eq!(app.event_count().await? as usize, CLIENTS * PER_CLIENT);
    app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_answer_from_the_command_while_the_projections_are_down() -> anyhow::Result<()> {
    let mut app = TestApp::spawn().await?;
    app.kill("shopcore-projections").await?;

    let created = create(
        &app,
        json!({"email": "offline@Example.COM", "firstName": "Off", "lastName": "Line", "phone": "+1 202 555 0100"}),
    )
    .await?;
    assert_eq!(
        created.status(),
        StatusCode::CREATED,
        "no projection is waited for"
    );
    let at = position(&created);
    assert_eq!(created.headers()["etag"], "\"1\"");
    let body: Value = created.json().await?;
    assert_eq!(
        body["email"], "offline@example.com",
        "as the command normalised it"
    );
    assert_eq!(body["firstName"], "Off");
    assert_eq!(body["phone"], "+12025550100", "E.164");
    assert_eq!(body["version"], 1);
    assert_eq!(body["position"], at.to_string());
    let id = body["id"].as_str().expect("id").to_owned();

    let segmented = app
        .http
        .post(app.url(&format!("/customers/{id}/segments")))
        .header("if-match", "\"1\"")
        .json(&json!({"segments": ["VIP"]}))
        .send()
        .await?;
    assert_eq!(segmented.status(), StatusCode::OK);
    let segmented_at = position(&segmented);
    assert!(segmented_at > at, "{segmented_at} after {at}");
    let body: Value = segmented.json().await?;
    assert_eq!(body["segments"], json!(["VIP"]));
    assert_eq!(
        body["lastName"], "Line",
        "the whole customer, not only what changed"
    );
    assert_eq!(body["version"], 2);

    // A read that asks for the write waits, then says to retry: the read model is behind.
    let behind = app
        .http
        .get(app.url(&format!("/customers/{id}")))
        .header("shopcore-min-position", segmented_at.to_string())
        .send()
        .await?;
    let behind = problem(behind, StatusCode::SERVICE_UNAVAILABLE).await?;
    assert!(
        behind["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("retry"),
        "{behind}"
    );
    app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_min_position_the_log_does_not_hold_is_rejected_at_once() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let created = create(
        &app,
        json!({"email": "tokens@example.com", "firstName": "To", "lastName": "Ken"}),
    )
    .await?;
    let at = position(&created);
    let id = created.json::<Value>().await?["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let beyond = LogPosition::new(at.tx, at.position + 1_000_000);
    let other_tx = LogPosition::new(at.tx + 1, at.position);
    for (token, what) in [
        (beyond.to_string(), "a position beyond the log's head"),
        (
            other_tx.to_string(),
            "a position written by another transaction",
        ),
        ("17".to_owned(), "a bare number"),
        ("-1-2".to_owned(), "a negative number"),
        ("99999999999999999999-1".to_owned(), "a number out of range"),
        ("1-2 ".repeat(100), "garbage"),
    ] {
        let response = app
            .http
            .get(app.url(&format!("/customers/{id}")))
            .header("shopcore-min-position", token.trim())
            .send()
            .await?;
        let body = problem(response, StatusCode::BAD_REQUEST).await?;
        // 400, not the 503 a wait for the read model ends in: it was refused without waiting.
        assert_eq!(body["field"], "Shopcore-Min-Position", "{what}: {body}");
    }
    let ok = app
        .http
        .get(app.url(&format!("/customers/{id}")))
        .header("shopcore-min-position", at.to_string())
        .send()
        .await?;
    assert_eq!(ok.status(), StatusCode::OK);
    app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn look_alike_values_are_one_value_and_oversized_bodies_are_413() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let composed = create(
        &app,
        json!({"email": "zoë@example.com", "firstName": "Zoë", "lastName": "Ämberg"}),
    )
    .await?;
    assert_eq!(composed.status(), StatusCode::CREATED);
    let composed: Value = composed.json().await?;
    // The same address typed with a combining diaeresis is the same address.
    let decomposed = create(
        &app,
        json!({"email": "zoe\u{308}@EXAMPLE.com", "firstName": "Zoe\u{308}", "lastName": "A\u{308}mberg"}),
    )
    .await?;
    assert_eq!(
        problem(decomposed, StatusCode::CONFLICT).await?["field"],
        "email"
    );
    // Characters that do not show are refused, not stored.
    let invisible = create(
        &app,
        json!({"email": "ghost@example.com", "firstName": "Gho\u{200B}st", "lastName": "Writer"}),
    )
    .await?;
    assert_eq!(
        problem(invisible, StatusCode::BAD_REQUEST).await?["field"],
        "firstName"
    );
    let id = composed["id"].as_str().expect("id").to_owned();
    let events = app.event_count().await?;
    let huge = app
        .http
        .post(app.url("/customers"))
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"email": "big@example.com", "firstName": "{}", "lastName": "B"}}"#,
            "a".repeat(70_000)
        ))
        .send()
        .await?;
    let huge = problem(huge, StatusCode::PAYLOAD_TOO_LARGE).await?;
    assert_eq!(
        huge["type"],
        "https://shopcore.dev/problems/payload-too-large"
    );
    // An invalid value is not echoed back unbounded.
    let long_segment = "x y".repeat(10_000);
    let echoed = app
        .http
        .post(app.url(&format!("/customers/{id}/segments")))
        .json(&json!({"segments": [long_segment]}))
        .send()
        .await?;
    let echoed = problem(echoed, StatusCode::BAD_REQUEST).await?;
    assert_eq!(echoed["field"], "segments");
    assert!(
        echoed["detail"].as_str().unwrap_or_default().len() < 200,
        "{echoed}"
    );
    assert_eq!(app.event_count().await?, events, "nothing written");
    app.cleanup().await
}
