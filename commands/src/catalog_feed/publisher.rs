//! The Kafka side of the feed: the document topic and its dead-letter topic, the registered
//! `ProductDocument` schema, and one message per decided change — an Avro value through the
//! registry (Confluent wire format, topic-name strategy), a tombstone, or a dead letter — with
//! the relay's producer ([`crate::kafka`]).

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureRecord};
use schema_registry_converter::async_impl::avro::AvroEncoder;
use schema_registry_converter::schema_registry_common::{
    SchemaType, SubjectNameStrategy, SuppliedSchema,
};
use shopcore_event_schemas::documents::{
    headers, DocumentSchema, PRODUCT_DOCUMENT_DLQ_TOPIC, PRODUCT_DOCUMENT_TOPIC,
};

use super::drift::{Decision, Disposition};
use super::error::FeedError;
use super::settings::CatalogFeedSettings;
use crate::kafka::{self, KafkaClientConfig, ReplaceableProducer};

/// What became of one decided change on the producer side.
pub(super) enum Queued {
    /// Nothing to send (skipped, ignored).
    Nothing,
    /// Handed to the producer; the acknowledgement is awaited.
    Sent(DeliveryFuture),
    /// Larger than the message size limit: it can never be sent.
    TooLarge,
}

pub(super) struct DocumentPublisher {
    client: KafkaClientConfig,
    producer: ReplaceableProducer,
    encoder: AvroEncoder,
    strategy: SubjectNameStrategy,
    topic: String,
    dead_letter_topic: String,
}

impl DocumentPublisher {
    pub(super) fn new(
        settings: &CatalogFeedSettings,
        schema: &DocumentSchema,
    ) -> anyhow::Result<Self> {
        let topic = format!("{}{PRODUCT_DOCUMENT_TOPIC}", settings.topic_prefix);
        let supplied = SuppliedSchema::new(None, SchemaType::Avro, schema.schema_json.clone());
        Ok(Self {
            client: settings.kafka_client(),
            producer: ReplaceableProducer::new(settings.kafka_client())?,
            encoder: kafka::avro_encoder(&settings.schema_registry_url)?,
            strategy: SubjectNameStrategy::TopicNameStrategyWithSchema(
                topic.clone(),
                false,
                supplied,
            ),
            dead_letter_topic: format!("{}{PRODUCT_DOCUMENT_DLQ_TOPIC}", settings.topic_prefix),
            topic,
        })
    }

    /// The topic names (with prefix): documents, dead letters.
    pub(super) fn topics(&self) -> [String; 2] {
        [self.topic.clone(), self.dead_letter_topic.clone()]
    }

    /// Creates missing topics and registers the document schema.
    pub(super) async fn prepare(&self) -> Result<(), FeedError> {
        kafka::ensure_topics(&self.client, &self.topics())
            .await
            .map_err(|e| FeedError::Broker(format!("creating topics: {e}")))?;
        let (subject, schema_id) = kafka::register(&self.encoder, &self.strategy)
            .await
            .map_err(FeedError::Registry)?;
        tracing::info!(subject, schema_id, "schema registered");
        Ok(())
    }

    /// After a broker failure: a fresh producer for the retry.
    pub(super) fn replace_producer(&self) {
        self.producer.replace();
    }

    pub(super) fn flush(&self) {
        self.producer.flush(std::time::Duration::from_secs(5));
    }

    /// Encodes the decided change and hands it to the producer.
    pub(super) async fn send(&self, decision: &Decision) -> Result<Queued, FeedError> {
        let rev = decision.rev.as_deref().unwrap_or_default();
        let kinds = decision.kinds_header();
        let paths = decision.paths_header();
        let mut message_headers = OwnedHeaders::new_with_capacity(3).insert(Header {
            key: headers::DOCUMENT_REV,
            value: Some(rev),
        });
        if !kinds.is_empty() {
            message_headers = message_headers.insert(Header {
                key: headers::DRIFT,
                value: Some(&kinds),
            });
        }
        let (topic, payload) = match &decision.disposition {
            Disposition::Skip | Disposition::Ignore => return Ok(Queued::Nothing),
            Disposition::Tombstone => (&self.topic, None),
            Disposition::Publish { value } => {
                let bytes = self
                    .encoder
                    .encode_value(value.clone(), &self.strategy)
                    .await
                    .map_err(|e| {
                        FeedError::Registry(format!("encoding document {}: {e}", decision.key))
                    })?;
                (&self.topic, Some(bytes))
            }
            Disposition::DeadLetter { raw } => {
                message_headers = message_headers.insert(Header {
                    key: headers::DRIFT_PATHS,
                    value: Some(&paths),
                });
                (&self.dead_letter_topic, Some(raw.clone()))
            }
        };
        let mut record: FutureRecord<'_, str, Vec<u8>> = FutureRecord::to(topic)
            .key(decision.key.as_str())
            .headers(message_headers);
        if let Some(payload) = &payload {
            record = record.payload(payload);
        }
        match kafka::enqueue(&self.producer.get(), record).await {
            Ok(delivery) => Ok(Queued::Sent(delivery)),
            Err(e) if kafka::too_large(&e) => Ok(Queued::TooLarge),
            Err(e) => Err(FeedError::Broker(e.to_string())),
        }
    }
}
