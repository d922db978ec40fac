//! `shopcore-commands cart-ttl-scenario`, which `tests/scenarios/cart_ttl` wraps: the plan's
//! cart TTL issue reproduced against a running deployment (`infra/run`), and how Shopcore
//! resolves it. It prints what it sees.
//!
//! A cart lives in three places with three clocks: the aggregate (expired from the instant
//! `expiresAt` passes), Redis (the key's TTL, `PEXPIREAT expiresAt`) and MySQL (`status` stays
//! `open` until the sweep's `CartExpired` is projected). The scenario opens four carts that
//! live `--ttl-seconds` (written into the deployment's event store through the cart pipeline
//! with that TTL, since the command service's own TTL is a day) and shows:
//!
//! 1. **A cart touched at the moment it expires**: the aggregate decides with `now ≥
//!    expiresAt` (shown on the loaded aggregate, nothing written: a write at `expiresAt` is
//!    refused, `Expire` a microsecond earlier is refused, `Expire` at `expiresAt` closes it).
//!    Cart C is touched over gRPC just before its expiry (accepted: its expiry slides by the
//!    service's TTL and the sweep leaves it open); cart D just after (gone).
//! 2. **Redis's TTL fired, MySQL still says open** (cart A): after `expiresAt` the key is gone,
//!    the row is `open` with an `expires_at` in the past; the read model (the gateway's code)
//!    reports the cart `expired`, the command service too, and a write over gRPC answers
//!    `gone` (REST: 410 Gone) and writes nothing.
//! 3. **Redis still holds a cart whose life is over** (cart B, its key's TTL removed with
//!    `PERSIST`, as a lost `PEXPIREAT`, a Redis clock behind, a restored snapshot or a promoted
//!    replica would leave it): the cached view says `open`; read through the same rule it is
//!    `expired`; the sweep's removal replaces it by the cache's tombstone.
//! 4. **The sweep closes each expired cart once** (the deployment's `cart-expiry-sweep`):
//!    one `CartExpired` each for A, B and D, none for C; MySQL follows, Redis holds tombstones;
//!    a further sweep round here finds nothing to do.
//!
//! The scenario prices a SKU of its own (`CART-TTL-DEMO`, 9.90 EUR, in a price book
//! "Scenario: cart TTL" with a fixed id) so that the touch of cart C is a real priced write;
//! running it again changes neither. What it does to one cart and sees of it is in `scene`.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, Utc};
use shopcore_auth::scopes::{MANAGE_ORDERS, MANAGE_PRICES, VIEW_ORDERS, VIEW_PRICES};
use shopcore_auth::AuthSettings;
use shopcore_domain::cart::{CartCommand, CartSettings};
use shopcore_event_store::{EventStore, LogPosition};
use shopcore_projections::cart::read_model::CartReadModel;
use shopcore_projections::cart::redis::cart_key;
use shopcore_proto::cart::v1 as pb;
use shopcore_proto::cart::v1::cart_commands_client::CartCommandsClient;
use shopcore_proto::pricing::v1 as pricing_pb;
use shopcore_proto::pricing::v1::price_book_commands_client::PriceBookCommandsClient;
use shopcore_proto::pricing::v1::pricing_queries_client::PricingQueriesClient;
use tonic::transport::Channel;
use uuid::Uuid;

mod scene;

use scene::{at, ms, Scene};

use super::{CartExpirySettings, CartExpirySweep};

/// The SKU the scenario prices for itself.
pub const DEMO_SKU: &str = "CART-TTL-DEMO";

