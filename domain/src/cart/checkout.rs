//! Cart totals, checkout and expiry.
//!
//! Totals: each line is `unitPrice × quantity` (exact); the subtotal is their sum; the coupon's
//! discount is taken of the subtotal (a percentage rounded half-even to the minor unit, or a
//! fixed amount), never more than the subtotal; it is then allocated across the lines in
//! proportion to their totals by largest remainder, so the line discounts sum exactly to it
//! and no line goes below zero.
//!
//! Checkout re-prices every line at its quantity, re-checks the coupon against the new
//! subtotal, and reports each unit price that changed since the line was priced: as a
//! refusal listing them, unless the caller said it accepts them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::events::{CartEvent, CheckedOutLine, PriceChange};
use super::services::CartServices;
use super::{Cart, CartError, CartStatus};
use crate::money::{allocate_proportionally, Currency, Money, MoneyError, RoundingMode};
use crate::pricing::Discount;

/// One line's totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineTotal {
    pub sku: String,
    pub quantity: u32,
    pub unit_price: Money,
    pub line_total: Money,
    pub discount: Money,
    pub total: Money,
}

/// A cart's totals, for read models and checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartTotals {
    pub subtotal: Money,
    pub discount: Money,
    pub total: Money,
    pub lines: Vec<LineTotal>,
}

/// Totals of `(sku, quantity, unit price)` lines with an optional discount on the subtotal.
pub fn compute_totals<'a>(
    currency: Currency,
    lines: impl IntoIterator<Item = (&'a str, u32, Money)>,
    discount: Option<&Discount>,
) -> Result<CartTotals, MoneyError> {
    let mut totals = Vec::new();
    for (sku, quantity, unit_price) in lines {
        let line_total = unit_price.checked_mul(i64::from(quantity))?;
        totals.push(LineTotal {
            sku: sku.to_owned(),
            quantity,
            unit_price,
            line_total,
            discount: Money::zero(currency),
            total: line_total,
        });
    }
    let line_totals: Vec<Money> = totals.iter().map(|line| line.line_total).collect();
    let subtotal = Money::sum(currency, &line_totals)?;
    let discount = match discount {
        Some(discount) => discount.amount_for(subtotal, RoundingMode::HalfEven)?,
        None => Money::zero(currency),
    };
    let shares = allocate_proportionally(discount, &line_totals)?;
    for (line, share) in totals.iter_mut().zip(shares) {
        line.discount = share;
        line.total = line.line_total.checked_sub(share)?;
    }
    Ok(CartTotals {
        subtotal,
        discount,
        total: subtotal.checked_sub(discount)?,
        lines: totals,
    })
}

impl Cart {
    /// The cart's totals with its stored prices and coupon.
    pub fn totals(&self) -> Result<CartTotals, CartError> {
        let currency = self.currency.ok_or(CartError::NotCreated)?;
        self.totals_for(
            currency,
            self.coupon.as_ref().map(|coupon| &coupon.discount),
        )
    }

    pub(super) fn totals_for(
        &self,
        currency: Currency,
        discount: Option<&Discount>,
    ) -> Result<CartTotals, CartError> {
        let lines = self
            .lines
            .iter()
            .map(|(sku, line)| (sku.as_str(), line.quantity, line.price.unit_price));
        Ok(compute_totals(currency, lines, discount)?)
    }

    pub(super) async fn decide_checkout(
        &self,
        now: DateTime<Utc>,
        accept_price_changes: bool,
        services: &CartServices,
    ) -> Result<CartEvent, CartError> {
        let cart = self.ensure_open(now)?;
        if self.lines.is_empty() {
            return Err(CartError::EmptyCart);
        }
        let mut repriced = Vec::with_capacity(self.lines.len());
        let mut price_changes = Vec::new();
        for (sku, line) in &self.lines {
            let price = self
                .price_line(cart, sku, line.quantity, now, services)
                .await?;
            if price.unit_price != line.price.unit_price {
                price_changes.push(PriceChange {
                    sku: sku.clone(),
                    previous_unit_price: line.price.unit_price,
                    unit_price: price.unit_price,
                });
            }
            repriced.push((sku.as_str(), line.quantity, price));
        }
        if !price_changes.is_empty() && !accept_price_changes {
            return Err(CartError::PricesChanged {
                changes: price_changes,
            });
        }
        let undiscounted = compute_totals(
            cart.currency,
            repriced.iter().map(|(s, q, p)| (*s, *q, p.unit_price)),
            None,
        )?;
        let coupon = match &self.coupon {
            Some(coupon) => Some(
                self.validate_coupon(cart, &coupon.code, undiscounted.subtotal, now, services)
                    .await?,
            ),
            None => None,
        };
        let totals = compute_totals(
            cart.currency,
            repriced.iter().map(|(s, q, p)| (*s, *q, p.unit_price)),
            coupon.as_ref().map(|c| &c.discount),
        )?;
        let lines = repriced
            .into_iter()
            .zip(totals.lines)
            .map(|((_, _, price), line)| CheckedOutLine {
                sku: line.sku,
                quantity: line.quantity,
                unit_price: line.unit_price,
                list_price: price.list_price,
                applied_rules: price.applied_rules,
                line_total: line.line_total,
                discount: line.discount,
                total: line.total,
            })
            .collect();
        Ok(CartEvent::CartCheckedOut {
            cart_id: cart.id,
            customer_id: self.customer_id,
            lines,
            price_changes,
            coupon,
            subtotal: totals.subtotal,
            discount: totals.discount,
            total: totals.total,
            checked_out_at: now,
        })
    }

    pub(super) fn decide_expire(&self, now: DateTime<Utc>) -> Result<Option<CartEvent>, CartError> {
        if self.id.is_none() {
            return Err(CartError::NotCreated);
        }
        match self.status {
            CartStatus::CheckedOut => Err(CartError::CheckedOut),
            CartStatus::Merged => Err(CartError::Merged),
            CartStatus::Expired => Ok(None),
            CartStatus::Open if self.expires_at.is_some_and(|at| now < at) => {
                Err(CartError::NotYetExpired)
            }
            CartStatus::Open => Ok(Some(CartEvent::CartExpired { expired_at: now })),
        }
    }
}
