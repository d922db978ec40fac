//! The pricing services over gRPC, against the command service binary and a real Postgres:
//! price rules, promotions (coupon codes unique across promotions, also under a race), price
//! books and currency rates — optimistic concurrency, idempotent retries, bad input that names
//! its field and writes nothing, and access. One module per service under
//! `pricing_commands/`; the helpers they share and the access test are here.

// A test crate's root resolves modules beside itself, so the folder is named explicitly.
#[path = "pricing_commands/price_books.rs"]
mod price_books;
#[path = "pricing_commands/price_rules.rs"]
mod price_rules;
#[path = "pricing_commands/promotions.rs"]
mod promotions;

use shopcore_auth::scopes::{MANAGE_PRICES, MANAGE_PRODUCTS, VIEW_PRICES};
use shopcore_e2e::TestApp;
use shopcore_proto::common::v1::CommandOptions;
use shopcore_proto::decode_error_detail;
use shopcore_proto::pricing::v1 as pb;
use shopcore_proto::pricing::v1::currency_rate_commands_client::CurrencyRateCommandsClient;
use shopcore_proto::pricing::v1::price_book_commands_client::PriceBookCommandsClient;
use shopcore_proto::pricing::v1::price_rule_commands_client::PriceRuleCommandsClient;
use shopcore_proto::pricing::v1::promotion_commands_client::PromotionCommandsClient;
use tonic::transport::Channel;
use tonic::{Code, Status};
use uuid::Uuid;

pub(crate) async fn channel(app: &TestApp) -> anyhow::Result<Channel> {
    Ok(
        tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc_addr))?
            .connect()
            .await?,
    )
}

pub(crate) fn options(expected_version: Option<u64>, key: &str) -> Option<CommandOptions> {
    Some(CommandOptions {
        expected_version,
        idempotency_key: key.to_owned(),
    })
}

pub(crate) fn usd(amount_minor: i64) -> pb::Money {
    pb::Money {
        amount_minor,
        currency: "USD".into(),
    }
}

/// The code of a refusal and the field its details name.
pub(crate) fn refusal(status: &Status) -> (Code, String) {
    let field = decode_error_detail(status)
        .map(|d| d.field)
        .unwrap_or_default();
    (status.code(), field)
}

pub(crate) fn result(
    reply: Option<&shopcore_proto::common::v1::CommandResult>,
) -> (String, u64, bool) {
    let result = reply.expect("a result");
    (result.aggregate_id.clone(), result.version, result.replayed)
}

pub(crate) fn rule(name: &str, action: pb::rule_action::Action) -> pb::PriceRuleDefinition {
    pb::PriceRuleDefinition {
        name: name.into(),
        targets: Some(pb::RuleTargets {
            skus: vec!["SHOE-42".into()],
            categories: vec!["sale".into()],
        }),
        priority: 10,
        conditions: Some(pb::RuleConditions {
            customer_segments: vec!["vip".into()],
            valid_from: Some("2026-11-27T00:00:00Z".into()),
            valid_until: Some("2026-12-01T00:00:00+01:00".into()),
            min_quantity: Some(2),
            ..Default::default()
        }),
        action: Some(pb::RuleAction {
            action: Some(action),
        }),
        exclusive: false,
    }
}

pub(crate) fn percent_off(text: &str) -> pb::rule_action::Action {
    pb::rule_action::Action::PercentOff(text.into())
}

pub(crate) fn upsert(
    rule_id: &str,
    definition: pb::PriceRuleDefinition,
) -> pb::UpsertPriceRuleRequest {
    pb::UpsertPriceRuleRequest {
        rule_id: rule_id.into(),
        definition: Some(definition),
        options: None,
    }
}

/// A promotion of 10 % from 2026-11-27 to 2099-12-01, one use per customer.
pub(crate) fn promotion(name: &str, codes: &[&str]) -> pb::CreatePromotionRequest {
    pb::CreatePromotionRequest {
        promotion_id: String::new(),
        name: name.into(),
        discount: Some(pb::Discount {
            discount: Some(pb::discount::Discount::PercentOff("10".into())),
        }),
        valid_from: "2026-11-27T00:00:00Z".into(),
        valid_until: "2099-12-01T00:00:00Z".into(),
        usage_limit_total: Some(1_000),
        usage_limit_per_customer: Some(1),
        coupon_codes: codes.iter().map(|c| c.to_string()).collect(),
        activate_at_start: false,
        options: None,
    }
}

