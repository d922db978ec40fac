//! Events reach Kafka: customers created and changed through the REST API are published by the
//! relay process, one message per event, in log order per key, Avro with the registry's ids.

use std::collections::HashMap;
use std::time::Duration;

use apache_avro::types::Value as Avro;
use reqwest::StatusCode;
use schema_registry_converter::async_impl::avro::AvroDecoder;
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use serde_json::json;
use shopcore_commands::testing::consume;
use shopcore_e2e::TestApp;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_writes_reach_kafka_once_each_in_order_with_headers() -> anyhow::Result<()> {
    let mut app = TestApp::spawn().await?;
    app.start_relay().await?;

    // Three customers, each registered, updated twice and segmented.
    for n in 0..3 {
        let created = app
            .http
            .post(app.url("/customers"))
            .header("x-correlation-id", format!("relay-e2e-{n}"))
            .header("traceparent", TRACEPARENT)
            .json(&json!({"email": format!("kafka{n}@example.com"), "firstName": "Kaf", "lastName": "Ka"}))
            .send()
            .await?;
        assert_eq!(created.status(), StatusCode::CREATED);
        let id = created.json::<serde_json::Value>().await?["id"]
            .as_str()
            .expect("id")
            .to_owned();
        for last_name in ["Kafka", "Franz"] {
            let updated = app
                .http
                .put(app.url(&format!("/customers/{id}")))
                .header("x-correlation-id", format!("relay-e2e-{n}"))
                .json(&json!({ "lastName": last_name }))
                .send()
                .await?;
            assert_eq!(updated.status(), StatusCode::OK);
        }
        let segmented = app
            .http
            .post(app.url(&format!("/customers/{id}/segments")))
            .header("x-correlation-id", format!("relay-e2e-{n}"))
            .json(&json!({ "segments": ["VIP"] }))
            .send()
            .await?;
        assert_eq!(segmented.status(), StatusCode::OK);
    }

    let stored: Vec<(String, String, i64, String)> = sqlx::query_as(
        "SELECT event_id::text, aggregate_id, sequence, event_type FROM events ORDER BY position",
    )
    .fetch_all(&app.pg)
    .await?;
    assert_eq!(stored.len(), 12);

    let relay = app.relay.as_ref().expect("relay started");
    let topics = vec![
        relay.topic("customer.updated"),
        relay.topic("customer.segment.recalculated"),
    ];
    let messages = consume(
        &relay.kafka_brokers,
        &topics,
        3,
        stored.len(),
        Duration::from_secs(2),
        Duration::from_secs(60),
    )
    .await?;
    let ids: Vec<&str> = messages
        .iter()
        .filter_map(|m| m.header("event_id"))
        .collect();
    assert_eq!(
        messages.len(),
        stored.len(),
        "one message per event (got {ids:?})"
    );

    // Per topic and key, the same order as the log.
    let topic_of = |event_type: &str| {
        if event_type == "CustomerSegmentsAssigned" {
            &topics[1]
        } else {
            &topics[0]
        }
    };
    let mut expected: HashMap<(String, String), Vec<String>> = HashMap::new();
    for (event_id, aggregate_id, _, event_type) in &stored {
        expected
            .entry((topic_of(event_type).clone(), aggregate_id.clone()))
            .or_default()
            .push(event_id.clone());
    }
    let mut actual: HashMap<(String, String), Vec<String>> = HashMap::new();
    for message in &messages {
        actual
            .entry((message.topic.clone(), message.key.clone()))
            .or_default()
            .push(
                message
                    .header("event_id")
                    .expect("event_id header")
                    .to_owned(),
            );
    }
    assert_eq!(actual, expected);

    // Every value decodes with the schema the registry holds under the message's id.
    let decoder = AvroDecoder::new(SrSettings::new(relay.registry.url()));
    let by_id: HashMap<&str, &(String, String, i64, String)> =
        stored.iter().map(|e| (e.0.as_str(), e)).collect();
    for message in &messages {
        let event_id = message.header("event_id").unwrap();
        let (_, aggregate_id, sequence, event_type) = by_id[event_id];
        assert_eq!(message.header("event_type"), Some(event_type.as_str()));
        assert_eq!(message.header("schema_version"), Some("1"));
        assert_eq!(message.header("aggregate_type"), Some("customer"));
        assert_eq!(
            message.header("sequence"),
            Some(sequence.to_string().as_str())
        );
        let correlation = message
            .header("correlation_id")
            .expect("correlation_id header");
        assert!(correlation.starts_with("relay-e2e-"), "{correlation}");
        if event_type == "CustomerRegistered" {
            assert_eq!(message.header("traceparent"), Some(TRACEPARENT));
        }

        assert_eq!(message.payload[0], 0, "Confluent magic byte");
        let decoded = decoder.decode(Some(&message.payload)).await?;
        // A union on customer.updated (several event types), the record on the segment topic.
        let record = match decoded.value {
            Avro::Union(_, record) => *record,
            record => record,
        };
        let Avro::Record(fields) = record else {
            panic!("{event_type}: not a record")
        };
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("{event_type} has no {name}"))
        };
        assert_eq!(field("eventId"), Avro::Uuid(event_id.parse()?));
        assert_eq!(field("customerId"), Avro::Uuid(aggregate_id.parse()?));
        assert_eq!(field("sequence"), Avro::Long(*sequence));
        if event_type == "CustomerProfileUpdated" {
            assert_eq!(
                field("changedFields"),
                Avro::Array(vec![Avro::String("lastName".into())])
            );
        }
    }
    for topic in &topics {
        let versions = relay.registry.versions(&format!("{topic}-value"));
        assert_eq!(versions.len(), 1, "{topic}: one registered schema version");
    }

    // The checkpoint moves right after the acknowledgements; give it a moment.
    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = app
            .http
            .get(&relay.metrics_url)
            .send()
            .await?
            .text()
            .await?;
        if metrics.contains("shopcore_relay_lag_events 0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(metrics.contains("shopcore_relay_lag_events 0"), "{metrics}");
    assert!(
        metrics.contains("shopcore_relay_published_total{topic=\"customer.updated\"} 9"),
        "{metrics}"
    );
    app.cleanup().await
}
