//! How the cart routes talk to `CartCommands`: a command sent with the caller's token, the
//! correlation id and the cart's session token (gRPC metadata `x-cart-session`); its result as
//! the REST cart ([`CartView`], the same shape the read model serves); its refusal as a
//! problem — with the changed prices of a refused checkout, read from the status's
//! `x-rejection-detail-bin` metadata.

use std::future::Future;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use shopcore_event_store::LogPosition;
use shopcore_projections::cart::{CartLineView, CartStatusView, CartView, CouponKind, CouponView};
use shopcore_proto::cart::v1 as pb;
use shopcore_proto::cart::v1::cart_commands_client::CartCommandsClient;
use shopcore_proto::common::v1::CommandResult;
use shopcore_proto::ErrorCode;
use tonic::transport::Channel;
use uuid::Uuid;

use super::carts::SESSION_HEADER_NAME;
use super::customers::{etag, grpc_request};
use super::pricing_input::money_view;
use super::POSITION_HEADER;
use crate::auth::BearerToken;
use crate::correlation::CorrelationId;
use crate::problem::{PriceChangeView, Problem};

/// The gRPC metadata key of the session token (`commands::grpc::cart::CART_SESSION`).
const CART_SESSION_METADATA: &str = "x-cart-session";
/// The binary metadata of a refused command with its details (`commands::grpc::REJECTION_DETAIL`).
const REJECTION_DETAIL: &str = "x-rejection-detail-bin";

/// The body of `POST /carts`: the cart, and once — in the answer that created it — its
/// session token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedCartView {
    #[serde(flatten)]
    pub cart: CartView,
    /// The anonymous cart's bearer secret: send it as `Shopcore-Cart-Session` to reach the
    /// cart. Only its SHA-256 is stored; it is in this answer only (not in a replay of the
    /// request with the same `Idempotency-Key`, nor anywhere else).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "cs_2f1c…")]
    pub session_token: Option<String>,
}

/// The answer of `POST /carts/{id}/merge`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MergeResultView {
    /// The customer's cart after the sign-in: the anonymous cart itself (`merged` false), or
    /// the customer's open cart with the anonymous lines in it (`merged` true).
    pub cart: CartView,
    pub merged: bool,
    /// SKUs of the anonymous cart that did not fit (the cart's line limit).
    pub left_out: Vec<String>,
}

/// Sends a cart command with the caller's token, correlation id and trace context, and the
/// session token when there is one; a refusal becomes its problem ([`refusal`]).
pub(crate) async fn send_cart<M, R, F>(
    client: &CartCommandsClient<Channel>,
    (correlation, token): (&CorrelationId, &BearerToken),
    session: Option<&str>,
    message: M,
    send: impl FnOnce(CartCommandsClient<Channel>, tonic::Request<M>) -> F,
) -> Result<R, Problem>
where
    F: Future<Output = Result<tonic::Response<R>, tonic::Status>>,
{
    let mut request = grpc_request(message, correlation, token);
    if let Some(value) = session.and_then(|s| s.parse().ok()) {
        request.metadata_mut().insert(CART_SESSION_METADATA, value);
    }
    send(client.clone(), request)
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| refusal(&status))
}

/// The problem of a refused cart command: the shared mapping, fields named as REST names them
/// (the path's `id`, the `Shopcore-Cart-Session` header), and for a checkout that found other
/// prices their list (`priceChanges`).
pub(crate) fn refusal(status: &tonic::Status) -> Problem {
    let mut problem = Problem::from_status(status);
    problem.field = problem.field.map(|field| match field.as_str() {
        "cartId" | "anonymousCartId" => "id".to_owned(),
        CART_SESSION_METADATA => SESSION_HEADER_NAME.to_owned(),
        _ => field,
    });
    if problem.status == ErrorCode::PricesChanged.http_status()
        && problem.problem_type == Problem::new(ErrorCode::PricesChanged, "").problem_type
    {
        problem.price_changes = Some(price_changes(status));
    }
    problem
}

/// The changes a refused checkout reported (JSON in the binary metadata; none if unreadable).
fn price_changes(status: &tonic::Status) -> Vec<PriceChangeView> {
    let detail = status
        .metadata()
        .get_bin(REJECTION_DETAIL)
        .and_then(|value| value.to_bytes().ok());
    match detail.map(|bytes| serde_json::from_slice::<Vec<PriceChangeView>>(&bytes)) {
        Some(Ok(changes)) => changes,
        Some(Err(error)) => {
            tracing::warn!(%error, "unreadable price changes in a refused checkout");
            Vec::new()
        }
        None => Vec::new(),
    }
}

fn incomplete(what: &str) -> Problem {
    Problem::internal(&format!(
        "the command service sent an incomplete cart result: {what}"
    ))
}

/// An instant of the wire (RFC 3339; chrono's own form for instants past year 9999, such as
/// the expiry of a cart under a huge TTL).
fn instant(value: &str, what: &str) -> Result<DateTime<Utc>, Problem> {
    DateTime::parse_from_rfc3339(value)
        .map(|at| at.with_timezone(&Utc))
        .or_else(|_| value.parse::<DateTime<Utc>>())
        .map_err(|_| incomplete(what))
}

