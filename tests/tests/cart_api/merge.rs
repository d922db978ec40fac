//! The sign-in merge over REST.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_gives_the_anonymous_cart_to_the_customer_or_merges_it_once(
) -> anyhow::Result<()> {
    let mut shop = Shop::start(&[]).await?;
    shop.price(&[("CAP", 1_500), ("MUG", 900)]).await?;
    let storefront = shop.storefront()?;
    let s = Some(storefront.as_str());
    let cy = shop.customer("cy@example.com").await?;
    let cy_token = shop.customer_token(cy)?;
    let cy_t = Some(cy_token.as_str());

    // Cy has no open cart: the anonymous cart becomes hers.
    let (_, first, first_session) = shop.open(s, json!({"currency": "EUR"})).await?;
    let added = shop
        .write(
            Method::POST,
            &format!("/carts/{first}/items"),
            s,
            Some(&first_session),
            Some(json!({"sku": "CAP", "quantity": 2})),
        )
        .await?;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let merge = |cart: &str| format!("/carts/{cart}/merge");
    // Refusals first: the platform's token, no session, a wrong one.
    let platform = shop
        .write(
            Method::POST,
            &merge(&first),
            None,
            Some(&first_session),
            None,
        )
        .await?;
    assert_eq!(platform.status, StatusCode::FORBIDDEN, "{}", platform.body);
    let no_session = shop
        .write(Method::POST, &merge(&first), cy_t, None, None)
        .await?;
    no_session.problem(StatusCode::BAD_REQUEST, "Shopcore-Cart-Session");
    let wrong = shop
        .write(Method::POST, &merge(&first), cy_t, Some("cs_wrong"), None)
        .await?;
    wrong.problem(StatusCode::NOT_FOUND, "id");
    let assigned = shop
        .send(
            shop.req(Method::POST, &merge(&first), cy_t)
                .header("shopcore-cart-session", &first_session)
                .header("shopcore-min-position", added.header("shopcore-position")),
        )
        .await?;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.body);
    assert_eq!(assigned.body["merged"], false);
    assert_eq!(assigned.body["cart"]["cartId"], first.as_str());
    assert_eq!(assigned.body["cart"]["customerId"], cy.to_string());
    assert_eq!(
        lines(&assigned.body["cart"]),
        BTreeMap::from([("CAP".into(), (2, 1_500))])
    );
    // Repeated: nothing changes.
    let again = shop
        .send(
            shop.req(Method::POST, &merge(&first), cy_t)
                .header("shopcore-cart-session", &first_session)
                .header(
                    "shopcore-min-position",
                    assigned.header("shopcore-position"),
                ),
        )
        .await?;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["merged"], false);
    assert_eq!(
        again.body["cart"]["version"],
        assigned.body["cart"]["version"]
    );
    // Cy's cart is hers now: the anonymous session no longer reaches it for others.
    let eve_token = shop.customer_token(Uuid::now_v7())?;
    let hidden = shop
        .read(
            &first,
            Some(&eve_token),
            Some(&first_session),
            &assigned.header("shopcore-position"),
        )
        .await?;
    hidden.problem(StatusCode::NOT_FOUND, "id");
    let mine = shop
        .read(&first, cy_t, None, &assigned.header("shopcore-position"))
        .await?;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);

    // A second anonymous cart goes into Cy's open cart: quantities summed, re-priced for her.
    let (_, second, second_session) = shop.open(s, json!({"currency": "EUR"})).await?;
    for (sku, quantity) in [("CAP", 1), ("MUG", 3)] {
        let added = shop
            .write(
                Method::POST,
                &format!("/carts/{second}/items"),
                s,
                Some(&second_session),
                Some(json!({"sku": sku, "quantity": quantity})),
            )
            .await?;
        assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    }
    let merged = shop
        .send(
            shop.req(Method::POST, &merge(&second), cy_t)
                .header("shopcore-cart-session", &second_session)
                .header(
                    "shopcore-min-position",
                    assigned.header("shopcore-position"),
                ),
        )
        .await?;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
    assert_eq!(merged.body["merged"], true);
    assert_eq!(merged.body["leftOut"], json!([]));
    assert_eq!(merged.body["cart"]["cartId"], first.as_str());
    let expected = BTreeMap::from([("CAP".into(), (3, 1_500)), ("MUG".into(), (3, 900))]);
    assert_eq!(lines(&merged.body["cart"]), expected);
    // The anonymous cart is closed by the merge's second command, after the position the
    // answer names: read until the read model has it.
    let mut closed = shop
        .read(&second, None, None, &merged.header("shopcore-position"))
        .await?;
    for _ in 0..100 {
        if closed.body["status"] == "merged" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        closed = shop
            .read(&second, None, None, &merged.header("shopcore-position"))
            .await?;
    }
    let events_after_merge = shop.app.event_count().await?;
    // A retry after a lost answer (the read model shows the cart merged) adds nothing twice.
    let closed_at = closed.header("shopcore-position");
    assert_eq!(closed.body["status"], "merged", "{}", closed.body);
    assert_eq!(closed.body["mergedInto"], first.as_str());
    let retried = shop
        .send(
            shop.req(Method::POST, &merge(&second), cy_t)
                .header("shopcore-cart-session", &second_session)
                .header("shopcore-min-position", closed_at),
        )
        .await?;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    assert_eq!(lines(&retried.body["cart"]), expected);
    assert_eq!(shop.app.event_count().await?, events_after_merge);
    // Another customer with the merged cart's session token: it is closed to them (409), and
    // its lines do not go into their cart.
    let stranger = shop
        .send(
            shop.req(Method::POST, &merge(&second), Some(&eve_token))
                .header("shopcore-cart-session", &second_session),
        )
        .await?;
    assert_eq!(stranger.status, StatusCode::CONFLICT, "{}", stranger.body);
    assert_eq!(shop.app.event_count().await?, events_after_merge);
    let (folded, _) = shop.fold(&first).await?;
    assert_eq!(folded.lines["CAP"].quantity, 3);
    assert_eq!(folded.lines["MUG"].quantity, 3);

    // A checked-out anonymous cart is not merged: 409, and Cy's cart is left as it was; to a
    // caller it does not reach, it is 404 like any other.
    let (_, bought, bought_session) = shop.open(s, json!({"currency": "EUR"})).await?;
    let added = shop
        .write(
            Method::POST,
            &format!("/carts/{bought}/items"),
            s,
            Some(&bought_session),
            Some(json!({"sku": "MUG", "quantity": 1})),
        )
        .await?;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let paid = shop
        .write(
            Method::POST,
            &format!("/carts/{bought}/checkout"),
            s,
            Some(&bought_session),
            None,
        )
        .await?;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    let events = shop.app.event_count().await?;
    let sign_in = |token: &str, session: &str| {
        shop.send(
            shop.req(Method::POST, &merge(&bought), Some(token))
                .header("shopcore-cart-session", session)
                .header("shopcore-min-position", paid.header("shopcore-position")),
        )
    };
    let refused = sign_in(&cy_token, &bought_session).await?;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    let hidden = sign_in(&eve_token, "cs_not-it").await?;
    hidden.problem(StatusCode::NOT_FOUND, "id");
    assert_eq!(shop.app.event_count().await?, events, "nothing merged");
    assert_eq!(shop.fold(&first).await?.0.lines, folded.lines);
    shop.app.cleanup().await
}
