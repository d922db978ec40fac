//! `CartCommands`: the Cart aggregate over gRPC.
//!
//! **Who reaches a cart.** A platform token with `manage_orders` reaches every cart (and
//! `view_orders` reads any). A token with `manage_my_orders` reaches the carts of its own
//! customer, and an anonymous cart when the request carries the cart's session token in
//! `x-cart-session` (compared by SHA-256; the token is never stored nor logged). A cart the
//! caller may not reach is NOT_FOUND, as one that does not exist: ids reveal nothing.
//!
//! Prices come from the pricing index of this process ([`crate::cart::IndexPricing`]); a
//! checkout's coupon is redeemed in the checkout's own transaction
//! ([`crate::cart::CouponRedemption`]).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use shopcore_auth::scopes::{MANAGE_MY_ORDERS, MANAGE_ORDERS, VIEW_ORDERS};
use shopcore_auth::Principal;
use shopcore_domain::cart::{
    session_token_hash, Cart, CartCommand, CartStatus, MergeSource, NewCart,
};
use shopcore_domain::customer::Customer;
use shopcore_domain::money::Money;
use shopcore_domain::pricing::Discount;
use shopcore_proto::cart::v1 as pb;
use shopcore_proto::cart::v1::cart_commands_server::CartCommands;
use shopcore_proto::{error_status, ErrorCode};

use super::pricing::{currency, instant_to_pb, money_to_pb};
use super::{
    command_requests, command_result, denied, execute, new_id, parse_uuid, principal,
    CommandRequest as _,
};
use crate::grpc::customer::customer_snapshots;
use crate::pipeline::{CommandOutcome, CommandPipeline};

/// The metadata key of the cart's session token.
pub const CART_SESSION: &str = "x-cart-session";

command_requests!(
    pb::CreateCartRequest,
    pb::AddItemRequest,
    pb::ChangeItemQuantityRequest,
    pb::RemoveItemRequest,
    pb::ApplyCouponRequest,
    pb::CartRequest,
    pb::CheckoutRequest,
    pb::MergeCartRequest,
);

/// The gRPC service of the Cart aggregate.
pub struct CartService {
    pipeline: Arc<CommandPipeline<Cart>>,
}

impl CartService {
    pub fn new(pipeline: Arc<CommandPipeline<Cart>>) -> Self {
        Self { pipeline }
    }
}

