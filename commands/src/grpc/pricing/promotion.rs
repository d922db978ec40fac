//! `PromotionCommands`: the Promotion aggregate over gRPC (create, change, coupon codes,
//! activate, deactivate, schedule the activation for the start of the window; redemptions stay
//! inside, for checkout; the scheduled activation itself is issued by
//! [`crate::promotion_scheduler`]). Coupon codes are unique across
//! promotions: the aggregate asks [`ClaimedCouponCodes`] for a clear rejection, and the append
//! reserves each code in its transaction (see [`crate::claims::PROMOTION_COUPON_CODE`]), so of
//! two promotions racing for one code exactly one gets it.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use cqrs_es::Aggregate as _;
use shopcore_domain::pricing::{
    CouponCodeDirectory, Discount, Promotion, PromotionChanges, PromotionCommand,
    PromotionServices, EVENT_SCHEMA_VERSION,
};
use shopcore_event_store::snapshot::SnapshotPolicy;
use shopcore_event_store::EventStore;
use shopcore_proto::pricing::v1 as pb;
use shopcore_proto::pricing::v1::promotion_commands_server::PromotionCommands;

use super::{instant, instant_to_pb, money, money_to_pb, percent, run};
use crate::claims::PROMOTION_COUPON_CODE;
use crate::grpc::{command_requests, command_result, invalid, new_id, parse_uuid};
use crate::pipeline::{CommandOutcome, CommandPipeline};

/// Snapshots of promotions: every 100 events (each redemption is one).
pub fn promotion_snapshots() -> SnapshotPolicy {
    SnapshotPolicy::new(Promotion::TYPE, 100, 1, EVENT_SCHEMA_VERSION)
}

/// The command pipeline of promotions over `store`.
pub fn promotion_pipeline(store: EventStore) -> CommandPipeline<Promotion> {
    let services = PromotionServices {
        coupons: Arc::new(ClaimedCouponCodes(store.clone())),
    };
    CommandPipeline::new(store, services, promotion_snapshots())
}

/// Coupon codes from the unique-claims table of the event store, in one query per command.
struct ClaimedCouponCodes(EventStore);

#[async_trait]
impl CouponCodeDirectory for ClaimedCouponCodes {
    async fn holders(&self, codes: &[String]) -> Result<Vec<(String, Uuid)>, String> {
        let holders = self
            .0
            .claim_owners(PROMOTION_COUPON_CODE, codes)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "coupon code lookup failed");
                "the coupon code directory did not answer".to_owned()
            })?;
        Ok(holders
            .into_iter()
            .filter_map(|(code, id)| Some((code, Uuid::parse_str(&id).ok()?)))
            .collect())
    }
}

command_requests!(
    pb::CreatePromotionRequest,
    pb::ChangePromotionRequest,
    pb::AddCouponCodesRequest,
    pb::PromotionLifecycleRequest,
);

/// The gRPC service of the Promotion aggregate.
pub struct PromotionService {
    pipeline: CommandPipeline<Promotion>,
}

impl PromotionService {
    pub fn new(store: EventStore) -> Self {
        Self {
            pipeline: promotion_pipeline(store),
        }
    }

    async fn lifecycle(
        &self,
        command_type: &'static str,
        request: Request<pb::PromotionLifecycleRequest>,
        command: impl FnOnce() -> PromotionCommand,
    ) -> Result<Response<pb::PromotionResult>, Status> {
        let outcome = run(
            &self.pipeline,
            command_type,
            request,
            |message| existing(&message.promotion_id),
            |_, _| Ok(command()),
        )
        .await?;
        Ok(Response::new(promotion_result(&outcome)))
    }
}

fn existing(promotion_id: &str) -> Result<Uuid, Status> {
    parse_uuid(promotion_id, "promotionId")
}

/// The domain's discount of a wire discount, field names as the domain's (`discount.percent`).
fn discount_from_pb(discount: Option<pb::Discount>) -> Result<Discount, Status> {
    match discount.and_then(|d| d.discount) {
        None => Err(invalid("discount", "is required: percentOff or amountOff")),
        Some(pb::discount::Discount::PercentOff(text)) => Ok(Discount::PercentOff {
            percent: percent(&text, "discount.percent")?,
        }),
        Some(pb::discount::Discount::AmountOff(amount)) => Ok(Discount::AmountOff {
            amount: money(Some(amount), "discount.amount")?,
        }),
    }
}

fn discount_to_pb(discount: Discount) -> pb::Discount {
    pb::Discount {
        discount: Some(match discount {
            Discount::PercentOff { percent } => {
                pb::discount::Discount::PercentOff(percent.to_decimal_string())
            }
            Discount::AmountOff { amount } => {
                pb::discount::Discount::AmountOff(money_to_pb(amount))
            }
        }),
    }
}

