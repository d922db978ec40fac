//! `CartCommands` over gRPC, against the command service binary and a real Postgres: carts
//! priced by the pricing index (segments, rule changes between add and checkout, unknown SKUs),
//! coupons whose limits hold under 16 racing checkouts, optimistic locking under 16 racing
//! writers, who reaches a cart (session tokens stored only as hashes), the sign-in merge and
//! expiry.

use std::collections::BTreeMap;

use shopcore_auth::scopes::{MANAGE_MY_ORDERS, VIEW_PRICES};
use shopcore_domain::cart::{Cart, CartEvent};
use shopcore_e2e::TestApp;
use shopcore_proto::cart::v1 as pb;
use shopcore_proto::cart::v1::cart_commands_client::CartCommandsClient;
use shopcore_proto::common::v1::CommandOptions;
use shopcore_proto::customer::v1 as customer_pb;
use shopcore_proto::customer::v1::customer_commands_client::CustomerCommandsClient;
use shopcore_proto::decode_error_detail;
use shopcore_proto::pricing::v1 as pricing_pb;
use shopcore_proto::pricing::v1::price_book_commands_client::PriceBookCommandsClient;
use shopcore_proto::pricing::v1::price_rule_commands_client::PriceRuleCommandsClient;
use shopcore_proto::pricing::v1::promotion_commands_client::PromotionCommandsClient;
use tonic::transport::Channel;
use tonic::{Code, Status};
use uuid::Uuid;

fn eur(amount_minor: i64) -> pricing_pb::Money {
    pricing_pb::Money {
        amount_minor,
        currency: "EUR".into(),
    }
}

fn amount(m: Option<&pricing_pb::Money>) -> i64 {
    m.map_or(i64::MIN, |m| m.amount_minor)
}

/// The code, the detail's code and the field of a refusal.
fn refusal(status: &Status) -> (Code, String, String) {
    let detail = decode_error_detail(status).unwrap_or_default();
    (status.code(), detail.code, detail.field)
}

struct Deployment {
    app: TestApp,
    carts: CartCommandsClient<Channel>,
    books: PriceBookCommandsClient<Channel>,
    rules: PriceRuleCommandsClient<Channel>,
    promotions: PromotionCommandsClient<Channel>,
    customers: CustomerCommandsClient<Channel>,
}

impl Deployment {
    async fn start(env: &[(&'static str, String)]) -> anyhow::Result<Self> {
        let app = TestApp::spawn_with(env).await?;
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc_addr))?
            .connect()
            .await?;
        let deployment = Self {
            carts: CartCommandsClient::new(channel.clone()),
            books: PriceBookCommandsClient::new(channel.clone()),
            rules: PriceRuleCommandsClient::new(channel.clone()),
            promotions: PromotionCommandsClient::new(channel.clone()),
            customers: CustomerCommandsClient::new(channel),
            app,
        };
        Ok(deployment)
    }

    /// A request with `token` (and the cart's session token, if given).
    fn with<T>(&self, token: &str, session: Option<&str>, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Ok(value) = format!("Bearer {token}").parse() {
            request.metadata_mut().insert("authorization", value);
        }
        if let Some(session) = session.and_then(|s| s.parse().ok()) {
            request.metadata_mut().insert("x-cart-session", session);
        }
        request
    }

    /// A book pricing `prices` in EUR; returns the last write's position.
    async fn price(&mut self, prices: &[(&str, i64)]) -> anyhow::Result<String> {
        let book = self
            .books
            .create_price_book(self.app.grpc(pricing_pb::CreatePriceBookRequest {
                price_book_id: String::new(),
                name: "Retail".into(),
                default_currency: "EUR".into(),
                options: None,
            }))
            .await?
            .into_inner();
        let book_id = book.result.map(|r| r.aggregate_id).unwrap_or_default();
        let mut position = String::new();
        for (sku, price) in prices {
            let set = self
                .books
                .set_base_price(self.app.grpc(pricing_pb::SetBasePriceRequest {
                    price_book_id: book_id.clone(),
                    sku: (*sku).into(),
                    price: Some(eur(*price)),
                    options: None,
                }))
                .await?
                .into_inner();
            position = set.result.map(|r| r.log_position).unwrap_or_default();
        }
        Ok(position)
    }

