//! Pricing events on Kafka, against the real binaries, Postgres, MariaDB, tansu and the schema
//! registry double: a base price, a promotion's activation and an FX rate reach their topics
//! and decode with the registry's schemas; promotions scheduled to start a few seconds ahead
//! are activated by two promotion schedulers (one killed half-way) exactly once each — one
//! `PromotionActivated` in the event store and one message on `promotion.activated.v1` — and
//! one whose window ended before any scheduler ran is not activated at all.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use apache_avro::types::Value as Avro;
use chrono::{DateTime, SecondsFormat, Utc};
use schema_registry_converter::async_impl::avro::AvroDecoder;
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use shopcore_commands::testing::{consume, Consumed};
use shopcore_e2e::TestApp;
use shopcore_proto::decode_error_detail;
use shopcore_proto::pricing::v1 as pb;
use shopcore_proto::pricing::v1::currency_rate_commands_client::CurrencyRateCommandsClient;
use shopcore_proto::pricing::v1::price_book_commands_client::PriceBookCommandsClient;
use shopcore_proto::pricing::v1::promotion_commands_client::PromotionCommandsClient;
use tonic::transport::Channel;
use tonic::Code;

async fn channel(app: &TestApp) -> anyhow::Result<Channel> {
    Ok(
        tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc_addr))?
            .connect()
            .await?,
    )
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn micros(at: DateTime<Utc>) -> Avro {
    Avro::TimestampMicros(at.timestamp_micros())
}

fn money(amount_minor: i64, currency: &str) -> Avro {
    Avro::Record(vec![
        ("amountMinor".into(), Avro::Long(amount_minor)),
        ("currency".into(), Avro::String(currency.into())),
    ])
}

fn some(value: Avro) -> Avro {
    Avro::Union(1, Box::new(value))
}

fn null() -> Avro {
    Avro::Union(0, Box::new(Avro::Null))
}

/// A message's record, decoded with the schema the registry holds under its id.
struct Decoded {
    record: String,
    fields: Vec<(String, Avro)>,
}

impl Decoded {
    fn get(&self, name: &str) -> &Avro {
        &self
            .fields
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{} has no field {name}", self.record))
            .1
    }
}

async fn decode(decoder: &AvroDecoder, message: &Consumed) -> anyhow::Result<Decoded> {
    assert_eq!(message.payload[0], 0, "Confluent magic byte");
    let decoded = decoder.decode(Some(&message.payload)).await?;
    let record = match decoded.value {
        Avro::Union(_, record) => *record,
        record => record,
    };
    let Avro::Record(fields) = record else {
        anyhow::bail!("{}: not a record", message.topic)
    };
    Ok(Decoded {
        record: message.header("event_type").unwrap_or_default().to_owned(),
        fields,
    })
}

fn discount_of(percent: &str) -> Option<pb::Discount> {
    Some(pb::Discount {
        discount: Some(pb::discount::Discount::PercentOff(percent.into())),
    })
}

fn promotion(
    name: &str,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    activate_at_start: bool,
) -> pb::CreatePromotionRequest {
    pb::CreatePromotionRequest {
        promotion_id: String::new(),
        name: name.into(),
        discount: discount_of("12.5"),
        valid_from: rfc3339(from),
        valid_until: rfc3339(until),
        usage_limit_total: None,
        usage_limit_per_customer: None,
        coupon_codes: vec![],
        activate_at_start,
        options: None,
    }
}

