//! `/promotions`: create, activate, deactivate and schedule promotions (gRPC
//! `PromotionCommands`, a platform token with `manage_prices`), and read them from the MySQL
//! read model (`promotion_campaigns` with `promotion_coupon_codes`) with a platform token that
//! has `view_prices` — coupon codes are not for storefront sessions.

use std::collections::BTreeMap;
use std::future::Future;

use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shopcore_auth::scopes::MANAGE_PRICES;
use shopcore_projections::catalog::read_model::whole;
use shopcore_projections::pricing::read_model::{DiscountView, PromotionFilter, PromotionView};
use shopcore_proto::pricing::v1 as pb;
use shopcore_proto::pricing::v1::promotion_commands_client::PromotionCommandsClient;
use tonic::transport::Channel;
use uuid::Uuid;

use super::customers::{call, command_options};
use super::price_rules::{page_limit, with_headers};
use super::pricing::{
    instant, money, money_view, percent, present, reads_at, unavailable, PricingCaller,
};
use crate::problem::{ApiJson, ApiPath, Problem};

/// Limits of a promotion, as the domain enforces them (`shopcore_domain::pricing::promotion`,
/// `::coupon`).
pub const MAX_PROMOTION_NAME_CHARS: usize = 200;
pub const MAX_COUPON_CODES: usize = 1_000;

/// Body of `POST /promotions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePromotion {
    /// 1 to 200 characters, nothing invisible.
    pub name: String,
    pub discount: DiscountView,
    /// Inclusive start, RFC 3339.
    pub valid_from: String,
    /// Exclusive end, RFC 3339; after validFrom.
    pub valid_until: String,
    /// Absent: no limit; else at least 1.
    #[serde(default, deserialize_with = "whole::some_u32")]
    #[schema(minimum = 1)]
    pub usage_limit_total: Option<u32>,
    #[serde(default, deserialize_with = "whole::some_u32")]
    #[schema(minimum = 1)]
    pub usage_limit_per_customer: Option<u32>,
    /// 3 to 32 letters, digits, '-' or '_', stored upper case; unique across promotions (409
    /// naming `couponCodes` when another holds one). Absent or empty: no code is needed.
    #[serde(default, deserialize_with = "present")]
    pub coupon_codes: Option<Vec<String>>,
    /// Also schedule the activation for `validFrom` (at once when it has passed): the
    /// promotion switches itself on then, exactly once. Refused when the window has ended.
    #[serde(default, deserialize_with = "present")]
    pub activate_at_start: Option<bool>,
}

fn coupon_code(value: &str) -> bool {
    (3..=32).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

fn discount(value: DiscountView) -> Result<pb::Discount, Problem> {
    use pb::discount::Discount;
    Ok(pb::Discount {
        discount: Some(match value {
            DiscountView::PercentOff { percent: p } => {
                Discount::PercentOff(percent("discount.percent", &p)?)
            }
            DiscountView::AmountOff { amount } => {
                Discount::AmountOff(money("discount.amount", amount)?)
            }
        }),
    })
}

/// A page of promotions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromotionPageView {
    pub items: Vec<PromotionView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The promotion of a command's result, as the REST view (no `createdAt`/`updatedAt`).
fn promotion_written(status: StatusCode, reply: pb::PromotionResult) -> Result<Response, Problem> {
    let (Some(result), Some(promotion)) = (reply.result, reply.promotion) else {
        return Err(Problem::internal(
            &"the command service sent an incomplete result",
        ));
    };
    let instant = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| Problem::internal(&e))
    };
    let discount = match promotion.discount.and_then(|d| d.discount) {
        Some(pb::discount::Discount::PercentOff(percent)) => DiscountView::PercentOff { percent },
        Some(pb::discount::Discount::AmountOff(amount)) => DiscountView::AmountOff {
            amount: money_view(Some(amount)),
        },
        None => return Err(Problem::internal(&"a promotion without discount")),
    };
    let view = PromotionView {
        id: Uuid::parse_str(&promotion.promotion_id).map_err(|e| Problem::internal(&e))?,
        name: promotion.name,
        discount,
        valid_from: instant(&promotion.valid_from)?,
        valid_until: instant(&promotion.valid_until)?,
        usage_limit_total: promotion.usage_limit_total,
        usage_limit_per_customer: promotion.usage_limit_per_customer,
        coupon_codes: promotion.coupon_codes,
        active: promotion.active,
        activation_scheduled_at: promotion
            .activation_scheduled_at
            .as_deref()
            .map(instant)
            .transpose()?,
        redemptions: promotion.redemptions,
        created_at: None,
        updated_at: None,
        version: result.version,
        position: result.log_position.clone(),
    };
    let location = (status == StatusCode::CREATED).then(|| format!("/promotions/{}", view.id));
    Ok(with_headers(
        (status, axum::Json(view)).into_response(),
        result.version,
        &result.log_position,
        location,
    ))
}

