//! Checkout against changed prices (409 prices-changed, then accepted) and expiry (410).

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_change_between_add_and_checkout_is_a_409_listing_the_new_prices(
) -> anyhow::Result<()> {
    let mut shop = Shop::start(&[]).await?;
    shop.price(&[("TEE-M", 2_000), ("CAP", 1_500)]).await?;
    let (_, id, _) = shop
        .open(None, json!({"currency": "EUR", "channel": "web"}))
        .await?;
    for (sku, quantity) in [("TEE-M", 2), ("CAP", 1)] {
        let added = shop
            .write(
                Method::POST,
                &format!("/carts/{id}/items"),
                None,
                None,
                Some(json!({"sku": sku, "quantity": quantity})),
            )
            .await?;
        assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    }
    // 20 % off tees on the web, from now on.
    let rule = shop
        .send(shop.req(Method::POST, "/pricing/rules", None).json(&json!({
            "name": "Web tees", "targets": {"skus": ["TEE-M"]}, "priority": 1,
            "conditions": {"channels": ["web"]},
            "action": {"type": "percentOff", "percent": "20"}
        })))
        .await?;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.body);
    shop.index_at("TEE-M", &rule.header("shopcore-position"))
        .await?;
    let events = shop.fold(&id).await?.1;
    let checkout = format!("/carts/{id}/checkout");
    let refused = shop
        .write(Method::POST, &checkout, None, None, Some(json!({})))
        .await?;
    refused.problem(StatusCode::CONFLICT, "lines");
    assert_eq!(
        refused.body["type"],
        "https://shopcore.dev/problems/prices-changed"
    );
    assert_eq!(
        refused.body["priceChanges"],
        json!([{"sku": "TEE-M",
                "previousUnitPrice": {"amount": 2_000, "currency": "EUR"},
                "unitPrice": {"amount": 1_600, "currency": "EUR"}}])
    );
    assert_eq!(
        shop.fold(&id).await?.1,
        events,
        "a refused checkout writes nothing"
    );
    let explicit = shop
        .write(
            Method::POST,
            &checkout,
            None,
            None,
            Some(json!({"acceptPriceChanges": false})),
        )
        .await?;
    assert_eq!(explicit.status, StatusCode::CONFLICT, "{}", explicit.body);
    let done = shop
        .write(
            Method::POST,
            &checkout,
            None,
            None,
            Some(json!({"acceptPriceChanges": true})),
        )
        .await?;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["status"], "checkedOut");
    let expected = BTreeMap::from([("CAP".into(), (1, 1_500)), ("TEE-M".into(), (2, 1_600))]);
    assert_eq!(lines(&done.body), expected);
    assert_eq!(done.body["total"]["amount"], 4_700);
    let read = shop
        .read(&id, None, None, &done.header("shopcore-position"))
        .await?;
    assert_eq!(comparable(&read.body), comparable(&done.body));
    shop.app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_cart_answers_410_to_every_write_and_reads_as_expired() -> anyhow::Result<()> {
    let mut shop = Shop::start(&[("CART_TTL_SECONDS", "2".into())]).await?;
    shop.price(&[("CAP", 1_500)]).await?;
    shop.promotion("LATE10").await?;
    let storefront = shop.storefront()?;
    let s = Some(storefront.as_str());
    let (_, id, session) = shop.open(s, json!({"currency": "EUR"})).await?;
    let by_session = format!("/carts/by-session/{session}");
    let session = Some(session.as_str());
    let added = shop
        .write(
            Method::POST,
            &format!("/carts/{id}/items"),
            s,
            session,
            Some(json!({"sku": "CAP", "quantity": 1})),
        )
        .await?;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let expires: chrono::DateTime<chrono::Utc> = added.body["expiresAt"]
        .as_str()
        .unwrap_or_default()
        .parse()?;
    let wait = (expires - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + std::time::Duration::from_millis(300)).await;
    let writes = [
        (
            Method::POST,
            format!("/carts/{id}/items"),
            Some(json!({"sku": "CAP", "quantity": 1})),
        ),
        (
            Method::PUT,
            format!("/carts/{id}/items/CAP"),
            Some(json!({"quantity": 2})),
        ),
        (Method::DELETE, format!("/carts/{id}/items/CAP"), None),
        (
            Method::POST,
            format!("/carts/{id}/apply-coupon"),
            Some(json!({"code": "LATE10"})),
        ),
        (Method::POST, format!("/carts/{id}/checkout"), None),
    ];
    for (method, path, body) in writes {
        let gone = shop.write(method.clone(), &path, s, session, body).await?;
        assert_eq!(
            gone.status,
            StatusCode::GONE,
            "{method} {path}: {}",
            gone.body
        );
        assert_eq!(gone.body["type"], "https://shopcore.dev/problems/gone");
    }
    // Read: expired (the sweep may not have run), and no longer the session's open cart.
    let read = shop
        .read(&id, s, session, &added.header("shopcore-position"))
        .await?;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["status"], "expired");
    let by_session = shop.send(shop.req(Method::GET, &by_session, s)).await?;
    by_session.problem(StatusCode::NOT_FOUND, "token");
    shop.app.cleanup().await
}