fn lifecycle(promotion_id: &str) -> pb::PromotionLifecycleRequest {
    pb::PromotionLifecycleRequest {
        promotion_id: promotion_id.into(),
        options: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_activations_and_rates_reach_kafka_and_decode_with_their_schemas(
) -> anyhow::Result<()> {
    let mut app = TestApp::spawn().await?;
    app.start_relay().await?;
    let channel = channel(&app).await?;
    let mut books = PriceBookCommandsClient::new(channel.clone());
    let mut promotions = PromotionCommandsClient::new(channel.clone());
    let mut rates = CurrencyRateCommandsClient::new(channel);

    // A base price set, then changed: pricing.updated.v1.
    let book = books
        .create_price_book(app.grpc(pb::CreatePriceBookRequest {
            price_book_id: String::new(),
            name: "Retail".into(),
            default_currency: "EUR".into(),
            options: None,
        }))
        .await?
        .into_inner()
        .result
        .expect("result")
        .aggregate_id;
    for amount in [12_999, 11_999] {
        books
            .set_base_price(app.grpc(pb::SetBasePriceRequest {
                price_book_id: book.clone(),
                sku: "TR-42".into(),
                price: Some(pb::Money {
                    amount_minor: amount,
                    currency: "EUR".into(),
                }),
                options: None,
            }))
            .await?;
    }

    // A promotion created and switched on: promotion.activated.v1 (creation goes to
    // promotion.updated.v1).
    let from = "2026-11-27T00:00:00Z".parse::<DateTime<Utc>>()?;
    let until = "2099-12-01T00:00:00Z".parse::<DateTime<Utc>>()?;
    let created = promotions
        .create_promotion(app.grpc(promotion("Black Friday", from, until, false)))
        .await?
        .into_inner();
    let promotion_id = created.result.expect("result").aggregate_id;
    assert_eq!(
        created
            .promotion
            .expect("promotion")
            .activation_scheduled_at,
        None
    );
    let activated = promotions
        .activate_promotion(app.grpc(lifecycle(&promotion_id)))
        .await?
        .into_inner();
    assert!(activated.promotion.expect("promotion").active);

    // Two rates of one pair, through CurrencyRateCommands: fx.rate.changed.v1.
    for rate in ["1.0842", "1.091150000001"] {
        rates
            .set_fx_rate(app.grpc(pb::SetFxRateRequest {
                base: "EUR".into(),
                quote: "USD".into(),
                rate: rate.into(),
                source: "ecb".into(),
                options: None,
            }))
            .await?;
    }

    let relay = app.relay.as_ref().expect("relay started");
    let decoder = AvroDecoder::new(SrSettings::new(relay.registry.url()));
    let consumed = |topic: &str, expected: usize| {
        let topic = relay.topic(topic);
        let brokers = relay.kafka_brokers.clone();
        async move {
            consume(
                &brokers,
                &[topic],
                3,
                expected,
                Duration::from_secs(2),
                Duration::from_secs(60),
            )
            .await
        }
    };

    // pricing.updated.v1: the book's creation and its two prices, in order (one key).
    let messages = consumed("pricing.updated.v1", 3).await?;
    let types: Vec<&str> = messages
        .iter()
        .filter_map(|m| m.header("event_type"))
        .collect();
    assert_eq!(types, ["PriceBookCreated", "BasePriceSet", "BasePriceSet"]);
    assert!(messages.iter().all(|m| m.key == book));
    let first = decode(&decoder, &messages[1]).await?;
    assert_eq!(first.get("priceBookId"), &Avro::Uuid(book.parse()?));
    assert_eq!(first.get("sku"), &Avro::String("TR-42".into()));
    assert_eq!(first.get("price"), &money(12_999, "EUR"));
    assert_eq!(first.get("previous"), &null());
    assert_eq!(first.get("sequence"), &Avro::Long(2));
    let second = decode(&decoder, &messages[2]).await?;
    assert_eq!(second.get("price"), &money(11_999, "EUR"));
    assert_eq!(second.get("previous"), &some(money(12_999, "EUR")));

    // promotion.activated.v1: one message, with the discount and the window.
    let messages = consumed("promotion.activated.v1", 1).await?;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].key, promotion_id);
    let activation = decode(&decoder, &messages[0]).await?;
    assert_eq!(activation.record, "PromotionActivated");
    assert_eq!(
        activation.get("promotionId"),
        &Avro::Uuid(promotion_id.parse()?)
    );
    assert_eq!(activation.get("validFrom"), &micros(from));
    assert_eq!(activation.get("validUntil"), &micros(until));
    let Avro::Record(discount) = activation.get("discount") else {
        panic!("discount is a record")
    };
    assert_eq!(
        discount,
        &vec![
            ("kind".to_owned(), Avro::Enum(0, "PERCENT_OFF".into())),
            ("percentBasisPoints".to_owned(), some(Avro::Int(1_250))),
            ("amount".to_owned(), null()),
        ]
    );

    // fx.rate.changed.v1: the rates as exact decimal text, the previous one beside the new.
    let messages = consumed("fx.rate.changed.v1", 2).await?;
    assert_eq!(messages.len(), 2);
    assert!(messages.iter().all(|m| m.key == "EUR-USD"));
    let first = decode(&decoder, &messages[0]).await?;
    assert_eq!(first.get("currencyPair"), &Avro::String("EUR-USD".into()));
    assert_eq!(first.get("base"), &Avro::String("EUR".into()));
    assert_eq!(first.get("quote"), &Avro::String("USD".into()));
    assert_eq!(first.get("rate"), &Avro::String("1.0842".into()));
    assert_eq!(first.get("previousRate"), &null());
    assert_eq!(first.get("source"), &Avro::String("ecb".into()));
    let second = decode(&decoder, &messages[1]).await?;
    assert_eq!(second.get("rate"), &Avro::String("1.091150000001".into()));
    assert_eq!(
        second.get("previousRate"),
        &some(Avro::String("1.0842".into()))
    );
    app.cleanup().await
}