/// The reply: what the command did and the promotion after it.
fn promotion_result(outcome: &CommandOutcome<Promotion>) -> pb::PromotionResult {
    let state = &outcome.state;
    pb::PromotionResult {
        result: Some(command_result(outcome.aggregate_id.clone(), outcome)),
        promotion: Some(pb::Promotion {
            promotion_id: outcome.aggregate_id.clone(),
            name: state.name.clone(),
            discount: state.discount.map(discount_to_pb),
            valid_from: state.valid_from.map(instant_to_pb).unwrap_or_default(),
            valid_until: state.valid_until.map(instant_to_pb).unwrap_or_default(),
            usage_limit_total: state.usage_limit_total,
            usage_limit_per_customer: state.usage_limit_per_customer,
            coupon_codes: state.coupon_codes.iter().cloned().collect(),
            active: state.active,
            redemptions: state.redemptions,
            activation_scheduled_at: state.activation_scheduled_at.map(instant_to_pb),
        }),
    }
}

#[tonic::async_trait]
impl PromotionCommands for PromotionService {
    async fn create_promotion(
        &self,
        request: Request<pb::CreatePromotionRequest>,
    ) -> Result<Response<pb::PromotionResult>, Status> {
        let outcome = run(
            &self.pipeline,
            "promotion.create",
            request,
            |message| new_id(&message.promotion_id, "promotionId"),
            |message, promotion_id| {
                Ok(PromotionCommand::CreatePromotion {
                    promotion_id: *promotion_id,
                    name: message.name,
                    discount: discount_from_pb(message.discount)?,
                    valid_from: instant(&message.valid_from, "validFrom")?,
                    valid_until: instant(&message.valid_until, "validUntil")?,
                    usage_limit_total: message.usage_limit_total,
                    usage_limit_per_customer: message.usage_limit_per_customer,
                    coupon_codes: message.coupon_codes,
                    activate_at_start: message.activate_at_start,
                    now: Utc::now(),
                })
            },
        )
        .await?;
        Ok(Response::new(promotion_result(&outcome)))
    }

    async fn change_promotion(
        &self,
        request: Request<pb::ChangePromotionRequest>,
    ) -> Result<Response<pb::PromotionResult>, Status> {
        let outcome = run(
            &self.pipeline,
            "promotion.change",
            request,
            |message| existing(&message.promotion_id),
            |message, _| {
                let changes = PromotionChanges {
                    name: message.name,
                    discount: message
                        .discount
                        .map(|d| discount_from_pb(Some(d)))
                        .transpose()?,
                    valid_from: message
                        .valid_from
                        .map(|t| instant(&t, "validFrom"))
                        .transpose()?,
                    valid_until: message
                        .valid_until
                        .map(|t| instant(&t, "validUntil"))
                        .transpose()?,
                    usage_limit_total: message.usage_limit_total.map(|l| l.limit),
                    usage_limit_per_customer: message.usage_limit_per_customer.map(|l| l.limit),
                };
                Ok(PromotionCommand::ChangePromotion {
                    changes,
                    now: Utc::now(),
                })
            },
        )
        .await?;
        Ok(Response::new(promotion_result(&outcome)))
    }

    async fn add_coupon_codes(
        &self,
        request: Request<pb::AddCouponCodesRequest>,
    ) -> Result<Response<pb::PromotionResult>, Status> {
        let outcome = run(
            &self.pipeline,
            "promotion.add_coupon_codes",
            request,
            |message| existing(&message.promotion_id),
            |message, _| {
                Ok(PromotionCommand::AddCouponCodes {
                    codes: message.coupon_codes,
                })
            },
        )
        .await?;
        Ok(Response::new(promotion_result(&outcome)))
    }

    async fn activate_promotion(
        &self,
        request: Request<pb::PromotionLifecycleRequest>,
    ) -> Result<Response<pb::PromotionResult>, Status> {
        self.lifecycle("promotion.activate", request, || {
            PromotionCommand::ActivatePromotion { now: Utc::now() }
        })
        .await
    }

    async fn deactivate_promotion(
        &self,
        request: Request<pb::PromotionLifecycleRequest>,
    ) -> Result<Response<pb::PromotionResult>, Status> {
        self.lifecycle("promotion.deactivate", request, || {
            PromotionCommand::DeactivatePromotion { now: Utc::now() }
        })
        .await
    }

    async fn schedule_promotion_activation(
        &self,
        request: Request<pb::PromotionLifecycleRequest>,
    ) -> Result<Response<pb::PromotionResult>, Status> {
        self.lifecycle("promotion.schedule_activation", request, || {
            PromotionCommand::SchedulePromotionActivation { now: Utc::now() }
        })
        .await
    }
}
