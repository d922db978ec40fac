//! End-to-end test harness: starts the real `shopcore-commands`, `shopcore-projections` and
//! `shopcore-gateway` binaries against the real Postgres, MariaDB and Redis, each test with its
//! own Postgres database, MySQL database and Redis key prefix, and talks to them over HTTP.
//!
//! The binaries must be built first (`cargo build --bins`; `infra/test` does it).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context as _};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use uuid::Uuid;

/// Local servers, overridable for other set-ups.
fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_owned())
}

/// The directory holding the workspace's binaries (`target/debug`).
fn bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/debug/deps/<test> → target/debug
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .context("test executable has no target dir")?;
    Ok(dir.to_path_buf())
}

/// How many of a process's latest log lines [`TestApp::logs`] keeps.
const KEPT_LOG_LINES: usize = 20_000;

/// A process's latest stdout lines.
type LogLines = std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<String>>>;

/// A running process whose JSON log lines are scanned for its listening address and kept
/// (the latest [`KEPT_LOG_LINES`]) for tests of what it logs.
struct Process {
    name: String,
    child: Child,
    logs: LogLines,
}

async fn spawn(
    name: &str,
    envs: &[(&str, String)],
    address_field: &str,
) -> anyhow::Result<(Process, String)> {
    spawn_with_args(name, &[], envs, address_field).await
}

async fn spawn_with_args(
    name: &str,
    args: &[&str],
    envs: &[(&str, String)],
    address_field: &str,
) -> anyhow::Result<(Process, String)> {
    let (process, line) = spawn_line(name, args, envs, address_field).await?;
    let address = field(&line, address_field)?;
    Ok((process, address))
}

/// A string field of a JSON log line.
fn field(line: &serde_json::Value, name: &str) -> anyhow::Result<String> {
    line.get(name)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .with_context(|| format!("no {name} in {line}"))
}

/// Starts a binary and returns it with the first JSON log line that has `address_field`.
async fn spawn_line(
    name: &str,
    args: &[&str],
    envs: &[(&str, String)],
    address_field: &str,
) -> anyhow::Result<(Process, serde_json::Value)> {
    let path = bin_dir()?.join(name);
    if !path.exists() {
        bail!(
            "{} is missing: run `cargo build --bins` first",
            path.display()
        );
    }
    let mut command = Command::new(&path);
    command
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", env_or("E2E_RUST_LOG", "info"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .with_context(|| format!("while starting {name}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let (found, mut address) = mpsc::channel::<serde_json::Value>(1);
    let field = address_field.to_owned();
    let label = name.to_owned();
    let echo = std::env::var_os("E2E_ECHO").is_some();
    let logs = LogLines::default();
    let kept = logs.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if echo {
                eprintln!("[{label}] {line}");
            }
            if let Ok(mut kept) = kept.lock() {
                if kept.len() == KEPT_LOG_LINES {
                    kept.pop_front();
                }
                kept.push_back(line.clone());
            }
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) {
                if json.get(&field).and_then(|v| v.as_str()).is_some() {
                    let _ = found.try_send(json);
                }
            }
        }
    });
    let address = tokio::time::timeout(Duration::from_secs(60), address.recv())
        .await
        .with_context(|| format!("{name} did not report {address_field} within 60 s"))?
        .with_context(|| format!("{name} exited before listening"))?;
    Ok((
        Process {
            name: name.to_owned(),
            child,
            logs,
        },
        address,
    ))
}

/// An HS256 token for the e2e deployments (one hour).
fn mint(
    secret: &str,
    subject: &str,
    scopes: &[&str],
    customer_id: Option<Uuid>,
) -> anyhow::Result<String> {
    Ok(shopcore_auth::token::mint_hs256(
        secret.as_bytes(),
        "shopcore",
        "shopcore",
        subject,
        scopes,
        customer_id,
        Duration::from_secs(3600),
    )?)
}