/// Settings of the scenario (the deployment's stores, and the command service to talk to).
#[derive(Clone, clap::Args)]
pub struct CartTtlScenarioSettings {
    /// The deployment's MySQL read models (credentials in the URL are never printed).
    #[arg(
        long,
        env = "MYSQL_URL",
        default_value = "mysql://root@127.0.0.1:3306/shopcore"
    )]
    pub mysql_url: String,
    /// The deployment's Redis (the cart cache).
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    /// The deployment's `REDIS_KEY_PREFIX`.
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "")]
    pub redis_key_prefix: String,
    /// The running command service (gRPC).
    #[arg(long, env = "COMMANDS_URL", default_value = "http://127.0.0.1:50051")]
    pub commands_url: String,
    /// How long the scenario's carts live.
    #[arg(long, env = "SCENARIO_TTL_SECONDS", default_value_t = 4)]
    pub ttl_seconds: u32,
    /// How long to wait for the projectors and the deployment's sweep, in seconds.
    #[arg(long, env = "SCENARIO_TIMEOUT", default_value_t = 40)]
    pub timeout_seconds: u64,
}

impl std::fmt::Debug for CartTtlScenarioSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CartTtlScenarioSettings")
            .field(
                "mysql_url",
                &shopcore_telemetry::process::redact_url(&self.mysql_url),
            )
            .field(
                "redis_url",
                &shopcore_telemetry::process::redact_url(&self.redis_url),
            )
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("commands_url", &self.commands_url)
            .field("ttl_seconds", &self.ttl_seconds)
            .field("timeout_seconds", &self.timeout_seconds)
            .finish()
    }
}

/// Runs the scenario against the deployment at `settings`, with the event store `store`.
pub async fn run(
    store: EventStore,
    settings: &CartTtlScenarioSettings,
    auth: &AuthSettings,
) -> anyhow::Result<()> {
    let secret = auth.jwt_secret.as_deref().context(
        "AUTH_JWT_SECRET is not set: the scenario mints its token with the deployment's secret \
         (infra/run keeps it in $SHOPCORE_HOME/auth-secret)",
    )?;
    let token = shopcore_auth::token::mint_hs256(
        secret.as_bytes(),
        &auth.issuer,
        &auth.audience,
        "cart-ttl-scenario",
        &[MANAGE_ORDERS, VIEW_ORDERS, MANAGE_PRICES, VIEW_PRICES],
        None,
        Duration::from_secs(3600),
    )?;
    let channel = tonic::transport::Endpoint::from_shared(settings.commands_url.clone())?
        .connect()
        .await
        .with_context(|| {
            format!(
                "the command service does not answer at {}: start the deployment with infra/run",
                settings.commands_url
            )
        })?;
    let mysql = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(2)
        .connect(&settings.mysql_url)
        .await
        .context("while connecting to the MySQL read models")?;
    let redis = shopcore_projections::stores::connect_redis(&settings.redis_url).await?;
    let ttl = TimeDelta::seconds(i64::from(settings.ttl_seconds.clamp(2, 600)));
    let scene = Scene {
        pipeline: crate::cart::expiry_pipeline(
            store.clone(),
            CartSettings {
                ttl,
                ..CartSettings::default()
            },
        ),
        store,
        carts: CartCommandsClient::new(channel.clone()),
        read_model: CartReadModel::new(mysql.clone(), redis.clone(), &settings.redis_key_prefix),
        mysql,
        redis,
        prefix: settings.redis_key_prefix.clone(),
        token,
        timeout: Duration::from_secs(settings.timeout_seconds.max(5)),
        sweep_settings: CartExpirySettings {
            mysql_url: settings.mysql_url.clone(),
            redis_url: settings.redis_url.clone(),
            redis_key_prefix: settings.redis_key_prefix.clone(),
            interval: Duration::from_secs(1),
            batch_size: 500,
            concurrency: 4,
            metrics_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            once: true,
        },
    };
    price_demo_sku(&scene, channel).await?;
    play(&scene, ttl).await
}

