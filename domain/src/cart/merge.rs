//! Signing in with an anonymous cart: the cart is given to the customer, or merged into the
//! customer's open cart.
//!
//! **The merge rule** (commercetools' `MergeWithExistingCustomerCart`, stated for Shopcore):
//! - The customer has no open cart: the anonymous cart becomes theirs
//!   ([`CartEvent::CartCustomerAssigned`]); its lines keep their prices until checkout
//!   re-prices them for the customer.
//! - The customer has an open cart: every line of the anonymous cart is added to it. A SKU in
//!   both gets the sum of the quantities, capped at the per-line maximum; every merged line is
//!   priced for the customer at its new quantity. Lines that would pass the cart's line limit
//!   are left out and named ([`CartEvent::CartLinesMerged`]). The anonymous cart's coupon is
//!   carried over when the customer's cart has none and it still applies; otherwise the
//!   customer's coupon stays. The anonymous cart is then closed, pointing at the cart it went
//!   into ([`CartEvent::CartMerged`]).
//!
//! Merging is two commands on two carts, in this order: `MergeFrom` on the customer's cart,
//! then `MarkMerged` on the anonymous one. `MergeFrom` remembers the carts it took lines from,
//! so a merge repeated after a crash between the two adds nothing twice.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::events::{CartEvent, MergedLine};
use super::lines::expiry;
use super::services::CartServices;
use super::{Cart, CartError, CartSettings, CartStatus};
use crate::catalog::values::clean_sku;

/// What the customer's cart is given from the anonymous one.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeSource {
    pub cart_id: Uuid,
    /// The anonymous cart's lines: SKU and quantity.
    pub lines: Vec<(String, u32)>,
    /// The anonymous cart's coupon code, if any.
    pub coupon: Option<String>,
}

impl Cart {
    pub(super) fn decide_assign_customer(
        &self,
        customer_id: Uuid,
        now: DateTime<Utc>,
        settings: &CartSettings,
    ) -> Result<Option<CartEvent>, CartError> {
        self.ensure_open(now)?;
        match self.customer_id {
            Some(owner) if owner == customer_id => Ok(None),
            Some(_) => Err(CartError::OtherCustomer),
            None => Ok(Some(CartEvent::CartCustomerAssigned {
                customer_id,
                expires_at: expiry(now, settings),
            })),
        }
    }

    pub(super) async fn decide_merge_from(
        &self,
        source: MergeSource,
        now: DateTime<Utc>,
        services: &CartServices,
    ) -> Result<Option<CartEvent>, CartError> {
        let cart = self.ensure_open(now)?;
        if source.cart_id == cart.id {
            return Err(CartError::invalid(
                "sourceCartId",
                "a cart cannot be merged into itself",
            ));
        }
        if self.merged_from.contains(&source.cart_id) {
            return Ok(None);
        }
        let settings = &services.settings;
        let mut lines: Vec<MergedLine> = Vec::new();
        let mut left_out = Vec::new();
        let mut line_count = self.lines.len();
        for (raw_sku, quantity) in source.lines {
            let sku = clean_sku(&raw_sku).map_err(|reason| CartError::invalid("sku", reason))?;
            if quantity == 0 || lines.iter().any(|l| l.sku == sku) {
                continue;
            }
            let current = self.lines.get(&sku).map_or(0, |line| line.quantity);
            if current == 0 {
                if line_count >= settings.max_lines {
                    left_out.push(sku);
                    continue;
                }
                line_count += 1;
            }
            let line_quantity = current
                .saturating_add(quantity)
                .min(settings.max_quantity_per_line);
            if line_quantity == current {
                continue;
            }
            let price = self
                .price_line(cart, &sku, line_quantity, now, services)
                .await?;
            lines.push(MergedLine {
                sku,
                quantity: line_quantity - current,
                line_quantity,
                price,
            });
        }
        self.check_fits(
            cart,
            lines
                .iter()
                .map(|l| (l.sku.as_str(), l.line_quantity, &l.price)),
        )?;
        let mut coupon = None;
        if let (None, Some(code)) = (&self.coupon, source.coupon) {
            let mut merged = self.clone();
            for line in &lines {
                merged.lines.insert(
                    line.sku.clone(),
                    super::CartLine {
                        quantity: line.line_quantity,
                        price: line.price.clone(),
                    },
                );
            }
            let subtotal = merged.totals_for(cart.currency, None)?.subtotal;
            // A coupon that no longer applies is not carried: the merge still goes through.
            coupon = match merged
                .validate_coupon(cart, &code, subtotal, now, services)
                .await
            {
                Ok(applied) => Some(applied),
                Err(CartError::LookupFailed(reason)) => {
                    return Err(CartError::LookupFailed(reason))
                }
                Err(_) => None,
            };
        }
        Ok(Some(CartEvent::CartLinesMerged {
            from_cart_id: source.cart_id,
            lines,
            left_out,
            coupon,
            expires_at: expiry(now, settings),
        }))
    }

    pub(super) fn decide_mark_merged(
        &self,
        into_cart_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<CartEvent>, CartError> {
        if let CartStatus::Merged = self.status {
            return match self.merged_into {
                Some(into) if into == into_cart_id => Ok(None),
                _ => Err(CartError::Merged),
            };
        }
        let cart = self.ensure_open(now)?;
        if into_cart_id == cart.id {
            return Err(CartError::invalid(
                "intoCartId",
                "a cart cannot be merged into itself",
            ));
        }
        Ok(Some(CartEvent::CartMerged {
            into_cart_id,
            merged_at: now,
        }))
    }
}
