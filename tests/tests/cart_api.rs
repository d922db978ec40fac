//! The cart over REST and GraphQL, against the real processes: every route from opening a cart
//! to checkout, bad input refused naming the field with nothing written, who reaches a cart
//! (owners, session tokens, other callers' carts) and that the session token never reaches a
//! log, 16 writers racing with one `If-Match`, read-your-writes, the sign-in merge, a rule
//! change between add and checkout (409 prices-changed, then accepted), expiry (410) and
//! GraphQL `cart`. The harness and the route-by-route test are here, the others in the modules
//! under `cart_api/`.

// A test crate's root resolves modules beside itself, so the folder is named explicitly.
#[path = "cart_api/access.rs"]
mod access;
#[path = "cart_api/checkout.rs"]
mod checkout;
#[path = "cart_api/concurrency.rs"]
mod concurrency;
#[path = "cart_api/merge.rs"]
mod merge;
#[path = "cart_api/refusals.rs"]
mod refusals;

use std::collections::BTreeMap;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use shopcore_auth::scopes::{MANAGE_MY_ORDERS, MANAGE_ORDERS, VIEW_ORDERS, VIEW_PRICES};
use shopcore_domain::cart::{Cart, CartEvent};
use shopcore_e2e::TestApp;
use shopcore_proto::pricing::v1 as pricing_pb;
use shopcore_proto::pricing::v1::price_book_commands_client::PriceBookCommandsClient;
use shopcore_proto::pricing::v1::pricing_queries_client::PricingQueriesClient;
use shopcore_proto::pricing::v1::promotion_commands_client::PromotionCommandsClient;
use tonic::transport::Channel;
use uuid::Uuid;

/// An answer, read whole.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    /// Asserts a problem document with this status naming `field`.
    fn problem(&self, status: StatusCode, field: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.header("content-type"),
            "application/problem+json",
            "{}",
            self.body
        );
        assert_eq!(self.body["field"], field, "{}", self.body);
    }
}

struct Shop {
    app: TestApp,
    /// A client without a default token.
    client: reqwest::Client,
    books: PriceBookCommandsClient<Channel>,
    promotions: PromotionCommandsClient<Channel>,
    queries: PricingQueriesClient<Channel>,
}

impl Shop {
    async fn start(env: &[(&'static str, String)]) -> anyhow::Result<Self> {
        let app = TestApp::spawn_with(env).await?;
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc_addr))?
            .connect()
            .await?;
        Ok(Self {
            client: reqwest::Client::new(),
            books: PriceBookCommandsClient::new(channel.clone()),
            promotions: PromotionCommandsClient::new(channel.clone()),
            queries: PricingQueriesClient::new(channel),
            app,
        })
    }

    /// A request with `token` (the admin's when `None`).
    fn req(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        self.client
            .request(method, self.app.url(path))
            .bearer_auth(token.unwrap_or(&self.app.admin_token))
    }

