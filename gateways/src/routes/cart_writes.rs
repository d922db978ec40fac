//! The cart writes: `POST /carts`, the items, the coupon, checkout and the sign-in merge. Each
//! becomes one `CartCommands` call with the caller's token and, for an anonymous cart, its
//! session token (`Shopcore-Cart-Session`, forwarded as `x-cart-session`); each answers from
//! the command's result ([`super::cart_answers`]) with the cart's version in `ETag` and the
//! write's position in `Shopcore-Position`. `If-Match` is the expected version (a stale one is
//! 409 with `currentVersion`), `Idempotency-Key` makes a retry safe.
//!
//! Bodies are checked here against what the OpenAPI document states (the domain's own rules:
//! `clean_sku`, `normalize_coupon_code`, the known currencies), without the domain's trimming,
//! so that a value the document refuses is refused rather than quietly repaired; the command
//! service checks everything again.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use shopcore_auth::scopes::{MANAGE_MY_ORDERS, MANAGE_ORDERS};
use shopcore_auth::{Denied, Principal};
use shopcore_domain::catalog::values::clean_sku;
use shopcore_domain::pricing::promotion::normalize_coupon_code;
use shopcore_event_store::LogPosition;
use shopcore_projections::cart::{CartStatusView, CartView};
use shopcore_projections::catalog::read_model::whole;
use shopcore_proto::cart::v1 as pb;
use shopcore_proto::common::v1::CommandOptions;
use shopcore_proto::ErrorCode;
use uuid::Uuid;

use super::cart_answers::{
    cart_created, cart_merged, cart_written, send_cart, CreatedCartView, MergeResultView,
};
use super::carts::{read_failed, session_header, single_header, SESSION_HEADER_NAME};
use super::customers::command_options;
use super::{min_position, AppState, MIN_POSITION_HEADER};
use crate::auth::BearerToken;
use crate::correlation::CorrelationId;
use crate::problem::{ApiJson, ApiJsonOrEmpty, ApiPath, Problem};

/// The most characters of `channel` and `region` (the domain's label limit).
pub const MAX_LABEL_CHARS: usize = 64;

/// Body of `POST /carts`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCartBody {
    /// ISO 4217 (upper case); every price of the cart is in it.
    #[schema(example = "EUR")]
    pub currency: String,
    /// The customer the cart is for: platform tokens with `manage_orders` only. A
    /// customer-bound token always opens its own customer's cart; without either the cart is
    /// anonymous.
    #[serde(default)]
    pub customer_id: Option<Uuid>,
    /// The sales channel prices are looked up for (`web`, `app`, …), at most 64 characters.
    #[serde(default)]
    #[schema(example = "web")]
    pub channel: Option<String>,
    /// The region prices are looked up for (`EU`, `US`, …), at most 64 characters.
    #[serde(default)]
    #[schema(example = "EU")]
    pub region: Option<String>,
}

/// Body of `POST /carts/{id}/items`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddItemBody {
    /// The SKU, as the catalog writes it.
    #[schema(example = "TEE-M")]
    pub sku: String,
    /// Units to add (to the SKU's line if it has one); the line may hold at most
    /// `CART_MAX_QUANTITY_PER_LINE` (99).
    #[schema(example = 2)]
    #[serde(deserialize_with = "whole_u32")]
    pub quantity: u32,
}

/// Body of `PUT /carts/{id}/items/{sku}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeQuantityBody {
    /// The line's new quantity (to remove a line, `DELETE` it).
    #[schema(example = 3)]
    #[serde(deserialize_with = "whole_u32")]
    pub quantity: u32,
}

/// A quantity: JSON Schema counts `2.0` as an integer, so it is read as 2 (`2.5` is refused).
fn whole_u32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    whole::some_u32(d).map(Option::unwrap_or_default)
}

/// Body of `POST /carts/{id}/apply-coupon`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplyCouponBody {
    /// A promotion's coupon code (case-insensitive).
    #[schema(example = "WELCOME10")]
    pub code: String,
}

/// Body of `POST /carts/{id}/checkout` (it may be left out).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckoutBody {
    /// Check out at the prices of now even if some changed since their lines were priced
    /// (false: such a checkout is refused with 409 `prices-changed` listing them).
    #[serde(default)]
    pub accept_price_changes: bool,
}

/// The path of one line.
#[derive(Debug, Deserialize)]
pub struct CartItemPath {
    id: Uuid,
    sku: String,
}