/// `PromotionActivated` events per promotion in the event store.
async fn activations_in_store(app: &TestApp) -> anyhow::Result<HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT aggregate_id, count(*) FROM events
         WHERE aggregate_type = 'promotion' AND event_type = 'PromotionActivated'
         GROUP BY aggregate_id",
    )
    .fetch_all(&app.pg)
    .await?;
    Ok(rows.into_iter().collect())
}

async fn metrics(app: &TestApp, ops_url: &str) -> anyhow::Result<String> {
    Ok(app
        .http
        .get(format!("{ops_url}/metrics"))
        .send()
        .await?
        .text()
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_schedulers_activate_each_due_promotion_exactly_once() -> anyhow::Result<()> {
    let mut app = TestApp::spawn().await?;
    app.start_relay().await?;
    let mut promotions = PromotionCommandsClient::new(channel(&app).await?);
    let hour = chrono::Duration::hours(1);

    // Scheduling a promotion whose window has ended is refused, naming the field.
    let past = Utc::now() - hour * 48;
    let refused = promotions
        .create_promotion(app.grpc(promotion("Too late", past, past + hour, true)))
        .await
        .expect_err("window ended");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        decode_error_detail(&refused).map(|d| d.field).as_deref(),
        Some("validUntil")
    );
    let old = promotions
        .create_promotion(app.grpc(promotion("Old", past, past + hour, false)))
        .await?
        .into_inner()
        .result
        .expect("result")
        .aggregate_id;
    let refused = promotions
        .schedule_promotion_activation(app.grpc(lifecycle(&old)))
        .await
        .expect_err("window ended");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        decode_error_detail(&refused).map(|d| d.field).as_deref(),
        Some("validUntil")
    );

    // Scheduled while no scheduler runs, its window ends before one starts.
    let soon = Utc::now() + chrono::Duration::milliseconds(600);
    let lapsed = promotions
        .create_promotion(app.grpc(promotion(
            "Missed",
            soon,
            soon + chrono::Duration::milliseconds(600),
            true,
        )))
        .await?
        .into_inner();
    assert_eq!(
        lapsed
            .promotion
            .as_ref()
            .and_then(|p| p.activation_scheduled_at.as_deref())
            .map(str::parse::<DateTime<Utc>>)
            .transpose()?
            .map(|at| at.timestamp_micros()),
        Some(soon.timestamp_micros())
    );
    let lapsed = lapsed.result.expect("result").aggregate_id;
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let _first = app
        .start_promotion_scheduler("promotion-scheduler-a", "250ms")
        .await?;
    let second = app
        .start_promotion_scheduler("promotion-scheduler-b", "250ms")
        .await?;

    // Ten promotions starting 2 to 4 s from now: half scheduled at creation, half afterwards.
    // To the microsecond, as the API and the stores keep instants.
    let start = DateTime::from_timestamp_micros(
        (Utc::now() + chrono::Duration::seconds(2)).timestamp_micros(),
    )
    .expect("an instant");
    let mut due: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for n in 0..10 {
        let from = start + chrono::Duration::milliseconds(200 * n);
        let reply = promotions
            .create_promotion(app.grpc(promotion(
                &format!("Flash {n}"),
                from,
                from + hour,
                n % 2 == 0,
            )))
            .await?
            .into_inner();
        let id = reply.result.expect("result").aggregate_id;
        if n % 2 == 1 {
            let scheduled = promotions
                .schedule_promotion_activation(app.grpc(lifecycle(&id)))
                .await?
                .into_inner();
            assert_eq!(scheduled.result.expect("result").events_written, 1);
            // Scheduling again records nothing.
            let again = promotions
                .schedule_promotion_activation(app.grpc(lifecycle(&id)))
                .await?
                .into_inner();
            assert_eq!(again.result.expect("result").events_written, 0);
            let scheduled_at = again.promotion.expect("promotion").activation_scheduled_at;
            assert_eq!(
                scheduled_at
                    .as_deref()
                    .map(str::parse::<DateTime<Utc>>)
                    .transpose()?
                    .map(|at| at.timestamp_micros()),
                Some(from.timestamp_micros())
            );
        }
        due.insert(id, from);
    }
    // Nothing is switched on before its time.
    assert!(activations_in_store(&app).await?.is_empty());

    // Half-way through the start times, one scheduler dies; the other carries on.
    let kill_at = start + chrono::Duration::milliseconds(1_000);
    let wait = (kill_at - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
    app.kill("promotion-scheduler-a").await?;
    let killed_at = Utc::now();
    assert!(
        due.values().filter(|from| **from > killed_at).count() >= 3,
        "the kill came after most start times; the test is too slow to show anything"
    );

    // Every due promotion gets its activation (a killed scheduler's claim on an idempotency
    // key is taken over after 30 s, so allow for that).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(75);
    loop {
        let found = activations_in_store(&app).await?;
        if due.keys().all(|id| found.contains_key(id)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not all activated: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Several more ticks of the survivor change nothing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let found = activations_in_store(&app).await?;
    for id in due.keys() {
        assert_eq!(
            found.get(id),
            Some(&1),
            "promotion {id}: one PromotionActivated"
        );
    }
    assert_eq!(
        found.get(&lapsed),
        None,
        "the ended promotion is not activated"
    );
    assert_eq!(found.len(), due.len());

    // Switched on by the scheduler, not before the start time.
    let rows: Vec<(String, Option<String>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT aggregate_id, metadata->>'actor', (payload->'PromotionActivated'->>'activatedAt')::timestamptz
         FROM events WHERE aggregate_type = 'promotion' AND event_type = 'PromotionActivated'",
    )
    .fetch_all(&app.pg)
    .await?;
    for (id, actor, activated_at) in &rows {
        assert_eq!(actor.as_deref(), Some("promotion-scheduler"));
        assert!(activated_at >= &due[id], "{id} activated early");
    }

    // One message per due promotion on promotion.activated.v1, none for the ended one.
    let relay = app.relay.as_ref().expect("relay started");
    let messages = consume(
        &relay.kafka_brokers,
        &[relay.topic("promotion.activated.v1")],
        3,
        due.len(),
        Duration::from_secs(3),
        Duration::from_secs(60),
    )
    .await?;
    let mut per_key: HashMap<&str, usize> = HashMap::new();
    for message in &messages {
        *per_key.entry(message.key.as_str()).or_default() += 1;
    }
    assert_eq!(messages.len(), due.len(), "{per_key:?}");
    for id in due.keys() {
        assert_eq!(per_key.get(id.as_str()), Some(&1), "{id}: one message");
    }
    let decoder = AvroDecoder::new(SrSettings::new(relay.registry.url()));
    for message in &messages {
        let decoded = decode(&decoder, message).await?;
        assert_eq!(decoded.get("validFrom"), &micros(due[&message.key]));
    }

    // The read model: active, nothing scheduled any more; the ended one still waits there.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (active, scheduled): (i64, i64) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(active), 0) AS SIGNED),
                    CAST(COALESCE(SUM(activation_scheduled_at IS NOT NULL), 0) AS SIGNED)
             FROM promotion_campaigns",
        )
        .fetch_one(&app.mysql)
        .await?;
        if active == due.len() as i64 && scheduled == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "read model: {active} active, {scheduled} scheduled"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The survivor activated what came due after the kill and reported the ended one once.
    let text = metrics(&app, &second).await?;
    let activations: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("shopcore_promotion_scheduler_activations_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_default();
    assert!(activations >= 3, "{text}");
    assert!(
        text.contains("shopcore_promotion_scheduler_skipped_total{reason=\"ended\"} 1"),
        "{text}"
    );
    let ready = app.http.get(format!("{second}/readyz")).send().await?;
    assert!(ready.status().is_success());
    app.cleanup().await
}
