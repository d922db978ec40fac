//! Cart events on Kafka, against the real binaries, Postgres, tansu and the schema registry
//! double: two carts written over gRPC (a storefront's anonymous cart with its session token,
//! and a customer's cart) — items priced by the pricing index with a rule, a coupon whose
//! discount is allocated across the lines, a quantity change, checkouts — reach
//! `cart.item.added`, `cart.checkedout` and `cart.updated`; every message decodes with the
//! schema the registry holds under its id, carries the fields the events hold, is keyed by its
//! cart and comes in the cart's order; and no message, value or header, carries a session
//! token or its hash.

use std::collections::BTreeMap;
use std::time::Duration;

use apache_avro::types::Value as Avro;
use schema_registry_converter::async_impl::avro::AvroDecoder;
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use shopcore_auth::scopes::{MANAGE_MY_ORDERS, VIEW_PRICES};
use shopcore_commands::testing::{consume, Consumed};
use shopcore_e2e::TestApp;
use shopcore_proto::cart::v1 as pb;
use shopcore_proto::cart::v1::cart_commands_client::CartCommandsClient;
use shopcore_proto::customer::v1 as customer_pb;
use shopcore_proto::customer::v1::customer_commands_client::CustomerCommandsClient;
use shopcore_proto::pricing::v1 as pricing_pb;
use shopcore_proto::pricing::v1::price_book_commands_client::PriceBookCommandsClient;
use shopcore_proto::pricing::v1::price_rule_commands_client::PriceRuleCommandsClient;
use shopcore_proto::pricing::v1::pricing_queries_client::PricingQueriesClient;
use shopcore_proto::pricing::v1::promotion_commands_client::PromotionCommandsClient;
use tonic::transport::Channel;
use uuid::Uuid;

fn eur(amount_minor: i64) -> pricing_pb::Money {
    pricing_pb::Money {
        amount_minor,
        currency: "EUR".into(),
    }
}

fn money(amount_minor: i64) -> Avro {
    Avro::Record(vec![
        ("amountMinor".into(), Avro::Long(amount_minor)),
        ("currency".into(), Avro::String("EUR".into())),
    ])
}

fn null() -> Avro {
    Avro::Union(0, Box::new(Avro::Null))
}

fn some(value: Avro) -> Avro {
    Avro::Union(1, Box::new(value))
}

/// A message's record, decoded with the schema the registry holds under its id.
#[derive(Debug)]
struct Decoded {
    record: String,
    fields: Vec<(String, Avro)>,
}

impl Decoded {
    fn get(&self, name: &str) -> &Avro {
        field(&self.fields, name).unwrap_or_else(|| panic!("{} has no field {name}", self.record))
    }
}

fn field<'a>(fields: &'a [(String, Avro)], name: &str) -> Option<&'a Avro> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

fn record(value: &Avro) -> &[(String, Avro)] {
    match value {
        Avro::Record(fields) => fields,
        Avro::Union(_, inner) => record(inner),
        other => panic!("not a record: {other:?}"),
    }
}

fn long(value: Option<&Avro>) -> i64 {
    match value {
        Some(Avro::Long(n)) => *n,
        other => panic!("not a long: {other:?}"),
    }
}

async fn decode(decoder: &AvroDecoder, message: &Consumed) -> anyhow::Result<Decoded> {
    assert_eq!(message.payload[0], 0, "Confluent magic byte");
    let decoded = decoder.decode(Some(&message.payload)).await?;
    let value = match decoded.value {
        Avro::Union(_, value) => *value,
        value => value,
    };
    let Avro::Record(fields) = value else {
        anyhow::bail!("{}: not a record", message.topic)
    };
    Ok(Decoded {
        record: message.header("event_type").unwrap_or_default().to_owned(),
        fields,
    })
}

