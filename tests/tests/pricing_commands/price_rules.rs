//! `PriceRuleCommands`: create and replace with expected versions, idempotent retries, bad
//! input naming its field with nothing written, removal.

use shopcore_e2e::TestApp;
use shopcore_proto::decode_error_detail;
use shopcore_proto::pricing::v1 as pb;
use shopcore_proto::pricing::v1::price_rule_commands_client::PriceRuleCommandsClient;
use tonic::Code;
use uuid::Uuid;

use super::{channel, options, percent_off, refusal, result, rule, upsert, usd};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn price_rules_upsert_with_versions_idempotency_and_bad_input() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let mut rules = PriceRuleCommandsClient::new(channel(&app).await?);

    let created = rules
        .upsert_price_rule(app.grpc(upsert("", rule(" Black Friday ", percent_off("12.5")))))
        .await?
        .into_inner();
    let (id, version, _) = result(created.result.as_ref());
    assert_eq!(Uuid::parse_str(&id)?.get_version_num(), 7, "a new v7 id");
    assert_eq!(version, 1);
    let stored = created.price_rule.expect("rule");
    let definition = stored.definition.expect("definition");
    assert_eq!(definition.name, "Black Friday");
    assert_eq!(
        definition.action.and_then(|a| a.action),
        Some(percent_off("12.5")),
        "an exact decimal, not basis points or a float"
    );
    let conditions = definition.conditions.expect("conditions");
    assert_eq!(
        conditions.valid_until.as_deref(),
        Some("2026-11-30T23:00:00Z")
    );

    // Replace with the version seen; a stale version is ABORTED with the current one.
    let mut replace = upsert(
        &id,
        rule("Black Friday", pb::rule_action::Action::SetPrice(usd(999))),
    );
    replace.options = options(Some(1), "");
    let replaced = rules
        .upsert_price_rule(app.grpc(replace.clone()))
        .await?
        .into_inner();
    assert_eq!(result(replaced.result.as_ref()).1, 2);
    let conditions = replaced
        .price_rule
        .and_then(|r| r.definition)
        .and_then(|d| d.conditions);
    assert_eq!(
        conditions.and_then(|c| c.currency).as_deref(),
        Some("USD"),
        "a money action fixes the currency condition"
    );
    let stale = rules
        .upsert_price_rule(app.grpc(replace))
        .await
        .expect_err("stale");
    assert_eq!(stale.code(), Code::Aborted);
    assert_eq!(
        decode_error_detail(&stale).and_then(|d| d.current_version),
        Some(2)
    );

    // A retry with the same key and body is the first result; another body is refused.
    let keyed = |percent: &str| {
        let mut request = upsert("", rule("Cyber Monday", percent_off(percent)));
        request.options = options(None, "cyber-monday-rule");
        request
    };
    let first = rules
        .upsert_price_rule(app.grpc(keyed("20")))
        .await?
        .into_inner();
    let again = rules
        .upsert_price_rule(app.grpc(keyed("20")))
        .await?
        .into_inner();
    let (first_id, _, _) = result(first.result.as_ref());
    let (again_id, again_version, replayed) = result(again.result.as_ref());
    assert!(replayed);
    assert_eq!((again_id.as_str(), again_version), (first_id.as_str(), 1));
    let other = rules
        .upsert_price_rule(app.grpc(keyed("25")))
        .await
        .expect_err("other body");
    assert_eq!(other.code(), Code::InvalidArgument);
    assert_eq!(
        decode_error_detail(&other).map(|d| d.code),
        Some("unprocessable".into())
    );

    // Bad input names the field and writes nothing.
    let before = app.event_count().await?;
    let with = |change: &dyn Fn(&mut pb::PriceRuleDefinition)| {
        let mut definition = rule("Rule", percent_off("10"));
        change(&mut definition);
        upsert("", definition)
    };
    let set_action = |action: pb::rule_action::Action| {
        move |d: &mut pb::PriceRuleDefinition| {
            d.action = Some(pb::RuleAction {
                action: Some(action.clone()),
            })
        }
    };
    let only_skus = |skus: Vec<String>| {
        move |d: &mut pb::PriceRuleDefinition| {
            d.targets = Some(pb::RuleTargets {
                skus: skus.clone(),
                categories: vec![],
            })
        }
    };
    let cases: Vec<(pb::UpsertPriceRuleRequest, &str)> = vec![
        (with(&|d| d.name = " ".into()), "name"),
        (with(&|d| d.name = "n".repeat(10_000)), "name"),
        (with(&|d| d.name = "Black\u{200B}Friday".into()), "name"),
        (with(&|d| d.name = "Black\u{202E}Friday".into()), "name"),
        (with(&set_action(percent_off("100.01"))), "action.percent"),
        (with(&set_action(percent_off("-5"))), "action.percent"),
        (with(&set_action(percent_off("0"))), "action.percent"),
        (with(&set_action(percent_off("12.345"))), "action.percent"),
        (with(&set_action(percent_off("1e1"))), "action.percent"),
        (
            with(&set_action(pb::rule_action::Action::SetPrice(usd(-1)))),
            "action.price",
        ),
        (
            with(&set_action(pb::rule_action::Action::SetPrice(usd(
                i64::MIN,
            )))),
            "action.price",
        ),
        (
            with(&set_action(pb::rule_action::Action::AmountOff(usd(0)))),
            "action.amount",
        ),
        (
            with(&set_action(pb::rule_action::Action::AmountOff(pb::Money {
                amount_minor: 100,
                currency: "XYZ".into(),
            }))),
            "action.amount.currency",
        ),
        (with(&|d| d.action = None), "action"),
        (with(&|d| d.targets = None), "targets"),
        (with(&only_skus(vec!["SHOE 42".into()])), "targets.skus"),
        (with(&only_skus(vec!["S".repeat(65)])), "targets.skus"),
        (
            with(&only_skus(vec!["SHOE-4\u{0662}".into()])),
            "targets.skus",
        ),
        (
            with(&|d| {
                if let Some(c) = d.conditions.as_mut() {
                    c.valid_until = c.valid_from.clone();
                }
            }),
            "conditions.validUntil",
        ),
        (
            with(&|d| {
                if let Some(c) = d.conditions.as_mut() {
                    c.valid_from = Some("27/11/2026".into());
                }
            }),
            "conditions.validFrom",
        ),
        (
            with(&|d| {
                if let Some(c) = d.conditions.as_mut() {
                    c.min_quantity = Some(0);
                }
            }),
            "conditions.minQuantity",
        ),
        (
            with(&|d| {
                if let Some(c) = d.conditions.as_mut() {
                    c.customer_segments = vec!["vip\u{2060}".into()];
                }
            }),
            "conditions.customerSegments",
        ),
        (
            upsert("not-a-uuid", rule("Rule", percent_off("10"))),
            "ruleId",
        ),
        (
            pb::UpsertPriceRuleRequest {
                rule_id: String::new(),
                definition: None,
                options: None,
            },
            "definition",
        ),
    ];
    for (request, field) in cases {
        let error = rules
            .upsert_price_rule(app.grpc(request))
            .await
            .expect_err(field);
        assert_eq!(
            refusal(&error),
            (Code::InvalidArgument, field.into()),
            "{error:?}"
        );
    }
    assert_eq!(app.event_count().await?, before, "nothing written");

    // Remove: then a second removal is NOT_FOUND.
    let removed = rules
        .remove_price_rule(app.grpc(pb::RemovePriceRuleRequest {
            rule_id: id.clone(),
            options: None,
        }))
        .await?
        .into_inner();
    let removed = removed.price_rule.expect("rule");
    assert!(removed.removed && removed.definition.is_none());
    let again = rules
        .remove_price_rule(app.grpc(pb::RemovePriceRuleRequest {
            rule_id: id,
            options: None,
        }))
        .await
        .expect_err("already removed");
    assert_eq!(again.code(), Code::NotFound);
    app.cleanup().await
}
