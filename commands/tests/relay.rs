//! The Kafka relay against the real broker (tansu) and Postgres, with the schema registry
//! double: a broker outage under load loses nothing and keeps per-aggregate order; an event
//! that cannot be published stops the relay, naming it, after publishing what precedes it.

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use shopcore_commands::relay::{Relay, RelaySettings};
use shopcore_commands::testing::{consume, kafka_brokers, Consumed};
use shopcore_domain::customer::CustomerEvent;
use shopcore_event_schemas::registry_double::RegistryDouble;
use shopcore_event_store::tail::{Fault, TailState};
use shopcore_event_store::testing::TestEventStore;
use shopcore_event_store::{GlobalLog, LogPosition};
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

struct RunningRelay {
    relay: Arc<Relay>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningRelay {
    fn start(settings: RelaySettings, pool: &PgPool) -> anyhow::Result<Self> {
        let relay = Arc::new(Relay::new(settings, GlobalLog::new(pool.clone()))?);
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn({
            let relay = relay.clone();
            async move { relay.run(stopped).await }
        });
        Ok(Self { relay, stop, task })
    }

    fn state(&self) -> TailState {
        self.relay.state()
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(30), self.task).await;
    }
}

fn prefix() -> String {
    format!("t{}.", &Uuid::new_v4().simple().to_string()[..10])
}

async fn checkpoint(pool: &PgPool) -> anyhow::Result<LogPosition> {
    // One relay per test database.
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT tx_id, position FROM relay_checkpoints LIMIT 1")
            .fetch_optional(pool)
            .await?;
    Ok(row.map_or(LogPosition::START, |(tx, position)| {
        LogPosition::new(tx as u64, position as u64)
    }))
}

async fn event_count(pool: &PgPool) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?)
}

/// Waits until the relay checkpoint reaches the head of the log.
async fn caught_up(pool: &PgPool, timeout: Duration) -> anyhow::Result<LogPosition> {
    let log = GlobalLog::new(pool.clone());
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let head = shopcore_event_store::testing::settled_head(&log).await?;
        let checkpoint = checkpoint(pool).await?;
        if !head.is_start() && checkpoint == head {
            return Ok(head);
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("relay at {checkpoint}, head at {head} after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Appends a customer event as stored by the event store, bypassing the domain (the relay must
/// cope with whatever the store holds).
async fn insert(
    pool: &sqlx::PgPool,
    customer: Uuid,
    sequence: i64,
    event_type: &str,
    payload: serde_json::Value,
) -> anyhow::Result<(LogPosition, Uuid)> {
    shopcore_event_store::testing::insert_raw_event(
        pool,
        "customer",
        &customer.to_string(),
        sequence,
        event_type,
        payload,
    )
    .await
}

fn registered(customer: Uuid, first_name: &str) -> serde_json::Value {
    serde_json::to_value(CustomerEvent::CustomerRegistered {
        customer_id: customer,
        email: format!("{customer}@example.com"),
        first_name: first_name.into(),
        last_name: "Tester".into(),
        phone: None,
    })
    .unwrap()
}

fn event_ids(messages: &[Consumed]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m.header("event_id").unwrap_or_default().to_owned())
        .collect()
}

/// Reads `topic` (without prefix) of the relay configured by `settings`, expecting `expected`
/// messages (and waiting 2 s more, so duplicates would show).
async fn read_topic(
    settings: &RelaySettings,
    topic: &str,
    expected: usize,
) -> anyhow::Result<Vec<Consumed>> {
    consume(
        &settings.kafka_brokers,
        &[format!("{}{topic}", settings.topic_prefix)],
        settings.topic_partitions,
        expected,
        Duration::from_secs(2),
        Duration::from_secs(30),
    )
    .await
}

/// A test event store and a registry double, with relay settings for the shared broker and a
/// topic prefix of this test.
async fn setup() -> anyhow::Result<(TestEventStore, PgPool, RegistryDouble, RelaySettings)> {
    let db = TestEventStore::create().await?;
    let pool = db.store.pool().clone();
    let registry = RegistryDouble::spawn("127.0.0.1:0".parse()?).await?;
    let settings = RelaySettings::local(&kafka_brokers(), &registry.url(), &prefix());
    Ok((db, pool, registry, settings))
}

// --- broker outage -------------------------------------------------------------------------

fn tansu_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TANSU_BIN") {
        return path.into();
    }
    let home = std::env::var_os("SHOPCORE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".local/share/shopcore")
        });
    home.join("bin/tansu")
}