/// Prices [`DEMO_SKU`] at 9.90 EUR in the scenario's own book, and waits until the command
/// service's pricing index has it.
async fn price_demo_sku(scene: &Scene, channel: Channel) -> anyhow::Result<()> {
    let mut books = PriceBookCommandsClient::new(channel.clone());
    let book = Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        b"shopcore cart-ttl scenario price book",
    );
    let created = books
        .create_price_book(scene.request(pricing_pb::CreatePriceBookRequest {
            price_book_id: book.to_string(),
            name: "Scenario: cart TTL".into(),
            default_currency: "EUR".into(),
            options: None,
        }))
        .await;
    if let Err(status) = created {
        anyhow::ensure!(
            matches!(
                status.code(),
                tonic::Code::AlreadyExists | tonic::Code::FailedPrecondition
            ),
            "the scenario's price book was not created: {status}"
        );
    }
    let set = books
        .set_base_price(scene.request(pricing_pb::SetBasePriceRequest {
            price_book_id: book.to_string(),
            sku: DEMO_SKU.into(),
            price: Some(pricing_pb::Money {
                amount_minor: 990,
                currency: "EUR".into(),
            }),
            options: None,
        }))
        .await
        .context("while pricing the scenario's SKU")?
        .into_inner();
    let position = set.result.map(|r| r.log_position);
    PricingQueriesClient::new(channel)
        .get_price(scene.request(pricing_pb::GetPriceRequest {
            context: Some(pricing_pb::PriceContext {
                sku: DEMO_SKU.into(),
                currency: Some("EUR".into()),
                quantity: 1,
                ..Default::default()
            }),
            min_position: position,
            explain: false,
        }))
        .await
        .context("the command service's pricing index did not price the scenario's SKU")?;
    Ok(())
}

