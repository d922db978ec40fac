//! `tests/scenarios/cart_ttl`'s program (`shopcore-commands cart-ttl-scenario`) against a
//! deployment of its own with the expiry sweep running: the scenario fails unless every cart
//! it lets expire ends with exactly one CartExpired, the read model and the command service
//! both report a past-expiry cart as expired, a write to it is `gone`, and the touched cart's
//! expiry slid. So `infra/test` runs the plan's TTL issue, not only a description of it.

use shopcore_e2e::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cart_ttl_scenario_resolves_every_disagreement() -> anyhow::Result<()> {
    let mut app = TestApp::spawn().await?;
    app.start_cart_expiry_sweep("cart-expiry-sweep", "500ms")
        .await?;
    let output = tokio::process::Command::new(TestApp::binary("shopcore-commands")?)
        .arg("cart-ttl-scenario")
        .env("DATABASE_URL", &app.database_url)
        .env("MYSQL_URL", &app.mysql_url)
        .env("REDIS_URL", shopcore_event_store::testing::redis_url())
        .env("REDIS_KEY_PREFIX", &app.redis_prefix)
        .env("COMMANDS_URL", format!("http://{}", app.grpc_addr))
        .env("AUTH_JWT_SECRET", &app.auth_secret)
        .env("SCENARIO_TTL_SECONDS", "3")
        .env("SCENARIO_TIMEOUT", "60")
        .env("RUST_LOG", "warn")
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "scenario failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    // What it printed is what it showed: the refusals at and after expiry, the slid cart, and
    // one CartExpired per expired cart by the sweep.
    for shown in ["Gone", "gone", "expired", "cart-expiry-sweep"] {
        assert!(stdout.contains(shown), "{shown:?} not in\n{stdout}");
    }
    let expired: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = 'cart' AND event_type = 'CartExpired'",
    )
    .fetch_one(&app.pg)
    .await?;
    let carts: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT aggregate_id) FROM events WHERE aggregate_type = 'cart' \
         AND event_type = 'CartExpired'",
    )
    .fetch_one(&app.pg)
    .await?;
    assert_eq!(expired, carts, "one CartExpired per cart");
    assert!(expired >= 3, "A, B and D expire: {expired}");
    app.cleanup().await
}