impl PricingCaller {
    async fn promotion_command<M, F>(
        &self,
        status: StatusCode,
        message: M,
        send: impl FnOnce(PromotionCommandsClient<Channel>, tonic::Request<M>) -> F,
    ) -> Result<Response, Problem>
    where
        F: Future<Output = Result<tonic::Response<pb::PromotionResult>, tonic::Status>>,
    {
        self.principal
            .platform(MANAGE_PRICES)
            .map_err(Problem::forbidden)?;
        let reply = call(
            &self.state.promotions,
            &self.correlation,
            &self.token,
            message,
            send,
        )
        .await?;
        promotion_written(status, reply)
    }
}

/// Create a promotion (inactive, unless `activateAtStart` schedules it).
#[utoipa::path(
    post, path = "/promotions", tag = "promotions",
    request_body = CreatePromotion,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body create the promotion once; another body is 422"),
    ),
    responses(
        (status = 201, description = "Created; `Location` names it", body = PromotionView),
        (status = 400, description = "Invalid input; nothing written (`field` names it)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A coupon code another promotion holds (`field: couponCodes`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "A body over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_promotion(
    caller: PricingCaller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreatePromotion>,
) -> Result<Response, Problem> {
    if body.name.chars().count() > MAX_PROMOTION_NAME_CHARS {
        return Err(Problem::invalid(
            "name",
            format!("must be at most {MAX_PROMOTION_NAME_CHARS} characters"),
        ));
    }
    let discount = discount(body.discount)?;
    instant("validFrom", &body.valid_from)?;
    instant("validUntil", &body.valid_until)?;
    let codes = body.coupon_codes.unwrap_or_default();
    if codes.len() > MAX_COUPON_CODES {
        return Err(Problem::invalid(
            "couponCodes",
            format!("at most {MAX_COUPON_CODES} codes"),
        ));
    }
    if let Some(bad) = codes.iter().find(|c| !coupon_code(c)) {
        let shown: String = bad.chars().take(40).collect();
        return Err(Problem::invalid(
            "couponCodes",
            format!("{shown:?} must be 3 to 32 letters, digits, '-' or '_'"),
        ));
    }
    let request = pb::CreatePromotionRequest {
        promotion_id: String::new(),
        name: body.name,
        discount: Some(discount),
        valid_from: body.valid_from,
        valid_until: body.valid_until,
        usage_limit_total: body.usage_limit_total,
        usage_limit_per_customer: body.usage_limit_per_customer,
        coupon_codes: codes,
        activate_at_start: body.activate_at_start.unwrap_or(false),
        options: Some(command_options(&headers)?),
    };
    caller
        .promotion_command(StatusCode::CREATED, request, |mut c, r| async move {
            c.create_promotion(r).await
        })
        .await
}

fn lifecycle(id: Uuid, headers: &HeaderMap) -> Result<pb::PromotionLifecycleRequest, Problem> {
    Ok(pb::PromotionLifecycleRequest {
        promotion_id: id.to_string(),
        options: Some(command_options(headers)?),
    })
}

/// Switch a promotion on (before or during its window; not after it ended).
#[utoipa::path(
    post, path = "/promotions/{id}/activate", tag = "promotions",
    params(
        ("id" = Uuid, Path, description = "Promotion id"),
        ("If-Match" = Option<String>, Header, description = "Expected version; a mismatch is 409"),
    ),
    responses(
        (status = 200, body = PromotionView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The window has ended, or a version conflict", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn activate_promotion(
    caller: PricingCaller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    caller
        .promotion_command(
            StatusCode::OK,
            lifecycle(id, &headers)?,
            |mut c, r| async move { c.activate_promotion(r).await },
        )
        .await
}

/// Switch a promotion off (and cancel a scheduled activation).
#[utoipa::path(
    post, path = "/promotions/{id}/deactivate", tag = "promotions",
    params(
        ("id" = Uuid, Path, description = "Promotion id"),
        ("If-Match" = Option<String>, Header, description = "Expected version; a mismatch is 409"),
    ),
    responses(
        (status = 200, body = PromotionView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn deactivate_promotion(
    caller: PricingCaller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    caller
        .promotion_command(
            StatusCode::OK,
            lifecycle(id, &headers)?,
            |mut c, r| async move { c.deactivate_promotion(r).await },
        )
        .await
}

/// Schedule the activation for the start of the window (at once when it has passed).
#[utoipa::path(
    post, path = "/promotions/{id}/schedule-activation", tag = "promotions",
    params(
        ("id" = Uuid, Path, description = "Promotion id"),
        ("If-Match" = Option<String>, Header, description = "Expected version; a mismatch is 409"),
    ),
    responses(
        (status = 200, description = "Scheduled (`activationScheduledAt`), or left as it was when active or already scheduled", body = PromotionView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The window has ended (`field: validUntil`), or a version conflict", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn schedule_promotion_activation(
    caller: PricingCaller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    caller
        .promotion_command(
            StatusCode::OK,
            lifecycle(id, &headers)?,
            |mut c, r| async move { c.schedule_promotion_activation(r).await },
        )
        .await
        .map_err(|problem| {
            // The service refuses an ended window as bad input (`validUntil`); here the request
            // names only the promotion, so it is the promotion's state that is in the way.
            if problem.status == 400 && problem.field.as_deref() == Some("validUntil") {
                Problem {
                    field: Some("validUntil".to_owned()),
                    ..Problem::new(
                        shopcore_proto::ErrorCode::FailedPrecondition,
                        problem.detail,
                    )
                }
            } else {
                problem
            }
        })
}

/// Read a promotion.
#[utoipa::path(
    get, path = "/promotions/{id}", tag = "promotions",
    params(
        ("id" = Uuid, Path, description = "Promotion id"),
        ("Shopcore-Min-Position" = Option<String>, Header, description = "A `Shopcore-Position` token: wait (briefly) until the pricing read model has reached it; a token that names no event is 400"),
    ),
    responses(
        (status = 200, body = PromotionView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_promotion(
    caller: PricingCaller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    caller.back_office()?;
    reads_at(&caller.state, &headers).await?;
    let promotion = caller
        .state
        .pricing_reads
        .promotion(id)
        .await
        .map_err(|e| unavailable(&e))?
        .ok_or_else(|| Problem::not_found(format!("no promotion {id}")))?;
    let (version, position) = (promotion.version, promotion.position.clone());
    Ok(with_headers(
        axum::Json(promotion).into_response(),
        version,
        &position,
        None,
    ))
}

/// The filters and page of `GET /promotions`.
pub(crate) fn promotion_list_query(
    query: &BTreeMap<String, String>,
) -> Result<(PromotionFilter, Option<Uuid>, usize), Problem> {
    for name in query.keys() {
        if !matches!(name.as_str(), "active" | "code" | "limit" | "cursor") {
            let shown: String = name.chars().take(64).collect();
            return Err(Problem::invalid(
                shown,
                "is not a parameter of this operation (active, code, limit, cursor)",
            ));
        }
    }
    let mut filter = PromotionFilter::default();
    if let Some(active) = query.get("active") {
        filter.active = Some(match active.as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(Problem::invalid("active", "must be true or false")),
        });
    }
    if let Some(code) = query.get("code") {
        if !coupon_code(code) {
            return Err(Problem::invalid(
                "code",
                "must be a coupon code: 3 to 32 letters, digits, '-' or '_'",
            ));
        }
        filter.code = Some(code.to_ascii_uppercase());
    }
    let after = match query.get("cursor") {
        None => None,
        Some(cursor) => Some(Uuid::parse_str(cursor).map_err(|_| {
            Problem::invalid("cursor", "must be the nextCursor of a previous page")
        })?),
    };
    Ok((filter, after, page_limit(query.get("limit"))?))
}

/// List promotions by id, a page at a time.
#[utoipa::path(
    get, path = "/promotions", tag = "promotions",
    params(
        ("active" = Option<bool>, Query, description = "Only active (true) or inactive (false) promotions"),
        ("code" = Option<String>, Query, description = "Only the promotion holding this coupon code (any case)"),
        ("limit" = Option<u32>, Query, description = "Promotions per page, 1 to 100 (20)"),
        ("cursor" = Option<String>, Query, description = "The `nextCursor` of the previous page"),
        ("Shopcore-Min-Position" = Option<String>, Header, description = "A `Shopcore-Position` token: wait (briefly) until the pricing read model has reached it"),
    ),
    responses(
        (status = 200, body = PromotionPageView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_promotions(
    caller: PricingCaller,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    caller.back_office()?;
    let (filter, after, limit) = promotion_list_query(&query)?;
    reads_at(&caller.state, &headers).await?;
    let page = caller
        .state
        .pricing_reads
        .promotions(&filter, after, limit)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(axum::Json(PromotionPageView {
        items: page.items,
        next_cursor: page.next,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coupon_codes_and_list_filters_are_checked_exactly() {
        assert!(coupon_code("BF-2026") && coupon_code("bf_26"));
        for bad in ["ab", " BF-2026", "BF 2026", &"A".repeat(33), "ÄBC"] {
            assert!(!coupon_code(bad), "{bad:?}");
        }
        let query = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>()
        };
        let (filter, _, limit) =
            promotion_list_query(&query(&[("code", "bf-2026"), ("active", "true")]))
                .expect("valid");
        assert_eq!(filter.code.as_deref(), Some("BF-2026"));
        assert_eq!((filter.active, limit), (Some(true), 20));
        for (pairs, field) in [
            (query(&[("active", "1")]), "active"),
            (query(&[("code", "x")]), "code"),
            (query(&[("limit", "0")]), "limit"),
            (query(&[("cursor", "abc")]), "cursor"),
            (query(&[("status", "active")]), "status"),
        ] {
            let problem = promotion_list_query(&pairs).expect_err(field);
            assert_eq!(problem.field.as_deref(), Some(field));
        }
    }
}
