//! The cart read models.
//!
//! - this file: [`CartView`], the JSON shape the gateway serves and Redis caches, and
//!   [`CartFold`], a cart as both projectors fold it: the domain's own [`Cart`] advanced with
//!   [`Cart::apply`] (the same fold as the aggregate, so a read model is a fold of the events),
//!   plus what the aggregate's state does not keep (when and with which coupon it was checked
//!   out, the last event's version, position and time). Both stores build their views from a
//!   fold with the one function [`CartFold::view`], so MySQL and Redis serve the same view.
//! - [`mysql`]: the transactional projector of `carts`, `cart_items` and `cart_events`.
//! - [`redis`]: the `{prefix}cart::{id}` cache, idempotent by version, whose TTL is the cart's
//!   `expiresAt`, with tombstones for expired and merged carts.
//! - [`read_model`]: what the gateway, the merge and the expiry sweep read.
//!
//! Totals are [`Cart::totals`] of the folded cart: lines at their stored unit prices, the
//! coupon's discount allocated across them. A checked-out cart is the exception the domain's
//! state cannot express: checkout re-prices the lines (which `Cart::apply` stores) and
//! re-validates the coupon, whose discount may have changed since it was applied (which
//! `Cart::apply` does not store); its view carries the coupon of the `CartCheckedOut` event,
//! and so the totals that event charged. A cart whose totals do not fit the `i64` of minor
//! units (the domain accepts an `AddItem` without computing them) has no view: the projectors
//! halt at that event, naming it, rather than store wrong money.

pub mod mysql;
pub mod read_model;
pub mod redis;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate as _;
use serde::{Deserialize, Serialize};
use shopcore_domain::cart::checkout::compute_totals;
use shopcore_domain::cart::{
    AppliedCoupon, Cart, CartEvent, CartLine, CartStatus, CartTotals, PriceSnapshot,
};
use shopcore_domain::money::{Currency, Money, Percent};
use shopcore_domain::pricing::Discount;
use shopcore_event_store::{LogPosition, StoredEvent};
use uuid::Uuid;

use crate::catalog::read_model::MoneyView;
use crate::error::ProjectionError;

/// The aggregate type of carts in the event store (`Cart::TYPE`).
pub const AGGREGATE_TYPE: &str = "cart";

/// Where a cart is in its life, as clients see it. A cart whose `expiresAt` has passed reads
/// as `expired` even before its `CartExpired` event (see [`CartView::as_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum CartStatusView {
    Open,
    CheckedOut,
    Expired,
    Merged,
}

impl CartStatusView {
    /// The name stored in `carts.status` (the JSON name).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::CheckedOut => "checkedOut",
            Self::Expired => "expired",
            Self::Merged => "merged",
        }
    }
}

impl From<CartStatus> for CartStatusView {
    fn from(status: CartStatus) -> Self {
        match status {
            CartStatus::Open => Self::Open,
            CartStatus::CheckedOut => Self::CheckedOut,
            CartStatus::Expired => Self::Expired,
            CartStatus::Merged => Self::Merged,
        }
    }
}

impl From<CartStatusView> for CartStatus {
    fn from(status: CartStatusView) -> Self {
        match status {
            CartStatusView::Open => Self::Open,
            CartStatusView::CheckedOut => Self::CheckedOut,
            CartStatusView::Expired => Self::Expired,
            CartStatusView::Merged => Self::Merged,
        }
    }
}

/// One line of a cart: its stored price and its share of the coupon discount. Money in minor
/// units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CartLineView {
    pub sku: String,
    pub quantity: u32,
    pub unit_price: MoneyView,
    pub list_price: MoneyView,
    /// The price rules that made the unit price, in the order they applied.
    pub applied_rules: Vec<Uuid>,
    pub priced_at: DateTime<Utc>,
    /// `unitPrice × quantity`.
    pub line_total: MoneyView,
    /// This line's share of the coupon discount.
    pub discount: MoneyView,
    /// `lineTotal − discount`.
    pub total: MoneyView,
}