/// A request with `token` as its bearer token, or none.
fn authorized<T>(token: Option<&str>, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(value) = token.and_then(|t| format!("Bearer {t}").parse().ok()) {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pricing_service_needs_a_platform_token_with_manage_prices() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let channel = channel(&app).await?;
    let mut books = PriceBookCommandsClient::new(channel.clone());
    let mut rules = PriceRuleCommandsClient::new(channel.clone());
    let mut promotions = PromotionCommandsClient::new(channel.clone());
    let mut rates = CurrencyRateCommandsClient::new(channel);
    let viewer = app.token("viewer", &[VIEW_PRICES, MANAGE_PRODUCTS], None)?;
    let shopper = app.token("shopper", &[MANAGE_PRICES], Some(Uuid::now_v7()))?;
    let manager = app.token("pricing-manager", &[MANAGE_PRICES], None)?;
    let book = || pb::CreatePriceBookRequest {
        price_book_id: String::new(),
        name: "Retail".into(),
        default_currency: "EUR".into(),
        options: None,
    };
    let fx = || pb::SetFxRateRequest {
        base: "EUR".into(),
        quote: "USD".into(),
        rate: "1.08".into(),
        source: "manual".into(),
        options: None,
    };
    for (token, expected) in [
        (None, Code::Unauthenticated),
        (Some(viewer.as_str()), Code::PermissionDenied),
        (Some(shopper.as_str()), Code::PermissionDenied),
    ] {
        let codes = [
            books
                .create_price_book(authorized(token, book()))
                .await
                .err()
                .map(|e| e.code()),
            rules
                .upsert_price_rule(authorized(token, upsert("", rule("R", percent_off("5")))))
                .await
                .err()
                .map(|e| e.code()),
            promotions
                .create_promotion(authorized(token, promotion("P", &[])))
                .await
                .err()
                .map(|e| e.code()),
            rates
                .set_fx_rate(authorized(token, fx()))
                .await
                .err()
                .map(|e| e.code()),
        ];
        assert_eq!(codes, [Some(expected); 4], "{token:?}");
    }
    assert_eq!(app.event_count().await?, 0, "nothing written");

    let made = books
        .create_price_book(authorized(Some(&manager), book()))
        .await?
        .into_inner();
    rules
        .upsert_price_rule(authorized(
            Some(&manager),
            upsert("", rule("R", percent_off("5"))),
        ))
        .await?;
    promotions
        .create_promotion(authorized(Some(&manager), promotion("P", &[])))
        .await?;
    rates.set_fx_rate(authorized(Some(&manager), fx())).await?;
    let actor: String = sqlx::query_scalar(
        "SELECT metadata->>'actor' FROM events WHERE aggregate_id = $1 AND sequence = 1",
    )
    .bind(result(made.result.as_ref()).0)
    .fetch_one(&app.pg)
    .await?;
    assert_eq!(actor, "pricing-manager");
    assert_eq!(app.event_count().await?, 4);
    app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_the_four_pricing_services() -> anyhow::Result<()> {
    use tonic_reflection::pb::v1;
    let app = TestApp::spawn().await?;
    let mut client =
        v1::server_reflection_client::ServerReflectionClient::new(channel(&app).await?);
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut replies = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await?
        .into_inner();
    let reply = replies.message().await?.expect("a reply");
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        reply.message_response
    else {
        anyhow::bail!("not a service list: {reply:?}");
    };
    for service in [
        "PriceBookCommands",
        "PriceRuleCommands",
        "PromotionCommands",
        "CurrencyRateCommands",
    ] {
        let name = format!("shopcore.pricing.v1.{service}");
        assert!(
            list.service.iter().any(|s| s.name == name),
            "{name}: {list:?}"
        );
    }
    app.cleanup().await
}
