//! A projector that meets an event it can never apply says so everywhere an operator looks —
//! while the write side keeps answering. The real processes, over HTTP.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use shopcore_e2e::TestApp;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_halted_projector_is_loud_and_writes_still_answer() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let create = |email: &str| {
        app.http
            .post(app.url("/customers"))
            .json(&json!({"email": email, "firstName": "Ha", "lastName": "Lt"}))
            .send()
    };
    assert_eq!(
        create("before@example.com").await?.status(),
        StatusCode::CREATED
    );

    // An event no read model can apply (written around the domain, as a bad migration or a
    // buggy producer might).
    let poisoned = Uuid::new_v4();
    let poison_id: Uuid = sqlx::query_scalar(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('customer', $1, 1, 'CustomerRegistered', '1', '{\"Nonsense\": true}'::jsonb, '{}'::jsonb)
         RETURNING event_id",
    )
    .bind(poisoned.to_string())
    .fetch_one(&app.pg)
    .await?;
    sqlx::query("SELECT pg_notify('shopcore_events', '')")
        .execute(&app.pg)
        .await?;

    // Readiness says which projector stopped, at which event.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let ready = loop {
        let response = app
            .http
            .get(format!("{}/readyz", app.projections_url))
            .send()
            .await?;
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            let body = response.json::<Value>().await?;
            let customers_halted = body["projectors"].as_array().is_some_and(|all| {
                all.iter()
                    .filter(|p| {
                        p["name"]
                            .as_str()
                            .is_some_and(|n| n.starts_with("customer_"))
                    })
                    .all(|p| p["state"] == "halted")
            });
            if customers_halted {
                break body;
            }
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "projections never reported the halt"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let halted: Vec<&Value> = ready["projectors"]
        .as_array()
        .expect("projectors")
        .iter()
        .filter(|p| p["state"] == "halted")
        .collect();
    assert_eq!(
        halted.len(),
        2,
        "both customer projectors stop at the event, the catalog one goes on: {ready}"
    );
    for projector in &halted {
        assert_eq!(projector["eventId"], poison_id.to_string(), "{ready}");
        assert_eq!(projector["eventType"], "CustomerRegistered", "{ready}");
        assert_eq!(projector["aggregateId"], poisoned.to_string(), "{ready}");
    }

    let metrics = app
        .http
        .get(format!("{}/metrics", app.projections_url))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        metrics.contains("shopcore_projection_halted{projector=\"customer_mysql\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("shopcore_projection_lag_events{projector=\"customer_mysql\"}"));
    assert!(metrics.contains("shopcore_projection_lag_seconds{projector=\"customer_mysql\"}"));

    // Writes answer from the command, whatever the projections do.
    let after = create("after@example.com").await?;
    assert_eq!(after.status(), StatusCode::CREATED);

    // The operator's status command names the event and fails.
    let projections_addr = app.projections_url.trim_start_matches("http://").to_owned();
    let status = tokio::process::Command::new(TestApp::binary("shopcore-projections")?)
        .arg("status")
        .env("DATABASE_URL", &app.database_url)
        .env("MYSQL_URL", &app.mysql_url)
        .env("REDIS_KEY_PREFIX", &app.redis_prefix)
        .env("PROJECTIONS_METRICS_ADDR", &projections_addr)
        .env("RUST_LOG", "warn")
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&status.stdout);
    assert_eq!(status.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("halted"), "{stdout}");
    assert!(stdout.contains(&poison_id.to_string()), "{stdout}");

    app.cleanup().await
}
