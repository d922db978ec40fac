//! The `Cart` aggregate: a shopper's lines priced through pricing, an optional coupon, checkout
//! with re-pricing, and expiry.
//!
//! - [`commands`]: what a caller may ask ([`CartCommand`]); each carries `now`.
//! - [`events`]: what happened ([`CartEvent`]) and the value types inside (price snapshots,
//!   checked-out lines, price changes).
//! - [`errors`]: why a command was rejected ([`CartError`]).
//! - [`services`]: the pricing and coupon traits and the settings the aggregate is given.
//! - [`lines`]: deciding the item and coupon commands.
//! - [`checkout`]: totals (discount allocated across lines), checkout and expiry.
//! - this file: the state, dispatch and `apply`.
//!
//! Rules: one currency per cart; quantities from 1 to `maxQuantityPerLine`; nothing changes
//! after checkout or expiry (a cart is expired once `now ≥ expiresAt`, even before a
//! `CartExpired` event); every accepted change slides `expiresAt` to `now + ttl`.

pub mod checkout;
pub mod commands;
pub mod errors;
pub mod events;
pub mod lines;
pub mod merge;
pub mod services;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::Currency;

pub use checkout::{CartTotals, LineTotal};
pub use commands::{CartCommand, NewCart};
pub use errors::CartError;
pub use events::{
    AppliedCoupon, CartEvent, CheckedOutLine, MergedLine, PriceChange, PriceSnapshot,
};
pub use merge::MergeSource;
pub use services::{
    CartPricing, CartServices, CartSettings, CouponRejection, CouponRequest, CouponValidator,
    PriceRequest, PricedItem, PricingLookupError, ValidCoupon,
};

/// The stored form of a session token: SHA-256, lower-case hex. A cart is found by the hash
/// of the token a caller presents; the token itself is never stored nor logged.
pub fn session_token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Where a cart is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CartStatus {
    #[default]
    Open,
    CheckedOut,
    Expired,
    /// Its lines went into another cart at sign-in.
    Merged,
}

/// One SKU in the cart with its stored price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartLine {
    pub quantity: u32,
    pub price: PriceSnapshot,
}

/// The state a command needs to be decided; rebuilt from the cart's events.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cart {
    pub id: Option<Uuid>,
    /// SHA-256 of the session token, hex.
    pub session_token_hash: String,
    pub customer_id: Option<Uuid>,
    pub currency: Option<Currency>,
    pub channel: Option<String>,
    pub region: Option<String>,
    /// Lines by SKU.
    pub lines: BTreeMap<String, CartLine>,
    pub coupon: Option<AppliedCoupon>,
    pub status: CartStatus,
    pub created_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Anonymous carts whose lines were merged into this one.
    #[serde(default)]
    pub merged_from: BTreeSet<Uuid>,
    /// The cart this one was merged into.
    #[serde(default)]
    pub merged_into: Option<Uuid>,
}

impl Aggregate for Cart {
    const TYPE: &'static str = "cart";
    type Command = CartCommand;
    type Event = CartEvent;
    type Error = CartError;
    type Services = CartServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            CartCommand::CreateCart(new_cart) => {
                Some(self.decide_create(new_cart, &services.settings)?)
            }
            CartCommand::AddItem { sku, quantity, now } => {
                Some(self.decide_add(sku, quantity, now, services).await?)
            }
            CartCommand::ChangeItemQuantity { sku, quantity, now } => {
                self.decide_change_quantity(sku, quantity, now, services)
                    .await?
            }
            CartCommand::RemoveItem { sku, now } => {
                Some(self.decide_remove(sku, now, &services.settings)?)
            }
            CartCommand::ApplyCoupon { code, now } => {
                self.decide_apply_coupon(code, now, services).await?
            }
            CartCommand::RemoveCoupon { now } => {
                Some(self.decide_remove_coupon(now, &services.settings)?)
            }
            CartCommand::Checkout {
                now,
                accept_price_changes,
            } => Some(
                self.decide_checkout(now, accept_price_changes, services)
                    .await?,
            ),
            CartCommand::Expire { now } => self.decide_expire(now)?,
            CartCommand::AssignCustomer { customer_id, now } => {
                self.decide_assign_customer(customer_id, now, &services.settings)?
            }
            CartCommand::MergeFrom { source, now } => {
                self.decide_merge_from(source, now, services).await?
            }
            CartCommand::MarkMerged { into_cart_id, now } => {
                self.decide_mark_merged(into_cart_id, now)?
            }
        };
        if let Some(event) = event {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            CartEvent::CartCreated {
                cart_id,
                session_token_hash,
                customer_id,
                currency,
                channel,
                region,
                created_at,
                expires_at,
            } => {
                self.id = Some(cart_id);
                self.session_token_hash = session_token_hash;
                self.customer_id = customer_id;
                self.currency = Some(currency);
                self.channel = channel;
                self.region = region;
                self.status = CartStatus::Open;
                self.created_at = Some(created_at);
                self.expires_at = Some(expires_at);
            }
            CartEvent::CartItemAdded {
                sku,
                line_quantity: quantity,
                price,
                expires_at,
                ..
            }
            | CartEvent::CartItemQuantityChanged {
                sku,
                quantity,
                price,
                expires_at,
                ..
            } => {
                self.lines.insert(sku, CartLine { quantity, price });
                self.expires_at = Some(expires_at);
            }
            CartEvent::CartItemRemoved { sku, expires_at } => {
                self.lines.remove(&sku);
                self.expires_at = Some(expires_at);
            }
            CartEvent::CartCouponApplied {
                coupon, expires_at, ..
            } => {
                self.coupon = Some(coupon);
                self.expires_at = Some(expires_at);
            }
            CartEvent::CartCouponRemoved { expires_at, .. } => {
                self.coupon = None;
                self.expires_at = Some(expires_at);
            }
            CartEvent::CartCheckedOut {
                lines,
                checked_out_at,
                ..
            } => {
                for line in lines {
                    if let Some(current) = self.lines.get_mut(&line.sku) {
                        current.price = PriceSnapshot {
                            unit_price: line.unit_price,
                            list_price: line.list_price,
                            applied_rules: line.applied_rules,
                            priced_at: checked_out_at,
                        };
                    }
                }
                self.status = CartStatus::CheckedOut;
            }
            CartEvent::CartExpired { .. } => self.status = CartStatus::Expired,
            CartEvent::CartCustomerAssigned {
                customer_id,
                expires_at,
            } => {
                self.customer_id = Some(customer_id);
                self.expires_at = Some(expires_at);
            }
            CartEvent::CartLinesMerged {
                from_cart_id,
                lines,
                coupon,
                expires_at,
                ..
            } => {
                for line in lines {
                    self.lines.insert(
                        line.sku,
                        CartLine {
                            quantity: line.line_quantity,
                            price: line.price,
                        },
                    );
                }
                if coupon.is_some() {
                    self.coupon = coupon;
                }
                self.merged_from.insert(from_cart_id);
                self.expires_at = Some(expires_at);
            }
            CartEvent::CartMerged { into_cart_id, .. } => {
                self.status = CartStatus::Merged;
                self.merged_into = Some(into_cart_id);
            }
        }
    }
}