    async fn send(&self, request: RequestBuilder) -> anyhow::Result<Answer> {
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// A storefront's anonymous session token: its own carts by session only.
    fn storefront(&self) -> anyhow::Result<String> {
        self.app
            .token("storefront", &[MANAGE_MY_ORDERS, VIEW_PRICES], None)
    }

    fn customer_token(&self, customer: Uuid) -> anyhow::Result<String> {
        self.app.token(
            &format!("customer-{customer}"),
            &[MANAGE_MY_ORDERS, VIEW_PRICES],
            Some(customer),
        )
    }

    async fn customer(&self, email: &str) -> anyhow::Result<Uuid> {
        let created = self
            .send(
                self.req(Method::POST, "/customers", None)
                    .json(&json!({"email": email, "firstName": "Ada", "lastName": "Lovelace"})),
            )
            .await?;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        Ok(Uuid::parse_str(
            created.body["id"].as_str().unwrap_or_default(),
        )?)
    }

    /// Waits until the command service's pricing index has applied `position`.
    async fn index_at(&mut self, sku: &str, position: &str) -> anyhow::Result<()> {
        self.queries
            .get_price(self.app.grpc(pricing_pb::GetPriceRequest {
                context: Some(pricing_pb::PriceContext {
                    sku: sku.into(),
                    currency: Some("EUR".into()),
                    quantity: 1,
                    ..Default::default()
                }),
                min_position: Some(position.into()),
                explain: false,
            }))
            .await?;
        Ok(())
    }

    /// A book pricing `prices` in EUR, applied by the command service's pricing index.
    async fn price(&mut self, prices: &[(&str, i64)]) -> anyhow::Result<()> {
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
        let mut last = None;
        for (sku, amount) in prices {
            let set = self
                .books
                .set_base_price(self.app.grpc(pricing_pb::SetBasePriceRequest {
                    price_book_id: book_id.clone(),
                    sku: (*sku).into(),
                    price: Some(pricing_pb::Money {
                        amount_minor: *amount,
                        currency: "EUR".into(),
                    }),
                    options: None,
                }))
                .await?
                .into_inner();
            last = set.result.map(|r| (sku.to_string(), r.log_position));
        }
        if let Some((sku, position)) = last {
            self.index_at(&sku, &position).await?;
        }
        Ok(())
    }

    /// An active promotion of 10 % off with `code`.
    async fn promotion(&mut self, code: &str) -> anyhow::Result<()> {
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
                coupon_codes: vec![code.into()],
                ..Default::default()
            }))
            .await?
            .into_inner();
        let id = created.result.map(|r| r.aggregate_id).unwrap_or_default();
        self.promotions
            .activate_promotion(self.app.grpc(pricing_pb::PromotionLifecycleRequest {
                promotion_id: id,
                options: None,
            }))
            .await?;
        Ok(())
    }

    /// `POST /carts` with `token`; returns the answer, the cart id and its session token.
    async fn open(
        &self,
        token: Option<&str>,
        body: Value,
    ) -> anyhow::Result<(Answer, String, String)> {
        let created = self
            .send(self.req(Method::POST, "/carts", token).json(&body))
            .await?;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let id = created.body["cartId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let session = created.body["sessionToken"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        Ok((created, id, session))
    }

    /// A cart write with `token`, the session token when given, and JSON `body` when given.
    async fn write(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        session: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<Answer> {
        let mut request = self.req(method, path, token);
        if let Some(session) = session {
            request = request.header("shopcore-cart-session", session);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    /// `GET /carts/{id}` at least at `position`.
    async fn read(
        &self,
        id: &str,
        token: Option<&str>,
        session: Option<&str>,
        position: &str,
    ) -> anyhow::Result<Answer> {
        let mut request = self
            .req(Method::GET, &format!("/carts/{id}"), token)
            .header("shopcore-min-position", position);
        if let Some(session) = session {
            request = request.header("shopcore-cart-session", session);
        }
        self.send(request).await
    }

    /// The cart's events folded as the aggregate folds them, and their number.
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

/// The lines of a REST cart: SKU → (quantity, unit price).
fn lines(cart: &Value) -> BTreeMap<String, (u64, i64)> {
    cart["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            let sku = l["sku"].as_str().unwrap_or_default().to_owned();
            let quantity = l["quantity"].as_u64().unwrap_or_default();
            (
                sku,
                (
                    quantity,
                    l["unitPrice"]["amount"].as_i64().unwrap_or(i64::MIN),
                ),
            )
        })
        .collect()
}

/// A write of the route-by-route test: method, path, body, the lines and total it leaves.
type Step = (
    Method,
    String,
    Option<Value>,
    BTreeMap<String, (u64, i64)>,
    i64,
);

/// A cart body without what a write's answer and a read may tell apart (`updatedAt`,
/// `checkedOutAt`: the answer has the gateway's instant, the read the event's).
fn comparable(cart: &Value) -> Value {
    let mut cart = cart.clone();
    if let Some(object) = cart.as_object_mut() {
        object.remove("updatedAt");
        object.remove("checkedOutAt");
        object.remove("sessionToken");
    }
    cart
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_cart_goes_from_open_to_checked_out_through_every_route() -> anyhow::Result<()>
{
    let mut shop = Shop::start(&[]).await?;
    shop.price(&[("TEE-M", 2_000), ("CAP", 1_500)]).await?;
    shop.promotion("SAVE10").await?;
    let storefront = shop.storefront()?;
    let s = Some(storefront.as_str());

    let (created, id, session) = shop
        .open(
            s,
            json!({"currency": "EUR", "channel": "web", "region": "EU"}),
        )
        .await?;
    assert_eq!(created.header("location"), format!("/carts/{id}"));
    assert_eq!(created.header("etag"), "\"1\"");
    assert_eq!(created.header("cache-control"), "no-store");
    assert!(
        session.starts_with("cs_") && session.len() == 67,
        "{session}"
    );
    assert_eq!(created.body["status"], "open");
    assert_eq!(created.body["customerId"], Value::Null);
    assert_eq!(created.body["lines"], json!([]));
    assert_eq!(
        created.body["total"],
        json!({"amount": 0, "currency": "EUR"})
    );
    let by_session = format!("/carts/by-session/{session}");
    let session = Some(session.as_str());

    // Read-your-writes: the read at the write's position is the write's answer.
    let read = shop
        .read(&id, s, session, &created.header("shopcore-position"))
        .await?;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.header("etag"), "\"1\"");
    assert_eq!(comparable(&read.body), comparable(&created.body));
    assert!(
        read.body.get("sessionToken").is_none(),
        "the token is shown once"
    );

    let items = format!("/carts/{id}/items");
    let steps: Vec<Step> = vec![
        (
            Method::POST,
            items.clone(),
            Some(json!({"sku": "TEE-M", "quantity": 2})),
            BTreeMap::from([("TEE-M".into(), (2, 2_000))]),
            4_000,
        ),
        (
            Method::POST,
            items.clone(),
            Some(json!({"sku": "CAP", "quantity": 1})),
            BTreeMap::from([("CAP".into(), (1, 1_500)), ("TEE-M".into(), (2, 2_000))]),
            5_500,
        ),
        (
            Method::POST,
            items.clone(),
            Some(json!({"sku": "TEE-M", "quantity": 1})),
            BTreeMap::from([("CAP".into(), (1, 1_500)), ("TEE-M".into(), (3, 2_000))]),
            7_500,
        ),
        (
            Method::PUT,
            format!("{items}/TEE-M"),
            Some(json!({"quantity": 1})),
            BTreeMap::from([("CAP".into(), (1, 1_500)), ("TEE-M".into(), (1, 2_000))]),
            3_500,
        ),
        (
            Method::DELETE,
            format!("{items}/CAP"),
            None,
            BTreeMap::from([("TEE-M".into(), (1, 2_000))]),
            2_000,
        ),
        (
            Method::POST,
            format!("/carts/{id}/apply-coupon"),
            Some(json!({"code": "save10"})),
            BTreeMap::from([("TEE-M".into(), (1, 2_000))]),
            1_800,
        ),
        (
            Method::DELETE,
            format!("/carts/{id}/coupon"),
            None,
            BTreeMap::from([("TEE-M".into(), (1, 2_000))]),
            2_000,
        ),
        (
            Method::POST,
            format!("/carts/{id}/apply-coupon"),
            Some(json!({"code": "SAVE10"})),
            BTreeMap::from([("TEE-M".into(), (1, 2_000))]),
            1_800,
        ),
    ];
    let mut version = 1;
    let mut last = created;
    for (method, path, body, expected, total) in steps {
        let written = shop.write(method.clone(), &path, s, session, body).await?;
        assert_eq!(
            written.status,
            StatusCode::OK,
            "{method} {path}: {}",
            written.body
        );
        version += 1;
        assert_eq!(written.header("etag"), format!("\"{version}\""), "{path}");
        assert_eq!(written.body["version"], version);
        assert_eq!(lines(&written.body), expected, "{method} {path}");
        assert_eq!(written.body["total"]["amount"], total, "{method} {path}");
        let read = shop
            .read(&id, s, session, &written.header("shopcore-position"))
            .await?;
        assert_eq!(read.status, StatusCode::OK, "{}", read.body);
        assert_eq!(comparable(&read.body), comparable(&written.body), "{path}");
        last = written;
    }
    assert_eq!(last.body["coupon"]["code"], "SAVE10");
    assert_eq!(last.body["coupon"]["kind"], "percentOff");
    assert_eq!(last.body["discount"]["amount"], 200);
    assert_eq!(last.body["lines"][0]["discount"]["amount"], 200);

    // The session's open cart.
    let found = shop
        .send(
            shop.req(Method::GET, &by_session, s)
                .header("shopcore-min-position", last.header("shopcore-position")),
        )
        .await?;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    assert_eq!(found.body["cartId"], id.as_str());
    assert_eq!(found.header("cache-control"), "no-store");

    // Checkout without a body: the prices have not changed.
    let done = shop
        .write(
            Method::POST,
            &format!("/carts/{id}/checkout"),
            s,
            session,
            None,
        )
        .await?;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["status"], "checkedOut");
    assert_eq!(done.body["total"]["amount"], 1_800);
    assert!(done.body["checkedOutAt"].is_string(), "{}", done.body);
    // Still readable with its session token, though no longer the session's open cart.
    let read = shop
        .read(&id, s, session, &done.header("shopcore-position"))
        .await?;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["status"], "checkedOut");
    assert_eq!(read.body["coupon"]["code"], "SAVE10");
    assert_eq!(comparable(&read.body), comparable(&done.body));
    // At the checkout's position (without it, a read model a moment behind still shows the
    // open cart).
    let gone = shop
        .send(
            shop.req(Method::GET, &by_session, s)
                .header("shopcore-min-position", done.header("shopcore-position")),
        )
        .await?;
    gone.problem(StatusCode::NOT_FOUND, "token");
    // A checked-out cart takes no more changes; nothing is written.
    let closed = shop
        .write(
            Method::POST,
            &items,
            s,
            session,
            Some(json!({"sku": "CAP", "quantity": 1})),
        )
        .await?;
    assert_eq!(closed.status, StatusCode::CONFLICT, "{}", closed.body);
    let again = shop
        .write(
            Method::POST,
            &format!("/carts/{id}/checkout"),
            s,
            session,
            None,
        )
        .await?;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert_eq!(shop.fold(&id).await?.1, version + 1);
    shop.app.cleanup().await
}
