//! What the cart read-model tests share: carts written through the domain and the real event
//! store (decided by `Cart::handle` with fake pricing and coupons, appended with
//! `EventStore::append`), a per-test MySQL database and Redis prefix, dumps of the cart tables,
//! and a Redis server of the test's own that can be killed; [`history`]: what they write.

#![allow(dead_code)]

pub mod history;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate as _;
use redis::aio::ConnectionManager;
use shopcore_domain::cart::{
    Cart, CartCommand, CartPricing, CartServices, CartSettings, CouponRejection, CouponRequest,
    CouponValidator, PriceRequest, PricedItem, PricingLookupError, ValidCoupon,
};
use shopcore_domain::money::{Money, Percent, RoundingMode};
use shopcore_domain::pricing::Discount;
use shopcore_event_store::snapshot::SnapshotPolicy;
use shopcore_event_store::testing::TestEventStore;
use shopcore_event_store::{AppendRequest, EventStore, GlobalLog, LogPosition};
use shopcore_projections::stores::{connect_mysql, connect_redis};
use sqlx::migrate::MigrateDatabase as _;
use sqlx::MySqlPool;
use uuid::Uuid;

/// The rule the fake pricing names when it gives 10 % off for 10 or more units.
pub const VOLUME_RULE: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0a01);

/// List prices by SKU (1 999 minor units when not set); 10 units or more get 10 % off.
#[derive(Default)]
pub struct FakePricing {
    prices: Mutex<HashMap<String, Money>>,
}

impl FakePricing {
    pub fn set(&self, sku: &str, price: Money) {
        self.prices
            .lock()
            .expect("prices")
            .insert(sku.to_owned(), price);
    }
}

#[async_trait]
impl CartPricing for FakePricing {
    async fn price(&self, request: &PriceRequest) -> Result<PricedItem, PricingLookupError> {
        let list = self
            .prices
            .lock()
            .expect("prices")
            .get(&request.sku)
            .copied()
            .unwrap_or(Money::new(1_999, request.currency));
        if request.quantity >= 10 && list.amount() < 1_000_000_000 {
            let percent = Percent::from_basis_points(1_000).expect("10 %");
            return Ok(PricedItem {
                unit_price: list
                    .less_percent(percent, RoundingMode::HalfEven)
                    .expect("no overflow"),
                list_price: list,
                applied_rules: vec![VOLUME_RULE],
            });
        }
        Ok(PricedItem {
            unit_price: list,
            list_price: list,
            applied_rules: Vec::new(),
        })
    }
}

/// Coupons by (normalised) code; any other code is unknown.
#[derive(Default)]
pub struct FakeCoupons {
    coupons: Mutex<HashMap<String, (Uuid, Discount)>>,
}

impl FakeCoupons {
    pub fn set(&self, code: &str, promotion_id: Uuid, discount: Discount) {
        self.coupons
            .lock()
            .expect("coupons")
            .insert(code.to_owned(), (promotion_id, discount));
    }
}

#[async_trait]
impl CouponValidator for FakeCoupons {
    async fn validate(&self, request: &CouponRequest) -> Result<ValidCoupon, CouponRejection> {
        let (promotion_id, discount) = *self
            .coupons
            .lock()
            .expect("coupons")
            .get(&request.code)
            .ok_or(CouponRejection::Unknown)?;
        Ok(ValidCoupon {
            code: request.code.clone(),
            promotion_id,
            discount,
        })
    }
}

/// Writes cart commands: load the cart from the event store, let the domain decide, append.
pub struct CartWriter {
    pub store: EventStore,
    pub pricing: Arc<FakePricing>,
    pub coupons: Arc<FakeCoupons>,
    pub services: CartServices,
}

impl CartWriter {
    pub fn new(store: EventStore, settings: CartSettings) -> Self {
        let pricing = Arc::new(FakePricing::default());
        let coupons = Arc::new(FakeCoupons::default());
        let services = CartServices {
            pricing: pricing.clone(),
            coupons: coupons.clone(),
            settings,
        };
        Self {
            store,
            pricing,
            coupons,
            services,
        }
    }

    /// The cart as the aggregate folds it from the store.
    pub async fn load(&self, id: Uuid) -> anyhow::Result<(Cart, u64)> {
        let loaded = self
            .store
            .load::<Cart>(&SnapshotPolicy::disabled(), &id.to_string())
            .await?;
        Ok((loaded.aggregate, loaded.version))
    }