fn uuid(value: &str, what: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(value).map_err(|_| incomplete(what))
}

fn status(value: &str) -> Result<CartStatusView, Problem> {
    Ok(match value {
        "open" => CartStatusView::Open,
        "checkedOut" => CartStatusView::CheckedOut,
        "expired" => CartStatusView::Expired,
        "merged" => CartStatusView::Merged,
        _ => return Err(incomplete("status")),
    })
}

fn line_view(line: pb::CartLine) -> Result<CartLineView, Problem> {
    let price = line.price.ok_or_else(|| incomplete("line price"))?;
    Ok(CartLineView {
        sku: line.sku,
        quantity: line.quantity,
        unit_price: money_view(price.unit_price),
        list_price: money_view(price.list_price),
        applied_rules: price
            .applied_rules
            .iter()
            .map(|id| uuid(id, "applied rule"))
            .collect::<Result<_, _>>()?,
        priced_at: instant(&price.priced_at, "pricedAt")?,
        line_total: money_view(line.line_total),
        discount: money_view(line.discount),
        total: money_view(line.total),
    })
}

fn coupon_view(coupon: pb::AppliedCoupon) -> Result<CouponView, Problem> {
    let kind = match coupon.kind.as_str() {
        "percentOff" => CouponKind::PercentOff,
        "amountOff" => CouponKind::AmountOff,
        _ => return Err(incomplete("coupon kind")),
    };
    Ok(CouponView {
        promotion_id: uuid(&coupon.promotion_id, "promotionId")?,
        code: coupon.code,
        kind,
        percent: coupon.percent,
        amount: coupon.amount.map(|m| money_view(Some(m))),
    })
}

/// The REST cart of a command's result. The command service's cart carries no `updatedAt`
/// nor `checkedOutAt`: they are `now`, the moment the gateway got the answer (the read model
/// has the event's recorded instant, a few milliseconds earlier).
pub(crate) fn cart_view(
    result: Option<CommandResult>,
    cart: Option<pb::Cart>,
    now: DateTime<Utc>,
) -> Result<CartView, Problem> {
    let (Some(result), Some(cart)) = (result, cart) else {
        return Err(incomplete("no result or cart"));
    };
    let position: LogPosition = result
        .log_position
        .parse()
        .map_err(|_| incomplete("logPosition"))?;
    let status = status(&cart.status)?;
    Ok(CartView {
        cart_id: uuid(&cart.cart_id, "cartId")?,
        customer_id: cart
            .customer_id
            .as_deref()
            .map(|id| uuid(id, "customerId"))
            .transpose()?,
        currency: cart.currency,
        channel: cart.channel,
        region: cart.region,
        status,
        lines: cart
            .lines
            .into_iter()
            .map(line_view)
            .collect::<Result<_, _>>()?,
        coupon: cart.coupon.map(coupon_view).transpose()?,
        subtotal: money_view(cart.subtotal),
        discount: money_view(cart.discount),
        total: money_view(cart.total),
        created_at: instant(&cart.created_at, "createdAt")?,
        updated_at: now,
        expires_at: instant(&cart.expires_at, "expiresAt")?,
        checked_out_at: (status == CartStatusView::CheckedOut).then_some(now),
        merged_into: cart
            .merged_into
            .as_deref()
            .map(|id| uuid(id, "mergedInto"))
            .transpose()?,
        version: result.version,
        position,
    })
}

/// The headers of a write's answer: `ETag` (the cart's version), `Shopcore-Position` (the
/// write's log position, which a read can wait for), no caching.
fn write_headers(response: &mut Response, view: &CartView) {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&view.position.to_string()) {
        headers.insert(POSITION_HEADER, value);
    }
    headers.insert(header::ETAG, etag(view.version));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// Answers a cart command from its own result (no read model is waited for, so a committed
/// command never answers 503).
pub(crate) fn cart_written(status: StatusCode, reply: pb::CartResult) -> Result<Response, Problem> {
    let view = cart_view(reply.result, reply.cart, Utc::now())?;
    let mut response = (status, axum::Json(&view)).into_response();
    write_headers(&mut response, &view);
    Ok(response)
}