    async fn customer(&mut self, email: &str) -> anyhow::Result<Uuid> {
        let reply = self
            .customers
            .register_customer(self.app.grpc(customer_pb::RegisterCustomerRequest {
                email: email.into(),
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                ..Default::default()
            }))
            .await?
            .into_inner();
        Ok(reply
            .result
            .and_then(|r| Uuid::parse_str(&r.aggregate_id).ok())
            .unwrap_or_default())
    }

    /// A cart opened by the admin (for `customer`, or anonymous).
    async fn cart(&mut self, customer: Option<Uuid>) -> anyhow::Result<(String, String)> {
        let reply = self
            .carts
            .create_cart(self.app.grpc(pb::CreateCartRequest {
                currency: "EUR".into(),
                customer_id: customer.map(|c| c.to_string()),
                channel: Some("web".into()),
                region: Some("EU".into()),
                ..Default::default()
            }))
            .await?
            .into_inner();
        let id = reply.result.map(|r| r.aggregate_id).unwrap_or_default();
        Ok((id, reply.session_token))
    }

    async fn add(
        &mut self,
        cart: &str,
        sku: &str,
        quantity: u32,
    ) -> Result<pb::CartResult, Status> {
        let request = self.app.grpc(pb::AddItemRequest {
            cart_id: cart.into(),
            sku: sku.into(),
            quantity,
            options: None,
        });
        self.carts.add_item(request).await.map(|r| r.into_inner())
    }

    /// `add`, retried for a few seconds while the SKU is unknown: the pricing index may be a
    /// moment behind the book just written.
    async fn add_priced(
        &mut self,
        cart: &str,
        sku: &str,
        quantity: u32,
    ) -> Result<pb::CartResult, Status> {
        let mut added = self.add(cart, sku, quantity).await;
        for _ in 0..50 {
            if !matches!(&added, Err(s) if s.code() == Code::NotFound) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            added = self.add(cart, sku, quantity).await;
        }
        added
    }

    async fn checkout(&mut self, cart: &str, accept: bool) -> Result<pb::CartResult, Status> {
        let request = self.app.grpc(pb::CheckoutRequest {
            cart_id: cart.into(),
            accept_price_changes: accept,
            options: None,
        });
        self.carts.checkout(request).await.map(|r| r.into_inner())
    }

    /// A promotion of 10 % off with `code`, active now, with the limits given.
    async fn promotion(
        &mut self,
        code: &str,
        total: Option<u32>,
        per_customer: Option<u32>,
    ) -> anyhow::Result<String> {
        let now = chrono::Utc::now();
        let created = self
            .promotions
            .create_promotion(self.app.grpc(pricing_pb::CreatePromotionRequest {
                name: format!("Promotion {code}"),
                discount: Some(pricing_pb::Discount {
                    discount: Some(pricing_pb::discount::Discount::PercentOff("10".into())),
                }),
                valid_from: (now - chrono::Duration::hours(1)).to_rfc3339(),
                valid_until: (now + chrono::Duration::days(1)).to_rfc3339(),
                usage_limit_total: total,
                usage_limit_per_customer: per_customer,
                coupon_codes: vec![code.into()],
                ..Default::default()
            }))
            .await?
            .into_inner();
        let id = created.result.map(|r| r.aggregate_id).unwrap_or_default();
        self.promotions
            .activate_promotion(self.app.grpc(pricing_pb::PromotionLifecycleRequest {
                promotion_id: id.clone(),
                options: None,
            }))
            .await?;
        Ok(id)
    }

