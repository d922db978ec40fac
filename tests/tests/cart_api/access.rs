//! Who reaches a cart over REST and GraphQL: owners, session tokens, other callers, scopes —
//! and no log line holding a session token.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cart_is_reached_by_its_owner_or_its_session_token_which_no_log_holds(
) -> anyhow::Result<()> {
    let mut shop = Shop::start(&[]).await?;
    shop.price(&[("CAP", 1_500)]).await?;
    let storefront = shop.storefront()?;
    let s = Some(storefront.as_str());
    let (created, anonymous, session) = shop.open(s, json!({"currency": "EUR"})).await?;
    let (_, other_cart, other_session) = shop.open(s, json!({"currency": "EUR"})).await?;
    let position = created.header("shopcore-position");
    let dee = shop.customer("dee@example.com").await?;
    let dee_token = shop.customer_token(dee)?;
    let (dees, dee_cart, _) = shop
        .open(Some(&dee_token), json!({"currency": "EUR"}))
        .await?;
    assert_eq!(dees.body["customerId"], dee.to_string());
    let eve_token = shop.customer_token(Uuid::now_v7())?;
    let viewer = shop.app.token("support", &[VIEW_ORDERS], None)?;
    let no_scope = shop.app.token("pricing", &[VIEW_PRICES], None)?;
    let bound_manager = shop.app.token("odd", &[MANAGE_ORDERS], Some(dee))?;
    let at = dees.header("shopcore-position");

    // The anonymous cart: with its session token only.
    let read = shop.read(&anonymous, s, Some(&session), &at).await?;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    for wrong in [None, Some(other_session.as_str()), Some("cs_not-the-token")] {
        let hidden = shop.read(&anonymous, s, wrong, &at).await?;
        hidden.problem(StatusCode::NOT_FOUND, "id");
    }
    let _ = other_cart;
    // Dee's cart: hers without a session, the platform's; nobody else's.
    for (token, status) in [
        (Some(dee_token.as_str()), StatusCode::OK),
        (None, StatusCode::OK),
        (Some(viewer.as_str()), StatusCode::OK),
        (Some(eve_token.as_str()), StatusCode::NOT_FOUND),
        (s, StatusCode::NOT_FOUND),
        (Some(no_scope.as_str()), StatusCode::FORBIDDEN),
        (Some(bound_manager.as_str()), StatusCode::FORBIDDEN),
    ] {
        let answer = shop.read(&dee_cart, token, None, &at).await?;
        assert_eq!(answer.status, status, "{token:?}: {}", answer.body);
    }
    // Another customer reaches the anonymous cart with its session token, while it is
    // anonymous; a session token does not open Dee's cart to others.
    let read = shop
        .read(&anonymous, Some(&eve_token), Some(&session), &at)
        .await?;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    // Writes follow the same rules.
    let cap = || Some(json!({"sku": "CAP", "quantity": 1}));
    let path = |cart: &str| format!("/carts/{cart}/items");
    for (cart, token, session, status) in [
        (&anonymous, s, Some(session.as_str()), StatusCode::OK),
        (&anonymous, s, None, StatusCode::NOT_FOUND),
        (
            &anonymous,
            s,
            Some(other_session.as_str()),
            StatusCode::NOT_FOUND,
        ),
        (&dee_cart, Some(dee_token.as_str()), None, StatusCode::OK),
        (
            &dee_cart,
            Some(eve_token.as_str()),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            &dee_cart,
            Some(eve_token.as_str()),
            Some(session.as_str()),
            StatusCode::NOT_FOUND,
        ),
        (
            &dee_cart,
            Some(viewer.as_str()),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            &dee_cart,
            Some(no_scope.as_str()),
            None,
            StatusCode::FORBIDDEN,
        ),
        (&dee_cart, None, None, StatusCode::OK),
    ] {
        let answer = shop
            .write(Method::POST, &path(cart), token, session, cap())
            .await?;
        assert_eq!(
            answer.status, status,
            "{cart} {token:?} {session:?}: {}",
            answer.body
        );
        if status == StatusCode::FORBIDDEN {
            assert_eq!(answer.body["scope"], MANAGE_ORDERS);
        }
    }
    let forbidden = shop
        .write(
            Method::POST,
            "/carts",
            Some(&viewer),
            None,
            Some(json!({"currency": "EUR"})),
        )
        .await?;
    assert_eq!(
        forbidden.status,
        StatusCode::FORBIDDEN,
        "{}",
        forbidden.body
    );
    // A customer-bound token opens its own customer's carts only.
    let for_other = shop
        .write(
            Method::POST,
            "/carts",
            Some(&dee_token),
            None,
            Some(json!({"currency": "EUR", "customerId": Uuid::now_v7()})),
        )
        .await?;
    assert_eq!(for_other.status, StatusCode::CREATED, "{}", for_other.body);
    assert_eq!(for_other.body["customerId"], dee.to_string());

    // By session: the storefront, any customer (the cart is anonymous), the platform.
    let by_session = |token: &str| format!("/carts/by-session/{token}");
    for (token, status) in [
        (s, StatusCode::OK),
        (Some(eve_token.as_str()), StatusCode::OK),
        (Some(viewer.as_str()), StatusCode::OK),
        (Some(no_scope.as_str()), StatusCode::FORBIDDEN),
    ] {
        let answer = shop
            .send(
                shop.req(Method::GET, &by_session(&session), token)
                    .header("shopcore-min-position", &position),
            )
            .await?;
        assert_eq!(answer.status, status, "{token:?}: {}", answer.body);
        if status == StatusCode::OK {
            assert_eq!(answer.body["cartId"], anonymous.as_str());
        }
    }
    let unknown = shop
        .send(shop.req(Method::GET, &by_session("cs_unknown"), s))
        .await?;
    unknown.problem(StatusCode::NOT_FOUND, "token");
    for malformed in ["cs%20a", "%C3%A9t%C3%A9", &"x".repeat(257)] {
        let refused = shop
            .send(shop.req(Method::GET, &by_session(malformed), s))
            .await?;
        refused.problem(StatusCode::BAD_REQUEST, "token");
    }

    // The token is in no answer but the first, and in no log line of any process; neither is
    // its hash in an answer.
    let hash = shopcore_domain::cart::session_token_hash(&session);
    let read = shop.read(&anonymous, None, None, &at).await?;
    let text = read.body.to_string();
    assert!(!text.contains(&session) && !text.contains(&hash), "{text}");
    let logs: Vec<String> = [
        "shopcore-gateway",
        "shopcore-commands",
        "shopcore-projections",
    ]
    .iter()
    .flat_map(|name| shop.app.logs(name))
    .collect();
    assert!(
        logs.iter().any(|l| l.contains("/carts/by-session/{token}")),
        "the requests were logged (by route)"
    );
    for line in &logs {
        assert!(
            !line.contains(&session),
            "the session token was logged: {line}"
        );
        assert!(
            !line.contains(&other_session),
            "a session token was logged: {line}"
        );
    }
    shop.app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_reads_carts_with_the_rest_access_rules() -> anyhow::Result<()> {
    let mut shop = Shop::start(&[]).await?;
    shop.price(&[("CAP", 1_500)]).await?;
    let storefront = shop.storefront()?;
    let s = Some(storefront.as_str());
    let (_, id, session) = shop
        .open(s, json!({"currency": "EUR", "region": "EU"}))
        .await?;
    let added = shop
        .write(
            Method::POST,
            &format!("/carts/{id}/items"),
            s,
            Some(&session),
            Some(json!({"sku": "CAP", "quantity": 2})),
        )
        .await?;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let at = added.header("shopcore-position");
    let query = json!({"query": format!(
        "{{ cart(id: \"{id}\") {{ id status currency region version total {{ amount currency }} \
           lines {{ sku quantity unitPrice {{ amount }} lineTotal {{ amount }} }} }} \
           cartBySession(token: \"{session}\") {{ id }} }}"
    )});
    let graphql = |token: Option<&str>, session: Option<&str>| {
        let mut request = shop
            .req(Method::POST, "/graphql", token)
            .header("shopcore-min-position", &at)
            .json(&query);
        if let Some(session) = session {
            request = request.header("shopcore-cart-session", session);
        }
        shop.send(request)
    };
    let admin = graphql(None, None).await?;
    assert_eq!(admin.status, StatusCode::OK, "{}", admin.body);
    let cart = &admin.body["data"]["cart"];
    assert_eq!(cart["id"], id.as_str(), "{}", admin.body);
    assert_eq!(cart["status"], "open");
    assert_eq!(cart["version"], 2);
    assert_eq!(cart["total"], json!({"amount": 3_000, "currency": "EUR"}));
    assert_eq!(
        cart["lines"],
        json!([{"sku": "CAP", "quantity": 2, "unitPrice": {"amount": 1_500}, "lineTotal": {"amount": 3_000}}])
    );
    assert_eq!(admin.body["data"]["cartBySession"]["id"], id.as_str());
    // The storefront: with the session header; without it the cart is null (not an error).
    let with = graphql(s, Some(&session)).await?;
    assert_eq!(
        with.body["data"]["cart"]["id"],
        id.as_str(),
        "{}",
        with.body
    );
    let without = graphql(s, None).await?;
    assert_eq!(
        without.body["data"]["cart"],
        Value::Null,
        "{}",
        without.body
    );
    assert_eq!(without.body["data"]["cartBySession"]["id"], id.as_str());
    let other = shop.customer_token(Uuid::now_v7())?;
    let stranger = graphql(Some(&other), Some("cs_not-it")).await?;
    assert_eq!(
        stranger.body["data"]["cart"],
        Value::Null,
        "{}",
        stranger.body
    );
    // No cart scope: FORBIDDEN.
    let no_scope = shop.app.token("pricing", &[VIEW_PRICES], None)?;
    let refused = graphql(Some(&no_scope), None).await?;
    let codes: Vec<&Value> = refused.body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["extensions"]["code"])
        .collect();
    assert!(
        !codes.is_empty() && codes.iter().all(|c| *c == "FORBIDDEN"),
        "{}",
        refused.body
    );
    let bad = shop
        .send(
            shop.req(Method::POST, "/graphql", None)
                .json(&json!({"query": "{ cart(id: \"nope\") { id } }"})),
        )
        .await?;
    assert_eq!(
        bad.body["errors"][0]["extensions"]["field"], "id",
        "{}",
        bad.body
    );
    shop.app.cleanup().await
}