    /// Runs one command; the position of its last event, `None` when it changed nothing.
    pub async fn run(&self, id: Uuid, command: CartCommand) -> anyhow::Result<Option<LogPosition>> {
        let (mut cart, version) = self.load(id).await?;
        let sink = EventSink::default();
        cart.handle(command.clone(), &self.services, &sink)
            .await
            .map_err(|e| anyhow::anyhow!("cart {id}: {command:?} refused: {e}"))?;
        let events = sink.collect().await;
        if events.is_empty() {
            return Ok(None);
        }
        let appended = self
            .store
            .append::<Cart>(AppendRequest {
                aggregate_id: &id.to_string(),
                version,
                events,
                metadata: serde_json::json!({ "actor": "cart-read-model-test" }),
                claims: Vec::new(),
                idempotency: None,
                linked: None,
            })
            .await?;
        Ok(Some(appended.position))
    }
}

/// Settings with room for the adversarial values: the largest quantity a line can hold.
pub fn roomy_settings() -> CartSettings {
    CartSettings {
        ttl: TimeDelta::hours(2),
        max_quantity_per_line: u32::MAX,
        max_lines: 100,
    }
}

/// Now, to the microsecond (what every store keeps).
pub fn now_us() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// A per-test event store, MySQL database and Redis prefix.
pub struct Stores {
    pub events: TestEventStore,
    pub log: GlobalLog,
    pub mysql_url: String,
    pub mysql: MySqlPool,
    pub redis: ConnectionManager,
    pub prefix: String,
}

impl Stores {
    pub async fn create() -> anyhow::Result<Self> {
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
        Ok(Self {
            events,
            log,
            mysql_url,
            mysql,
            redis,
            prefix,
        })
    }

    /// Drops the MySQL and Postgres databases and deletes the prefix's Redis keys.
    pub async fn drop(self) -> anyhow::Result<()> {
        let mut redis = self.redis.clone();
        let keys: Vec<String> = {
            let mut iter: redis::AsyncIter<String> =
                redis::AsyncCommands::scan_match(&mut redis, format!("{}*", self.prefix)).await?;
            let mut keys = Vec::new();
            while let Some(key) = iter.next_item().await {
                keys.push(key?);
            }
            keys
        };
        for chunk in keys.chunks(500) {
            let _: () = redis::AsyncCommands::del(&mut redis, chunk).await?;
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.mysql.close()).await;
        sqlx::MySql::drop_database(&self.mysql_url).await?;
        self.events.drop_database().await
    }
}

/// Every row of the cart tables as text, in a stable order (for "identical rows" checks).
pub async fn cart_tables(mysql: &MySqlPool) -> anyhow::Result<Vec<String>> {
    let mut all = Vec::new();
    for (table, columns, order) in [
        (
            "carts",
            "cart_id, customer_id, session_token_hash, currency, channel, region, status, coupon_code, promotion_id, subtotal_minor, discount_minor, total_minor, created_at, updated_at, expires_at, checked_out_at, merged_into, version, last_tx_id, last_position, state, checkout",
            "cart_id",
        ),
        (
            "cart_items",
            "cart_id, sku, quantity, unit_price_minor, list_price_minor, currency, applied_rules, priced_at, line_total_minor, discount_minor, total_minor",
            "cart_id, sku",
        ),
        (
            "cart_events",
            "cart_id, sequence, event_id, event_type, occurred_at, tx_id, position, detail",
            "cart_id, sequence",
        ),
    ] {
        let rows: Vec<(String,)> = sqlx::query_as(&format!(
            "SELECT CAST(CONCAT_WS('|', {}) AS CHAR CHARACTER SET utf8mb4) FROM {table} ORDER BY {order}",
            columns
                .split(", ")
                .map(|c| format!("IFNULL({c}, 'NULL')"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .fetch_all(mysql)
        .await?;
        all.push(format!("{table}: {}", rows.len()));
        all.extend(rows.into_iter().map(|(row,)| row));
    }
    Ok(all)
}

/// A Redis server of the test's own, on a free port, keeping its data (AOF) under a directory
/// so that a restart after a kill finds it again.
pub struct OwnRedis {
    port: u16,
    dir: PathBuf,
    child: Option<tokio::process::Child>,
}

impl OwnRedis {
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        Ok(Self {
            port,
            dir: dir.to_path_buf(),
            child: None,
        })
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) and waits until it answers, at most 30 s.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        let child = tokio::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!("redis-server (from infra/up's packages) does not start: {e}")
            })?;
        self.child = Some(child);
        let client = redis::Client::open(self.url())?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut connection) = client.get_multiplexed_async_connection().await {
                if redis::cmd("PING")
                    .query_async::<String>(&mut connection)
                    .await
                    .is_ok()
                {
                    return Ok(());
                }
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not answer on {} within 30 s",
                self.url()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL, as a crash would.
    pub async fn kill(&mut self) -> std::io::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }
}
