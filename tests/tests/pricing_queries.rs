//! `PricingQueries` over gRPC, against the command service binary (which holds the in-memory
//! pricing index) and a real Postgres: prices with read-your-writes after each rule change,
//! category rules through the catalog's SKU → categories, conversion, simulation with draft
//! rules (nothing written), every bad input naming its field, and access.

use reqwest::Method;
use serde_json::{json, Value};
use shopcore_auth::scopes::{MANAGE_PRICES, VIEW_PRODUCTS};
use shopcore_e2e::TestApp;
use shopcore_proto::decode_error_detail;
use shopcore_proto::pricing::v1 as pb;
use shopcore_proto::pricing::v1::currency_rate_commands_client::CurrencyRateCommandsClient;
use shopcore_proto::pricing::v1::price_book_commands_client::PriceBookCommandsClient;
use shopcore_proto::pricing::v1::price_rule_commands_client::PriceRuleCommandsClient;
use shopcore_proto::pricing::v1::pricing_queries_client::PricingQueriesClient;
use tonic::transport::Channel;
use tonic::Code;

fn eur(amount_minor: i64) -> pb::Money {
    pb::Money {
        amount_minor,
        currency: "EUR".into(),
    }
}

fn money(m: Option<&pb::Money>) -> (i64, String) {
    m.map(|m| (m.amount_minor, m.currency.clone()))
        .unwrap_or_default()
}

async fn rest(app: &TestApp, method: Method, path: &str, body: Value) -> anyhow::Result<Value> {
    let response = app
        .http
        .request(method, app.url(path))
        .json(&body)
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    anyhow::ensure!(status.is_success(), "{path}: {status} {body}");
    Ok(body)
}

fn definition(
    name: &str,
    skus: &[&str],
    categories: &[&str],
    conditions: pb::RuleConditions,
    action: pb::rule_action::Action,
) -> pb::PriceRuleDefinition {
    pb::PriceRuleDefinition {
        name: name.into(),
        targets: Some(pb::RuleTargets {
            skus: skus.iter().map(|s| s.to_string()).collect(),
            categories: categories.iter().map(|s| s.to_string()).collect(),
        }),
        priority: 0,
        conditions: Some(conditions),
        action: Some(pb::RuleAction {
            action: Some(action),
        }),
        exclusive: false,
    }
}

fn context(sku: &str, currency: Option<&str>) -> pb::PriceContext {
    pb::PriceContext {
        sku: sku.into(),
        currency: currency.map(str::to_owned),
        quantity: 2,
        region: Some("EU".into()),
        channel: Some("web".into()),
        ..Default::default()
    }
}

fn get(context: pb::PriceContext, min_position: &str, explain: bool) -> pb::GetPriceRequest {
    pb::GetPriceRequest {
        context: Some(context),
        min_position: Some(min_position.to_owned()).filter(|p| !p.is_empty()),
        explain,
    }
}

struct Clients {
    books: PriceBookCommandsClient<Channel>,
    rules: PriceRuleCommandsClient<Channel>,
    rates: CurrencyRateCommandsClient<Channel>,
    prices: PricingQueriesClient<Channel>,
}

impl Clients {
    /// `GetPrice` with the app's admin token.
    async fn price(
        &mut self,
        app: &TestApp,
        request: pb::GetPriceRequest,
    ) -> anyhow::Result<pb::PriceAnswer> {
        Ok(self.prices.get_price(app.grpc(request)).await?.into_inner())
    }
}

async fn clients(app: &TestApp) -> anyhow::Result<Clients> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc_addr))?
        .connect()
        .await?;
    Ok(Clients {
        books: PriceBookCommandsClient::new(channel.clone()),
        rules: PriceRuleCommandsClient::new(channel.clone()),
        rates: CurrencyRateCommandsClient::new(channel.clone()),
        prices: PricingQueriesClient::new(channel),
    })
}

fn position(result: Option<&shopcore_proto::common::v1::CommandResult>) -> String {
    result.map(|r| r.log_position.clone()).unwrap_or_default()
}

