//! The cart expiry sweep against real Postgres, MariaDB and Redis, with the real cart
//! projectors stepped in the test so that the read model can be behind: carts written through
//! the cart's command pipeline at instants in the past (fake prices), projected into MySQL
//! and Redis, then swept. Two sweeps racing over the same due carts write exactly one
//! `CartExpired` per cart; a cart checked out, or whose expiry slid, after the read model
//! listed it is left as it is; stale Redis views of expired carts are replaced by the cache's
//! tombstone at the `CartExpired` version; a sweep stopped at random points and started anew
//! loses nothing and expires nothing twice; an unreachable read model fails the round and
//! writes nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng as _;
use redis::aio::ConnectionManager;
use shopcore_commands::cart::cart_snapshots;
use shopcore_commands::cart_expiry::{CartExpirySettings, CartExpirySweep, RoundReport, ACTOR};
use shopcore_commands::metadata::CommandContext;
use shopcore_commands::pipeline::CommandPipeline;
use shopcore_domain::cart::{
    Cart, CartCommand, CartPricing, CartServices, CartSettings, CartStatus, CouponRejection,
    CouponRequest, CouponValidator, NewCart, PriceRequest, PricedItem, PricingLookupError,
    ValidCoupon,
};
use shopcore_domain::money::{Currency, Money};
use shopcore_event_store::testing::{settled_head, TestEventStore};
use shopcore_event_store::{EventStore, GlobalLog};
use shopcore_projections::cart::mysql::{find_cart, CartMysqlProjector};
use shopcore_projections::cart::read_model::CartReadModel;
use shopcore_projections::cart::redis::{cached_entry, cart_key, CachedCart, CartRedisProjector};
use shopcore_projections::cart::CartStatusView;
use shopcore_projections::runtime::{ProjectionRunner, Projector};
use shopcore_projections::stores::{connect_mysql, connect_redis};
use sqlx::migrate::MigrateDatabase as _;
use sqlx::MySqlPool;
use uuid::Uuid;

/// Every SKU at 12.50 EUR.
struct FlatPricing;

#[async_trait]
impl CartPricing for FlatPricing {
    async fn price(&self, request: &PriceRequest) -> Result<PricedItem, PricingLookupError> {
        let price = Money::new(1_250, request.currency);
        Ok(PricedItem {
            unit_price: price,
            list_price: price,
            applied_rules: Vec::new(),
        })
    }
}

struct NoCoupons;

#[async_trait]
impl CouponValidator for NoCoupons {
    async fn validate(&self, _request: &CouponRequest) -> Result<ValidCoupon, CouponRejection> {
        Err(CouponRejection::Unknown)
    }
}

/// Carts live an hour here.
fn hour_carts() -> CartSettings {
    CartSettings {
        ttl: TimeDelta::hours(1),
        ..CartSettings::default()
    }
}

/// Now, to the microsecond (what every store keeps).
fn now_us() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// A per-test event store, MySQL read-model database and Redis prefix, the cart projectors and
/// a shopper's cart pipeline (fake prices).
struct Stores {
    events: TestEventStore,
    log: GlobalLog,
    mysql_url: String,
    mysql: MySqlPool,
    redis: ConnectionManager,
    prefix: String,
    shopper: CommandPipeline<Cart>,
    mysql_projector: Arc<CartMysqlProjector>,
    redis_projector: Arc<CartRedisProjector>,
}

impl Stores {
    async fn create() -> anyhow::Result<Self> {
        let events = TestEventStore::create().await?;
        let log = GlobalLog::new(events.store.pool().clone());
        let mysql_url = format!(
            "{}/shopcore_test_{}",
            shopcore_event_store::testing::mysql_server_url(),
            Uuid::new_v4().simple()
        );
        let mysql = connect_mysql(&mysql_url).await?;
        let redis = connect_redis(&shopcore_event_store::testing::redis_url()).await?;
        let prefix = format!("test:{}:", Uuid::new_v4().simple());
        let services = CartServices {
            pricing: Arc::new(FlatPricing),
            coupons: Arc::new(NoCoupons),
            settings: hour_carts(),
        };
        let shopper = CommandPipeline::new(events.store.clone(), services, cart_snapshots());
        Ok(Self {
            mysql_projector: Arc::new(CartMysqlProjector::new(mysql.clone())),
            redis_projector: Arc::new(CartRedisProjector::new(
                redis.clone(),
                log.clone(),
                prefix.clone(),
            )),
            events,
            log,
            mysql_url,
            mysql,
            redis,
            prefix,
            shopper,
        })
    }

