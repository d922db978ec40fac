//! Reading published messages back: for tests and for `shopcore-commands events`, which prints
//! them decoded (events and documents from Avro, dead letters as the JSON they carry,
//! tombstones as `null`).

use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::{Headers as _, Message as _};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// One message read back from Kafka.
#[derive(Debug, Clone)]
pub struct Consumed {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: String,
    pub payload: Vec<u8>,
    pub headers: std::collections::HashMap<String, String>,
}

impl Consumed {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// Reads `topics` (partitions `0..partitions`) from the beginning until at least `expected`
/// messages arrived and then `quiet` passed without another one (so duplicates would show), or
/// `timeout` passed.
pub async fn consume(
    brokers: &str,
    topics: &[String],
    partitions: i32,
    expected: usize,
    quiet: std::time::Duration,
    timeout: std::time::Duration,
) -> anyhow::Result<Vec<Consumed>> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set(
            "group.id",
            format!("shopcore-test-{}", uuid::Uuid::new_v4()),
        )
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    for topic in topics {
        for partition in 0..partitions {
            assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
        }
    }
    consumer.assign(&assignment)?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut messages = Vec::new();
    loop {
        let wait = if messages.len() >= expected {
            quiet
        } else {
            deadline.saturating_duration_since(tokio::time::Instant::now())
        };
        let message = match tokio::time::timeout(wait, consumer.recv()).await {
            Err(_) => break,
            Ok(message) => message?,
        };
        let headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .filter_map(|h| {
                        Some((
                            h.key.to_owned(),
                            String::from_utf8_lossy(h.value?).into_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        messages.push(Consumed {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            key: String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
            payload: message.payload().unwrap_or_default().to_vec(),
            headers,
        });
        if tokio::time::Instant::now() >= deadline {
            break;
        }
    }
    Ok(messages)
}

/// Prints the messages of `topics` from the beginning as JSON lines: topic, partition, offset,
/// key, headers and the value decoded with the schema registry.
pub async fn print_decoded(
    brokers: &str,
    schema_registry_url: &str,
    topics: &[String],
    partitions: i32,
    limit: usize,
) -> anyhow::Result<usize> {
    use schema_registry_converter::async_impl::avro::AvroDecoder;
    use schema_registry_converter::async_impl::schema_registry::SrSettings;

    let messages = consume(
        brokers,
        topics,
        partitions,
        limit,
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(5),
    )
    .await?;
    let decoder = AvroDecoder::new(SrSettings::new(schema_registry_url.to_owned()));
    let documents = shopcore_event_schemas::documents::DocumentSchema::product()?;
    for message in messages.iter().take(limit) {
        let value = match message.payload.first() {
            // A tombstone (a deleted document).
            None => serde_json::Value::Null,
            // Confluent wire format: magic byte 0, schema id, Avro.
            Some(0) => match decoder.decode(Some(&message.payload)).await {
                Ok(decoded) if message.topic.ends_with(documents.topic) => {
                    documents.to_json(&decoded.value)
                }
                Ok(decoded) => serde_json::Value::try_from(decoded.value)
                    .unwrap_or_else(|e| serde_json::json!({ "undecodable": e.to_string() })),
                Err(e) => serde_json::json!({ "undecodable": e.to_string() }),
            },
            // A dead letter: the document's own JSON.
            Some(_) => serde_json::from_slice(&message.payload).unwrap_or_else(|_| {
                serde_json::json!({ "undecodable": "neither Avro in the wire format nor JSON" })
            }),
        };
        println!(
            "{}",
            serde_json::json!({
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
                "key": message.key,
                "headers": message.headers,
                "value": value,
            })
        );
    }
    Ok(messages.len().min(limit))
}
