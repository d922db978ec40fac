//! What the Cart aggregate asks of the rest of the system, answered in this process:
//!
//! - [`IndexPricing`]: unit prices from the pricing index this process keeps (the code the
//!   `PricingQueries` service answers with), for the customer's segments — read from the
//!   Customer aggregate in the event store, so a segment change prices the next line at once —
//!   and the cart's currency, channel, region and the line's quantity. A price converted with a
//!   stale rate (older than `FX_STALE_AFTER_SECONDS`) is not sold: the line is refused as
//!   unavailable until the rates are synced.
//! - [`PromotionCoupons`]: a coupon code is the promotion that claimed it (the unique claims of
//!   the event store); the promotion itself says whether it may be used now
//!   (`Promotion::check_redeemable`: active, in its window, under both limits).
//! - [`CouponRedemption`]: the link that makes a checkout with a coupon append the promotion's
//!   `PromotionRedeemed` in the checkout's own transaction (see
//!   `shopcore_event_store::LinkedEvents`). Two checkouts that race for the last use of a
//!   coupon both decide on the same promotion version; only one append commits, the other is
//!   decided again against the new count and refused. So a limit of 5 redeems exactly 5.
//! - [`expiry_pipeline`]: the pipeline of the expiry sweep, with no pricing index behind it
//!   ([`Unpriced`]): `Expire` never prices.

use std::sync::Arc;

use async_trait::async_trait;
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate as _;
use uuid::Uuid;

use shopcore_domain::cart::{
    Cart, CartEvent, CartPricing, CartServices, CartSettings, CouponRejection, CouponRequest,
    CouponValidator, PriceRequest, PricedItem, PricingLookupError, ValidCoupon,
};
use shopcore_domain::customer::Customer;
use shopcore_domain::money::Money;
use shopcore_domain::pricing::{Promotion, PromotionCommand, PromotionError};
use shopcore_event_store::snapshot::SnapshotPolicy;
use shopcore_event_store::{EventStore, LinkedEvents};
use shopcore_pricing_index::answer::PricingAnswers;
use shopcore_proto::pricing::v1 as pricing_pb;
use shopcore_proto::ErrorCode;

use crate::claims::PROMOTION_COUPON_CODE;
use crate::error::CommandError;
use crate::grpc::customer::customer_snapshots;
use crate::grpc::pricing::promotion::promotion_pipeline;
use crate::pipeline::{CommandPipeline, Link};

/// Snapshots of carts: every 50 events.
pub fn cart_snapshots() -> SnapshotPolicy {
    SnapshotPolicy::new(Cart::TYPE, 50, 1, "1")
}

/// The command pipeline of carts: priced from `pricing`, coupons from the promotions in
/// `store`, redemptions appended with the checkout.
pub fn cart_pipeline(
    store: EventStore,
    pricing: PricingAnswers,
    settings: CartSettings,
) -> CommandPipeline<Cart> {
    let promotions = Arc::new(promotion_pipeline(store.clone()));
    let services = CartServices {
        pricing: Arc::new(IndexPricing {
            answers: pricing,
            store: store.clone(),
        }),
        coupons: Arc::new(PromotionCoupons {
            promotions: promotions.clone(),
        }),
        settings,
    };
    CommandPipeline::new(store, services, cart_snapshots())
        .with_link(Arc::new(CouponRedemption { promotions }))
}

/// The command pipeline of the expiry sweep (and of other in-process callers that only open,
/// close or expire carts): no pricing index and no coupon lookups behind it.
///
/// `Expire` decides from the cart's own state (`now ≥ expiresAt`) and never prices a line nor
/// checks a coupon, so the sweep's process does not fold the whole log into a pricing index at
/// start just to carry it unused. Should a command that prices or checks a coupon ever reach
/// this pipeline, [`Unpriced`] answers "unavailable": the command is refused (`UNAVAILABLE`,
/// nothing written), never priced wrong.
pub fn expiry_pipeline(store: EventStore, settings: CartSettings) -> CommandPipeline<Cart> {
    let services = CartServices {
        pricing: Arc::new(Unpriced),
        coupons: Arc::new(Unpriced),
        settings,
    };
    CommandPipeline::new(store, services, cart_snapshots())
}

/// Pricing and coupons of [`expiry_pipeline`]: every lookup is unavailable.
pub struct Unpriced;

#[async_trait]
impl CartPricing for Unpriced {
    async fn price(&self, _request: &PriceRequest) -> Result<PricedItem, PricingLookupError> {
        Err(PricingLookupError::Unavailable(
            "this process prices no cart lines".into(),
        ))
    }
}

#[async_trait]
impl CouponValidator for Unpriced {
    async fn validate(&self, _request: &CouponRequest) -> Result<ValidCoupon, CouponRejection> {
        Err(CouponRejection::Unavailable(
            "this process checks no coupons".into(),
        ))
    }
}

/// Unit prices from the pricing index, for the cart's customer.
pub struct IndexPricing {
    answers: PricingAnswers,
    store: EventStore,
}

impl IndexPricing {
    async fn segments(&self, customer: Option<Uuid>) -> Result<Vec<String>, PricingLookupError> {
        let Some(customer) = customer else {
            return Ok(Vec::new());
        };
        let loaded = self
            .store
            .load::<Customer>(&customer_snapshots(), &customer.to_string())
            .await
            .map_err(|error| {
                tracing::warn!(%error, "customer segments not loaded");
                PricingLookupError::Unavailable("the customer's segments could not be read".into())
            })?;
        Ok(loaded.aggregate.segments.into_iter().collect())
    }
}

