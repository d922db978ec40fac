//! The cart part of the GraphQL schema: `cart(id)` and `cartBySession(token)` over the cart
//! read model, with the access rules of `GET /carts/{id}` and `GET /carts/by-session/{token}`
//! (`routes::carts`): platform tokens with `view_orders` or `manage_orders` read every cart,
//! `manage_my_orders` its customer's carts and anonymous carts by session token — sent as the
//! request's `Shopcore-Cart-Session` header for `cart(id)`. A cart out of reach is `null`, as
//! one that does not exist; a token without any cart scope is a `FORBIDDEN` error.
//! `Shopcore-Min-Position` applies as in REST.

use async_graphql::{Context, Object, SimpleObject, ID};
use shopcore_auth::Principal;
use shopcore_domain::cart::session_token_hash;
use shopcore_event_store::LogPosition;
use shopcore_projections::cart::{CartLineView, CartView, CouponKind, CouponView};
use uuid::Uuid;

use super::pricing::{problem_error, Money, RequestedPosition};
use crate::auth::BearerToken;
use crate::correlation::CorrelationId;
use crate::problem::Problem;
use crate::routes::carts::{cart_reach, reachable_cart, read_failed};
use crate::routes::AppState;

/// The `Shopcore-Cart-Session` header of the request, if it sent one.
#[derive(Debug, Clone)]
pub struct CartSession(pub String);

/// One line of a cart, at its stored price.
#[derive(SimpleObject)]
pub struct CartLine {
    pub sku: String,
    pub quantity: i32,
    pub unit_price: Money,
    pub list_price: Money,
    /// The price rules that made the unit price, in the order they applied.
    pub applied_rule_ids: Vec<ID>,
    pub priced_at: String,
    /// `unitPrice × quantity`.
    pub line_total: Money,
    /// This line's share of the coupon discount.
    pub discount: Money,
    pub total: Money,
}

impl From<CartLineView> for CartLine {
    fn from(line: CartLineView) -> Self {
        Self {
            sku: line.sku,
            quantity: i32::try_from(line.quantity).unwrap_or(i32::MAX),
            unit_price: line.unit_price.into(),
            list_price: line.list_price.into(),
            applied_rule_ids: line
                .applied_rules
                .iter()
                .map(|id| ID(id.to_string()))
                .collect(),
            priced_at: line.priced_at.to_rfc3339(),
            line_total: line.line_total.into(),
            discount: line.discount.into(),
            total: line.total.into(),
        }
    }
}

/// The coupon on a cart: `percentOff` with `percent`, or `amountOff` with `amount`.
#[derive(SimpleObject)]
pub struct CartCoupon {
    pub code: String,
    pub promotion_id: ID,
    /// percentOff or amountOff.
    pub kind: String,
    pub percent: Option<String>,
    pub amount: Option<Money>,
}

impl From<CouponView> for CartCoupon {
    fn from(coupon: CouponView) -> Self {
        Self {
            code: coupon.code,
            promotion_id: ID(coupon.promotion_id.to_string()),
            kind: match coupon.kind {
                CouponKind::PercentOff => "percentOff",
                CouponKind::AmountOff => "amountOff",
            }
            .to_owned(),
            percent: coupon.percent,
            amount: coupon.amount.map(Money::from),
        }
    }
}

/// A cart as the read model has it (an open cart past `expiresAt` reads as `expired`).
#[derive(SimpleObject)]
pub struct Cart {
    pub id: ID,
    pub customer_id: Option<ID>,
    pub currency: String,
    pub channel: Option<String>,
    pub region: Option<String>,
    /// open, checkedOut, expired or merged.
    pub status: String,
    /// By SKU, in byte order.
    pub lines: Vec<CartLine>,
    pub coupon: Option<CartCoupon>,
    pub subtotal: Money,
    pub discount: Money,
    pub total: Money,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: String,
    pub checked_out_at: Option<String>,
    pub merged_into: Option<ID>,
    /// The cart's version (its `ETag` in REST).
    pub version: i64,
    /// The log position of its latest event (a `Shopcore-Position` token).
    pub position: String,
}

impl From<CartView> for Cart {
    fn from(view: CartView) -> Self {
        Self {
            id: ID(view.cart_id.to_string()),
            customer_id: view.customer_id.map(|id| ID(id.to_string())),
            currency: view.currency,
            channel: view.channel,
            region: view.region,
            status: view.status.as_str().to_owned(),
            lines: view.lines.into_iter().map(CartLine::from).collect(),
            coupon: view.coupon.map(CartCoupon::from),
            subtotal: view.subtotal.into(),
            discount: view.discount.into(),
            total: view.total.into(),
            created_at: view.created_at.to_rfc3339(),
            updated_at: view.updated_at.to_rfc3339(),
            expires_at: view.expires_at.to_rfc3339(),
            checked_out_at: view.checked_out_at.map(|at| at.to_rfc3339()),
            merged_into: view.merged_into.map(|id| ID(id.to_string())),
            version: i64::try_from(view.version).unwrap_or(i64::MAX),
            position: view.position.to_string(),
        }
    }
}

#[derive(Default)]
pub struct CartQuery;

fn requested(ctx: &Context<'_>) -> LogPosition {
    ctx.data_opt::<RequestedPosition>()
        .map_or(LogPosition::START, |p| p.0)
}

#[Object]
impl CartQuery {
    /// A cart, with the access rules of `GET /carts/{id}` (an anonymous cart needs its session
    /// token in the request's `Shopcore-Cart-Session` header); null when there is none the
    /// token reaches.
    async fn cart(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Cart>> {
        let principal = ctx.data::<Principal>()?;
        cart_reach(principal)
            .map_err(Problem::forbidden)
            .map_err(problem_error)?;
        let id = Uuid::parse_str(&id)
            .map_err(|_| problem_error(Problem::invalid("id", "must be a UUID")))?;
        let state = ctx.data::<AppState>()?;
        let token = ctx.data::<BearerToken>()?;
        let correlation = ctx
            .data_opt::<CorrelationId>()
            .cloned()
            .unwrap_or_else(|| CorrelationId(Uuid::now_v7().to_string(), None));
        let session = ctx.data_opt::<CartSession>().map(|s| s.0.as_str());
        let caller = (principal, token, &correlation);
        let view = reachable_cart(state, caller, id, session, requested(ctx))
            .await
            .map_err(problem_error)?;
        Ok(view.map(Cart::from))
    }

    /// The open cart of a session token, as `GET /carts/by-session/{token}`: anonymous, or the
    /// caller's own; null when there is none.
    async fn cart_by_session(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> async_graphql::Result<Option<Cart>> {
        let principal = ctx.data::<Principal>()?;
        let reach = cart_reach(principal)
            .map_err(Problem::forbidden)
            .map_err(problem_error)?;
        let state = ctx.data::<AppState>()?;
        let wanted = requested(ctx);
        if !wanted.is_start() {
            state
                .cart_reads
                .wait_for(wanted, state.read_your_writes_timeout)
                .await
                .map_err(|e| problem_error(read_failed(e)))?;
        }
        let view = state
            .cart_reads
            .by_session_hash(&session_token_hash(&token))
            .await
            .map_err(|e| problem_error(read_failed(e)))?;
        Ok(view
            .filter(|view| reach.session_reaches(view))
            .map(Cart::from))
    }
}