/// One isolated Shopcore deployment.
pub struct TestApp {
    /// An HTTP client that sends a token with every scope (`sub` = "e2e-admin").
    pub http: reqwest::Client,
    /// The token of [`TestApp::http`], for gRPC calls.
    pub admin_token: String,
    /// The deployment's HS256 secret.
    pub auth_secret: String,
    pub base_url: String,
    pub grpc_addr: String,
    pub pg: sqlx::PgPool,
    pub mysql: sqlx::MySqlPool,
    pub redis: redis::aio::MultiplexedConnection,
    pub redis_prefix: String,
    /// The deployment's own CouchDB catalog database.
    pub catalog: shopcore_projections::couch::CouchDb,
    /// `http://…` of the projections process (`/metrics`, `/readyz`, `/status`).
    pub projections_url: String,
    /// `http://…` of the command service's `/metrics`, `/healthz`, `/readyz`.
    pub commands_ops_url: String,
    pub database_url: String,
    pub mysql_url: String,
    /// The deployment's media store (a directory of its own, removed with the app).
    pub media_dir: tempfile::TempDir,
    processes: Vec<Process>,
    /// Set by [`TestApp::start_relay`].
    pub relay: Option<RelayHandle>,
}

/// The relay of a deployment: its schema registry double, broker and topic prefix.
pub struct RelayHandle {
    pub registry: shopcore_event_schemas::registry_double::RegistryDouble,
    pub kafka_brokers: String,
    pub topic_prefix: String,
    pub metrics_url: String,
}

impl RelayHandle {
    /// The Kafka topic of a topic-map entry in this deployment.
    pub fn topic(&self, topic: &str) -> String {
        format!("{}{topic}", self.topic_prefix)
    }
}

impl TestApp {
    pub async fn spawn() -> anyhow::Result<Self> {
        Self::spawn_with(&[]).await
    }

