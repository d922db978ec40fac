//! The cart expiry sweep as `infra/run` runs it: `shopcore-commands cart-expiry-sweep`
//! processes beside a deployment whose carts live three seconds. Two sweeps run over a dozen
//! carts, one killed as soon as the first cart is expired and started again: every cart gets
//! exactly one `CartExpired`, by the sweep; a write after `expiresAt` answers `gone` whether
//! or not a sweep got there first; MySQL ends with every cart expired and Redis with none of
//! them cached; the sweeps' metrics and readiness say what they did; `--once` then finds
//! nothing to do.

use std::collections::BTreeMap;
use std::time::Duration;

use shopcore_e2e::TestApp;
use shopcore_projections::cart::redis::{cart_key, CachedCart};
use shopcore_proto::cart::v1 as pb;
use shopcore_proto::cart::v1::cart_commands_client::CartCommandsClient;
use shopcore_proto::decode_error_detail;
use tonic::Code;

/// `CartExpired` events per cart, with the actors that wrote them.
async fn expirations(app: &TestApp) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT aggregate_id, metadata->>'actor' FROM events
         WHERE aggregate_type = 'cart' AND event_type = 'CartExpired' ORDER BY position",
    )
    .fetch_all(&app.pg)
    .await?;
    let mut per_cart: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (cart, actor) in rows {
        per_cart
            .entry(cart)
            .or_default()
            .push(actor.unwrap_or_default());
    }
    Ok(per_cart)
}

/// A counter's value on a `/metrics` page (0 when absent).
fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .map_or(0, |value| value as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_sweeps_one_killed_expire_every_cart_once_and_empty_the_cache() -> anyhow::Result<()> {
    let mut app = TestApp::spawn_with(&[("CART_TTL_SECONDS", "3".into())]).await?;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc_addr))?
        .connect()
        .await?;
    let mut carts = CartCommandsClient::new(channel);
    let mut ids = Vec::new();
    for n in 0..12 {
        let created = carts
            .create_cart(app.grpc(pb::CreateCartRequest {
                currency: "EUR".into(),
                region: Some(format!("R{n}")),
                ..Default::default()
            }))
            .await?
            .into_inner();
        ids.push(created.result.expect("result").aggregate_id);
    }
    // The read models have them open, Redis with a TTL (the cart's expiry).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM carts WHERE status = 'open'")
            .fetch_one(&app.mysql)
            .await?;
        if open == 12 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{open} carts in MySQL"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let _a = app.start_cart_expiry_sweep("sweep-a", "200ms").await?;
    let b = app.start_cart_expiry_sweep("sweep-b", "200ms").await?;

    // A write after the first cart's expiry is refused as gone, sweep or no sweep.
    let first = carts
        .get_cart(app.grpc(pb::CartRequest {
            cart_id: ids[0].clone(),
            options: None,
        }))
        .await?
        .into_inner()
        .cart
        .expect("cart");
    let expires_at: chrono::DateTime<chrono::Utc> = first.expires_at.parse()?;
    let wait = (expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(5)).await;
    let refused = carts
        .add_item(app.grpc(pb::AddItemRequest {
            cart_id: ids[0].clone(),
            sku: "CAP".into(),
            quantity: 1,
            options: None,
        }))
        .await
        .expect_err("expired");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(
        decode_error_detail(&refused).map(|d| d.code).as_deref(),
        Some("gone")
    );

    // Sweep A dies as soon as a cart is expired; it is started again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while expirations(&app).await?.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "nothing expired");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    app.kill("sweep-a").await?;
    let a2 = app.start_cart_expiry_sweep("sweep-a2", "200ms").await?;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let expired = expirations(&app).await?;
        if ids.iter().all(|id| expired.contains_key(id)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of 12 expired",
            expired.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A few more rounds of both change nothing.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let expired = expirations(&app).await?;
    assert_eq!(expired.len(), 12);
    for id in &ids {
        assert_eq!(
            expired[id],
            ["cart-expiry-sweep"],
            "cart {id}: one CartExpired"
        );
    }

    // MySQL: every cart expired. Redis: none of them cached (a tombstone or nothing).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let closed: i64 = sqlx::query_scalar("SELECT count(*) FROM carts WHERE status = 'expired'")
            .fetch_one(&app.mysql)
            .await?;
        if closed == 12 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{closed} expired in MySQL"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut redis = app.redis.clone();
    for id in &ids {
        let value: Option<String> = redis::cmd("GET")
            .arg(cart_key(&app.redis_prefix, id.parse()?))
            .query_async(&mut redis)
            .await?;
        let entry = value.as_deref().map(CachedCart::parse);
        assert!(
            matches!(entry, None | Some(Some(CachedCart::Tombstone { .. }))),
            "cart {id}: {value:?}"
        );
    }

    // The surviving sweeps expired what the killed one had not (it had expired the first cart,
    // or none), and are ready.
    let mut expired_by_survivors = 0;
    for ops in [&b, &a2] {
        let metrics = app
            .http
            .get(format!("{ops}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        expired_by_survivors += counter(&metrics, "shopcore_cart_expiry_expired_total");
        assert_eq!(
            counter(
                &metrics,
                "shopcore_cart_expiry_failures_total{reason=\"event_store\"}"
            ),
            0,
            "{metrics}"
        );
        let ready = app.http.get(format!("{ops}/readyz")).send().await?;
        assert!(ready.status().is_success(), "{ops}/readyz");
        let body: serde_json::Value = ready.json().await?;
        assert_eq!(body["cartExpirySweep"]["failing"], serde_json::Value::Null);
    }
    assert!(
        (1..=12).contains(&expired_by_survivors),
        "the survivors expired what the killed sweep left: {expired_by_survivors}"
    );

    // Once more, by hand: nothing is due.
    let output = tokio::process::Command::new(TestApp::binary("shopcore-commands")?)
        .args(["cart-expiry-sweep", "--once"])
        .env("DATABASE_URL", &app.database_url)
        .env("MYSQL_URL", &app.mysql_url)
        .env("REDIS_URL", shopcore_event_store::testing::redis_url())
        .env("REDIS_KEY_PREFIX", &app.redis_prefix)
        .env("RUST_LOG", "warn")
        .output()
        .await?;
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout)?;
    let report: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default())?;
    assert_eq!(report["due"], 0, "{stdout}");
    assert_eq!(report["expired"], 0, "{stdout}");
    assert_eq!(expirations(&app).await?.len(), 12);
    app.cleanup().await
}
