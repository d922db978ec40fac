//! The write path under load, measured against its own baseline in the same run.
//!
//! `cargo bench -p shopcore-e2e --bench write_path` (release profile; `BENCH_SECONDS`, default
//! 10, sets each phase's length; `BENCH_CLIENTS`, default 16). Against the local Postgres,
//! MariaDB and Redis, in a database of its own:
//!
//! 1. **raw commits** — single-row `INSERT … COMMIT`s into a table shaped like `events` (same
//!    columns, defaults, keys and indexes) from 16 connections: what the server can commit;
//! 2. **commands** — `RegisterCustomer` over gRPC from 16 concurrent clients against the command
//!    service in this process, with p50/p99 latency, and the ratio to (1);
//! 3. **projection lag** under that load: from a command's reply until the MySQL and the Redis
//!    read models have applied it (sampled every 25 ms), p50/p99;
//! 4. **history** — `UpdateProfile` latency on a customer with 10 events and on one with
//!    10 000 (snapshots every 100 events), interleaved, and their ratio; plus one load of the
//!    long aggregate with and without its snapshot.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser as _;
use shopcore_commands::app::CommandApp;
use shopcore_commands::grpc::customer::customer_snapshots;
use shopcore_commands::settings::CommandSettings;
use shopcore_event_store::snapshot::SnapshotPolicy;
use shopcore_event_store::{EventStore, LogPosition};
use shopcore_projections::customer::mysql::{mysql_checkpoint, CustomerMysqlProjector};
use shopcore_projections::customer::redis::CustomerRedisProjector;
use shopcore_projections::runtime::ProjectionRunner;
use shopcore_projections::stores::{connect_mysql, connect_redis};
use shopcore_proto::customer::v1 as pb;
use shopcore_proto::customer::v1::customer_commands_client::CustomerCommandsClient;
use sqlx::migrate::MigrateDatabase;
use tokio::sync::watch;
use uuid::Uuid;

/// Adds the benchmark's bearer token to every call.
#[derive(Clone)]
struct WithToken(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for WithToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

type Client = CustomerCommandsClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, WithToken>,
>;

fn env_number(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds used so far by this process and by every `postgres` process (from /proc; the
/// machine's other work is not counted).
fn cpu_seconds() -> (f64, f64) {
    let ticks = 100.0; // USER_HZ on Linux
    let parse = |stat: &str| -> Option<(String, f64)> {
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((name, (utime + stime) / ticks))
    };
    let own = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| parse(&s))
        .map_or(0.0, |(_, cpu)| cpu);
    let mut postgres = 0.0;
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            if let Some((name, cpu)) = std::fs::read_to_string(entry.path().join("stat"))
                .ok()
                .and_then(|s| parse(&s))
            {
                if name == "postgres" {
                    postgres += cpu;
                }
            }
        }
    }
    (own, postgres)
}

