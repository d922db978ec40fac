//! Relay throughput against the local broker (`infra/up` starts it), with a baseline measured in
//! the same run:
//!
//! - `producer only`: the same messages, already encoded, sent by a bare idempotent `acks=all`
//!   producer — the broker's and librdkafka's ceiling on this machine;
//! - `convert + Avro-encode only`: the CPU part of the relay's work, without any I/O;
//! - `relay`: read from Postgres, decode the domain event, convert and Avro-encode (registry
//!   double for ids), publish, wait for acknowledgements, move the checkpoint — per batch size.
//!
//! `cargo bench -p shopcore-commands --bench relay_throughput` (EVENTS=50000 by default).

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use shopcore_commands::relay::{Relay, RelaySettings};
use shopcore_commands::testing::kafka_brokers;
use shopcore_event_schemas::registry_double::RegistryDouble;
use shopcore_event_schemas::{EventEnvelope, EventSchemas};
use shopcore_event_store::testing::TestEventStore;
use shopcore_event_store::{GlobalLog, LogPosition};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let events: i64 = std::env::var("EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let brokers = kafka_brokers();
    let db = TestEventStore::create().await?;
    let pool = db.store.pool().clone();
    let started = Instant::now();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         SELECT 'customer', id::text, 1, 'CustomerRegistered', '1',
                jsonb_build_object('CustomerRegistered', jsonb_build_object(
                    'customerId', id, 'email', 'bench' || n || '@example.com',
                    'firstName', 'Bench', 'lastName', 'Customer ' || n, 'phone', null)),
                jsonb_build_object('correlationId', 'bench-' || n)
         FROM (SELECT n, gen_random_uuid() AS id FROM generate_series(1, $1) AS n) AS s",
    )
    .bind(events)
    .execute(&pool)
    .await?;
    eprintln!(
        "inserted {events} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let registry = RegistryDouble::spawn("127.0.0.1:0".parse()?).await?;
    let log = GlobalLog::new(pool.clone());

    // Baseline: pre-encoded messages through a bare producer.
    let stored = log
        .read_after(LogPosition::START, events as u32, None)
        .await?;
    let schemas = EventSchemas::embedded()?;
    let encode_started = Instant::now();
    let payloads: Vec<Vec<u8>> = stored
        .iter()
        .map(|e| {
            let envelope = EventEnvelope {
                event_id: e.event_id,
                aggregate_type: &e.aggregate_type,
                aggregate_id: &e.aggregate_id,
                sequence: e.sequence,
                event_type: &e.event_type,
                event_version: &e.event_version,
                recorded_at: e.recorded_at,
                payload: &e.payload,
            };
            let value = schemas.to_avro(&envelope).expect("encodable").value;
            let topic = schemas.topic("customer.updated").expect("topic");
            let mut bytes = vec![0, 0, 0, 0, 1];
            bytes.extend(
                apache_avro::writer::datum::GenericDatumWriter::builder(&topic.schema)
                    .build()
                    .and_then(|w| w.write_value_to_vec(value))
                    .expect("encode"),
            );
            bytes
        })
        .collect();
    let encode_only = encode_started.elapsed();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()?;
    let topic = format!(
        "bench{}.baseline",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()?;
    for result in admin
        .create_topics(
            &[NewTopic::new(&topic, 3, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await?
    {
        result.map_err(|(topic, code)| anyhow::anyhow!("creating {topic}: {code:?}"))?;
    }
    let started = Instant::now();
    let mut deliveries = Vec::with_capacity(payloads.len());
    for (event, payload) in stored.iter().zip(&payloads) {
        let mut record = FutureRecord::to(&topic)
            .key(&event.aggregate_id)
            .payload(payload);
        loop {
            match producer.send_result(record) {
                Ok(delivery) => break deliveries.push(delivery),
                Err((_, returned)) => {
                    record = returned;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
    }
    for delivery in deliveries {
        delivery.await?.map_err(|(e, _)| e)?;
    }
    let baseline = started.elapsed();

    println!("\nrelay throughput, {events} CustomerRegistered events, broker {brokers}\n");
    println!("{:<34} {:>10} {:>12}", "", "seconds", "events/s");
    report("producer only (baseline)", events, baseline);
    report("convert + Avro-encode only, no I/O", events, encode_only);
    for batch_size in [100u32, 500, 2_000] {
        let prefix = format!("bench{}.", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let mut settings = RelaySettings::local(&brokers, &registry.url(), &prefix);
        settings.name = format!("bench-{batch_size}");
        settings.batch_size = batch_size;
        let relay = Relay::new(settings, log.clone())?;
        // The first step also takes the leadership and registers the schemas (milliseconds).
        let started = Instant::now();
        let mut published = 0;
        while published < events as usize {
            published += relay.step().await?.events;
        }
        report(
            &format!("relay, batch {batch_size}"),
            events,
            started.elapsed(),
        );
    }
    db.drop_database().await
}

fn report(label: &str, events: i64, elapsed: Duration) {
    println!(
        "{label:<34} {:>10.2} {:>12.0}",
        elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64()
    );
}