/// What kind of discount a coupon gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum CouponKind {
    PercentOff,
    AmountOff,
}

/// The coupon on a cart: `percentOff` with `percent` (a decimal string, `"12.5"`) or
/// `amountOff` with `amount` (minor units).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CouponView {
    pub code: String,
    pub promotion_id: Uuid,
    pub kind: CouponKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "10")]
    pub percent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<MoneyView>,
}

/// A cart as clients see it. Never carries the session token or its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CartView {
    pub cart_id: Uuid,
    pub customer_id: Option<Uuid>,
    /// ISO 4217 code of every amount in the cart.
    #[schema(example = "EUR")]
    pub currency: String,
    pub channel: Option<String>,
    pub region: Option<String>,
    pub status: CartStatusView,
    /// By SKU, in byte order.
    pub lines: Vec<CartLineView>,
    pub coupon: Option<CouponView>,
    pub subtotal: MoneyView,
    pub discount: MoneyView,
    pub total: MoneyView,
    pub created_at: DateTime<Utc>,
    /// When the last event was recorded.
    pub updated_at: DateTime<Utc>,
    /// The cart is expired from this instant on; every accepted change slides it.
    pub expires_at: DateTime<Utc>,
    pub checked_out_at: Option<DateTime<Utc>>,
    /// The customer's cart this one was merged into.
    pub merged_into: Option<Uuid>,
    /// The aggregate version this view reflects (the sequence of its last event).
    pub version: u64,
    /// Log position of the last event reflected (the `Shopcore-Position` token).
    #[schema(value_type = String, example = "1042-17")]
    pub position: LogPosition,
}

impl CartView {
    /// The view as of `now`: an open cart whose `expiresAt` has passed is `expired`, as the
    /// domain treats it from that instant, before any `CartExpired` event is written.
    pub fn as_of(mut self, now: DateTime<Utc>) -> Self {
        if self.status == CartStatusView::Open && self.expires_at <= now {
            self.status = CartStatusView::Expired;
        }
        self
    }
}

/// What checkout settled that [`Cart`] does not keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutRecord {
    /// The coupon as checkout re-validated it (its discount may differ from the one applied).
    pub coupon: Option<AppliedCoupon>,
    pub checked_out_at: DateTime<Utc>,
}

/// A cart as the projectors fold it.
#[derive(Debug, Clone, PartialEq)]
pub struct CartFold {
    /// The aggregate id (the key of every row and of the Redis entry).
    pub cart_id: Uuid,
    /// The aggregate's state, folded with [`Cart::apply`].
    pub cart: Cart,
    pub checkout: Option<CheckoutRecord>,
    /// When the last event was recorded.
    pub updated_at: DateTime<Utc>,
    pub version: u64,
    pub position: LogPosition,
}

/// Decodes a stored cart event.
pub fn decode(event: &StoredEvent) -> Result<CartEvent, ProjectionError> {
    serde_json::from_value(event.payload.clone()).map_err(|e| ProjectionError::Undecodable {
        reason: format!(
            "{} {} of cart {}: {e}",
            event.event_type, event.event_id, event.aggregate_id
        ),
    })
}

/// The cart id of a stored event: its aggregate id, which must be a UUID.
pub fn cart_id_of(event: &StoredEvent) -> Result<Uuid, ProjectionError> {
    Uuid::parse_str(&event.aggregate_id).map_err(|e| ProjectionError::Undecodable {
        reason: format!(
            "event {}: cart id {:?} is not a UUID: {e}",
            event.event_id, event.aggregate_id
        ),
    })
}

fn money_view(money: Money) -> MoneyView {
    MoneyView {
        amount: money.amount(),
        currency: money.currency().code().to_owned(),
    }
}

fn coupon_view(coupon: &AppliedCoupon) -> CouponView {
    let (kind, percent, amount) = match coupon.discount {
        Discount::PercentOff { percent } => (
            CouponKind::PercentOff,
            Some(percent.to_decimal_string()),
            None,
        ),
        Discount::AmountOff { amount } => (CouponKind::AmountOff, None, Some(money_view(amount))),
    };
    CouponView {
        code: coupon.code.clone(),
        promotion_id: coupon.promotion_id,
        kind,
        percent,
        amount,
    }
}