    fn store(&self) -> &EventStore {
        &self.events.store
    }

    fn settings(&self, batch_size: u32) -> CartExpirySettings {
        CartExpirySettings {
            mysql_url: self.mysql_url.clone(),
            redis_url: shopcore_event_store::testing::redis_url(),
            redis_key_prefix: self.prefix.clone(),
            interval: Duration::from_millis(10),
            batch_size,
            concurrency: 4,
            metrics_addr: "127.0.0.1:0".parse().expect("address"),
            once: false,
        }
    }

    fn sweep(&self, batch_size: u32) -> CartExpirySweep {
        let read_model = CartReadModel::new(self.mysql.clone(), self.redis.clone(), &self.prefix);
        CartExpirySweep::with_read_model(
            self.store().clone(),
            read_model,
            self.redis.clone(),
            &self.settings(batch_size),
            CartSettings::default(),
        )
    }

    /// A shopper's command, decided at the instant it carries.
    async fn run(&self, cart: Uuid, command: CartCommand) -> anyhow::Result<()> {
        let mut context = CommandContext::new("test.cart", "cart-expiry-test");
        context.actor = "shopper".into();
        self.shopper
            .execute(&cart.to_string(), command, &context)
            .await?;
        Ok(())
    }

    /// A cart created at `at` with one line added a minute later: it expires at `at` + 61 min.
    async fn cart_at(&self, at: DateTime<Utc>) -> anyhow::Result<Uuid> {
        let id = Uuid::now_v7();
        self.run(
            id,
            CartCommand::CreateCart(NewCart {
                cart_id: id,
                session_token: format!("cs_{}", Uuid::new_v4().simple()),
                customer_id: None,
                currency: Currency::EUR,
                channel: Some("web".into()),
                region: Some("EU".into()),
                now: at,
            }),
        )
        .await?;
        self.run(
            id,
            CartCommand::AddItem {
                sku: "MUG".into(),
                quantity: 2,
                now: at + TimeDelta::minutes(1),
            },
        )
        .await?;
        Ok(id)
    }

    /// Steps both cart projectors until they have applied everything written so far.
    async fn project(&self) -> anyhow::Result<()> {
        let head = settled_head(&self.log).await?;
        for projector in [
            self.mysql_projector.clone() as Arc<dyn Projector>,
            self.redis_projector.clone() as Arc<dyn Projector>,
        ] {
            let runner = ProjectionRunner::new(self.log.clone(), projector.clone(), 50);
            while projector.checkpoint().await? < head {
                runner.step().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            }
        }
        Ok(())
    }

    /// `CartExpired` events per cart, with the actor that wrote them.
    async fn expirations(&self) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT aggregate_id, metadata->>'actor' FROM events
             WHERE aggregate_type = 'cart' AND event_type = 'CartExpired' ORDER BY position",
        )
        .fetch_all(self.store().pool())
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

    async fn entry(&self, cart: Uuid) -> anyhow::Result<Option<CachedCart>> {
        let mut redis = self.redis.clone();
        Ok(cached_entry(&mut redis, &self.prefix, cart).await?)
    }

    async fn drop(self) -> anyhow::Result<()> {
        let mut redis = self.redis.clone();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query_async(&mut redis)
            .await?;
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL").arg(keys).query_async(&mut redis).await?;
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.mysql.close()).await;
        sqlx::MySql::drop_database(&self.mysql_url).await?;
        self.events.drop_database().await
    }
}

/// The version of the cart's `CartExpired` (its last event).
async fn last_version(store: &EventStore, cart: Uuid) -> anyhow::Result<u64> {
    Ok(store
        .load::<Cart>(&cart_snapshots(), &cart.to_string())
        .await?
        .version)
}

