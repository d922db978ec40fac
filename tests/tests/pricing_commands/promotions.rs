//! `PromotionCommands`: create, change, activate and deactivate with expected versions,
//! coupon codes unique across promotions whatever their case (also when eight promotions race
//! for one code), idempotent retries, bad input naming its field with nothing written.

use shopcore_e2e::TestApp;
use shopcore_proto::decode_error_detail;
use shopcore_proto::pricing::v1 as pb;
use shopcore_proto::pricing::v1::promotion_commands_client::PromotionCommandsClient;
use tonic::Code;
use uuid::Uuid;

use super::{channel, options, promotion, refusal, result, usd};

fn lifecycle(promotion_id: &str, expected_version: Option<u64>) -> pb::PromotionLifecycleRequest {
    pb::PromotionLifecycleRequest {
        promotion_id: promotion_id.into(),
        options: options(expected_version, ""),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotions_change_activate_and_keep_coupon_codes_unique() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let mut promotions = PromotionCommandsClient::new(channel(&app).await?);

    // Repeats and spellings that differ only by case are one code.
    let created = promotions
        .create_promotion(app.grpc(promotion(
            "Black Friday",
            &["save10", " SAVE10 ", "Bf-2026"],
        )))
        .await?
        .into_inner();
    let (black_friday, version, _) = result(created.result.as_ref());
    assert_eq!(version, 1);
    let state = created.promotion.expect("promotion");
    assert_eq!(state.coupon_codes, ["BF-2026", "SAVE10"]);
    assert!(!state.active);

    // Change with the version seen: the window, a limit removed, the discount.
    let change = pb::ChangePromotionRequest {
        promotion_id: black_friday.clone(),
        name: Some("Black Week".into()),
        discount: Some(pb::Discount {
            discount: Some(pb::discount::Discount::AmountOff(usd(500))),
        }),
        valid_from: None,
        valid_until: Some("2099-12-08T00:00:00Z".into()),
        usage_limit_total: Some(pb::UsageLimit { limit: None }),
        usage_limit_per_customer: None,
        options: options(Some(1), ""),
    };
    let changed = promotions
        .change_promotion(app.grpc(change.clone()))
        .await?
        .into_inner();
    assert_eq!(result(changed.result.as_ref()).1, 2);
    let state = changed.promotion.expect("promotion");
    assert_eq!(state.name, "Black Week");
    assert_eq!(state.valid_until, "2099-12-08T00:00:00Z");
    assert_eq!(state.usage_limit_total, None);
    assert_eq!(state.usage_limit_per_customer, Some(1));
    let stale = promotions
        .change_promotion(app.grpc(change))
        .await
        .expect_err("stale");
    assert_eq!(stale.code(), Code::Aborted);
    assert_eq!(
        decode_error_detail(&stale).and_then(|d| d.current_version),
        Some(2)
    );

    let active = promotions
        .activate_promotion(app.grpc(lifecycle(&black_friday, Some(2))))
        .await?
        .into_inner();
    assert!(active.promotion.expect("promotion").active);
    let again = promotions
        .activate_promotion(app.grpc(lifecycle(&black_friday, None)))
        .await?
        .into_inner();
    assert_eq!(
        again.result.map(|r| r.events_written),
        Some(0),
        "already active"
    );
    let inactive = promotions
        .deactivate_promotion(app.grpc(lifecycle(&black_friday, Some(3))))
        .await?
        .into_inner();
    assert!(!inactive.promotion.expect("promotion").active);

    // A code of another promotion, in any spelling: ALREADY_EXISTS naming the field.
    let before = app.event_count().await?;
    let taken = promotions
        .create_promotion(app.grpc(promotion("Other", &["FRESH-1", "Save10"])))
        .await
        .expect_err("SAVE10 is Black Friday's");
    assert_eq!(refusal(&taken), (Code::AlreadyExists, "couponCodes".into()));
    assert!(taken.message().contains("SAVE10"), "{}", taken.message());
    let other = promotions
        .create_promotion(app.grpc(promotion("Other", &["FRESH-1"])))
        .await?
        .into_inner();
    let (other, _, _) = result(other.result.as_ref());
    let add = |codes: &[&str]| pb::AddCouponCodesRequest {
        promotion_id: other.clone(),
        coupon_codes: codes.iter().map(|c| c.to_string()).collect(),
        options: None,
    };
    let taken = promotions
        .add_coupon_codes(app.grpc(add(&["bf-2026"])))
        .await
        .expect_err("taken");
    assert_eq!(refusal(&taken), (Code::AlreadyExists, "couponCodes".into()));
    let added = promotions
        .add_coupon_codes(app.grpc(add(&["fresh-1", "fresh-2"])))
        .await?
        .into_inner();
    assert_eq!(
        added.promotion.expect("promotion").coupon_codes,
        ["FRESH-1", "FRESH-2"]
    );
    assert_eq!(
        app.event_count().await?,
        before + 2,
        "only the two accepted commands wrote"
    );

    // Idempotent create: the retry is the first promotion, another body is refused.
    let keyed = |name: &str| {
        let mut request = promotion(name, &["KEYED-1"]);
        request.options = options(None, "create-keyed");
        request
    };
    let first = promotions
        .create_promotion(app.grpc(keyed("Keyed")))
        .await?
        .into_inner();
    let retry = promotions
        .create_promotion(app.grpc(keyed("Keyed")))
        .await?
        .into_inner();
    let (first_id, _, _) = result(first.result.as_ref());
    let (retry_id, _, replayed) = result(retry.result.as_ref());
    assert!(replayed, "not refused as a taken code: the first result");
    assert_eq!(retry_id, first_id);
    let refused = promotions
        .create_promotion(app.grpc(keyed("Other name")))
        .await
        .expect_err("other body");
    assert_eq!(
        decode_error_detail(&refused).map(|d| d.code),
        Some("unprocessable".into())
    );

    // Bad input names the field and writes nothing.
    let before = app.event_count().await?;
    let with = |change: &dyn Fn(&mut pb::CreatePromotionRequest)| {
        let mut request = promotion("Promo", &["PROMO-1"]);
        change(&mut request);
        request
    };
    let discount = |d: pb::discount::Discount| Some(pb::Discount { discount: Some(d) });
    let lower_case = pb::Money {
        amount_minor: 5,
        currency: "usd".into(),
    };
    let cases: Vec<(pb::CreatePromotionRequest, &str)> = vec![
        (with(&|r| r.name = String::new()), "name"),
        (with(&|r| r.name = "x".repeat(10_000)), "name"),
        (with(&|r| r.name = "\u{200B}\u{200B}".into()), "name"),
        (
            with(&|r| r.valid_until = r.valid_from.clone()),
            "validUntil",
        ),
        (
            with(&|r| r.valid_until = "2026-01-01T00:00:00Z".into()),
            "validUntil",
        ),
        (with(&|r| r.valid_from = "tomorrow".into()), "validFrom"),
        (with(&|r| r.discount = None), "discount"),
        (
            with(&|r| r.discount = discount(pb::discount::Discount::PercentOff("101".into()))),
            "discount.percent",
        ),
        (
            with(&|r| r.discount = discount(pb::discount::Discount::PercentOff("-10".into()))),
            "discount.percent",
        ),
        (
            with(&|r| r.discount = discount(pb::discount::Discount::PercentOff("12.5%".into()))),
            "discount.percent",
        ),
        (
            with(&|r| r.discount = discount(pb::discount::Discount::AmountOff(usd(-500)))),
            "discount.amount",
        ),
        (
            with(&|r| r.discount = discount(pb::discount::Discount::AmountOff(lower_case.clone()))),
            "discount.amount.currency",
        ),
        (with(&|r| r.usage_limit_total = Some(0)), "usageLimitTotal"),
        (with(&|r| r.coupon_codes = vec!["NO".into()]), "couponCodes"),
        (
            with(&|r| r.coupon_codes = vec!["SAVE 10".into()]),
            "couponCodes",
        ),
        (
            with(&|r| r.coupon_codes = vec!["SAVE\u{200B}10".into()]),
            "couponCodes",
        ),
        (
            with(&|r| r.coupon_codes = vec!["ＳＡＶＥ１０".into()]),
            "couponCodes",
        ),
        (
            with(&|r| r.coupon_codes = (0..1_001).map(|n| format!("CODE-{n}")).collect()),
            "couponCodes",
        ),
        (with(&|r| r.promotion_id = "42".into()), "promotionId"),
    ];
    for (request, field) in cases {
        let error = promotions
            .create_promotion(app.grpc(request))
            .await
            .expect_err(field);
        assert_eq!(
            refusal(&error),
            (Code::InvalidArgument, field.into()),
            "{error:?}"
        );
    }
    let empty = pb::ChangePromotionRequest {
        promotion_id: other.clone(),
        name: None,
        discount: None,
        valid_from: None,
        valid_until: None,
        usage_limit_total: None,
        usage_limit_per_customer: None,
        options: None,
    };
    let error = promotions
        .change_promotion(app.grpc(empty))
        .await
        .expect_err("nothing to change");
    assert_eq!(error.code(), Code::InvalidArgument);
    let unknown = promotions
        .activate_promotion(app.grpc(lifecycle(&Uuid::now_v7().to_string(), None)))
        .await
        .expect_err("no such promotion");
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(app.event_count().await?, before, "nothing written");
    app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_promotions_race_for_one_coupon_code_and_one_wins() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let promotions = PromotionCommandsClient::new(channel(&app).await?);
    let attempts = (0..8).map(|n| {
        let mut client = promotions.clone();
        // Each in its own spelling of the one code, with a code of its own beside it.
        let code = if n % 2 == 0 { "RACE-1" } else { "race-1" };
        let request = app.grpc(promotion(
            &format!("Racer {n}"),
            &[code, &format!("OWN-{n}")],
        ));
        async move { client.create_promotion(request).await }
    });
    let results = futures::future::join_all(attempts).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "{results:?}");
    for error in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(
            refusal(error),
            (Code::AlreadyExists, "couponCodes".into()),
            "{error:?}"
        );
    }
    assert_eq!(app.event_count().await?, 1, "the losers wrote nothing");
    // A loser reserved none of its codes; the winner holds both of its own.
    let mut client = promotions.clone();
    for (n, outcome) in results.iter().enumerate() {
        let request = app.grpc(promotion(&format!("Later {n}"), &[&format!("own-{n}")]));
        let later = client.create_promotion(request).await;
        match outcome {
            Ok(_) => assert_eq!(
                later.map(|_| ()).map_err(|e| refusal(&e)),
                Err((Code::AlreadyExists, "couponCodes".into()))
            ),
            Err(_) => assert!(later.is_ok(), "OWN-{n} stayed free: {later:?}"),
        }
    }
    app.cleanup().await
}
