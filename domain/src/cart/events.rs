//! Events of the Cart aggregate. Names are stable; a change of shape gets a new version.
//! `CartItemAdded` feeds `cart.item.added` and `CartCheckedOut` feeds `cart.checkedout`.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::{Currency, Money};
use crate::pricing::Discount;

/// A line's price as the pricing service gave it, kept with the line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceSnapshot {
    pub unit_price: Money,
    pub list_price: Money,
    pub applied_rules: Vec<Uuid>,
    pub priced_at: DateTime<Utc>,
}

/// The coupon on a cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedCoupon {
    pub code: String,
    pub promotion_id: Uuid,
    pub discount: Discount,
}

/// One line of a checked-out cart, re-priced at checkout, with its share of the discount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckedOutLine {
    pub sku: String,
    pub quantity: u32,
    pub unit_price: Money,
    pub list_price: Money,
    pub applied_rules: Vec<Uuid>,
    /// `unitPrice × quantity`.
    pub line_total: Money,
    /// This line's share of the coupon discount (largest remainder, sums exactly).
    pub discount: Money,
    /// `lineTotal − discount`.
    pub total: Money,
}

/// A unit price that differs at checkout from the one stored when the line was last priced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceChange {
    pub sku: String,
    pub previous_unit_price: Money,
    pub unit_price: Money,
}

/// What happened to a cart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CartEvent {
    #[serde(rename_all = "camelCase")]
    CartCreated {
        cart_id: Uuid,
        /// SHA-256 of the shopper's session token, hex: the token is a bearer secret and is
        /// never stored (see [`super::session_token_hash`]).
        session_token_hash: String,
        customer_id: Option<Uuid>,
        currency: Currency,
        channel: Option<String>,
        region: Option<String>,
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    /// `quantity` units were added; the line now has `lineQuantity` at `price`.
    #[serde(rename_all = "camelCase")]
    CartItemAdded {
        sku: String,
        quantity: u32,
        line_quantity: u32,
        price: PriceSnapshot,
        expires_at: DateTime<Utc>,
    },
    #[serde(rename_all = "camelCase")]
    CartItemQuantityChanged {
        sku: String,
        quantity: u32,
        previous_quantity: u32,
        price: PriceSnapshot,
        expires_at: DateTime<Utc>,
    },
    #[serde(rename_all = "camelCase")]
    CartItemRemoved {
        sku: String,
        expires_at: DateTime<Utc>,
    },
    #[serde(rename_all = "camelCase")]
    CartCouponApplied {
        coupon: AppliedCoupon,
        /// The code this one replaced, if any.
        replaced: Option<String>,
        expires_at: DateTime<Utc>,
    },
    #[serde(rename_all = "camelCase")]
    CartCouponRemoved {
        code: String,
        expires_at: DateTime<Utc>,
    },
    #[serde(rename_all = "camelCase")]
    CartCheckedOut {
        cart_id: Uuid,
        customer_id: Option<Uuid>,
        lines: Vec<CheckedOutLine>,
        /// Lines whose unit price changed since they were priced in the cart.
        price_changes: Vec<PriceChange>,
        coupon: Option<AppliedCoupon>,
        subtotal: Money,
        discount: Money,
        total: Money,
        checked_out_at: DateTime<Utc>,
    },
    #[serde(rename_all = "camelCase")]
    CartExpired { expired_at: DateTime<Utc> },
    /// An anonymous cart was given to the customer who signed in.
    #[serde(rename_all = "camelCase")]
    CartCustomerAssigned {
        customer_id: Uuid,
        expires_at: DateTime<Utc>,
    },
    /// The lines of the anonymous cart `fromCartId` were added to this one.
    #[serde(rename_all = "camelCase")]
    CartLinesMerged {
        from_cart_id: Uuid,
        lines: Vec<MergedLine>,
        /// SKUs not merged because the cart had no room for another line.
        left_out: Vec<String>,
        /// The anonymous cart's coupon, carried over (this cart had none).
        coupon: Option<AppliedCoupon>,
        expires_at: DateTime<Utc>,
    },
    /// This anonymous cart's lines went into `intoCartId`; it is closed.
    #[serde(rename_all = "camelCase")]
    CartMerged {
        into_cart_id: Uuid,
        merged_at: DateTime<Utc>,
    },
}

/// A line a merge added to: `quantity` units more, `lineQuantity` now, priced for the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MergedLine {
    pub sku: String,
    pub quantity: u32,
    pub line_quantity: u32,
    pub price: PriceSnapshot,
}

impl CartEvent {
    /// Every event type name of the aggregate, for exhaustive topic and schema maps.
    pub const EVENT_TYPES: &'static [&'static str] = &[
        "CartCreated",
        "CartItemAdded",
        "CartItemQuantityChanged",
        "CartItemRemoved",
        "CartCouponApplied",
        "CartCouponRemoved",
        "CartCheckedOut",
        "CartExpired",
        "CartCustomerAssigned",
        "CartLinesMerged",
        "CartMerged",
    ];
}

impl DomainEvent for CartEvent {
    fn event_type(&self) -> String {
        match self {
            Self::CartCreated { .. } => "CartCreated",
            Self::CartItemAdded { .. } => "CartItemAdded",
            Self::CartItemQuantityChanged { .. } => "CartItemQuantityChanged",
            Self::CartItemRemoved { .. } => "CartItemRemoved",
            Self::CartCouponApplied { .. } => "CartCouponApplied",
            Self::CartCouponRemoved { .. } => "CartCouponRemoved",
            Self::CartCheckedOut { .. } => "CartCheckedOut",
            Self::CartExpired { .. } => "CartExpired",
            Self::CartCustomerAssigned { .. } => "CartCustomerAssigned",
            Self::CartLinesMerged { .. } => "CartLinesMerged",
            Self::CartMerged { .. } => "CartMerged",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