fn sum(reports: &[&RoundReport], field: impl Fn(&RoundReport) -> usize) -> usize {
    reports.iter().map(|r| field(r)).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_sweeps_expire_each_due_cart_exactly_once_and_leave_the_rest() -> anyhow::Result<()> {
    let stores = Stores::create().await?;
    let now = now_us();
    let hours_ago = |hours: i64| now - TimeDelta::hours(hours);

    // 40 carts that expired an hour ago; one that lives on; one checked out and one whose
    // expiry slid, both after the read model saw them open.
    let mut due = Vec::new();
    for _ in 0..40 {
        due.push(stores.cart_at(hours_ago(2)).await?);
    }
    let fresh = stores.cart_at(now).await?;
    let checked_out = stores.cart_at(hours_ago(2)).await?;
    let slid = stores.cart_at(now - TimeDelta::minutes(100)).await?;
    stores.project().await?;
    // The read model now lists 42 carts past their expiry (fresh is not one of them). Then,
    // at instants before their expiry, one cart is checked out and another touched: its
    // expiry slides 20 minutes into the future. The read model does not see either yet.
    stores
        .run(
            checked_out,
            CartCommand::Checkout {
                now: hours_ago(2) + TimeDelta::minutes(30),
                accept_price_changes: false,
            },
        )
        .await?;
    stores
        .run(
            slid,
            CartCommand::AddItem {
                sku: "CAP".into(),
                quantity: 1,
                now: now - TimeDelta::minutes(40),
            },
        )
        .await?;
    // Redis views that outlived their TTL (written without one), for half of the due carts.
    let mut redis = stores.redis.clone();
    for cart in due.iter().step_by(2) {
        let view = find_cart(&stores.mysql, *cart).await?.expect("projected");
        let _: () = redis::cmd("SET")
            .arg(cart_key(&stores.prefix, *cart))
            .arg(serde_json::to_string(&view)?)
            .query_async(&mut redis)
            .await?;
    }

    let (a, b) = (stores.sweep(1_000), stores.sweep(1_000));
    let (first, second) = tokio::join!(a.round(), b.round());
    let (first, second) = (first?, second?);
    let reports = [&first, &second];
    // Each sweep listed all 42 and dealt with each: one expired it, the other found it expired.
    assert_eq!((first.due, second.due), (42, 42), "{reports:?}");
    assert_eq!(sum(&reports, |r| r.expired), 40, "{reports:?}");
    assert_eq!(sum(&reports, |r| r.already_expired), 40, "{reports:?}");
    assert_eq!(sum(&reports, |r| r.not_yet_expired), 2, "{reports:?}");
    assert_eq!(sum(&reports, |r| r.not_open), 2, "{reports:?}");
    assert_eq!(
        sum(&reports, |r| r.failed + r.cache_failures),
        0,
        "{reports:?}"
    );

    let expired = stores.expirations().await?;
    assert_eq!(expired.len(), 40, "{expired:?}");
    for cart in &due {
        assert_eq!(
            expired.get(&cart.to_string()).map(Vec::as_slice),
            Some([ACTOR.to_owned()].as_slice()),
            "cart {cart}: one CartExpired, by the sweep"
        );
    }
    for (cart, status) in [
        (fresh, CartStatus::Open),
        (checked_out, CartStatus::CheckedOut),
        (slid, CartStatus::Open),
    ] {
        let loaded = stores
            .store()
            .load::<Cart>(&cart_snapshots(), &cart.to_string())
            .await?
            .aggregate;
        assert_eq!(loaded.status, status, "{cart}");
    }

    // Every due cart's key is the tombstone of its CartExpired, stale view or not.
    for cart in &due {
        let version = last_version(stores.store(), *cart).await?;
        match stores.entry(*cart).await? {
            Some(CachedCart::Tombstone { version: v, .. }) => assert_eq!(v, version, "{cart}"),
            other => panic!("cart {cart}: {other:?} instead of a tombstone"),
        }
    }
    assert!(
        stores.entry(slid).await?.is_none(),
        "the slid cart's key is left to its projector"
    );

    // Before the read model catches up, the next round skips what this sweep closed.
    let again = a.round().await?;
    assert_eq!(again, RoundReport::default(), "{again:?}");
    // Once it has, nothing is due; the projector keeps the sweep's tombstones.
    stores.project().await?;
    let fresh_sweep = stores.sweep(1_000);
    assert_eq!(fresh_sweep.round().await?, RoundReport::default());
    assert_eq!(stores.expirations().await?.len(), 40);
    for cart in &due {
        let row = find_cart(&stores.mysql, *cart).await?.expect("row");
        assert_eq!(row.status, CartStatusView::Expired, "{cart}");
        assert!(matches!(
            stores.entry(*cart).await?,
            Some(CachedCart::Tombstone { .. })
        ));
    }
    let slid_row = find_cart(&stores.mysql, slid).await?.expect("row");
    assert_eq!(slid_row.status, CartStatusView::Open);
    assert!(slid_row.expires_at > Utc::now(), "{slid_row:?}");
    assert!(matches!(
        stores.entry(slid).await?,
        Some(CachedCart::View(_))
    ));
    stores.drop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sweep_stopped_at_random_points_and_started_anew_loses_nothing() -> anyhow::Result<()> {
    let stores = Stores::create().await?;
    let now = now_us();
    let mut due = Vec::new();
    for n in 0..60 {
        due.push(
            stores
                .cart_at(now - TimeDelta::hours(2) - TimeDelta::seconds(n))
                .await?,
        );
    }
    stores.project().await?;

    // Sweeps of seven carts a round, each stopped after a random moment (mid-command,
    // mid-append, between the append and the cache), the read model following meanwhile,
    // until every cart is expired.
    let mut stops = 0;
    let mut longest_life_ms = 20;
    let give_up = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let before = stores.expirations().await?.len();
        if before == due.len() {
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < give_up,
            "stuck at {before} expired"
        );
        let sweep = Arc::new(stores.sweep(7));
        let task = {
            let sweep = sweep.clone();
            tokio::spawn(async move {
                loop {
                    let _ = sweep.round().await;
                }
            })
        };
        let life = rand::rng().random_range(1..=longest_life_ms);
        tokio::time::sleep(Duration::from_millis(life)).await;
        task.abort();
        let _ = task.await;
        stops += 1;
        stores.project().await?;
        let after = stores.expirations().await?.len();
        longest_life_ms = if after == before {
            (longest_life_ms * 2).min(2_000)
        } else {
            20
        };
    }
    assert!(stops >= 2, "the sweep was stopped only {stops} times");

    // One CartExpired per cart, and nothing left to do.
    let expired = stores.expirations().await?;
    assert_eq!(expired.len(), due.len());
    for cart in &due {
        assert_eq!(
            expired.get(&cart.to_string()).map(Vec::len),
            Some(1),
            "cart {cart}"
        );
    }
    assert_eq!(stores.sweep(100).round().await?, RoundReport::default());
    // The cache: every key is the tombstone of the CartExpired (the sweep's or, for a cart
    // whose sweep was stopped before its removal, the projector's).
    stores.project().await?;
    for cart in &due {
        let version = last_version(stores.store(), *cart).await?;
        match stores.entry(*cart).await? {
            Some(CachedCart::Tombstone { version: v, .. }) => assert_eq!(v, version, "{cart}"),
            other => panic!("cart {cart}: {other:?} instead of a tombstone"),
        }
    }
    stores.drop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_read_model_fails_the_round_and_writes_nothing() -> anyhow::Result<()> {
    let stores = Stores::create().await?;
    let cart = stores.cart_at(now_us() - TimeDelta::hours(3)).await?;
    let events_before = stores.expirations().await?.len();
    // A MySQL that refuses connections (a port nothing listens on).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let mysql = sqlx::mysql::MySqlPoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy(&format!("mysql://nobody@{closed}/shopcore"))?;
    let read_model = CartReadModel::new(mysql, stores.redis.clone(), &stores.prefix);
    let sweep = CartExpirySweep::with_read_model(
        stores.store().clone(),
        read_model,
        stores.redis.clone(),
        &stores.settings(10),
        CartSettings::default(),
    );
    for _ in 0..2 {
        assert!(sweep.round().await.is_err(), "the round must fail");
    }
    assert_eq!(stores.expirations().await?.len(), events_before);
    // Writes are refused from the instant expiresAt passed, sweep or no sweep.
    let refused = stores
        .run(
            cart,
            CartCommand::AddItem {
                sku: "MUG".into(),
                quantity: 1,
                now: Utc::now(),
            },
        )
        .await
        .expect_err("expired");
    assert!(refused.to_string().contains("expired"), "{refused}");
    stores.drop().await
}