/// A new session token: 244 random bits (two v4 UUIDs), as 64 hex digits with a prefix that
/// makes it recognisable in a leak scan.
fn new_session_token() -> String {
    format!("cs_{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

fn not_found(cart_id: &str) -> Status {
    error_status(
        ErrorCode::NotFound,
        format!("cartId: no cart {cart_id}"),
        Some("cartId"),
        None,
    )
}

/// The session token a request carries, if any.
fn session_of(metadata: &MetadataMap) -> Option<&str> {
    metadata
        .get(CART_SESSION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// What a caller wants to do with a cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Read,
    Write,
}

/// Whether `caller` reaches `cart` (Err: refused, as NOT_FOUND unless it lacks every scope).
fn reach(
    caller: &Principal,
    metadata: &MetadataMap,
    cart_id: &str,
    cart: &Cart,
    purpose: Use,
) -> Result<(), Status> {
    let platform = caller.customer_id.is_none()
        && (caller.has(MANAGE_ORDERS) || (purpose == Use::Read && caller.has(VIEW_ORDERS)));
    // Scopes first: a token that may reach no cart learns nothing about which ids exist.
    if !platform && !caller.has(MANAGE_MY_ORDERS) {
        let scope = if purpose == Use::Read {
            VIEW_ORDERS
        } else {
            MANAGE_ORDERS
        };
        return Err(denied(shopcore_auth::Denied {
            scope,
            reason: format!("the token lacks the scope {scope} or {MANAGE_MY_ORDERS}"),
        }));
    }
    if cart.id.is_none() {
        return Err(not_found(cart_id));
    }
    if platform {
        return Ok(());
    }
    let own = caller.customer_id.is_some() && cart.customer_id == caller.customer_id;
    let by_session = session_of(metadata).is_some_and(|token| {
        session_token_hash(token) == cart.session_token_hash
            && (cart.customer_id.is_none() || cart.customer_id == caller.customer_id)
    });
    if own || by_session {
        Ok(())
    } else {
        Err(not_found(cart_id))
    }
}

fn status_of(cart: &Cart, now: DateTime<Utc>) -> &'static str {
    match cart.status {
        CartStatus::Open if cart.expires_at.is_some_and(|at| now >= at) => "expired",
        CartStatus::Open => "open",
        CartStatus::CheckedOut => "checkedOut",
        CartStatus::Expired => "expired",
        CartStatus::Merged => "merged",
    }
}

fn discount_to_pb(code: &str, promotion_id: Uuid, discount: &Discount) -> pb::AppliedCoupon {
    let (kind, percent, amount) = match discount {
        Discount::PercentOff { percent } => ("percentOff", Some(percent.to_decimal_string()), None),
        Discount::AmountOff { amount } => ("amountOff", None, Some(money_to_pb(*amount))),
    };
    pb::AppliedCoupon {
        code: code.to_owned(),
        promotion_id: promotion_id.to_string(),
        kind: kind.to_owned(),
        percent,
        amount,
    }
}

/// The cart on the wire, with its totals.
pub fn cart_to_pb(cart_id: &str, cart: &Cart) -> pb::Cart {
    let totals = cart.totals().ok();
    let zero = cart.currency.map(Money::zero);
    let money = |m: Option<Money>| m.or(zero).map(money_to_pb);
    let lines = cart
        .lines
        .iter()
        .map(|(sku, line)| {
            let total = totals
                .as_ref()
                .and_then(|t| t.lines.iter().find(|l| &l.sku == sku));
            pb::CartLine {
                sku: sku.clone(),
                quantity: line.quantity,
                price: Some(pb::PriceSnapshot {
                    unit_price: Some(money_to_pb(line.price.unit_price)),
                    list_price: Some(money_to_pb(line.price.list_price)),
                    applied_rules: line
                        .price
                        .applied_rules
                        .iter()
                        .map(Uuid::to_string)
                        .collect(),
                    priced_at: instant_to_pb(line.price.priced_at),
                }),
                line_total: money(total.map(|t| t.line_total)),
                discount: money(total.map(|t| t.discount)),
                total: money(total.map(|t| t.total)),
            }
        })
        .collect();
    pb::Cart {
        cart_id: cart
            .id
            .map_or_else(|| cart_id.to_owned(), |id| id.to_string()),
        customer_id: cart.customer_id.map(|id| id.to_string()),
        currency: cart
            .currency
            .map(|c| c.code().to_owned())
            .unwrap_or_default(),
        channel: cart.channel.clone(),
        region: cart.region.clone(),
        status: status_of(cart, Utc::now()).to_owned(),
        lines,
        coupon: cart
            .coupon
            .as_ref()
            .map(|c| discount_to_pb(&c.code, c.promotion_id, &c.discount)),
        subtotal: money(totals.as_ref().map(|t| t.subtotal)),
        discount: money(totals.as_ref().map(|t| t.discount)),
        total: money(totals.as_ref().map(|t| t.total)),
        created_at: cart.created_at.map(instant_to_pb).unwrap_or_default(),
        expires_at: cart.expires_at.map(instant_to_pb).unwrap_or_default(),
        merged_into: cart.merged_into.map(|id| id.to_string()),
        price_changes: Vec::new(),
    }
}

fn cart_result(outcome: &CommandOutcome<Cart>) -> pb::CartResult {
    pb::CartResult {
        result: Some(command_result(outcome.aggregate_id.clone(), outcome)),
        cart: Some(cart_to_pb(&outcome.aggregate_id, &outcome.state)),
        session_token: String::new(),
    }
}

fn quantity(value: u32) -> Result<u32, Status> {
    if value == 0 {
        return Err(super::invalid("quantity", "must be 1 or more"));
    }
    Ok(value)
}

impl CartService {
    /// Loads the cart `cart_id` names and checks that the caller reaches it.
    async fn reach(
        &self,
        caller: &Principal,
        metadata: &MetadataMap,
        cart_id: &str,
        purpose: Use,
    ) -> Result<(Uuid, Cart), Status> {
        let id = parse_uuid(cart_id, "cartId")?;
        let loaded = self
            .pipeline
            .store()
            .load::<Cart>(&crate::cart::cart_snapshots(), &id.to_string())
            .await
            .map_err(|error| super::command_status(error.into()))?;
        reach(caller, metadata, cart_id, &loaded.aggregate, purpose)?;
        Ok((id, loaded.aggregate))
    }

    /// Runs `command` on the cart the request names, for a caller that reaches it.
    async fn run<M: super::CommandRequest>(
        &self,
        command_type: &'static str,
        request: Request<M>,
        cart_id: impl FnOnce(&M) -> &str,
        command: impl FnOnce(M, DateTime<Utc>) -> Result<CartCommand, Status>,
    ) -> Result<Response<pb::CartResult>, Status> {
        let (metadata, extensions, message) = request.into_parts();
        let caller = principal(&extensions)?;
        let (id, _) = self
            .reach(caller, &metadata, cart_id(&message), Use::Write)
            .await?;
        let (message, options, fingerprint) = message.split();
        let command = command(message, Utc::now())?;
        let outcome = execute(
            &self.pipeline,
            command_type,
            (caller, &metadata),
            (options, fingerprint),
            &id.to_string(),
            command,
        )
        .await?;
        Ok(Response::new(cart_result(&outcome)))
    }
}

#[tonic::async_trait]
impl CartCommands for CartService {
    async fn create_cart(
        &self,
        request: Request<pb::CreateCartRequest>,
    ) -> Result<Response<pb::CartResult>, Status> {
        let (metadata, extensions, message) = request.into_parts();
        let caller = principal(&extensions)?;
        let customer_id = match caller.customer_id {
            Some(own) => {
                caller.require(MANAGE_MY_ORDERS).map_err(denied)?;
                Some(own)
            }
            None if caller.has(MANAGE_ORDERS) => message
                .customer_id
                .as_deref()
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(|id| parse_uuid(id, "customerId"))
                .transpose()?,
            // A storefront's anonymous session: guest carts only.
            None => {
                caller.require(MANAGE_MY_ORDERS).map_err(denied)?;
                if message.customer_id.is_some() {
                    return Err(super::invalid(
                        "customerId",
                        "only a platform token with manage_orders opens a cart for a customer",
                    ));
                }
                None
            }
        };
        let (message, options, fingerprint) = message.split();
        let cart_id = new_id(&message.cart_id, "cartId")?;
        let currency = currency(&message.currency, "currency")?;
        if let Some(customer) = customer_id {
            let loaded = self
                .pipeline
                .store()
                .load::<Customer>(&customer_snapshots(), &customer.to_string())
                .await
                .map_err(|error| super::command_status(error.into()))?;
            if loaded.version == 0 {
                return Err(error_status(
                    ErrorCode::NotFound,
                    format!("customerId: no customer {customer}"),
                    Some("customerId"),
                    None,
                ));
            }
        }
        // A retry with the same idempotency key gets the first cart, not a second token: the
        // key's fingerprint covers the request, and the reply of a replay carries no token.
        let session_token = new_session_token();
        let command = CartCommand::CreateCart(NewCart {
            cart_id,
            session_token: session_token.clone(),
            customer_id,
            currency,
            channel: message.channel,
            region: message.region,
            now: Utc::now(),
        });
        let outcome = execute(
            &self.pipeline,
            "cart.create",
            (caller, &metadata),
            (options, fingerprint),
            &cart_id.to_string(),
            command,
        )
        .await?;
        let mut reply = cart_result(&outcome);
        if !outcome.replayed && outcome.events_written > 0 {
            reply.session_token = session_token;
        }
        Ok(Response::new(reply))
    }

    async fn add_item(
        &self,
        request: Request<pb::AddItemRequest>,
    ) -> Result<Response<pb::CartResult>, Status> {
        self.run(
            "cart.add_item",
            request,
            |m| &m.cart_id,
            |m, now| {
                Ok(CartCommand::AddItem {
                    sku: m.sku,
                    quantity: quantity(m.quantity)?,
                    now,
                })
            },
        )
        .await
    }

    async fn change_item_quantity(
        &self,
        request: Request<pb::ChangeItemQuantityRequest>,
    ) -> Result<Response<pb::CartResult>, Status> {
        self.run(
            "cart.change_item_quantity",
            request,
            |m| &m.cart_id,
            |m, now| {
                Ok(CartCommand::ChangeItemQuantity {
                    sku: m.sku,
                    quantity: quantity(m.quantity)?,
                    now,
                })
            },
        )
        .await
    }

    async fn remove_item(
        &self,
        request: Request<pb::RemoveItemRequest>,
    ) -> Result<Response<pb::CartResult>, Status> {
        self.run(
            "cart.remove_item",
            request,
            |m| &m.cart_id,
            |m, now| Ok(CartCommand::RemoveItem { sku: m.sku, now }),
        )
        .await
    }

    async fn apply_coupon(
        &self,
        request: Request<pb::ApplyCouponRequest>,
    ) -> Result<Response<pb::CartResult>, Status> {
        self.run(
            "cart.apply_coupon",
            request,
            |m| &m.cart_id,
            |m, now| Ok(CartCommand::ApplyCoupon { code: m.code, now }),
        )
        .await
    }

    async fn remove_coupon(
        &self,
        request: Request<pb::CartRequest>,
    ) -> Result<Response<pb::CartResult>, Status> {
        self.run(
            "cart.remove_coupon",
            request,
            |m| &m.cart_id,
            |_, now| Ok(CartCommand::RemoveCoupon { now }),
        )
        .await
    }

    async fn checkout(
        &self,
        request: Request<pb::CheckoutRequest>,
    ) -> Result<Response<pb::CartResult>, Status> {
        let response = self
            .run(
                "cart.checkout",
                request,
                |m| &m.cart_id,
                |m, now| {
                    Ok(CartCommand::Checkout {
                        now,
                        accept_price_changes: m.accept_price_changes,
                    })
                },
            )
            .await?;
        Ok(response)
    }

    async fn expire_cart(
        &self,
        request: Request<pb::CartRequest>,
    ) -> Result<Response<pb::CartResult>, Status> {
        let caller = principal(request.extensions())?;
        caller.platform(MANAGE_ORDERS).map_err(denied)?;
        self.run(
            "cart.expire",
            request,
            |m| &m.cart_id,
            |_, now| Ok(CartCommand::Expire { now }),
        )
        .await
    }

    async fn merge_cart(
        &self,
        request: Request<pb::MergeCartRequest>,
    ) -> Result<Response<pb::MergeCartResult>, Status> {
        let (metadata, extensions, message) = request.into_parts();
        let caller = principal(&extensions)?;
        let Some(customer) = caller.customer_id else {
            return Err(denied(shopcore_auth::Denied {
                scope: MANAGE_MY_ORDERS,
                reason: "signing in merges into a customer's cart: use the customer's token"
                    .to_owned(),
            }));
        };
        caller.require(MANAGE_MY_ORDERS).map_err(denied)?;
        let (anonymous_id, anonymous) = self
            .reach(caller, &metadata, &message.anonymous_cart_id, Use::Write)
            .await?;
        if session_of(&metadata).is_none() {
            return Err(super::invalid(
                CART_SESSION,
                "the anonymous cart's session token is required",
            ));
        }
        let target = message
            .customer_cart_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        let (_, options, fingerprint) = super::CommandRequest::split(message);
        let now = Utc::now();
        // Only an open cart is merged — or one already merged into this same target, so that
        // a merge repeated after a lost reply or a crash completes. Anything else (checked
        // out, expired, merged elsewhere) is refused before a line moves.
        let target_id = target
            .as_deref()
            .map(|t| parse_uuid(t, "customerCartId"))
            .transpose()?;
        let retried = anonymous.status == CartStatus::Merged
            && target_id.is_some()
            && anonymous.merged_into == target_id;
        if !retried {
            let open = anonymous.status == CartStatus::Open
                && anonymous.expires_at.is_none_or(|at| now < at);
            if !open {
                let (code, reason) = match status_of(&anonymous, now) {
                    "expired" => (ErrorCode::Gone, "cart has expired"),
                    "checkedOut" => (ErrorCode::FailedPrecondition, "cart is checked out"),
                    _ => (
                        ErrorCode::FailedPrecondition,
                        "cart was merged into another cart",
                    ),
                };
                return Err(error_status(
                    code,
                    format!("anonymousCartId: {reason} and can no longer be merged"),
                    Some("anonymousCartId"),
                    None,
                ));
            }
        }
        let Some(target) = target else {
            let outcome = execute(
                &self.pipeline,
                "cart.assign_customer",
                (caller, &metadata),
                (options, fingerprint),
                &anonymous_id.to_string(),
                CartCommand::AssignCustomer {
                    customer_id: customer,
                    now,
                },
            )
            .await?;
            return Ok(Response::new(pb::MergeCartResult {
                cart: Some(cart_result(&outcome)),
                merged: false,
                left_out: Vec::new(),
            }));
        };
        // The customer's cart is reached by the customer's token alone.
        let (target_id, _) = self
            .reach(caller, &MetadataMap::new(), &target, Use::Write)
            .await?;
        let source = MergeSource {
            cart_id: anonymous_id,
            lines: anonymous
                .lines
                .iter()
                .map(|(sku, line)| (sku.clone(), line.quantity))
                .collect(),
            coupon: anonymous.coupon.as_ref().map(|c| c.code.clone()),
        };
        let merged = execute(
            &self.pipeline,
            "cart.merge_from",
            (caller, &metadata),
            (options, fingerprint.clone()),
            &target_id.to_string(),
            CartCommand::MergeFrom { source, now },
        )
        .await?;
        // The lines are in; closing the anonymous cart may be repeated safely (a merge run
        // again after a crash here adds nothing twice: the target remembers its sources).
        let closed = execute(
            &self.pipeline,
            "cart.mark_merged",
            (caller, &metadata),
            (None, fingerprint),
            &anonymous_id.to_string(),
            CartCommand::MarkMerged {
                into_cart_id: target_id,
                now,
            },
        )
        .await?;
        // Every line of the anonymous cart is in the customer's now, or was left out.
        let left_out = anonymous
            .lines
            .keys()
            .filter(|sku| !merged.state.lines.contains_key(*sku))
            .cloned()
            .collect();
        // The reply's position covers both writes: a read at it sees the anonymous cart closed.
        let mut reply = cart_result(&merged);
        if let Some(result) = reply.result.as_mut() {
            let last = merged.position.max(closed.position);
            result.position = last.position;
            result.log_position = last.to_string();
        }
        Ok(Response::new(pb::MergeCartResult {
            cart: Some(reply),
            merged: true,
            left_out,
        }))
    }

    async fn get_cart(
        &self,
        request: Request<pb::CartRequest>,
    ) -> Result<Response<pb::CartResult>, Status> {
        let (metadata, extensions, message) = request.into_parts();
        let caller = principal(&extensions)?;
        let (id, cart) = self
            .reach(caller, &metadata, &message.cart_id, Use::Read)
            .await?;
        let id = id.to_string();
        let position = self
            .pipeline
            .store()
            .latest_position(<Cart as cqrs_es::Aggregate>::TYPE, &id)
            .await
            .map_err(|error| super::command_status(error.into()))?;
        let version = self
            .pipeline
            .store()
            .current_version(<Cart as cqrs_es::Aggregate>::TYPE, &id)
            .await
            .map_err(|error| super::command_status(error.into()))?;
        Ok(Response::new(pb::CartResult {
            result: Some(shopcore_proto::common::v1::CommandResult {
                aggregate_id: id.clone(),
                version,
                position: position.position,
                events_written: 0,
                replayed: false,
                log_position: position.to_string(),
            }),
            cart: Some(cart_to_pb(&id, &cart)),
            session_token: String::new(),
        }))
    }
}
