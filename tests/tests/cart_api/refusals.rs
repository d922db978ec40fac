//! Bad cart requests: every refusal a problem naming its field, nothing written — bodies,
//! SKUs at the domain's limits, paths, headers sent twice, stale `If-Match`, idempotency keys.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_cart_requests_are_problems_naming_the_field_and_write_nothing() -> anyhow::Result<()> {
    let mut shop = Shop::start(&[]).await?;
    shop.price(&[("CAP", 1_500), (&"A".repeat(64), 100)])
        .await?;
    let (created, id, _) = shop.open(None, json!({"currency": "EUR"})).await?;
    let items = format!("/carts/{id}/items");
    let first = shop
        .write(
            Method::POST,
            &items,
            None,
            None,
            Some(json!({"sku": "CAP", "quantity": 1})),
        )
        .await?;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let events = shop.app.event_count().await?;

    // Bodies of POST /carts.
    for (body, field) in [
        (json!({}), "currency"),
        (json!({"currency": "eur"}), "currency"),
        (json!({"currency": " EUR"}), "currency"),
        (json!({"currency": 978}), "currency"),
        (json!({"currency": "EUR", "extra": true}), "extra"),
        (
            json!({"currency": "EUR", "channel": "w".repeat(65)}),
            "channel",
        ),
        (json!({"currency": "EUR", "region": "E\u{0007}U"}), "region"),
        (
            json!({"currency": "EUR", "customerId": "not-a-uuid"}),
            "customerId",
        ),
        (json!(["EUR"]), "body"),
    ] {
        let refused = shop
            .write(Method::POST, "/carts", None, None, Some(body.clone()))
            .await?;
        refused.problem(StatusCode::BAD_REQUEST, field);
    }
    // No body, and a body that is not JSON.
    let empty = shop.send(shop.req(Method::POST, "/carts", None)).await?;
    empty.problem(StatusCode::BAD_REQUEST, "body");
    let garbage = shop
        .send(
            shop.req(Method::POST, "/carts", None)
                .header("content-type", "application/json")
                .body("{\"currency\": \"EUR\""),
        )
        .await?;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST, "{}", garbage.body);
    // A customer that does not exist.
    let nobody = shop
        .write(
            Method::POST,
            "/carts",
            None,
            None,
            Some(json!({"currency": "EUR", "customerId": Uuid::now_v7()})),
        )
        .await?;
    nobody.problem(StatusCode::NOT_FOUND, "customerId");

    // Items: SKUs at the domain's limits (ASCII letters, digits, '-', '_', '.'; 64 at most).
    let unicode_sku = "\u{c9}".repeat(64);
    for (body, status, field) in [
        (
            json!({"sku": unicode_sku, "quantity": 1}),
            StatusCode::BAD_REQUEST,
            "sku",
        ),
        (
            json!({"sku": "T\u{e9}E", "quantity": 1}),
            StatusCode::BAD_REQUEST,
            "sku",
        ),
        (
            json!({"sku": "A".repeat(65), "quantity": 1}),
            StatusCode::BAD_REQUEST,
            "sku",
        ),
        (
            json!({"sku": " CAP", "quantity": 1}),
            StatusCode::BAD_REQUEST,
            "sku",
        ),
        (
            json!({"sku": "", "quantity": 1}),
            StatusCode::BAD_REQUEST,
            "sku",
        ),
        (
            json!({"sku": null, "quantity": 1}),
            StatusCode::BAD_REQUEST,
            "sku",
        ),
        (
            json!({"sku": "NO-PRICE", "quantity": 1}),
            StatusCode::NOT_FOUND,
            "sku",
        ),
        (
            json!({"sku": "B".repeat(64), "quantity": 1}),
            StatusCode::NOT_FOUND,
            "sku",
        ),
        (
            json!({"sku": "CAP", "quantity": 0}),
            StatusCode::BAD_REQUEST,
            "quantity",
        ),
        (
            json!({"sku": "CAP", "quantity": 100}),
            StatusCode::BAD_REQUEST,
            "quantity",
        ),
        (
            json!({"sku": "CAP", "quantity": 99}),
            StatusCode::BAD_REQUEST,
            "quantity",
        ),
        (
            json!({"sku": "CAP", "quantity": -1}),
            StatusCode::BAD_REQUEST,
            "quantity",
        ),
        (
            json!({"sku": "CAP", "quantity": 1.5}),
            StatusCode::BAD_REQUEST,
            "quantity",
        ),
        (
            json!({"sku": "CAP", "quantity": "2"}),
            StatusCode::BAD_REQUEST,
            "quantity",
        ),
        (
            json!({"sku": "CAP", "quantity": 4_294_967_297_u64}),
            StatusCode::BAD_REQUEST,
            "quantity",
        ),
        (json!({"sku": "CAP"}), StatusCode::BAD_REQUEST, "quantity"),
        (
            json!({"sku": "CAP", "quantity": 1, "price": 1}),
            StatusCode::BAD_REQUEST,
            "price",
        ),
    ] {
        let refused = shop
            .write(Method::POST, &items, None, None, Some(body.clone()))
            .await?;
        refused.problem(status, field);
    }
    // The longest SKU the domain allows is sold.
    let longest = shop
        .write(
            Method::POST,
            &items,
            None,
            None,
            Some(json!({"sku": "A".repeat(64), "quantity": 98})),
        )
        .await?;
    assert_eq!(longest.status, StatusCode::OK, "{}", longest.body);
    assert_eq!(lines(&longest.body)[&"A".repeat(64)], (98, 100));
    let events = events + 1;
    // Lines by path: a Unicode SKU, one that is not in the cart.
    let unicode = shop
        .write(
            Method::PUT,
            &format!("{items}/%C3%89T%C3%89"),
            None,
            None,
            Some(json!({"quantity": 2})),
        )
        .await?;
    unicode.problem(StatusCode::BAD_REQUEST, "sku");
    let absent = shop
        .write(
            Method::PUT,
            &format!("{items}/MUG"),
            None,
            None,
            Some(json!({"quantity": 2})),
        )
        .await?;
    absent.problem(StatusCode::NOT_FOUND, "sku");
    let absent = shop
        .write(Method::DELETE, &format!("{items}/MUG"), None, None, None)
        .await?;
    absent.problem(StatusCode::NOT_FOUND, "sku");
    let unknown = shop
        .write(
            Method::PUT,
            &format!("{items}/CAP"),
            None,
            None,
            Some(json!({"quantity": 2, "sku": "CAP"})),
        )
        .await?;
    unknown.problem(StatusCode::BAD_REQUEST, "sku");
    let over = shop
        .write(
            Method::PUT,
            &format!("{items}/CAP"),
            None,
            None,
            Some(json!({"quantity": 100})),
        )
        .await?;
    over.problem(StatusCode::BAD_REQUEST, "quantity");
    // Coupons.
    for (code, status) in [
        ("x", StatusCode::BAD_REQUEST),
        (" SAVE10", StatusCode::BAD_REQUEST),
        ("SAVE 10", StatusCode::BAD_REQUEST),
        ("NO-SUCH-CODE", StatusCode::NOT_FOUND),
    ] {
        let refused = shop
            .write(
                Method::POST,
                &format!("/carts/{id}/apply-coupon"),
                None,
                None,
                Some(json!({"code": code})),
            )
            .await?;
        refused.problem(status, "code");
    }
    let none = shop
        .write(
            Method::DELETE,
            &format!("/carts/{id}/coupon"),
            None,
            None,
            None,
        )
        .await?;
    none.problem(StatusCode::CONFLICT, "code");
    // Checkout bodies.
    for (body, field) in [
        (json!({"acceptPriceChanges": "yes"}), "acceptPriceChanges"),
        (json!({"accept": true}), "accept"),
    ] {
        let refused = shop
            .write(
                Method::POST,
                &format!("/carts/{id}/checkout"),
                None,
                None,
                Some(body),
            )
            .await?;
        refused.problem(StatusCode::BAD_REQUEST, field);
    }
    // Paths and headers.
    let bad_id = shop
        .send(shop.req(Method::GET, "/carts/not-a-uuid", None))
        .await?;
    bad_id.problem(StatusCode::BAD_REQUEST, "id");
    let unknown_cart = shop
        .write(
            Method::POST,
            &format!("/carts/{}/items", Uuid::now_v7()),
            None,
            None,
            Some(json!({"sku": "CAP", "quantity": 1})),
        )
        .await?;
    unknown_cart.problem(StatusCode::NOT_FOUND, "id");
    let cap = json!({"sku": "CAP", "quantity": 1});
    for (headers, field) in [
        (vec![("if-match", "\"three\"")], "If-Match"),
        (
            vec![("if-match", "\"3\""), ("if-match", "\"4\"")],
            "If-Match",
        ),
        (
            vec![("idempotency-key", "a"), ("idempotency-key", "b")],
            "Idempotency-Key",
        ),
        (vec![("idempotency-key", "a\tb")], "Idempotency-Key"),
        (
            vec![
                ("shopcore-cart-session", "cs_a"),
                ("shopcore-cart-session", "cs_b"),
            ],
            "Shopcore-Cart-Session",
        ),
        (
            vec![("shopcore-cart-session", "cs a")],
            "Shopcore-Cart-Session",
        ),
    ] {
        let mut request = shop.req(Method::POST, &items, None).json(&cap);
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        let refused = shop.send(request).await?;
        refused.problem(StatusCode::BAD_REQUEST, field);
    }
    for position in ["soon", "999999999-999999999"] {
        let refused = shop
            .send(
                shop.req(Method::GET, &format!("/carts/{id}"), None)
                    .header("shopcore-min-position", position),
            )
            .await?;
        refused.problem(StatusCode::BAD_REQUEST, "Shopcore-Min-Position");
    }
    // A stale If-Match is 409 with the cart's version.
    let stale = shop
        .send(
            shop.req(Method::POST, &items, None)
                .header("if-match", "\"1\"")
                .json(&cap),
        )
        .await?;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert_eq!(
        stale.body["type"],
        "https://shopcore.dev/problems/version-conflict"
    );
    assert_eq!(stale.body["currentVersion"], 3);
    assert_eq!(
        shop.app.event_count().await?,
        events,
        "no refusal wrote anything"
    );

    // Idempotency: the same key and body answer with the first result; another body is 422.
    let keyed = || {
        shop.req(Method::POST, &items, None)
            .header("idempotency-key", "add-cap-1")
    };
    let once = shop.send(keyed().json(&cap)).await?;
    assert_eq!(once.status, StatusCode::OK, "{}", once.body);
    let twice = shop.send(keyed().json(&cap)).await?;
    assert_eq!(twice.status, StatusCode::OK, "{}", twice.body);
    assert_eq!(twice.header("etag"), once.header("etag"));
    assert_eq!(
        twice.header("shopcore-position"),
        once.header("shopcore-position")
    );
    assert_eq!(lines(&twice.body)["CAP"], (2, 1_500));
    let other = shop
        .send(keyed().json(&json!({"sku": "CAP", "quantity": 2})))
        .await?;
    assert_eq!(
        other.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        other.body
    );
    assert_eq!(shop.app.event_count().await?, events + 1);
    // Creating a cart again with its key: the first cart, without its session token.
    let open = || {
        shop.req(Method::POST, "/carts", None)
            .header("idempotency-key", "open-1")
    };
    let first = shop.send(open().json(&json!({"currency": "EUR"}))).await?;
    let replay = shop.send(open().json(&json!({"currency": "EUR"}))).await?;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(replay.status, StatusCode::CREATED, "{}", replay.body);
    assert_eq!(replay.body["cartId"], first.body["cartId"]);
    assert!(first.body["sessionToken"].is_string());
    assert!(replay.body.get("sessionToken").is_none(), "{}", replay.body);
    let _ = created;
    shop.app.cleanup().await
}
