//! `PriceBookCommands` and `CurrencyRateCommands`: base prices and exchange rates with
//! expected versions, idempotent retries, bad money, SKUs, codes and rates naming their field
//! with nothing written.

use shopcore_e2e::TestApp;
use shopcore_proto::decode_error_detail;
use shopcore_proto::pricing::v1 as pb;
use shopcore_proto::pricing::v1::currency_rate_commands_client::CurrencyRateCommandsClient;
use shopcore_proto::pricing::v1::price_book_commands_client::PriceBookCommandsClient;
use tonic::Code;

use super::{channel, options, refusal, result, usd};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn price_books_and_currency_rates() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let channel = channel(&app).await?;
    let mut books = PriceBookCommandsClient::new(channel.clone());
    let mut rates = CurrencyRateCommandsClient::new(channel);

    let created = books
        .create_price_book(app.grpc(pb::CreatePriceBookRequest {
            price_book_id: String::new(),
            name: " Retail ".into(),
            default_currency: "EUR".into(),
            options: None,
        }))
        .await?
        .into_inner();
    let (book, _, _) = result(created.result.as_ref());
    assert_eq!(created.price_book.map(|b| b.name), Some("Retail".into()));
    let set = |sku: &str, price: pb::Money, expected: Option<u64>| pb::SetBasePriceRequest {
        price_book_id: book.clone(),
        sku: sku.into(),
        price: Some(price),
        options: options(expected, ""),
    };
    let priced = books
        .set_base_price(app.grpc(set(" SHOE-42 ", usd(1_999), Some(1))))
        .await?
        .into_inner();
    let priced = priced.price_book.expect("book");
    assert_eq!(
        (priced.price_count, priced.sku_prices),
        (1, vec![usd(1_999)])
    );
    let stale = books
        .set_base_price(app.grpc(set("SHOE-42", usd(2_099), Some(1))))
        .await
        .expect_err("stale");
    assert_eq!(stale.code(), Code::Aborted);
    assert_eq!(
        decode_error_detail(&stale).and_then(|d| d.current_version),
        Some(2)
    );

    let before = app.event_count().await?;
    let eur = |amount_minor| pb::Money {
        amount_minor,
        currency: "EUR".into(),
    };
    let euro = pb::Money {
        amount_minor: 1,
        currency: "EURO".into(),
    };
    for (request, field) in [
        (set("SHOE-42", usd(-1), None), "price"),
        (set("SHOE-42", usd(i64::MIN), None), "price"),
        (set("SHOE-42", euro, None), "price.currency"),
        (set("SHOE 42", eur(1), None), "sku"),
        (set("", eur(1), None), "sku"),
        (set("SHOE-\u{200B}42", eur(1), None), "sku"),
        (
            pb::SetBasePriceRequest {
                price: None,
                ..set("SHOE-42", eur(1), None)
            },
            "price",
        ),
        (
            pb::SetBasePriceRequest {
                price_book_id: "x".into(),
                ..set("SHOE-42", eur(1), None)
            },
            "priceBookId",
        ),
    ] {
        let error = books
            .set_base_price(app.grpc(request))
            .await
            .expect_err(field);
        assert_eq!(
            refusal(&error),
            (Code::InvalidArgument, field.into()),
            "{error:?}"
        );
    }
    let unnamed = books
        .create_price_book(app.grpc(pb::CreatePriceBookRequest {
            price_book_id: String::new(),
            name: "Outlet\u{FEFF}".into(),
            default_currency: "EUR".into(),
            options: None,
        }))
        .await
        .expect_err("invisible");
    assert_eq!(refusal(&unnamed), (Code::InvalidArgument, "name".into()));
    let missing = books
        .remove_base_price(app.grpc(pb::RemoveBasePriceRequest {
            price_book_id: book.clone(),
            sku: "SHOE-42".into(),
            currency: "JPY".into(),
            options: None,
        }))
        .await
        .expect_err("no JPY price");
    assert_eq!(refusal(&missing), (Code::NotFound, "sku".into()));
    assert_eq!(app.event_count().await?, before, "nothing written");

    // Currency rates: one aggregate per pair, exact decimals.
    let fx = |base: &str, quote: &str, rate: &str, key: &str| pb::SetFxRateRequest {
        base: base.into(),
        quote: quote.into(),
        rate: rate.into(),
        source: "ecb".into(),
        options: options(None, key),
    };
    let set_rate = rates
        .set_fx_rate(app.grpc(fx("EUR", "USD", "1.0842", "fx-1")))
        .await?
        .into_inner();
    let (pair, version, _) = result(set_rate.result.as_ref());
    assert_eq!((pair.as_str(), version), ("EUR-USD", 1));
    assert_eq!(
        set_rate.currency_rate.map(|r| r.rate),
        Some("1.0842".into())
    );
    let retry = rates
        .set_fx_rate(app.grpc(fx("EUR", "USD", "1.0842", "fx-1")))
        .await?
        .into_inner();
    assert!(result(retry.result.as_ref()).2, "replayed");
    let refused = rates
        .set_fx_rate(app.grpc(fx("EUR", "USD", "1.09", "fx-1")))
        .await
        .expect_err("other body");
    assert_eq!(
        decode_error_detail(&refused).map(|d| d.code),
        Some("unprocessable".into())
    );
    let same = rates
        .set_fx_rate(app.grpc(fx("EUR", "USD", "1.08420", "")))
        .await?
        .into_inner();
    assert_eq!(
        same.result.map(|r| r.events_written),
        Some(0),
        "the same rate, written otherwise"
    );
    let mut stale = fx("EUR", "USD", "1.1", "");
    stale.options = options(Some(0), "");
    let stale = rates.set_fx_rate(app.grpc(stale)).await.expect_err("stale");
    assert_eq!(stale.code(), Code::Aborted);
    assert_eq!(
        decode_error_detail(&stale).and_then(|d| d.current_version),
        Some(1)
    );

    let before = app.event_count().await?;
    for (request, field) in [
        (fx("EUR", "USD", "0", ""), "rate"),
        (fx("EUR", "USD", "-1.08", ""), "rate"),
        (fx("EUR", "USD", "1.0000000000001", ""), "rate"),
        (fx("EUR", "USD", "1234567890123456789", ""), "rate"),
        (fx("EUR", "USD", "1e3", ""), "rate"),
        (fx("EUR", "USD", "NaN", ""), "rate"),
        (fx("EUR", "EUR", "1", ""), "quote"),
        (fx("eur", "USD", "1", ""), "base"),
        (fx("EUR", "XXX", "1", ""), "quote"),
        (
            pb::SetFxRateRequest {
                source: " ".into(),
                ..fx("EUR", "GBP", "0.85", "")
            },
            "source",
        ),
    ] {
        let error = rates.set_fx_rate(app.grpc(request)).await.expect_err(field);
        assert_eq!(
            refusal(&error),
            (Code::InvalidArgument, field.into()),
            "{error:?}"
        );
    }
    assert_eq!(app.event_count().await?, before, "nothing written");
    app.cleanup().await
}