impl CartFold {
    /// Folds a cart's events (oldest first, starting with its creation).
    pub fn fold(events: &[StoredEvent]) -> Result<Option<Self>, ProjectionError> {
        Self::fold_onto(None, events)
    }

    /// Folds events onto a fold that reflects every event before them (`None`: before the
    /// creation). The events must follow its version without a gap.
    pub fn fold_onto(
        mut fold: Option<Self>,
        events: &[StoredEvent],
    ) -> Result<Option<Self>, ProjectionError> {
        for stored in events {
            fold = Some(Self::apply(fold, stored, decode(stored)?)?);
        }
        Ok(fold)
    }

    /// Applies one decoded event, the cart's next.
    pub fn apply(
        fold: Option<Self>,
        stored: &StoredEvent,
        event: CartEvent,
    ) -> Result<Self, ProjectionError> {
        let expected = fold.as_ref().map_or(0, |f| f.version) + 1;
        if stored.sequence != expected {
            return Err(ProjectionError::OutOfStep {
                reason: format!(
                    "cart {}: event {} is number {}, the read model expects {expected}",
                    stored.aggregate_id, stored.event_id, stored.sequence
                ),
            });
        }
        let created = matches!(event, CartEvent::CartCreated { .. });
        let mut fold = match (fold, created) {
            (None, true) => Self {
                cart_id: cart_id_of(stored)?,
                cart: Cart::default(),
                checkout: None,
                updated_at: stored.recorded_at,
                version: 0,
                position: LogPosition::START,
            },
            (Some(fold), false) => fold,
            (None, false) | (Some(_), true) => {
                return Err(ProjectionError::OutOfStep {
                    reason: format!(
                        "cart {}: event {} ({}) is number {}; only the first creates a cart",
                        stored.aggregate_id, stored.event_id, stored.event_type, stored.sequence
                    ),
                })
            }
        };
        if let CartEvent::CartCheckedOut {
            coupon,
            checked_out_at,
            ..
        } = &event
        {
            fold.checkout = Some(CheckoutRecord {
                coupon: coupon.clone(),
                checked_out_at: *checked_out_at,
            });
        }
        fold.cart.apply(event);
        fold.version = stored.sequence;
        fold.position = stored.log_position();
        fold.updated_at = stored.recorded_at;
        Ok(fold)
    }

    /// The coupon the view shows and the totals are computed with.
    fn coupon(&self) -> Option<&AppliedCoupon> {
        match &self.checkout {
            Some(checkout) => checkout.coupon.as_ref(),
            None => self.cart.coupon.as_ref(),
        }
    }

    /// The cart's totals: [`Cart::totals`], or for a checked-out cart those checkout charged.
    pub fn totals(&self) -> Result<CartTotals, ProjectionError> {
        let unusable = |reason: String| ProjectionError::OutOfStep {
            reason: format!(
                "cart {} at version {}: {reason}",
                self.cart_id, self.version
            ),
        };
        match &self.checkout {
            None => self.cart.totals().map_err(|e| unusable(e.to_string())),
            Some(_) => {
                let currency = self
                    .cart
                    .currency
                    .ok_or_else(|| unusable("no currency".into()))?;
                let lines = self
                    .cart
                    .lines
                    .iter()
                    .map(|(sku, line)| (sku.as_str(), line.quantity, line.price.unit_price));
                compute_totals(currency, lines, self.coupon().map(|c| &c.discount))
                    .map_err(|e| unusable(e.to_string()))
            }
        }
    }