/// p50 and p99 of some durations, in milliseconds.
fn percentiles(samples: &mut [Duration]) -> (f64, f64) {
    if samples.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    samples.sort();
    let at = |q: f64| {
        let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[index].as_secs_f64() * 1e3
    };
    (at(0.50), at(0.99))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds = env_number("BENCH_SECONDS", 10);
    let clients = env_number("BENCH_CLIENTS", 16) as usize;
    let phase = Duration::from_secs(seconds);
    let suffix = Uuid::new_v4().simple().to_string();
    let server = shopcore_event_store::testing::postgres_server_url();
    let database_url = format!("{server}/shopcore_bench_{suffix}");
    let mysql_url = format!(
        "{}/shopcore_bench_{suffix}",
        shopcore_event_store::testing::mysql_server_url()
    );
    let redis_url = shopcore_event_store::testing::redis_url();
    let prefix = format!("bench:{suffix}:");

    let secret = format!("bench-secret-{}", Uuid::new_v4().simple());
    let settings = CommandSettings::parse_from([
        "shopcore-commands",
        "--auth-jwt-secret",
        &secret,
        "--database-url",
        &database_url,
        "--grpc-addr",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
        "--database-max-connections",
        &(clients + 4).to_string(),
    ]);
    let token = settings.auth.mint(
        "bench",
        &[shopcore_auth::scopes::MANAGE_CUSTOMERS],
        None,
        Duration::from_secs(3600),
    )?;
    let with_token = WithToken(format!("Bearer {token}").parse()?);
    let app = CommandApp::build(&settings).await?;
    let grpc = format!("http://{}", app.local_addr()?);
    let (stop_app, app_stopped) = tokio::sync::oneshot::channel::<()>();
    let server_task = tokio::spawn(app.run(async move {
        let _ = app_stopped.await;
    }));
    let store = EventStore::connect(&database_url, &settings.store_options()).await?;
    let pool = store.pool().clone();

    println!("\nwrite path, {clients} clients, {seconds} s per phase, Postgres {server}\n");

    // 1. Raw commits.
    sqlx::query("CREATE TABLE raw_events (LIKE events INCLUDING ALL)")
        .execute(&pool)
        .await?;
    let payload = serde_json::json!({"CustomerRegistered": {"customerId": Uuid::nil(),
        "email": "bench@example.com", "firstName": "Bench", "lastName": "Customer", "phone": null}});
    let metadata = serde_json::json!({"commandId": Uuid::nil(), "commandType": "customer.register",
        "correlationId": "bench", "causationId": Uuid::nil(), "actor": "bench"});
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let raw_tasks: Vec<_> = (0..clients)
        .map(|_| {
            let pool = pool.clone();
            let (payload, metadata) = (payload.clone(), metadata.clone());
            tokio::spawn(async move {
                let mut done = 0u64;
                while started.elapsed() < phase {
                    sqlx::query(
                        "INSERT INTO raw_events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
                         VALUES ('customer', $1, 1, 'CustomerRegistered', '1', $2, $3)",
                    )
                    .bind(Uuid::now_v7().to_string())
                    .bind(&payload)
                    .bind(&metadata)
                    .execute(&pool)
                    .await?;
                    done += 1;
                }
                anyhow::Ok(done)
            })
        })
        .collect();
    let mut raw = 0;
    for task in raw_tasks {
        raw += task.await??;
    }
    let raw_rate = raw as f64 / started.elapsed().as_secs_f64();
    let cpu_after = cpu_seconds();
    let raw_cpu = (
        (cpu_after.0 - cpu_before.0) / raw as f64,
        (cpu_after.1 - cpu_before.1) / raw as f64,
    );

    // 2 and 3. Commands over gRPC, with the projectors running and the lag sampled.
    let log =
        shopcore_projections::stores::connect_event_log(&database_url, Duration::from_secs(10))
            .await?;
    let mysql = connect_mysql(&mysql_url).await?;
    let redis = connect_redis(&redis_url).await?;
    let (stop_projectors, projectors_stopped) = watch::channel(false);
    let with_projectors = env_number("BENCH_PROJECTORS", 1) == 1;
    let projector_tasks: Vec<_> = [
        Arc::new(CustomerMysqlProjector::new(mysql.clone(), log.clone()))
            as Arc<dyn shopcore_projections::runtime::Projector>,
        Arc::new(CustomerRedisProjector::new(
            redis.clone(),
            log.clone(),
            prefix.clone(),
        )),
    ]
    .into_iter()
    .filter(|_| with_projectors)
    .map(|projector| {
        let runner = ProjectionRunner::new(log.clone(), projector, 500);
        let stopped = projectors_stopped.clone();
        tokio::spawn(async move { runner.run(stopped).await })
    })
    .collect();

    let channel = tonic::transport::Endpoint::from_shared(grpc.clone())?
        .connect()
        .await?;
    let latest: Arc<Mutex<Option<(LogPosition, Instant)>>> = Arc::default();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let command_tasks: Vec<_> = (0..clients)
        .map(|client| {
            let mut grpc =
                CustomerCommandsClient::with_interceptor(channel.clone(), with_token.clone());
            let latest = latest.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut n = 0u64;
                while started.elapsed() < phase {
                    let id = Uuid::now_v7();
                    let sent = Instant::now();
                    let reply = grpc
                        .register_customer(pb::RegisterCustomerRequest {
                            customer_id: id.to_string(),
                            email: format!(
                                "c{client}-{n}-{}@example.com",
                                &id.simple().to_string()[24..]
                            ),
                            first_name: "Bench".into(),
                            last_name: format!("Customer {n}"),
                            phone: None,
                            options: None,
                        })
                        .await?
                        .into_inner();
                    let at = Instant::now();
                    latencies.push(at - sent);
                    n += 1;
                    let position: LogPosition = reply
                        .result
                        .map(|r| r.log_position)
                        .unwrap_or_default()
                        .parse()?;
                    let mut latest = latest.lock().expect("latest");
                    if latest.is_none_or(|(p, _)| p < position) {
                        *latest = Some((position, at));
                    }
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let sampler = {
        let latest = latest.clone();
        let mysql = mysql.clone();
        let mut redis = redis.clone();
        let checkpoint_key = format!("{prefix}shopcore:projection:customer_redis:checkpoint");
        tokio::spawn(async move {
            let (mut mysql_lag, mut redis_lag) = (Vec::new(), Vec::new());
            while started.elapsed() < phase {
                tokio::time::sleep(Duration::from_millis(25)).await;
                let Some((wanted, replied)) = *latest.lock().expect("latest") else {
                    continue;
                };
                let (mut in_mysql, mut in_redis) = (None, None);
                let deadline = Instant::now() + Duration::from_secs(10);
                while (in_mysql.is_none() || in_redis.is_none()) && Instant::now() < deadline {
                    if in_mysql.is_none()
                        && mysql_checkpoint(&mysql, CustomerMysqlProjector::NAME).await? >= wanted
                    {
                        in_mysql = Some(replied.elapsed());
                    }
                    if in_redis.is_none() {
                        let stored: Option<String> =
                            redis::AsyncCommands::get(&mut redis, &checkpoint_key).await?;
                        if stored.and_then(|s| s.parse::<LogPosition>().ok()) >= Some(wanted) {
                            in_redis = Some(replied.elapsed());
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                mysql_lag.extend(in_mysql);
                redis_lag.extend(in_redis);
            }
            anyhow::Ok((mysql_lag, redis_lag))
        })
    };
    let mut latencies = Vec::new();
    for task in command_tasks {
        latencies.extend(task.await??);
    }
    let command_seconds = started.elapsed().as_secs_f64();
    let cpu_after = cpu_seconds();
    let command_cpu = (
        (cpu_after.0 - cpu_before.0) / latencies.len().max(1) as f64,
        (cpu_after.1 - cpu_before.1) / latencies.len().max(1) as f64,
    );
    let (mut mysql_lag, mut redis_lag) = sampler.await??;
    let command_rate = latencies.len() as f64 / command_seconds;
    let (p50, p99) = percentiles(&mut latencies);

    println!(
        "{:<52} {:>10} {:>9} {:>9}",
        "", "per second", "p50 ms", "p99 ms"
    );
    println!(
        "{:<52} {:>10.0}",
        "(a) raw INSERT … COMMIT into an events-shaped table", raw_rate
    );
    println!(
        "{:<52} {:>10.0} {:>9.2} {:>9.2}",
        "(b) RegisterCustomer over gRPC", command_rate, p50, p99
    );
    println!(
        "{:<52} {:>10.2}   (goal ≥ 0.60)",
        "ratio b/a",
        command_rate / raw_rate
    );
    println!(
        "{:<52} {:>10}   (a) {:.0} µs postgres + {:.0} µs client; (b) {:.0} µs postgres + {:.0} µs client, server{}",
        "CPU per commit / per command", "",
        raw_cpu.1 * 1e6, raw_cpu.0 * 1e6, command_cpu.1 * 1e6, command_cpu.0 * 1e6,
        if with_projectors { " and projectors" } else { "" }
    );
    let (p50, p99) = percentiles(&mut mysql_lag);
    println!(
        "{:<52} {:>10} {:>9.2} {:>9.2}   ({} samples; goal p99 < 100)",
        "projection lag, reply → MySQL",
        "",
        p50,
        p99,
        mysql_lag.len()
    );
    let (p50, p99) = percentiles(&mut redis_lag);
    println!(
        "{:<52} {:>10} {:>9.2} {:>9.2}   ({} samples)",
        "projection lag, reply → Redis",
        "",
        p50,
        p99,
        redis_lag.len()
    );
    let _ = stop_projectors.send(true);
    for task in projector_tasks {
        let _ = task.await;
    }

    // 4. History: a customer with 10 events and one with 10 000.
    let mut grpc = CustomerCommandsClient::with_interceptor(channel.clone(), with_token.clone());
    let short = history(&mut grpc, &pool, 10).await?;
    let long = history(&mut grpc, &pool, 10_000).await?;
    let started = Instant::now();
    let load_cold = store
        .load::<shopcore_domain::customer::Customer>(&SnapshotPolicy::disabled(), &long)
        .await?;
    let cold = started.elapsed();
    let started = Instant::now();
    let load_warm = store
        .load::<shopcore_domain::customer::Customer>(&customer_snapshots(), &long)
        .await?;
    let warm = started.elapsed();
    anyhow::ensure!(
        load_cold.aggregate == load_warm.aggregate,
        "snapshot disagrees with the events"
    );
    let (mut short_latency, mut long_latency) = (Vec::new(), Vec::new());
    let rounds = env_number("BENCH_HISTORY_ROUNDS", 300);
    for n in 0..rounds {
        for (id, latencies) in [(&short, &mut short_latency), (&long, &mut long_latency)] {
            let sent = Instant::now();
            grpc.update_profile(pb::UpdateProfileRequest {
                customer_id: id.clone(),
                last_name: Some(format!("Renamed {n}")),
                ..Default::default()
            })
            .await?;
            latencies.push(sent.elapsed());
        }
    }
    let (short_p50, short_p99) = percentiles(&mut short_latency);
    let (long_p50, long_p99) = percentiles(&mut long_latency);
    println!();
    println!(
        "{:<52} {:>10} {:>9.2} {:>9.2}",
        "UpdateProfile, customer with 10 events", "", short_p50, short_p99
    );
    println!(
        "{:<52} {:>10} {:>9.2} {:>9.2}",
        "UpdateProfile, customer with 10 000 events", "", long_p50, long_p99
    );
    println!(
        "{:<52} {:>10.2}   (goal ≤ 1.5)",
        "ratio of p50s, 10 000 / 10 events",
        long_p50 / short_p50
    );
    println!(
        "{:<52} {:>10}   {:.2} ms folding {} events; {:.2} ms from the snapshot + {}",
        "one load of the 10 000-event customer",
        "",
        cold.as_secs_f64() * 1e3,
        load_cold.events_folded,
        warm.as_secs_f64() * 1e3,
        load_warm.events_folded
    );

    let _ = stop_app.send(());
    let _ = server_task.await;
    pool.close().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), mysql.close()).await;
    sqlx::Postgres::force_drop_database(&database_url).await?;
    sqlx::MySql::drop_database(&mysql_url).await?;
    let mut redis = redis.clone();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut redis)
        .await?;
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(keys).query_async(&mut redis).await?;
    }
    Ok(())
}

/// A customer with `events` events: registered over gRPC, then segment changes written
/// straight into the store (10 000 commands would take the benchmark minutes), then one
/// command, which folds them all and takes a snapshot.
async fn history(grpc: &mut Client, pool: &sqlx::PgPool, events: i64) -> anyhow::Result<String> {
    let id = Uuid::now_v7();
    grpc.register_customer(pb::RegisterCustomerRequest {
        customer_id: id.to_string(),
        email: format!("history-{id}@example.com"),
        first_name: "Long".into(),
        last_name: "History".into(),
        phone: None,
        options: None,
    })
    .await?;
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         SELECT 'customer', $1, n, 'CustomerSegmentsAssigned', '1',
                jsonb_build_object('CustomerSegmentsAssigned', jsonb_build_object(
                    'segments', jsonb_build_array('s' || (n % 7)),
                    'added', jsonb_build_array('s' || (n % 7)),
                    'removed', jsonb_build_array('s' || ((n - 1) % 7)))),
                '{}'::jsonb
         FROM generate_series(2, $2 - 1) AS n",
    )
    .bind(id.to_string())
    .bind(events)
    .execute(pool)
    .await?;
    grpc.update_profile(pb::UpdateProfileRequest {
        customer_id: id.to_string(),
        first_name: Some("Warm".into()),
        ..Default::default()
    })
    .await?;
    Ok(id.to_string())
}