    /// The cart's events, folded as the aggregate folds them.
    async fn fold(&self, cart: &str) -> anyhow::Result<(Cart, u64)> {
        let rows: Vec<(serde_json::Value,)> = sqlx::query_as(
            "SELECT payload FROM events WHERE aggregate_type = 'cart' AND aggregate_id = $1 \
             ORDER BY sequence",
        )
        .bind(cart)
        .fetch_all(&self.app.pg)
        .await?;
        let mut folded = Cart::default();
        for (payload,) in &rows {
            let event: CartEvent = serde_json::from_value(payload.clone())?;
            cqrs_es::Aggregate::apply(&mut folded, event);
        }
        Ok((folded, rows.len() as u64))
    }
}

fn lines(cart: &pb::Cart) -> BTreeMap<String, (u32, i64)> {
    cart.lines
        .iter()
        .map(|l| {
            let unit = amount(l.price.as_ref().and_then(|p| p.unit_price.as_ref()));
            (l.sku.clone(), (l.quantity, unit))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carts_are_priced_by_the_index_and_checkout_reports_changed_prices() -> anyhow::Result<()> {
    let mut d = Deployment::start(&[]).await?;
    d.price(&[("TEE-M", 2_000), ("CAP", 1_500)]).await?;
    let ada = d.customer("ada@example.com").await?;
    // VIP prices: 20 % off TEE-M for the vip segment.
    d.rules
        .upsert_price_rule(d.app.grpc(pricing_pb::UpsertPriceRuleRequest {
            definition: Some(pricing_pb::PriceRuleDefinition {
                name: "VIP tees".into(),
                targets: Some(pricing_pb::RuleTargets {
                    skus: vec!["TEE-M".into()],
                    categories: vec![],
                }),
                conditions: Some(pricing_pb::RuleConditions {
                    customer_segments: vec!["vip".into()],
                    ..Default::default()
                }),
                action: Some(pricing_pb::RuleAction {
                    action: Some(pricing_pb::rule_action::Action::PercentOff("20".into())),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }))
        .await?;
    let (cart, _) = d.cart(Some(ada)).await?;
    // The index may be a moment behind the book: wait for the first price.
    let added = d.add_priced(&cart, "TEE-M", 2).await;
    let added = added?;
    let view = added.cart.expect("a cart");
    assert_eq!(lines(&view)["TEE-M"], (2, 2_000), "not VIP yet");
    assert_eq!(amount(view.total.as_ref()), 4_000);

    // Unknown SKUs, and bad quantities, are refused naming the field; nothing is written.
    let before = d.fold(&cart).await?.1;
    let unknown = d.add(&cart, "NO-SUCH-SKU", 1).await.expect_err("unknown");
    assert_eq!(refusal(&unknown).0, Code::NotFound);
    assert_eq!(refusal(&unknown).2, "sku");
    let zero = d.add(&cart, "CAP", 0).await.expect_err("zero");
    assert_eq!(refusal(&zero).2, "quantity");
    let too_many = d
        .add(&cart, "CAP", 100)
        .await
        .expect_err("over the line maximum");
    assert_eq!(refusal(&too_many).2, "quantity");
    assert_eq!(d.fold(&cart).await?.1, before, "a refusal writes nothing");

    // Ada becomes VIP: the price of her cart's line changes at checkout.
    d.customers
        .assign_segments(d.app.grpc(customer_pb::AssignSegmentsRequest {
            customer_id: ada.to_string(),
            segments: vec!["vip".into()],
            options: None,
        }))
        .await?;
    let refused = d.checkout(&cart, false).await.expect_err("prices changed");
    let (code, detail_code, field) = refusal(&refused);
    assert_eq!(
        (code, detail_code.as_str(), field.as_str()),
        (Code::FailedPrecondition, "prices-changed", "lines")
    );
    let detail = refused
        .metadata()
        .get_bin("x-rejection-detail-bin")
        .and_then(|v| v.to_bytes().ok())
        .map(|b| serde_json::from_slice::<serde_json::Value>(&b))
        .transpose()?
        .unwrap_or_default();
    assert_eq!(detail[0]["sku"], "TEE-M");
    assert_eq!(detail[0]["previousUnitPrice"]["amount"], 2_000);
    assert_eq!(detail[0]["unitPrice"]["amount"], 1_600);
    assert_eq!(
        d.fold(&cart).await?.1,
        before,
        "a refused checkout writes nothing"
    );

    let done = d.checkout(&cart, true).await?.cart.expect("a cart");
    assert_eq!(done.status, "checkedOut");
    assert_eq!(lines(&done)["TEE-M"], (2, 1_600));
    assert_eq!(amount(done.total.as_ref()), 3_200);
    // A new cart of hers gets VIP prices from the first line.
    let (second, _) = d.cart(Some(ada)).await?;
    let view = d.add(&second, "TEE-M", 1).await?.cart.expect("a cart");
    assert_eq!(lines(&view)["TEE-M"], (1, 1_600));
    // A checked-out cart takes no more changes.
    let closed = d.add(&cart, "CAP", 1).await.expect_err("checked out");
    assert_eq!(refusal(&closed).0, Code::FailedPrecondition);
    d.app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_checkouts_redeem_a_coupon_limited_to_five_exactly_five_times() -> anyhow::Result<()>
{
    let mut d = Deployment::start(&[]).await?;
    d.price(&[("MUG", 1_000)]).await?;
    let promotion = d.promotion("RACE5", Some(5), None).await?;
    let mut carts = Vec::new();
    for _ in 0..16 {
        let (cart, _) = d.cart(None).await?;
        let added = d.add_priced(&cart, "MUG", 1).await;
        added?;
        d.carts
            .apply_coupon(d.app.grpc(pb::ApplyCouponRequest {
                cart_id: cart.clone(),
                code: "race5".into(),
                options: None,
            }))
            .await?;
        carts.push(cart);
    }
    let checkouts = carts.iter().map(|cart| {
        let mut client = d.carts.clone();
        let request = d.app.grpc(pb::CheckoutRequest {
            cart_id: cart.clone(),
            accept_price_changes: false,
            options: None,
        });
        async move { client.checkout(request).await }
    });
    let outcomes = futures::future::join_all(checkouts).await;
    let won = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(won, 5, "{outcomes:?}");
    for refused in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert_eq!(refusal(refused).0, Code::FailedPrecondition, "{refused:?}");
        assert_eq!(refusal(refused).2, "code", "{refused:?}");
    }
    let redeemed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = 'promotion' AND aggregate_id = $1 \
         AND event_type = 'PromotionRedeemed'",
    )
    .bind(&promotion)
    .fetch_one(&d.app.pg)
    .await?;
    assert_eq!(redeemed, 5);
    let checked_out: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = 'cart' \
         AND event_type = 'CartCheckedOut'",
    )
    .fetch_one(&d.app.pg)
    .await?;
    assert_eq!(
        checked_out, 5,
        "every checkout has its redemption and no more"
    );

    // A per-customer limit holds the same way: four carts of one customer, limit 1.
    let bo = d.customer("bo@example.com").await?;
    d.promotion("ONCE", None, Some(1)).await?;
    let mut mine = Vec::new();
    for _ in 0..4 {
        let (cart, _) = d.cart(Some(bo)).await?;
        d.add(&cart, "MUG", 2).await?;
        d.carts
            .apply_coupon(d.app.grpc(pb::ApplyCouponRequest {
                cart_id: cart.clone(),
                code: "ONCE".into(),
                options: None,
            }))
            .await?;
        mine.push(cart);
    }
    let checkouts = mine.iter().map(|cart| {
        let mut client = d.carts.clone();
        let request = d.app.grpc(pb::CheckoutRequest {
            cart_id: cart.clone(),
            accept_price_changes: false,
            options: None,
        });
        async move { client.checkout(request).await }
    });
    let outcomes = futures::future::join_all(checkouts).await;
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    d.app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_writers_with_one_expected_version_make_one_change_and_lose_none(
) -> anyhow::Result<()> {
    let mut d = Deployment::start(&[]).await?;
    let skus: Vec<String> = (0..16).map(|n| format!("SKU-{n:02}")).collect();
    let prices: Vec<(&str, i64)> = skus.iter().map(|s| (s.as_str(), 100)).collect();
    d.price(&prices).await?;
    let (cart, _) = d.cart(None).await?;
    let first = d.add_priced(&cart, "SKU-00", 1).await;
    let version = first?.result.map(|r| r.version).unwrap_or_default();
    let writes = skus.iter().map(|sku| {
        let mut client = d.carts.clone();
        let request = d.app.grpc(pb::AddItemRequest {
            cart_id: cart.clone(),
            sku: sku.clone(),
            quantity: 1,
            options: Some(CommandOptions {
                expected_version: Some(version),
                idempotency_key: String::new(),
            }),
        });
        async move { client.add_item(request).await }
    });
    let outcomes = futures::future::join_all(writes).await;
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    for refused in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert_eq!(refused.code(), Code::Aborted, "{refused:?}");
        let detail = decode_error_detail(refused).unwrap_or_default();
        assert_eq!(detail.current_version, Some(version + 1), "{refused:?}");
    }
    // Without an expected version every writer is told to retry or wins; retrying the losers
    // with the version they were given loses no update.
    let mut pending: Vec<String> = skus.iter().skip(1).cloned().collect();
    while let Some(sku) = pending.pop() {
        let current = d.fold(&cart).await?.1;
        let request = d.app.grpc(pb::AddItemRequest {
            cart_id: cart.clone(),
            sku: sku.clone(),
            quantity: 1,
            options: Some(CommandOptions {
                expected_version: Some(current),
                idempotency_key: String::new(),
            }),
        });
        if d.carts.add_item(request).await.is_err() {
            pending.push(sku);
        }
    }
    let (folded, version) = d.fold(&cart).await?;
    let read = d
        .carts
        .get_cart(d.app.grpc(pb::CartRequest {
            cart_id: cart.clone(),
            options: None,
        }))
        .await?
        .into_inner();
    let view = read.cart.expect("a cart");
    assert_eq!(read.result.map(|r| r.version), Some(version));
    assert_eq!(view.lines.len(), 16);
    let folded_lines: BTreeMap<String, (u32, i64)> = folded
        .lines
        .iter()
        .map(|(sku, l)| (sku.clone(), (l.quantity, l.price.unit_price.amount())))
        .collect();
    assert_eq!(lines(&view), folded_lines);
    d.app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cart_is_reached_by_its_owner_or_its_session_token_which_is_never_stored(
) -> anyhow::Result<()> {
    let mut d = Deployment::start(&[]).await?;
    d.price(&[("CAP", 1_500)]).await?;
    let storefront = d
        .app
        .token("storefront", &[MANAGE_MY_ORDERS, VIEW_PRICES], None)?;
    let created = d
        .carts
        .create_cart(d.with(
            &storefront,
            None,
            pb::CreateCartRequest {
                currency: "EUR".into(),
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    let cart = created
        .result
        .as_ref()
        .map(|r| r.aggregate_id.clone())
        .unwrap_or_default();
    let session = created.session_token.clone();
    assert!(session.len() >= 64, "{session}");
    let read = |token: &str, session: Option<&str>| {
        d.with(
            token,
            session,
            pb::CartRequest {
                cart_id: cart.clone(),
                options: None,
            },
        )
    };
    // With the session token: reached. Without, or with another: as if it did not exist.
    let mut carts = d.carts.clone();
    carts.get_cart(read(&storefront, Some(&session))).await?;
    for wrong in [
        None,
        Some("cs_not-the-token"),
        Some(&session[..session.len() - 1]),
    ] {
        let refused = carts
            .get_cart(read(&storefront, wrong))
            .await
            .expect_err("no session");
        assert_eq!(refused.code(), Code::NotFound, "{wrong:?}");
    }
    // Another customer's token with the session reaches an anonymous cart only while it is
    // anonymous; a token without cart scopes is refused outright.
    let nobody = d.app.token("nobody", &[VIEW_PRICES], None)?;
    let refused = carts
        .get_cart(read(&nobody, Some(&session)))
        .await
        .expect_err("scope");
    assert_eq!(refused.code(), Code::PermissionDenied);
    // The token is nowhere in the event store; its hash is.
    let leaked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE payload::text LIKE '%' || $1 || '%' \
         OR metadata::text LIKE '%' || $1 || '%'",
    )
    .bind(&session)
    .fetch_one(&d.app.pg)
    .await?;
    assert_eq!(leaked, 0);
    let hash = shopcore_domain::cart::session_token_hash(&session);
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_id = $1 AND payload->'CartCreated'->>'sessionTokenHash' = $2",
    )
    .bind(&cart)
    .bind(&hash)
    .fetch_one(&d.app.pg)
    .await?;
    assert_eq!(stored, 1);

    // Sign-in: Cy's token merges the anonymous cart into her own open cart.
    let cy = d.customer("cy@example.com").await?;
    let cy_token = d
        .app
        .token("cy", &[MANAGE_MY_ORDERS, VIEW_PRICES], Some(cy))?;
    let add = |token: &str, session: Option<&str>, cart: &str, sku: &str, quantity| {
        d.with(
            token,
            session,
            pb::AddItemRequest {
                cart_id: cart.to_owned(),
                sku: sku.to_owned(),
                quantity,
                options: None,
            },
        )
    };
    let mut first = carts
        .add_item(add(&storefront, Some(&session), &cart, "CAP", 2))
        .await;
    while matches!(&first, Err(s) if s.code() == Code::NotFound) {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        first = carts
            .add_item(add(&storefront, Some(&session), &cart, "CAP", 2))
            .await;
    }
    first?;
    let own = carts
        .create_cart(d.with(
            &cy_token,
            None,
            pb::CreateCartRequest {
                currency: "EUR".into(),
                ..Default::default()
            },
        ))
        .await?
        .into_inner()
        .result
        .map(|r| r.aggregate_id)
        .unwrap_or_default();
    carts.add_item(add(&cy_token, None, &own, "CAP", 1)).await?;
    // Another customer cannot reach Cy's cart.
    let other = d
        .app
        .token("eve", &[MANAGE_MY_ORDERS], Some(Uuid::now_v7()))?;
    let refused = carts
        .add_item(add(&other, None, &own, "CAP", 1))
        .await
        .expect_err("not hers");
    assert_eq!(refused.code(), Code::NotFound);
    let merge = pb::MergeCartRequest {
        anonymous_cart_id: cart.clone(),
        customer_cart_id: Some(own.clone()),
        options: None,
    };
    let merged = carts
        .merge_cart(d.with(&cy_token, Some(&session), merge.clone()))
        .await?
        .into_inner();
    assert!(merged.merged);
    let view = merged.cart.and_then(|c| c.cart).expect("a cart");
    assert_eq!(lines(&view)["CAP"], (3, 1_500), "quantities summed");
    // A merge repeated (a client retrying after a lost reply, or after a crash between the two
    // carts' commands) adds nothing twice.
    let again = carts
        .merge_cart(d.with(&cy_token, Some(&session), merge))
        .await?
        .into_inner();
    assert!(again.merged);
    assert_eq!(
        lines(&d_cart(&mut carts, &d, &own).await?)["CAP"],
        (3, 1_500)
    );
    let closed = d_cart(&mut carts, &d, &cart).await?;
    assert_eq!(closed.status, "merged");
    assert_eq!(closed.merged_into.as_deref(), Some(own.as_str()));
    d.app.cleanup().await
}

/// The cart as the admin reads it from the event store.
async fn d_cart(
    carts: &mut CartCommandsClient<Channel>,
    d: &Deployment,
    cart: &str,
) -> anyhow::Result<pb::Cart> {
    Ok(carts
        .get_cart(d.app.grpc(pb::CartRequest {
            cart_id: cart.to_owned(),
            options: None,
        }))
        .await?
        .into_inner()
        .cart
        .unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_cart_refuses_writes_as_gone_and_expires_once() -> anyhow::Result<()> {
    let mut d = Deployment::start(&[("CART_TTL_SECONDS", "2".into())]).await?;
    d.price(&[("CAP", 1_500)]).await?;
    let (cart, _) = d.cart(None).await?;
    // Not due yet: the sweep's command is refused.
    let early = d
        .carts
        .expire_cart(d.app.grpc(pb::CartRequest {
            cart_id: cart.clone(),
            options: None,
        }))
        .await
        .expect_err("not yet expired");
    assert_eq!(refusal(&early).0, Code::FailedPrecondition);
    tokio::time::sleep(std::time::Duration::from_millis(2_200)).await;
    let gone = d.add(&cart, "CAP", 1).await.expect_err("expired");
    assert_eq!(
        (refusal(&gone).0, refusal(&gone).1),
        (Code::FailedPrecondition, "gone".to_owned())
    );
    assert_eq!(
        d_cart(&mut d.carts.clone(), &d, &cart).await?.status,
        "expired"
    );
    // Two sweepers racing: one CartExpired.
    let expire = || {
        let mut client = d.carts.clone();
        let request = d.app.grpc(pb::CartRequest {
            cart_id: cart.clone(),
            options: None,
        });
        async move { client.expire_cart(request).await }
    };
    let (a, b) = tokio::join!(expire(), expire());
    let written: u32 = [a, b]
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|r| r.into_inner().result.map(|r| r.events_written))
        .sum();
    assert_eq!(written, 1);
    let expired: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_id = $1 AND event_type = 'CartExpired'",
    )
    .bind(&cart)
    .fetch_one(&d.app.pg)
    .await?;
    assert_eq!(expired, 1);
    d.app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cart_sells_no_line_at_a_stale_exchange_rate() -> anyhow::Result<()> {
    let mut d = Deployment::start(&[("FX_STALE_AFTER_SECONDS", "2".into())]).await?;
    d.price(&[("CAP", 1_500)]).await?;
    let rates =
        shopcore_proto::pricing::v1::currency_rate_commands_client::CurrencyRateCommandsClient::new(
            tonic::transport::Endpoint::from_shared(format!("http://{}", d.app.grpc_addr))?
                .connect()
                .await?,
        );
    let set_rate = |rate: &str| {
        let mut rates = rates.clone();
        let request = d.app.grpc(pricing_pb::SetFxRateRequest {
            base: "EUR".into(),
            quote: "USD".into(),
            rate: rate.into(),
            source: "test".into(),
            options: None,
        });
        async move { rates.set_fx_rate(request).await }
    };
    set_rate("1.1").await?;
    let set_again = set_rate("1.2");
    let reply = d
        .carts
        .create_cart(d.app.grpc(pb::CreateCartRequest {
            currency: "USD".into(),
            ..Default::default()
        }))
        .await?
        .into_inner();
    let cart = reply.result.map(|r| r.aggregate_id).unwrap_or_default();
    let added = d.add_priced(&cart, "CAP", 1).await;
    // 15.00 EUR at 1.1: 16.50 USD, converted with a fresh rate.
    assert_eq!(lines(&added?.cart.expect("a cart"))["CAP"], (1, 1_650));
    tokio::time::sleep(std::time::Duration::from_millis(2_200)).await;
    let stale = d.add(&cart, "CAP", 1).await.expect_err("stale rate");
    assert_eq!(stale.code(), Code::Unavailable, "{stale:?}");
    assert!(stale.message().contains("stale"), "{stale:?}");
    // A new rate makes the currency sellable again as soon as the index has it.
    set_again.await?;
    let mut again = d.add(&cart, "CAP", 1).await;
    for _ in 0..50 {
        if !matches!(&again, Err(s) if s.code() == Code::Unavailable) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        again = d.add(&cart, "CAP", 1).await;
    }
    assert_eq!(lines(&again?.cart.expect("a cart"))["CAP"], (2, 1_800));
    d.app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_anonymous_cart_is_never_merged() -> anyhow::Result<()> {
    let mut d = Deployment::start(&[]).await?;
    d.price(&[("CAP", 1_500)]).await?;
    let dee = d.customer("dee@example.com").await?;
    let token = d.app.token("dee", &[MANAGE_MY_ORDERS], Some(dee))?;
    let (anonymous, session) = d.cart(None).await?;
    let added = d.add_priced(&anonymous, "CAP", 2).await;
    added?;
    let (own, _) = d.cart(Some(dee)).await?;
    d.add(&own, "CAP", 1).await?;
    d.checkout(&anonymous, false).await?;
    let merge = pb::MergeCartRequest {
        anonymous_cart_id: anonymous.clone(),
        customer_cart_id: Some(own.clone()),
        options: None,
    };
    let mut carts = d.carts.clone();
    let refused = carts
        .merge_cart(d.with(&token, Some(&session), merge))
        .await
        .expect_err("checked out");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(refusal(&refused).2, "anonymousCartId");
    // The customer's cart did not get the checked-out cart's lines.
    assert_eq!(
        lines(&d_cart(&mut carts, &d, &own).await?)["CAP"],
        (1, 1_500)
    );
    d.app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_that_makes_a_customer_vip_prices_the_next_cart_for_vip() -> anyhow::Result<()> {
    let mut d = Deployment::start(&[]).await?;
    d.app.start_segment_policy(100_000).await?;
    d.price(&[("LUX", 100_000), ("TEE-M", 2_000)]).await?;
    d.rules
        .upsert_price_rule(d.app.grpc(pricing_pb::UpsertPriceRuleRequest {
            definition: Some(pricing_pb::PriceRuleDefinition {
                name: "VIP tees".into(),
                targets: Some(pricing_pb::RuleTargets {
                    skus: vec!["TEE-M".into()],
                    categories: vec![],
                }),
                conditions: Some(pricing_pb::RuleConditions {
                    customer_segments: vec!["vip".into()],
                    ..Default::default()
                }),
                action: Some(pricing_pb::RuleAction {
                    action: Some(pricing_pb::rule_action::Action::PercentOff("20".into())),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }))
        .await?;
    let eve = d.customer("eve@example.com").await?;
    let (first, _) = d.cart(Some(eve)).await?;
    let view = d
        .add_priced(&first, "TEE-M", 1)
        .await?
        .cart
        .expect("a cart");
    assert_eq!(lines(&view)["TEE-M"], (1, 2_000), "not VIP yet");
    d.add_priced(&first, "LUX", 1).await?;
    // 1 020.00 EUR: past the 1 000.00 threshold.
    d.checkout(&first, false).await?;
    let mut recalculated = 0_i64;
    for _ in 0..100 {
        recalculated = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE aggregate_type = 'customer' AND aggregate_id = $1 \
             AND event_type = 'CustomerSegmentRecalculated'",
        )
        .bind(eve.to_string())
        .fetch_one(&d.app.pg)
        .await?;
        if recalculated > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(recalculated, 1, "one recalculation for the one checkout");
    let (next, _) = d.cart(Some(eve)).await?;
    let view = d.add_priced(&next, "TEE-M", 1).await?.cart.expect("a cart");
    assert_eq!(
        lines(&view)["TEE-M"],
        (1, 1_600),
        "VIP prices on the next cart"
    );
    d.app.cleanup().await
}