/// Answers `POST /carts`: 201 with `Location` and, for the request that created the cart, its
/// session token.
pub(crate) fn cart_created(reply: pb::CartResult) -> Result<Response, Problem> {
    let cart = cart_view(reply.result, reply.cart, Utc::now())?;
    let body = CreatedCartView {
        session_token: Some(reply.session_token).filter(|t| !t.is_empty()),
        cart,
    };
    let mut response = (StatusCode::CREATED, axum::Json(&body)).into_response();
    write_headers(&mut response, &body.cart);
    if let Ok(location) = HeaderValue::from_str(&format!("/carts/{}", body.cart.cart_id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Answers `POST /carts/{id}/merge` with the customer's cart.
pub(crate) fn cart_merged(reply: pb::MergeCartResult) -> Result<Response, Problem> {
    let result = reply.cart.ok_or_else(|| incomplete("no merged cart"))?;
    let body = MergeResultView {
        cart: cart_view(result.result, result.cart, Utc::now())?,
        merged: reply.merged,
        left_out: reply.left_out,
    };
    let mut response = axum::Json(&body).into_response();
    write_headers(&mut response, &body.cart);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(amount_minor: i64) -> Option<shopcore_proto::pricing::v1::Money> {
        Some(shopcore_proto::pricing::v1::Money {
            amount_minor,
            currency: "EUR".into(),
        })
    }

    #[test]
    fn a_refused_checkout_lists_the_changed_prices_in_the_rest_money_shape() {
        let mut status = shopcore_proto::error_status(
            ErrorCode::PricesChanged,
            "lines: 1 price(s) changed since they were added; accept them to check out",
            Some("lines"),
            None,
        );
        let detail = r#"[{"sku":"TEE-M","previousUnitPrice":{"amount":2000,"currency":"EUR"},"unitPrice":{"amount":1600,"currency":"EUR"}}]"#;
        status.metadata_mut().insert_bin(
            REJECTION_DETAIL,
            tonic::metadata::MetadataValue::from_bytes(detail.as_bytes()),
        );
        let problem = refusal(&status);
        assert_eq!(problem.status, 409);
        assert_eq!(
            problem.problem_type,
            "https://shopcore.dev/problems/prices-changed"
        );
        let changes = problem.price_changes.expect("changes");
        assert_eq!(changes[0].sku, "TEE-M");
        assert_eq!(changes[0].previous_unit_price.amount, 2000);
        assert_eq!(changes[0].unit_price.amount, 1600);
        assert_eq!(changes[0].unit_price.currency, "EUR");
    }

    #[test]
    fn refusals_name_the_fields_as_rest_does() {
        let status = shopcore_proto::error_status(
            ErrorCode::NotFound,
            "cartId: no cart x",
            Some("cartId"),
            None,
        );
        assert_eq!(refusal(&status).field.as_deref(), Some("id"));
        let status = shopcore_proto::error_status(
            ErrorCode::InvalidArgument,
            "x-cart-session: required",
            Some("x-cart-session"),
            None,
        );
        assert_eq!(refusal(&status).field.as_deref(), Some(SESSION_HEADER_NAME));
        let status = shopcore_proto::error_status(
            ErrorCode::VersionConflict,
            "expected version 2, the cart is at 3",
            None,
            Some(3),
        );
        let problem = refusal(&status);
        assert_eq!((problem.status, problem.current_version), (409, Some(3)));
        assert!(problem.price_changes.is_none());
    }

    #[test]
    fn a_command_result_becomes_the_rest_cart() {
        let now = Utc::now();
        let cart_id = Uuid::now_v7();
        let rule = Uuid::now_v7();
        let cart = pb::Cart {
            cart_id: cart_id.to_string(),
            currency: "EUR".into(),
            status: "checkedOut".into(),
            lines: vec![pb::CartLine {
                sku: "CAP".into(),
                quantity: 2,
                price: Some(pb::PriceSnapshot {
                    unit_price: eur(1_500),
                    list_price: eur(1_800),
                    applied_rules: vec![rule.to_string()],
                    priced_at: "2026-11-30T10:00:00Z".into(),
                }),
                line_total: eur(3_000),
                discount: eur(300),
                total: eur(2_700),
            }],
            coupon: Some(pb::AppliedCoupon {
                code: "SAVE10".into(),
                promotion_id: Uuid::nil().to_string(),
                kind: "percentOff".into(),
                percent: Some("10".into()),
                amount: None,
            }),
            subtotal: eur(3_000),
            discount: eur(300),
            total: eur(2_700),
            created_at: "2026-11-30T09:59:00Z".into(),
            // The expiry of a cart under a TTL that saturates chrono.
            expires_at: DateTime::<Utc>::MAX_UTC
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            ..Default::default()
        };
        let result = CommandResult {
            aggregate_id: cart_id.to_string(),
            version: 4,
            log_position: "1042-17".into(),
            ..Default::default()
        };
        let view = cart_view(Some(result), Some(cart), now).expect("a view");
        assert_eq!(view.cart_id, cart_id);
        assert_eq!(view.status, CartStatusView::CheckedOut);
        assert_eq!(view.checked_out_at, Some(now));
        assert_eq!(view.lines[0].applied_rules, vec![rule]);
        assert_eq!(view.lines[0].total.amount, 2_700);
        assert_eq!(
            view.coupon.as_ref().map(|c| c.kind),
            Some(CouponKind::PercentOff)
        );
        assert_eq!(view.expires_at, DateTime::<Utc>::MAX_UTC);
        assert_eq!(
            (view.version, view.position.to_string()),
            (4, "1042-17".to_owned())
        );
    }
}