struct Clients {
    carts: CartCommandsClient<Channel>,
    books: PriceBookCommandsClient<Channel>,
    rules: PriceRuleCommandsClient<Channel>,
    prices: PricingQueriesClient<Channel>,
    promotions: PromotionCommandsClient<Channel>,
    customers: CustomerCommandsClient<Channel>,
}

/// A request with `token` and, if given, the cart's session token.
fn with<T>(token: &str, session: Option<&str>, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    if let Some(session) = session.and_then(|s| s.parse().ok()) {
        request.metadata_mut().insert("x-cart-session", session);
    }
    request
}

fn add(cart: &str, sku: &str, quantity: u32) -> pb::AddItemRequest {
    pb::AddItemRequest {
        cart_id: cart.into(),
        sku: sku.into(),
        quantity,
        options: None,
    }
}

fn checkout(cart: &str) -> pb::CheckoutRequest {
    pb::CheckoutRequest {
        cart_id: cart.into(),
        accept_price_changes: false,
        options: None,
    }
}

/// The cart's events in the store as (event type, sequence), oldest first.
async fn stored(app: &TestApp, cart: &str) -> anyhow::Result<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT event_type, sequence FROM events WHERE aggregate_type = 'cart' AND aggregate_id = $1
         ORDER BY sequence",
    )
    .bind(cart)
    .fetch_all(&app.pg)
    .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cart_events_reach_kafka_keyed_by_cart_in_order_without_the_session_token(
) -> anyhow::Result<()> {
    let mut app = TestApp::spawn().await?;
    app.start_relay().await?;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc_addr))?
        .connect()
        .await?;
    let mut c = Clients {
        carts: CartCommandsClient::new(channel.clone()),
        books: PriceBookCommandsClient::new(channel.clone()),
        rules: PriceRuleCommandsClient::new(channel.clone()),
        prices: PricingQueriesClient::new(channel.clone()),
        promotions: PromotionCommandsClient::new(channel.clone()),
        customers: CustomerCommandsClient::new(channel),
    };

    // TEE-M at 20.00 EUR; CAP at 15.00 EUR less a 10 % rule; a coupon of 15 % off.
    let book = c
        .books
        .create_price_book(app.grpc(pricing_pb::CreatePriceBookRequest {
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
    for (sku, price) in [("TEE-M", 2_000), ("CAP", 1_500)] {
        c.books
            .set_base_price(app.grpc(pricing_pb::SetBasePriceRequest {
                price_book_id: book.clone(),
                sku: sku.into(),
                price: Some(eur(price)),
                options: None,
            }))
            .await?;
    }
    let rule = c
        .rules
        .upsert_price_rule(app.grpc(pricing_pb::UpsertPriceRuleRequest {
            definition: Some(pricing_pb::PriceRuleDefinition {
                name: "Caps ten off".into(),
                targets: Some(pricing_pb::RuleTargets {
                    skus: vec!["CAP".into()],
                    categories: vec![],
                }),
                action: Some(pricing_pb::RuleAction {
                    action: Some(pricing_pb::rule_action::Action::PercentOff("10".into())),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }))
        .await?
        .into_inner()
        .result
        .expect("result");
    // The carts are priced by the index once it has the rule.
    let priced = c
        .prices
        .get_price(app.grpc(pricing_pb::GetPriceRequest {
            context: Some(pricing_pb::PriceContext {
                sku: "CAP".into(),
                currency: Some("EUR".into()),
                quantity: 1,
                ..Default::default()
            }),
            min_position: Some(rule.log_position.clone()),
            explain: false,
        }))
        .await?
        .into_inner();
    assert_eq!(priced.unit_price.map(|m| m.amount_minor), Some(1_350));
    let now = chrono::Utc::now();
    let promotion = c
        .promotions
        .create_promotion(app.grpc(pricing_pb::CreatePromotionRequest {
            name: "Fifteen".into(),
            discount: Some(pricing_pb::Discount {
                discount: Some(pricing_pb::discount::Discount::PercentOff("15".into())),
            }),
            valid_from: (now - chrono::Duration::hours(1)).to_rfc3339(),
            valid_until: (now + chrono::Duration::days(1)).to_rfc3339(),
            coupon_codes: vec!["save15".into()],
            ..Default::default()
        }))
        .await?
        .into_inner()
        .result
        .expect("result")
        .aggregate_id;
    c.promotions
        .activate_promotion(app.grpc(pricing_pb::PromotionLifecycleRequest {
            promotion_id: promotion.clone(),
            options: None,
        }))
        .await?;

    // Cart A: a storefront's anonymous cart, reached with its session token.
    let storefront = app.token("storefront", &[MANAGE_MY_ORDERS, VIEW_PRICES], None)?;
    let created = c
        .carts
        .create_cart(with(
            &storefront,
            None,
            pb::CreateCartRequest {
                currency: "EUR".into(),
                channel: Some("web".into()),
                region: Some("EU".into()),
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    let a = created.result.expect("result").aggregate_id;
    let session = created.session_token;
    assert!(session.starts_with("cs_"), "{session}");
    for (sku, quantity) in [("TEE-M", 2), ("CAP", 1), ("TEE-M", 1)] {
        c.carts
            .add_item(with(&storefront, Some(&session), add(&a, sku, quantity)))
            .await?;
    }
    c.carts
        .apply_coupon(with(
            &storefront,
            Some(&session),
            pb::ApplyCouponRequest {
                cart_id: a.clone(),
                code: "Save15".into(),
                options: None,
            },
        ))
        .await?;
    let done = c
        .carts
        .checkout(with(&storefront, Some(&session), checkout(&a)))
        .await?
        .into_inner()
        .cart
        .expect("cart");
    assert_eq!(done.status, "checkedOut");

    // Cart B: a customer's, opened by the back office; a quantity change, no coupon.
    let ada = c
        .customers
        .register_customer(app.grpc(customer_pb::RegisterCustomerRequest {
            email: "ada@example.com".into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            ..Default::default()
        }))
        .await?
        .into_inner()
        .result
        .expect("result")
        .aggregate_id;
    let created_b = c
        .carts
        .create_cart(app.grpc(pb::CreateCartRequest {
            currency: "EUR".into(),
            customer_id: Some(ada.clone()),
            ..Default::default()
        }))
        .await?
        .into_inner();
    let b = created_b.result.expect("result").aggregate_id;
    let session_b = created_b.session_token;
    c.carts.add_item(app.grpc(add(&b, "CAP", 2))).await?;
    c.carts
        .change_item_quantity(app.grpc(pb::ChangeItemQuantityRequest {
            cart_id: b.clone(),
            sku: "CAP".into(),
            quantity: 4,
            options: None,
        }))
        .await?;
    c.carts.checkout(app.grpc(checkout(&b))).await?;

    let relay = app.relay.as_ref().expect("relay started");
    let decoder = AvroDecoder::new(SrSettings::new(relay.registry.url()));
    let consumed = |topic: &str, expected: usize| {
        let topic = relay.topic(topic);
        let brokers = relay.kafka_brokers.clone();
        async move {
            let mut messages = consume(
                &brokers,
                &[topic],
                3,
                expected,
                Duration::from_secs(2),
                Duration::from_secs(60),
            )
            .await?;
            messages.sort_by_key(|m| (m.partition, m.offset));
            anyhow::Ok(messages)
        }
    };
    let added = consumed("cart.item.added", 4).await?;
    let checked_out = consumed("cart.checkedout", 2).await?;
    let updated = consumed("cart.updated", 4).await?;

    // Keyed by cart, one message per event, in each cart's order (the log's).
    for (topic, messages) in [
        ("cart.item.added", &added),
        ("cart.checkedout", &checked_out),
        ("cart.updated", &updated),
    ] {
        let mut per_cart: BTreeMap<&str, Vec<(String, i64)>> = BTreeMap::new();
        for message in messages.iter() {
            let decoded = decode(&decoder, message).await?;
            assert_eq!(
                decoded.get("cartId"),
                &Avro::Uuid(message.key.parse()?),
                "{topic}: keyed by the cart"
            );
            assert_eq!(
                decoded.get("eventId"),
                &Avro::Uuid(message.header("event_id").unwrap_or_default().parse()?)
            );
            let sequence = long(Some(decoded.get("sequence")));
            assert_eq!(
                message.header("sequence"),
                Some(sequence.to_string().as_str())
            );
            per_cart
                .entry(message.key.as_str())
                .or_default()
                .push((decoded.record.clone(), sequence));
        }
        for cart in [&a, &b] {
            let expected: Vec<(String, i64)> = stored(&app, cart)
                .await?
                .into_iter()
                .filter(|(event_type, _)| {
                    shopcore_event_schemas::topics::topic_of(event_type)
                        .is_some_and(|spec| spec.topic == topic)
                })
                .collect();
            assert_eq!(
                per_cart.get(cart.as_str()).cloned().unwrap_or_default(),
                expected,
                "{topic}, cart {cart}"
            );
        }
    }

    // cart.item.added: quantities, the line after each addition, the price snapshot.
    let a_added: Vec<Decoded> = {
        let mut decoded = Vec::new();
        for message in added.iter().filter(|m| m.key == a) {
            decoded.push(decode(&decoder, message).await?);
        }
        decoded
    };
    let lines: Vec<(Avro, i64, i64)> = a_added
        .iter()
        .map(|d| {
            (
                d.get("sku").clone(),
                long(Some(d.get("quantity"))),
                long(Some(d.get("lineQuantity"))),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (Avro::String("TEE-M".into()), 2, 2),
            (Avro::String("CAP".into()), 1, 1),
            (Avro::String("TEE-M".into()), 1, 3),
        ]
    );
    let cap_price = record(a_added[1].get("price"));
    assert_eq!(field(cap_price, "unitPrice"), Some(&money(1_350)));
    assert_eq!(field(cap_price, "listPrice"), Some(&money(1_500)));
    assert_eq!(
        field(cap_price, "appliedRules"),
        Some(&Avro::Array(vec![Avro::Uuid(rule.aggregate_id.parse()?)]))
    );
    let tee_price = record(a_added[2].get("price"));
    assert_eq!(field(tee_price, "unitPrice"), Some(&money(2_000)));
    assert_eq!(field(tee_price, "appliedRules"), Some(&Avro::Array(vec![])));

    // cart.checkedout: lines re-priced, the coupon's 15 % of 73.50 (11.025, half-even 11.02)
    // allocated by largest remainder: 60.00 → 8.9959… and 13.50 → 2.0240…, so 9.00 and 2.02.
    let a_checkout = decode(
        &decoder,
        checked_out.iter().find(|m| m.key == a).expect("A"),
    )
    .await?;
    assert_eq!(a_checkout.get("customerId"), &null());
    let Avro::Array(lines) = a_checkout.get("lines") else {
        panic!("lines")
    };
    let lines: Vec<_> = lines
        .iter()
        .map(|line| {
            let line = record(line);
            (
                field(line, "sku").cloned(),
                long(field(line, "quantity")),
                field(line, "unitPrice").cloned(),
                field(line, "lineTotal").cloned(),
                field(line, "discount").cloned(),
                field(line, "total").cloned(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (
                Some(Avro::String("CAP".into())),
                1,
                Some(money(1_350)),
                Some(money(1_350)),
                Some(money(202)),
                Some(money(1_148)),
            ),
            (
                Some(Avro::String("TEE-M".into())),
                3,
                Some(money(2_000)),
                Some(money(6_000)),
                Some(money(900)),
                Some(money(5_100)),
            ),
        ]
    );
    assert_eq!(a_checkout.get("subtotal"), &money(7_350));
    assert_eq!(a_checkout.get("discount"), &money(1_102));
    assert_eq!(a_checkout.get("total"), &money(6_248));
    assert_eq!(a_checkout.get("priceChanges"), &Avro::Array(vec![]));
    let coupon = record(a_checkout.get("coupon"));
    assert_eq!(field(coupon, "code"), Some(&Avro::String("SAVE15".into())));
    assert_eq!(
        field(coupon, "promotionId"),
        Some(&Avro::Uuid(promotion.parse()?))
    );
    let discount = record(field(coupon, "discount").expect("discount"));
    assert_eq!(
        discount,
        [
            ("kind".to_owned(), Avro::Enum(0, "PERCENT_OFF".into())),
            ("percentBasisPoints".to_owned(), some(Avro::Int(1_500))),
            ("amount".to_owned(), null()),
        ]
    );
    let b_checkout = decode(
        &decoder,
        checked_out.iter().find(|m| m.key == b).expect("B"),
    )
    .await?;
    assert_eq!(
        b_checkout.get("customerId"),
        &some(Avro::Uuid(ada.parse()?))
    );
    assert_eq!(b_checkout.get("coupon"), &null());
    assert_eq!(b_checkout.get("total"), &money(5_400));

    // cart.updated: the creations, the coupon, the quantity change.
    let mut kinds: Vec<(bool, String)> = Vec::new();
    for message in &updated {
        let decoded = decode(&decoder, message).await?;
        if decoded.record == "CartItemQuantityChanged" {
            assert_eq!(long(Some(decoded.get("quantity"))), 4);
            assert_eq!(long(Some(decoded.get("previousQuantity"))), 2);
        }
        if decoded.record == "CartCreated" && message.key == a {
            assert_eq!(decoded.get("customerId"), &null());
            assert_eq!(decoded.get("channel"), &some(Avro::String("web".into())));
        }
        kinds.push((message.key == a, decoded.record));
    }
    kinds.sort();
    assert_eq!(
        kinds,
        [
            (false, "CartCreated".to_owned()),
            (false, "CartItemQuantityChanged".to_owned()),
            (true, "CartCouponApplied".to_owned()),
            (true, "CartCreated".to_owned()),
        ]
        .into_iter()
        .collect::<Vec<_>>(),
        "(cart A?, event) on cart.updated"
    );

    // No message of the deployment carries a session token or its hash: not the values, not
    // the headers, on any topic the relay published to.
    let every_topic: Vec<String> = shopcore_event_schemas::topics::TOPICS
        .iter()
        .map(|spec| relay.topic(spec.topic))
        .collect();
    let everything = consume(
        &relay.kafka_brokers,
        &every_topic,
        3,
        added.len() + checked_out.len() + updated.len(),
        Duration::from_secs(2),
        Duration::from_secs(60),
    )
    .await?;
    assert!(everything.len() >= added.len() + checked_out.len() + updated.len());
    let secrets = [
        session.clone(),
        session_b.clone(),
        shopcore_domain::cart::session_token_hash(&session),
        shopcore_domain::cart::session_token_hash(&session_b),
    ];
    for message in &everything {
        for secret in &secrets {
            assert!(!secret.is_empty());
            let bytes = secret.as_bytes();
            assert!(
                !message.payload.windows(bytes.len()).any(|w| w == bytes),
                "{} at offset {} carries a session secret",
                message.topic,
                message.offset
            );
            assert!(
                message
                    .headers
                    .values()
                    .all(|value| !value.contains(secret.as_str())),
                "{} carries a session secret in a header",
                message.topic
            );
        }
    }
    // The tokens worked: the cart was reached with one, and it is not the cart's id.
    assert_ne!(session, a);
    let _ = Uuid::parse_str(&a)?;
    app.cleanup().await
}