    /// A deployment whose command service also gets `commands_env` (settings under test).
    pub async fn spawn_with(commands_env: &[(&'static str, String)]) -> anyhow::Result<Self> {
        let suffix = Uuid::new_v4().simple().to_string();
        let database_url = format!(
            "{}/shopcore_e2e_{suffix}",
            shopcore_event_store::testing::postgres_server_url()
        );
        let mysql_url = format!(
            "{}/shopcore_e2e_{suffix}",
            shopcore_event_store::testing::mysql_server_url()
        );
        let redis_url = shopcore_event_store::testing::redis_url();
        let redis_prefix = format!("e2e:{suffix}:");
        let couchdb_url = env_or("COUCHDB_URL", "http://127.0.0.1:5984");
        let catalog_db = format!("shopcore_e2e_{suffix}");
        let catalog = shopcore_projections::couch::CouchDb::new(&couchdb_url, &catalog_db)?;
        let auth_secret = format!("e2e-secret-{}", Uuid::new_v4().simple());
        let media_dir = tempfile::tempdir()?;
        let common = vec![
            ("MEDIA_STORE_URL", media_dir.path().display().to_string()),
            ("AUTH_JWT_SECRET", auth_secret.clone()),
            ("DATABASE_URL", database_url.clone()),
            ("MYSQL_URL", mysql_url.clone()),
            ("REDIS_URL", redis_url.clone()),
            ("REDIS_KEY_PREFIX", redis_prefix.clone()),
            ("COUCHDB_URL", couchdb_url.clone()),
            ("COUCHDB_CATALOG_DB", catalog_db.clone()),
        ];

        let mut envs = common.clone();
        envs.push(("GRPC_ADDR", "127.0.0.1:0".into()));
        envs.push(("COMMANDS_METRICS_ADDR", "127.0.0.1:0".into()));
        envs.extend(commands_env.iter().cloned());
        let (commands, listening) =
            spawn_line("shopcore-commands", &[], &envs, "grpc_addr").await?;
        let grpc_addr = field(&listening, "grpc_addr")?;
        let commands_ops_addr = field(&listening, "metrics_addr")?;

        let mut envs = common.clone();
        envs.push(("PROJECTIONS_METRICS_ADDR", "127.0.0.1:0".into()));
        let (projections, projections_addr) =
            spawn("shopcore-projections", &envs, "metrics_addr").await?;

        let mut envs = common;
        envs.push(("HTTP_ADDR", "127.0.0.1:0".into()));
        envs.push(("COMMANDS_URL", format!("http://{grpc_addr}")));
        let (gateway, http_addr) = spawn("shopcore-gateway", &envs, "http_addr").await?;

        let pg = sqlx::PgPool::connect(&database_url).await?;
        let mysql = sqlx::MySqlPool::connect(&mysql_url).await?;
        let redis = redis::Client::open(redis_url)?
            .get_multiplexed_async_connection()
            .await?;
        let every_scope: Vec<&str> = shopcore_auth::scopes::ALL.iter().map(|(s, _)| *s).collect();
        let admin_token = mint(&auth_secret, "e2e-admin", &every_scope, None)?;
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {admin_token}").parse()?,
        );
        Ok(Self {
            http: reqwest::Client::builder()
                .default_headers(headers)
                .build()?,
            admin_token,
            auth_secret,
            base_url: format!("http://{http_addr}"),
            grpc_addr,
            pg,
            mysql,
            redis,
            redis_prefix,
            catalog,
            projections_url: format!("http://{projections_addr}"),
            commands_ops_url: format!("http://{commands_ops_addr}"),
            database_url,
            mysql_url,
            media_dir,
            processes: vec![commands, projections, gateway],
            relay: None,
        })
    }

    /// Starts `shopcore-commands relay` against the shared broker, with a schema registry
    /// double of this test and a topic prefix of this deployment.
    pub async fn start_relay(&mut self) -> anyhow::Result<&RelayHandle> {
        let registry =
            shopcore_event_schemas::registry_double::RegistryDouble::spawn("127.0.0.1:0".parse()?)
                .await?;
        let kafka_brokers = env_or("KAFKA_BROKERS", "127.0.0.1:9092");
        let topic_prefix = format!("e2e{}.", &Uuid::new_v4().simple().to_string()[..10]);
        let envs = vec![
            ("DATABASE_URL", self.database_url.clone()),
            ("KAFKA_BROKERS", kafka_brokers.clone()),
            ("SCHEMA_REGISTRY_URL", registry.url()),
            ("KAFKA_TOPIC_PREFIX", topic_prefix.clone()),
            ("RELAY_METRICS_ADDR", "127.0.0.1:0".into()),
        ];
        let (process, metrics_addr) =
            spawn_with_args("shopcore-commands", &["relay"], &envs, "metrics_addr").await?;
        self.processes.push(process);
        Ok(self.relay.insert(RelayHandle {
            registry,
            kafka_brokers,
            topic_prefix,
            metrics_url: format!("http://{metrics_addr}/metrics"),
        }))
    }

    /// Starts `shopcore-commands media-worker` on this deployment's event store and media store;
    /// returns the `http://…` of its `/metrics`, `/readyz`.
    pub async fn start_media_worker(&mut self) -> anyhow::Result<String> {
        let envs = vec![
            ("DATABASE_URL", self.database_url.clone()),
            (
                "MEDIA_STORE_URL",
                self.media_dir.path().display().to_string(),
            ),
            ("MEDIA_WORKER_METRICS_ADDR", "127.0.0.1:0".into()),
        ];
        // Its own name, so that `kill("media-worker")` stops it and not the command service.
        self.start_worker("media-worker", "media-worker", &envs)
            .await
    }

    /// Starts `shopcore-commands promotion-scheduler` on this deployment's event store and
    /// MySQL read model, ticking every `interval` (e.g. "300ms"), known to [`TestApp::kill`] as
    /// `name`; returns the `http://…` of its `/metrics`, `/readyz`.
    pub async fn start_promotion_scheduler(
        &mut self,
        name: &str,
        interval: &str,
    ) -> anyhow::Result<String> {
        let envs = vec![
            ("DATABASE_URL", self.database_url.clone()),
            ("MYSQL_URL", self.mysql_url.clone()),
            ("PROMOTION_SCHEDULER_INTERVAL", interval.to_owned()),
            ("PROMOTION_SCHEDULER_METRICS_ADDR", "127.0.0.1:0".into()),
        ];
        self.start_worker(name, "promotion-scheduler", &envs).await
    }

    /// Starts `shopcore-commands cart-expiry-sweep` on this deployment's event store, MySQL
    /// read model and Redis prefix, sweeping every `interval` (e.g. "300ms"), known to
    /// [`TestApp::kill`] as `name`; returns the `http://…` of its `/metrics`, `/readyz`.
    pub async fn start_cart_expiry_sweep(
        &mut self,
        name: &str,
        interval: &str,
    ) -> anyhow::Result<String> {
        let envs = vec![
            ("DATABASE_URL", self.database_url.clone()),
            ("MYSQL_URL", self.mysql_url.clone()),
            ("REDIS_URL", shopcore_event_store::testing::redis_url()),
            ("REDIS_KEY_PREFIX", self.redis_prefix.clone()),
            ("CART_EXPIRY_INTERVAL", interval.to_owned()),
            ("CART_EXPIRY_METRICS_ADDR", "127.0.0.1:0".into()),
        ];
        self.start_worker(name, "cart-expiry-sweep", &envs).await
    }

    /// Starts `shopcore-commands segment-policy` on this deployment's event store (VIP at
    /// `threshold_minor` EUR of spend), known to [`TestApp::kill`] as `segment-policy`;
    /// returns the `http://…` of its `/metrics`, `/readyz`.
    pub async fn start_segment_policy(&mut self, threshold_minor: i64) -> anyhow::Result<String> {
        let envs = vec![
            ("DATABASE_URL", self.database_url.clone()),
            ("SEGMENT_VIP_THRESHOLD_MINOR", threshold_minor.to_string()),
            ("SEGMENT_POLICY_METRICS_ADDR", "127.0.0.1:0".into()),
        ];
        self.start_worker("segment-policy", "segment-policy", &envs)
            .await
    }

    /// Starts `shopcore-commands <subcommand>` with `envs`, known to [`TestApp::kill`] as
    /// `name`; returns the `http://…` of the `metrics_addr` it reports.
    async fn start_worker(
        &mut self,
        name: &str,
        subcommand: &str,
        envs: &[(&str, String)],
    ) -> anyhow::Result<String> {
        let (mut process, metrics_addr) =
            spawn_with_args("shopcore-commands", &[subcommand], envs, "metrics_addr").await?;
        process.name = name.to_owned();
        self.processes.push(process);
        Ok(format!("http://{metrics_addr}"))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A token of this deployment with `scopes`, optionally bound to a customer.
    pub fn token(
        &self,
        subject: &str,
        scopes: &[&str],
        customer_id: Option<Uuid>,
    ) -> anyhow::Result<String> {
        mint(&self.auth_secret, subject, scopes, customer_id)
    }

    /// A gRPC request carrying the admin token.
    pub fn grpc<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Ok(value) = format!("Bearer {}", self.admin_token).parse() {
            request.metadata_mut().insert("authorization", value);
        }
        request
    }

    /// The latest stdout lines (JSON logs) of the deployment's processes named `name`
    /// (`shopcore-gateway`, say), oldest first.
    pub fn logs(&self, name: &str) -> Vec<String> {
        self.processes
            .iter()
            .filter(|p| p.name == name)
            .filter_map(|p| {
                p.logs
                    .lock()
                    .ok()
                    .map(|l| l.iter().cloned().collect::<Vec<_>>())
            })
            .flatten()
            .collect()
    }

    /// Kills one of the deployment's processes (`shopcore-projections`, say), as a crash would.
    pub async fn kill(&mut self, name: &str) -> anyhow::Result<()> {
        for process in self.processes.iter_mut().filter(|p| p.name == name) {
            process.child.kill().await?;
        }
        Ok(())
    }

    /// The path of a workspace binary, for tests that run one of its subcommands.
    pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
        Ok(bin_dir()?.join(name))
    }

    /// Number of events in the event store.
    pub async fn event_count(&self) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.pg)
            .await?)
    }

    /// Stops the processes and drops the databases and Redis keys of this deployment.
    pub async fn cleanup(mut self) -> anyhow::Result<()> {
        for process in &mut self.processes {
            let _ = process.child.kill().await;
        }
        self.pg.close().await;
        self.mysql.close().await;
        use sqlx::migrate::MigrateDatabase as _;
        sqlx::Postgres::force_drop_database(&self.database_url).await?;
        sqlx::MySql::drop_database(&self.mysql_url).await?;
        self.catalog.delete_database().await?;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.redis_prefix))
            .query_async(&mut self.redis)
            .await?;
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(keys)
                .query_async(&mut self.redis)
                .await?;
        }
        Ok(())
    }
}