#[async_trait]
impl CartPricing for IndexPricing {
    async fn price(&self, request: &PriceRequest) -> Result<PricedItem, PricingLookupError> {
        let query = pricing_pb::GetPriceRequest {
            context: Some(pricing_pb::PriceContext {
                sku: request.sku.clone(),
                currency: Some(request.currency.code().to_owned()),
                quantity: request.quantity,
                customer_segments: self.segments(request.customer_id).await?,
                channel: request.channel.clone(),
                region: request.region.clone(),
                at: Some(shopcore_pricing_index::wire::instant_to_pb(request.at)),
                price_book_id: None,
            }),
            min_position: None,
            explain: false,
        };
        let answer = self.answers.get_price(query).await.map_err(|status| {
            let (code, _) = ErrorCode::from_status(&status);
            match code {
                ErrorCode::NotFound
                | ErrorCode::FailedPrecondition
                | ErrorCode::InvalidArgument => PricingLookupError::NotForSale(request.sku.clone()),
                _ => PricingLookupError::Unavailable(status.message().to_owned()),
            }
        })?;
        if answer.stale {
            // A converted price with an old rate is for display; a cart does not sell at it.
            return Err(PricingLookupError::StaleRate(request.currency));
        }
        let money = |value: Option<pricing_pb::Money>| {
            value
                .ok_or_else(|| PricingLookupError::Unavailable("incomplete price".into()))
                .and_then(|m| {
                    shopcore_domain::money::Currency::parse(&m.currency)
                        .map(|currency| Money::new(m.amount_minor, currency))
                        .map_err(|_| PricingLookupError::Unavailable("unknown currency".into()))
                })
        };
        Ok(PricedItem {
            unit_price: money(answer.unit_price)?,
            list_price: money(answer.base.and_then(|b| b.price))?,
            applied_rules: answer
                .applied_rules
                .iter()
                .filter_map(|id| Uuid::parse_str(id).ok())
                .collect(),
        })
    }
}

/// Coupon codes checked against the promotion that claimed them.
pub struct PromotionCoupons {
    promotions: Arc<CommandPipeline<Promotion>>,
}

/// Why a promotion may not be used, as a cart reports it.
fn rejection(error: PromotionError) -> CouponRejection {
    match error {
        PromotionError::UnknownCoupon(_) | PromotionError::NotCreated => CouponRejection::Unknown,
        other => CouponRejection::NotApplicable(other.to_string()),
    }
}

#[async_trait]
impl CouponValidator for PromotionCoupons {
    async fn validate(&self, request: &CouponRequest) -> Result<ValidCoupon, CouponRejection> {
        let store = self.promotions.store();
        let unavailable = |error: shopcore_event_store::StoreError| {
            tracing::warn!(%error, "coupon lookup failed");
            CouponRejection::Unavailable("the promotions could not be read".into())
        };
        let owner = store
            .claim_owner(PROMOTION_COUPON_CODE, &request.code)
            .await
            .map_err(unavailable)?
            .ok_or(CouponRejection::Unknown)?;
        let promotion = store
            .load::<Promotion>(
                &crate::grpc::pricing::promotion::promotion_snapshots(),
                &owner,
            )
            .await
            .map_err(unavailable)?
            .aggregate;
        promotion
            .check_redeemable(request.customer_id, Some(&request.code), request.at)
            .map_err(rejection)?;
        let (Some(promotion_id), Some(discount)) = (promotion.id, promotion.discount) else {
            return Err(CouponRejection::Unknown);
        };
        Ok(ValidCoupon {
            code: request.code.clone(),
            promotion_id,
            discount,
        })
    }
}

/// Appends `PromotionRedeemed` with every checkout that carries a coupon.
pub struct CouponRedemption {
    promotions: Arc<CommandPipeline<Promotion>>,
}

#[async_trait]
impl Link<Cart> for CouponRedemption {
    async fn link(
        &self,
        _after: &Cart,
        events: &[CartEvent],
    ) -> Result<Option<LinkedEvents>, CommandError> {
        let Some((cart_id, customer_id, coupon, at)) = events.iter().find_map(|e| match e {
            CartEvent::CartCheckedOut {
                cart_id,
                customer_id,
                coupon: Some(coupon),
                checked_out_at,
                ..
            } => Some((*cart_id, *customer_id, coupon, *checked_out_at)),
            _ => None,
        }) else {
            return Ok(None);
        };
        let id = coupon.promotion_id.to_string();
        let loaded = self
            .promotions
            .store()
            .load::<Promotion>(&crate::grpc::pricing::promotion::promotion_snapshots(), &id)
            .await?;
        let mut promotion = loaded.aggregate;
        let sink = EventSink::default();
        promotion
            .handle(
                PromotionCommand::RedeemPromotion {
                    // One use per cart: a checkout decided again never counts twice.
                    redemption_id: cart_id,
                    customer_id,
                    coupon_code: Some(coupon.code.clone()),
                    now: at,
                },
                self.promotions.services(),
                &sink,
            )
            .await
            .map_err(|error| CommandError::Rejected {
                kind: shopcore_domain::error_kind::DomainErrorKind::FailedPrecondition,
                field: Some("code"),
                message: format!("code: {} cannot be used: {error}", coupon.code),
                detail: None,
            })?;
        let redeemed = sink.collect().await;
        if redeemed.is_empty() {
            return Ok(None);
        }
        Ok(Some(LinkedEvents::of::<Promotion>(
            id,
            loaded.version,
            &redeemed,
        )?))
    }
}