/// Whether the caller may change carts at all (which carts: the command service decides).
fn may_write(principal: &Principal) -> Result<(), Problem> {
    let platform = principal.customer_id.is_none() && principal.has(MANAGE_ORDERS);
    if platform || principal.has(MANAGE_MY_ORDERS) {
        return Ok(());
    }
    Err(Problem::forbidden(Denied {
        scope: MANAGE_ORDERS,
        reason: format!("the token lacks the scope {MANAGE_ORDERS} or {MANAGE_MY_ORDERS}"),
    }))
}

/// `If-Match` and `Idempotency-Key`, each sent at most once.
fn options(headers: &HeaderMap) -> Result<CommandOptions, Problem> {
    single_header(headers, header::IF_MATCH.as_str(), "If-Match")?;
    single_header(headers, "idempotency-key", "Idempotency-Key")?;
    command_options(headers).map_err(|problem| match problem.field.as_deref() {
        Some("If-Match") => Problem::invalid(
            "If-Match",
            "must be the cart's version as its ETag states it, e.g. \"3\"",
        ),
        _ => problem,
    })
}

/// A SKU exactly as the document states it (`clean_sku` would trim it).
fn sku(raw: &str) -> Result<String, Problem> {
    match clean_sku(raw) {
        Ok(sku) if sku == raw => Ok(sku),
        Ok(_) => Err(Problem::invalid(
            "sku",
            "may contain only letters, digits, '-', '_' and '.'",
        )),
        Err(reason) => Err(Problem::invalid("sku", reason)),
    }
}

fn coupon_code(raw: &str) -> Result<(), Problem> {
    let normalized =
        normalize_coupon_code(raw).map_err(|reason| Problem::invalid("code", reason))?;
    if normalized.len() != raw.len() {
        return Err(Problem::invalid(
            "code",
            "must be 3 to 32 letters, digits, '-' or '_'",
        ));
    }
    Ok(())
}

fn currency(raw: &str) -> Result<(), Problem> {
    let known = shopcore_domain::money::currency::KNOWN
        .iter()
        .any(|(code, _)| *code == raw);
    if known {
        Ok(())
    } else {
        Err(Problem::invalid(
            "currency",
            "must be a supported ISO 4217 code in upper case",
        ))
    }
}

fn label(raw: Option<&str>, field: &str) -> Result<(), Problem> {
    let Some(raw) = raw else { return Ok(()) };
    if raw.chars().count() > MAX_LABEL_CHARS || raw.chars().any(char::is_control) {
        return Err(Problem::invalid(
            field,
            format!(
                "must be at most {MAX_LABEL_CHARS} characters, none of them a control character"
            ),
        ));
    }
    Ok(())
}

/// What every write on an existing cart needs: the caller may write carts, its options and
/// session token, the command service's answer as the cart.
struct CartWrite<'a> {
    state: &'a AppState,
    caller: (&'a CorrelationId, &'a BearerToken),
    session: Option<String>,
    options: CommandOptions,
}

impl<'a> CartWrite<'a> {
    fn new(
        state: &'a AppState,
        principal: &Principal,
        caller: (&'a CorrelationId, &'a BearerToken),
        headers: &HeaderMap,
    ) -> Result<Self, Problem> {
        may_write(principal)?;
        Ok(Self {
            state,
            caller,
            session: session_header(headers)?,
            options: options(headers)?,
        })
    }

    async fn send<M, F>(
        self,
        message: impl FnOnce(CommandOptions) -> M,
        command: impl FnOnce(
            shopcore_proto::cart::v1::cart_commands_client::CartCommandsClient<
                tonic::transport::Channel,
            >,
            tonic::Request<M>,
        ) -> F,
    ) -> Result<Response, Problem>
    where
        F: std::future::Future<Output = Result<tonic::Response<pb::CartResult>, tonic::Status>>,
    {
        let reply = send_cart(
            &self.state.carts,
            self.caller,
            self.session.as_deref(),
            message(self.options),
            command,
        )
        .await?;
        cart_written(StatusCode::OK, reply)
    }
}

