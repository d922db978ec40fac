//! Deciding cart creation and the item and coupon commands: validation, pricing through
//! [`CartPricing`](super::CartPricing), coupon checks through
//! [`CouponValidator`](super::CouponValidator), and the sliding expiry.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::commands::NewCart;
use super::events::{AppliedCoupon, CartEvent, PriceSnapshot};
use super::services::{
    CartServices, CartSettings, CouponRejection, CouponRequest, PriceRequest, PricingLookupError,
};
use super::{Cart, CartError, CartStatus};
use crate::catalog::values::clean_sku;
use crate::money::{Currency, Money};
use crate::pricing::promotion::normalize_coupon_code;
use crate::pricing::Discount;

const MAX_TOKEN_CHARS: usize = 256;
const MAX_LABEL_CHARS: usize = 64;

/// An open cart's identity and currency.
#[derive(Debug, Clone, Copy)]
pub(super) struct OpenCart {
    pub id: Uuid,
    pub currency: Currency,
}

pub(super) fn expiry(now: DateTime<Utc>, settings: &CartSettings) -> DateTime<Utc> {
    now.checked_add_signed(settings.ttl)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn label(raw: Option<String>, field: &'static str) -> Result<Option<String>, CartError> {
    let Some(raw) = raw else { return Ok(None) };
    let value = raw.trim();
    if value.chars().count() > MAX_LABEL_CHARS || value.chars().any(char::is_control) {
        return Err(CartError::invalid(
            field,
            format!("must be at most {MAX_LABEL_CHARS} characters"),
        ));
    }
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

fn sku(raw: &str) -> Result<String, CartError> {
    clean_sku(raw).map_err(|reason| CartError::invalid("sku", reason))
}

impl Cart {
    /// The cart, if it may still change at `now`.
    pub(super) fn ensure_open(&self, now: DateTime<Utc>) -> Result<OpenCart, CartError> {
        let (Some(id), Some(currency)) = (self.id, self.currency) else {
            return Err(CartError::NotCreated);
        };
        match self.status {
            CartStatus::CheckedOut => return Err(CartError::CheckedOut),
            CartStatus::Expired => return Err(CartError::Expired),
            CartStatus::Merged => return Err(CartError::Merged),
            CartStatus::Open => {}
        }
        if self.expires_at.is_some_and(|expires_at| now >= expires_at) {
            return Err(CartError::Expired);
        }
        Ok(OpenCart { id, currency })
    }

    fn check_quantity(quantity: u32, settings: &CartSettings) -> Result<(), CartError> {
        if quantity == 0 || quantity > settings.max_quantity_per_line {
            return Err(CartError::QuantityOutOfRange {
                max: settings.max_quantity_per_line,
            });
        }
        Ok(())
    }

    /// Refuses a change whose line or cart total would not fit in the currency's range: the
    /// read models (and every later total) must be able to hold what the cart holds.
    pub(super) fn check_fits<'a>(
        &self,
        cart: OpenCart,
        changed: impl IntoIterator<Item = (&'a str, u32, &'a PriceSnapshot)>,
    ) -> Result<(), CartError> {
        let mut lines = self.lines.clone();
        for (sku, quantity, price) in changed {
            lines.insert(
                sku.to_owned(),
                super::CartLine {
                    quantity,
                    price: price.clone(),
                },
            );
        }
        let priced = lines
            .iter()
            .map(|(sku, line)| (sku.as_str(), line.quantity, line.price.unit_price));
        super::checkout::compute_totals(
            cart.currency,
            priced,
            self.coupon.as_ref().map(|c| &c.discount),
        )
        .map(|_| ())
        .map_err(|_| {
            CartError::invalid(
                "quantity",
                "the cart's total would pass the largest amount its currency can hold",
            )
        })
    }

    /// Prices `quantity` units of `sku` for this cart, in its currency.
    pub(super) async fn price_line(
        &self,
        cart: OpenCart,
        sku: &str,
        quantity: u32,
        now: DateTime<Utc>,
        services: &CartServices,
    ) -> Result<PriceSnapshot, CartError> {
        let request = PriceRequest {
            sku: sku.to_owned(),
            quantity,
            currency: cart.currency,
            customer_id: self.customer_id,
            channel: self.channel.clone(),
            region: self.region.clone(),
            at: now,
        };
        let priced = services
            .pricing
            .price(&request)
            .await
            .map_err(|error| match error {
                PricingLookupError::NotForSale(_) => CartError::NotForSale(sku.to_owned()),
                PricingLookupError::Unavailable(reason) => CartError::LookupFailed(reason),
                PricingLookupError::StaleRate(currency) => CartError::StaleRate(currency),
            })?;
        for price in [priced.unit_price, priced.list_price] {
            if price.currency() != cart.currency {
                return Err(CartError::CurrencyMismatch {
                    expected: cart.currency,
                    found: price.currency(),
                });
            }
            if price.is_negative() {
                return Err(CartError::LookupFailed(format!("negative price for {sku}")));
            }
        }
        Ok(PriceSnapshot {
            unit_price: priced.unit_price,
            list_price: priced.list_price,
            applied_rules: priced.applied_rules,
            priced_at: now,
        })
    }

    pub(super) fn decide_create(
        &self,
        new: NewCart,
        settings: &CartSettings,
    ) -> Result<CartEvent, CartError> {
        if self.id.is_some() {
            return Err(CartError::AlreadyCreated);
        }
        let token = new.session_token.trim();
        if token.is_empty()
            || token.chars().count() > MAX_TOKEN_CHARS
            || token.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(CartError::invalid(
                "sessionToken",
                "must be 1 to 256 characters without spaces",
            ));
        }
        Ok(CartEvent::CartCreated {
            cart_id: new.cart_id,
            session_token_hash: super::session_token_hash(token),
            customer_id: new.customer_id,
            currency: new.currency,
            channel: label(new.channel, "channel")?,
            region: label(new.region, "region")?,
            created_at: new.now,
            expires_at: expiry(new.now, settings),
        })
    }

    pub(super) async fn decide_add(
        &self,
        raw_sku: String,
        quantity: u32,
        now: DateTime<Utc>,
        services: &CartServices,
    ) -> Result<CartEvent, CartError> {
        let cart = self.ensure_open(now)?;
        let sku = sku(&raw_sku)?;
        let settings = &services.settings;
        Self::check_quantity(quantity, settings)?;
        let current = self.lines.get(&sku).map_or(0, |line| line.quantity);
        if current == 0 && self.lines.len() >= settings.max_lines {
            return Err(CartError::TooManyLines {
                max: settings.max_lines,
            });
        }
        let line_quantity = current.saturating_add(quantity);
        Self::check_quantity(line_quantity, settings)?;
        let price = self
            .price_line(cart, &sku, line_quantity, now, services)
            .await?;
        self.check_fits(cart, [(sku.as_str(), line_quantity, &price)])?;
        Ok(CartEvent::CartItemAdded {
            sku,
            quantity,
            line_quantity,
            price,
            expires_at: expiry(now, settings),
        })
    }

    pub(super) async fn decide_change_quantity(
        &self,
        raw_sku: String,
        quantity: u32,
        now: DateTime<Utc>,
        services: &CartServices,
    ) -> Result<Option<CartEvent>, CartError> {
        let cart = self.ensure_open(now)?;
        let sku = sku(&raw_sku)?;
        let previous = self
            .lines
            .get(&sku)
            .ok_or_else(|| CartError::UnknownItem(sku.clone()))?
            .quantity;
        Self::check_quantity(quantity, &services.settings)?;
        if quantity == previous {
            return Ok(None);
        }
        let price = self.price_line(cart, &sku, quantity, now, services).await?;
        self.check_fits(cart, [(sku.as_str(), quantity, &price)])?;
        Ok(Some(CartEvent::CartItemQuantityChanged {
            sku,
            quantity,
            previous_quantity: previous,
            price,
            expires_at: expiry(now, &services.settings),
        }))
    }

    pub(super) fn decide_remove(
        &self,
        raw_sku: String,
        now: DateTime<Utc>,
        settings: &CartSettings,
    ) -> Result<CartEvent, CartError> {
        self.ensure_open(now)?;
        let sku = sku(&raw_sku)?;
        if !self.lines.contains_key(&sku) {
            return Err(CartError::UnknownItem(sku));
        }
        Ok(CartEvent::CartItemRemoved {
            sku,
            expires_at: expiry(now, settings),
        })
    }

    /// Asks the validator about `code` for this cart's current subtotal.
    pub(super) async fn validate_coupon(
        &self,
        cart: OpenCart,
        code: &str,
        subtotal: Money,
        now: DateTime<Utc>,
        services: &CartServices,
    ) -> Result<AppliedCoupon, CartError> {
        let request = CouponRequest {
            code: code.to_owned(),
            cart_id: cart.id,
            customer_id: self.customer_id,
            subtotal,
            at: now,
        };
        let valid =
            services
                .coupons
                .validate(&request)
                .await
                .map_err(|rejection| match rejection {
                    CouponRejection::Unknown => CartError::UnknownCoupon(code.to_owned()),
                    CouponRejection::NotApplicable(reason) => CartError::CouponNotApplicable {
                        code: code.to_owned(),
                        reason,
                    },
                    CouponRejection::Unavailable(reason) => CartError::LookupFailed(reason),
                })?;
        if let Discount::AmountOff { amount } = valid.discount {
            if amount.currency() != cart.currency {
                return Err(CartError::CouponNotApplicable {
                    code: code.to_owned(),
                    reason: format!(
                        "the discount is in {}, the cart in {}",
                        amount.currency(),
                        cart.currency
                    ),
                });
            }
        }
        Ok(AppliedCoupon {
            code: code.to_owned(),
            promotion_id: valid.promotion_id,
            discount: valid.discount,
        })
    }

    pub(super) async fn decide_apply_coupon(
        &self,
        raw_code: String,
        now: DateTime<Utc>,
        services: &CartServices,
    ) -> Result<Option<CartEvent>, CartError> {
        let cart = self.ensure_open(now)?;
        let code = normalize_coupon_code(&raw_code)
            .map_err(|reason| CartError::invalid("code", reason))?;
        if self
            .coupon
            .as_ref()
            .is_some_and(|coupon| coupon.code == code)
        {
            return Ok(None);
        }
        let subtotal = self.totals_for(cart.currency, None)?.subtotal;
        let coupon = self
            .validate_coupon(cart, &code, subtotal, now, services)
            .await?;
        Ok(Some(CartEvent::CartCouponApplied {
            coupon,
            replaced: self.coupon.as_ref().map(|c| c.code.clone()),
            expires_at: expiry(now, &services.settings),
        }))
    }

    pub(super) fn decide_remove_coupon(
        &self,
        now: DateTime<Utc>,
        settings: &CartSettings,
    ) -> Result<CartEvent, CartError> {
        self.ensure_open(now)?;
        let coupon = self.coupon.as_ref().ok_or(CartError::NoCoupon)?;
        Ok(CartEvent::CartCouponRemoved {
            code: coupon.code.clone(),
            expires_at: expiry(now, settings),
        })
    }
}