async fn play(scene: &Scene, ttl: TimeDelta) -> anyhow::Result<()> {
    println!(
        "Four carts that live {} s (A, B: Redis and MySQL disagree; C, D: touched at the moment they expire).",
        ttl.num_seconds()
    );
    let (a, a_expires) = scene.create("a").await?;
    let (b, _) = scene.create("b").await?;
    let (c, c_expires) = scene.create("c").await?;
    let (d, d_expires) = scene.create("d").await?;
    for (label, cart) in [("A", a), ("B", b), ("C", c), ("D", d)] {
        println!("  {label} = cart {cart}");
    }
    for cart in [a, b, c, d] {
        scene
            .until(cart, "the projections caching it", |s| {
                s.mysql.is_some() && s.redis.starts_with("a view")
            })
            .await?;
    }
    println!("\nWhile they live, MySQL and Redis agree (Redis's TTL is the cart's expiresAt):");
    scene.show("A", a).await?;
    let mut redis = scene.redis.clone();
    let persisted: i64 = redis::cmd("PERSIST")
        .arg(cart_key(&scene.prefix, b))
        .query_async(&mut redis)
        .await?;
    anyhow::ensure!(persisted == 1, "B's key had no TTL to remove");
    println!(
        "  B's key loses its TTL (PERSIST: a lost PEXPIREAT, a restored snapshot, a replica):"
    );
    scene.show("B", b).await?;

    println!("\n1. Touched at the moment they expire. The aggregate decides with now ≥ expiresAt ({}); on C, nothing written:", at(c_expires));
    let instant = c_expires;
    for (what, command) in [
        (
            "AddItem at expiresAt",
            CartCommand::AddItem {
                sku: DEMO_SKU.into(),
                quantity: 1,
                now: instant,
            },
        ),
        (
            "Expire at expiresAt − 1 µs",
            CartCommand::Expire {
                now: instant - TimeDelta::microseconds(1),
            },
        ),
        ("Expire at expiresAt", CartCommand::Expire { now: instant }),
    ] {
        println!("    {what}: {}", scene.decide(c, command).await?);
    }
    sleep_until(c_expires - TimeDelta::milliseconds(250)).await;
    let (said, c_lives) = scene.touch(c).await;
    println!("  C touched over gRPC 250 ms before its expiry: {said}");
    sleep_until(d_expires + TimeDelta::milliseconds(1)).await;
    let (said, _) = scene.touch(d).await;
    println!("  D touched over gRPC 1 ms after its expiry: {said}");

    sleep_until(a_expires + TimeDelta::milliseconds(150)).await;
    println!(
        "\n2. Redis's TTL fired while MySQL still says open (A, {} after its expiry):",
        ms(Utc::now() - a_expires)
    );
    let seen = scene.show("A", a).await?;
    if seen.events.iter().any(|e| e == "CartExpired") {
        println!("    (the deployment's sweep had already run: MySQL follows its CartExpired)");
    }
    let view = scene.read_model.get(a, LogPosition::START).await?;
    println!(
        "    A as the read model answers (the gateway's code): status {}",
        view.map_or("none".to_owned(), |v| v.status.as_str().to_owned())
    );
    let mut carts = scene.carts.clone();
    let service = carts
        .get_cart(scene.request(pb::CartRequest {
            cart_id: a.to_string(),
            options: None,
        }))
        .await?
        .into_inner();
    println!(
        "    A as the command service answers (GetCart): status {}",
        service.cart.map(|c| c.status).unwrap_or_default()
    );
    println!("    a write to A over gRPC: {}", scene.touch(a).await.0);
    println!("\n3. Redis still holds B after its expiry:");
    scene.show("B", b).await?;
    let view = scene.read_model.get(b, LogPosition::START).await?;
    println!(
        "    B as the read model answers (the cached view, through the same rule): status {}",
        view.map_or("none".to_owned(), |v| v.status.as_str().to_owned())
    );

    println!(
        "\n4. The deployment's cart-expiry-sweep closes each expired cart once (waiting for it):"
    );
    let expiring: &[Uuid] = if c_lives { &[a, b, d] } else { &[a, b, c, d] };
    for &cart in expiring {
        scene
            .until(
                cart,
                "the sweep's CartExpired reaching MySQL and Redis",
                |s| {
                    s.events.iter().any(|e| e == "CartExpired")
                        && s.mysql
                            .as_ref()
                            .is_some_and(|(status, _)| status == "expired")
                        && !s.redis.starts_with("a view")
                },
            )
            .await?;
    }
    let actors: Vec<(String, Option<String>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT aggregate_id, metadata->>'actor', recorded_at FROM events
         WHERE aggregate_type = 'cart' AND event_type = 'CartExpired' AND aggregate_id = ANY($1)
         ORDER BY position",
    )
    .bind([a, b, c, d].map(|id| id.to_string()).to_vec())
    .fetch_all(scene.store.pool())
    .await?;
    for (cart, actor, recorded_at) in &actors {
        println!(
            "    CartExpired of {cart} by {}, recorded at {}",
            actor.as_deref().unwrap_or("?"),
            at(*recorded_at)
        );
    }
    // A sweep of this process, as a second sweeper would run: nothing left to do.
    let second = CartExpirySweep::connect(
        scene.store.clone(),
        &scene.sweep_settings,
        CartSettings::default(),
    )
    .await?;
    let report = second.round().await?;
    println!(
        "    a second sweep now: {}",
        serde_json::to_string(&report)?
    );

    println!("\nIn the end:");
    for (label, cart) in [("A", a), ("B", b), ("C", c), ("D", d)] {
        let seen = scene.show(label, cart).await?;
        let expired = seen.events.iter().filter(|e| *e == "CartExpired").count();
        let wanted = usize::from(cart != c || !c_lives);
        anyhow::ensure!(
            expired == wanted,
            "cart {label} has {expired} CartExpired events, not {wanted}"
        );
    }
    if !c_lives {
        println!("(C's touch came too late on this machine, and C expired like the others.)");
    }
    println!(
        "Each expired cart has exactly one CartExpired; a cart touched in time lives on. Writes were refused from the instant expiresAt passed, whatever MySQL and Redis said."
    );
    Ok(())
}

async fn sleep_until(instant: DateTime<Utc>) {
    if let Ok(wait) = (instant - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
}
