//! Commands of the Cart aggregate. Every command carries `now`, so the aggregate never reads a
//! clock and `expiresAt` (now + TTL from [`super::CartSettings`]) is deterministic.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::money::Currency;

/// What a caller may ask of a cart.
#[derive(Debug, Clone, PartialEq)]
pub enum CartCommand {
    /// Opens a cart for a session (and a customer, if signed in) in one currency.
    CreateCart(NewCart),
    /// Adds units of a SKU (to its line, if present); the line is priced for its new quantity.
    AddItem {
        sku: String,
        quantity: u32,
        now: DateTime<Utc>,
    },
    /// Sets a line's quantity (1 or more; use `RemoveItem` to drop it) and re-prices it.
    ChangeItemQuantity {
        sku: String,
        quantity: u32,
        now: DateTime<Utc>,
    },
    RemoveItem {
        sku: String,
        now: DateTime<Utc>,
    },
    /// Applies a coupon, replacing any other; the same code again changes nothing.
    ApplyCoupon {
        code: String,
        now: DateTime<Utc>,
    },
    RemoveCoupon {
        now: DateTime<Utc>,
    },
    /// Re-prices every line, re-checks the coupon and closes the cart. When a unit price
    /// differs from the one stored with its line, checkout is refused with every difference
    /// ([`super::CartError::PricesChanged`]) unless `accept_price_changes`, in which case it
    /// goes through at the new prices and reports them in the event.
    Checkout {
        now: DateTime<Utc>,
        accept_price_changes: bool,
    },
    /// Closes a cart whose `expiresAt` has passed (an expired cart: no change).
    Expire {
        now: DateTime<Utc>,
    },
    /// Gives an anonymous cart to the customer who signed in (see [`super::merge`]).
    AssignCustomer {
        customer_id: Uuid,
        now: DateTime<Utc>,
    },
    /// Adds an anonymous cart's lines (and coupon) to this, the customer's cart.
    MergeFrom {
        source: super::merge::MergeSource,
        now: DateTime<Utc>,
    },
    /// Closes an anonymous cart whose lines went into `into_cart_id`.
    MarkMerged {
        into_cart_id: Uuid,
        now: DateTime<Utc>,
    },
}

/// The fields of a new cart.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCart {
    pub cart_id: Uuid,
    /// The shopper's session, for `GET /carts/by-session/{token}`: a bearer secret, of which
    /// only the hash is recorded.
    pub session_token: String,
    pub customer_id: Option<Uuid>,
    pub currency: Currency,
    pub channel: Option<String>,
    pub region: Option<String>,
    pub now: DateTime<Utc>,
}