/// A tansu broker of this test's own, on disk (SQLite), so that it can be stopped and restarted
/// without touching the shared broker or losing what it acknowledged.
struct OwnBroker {
    port: u16,
    dir: PathBuf,
    child: Option<tokio::process::Child>,
}

impl OwnBroker {
    async fn start(dir: &std::path::Path) -> anyhow::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut broker = Self {
            port,
            dir: dir.to_path_buf(),
            child: None,
        };
        broker.restart().await?;
        Ok(broker)
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    async fn restart(&mut self) -> anyhow::Result<()> {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let child = tokio::process::Command::new(tansu_binary())
            .arg("broker")
            .arg("--storage-engine")
            // A relative path: tansu resolves the URL's path against its working directory.
            .arg("sqlite://tansu.db")
            .arg("--kafka-listener-url")
            .arg(&url)
            .arg("--kafka-advertised-listener-url")
            .arg(&url)
            .current_dir(&self.dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(self.address())
            .await
            .is_err()
        {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "tansu did not listen on {} within 30 s",
                self.address()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_outage_under_load_loses_nothing_and_keeps_order() -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir()?;
    let mut broker = OwnBroker::start(dir.path()).await?;
    let db = TestEventStore::create().await?;
    let pool = db.store.pool().clone();
    let registry = RegistryDouble::spawn("127.0.0.1:0".parse()?).await?;
    let prefix = prefix();
    let mut settings = RelaySettings::local(&broker.address(), &registry.url(), &prefix);
    settings.batch_size = 100;
    settings.delivery_timeout_ms = 2_000;
    let relay = RunningRelay::start(settings.clone(), &pool)?;

    // Load: customers registered and segmented through the command pipeline, all along.
    let load = tokio::spawn({
        let store = db.store.clone();
        async move { shopcore_commands::seed::seed_customers(&store, 600).await }
    });
    // Stop the broker once the relay has published part of the load…
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while checkpoint(&pool).await?.position < 100 {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "relay published nothing"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    broker.kill().await?;
    let written_before_outage = event_count(&pool).await?;
    // …keep it down long enough for deliveries to time out, watching the relay retry…
    let mut saw_retrying = false;
    for _ in 0..60 {
        saw_retrying |= matches!(relay.state(), TailState::Retrying { .. });
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let written_during_outage = event_count(&pool).await? - written_before_outage;
    // …and bring it back.
    broker.restart().await?;
    let report = load.await??;
    let head = caught_up(&pool, Duration::from_secs(120)).await?;
    relay.stop().await;

    assert!(saw_retrying, "the relay noticed the outage");
    assert!(
        written_during_outage > 0,
        "commands kept succeeding while the broker was down"
    );
    assert_eq!(report.events_written, 1_200);

    let stored = GlobalLog::new(pool.clone())
        .read_after(LogPosition::START, 10_000, None)
        .await?;
    assert_eq!(stored.len() as u64, report.events_written);
    assert_eq!(stored.last().map(|e| e.log_position()), Some(head));
    let topics: Vec<String> = ["customer.updated", "customer.segment.recalculated"]
        .iter()
        .map(|t| format!("{prefix}{t}"))
        .collect();
    let messages = consume(
        &broker.address(),
        &topics,
        settings.topic_partitions,
        stored.len(),
        Duration::from_secs(2),
        Duration::from_secs(60),
    )
    .await?;

    // Every event arrived; duplicates are allowed (at-least-once) and dropped by event id.
    let mut first_seen = HashMap::new();
    for (index, id) in event_ids(&messages).into_iter().enumerate() {
        first_seen.entry(id).or_insert(index);
    }
    let stored_ids: HashSet<String> = stored.iter().map(|e| e.event_id.to_string()).collect();
    let delivered: HashSet<String> = first_seen.keys().cloned().collect();
    assert_eq!(
        stored_ids.difference(&delivered).count(),
        0,
        "events missing from Kafka"
    );
    assert_eq!(delivered.len(), stored.len(), "nothing but stored events");
    // Per topic and key, the first copies come in sequence order.
    let mut last: HashMap<(String, String), u64> = HashMap::new();
    let mut deduplicated = 0;
    for (index, message) in messages.iter().enumerate() {
        if first_seen[message.header("event_id").unwrap()] != index {
            deduplicated += 1;
            continue;
        }
        let sequence: u64 = message.header("sequence").unwrap().parse()?;
        let previous = last
            .insert((message.topic.clone(), message.key.clone()), sequence)
            .unwrap_or(0);
        assert!(
            sequence > previous,
            "{}: sequence {sequence} after {previous} on {}",
            message.key,
            message.topic
        );
    }
    eprintln!(
        "outage test: {} events, {} messages, {} duplicates dropped, {} events written during the outage",
        stored.len(),
        messages.len(),
        deduplicated,
        written_during_outage
    );
    broker.kill().await?;
    db.drop_database().await
}

// --- events that cannot be published -------------------------------------------------------

/// Runs the relay until it halts and returns the event at fault.
async fn run_until_halted(settings: RelaySettings, pool: &PgPool) -> anyhow::Result<Fault> {
    let relay = RunningRelay::start(settings, pool)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let fault = loop {
        if let TailState::Halted(fault) = relay.state() {
            break fault;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "relay did not halt: {:?}",
            relay.state()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    relay.stop().await;
    Ok(fault)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_type_without_schema_halts_the_relay_naming_it() -> anyhow::Result<()> {
    let (db, pool, _registry, settings) = setup().await?;

    let customer = Uuid::new_v4();
    let (before, first_id) = insert(
        &pool,
        customer,
        1,
        "CustomerRegistered",
        registered(customer, "A"),
    )
    .await?;
    let (_, unknown_id) = insert(
        &pool,
        customer,
        2,
        "CustomerErased",
        serde_json::json!({ "CustomerErased": {} }),
    )
    .await?;
    insert(
        &pool,
        Uuid::new_v4(),
        1,
        "CustomerRegistered",
        registered(Uuid::new_v4(), "B"),
    )
    .await?;

    let fault = run_until_halted(settings.clone(), &pool).await?;
    assert_eq!(
        fault.event_type.as_deref(),
        Some("CustomerErased"),
        "{fault:?}"
    );
    assert!(fault.message.contains("CustomerErased"), "{fault:?}");
    let metrics = shopcore_telemetry::metrics_text();
    assert!(metrics.contains("shopcore_relay_halted 1"), "{metrics}");
    assert!(
        metrics.contains("shopcore_relay_failures_total{reason=\"unmapped_event_type\"} 1"),
        "{metrics}"
    );
    assert_eq!(fault.event_id, Some(unknown_id), "{fault:?}");
    assert_eq!(checkpoint(&pool).await?, before, "stopped right before it");

    let messages = read_topic(&settings, "customer.updated", 1).await?;
    assert_eq!(
        event_ids(&messages),
        vec![first_id.to_string()],
        "only what precedes it"
    );
    db.drop_database().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_size_limit_halts_the_relay_naming_its_event() -> anyhow::Result<()> {
    let (db, pool, _registry, mut settings) = setup().await?;
    settings.message_max_bytes = 1_000; // librdkafka's minimum

    let small = Uuid::new_v4();
    let (before, _) = insert(
        &pool,
        small,
        1,
        "CustomerRegistered",
        registered(small, "Small"),
    )
    .await?;
    let big = Uuid::new_v4();
    let (_, big_id) = insert(
        &pool,
        big,
        1,
        "CustomerRegistered",
        registered(big, &"x".repeat(2_000)),
    )
    .await?;

    let fault = run_until_halted(settings, &pool).await?;
    assert_eq!(fault.event_id, Some(big_id), "{fault:?}");
    assert!(fault.message.contains("size limit"), "{fault:?}");
    assert_eq!(checkpoint(&pool).await?, before);
    db.drop_database().await
}

// --- standby and registry outage -------------------------------------------------------------

/// Waits until `relay` is in a state `accept` takes.
async fn wait_for_state(
    relay: &RunningRelay,
    accept: impl Fn(&TailState) -> bool,
) -> anyhow::Result<TailState> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let state = relay.state();
        if accept(&state) {
            return Ok(state);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "relay state is still {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_relay_stands_by_and_takes_over_without_duplicates() -> anyhow::Result<()> {
    let (db, pool, _registry, settings) = setup().await?;

    let first_customer = Uuid::new_v4();
    let (_, first) = insert(
        &pool,
        first_customer,
        1,
        "CustomerRegistered",
        registered(first_customer, "A"),
    )
    .await?;
    let active = RunningRelay::start(settings.clone(), &pool)?;
    caught_up(&pool, Duration::from_secs(30)).await?;
    let standby = RunningRelay::start(settings.clone(), &pool)?;
    wait_for_state(&standby, |s| *s == TailState::Standby).await?;
    assert_eq!(active.state(), TailState::Running);

    active.stop().await;
    let second_customer = Uuid::new_v4();
    let (_, second) = insert(
        &pool,
        second_customer,
        1,
        "CustomerRegistered",
        registered(second_customer, "B"),
    )
    .await?;
    caught_up(&pool, Duration::from_secs(30)).await?;
    assert_eq!(standby.state(), TailState::Running, "the standby took over");
    standby.stop().await;

    let messages = read_topic(&settings, "customer.updated", 2).await?;
    let mut ids = event_ids(&messages);
    ids.sort();
    let mut expected = vec![first.to_string(), second.to_string()];
    expected.sort();
    assert_eq!(ids, expected, "each event once");
    db.drop_database().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_registry_outage_delays_publishing_and_loses_nothing() -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let pool = db.store.pool().clone();
    let registry_addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?; // closed again: down
    let prefix = prefix();
    let settings = RelaySettings::local(
        &kafka_brokers(),
        &format!("http://{registry_addr}"),
        &prefix,
    );
    let customer = Uuid::new_v4();
    insert(
        &pool,
        customer,
        1,
        "CustomerRegistered",
        registered(customer, "A"),
    )
    .await?;

    let relay = RunningRelay::start(settings.clone(), &pool)?;
    let state = wait_for_state(&relay, |s| matches!(s, TailState::Retrying { .. })).await?;
    assert!(
        format!("{state:?}").contains("-value"),
        "names the subject: {state:?}"
    );
    assert_eq!(
        checkpoint(&pool).await?,
        LogPosition::START,
        "nothing published without schema ids"
    );

    let registry = RegistryDouble::spawn(registry_addr).await?;
    caught_up(&pool, Duration::from_secs(60)).await?;
    relay.stop().await;
    assert_eq!(
        registry
            .versions(&format!("{prefix}customer.updated-value"))
            .len(),
        1
    );
    let messages = read_topic(&settings, "customer.updated", 1).await?;
    assert_eq!(messages.len(), 1);
    db.drop_database().await
}