/// A catalog product with the SKU `TR-42` in category `shoes`, a book pricing it at 100 EUR,
/// and the EUR→USD rate; returns the book id and the last write's position.
async fn priced_catalog(app: &TestApp, c: &mut Clients) -> anyhow::Result<(String, String)> {
    rest(
        app,
        Method::POST,
        "/categories",
        json!({"key": "shoes", "name": "Shoes"}),
    )
    .await?;
    let product = rest(
        app,
        Method::POST,
        "/products",
        json!({"name": "Trail Runner", "categories": ["shoes"]}),
    )
    .await?;
    let id = product["id"].as_str().unwrap_or_default().to_owned();
    rest(
        app,
        Method::POST,
        &format!("/products/{id}/variants"),
        json!({"sku": "TR-42"}),
    )
    .await?;
    let book = c
        .books
        .create_price_book(app.grpc(pb::CreatePriceBookRequest {
            price_book_id: String::new(),
            name: "Retail".into(),
            default_currency: "EUR".into(),
            options: None,
        }))
        .await?
        .into_inner();
    let book_id = book.result.map(|r| r.aggregate_id).unwrap_or_default();
    c.books
        .set_base_price(app.grpc(pb::SetBasePriceRequest {
            price_book_id: book_id.clone(),
            sku: "TR-42".into(),
            price: Some(eur(10_000)),
            options: None,
        }))
        .await?;
    let rate = c
        .rates
        .set_fx_rate(app.grpc(pb::SetFxRateRequest {
            base: "EUR".into(),
            quote: "USD".into(),
            rate: "1.0842".into(),
            source: "test".into(),
            options: None,
        }))
        .await?
        .into_inner();
    Ok((book_id, position(rate.result.as_ref())))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_follow_every_rule_change_at_once() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let mut c = clients(&app).await?;
    let (book_id, at) = priced_catalog(&app, &mut c).await?;

    // No rule yet: the listed price; the catalog's categories are known to the index.
    let answer = c
        .price(&app, get(context("TR-42", None), &at, false))
        .await?;
    assert_eq!(money(answer.unit_price.as_ref()), (10_000, "EUR".into()));
    assert_eq!(money(answer.line_total.as_ref()), (20_000, "EUR".into()));
    assert_eq!(answer.categories, vec!["shoes".to_owned()]);
    assert_eq!(answer.price_book_id, book_id);
    assert_eq!(
        answer.base.as_ref().map(|b| b.source.as_str()),
        Some("listed")
    );

    // A SKU rule for the EU, read with the rule's own position: it applies at once.
    let eu = pb::RuleConditions {
        regions: vec!["EU".into()],
        ..Default::default()
    };
    let upsert = |rule_id: &str, definition| pb::UpsertPriceRuleRequest {
        rule_id: rule_id.into(),
        definition: Some(definition),
        options: None,
    };
    let ten = pb::rule_action::Action::PercentOff("10".into());
    let sku_rule = c
        .rules
        .upsert_price_rule(app.grpc(upsert(
            "",
            definition("EU 10 %", &["TR-42"], &[], eu.clone(), ten.clone()),
        )))
        .await?
        .into_inner();
    let sku_rule_id = sku_rule
        .result
        .as_ref()
        .map(|r| r.aggregate_id.clone())
        .unwrap_or_default();
    let answer = c
        .price(
            &app,
            get(
                context("TR-42", None),
                &position(sku_rule.result.as_ref()),
                false,
            ),
        )
        .await?;
    assert_eq!(money(answer.unit_price.as_ref()), (9_000, "EUR".into()));
    assert_eq!(answer.applied_rules, vec![sku_rule_id.clone()]);

    // In USD: the base price is converted once, half-even, then the rule applies.
    let answer = c
        .price(&app, get(context("TR-42", Some("USD")), "", false))
        .await?;
    let base = answer.base.clone().unwrap_or_default();
    assert_eq!(base.source, "converted");
    assert_eq!(money(base.price.as_ref()), (10_842, "USD".into()));
    assert_eq!(base.rates, vec!["EUR/USD=1.0842".to_owned()]);
    assert!(!answer.stale, "a rate set just now is fresh");
    // 10 % of 108.42 is 10.842 → 10.84; 108.42 − 10.84 = 97.58.
    assert_eq!(money(answer.unit_price.as_ref()), (9_758, "USD".into()));

    // A category rule for VIPs: reached through the catalog's category, after the SKU rule.
    let vip = pb::RuleConditions {
        customer_segments: vec!["VIP".into()],
        ..Default::default()
    };
    let category_rule = c
        .rules
        .upsert_price_rule(app.grpc(upsert(
            "",
            definition(
                "VIP shoes",
                &[],
                &["shoes"],
                vip,
                pb::rule_action::Action::AmountOff(eur(500)),
            ),
        )))
        .await?
        .into_inner();
    let category_rule_id = category_rule
        .result
        .as_ref()
        .map(|r| r.aggregate_id.clone())
        .unwrap_or_default();
    let mut as_vip = context("TR-42", None);
    as_vip.customer_segments = vec!["VIP".into(), "VIP".into()];
    let answer = c
        .price(
            &app,
            get(as_vip, &position(category_rule.result.as_ref()), true),
        )
        .await?;
    assert_eq!(money(answer.unit_price.as_ref()), (8_500, "EUR".into()));
    let explained: Vec<(&str, &str, &str, &str)> = answer
        .explanation
        .iter()
        .map(|v| {
            (
                v.rule_id.as_str(),
                v.matched_by.as_str(),
                v.outcome.as_str(),
                v.ranked_by.as_str(),
            )
        })
        .collect();
    assert_eq!(
        explained,
        vec![
            (sku_rule_id.as_str(), "sku", "applied", "first"),
            (category_rule_id.as_str(), "category", "applied", "target"),
        ]
    );
    assert_eq!(answer.explanation[1].name, "VIP shoes");
    // Not a VIP: the category rule is a candidate that did not match, and says why.
    let answer = c.price(&app, get(context("TR-42", None), "", true)).await?;
    assert_eq!(
        answer.explanation[1].failed_condition.as_deref(),
        Some("customerSegment")
    );
    assert_eq!(answer.explanation[1].outcome, "notMatched");

    // Changing and removing a rule show at once too.
    let changed = c
        .rules
        .upsert_price_rule(app.grpc(upsert(
            &sku_rule_id,
            definition(
                "EU 20 %",
                &["TR-42"],
                &[],
                eu,
                pb::rule_action::Action::PercentOff("20".into()),
            ),
        )))
        .await?
        .into_inner();
    let answer = c
        .price(
            &app,
            get(
                context("TR-42", None),
                &position(changed.result.as_ref()),
                false,
            ),
        )
        .await?;
    assert_eq!(money(answer.unit_price.as_ref()), (8_000, "EUR".into()));
    let removed = c
        .rules
        .remove_price_rule(app.grpc(pb::RemovePriceRuleRequest {
            rule_id: sku_rule_id.clone(),
            options: None,
        }))
        .await?
        .into_inner();
    let answer = c
        .price(
            &app,
            get(
                context("TR-42", None),
                &position(removed.result.as_ref()),
                false,
            ),
        )
        .await?;
    assert_eq!(money(answer.unit_price.as_ref()), (10_000, "EUR".into()));
    assert!(answer.applied_rules.is_empty());

    // Simulation: a draft in place of the removed rule's id and a new draft, nothing saved.
    let before = app.event_count().await?;
    let draft = |rule_id: Option<&str>, definition| pb::DraftRule {
        rule_id: rule_id.map(str::to_owned),
        definition: Some(definition),
    };
    let app_only = pb::RuleConditions {
        channels: vec!["app".into()],
        ..Default::default()
    };
    let simulated = c
        .prices
        .simulate(app.grpc(pb::SimulateRequest {
            context: Some(context("TR-42", None)),
            draft_rules: vec![
                draft(
                    Some(&category_rule_id),
                    definition(
                        "Half price",
                        &["TR-42"],
                        &[],
                        Default::default(),
                        pb::rule_action::Action::PercentOff("50".into()),
                    ),
                ),
                draft(
                    None,
                    definition(
                        "App price",
                        &["TR-42"],
                        &[],
                        app_only,
                        pb::rule_action::Action::SetPrice(eur(7_000)),
                    ),
                ),
            ],
            min_position: None,
        }))
        .await?
        .into_inner();
    assert_eq!(money(simulated.unit_price.as_ref()), (5_000, "EUR".into()));
    assert_eq!(simulated.draft_rule_ids.len(), 1);
    let verdicts: Vec<(&str, bool, &str, Option<&str>, &str)> = simulated
        .explanation
        .iter()
        .map(|v| {
            (
                v.name.as_str(),
                v.draft,
                v.outcome.as_str(),
                v.failed_condition.as_deref(),
                v.ranked_by.as_str(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        vec![
            ("App price", true, "notMatched", Some("channel"), "first"),
            ("Half price", true, "applied", None, "specificity"),
        ],
        "the draft replaced the live category rule of the same id"
    );
    assert_eq!(
        app.event_count().await?,
        before,
        "a simulation writes nothing"
    );
    let live = c
        .price(&app, get(context("TR-42", None), "", false))
        .await?;
    assert_eq!(
        money(live.unit_price.as_ref()),
        (10_000, "EUR".into()),
        "live rules unchanged"
    );
    app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_name_their_field_and_access_is_checked() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let mut c = clients(&app).await?;
    let (book_id, written) = priced_catalog(&app, &mut c).await?;

    let with = |change: &dyn Fn(&mut pb::PriceContext)| {
        let mut ctx = context("TR-42", None);
        change(&mut ctx);
        get(ctx, &written, false)
    };
    let long_segments: Vec<String> = (0..33).map(|n| format!("s{n}")).collect();
    let cases: Vec<(&str, pb::GetPriceRequest, Code, &str)> = vec![
        (
            "empty sku",
            with(&|c| c.sku = "  ".into()),
            Code::InvalidArgument,
            "sku",
        ),
        (
            "65-char sku",
            with(&|c| c.sku = "A".repeat(65)),
            Code::InvalidArgument,
            "sku",
        ),
        (
            "sku with a space",
            with(&|c| c.sku = "TR 42".into()),
            Code::InvalidArgument,
            "sku",
        ),
        (
            "lower-case currency",
            with(&|c| c.currency = Some("eur".into())),
            Code::InvalidArgument,
            "currency",
        ),
        (
            "unknown currency",
            with(&|c| c.currency = Some("XXX".into())),
            Code::InvalidArgument,
            "currency",
        ),
        (
            "huge quantity",
            with(&|c| c.quantity = 1_000_001),
            Code::InvalidArgument,
            "quantity",
        ),
        (
            "bad instant",
            with(&|c| c.at = Some("yesterday".into())),
            Code::InvalidArgument,
            "at",
        ),
        (
            "bad book id",
            with(&|c| c.price_book_id = Some("retail".into())),
            Code::InvalidArgument,
            "priceBookId",
        ),
        (
            "unknown book",
            with(&|c| c.price_book_id = Some(uuid::Uuid::now_v7().to_string())),
            Code::NotFound,
            "priceBookId",
        ),
        (
            "unknown sku",
            with(&|c| c.sku = "NOPE-1".into()),
            Code::NotFound,
            "sku",
        ),
        (
            "no rate",
            with(&|c| c.currency = Some("GBP".into())),
            Code::FailedPrecondition,
            "currency",
        ),
        (
            "33 segments",
            with(&|c| c.customer_segments = long_segments.clone()),
            Code::InvalidArgument,
            "customerSegment",
        ),
        (
            "invisible segment",
            with(&|c| c.customer_segments = vec!["V\u{200b}IP".into()]),
            Code::InvalidArgument,
            "customerSegment",
        ),
        (
            "65-char segment",
            with(&|c| c.customer_segments = vec!["é".repeat(65)]),
            Code::InvalidArgument,
            "customerSegment",
        ),
        (
            "empty channel",
            with(&|c| c.channel = Some(" ".into())),
            Code::InvalidArgument,
            "channel",
        ),
        (
            "garbage position",
            get(context("TR-42", None), "latest", false),
            Code::InvalidArgument,
            "minPosition",
        ),
        (
            "position of no event",
            get(context("TR-42", None), "999999999-999999999", false),
            Code::InvalidArgument,
            "minPosition",
        ),
        (
            "no context",
            pb::GetPriceRequest::default(),
            Code::InvalidArgument,
            "context",
        ),
    ];
    for (name, request, code, field) in cases {
        let status = c.prices.get_price(app.grpc(request)).await.expect_err(name);
        let named = decode_error_detail(&status)
            .map(|d| d.field)
            .unwrap_or_default();
        assert_eq!(
            (status.code(), named.as_str()),
            (code, field),
            "{name}: {status:?}"
        );
    }
    // The book named explicitly prices too; Unicode segments and channels are labels like any.
    let mut ctx = context("TR-42", Some("EUR"));
    ctx.price_book_id = Some(book_id);
    ctx.customer_segments = vec!["Ünïcødé ✓".into(), "客户".into()];
    let answer = c.price(&app, get(ctx, &written, false)).await?;
    assert_eq!(money(answer.unit_price.as_ref()), (10_000, "EUR".into()));

    // Draft rules are checked like saved ones, naming the draft.
    let simulate = |drafts: Vec<pb::DraftRule>| pb::SimulateRequest {
        context: Some(context("TR-42", None)),
        draft_rules: drafts,
        min_position: None,
    };
    let rule = |action: pb::rule_action::Action| pb::DraftRule {
        rule_id: None,
        definition: Some(definition(
            "Draft",
            &["TR-42"],
            &[],
            Default::default(),
            action,
        )),
    };
    let ok = rule(pb::rule_action::Action::PercentOff("5".into()));
    let cases: Vec<(&str, pb::SimulateRequest, &str)> = vec![
        (
            "150 %",
            simulate(vec![
                ok.clone(),
                rule(pb::rule_action::Action::PercentOff("150".into())),
            ]),
            "draftRules[1].action.percent",
        ),
        (
            "no action",
            simulate(vec![pb::DraftRule {
                rule_id: None,
                definition: Some(pb::PriceRuleDefinition {
                    name: "x".into(),
                    ..Default::default()
                }),
            }]),
            "draftRules[0].action",
        ),
        (
            "no target",
            simulate(vec![pb::DraftRule {
                rule_id: None,
                definition: Some(definition(
                    "x",
                    &[],
                    &[],
                    Default::default(),
                    pb::rule_action::Action::PercentOff("5".into()),
                )),
            }]),
            "draftRules[0].definition.targets",
        ),
        (
            "bad id",
            simulate(vec![pb::DraftRule {
                rule_id: Some("r1".into()),
                ..ok.clone()
            }]),
            "draftRules[0].ruleId",
        ),
        (
            "same id twice",
            {
                let id = Some(uuid::Uuid::now_v7().to_string());
                simulate(vec![
                    pb::DraftRule {
                        rule_id: id.clone(),
                        ..ok.clone()
                    },
                    pb::DraftRule {
                        rule_id: id,
                        ..ok.clone()
                    },
                ])
            },
            "draftRules[1].ruleId",
        ),
        ("101 drafts", simulate(vec![ok.clone(); 101]), "draftRules"),
    ];
    for (name, request, field) in cases {
        let status = c.prices.simulate(app.grpc(request)).await.expect_err(name);
        let named = decode_error_detail(&status)
            .map(|d| d.field)
            .unwrap_or_default();
        assert_eq!(
            (status.code(), named.as_str()),
            (Code::InvalidArgument, field),
            "{name}: {status:?}"
        );
    }

    // Access: a token, and one with view_prices.
    let authorized = |token: Option<&str>| {
        let mut request = tonic::Request::new(get(context("TR-42", None), "", false));
        if let Some(value) = token.and_then(|t| format!("Bearer {t}").parse().ok()) {
            request.metadata_mut().insert("authorization", value);
        }
        request
    };
    let blind = app.token("blind", &[VIEW_PRODUCTS, MANAGE_PRICES], None)?;
    for (token, code) in [
        (None, Code::Unauthenticated),
        (Some(blind.as_str()), Code::PermissionDenied),
    ] {
        let status = c
            .prices
            .get_price(authorized(token))
            .await
            .expect_err("refused");
        assert_eq!(status.code(), code, "{token:?}");
    }
    app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_converted_with_an_old_rate_says_it_is_stale() -> anyhow::Result<()> {
    let app = TestApp::spawn_with(&[("FX_STALE_AFTER_SECONDS", "2".to_owned())]).await?;
    let mut c = clients(&app).await?;
    let (_, at) = priced_catalog(&app, &mut c).await?;
    let ask = |currency| get(context("TR-42", Some(currency)), &at, false);
    let fresh = c.price(&app, ask("USD")).await?;
    assert!(!fresh.stale, "a rate set just now is fresh");
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let old = c.price(&app, ask("USD")).await?;
    assert!(old.stale, "the EUR→USD rate is older than 2 s");
    assert_eq!(
        money(old.unit_price.as_ref()),
        (10_842, "USD".into()),
        "still priced: the caller decides"
    );
    let listed = c.price(&app, ask("EUR")).await?;
    assert!(!listed.stale, "a listed price uses no rate");
    // A new rate makes USD prices fresh again, at once for a reader naming its position.
    let rate = c
        .rates
        .set_fx_rate(app.grpc(pb::SetFxRateRequest {
            base: "EUR".into(),
            quote: "USD".into(),
            rate: "1.0850".into(),
            source: "test".into(),
            options: None,
        }))
        .await?
        .into_inner();
    let renewed = c
        .price(
            &app,
            get(
                context("TR-42", Some("USD")),
                &position(rate.result.as_ref()),
                false,
            ),
        )
        .await?;
    assert!(!renewed.stale);
    assert_eq!(money(renewed.unit_price.as_ref()), (10_850, "USD".into()));
    app.cleanup().await
}