    /// The view of the cart (its stored status; see [`CartView::as_of`] for reading it).
    pub fn view(&self) -> Result<CartView, ProjectionError> {
        let cart = &self.cart;
        let missing = |field: &str| ProjectionError::OutOfStep {
            reason: format!("cart {} has no {field}", self.cart_id),
        };
        let currency = cart.currency.ok_or_else(|| missing("currency"))?;
        let totals = self.totals()?;
        let lines = cart
            .lines
            .iter()
            .zip(&totals.lines)
            .map(|((sku, line), total)| CartLineView {
                sku: sku.clone(),
                quantity: line.quantity,
                unit_price: money_view(line.price.unit_price),
                list_price: money_view(line.price.list_price),
                applied_rules: line.price.applied_rules.clone(),
                priced_at: line.price.priced_at,
                line_total: money_view(total.line_total),
                discount: money_view(total.discount),
                total: money_view(total.total),
            })
            .collect();
        Ok(CartView {
            cart_id: self.cart_id,
            customer_id: cart.customer_id,
            currency: currency.code().to_owned(),
            channel: cart.channel.clone(),
            region: cart.region.clone(),
            status: cart.status.into(),
            lines,
            coupon: self.coupon().map(coupon_view),
            subtotal: money_view(totals.subtotal),
            discount: money_view(totals.discount),
            total: money_view(totals.total),
            created_at: cart.created_at.ok_or_else(|| missing("creation time"))?,
            updated_at: self.updated_at,
            expires_at: cart.expires_at.ok_or_else(|| missing("expiry"))?,
            checked_out_at: self.checkout.as_ref().map(|c| c.checked_out_at),
            merged_into: cart.merged_into,
            version: self.version,
            position: self.position,
        })
    }

    /// The fold a view was built from, as far as the view shows it: enough to fold the next
    /// event onto. What the view never shows is left empty (the session token hash, the carts
    /// merged into this one), so only [`CartFold::view`] of the result is meaningful.
    pub fn from_view(view: &CartView) -> Result<Self, String> {
        let money = |m: &MoneyView| -> Result<Money, String> {
            let currency = Currency::parse(&m.currency).map_err(|e| e.to_string())?;
            Ok(Money::new(m.amount, currency))
        };
        let coupon = view
            .coupon
            .as_ref()
            .map(|c| -> Result<AppliedCoupon, String> {
                let discount = match (c.kind, &c.percent, &c.amount) {
                    (CouponKind::PercentOff, Some(percent), None) => Discount::PercentOff {
                        percent: Percent::parse(percent).map_err(|e| e.to_string())?,
                    },
                    (CouponKind::AmountOff, None, Some(amount)) => Discount::AmountOff {
                        amount: money(amount)?,
                    },
                    _ => return Err(format!("coupon {} has no discount", c.code)),
                };
                Ok(AppliedCoupon {
                    code: c.code.clone(),
                    promotion_id: c.promotion_id,
                    discount,
                })
            })
            .transpose()?;
        let lines = view
            .lines
            .iter()
            .map(|line| {
                let price = PriceSnapshot {
                    unit_price: money(&line.unit_price)?,
                    list_price: money(&line.list_price)?,
                    applied_rules: line.applied_rules.clone(),
                    priced_at: line.priced_at,
                };
                let line_ = CartLine {
                    quantity: line.quantity,
                    price,
                };
                Ok((line.sku.clone(), line_))
            })
            .collect::<Result<BTreeMap<_, _>, String>>()?;
        let checkout = view.checked_out_at.map(|checked_out_at| CheckoutRecord {
            coupon: coupon.clone(),
            checked_out_at,
        });
        let cart = Cart {
            id: Some(view.cart_id),
            session_token_hash: String::new(),
            customer_id: view.customer_id,
            currency: Some(Currency::parse(&view.currency).map_err(|e| e.to_string())?),
            channel: view.channel.clone(),
            region: view.region.clone(),
            lines,
            coupon,
            status: view.status.into(),
            created_at: Some(view.created_at),
            expires_at: Some(view.expires_at),
            merged_from: BTreeSet::new(),
            merged_into: view.merged_into,
        };
        Ok(Self {
            cart_id: view.cart_id,
            cart,
            checkout,
            updated_at: view.updated_at,
            version: view.version,
            position: view.position,
        })
    }
}