/// Open a cart.
#[utoipa::path(
    post, path = "/carts", tag = "carts",
    request_body = CreateCartBody,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 200 visible characters. Retries with the same key and body open the cart once and answer with the first cart (without its `sessionToken`); another body is 422"),
        ("X-Correlation-Id" = Option<String>, Header, description = "Carried into logs and event metadata"),
    ),
    responses(
        (status = 201, description = "Opened; `Location` names it, `sessionToken` is the anonymous cart's secret (in this answer only). Answered from the command's result (`updatedAt` is the answer's instant)", body = CreatedCartView),
        (status = 400, description = "Invalid input (`field` names it); nothing written", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`customerId` names no customer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A cart with this id exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key already used with another request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_cart(
    State(state): State<AppState>,
    Extension(correlation): Extension<CorrelationId>,
    Extension(principal): Extension<Principal>,
    Extension(token): Extension<BearerToken>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateCartBody>,
) -> Result<Response, Problem> {
    may_write(&principal)?;
    currency(&body.currency)?;
    label(body.channel.as_deref(), "channel")?;
    label(body.region.as_deref(), "region")?;
    let request = pb::CreateCartRequest {
        cart_id: String::new(),
        currency: body.currency,
        customer_id: body.customer_id.map(|id| id.to_string()),
        channel: body.channel,
        region: body.region,
        options: Some(options(&headers)?),
    };
    let reply = send_cart(
        &state.carts,
        (&correlation, &token),
        None,
        request,
        |mut carts, request| async move { carts.create_cart(request).await },
    )
    .await?;
    cart_created(reply)
}

/// Add units of a SKU, priced now for the cart's customer, currency, channel and region.
#[utoipa::path(
    post, path = "/carts/{id}/items", tag = "carts",
    request_body = AddItemBody,
    params(
        ("id" = Uuid, Path, description = "Cart id"),
        ("Shopcore-Cart-Session" = Option<String>, Header, description = "The anonymous cart's session token"),
        ("If-Match" = Option<String>, Header, description = "Expected version (the cart's `ETag`); a mismatch is 409 with `currentVersion`"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key and body add the units once and answer with the first result; another body is 422"),
    ),
    responses(
        (status = 200, description = "The cart as the command left it", body = CartView),
        (status = 400, description = "Invalid input (`field` names it: `sku`, `quantity`); nothing written", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such cart (or one the token does not reach), or a SKU without a price (`field` is `sku`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Version conflict, a cart checked out or merged, or one at its line limit", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The cart has expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key already used with another request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_cart_item(
    State(state): State<AppState>,
    Extension(correlation): Extension<CorrelationId>,
    Extension(principal): Extension<Principal>,
    Extension(token): Extension<BearerToken>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AddItemBody>,
) -> Result<Response, Problem> {
    let write = CartWrite::new(&state, &principal, (&correlation, &token), &headers)?;
    let sku = sku(&body.sku)?;
    write
        .send(
            |options| pb::AddItemRequest {
                cart_id: id.to_string(),
                sku,
                quantity: body.quantity,
                options: Some(options),
            },
            |mut carts, request| async move { carts.add_item(request).await },
        )
        .await
}

/// Set a line's quantity (re-priced at it).
#[utoipa::path(
    put, path = "/carts/{id}/items/{sku}", tag = "carts",
    request_body = ChangeQuantityBody,
    params(
        ("id" = Uuid, Path, description = "Cart id"),
        ("sku" = String, Path, description = "The line's SKU"),
        ("Shopcore-Cart-Session" = Option<String>, Header, description = "The anonymous cart's session token"),
        ("If-Match" = Option<String>, Header, description = "Expected version (the cart's `ETag`); a mismatch is 409 with `currentVersion`"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key and body answer with the first result; another body is 422"),
    ),
    responses(
        (status = 200, description = "The cart as the command left it", body = CartView),
        (status = 400, description = "Invalid input (`field` names it); nothing written", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such cart, or no line of this SKU (`field` is `sku`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Version conflict, or a cart checked out or merged", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The cart has expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key already used with another request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn change_cart_item(
    State(state): State<AppState>,
    Extension(correlation): Extension<CorrelationId>,
    Extension(principal): Extension<Principal>,
    Extension(token): Extension<BearerToken>,
    ApiPath(path): ApiPath<CartItemPath>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ChangeQuantityBody>,
) -> Result<Response, Problem> {
    let write = CartWrite::new(&state, &principal, (&correlation, &token), &headers)?;
    let sku = sku(&path.sku)?;
    write
        .send(
            |options| pb::ChangeItemQuantityRequest {
                cart_id: path.id.to_string(),
                sku,
                quantity: body.quantity,
                options: Some(options),
            },
            |mut carts, request| async move { carts.change_item_quantity(request).await },
        )
        .await
}

/// Remove a line.
#[utoipa::path(
    delete, path = "/carts/{id}/items/{sku}", tag = "carts",
    params(
        ("id" = Uuid, Path, description = "Cart id"),
        ("sku" = String, Path, description = "The line's SKU"),
        ("Shopcore-Cart-Session" = Option<String>, Header, description = "The anonymous cart's session token"),
        ("If-Match" = Option<String>, Header, description = "Expected version (the cart's `ETag`); a mismatch is 409 with `currentVersion`"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key answers with the first result"),
    ),
    responses(
        (status = 200, description = "The cart as the command left it", body = CartView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such cart, or no line of this SKU (`field` is `sku`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Version conflict, or a cart checked out or merged", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The cart has expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key already used with another request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_cart_item(
    State(state): State<AppState>,
    Extension(correlation): Extension<CorrelationId>,
    Extension(principal): Extension<Principal>,
    Extension(token): Extension<BearerToken>,
    ApiPath(path): ApiPath<CartItemPath>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let write = CartWrite::new(&state, &principal, (&correlation, &token), &headers)?;
    let sku = sku(&path.sku)?;
    write
        .send(
            |options| pb::RemoveItemRequest {
                cart_id: path.id.to_string(),
                sku,
                options: Some(options),
            },
            |mut carts, request| async move { carts.remove_item(request).await },
        )
        .await
}

/// Apply a coupon (replacing the cart's coupon, if any). Its use is counted at checkout.
#[utoipa::path(
    post, path = "/carts/{id}/apply-coupon", tag = "carts",
    request_body = ApplyCouponBody,
    params(
        ("id" = Uuid, Path, description = "Cart id"),
        ("Shopcore-Cart-Session" = Option<String>, Header, description = "The anonymous cart's session token"),
        ("If-Match" = Option<String>, Header, description = "Expected version (the cart's `ETag`); a mismatch is 409 with `currentVersion`"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key and body answer with the first result; another body is 422"),
    ),
    responses(
        (status = 200, description = "The cart with the coupon and its discount", body = CartView),
        (status = 400, description = "Invalid input (`field` is `code`); nothing written", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such cart, or no promotion has this code (`field` is `code`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The promotion is not active, outside its window or used up (`field` is `code`); version conflict; a cart checked out or merged", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The cart has expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key already used with another request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn apply_coupon(
    State(state): State<AppState>,
    Extension(correlation): Extension<CorrelationId>,
    Extension(principal): Extension<Principal>,
    Extension(token): Extension<BearerToken>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ApplyCouponBody>,
) -> Result<Response, Problem> {
    let write = CartWrite::new(&state, &principal, (&correlation, &token), &headers)?;
    coupon_code(&body.code)?;
    write
        .send(
            |options| pb::ApplyCouponRequest {
                cart_id: id.to_string(),
                code: body.code,
                options: Some(options),
            },
            |mut carts, request| async move { carts.apply_coupon(request).await },
        )
        .await
}

/// Remove the cart's coupon.
#[utoipa::path(
    delete, path = "/carts/{id}/coupon", tag = "carts",
    params(
        ("id" = Uuid, Path, description = "Cart id"),
        ("Shopcore-Cart-Session" = Option<String>, Header, description = "The anonymous cart's session token"),
        ("If-Match" = Option<String>, Header, description = "Expected version (the cart's `ETag`); a mismatch is 409 with `currentVersion`"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key answers with the first result"),
    ),
    responses(
        (status = 200, description = "The cart without a coupon", body = CartView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The cart has no coupon (`field` is `code`), version conflict, a cart checked out or merged", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The cart has expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key already used with another request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_coupon(
    State(state): State<AppState>,
    Extension(correlation): Extension<CorrelationId>,
    Extension(principal): Extension<Principal>,
    Extension(token): Extension<BearerToken>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let write = CartWrite::new(&state, &principal, (&correlation, &token), &headers)?;
    write
        .send(
            |options| pb::CartRequest {
                cart_id: id.to_string(),
                options: Some(options),
            },
            |mut carts, request| async move { carts.remove_coupon(request).await },
        )
        .await
}

/// Check out: every line re-priced, the coupon checked again and its use recorded with the
/// checkout, atomically.
#[utoipa::path(
    post, path = "/carts/{id}/checkout", tag = "carts",
    request_body(content = CheckoutBody, description = "May be left out (no body): the prices must not have changed"),
    params(
        ("id" = Uuid, Path, description = "Cart id"),
        ("Shopcore-Cart-Session" = Option<String>, Header, description = "The anonymous cart's session token"),
        ("If-Match" = Option<String>, Header, description = "Expected version (the cart's `ETag`); a mismatch is 409 with `currentVersion`"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key and body check out once and answer with the first result; another body is 422"),
    ),
    responses(
        (status = 200, description = "Checked out (`status` is `checkedOut`), at the prices of now", body = CartView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`type` …/prices-changed: unit prices changed since their lines were priced (`priceChanges` lists them; nothing written — check out again with `acceptPriceChanges`); or the coupon no longer applies (`field` is `code`), the cart is empty, checked out or merged, a version conflict", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The cart has expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key already used with another request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn checkout_cart(
    State(state): State<AppState>,
    Extension(correlation): Extension<CorrelationId>,
    Extension(principal): Extension<Principal>,
    Extension(token): Extension<BearerToken>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJsonOrEmpty(body): ApiJsonOrEmpty<CheckoutBody>,
) -> Result<Response, Problem> {
    let write = CartWrite::new(&state, &principal, (&correlation, &token), &headers)?;
    write
        .send(
            |options| pb::CheckoutRequest {
                cart_id: id.to_string(),
                accept_price_changes: body.accept_price_changes,
                options: Some(options),
            },
            |mut carts, request| async move { carts.checkout(request).await },
        )
        .await
}

/// Sign in with an anonymous cart: with the customer's token and the anonymous cart's session
/// token, the cart becomes the customer's, or goes into the customer's open cart.
#[utoipa::path(
    post, path = "/carts/{id}/merge", tag = "carts",
    params(
        ("id" = Uuid, Path, description = "The anonymous cart"),
        ("Shopcore-Cart-Session" = String, Header, description = "The anonymous cart's session token"),
        ("Shopcore-Min-Position" = Option<String>, Header, description = "A `Shopcore-Position` token of the customer's last cart write: the customer's open cart is looked up once the read model has reached it"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key answers with the first result"),
    ),
    responses(
        (status = 200, description = "The merge rule: without an open cart of the customer the anonymous cart becomes theirs (`merged` false); otherwise its lines go into the customer's newest open cart — a SKU in both gets the sum, capped at the line maximum, re-priced for the customer; lines past the line limit are `leftOut`; the anonymous coupon is carried when the customer's cart has none and it still applies — and the anonymous cart is closed (`status` `merged`, `mergedInto`). A repeated merge adds nothing twice", body = MergeResultView),
        (status = 400, description = "No `Shopcore-Cart-Session`, or an invalid header", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such cart, or one the session token does not reach", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A cart checked out or merged elsewhere, or the cart belongs to another customer", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "A cart has expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key already used with another request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The read model has not reached `Shopcore-Min-Position` in time", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn merge_cart(
    State(state): State<AppState>,
    Extension(correlation): Extension<CorrelationId>,
    Extension(principal): Extension<Principal>,
    Extension(token): Extension<BearerToken>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let Some(customer) = principal.customer_id else {
        return Err(Problem::forbidden(Denied {
            scope: MANAGE_MY_ORDERS,
            reason: "signing in merges into a customer's cart: use the customer's token".into(),
        }));
    };
    principal
        .require(MANAGE_MY_ORDERS)
        .map_err(Problem::forbidden)?;
    let session = session_header(&headers)?.ok_or_else(|| {
        Problem::invalid(
            SESSION_HEADER_NAME,
            "the anonymous cart's session token is required",
        )
    })?;
    let options = options(&headers)?;
    single_header(&headers, MIN_POSITION_HEADER, "Shopcore-Min-Position")?;
    let wanted = min_position(&state, &headers).await?;
    let reads = &state.cart_reads;
    if !wanted.is_start() {
        reads
            .wait_for(wanted, state.read_your_writes_timeout)
            .await
            .map_err(read_failed)?;
    }
    let customer_cart = merge_target(
        &state,
        (&correlation, &token),
        &session,
        (id, customer, wanted),
    )
    .await?;
    let request = pb::MergeCartRequest {
        anonymous_cart_id: id.to_string(),
        customer_cart_id: customer_cart.map(|c| c.to_string()),
        options: Some(options),
    };
    let reply = send_cart(
        &state.carts,
        (&correlation, &token),
        Some(&session),
        request,
        |mut carts, request| async move { carts.merge_cart(request).await },
    )
    .await?;
    cart_merged(reply)
}

/// The customer's cart the anonymous cart `id` goes into: the one it went into already (a
/// repeated merge must not pour the lines into a second cart), none when it is the customer's
/// own already (nothing to merge: it stays theirs), else the customer's newest open cart.
///
/// A checked-out or expired anonymous cart, or one merged into another customer's cart, is
/// refused here, before any command: the command service adds the anonymous lines to the
/// customer's cart first and closes the anonymous cart second, which such a cart refuses —
/// after its lines went in.
async fn merge_target(
    state: &AppState,
    caller: (&CorrelationId, &BearerToken),
    session: &str,
    (id, customer, wanted): (Uuid, Uuid, LogPosition),
) -> Result<Option<Uuid>, Problem> {
    let reads = &state.cart_reads;
    // As fresh as MySQL is (and at least at the caller's position): the Redis copy may lag.
    let floor = wanted.max(reads.position().await.map_err(read_failed)?);
    let anonymous = reads.get(id, floor).await.map_err(read_failed)?;
    if let Some(anonymous) = &anonymous {
        // Merged already: into this customer's cart (a repeat), or another's (closed to them).
        let merged_into_theirs = match anonymous.merged_into {
            Some(into) => reads
                .get(into, floor)
                .await
                .map_err(read_failed)?
                .is_some_and(|into| into.customer_id == Some(customer)),
            None => false,
        };
        let closed = match anonymous.status {
            CartStatusView::CheckedOut => Some(Problem::new(
                ErrorCode::FailedPrecondition,
                "cart is checked out and can no longer change",
            )),
            CartStatusView::Expired => Some(Problem::new(ErrorCode::Gone, "cart has expired")),
            CartStatusView::Merged if !merged_into_theirs => Some(Problem::new(
                ErrorCode::FailedPrecondition,
                "cart was merged into another cart and can no longer change",
            )),
            CartStatusView::Open | CartStatusView::Merged => None,
        };
        if let Some(closed) = closed {
            // Only to a caller that reaches the cart (else 404, as for any cart out of reach).
            let request = pb::CartRequest {
                cart_id: id.to_string(),
                options: None,
            };
            send_cart(
                &state.carts,
                caller,
                Some(session),
                request,
                |mut carts, request| async move { carts.get_cart(request).await },
            )
            .await?;
            return Err(closed);
        }
        if let Some(into) = anonymous.merged_into {
            return Ok(Some(into));
        }
        if anonymous.customer_id == Some(customer) {
            return Ok(None);
        }
    }
    Ok(reads
        .open_cart_of_customer(customer)
        .await
        .map_err(read_failed)?
        .filter(|cart| *cart != id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_refused_as_the_document_states_without_repairs() {
        assert_eq!(sku("TEE-M.2_b").ok().as_deref(), Some("TEE-M.2_b"));
        for bad in [" TEE", "TEE ", "", "T\u{e9}E", "a/b", &"S".repeat(65)] {
            assert_eq!(sku(bad).expect_err(bad).field.as_deref(), Some("sku"));
        }
        assert!(sku(&"S".repeat(64)).is_ok());
        assert!(coupon_code("save10").is_ok());
        for bad in [" SAVE10", "AB", "SAVE 10", &"C".repeat(33)] {
            assert_eq!(
                coupon_code(bad).expect_err(bad).field.as_deref(),
                Some("code")
            );
        }
        assert!(currency("EUR").is_ok());
        for bad in ["eur", " EUR", "XXX", ""] {
            assert!(currency(bad).is_err(), "{bad}");
        }
        assert!(label(Some(&"é".repeat(64)), "channel").is_ok());
        assert!(label(Some(&"é".repeat(65)), "channel").is_err());
        assert!(label(Some("web\n"), "channel").is_err());
    }

    #[test]
    fn if_match_and_idempotency_keys_are_sent_once() {
        let mut headers = HeaderMap::new();
        headers.append(header::IF_MATCH, "\"2\"".parse().expect("header"));
        assert_eq!(
            options(&headers).ok().and_then(|o| o.expected_version),
            Some(2)
        );
        headers.append(header::IF_MATCH, "\"3\"".parse().expect("header"));
        assert_eq!(
            options(&headers).expect_err("twice").field.as_deref(),
            Some("If-Match")
        );
        let mut headers = HeaderMap::new();
        headers.append(header::IF_MATCH, "three".parse().expect("header"));
        let problem = options(&headers).expect_err("not a version");
        assert!(
            problem.detail.contains("cart's version"),
            "{}",
            problem.detail
        );
    }
}
