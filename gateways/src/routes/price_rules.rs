//! `/pricing/rules`: upsert and remove price rules (gRPC `PriceRuleCommands`, a platform token
//! with `manage_prices`), and read them from the MySQL read model (`price_rules`, through
//! `price_rule_targets` for "the rules that target this SKU or category"). A write answers
//! from the command's result — the rule as stored, `ETag`, `Shopcore-Position`, `Location` —
//! and a read with that position as `Shopcore-Min-Position` sees it; a price query with it
//! (`GET /pricing/{sku}`) prices with it.

use std::collections::BTreeMap;

use axum::extract::Query;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shopcore_auth::scopes::MANAGE_PRICES;
use shopcore_projections::catalog::read_model::whole;
use shopcore_projections::pricing::read_model::{
    PriceRuleView, RuleActionView, RuleFilter, RuleTargetsView,
};
use shopcore_proto::pricing::v1 as pb;
use uuid::Uuid;

use super::customers::{call, command_options, etag};
use super::pricing::{
    currency, instant, money, percent, present, reads_at, sku, some_i64, text, unavailable,
    PricingCaller, MAX_LABEL_CHARS,
};
use super::POSITION_HEADER;
use crate::problem::{ApiJson, ApiPath, Problem};

/// Limits of a rule, as the domain enforces them (`shopcore_domain::pricing::rule`).
pub const MAX_TARGETS: usize = 1_000;
pub const MAX_CONDITION_VALUES: usize = 100;
pub const MAX_RULE_NAME_CHARS: usize = 200;
/// Rules per page when `limit` is not given, and at most.
pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;

/// When a rule applies. Absent or empty conditions always hold; a list matches when the
/// shopper has any of its values.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleConditionsBody {
    #[serde(default, deserialize_with = "present")]
    pub customer_segments: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    pub channels: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    pub regions: Option<Vec<String>>,
    /// ISO 4217; a money action's currency must be this one (and is, when absent).
    #[serde(default, deserialize_with = "present")]
    pub currency: Option<String>,
    /// Inclusive start, RFC 3339.
    #[serde(default, deserialize_with = "present")]
    pub valid_from: Option<String>,
    /// Exclusive end, RFC 3339; after validFrom.
    #[serde(default, deserialize_with = "present")]
    pub valid_until: Option<String>,
    /// At least 1.
    #[serde(default, deserialize_with = "whole::some_u32")]
    #[schema(minimum = 1)]
    pub min_quantity: Option<u32>,
}

/// A rule's whole definition (the body of `POST /pricing/rules`, and a draft of
/// `POST /pricing/{sku}/simulate`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriceRuleBody {
    /// The rule to replace, or the id of a new one; absent: a new rule with a new id.
    #[serde(default, deserialize_with = "present")]
    pub rule_id: Option<Uuid>,
    /// 1 to 200 characters, nothing invisible.
    pub name: String,
    /// At least one SKU or category.
    pub targets: RuleTargetsView,
    /// Higher wins among rules of equal specificity (0).
    #[serde(default, deserialize_with = "some_i64")]
    #[schema(value_type = Option<i32>, minimum = -2147483648, maximum = 2147483647)]
    pub priority: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    pub conditions: Option<RuleConditionsBody>,
    pub action: RuleActionView,
    /// When it applies, no rule after it (in precedence order) is considered (false).
    #[serde(default, deserialize_with = "present")]
    pub exclusive: Option<bool>,
}

fn labels(field: &str, values: Option<Vec<String>>, max: usize) -> Result<Vec<String>, Problem> {
    let values = values.unwrap_or_default();
    if values.len() > max {
        return Err(Problem::invalid(field, format!("at most {max} values")));
    }
    for value in &values {
        text(field, value, MAX_LABEL_CHARS)?;
    }
    Ok(values)
}

impl PriceRuleBody {
    /// Checks the definition as the document states it and makes it the command's; problems
    /// name fields under `prefix` (`""`, or `draftRules[2].`).
    pub(crate) fn into_pb(
        self,
        prefix: &str,
    ) -> Result<(Option<Uuid>, pb::PriceRuleDefinition), Problem> {
        let at = |field: &str| format!("{prefix}{field}");
        let chars = self.name.chars().count();
        if chars > MAX_RULE_NAME_CHARS {
            return Err(Problem::invalid(
                at("name"),
                format!("must be at most {MAX_RULE_NAME_CHARS} characters"),
            ));
        }
        let priority = match self.priority {
            None => 0,
            Some(p) => i32::try_from(p)
                .map_err(|_| Problem::invalid(at("priority"), "must be a 32-bit whole number"))?,
        };
        if self.targets.skus.len() > MAX_TARGETS {
            return Err(Problem::invalid(
                at("targets.skus"),
                format!("at most {MAX_TARGETS} SKUs"),
            ));
        }
        for value in &self.targets.skus {
            sku(&at("targets.skus"), value)?;
        }
        let categories = labels(
            &at("targets.categories"),
            Some(self.targets.categories),
            MAX_TARGETS,
        )?;
        if self.targets.skus.is_empty() && categories.is_empty() {
            return Err(Problem::invalid(
                at("targets"),
                "must name at least one SKU or category",
            ));
        }
        let c = self.conditions.unwrap_or_default();
        let conditions = pb::RuleConditions {
            customer_segments: labels(
                &at("conditions.customerSegments"),
                c.customer_segments,
                MAX_CONDITION_VALUES,
            )?,
            channels: labels(&at("conditions.channels"), c.channels, MAX_CONDITION_VALUES)?,
            regions: labels(&at("conditions.regions"), c.regions, MAX_CONDITION_VALUES)?,
            currency: match c.currency {
                Some(code) => {
                    currency(&at("conditions.currency"), &code)?;
                    Some(code)
                }
                None => None,
            },
            valid_from: match c.valid_from {
                Some(t) => {
                    instant(&at("conditions.validFrom"), &t)?;
                    Some(t)
                }
                None => None,
            },
            valid_until: match c.valid_until {
                Some(t) => {
                    instant(&at("conditions.validUntil"), &t)?;
                    Some(t)
                }
                None => None,
            },
            min_quantity: c.min_quantity,
        };
        use pb::rule_action::Action;
        let action = match self.action {
            RuleActionView::SetPrice { price } => {
                Action::SetPrice(money(&at("action.price"), price)?)
            }
            RuleActionView::AmountOff { amount } => {
                Action::AmountOff(money(&at("action.amount"), amount)?)
            }
            RuleActionView::PercentOff { percent: p } => {
                Action::PercentOff(percent(&at("action.percent"), &p)?)
            }
        };
        Ok((
            self.rule_id,
            pb::PriceRuleDefinition {
                name: self.name,
                targets: Some(pb::RuleTargets {
                    skus: self.targets.skus,
                    categories,
                }),
                priority,
                conditions: Some(conditions),
                action: Some(pb::RuleAction {
                    action: Some(action),
                }),
                exclusive: self.exclusive.unwrap_or(false),
            },
        ))
    }
}

/// The answer of `DELETE /pricing/rules/{id}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemovedPriceRuleView {
    pub id: Uuid,
    pub removed: bool,
    pub version: u64,
    #[schema(example = "1042-17")]
    pub position: String,
}

/// A page of rules.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PriceRulePageView {
    pub items: Vec<PriceRuleView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The rule of a command's result, as the REST view.
fn rule_view(rule: pb::PriceRule, version: u64, position: &str) -> Result<PriceRuleView, Problem> {
    let id = Uuid::parse_str(&rule.rule_id).map_err(|e| Problem::internal(&e))?;
    let definition = rule
        .definition
        .ok_or_else(|| Problem::internal(&"the command service sent a rule without definition"))?;
    let targets = definition.targets.unwrap_or_default();
    let c = definition.conditions.unwrap_or_default();
    let instant = |t: Option<String>| {
        t.and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    Ok(PriceRuleView {
        id,
        name: definition.name,
        targets: RuleTargetsView {
            skus: targets.skus,
            categories: targets.categories,
        },
        priority: definition.priority,
        conditions: shopcore_projections::pricing::read_model::RuleConditionsView {
            customer_segments: c.customer_segments,
            channels: c.channels,
            regions: c.regions,
            currency: c.currency,
            valid_from: instant(c.valid_from),
            valid_until: instant(c.valid_until),
            min_quantity: c.min_quantity,
        },
        action: super::pricing::action_view(definition.action),
        exclusive: definition.exclusive,
        created_at: instant(Some(rule.created_at)),
        updated_at: instant(Some(rule.updated_at)),
        removed_at: None,
        version,
        position: position.to_owned(),
    })
}

/// `ETag` and `Shopcore-Position` (and `Location`) of an answer.
pub(crate) fn with_headers(
    mut response: Response,
    version: u64,
    position: &str,
    location: Option<String>,
) -> Response {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(position) {
        headers.insert(POSITION_HEADER, value);
    }
    headers.insert(header::ETAG, etag(version));
    if let Some(value) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, value);
    }
    response
}

fn writer(caller: &PricingCaller) -> Result<(), Problem> {
    caller
        .principal
        .platform(MANAGE_PRICES)
        .map_err(Problem::forbidden)
}

/// Create a rule, or replace a rule's whole definition.
#[utoipa::path(
    post, path = "/pricing/rules", tag = "pricing",
    request_body = PriceRuleBody,
    params(
        ("If-Match" = Option<String>, Header, description = "Expected version of the rule (with `ruleId`); a mismatch is 409"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body write once and answer with the first result; another body is 422"),
    ),
    responses(
        (status = 201, description = "Created; `Location` names it, `Shopcore-Position` is the write's position (use it as `Shopcore-Min-Position` of `GET /pricing/{sku}` to price with the rule at once)", body = PriceRuleView),
        (status = 200, description = "Replaced (or unchanged: the same definition again writes nothing)", body = PriceRuleView),
        (status = 400, description = "Invalid definition; nothing written (`field` names it, e.g. `conditions.validUntil`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Version conflict, or the rule was removed", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "A body over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key already used with another request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upsert_price_rule(
    caller: PricingCaller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PriceRuleBody>,
) -> Result<Response, Problem> {
    writer(&caller)?;
    let (rule_id, definition) = body.into_pb("")?;
    let request = pb::UpsertPriceRuleRequest {
        rule_id: rule_id.map(|id| id.to_string()).unwrap_or_default(),
        definition: Some(definition),
        options: Some(command_options(&headers)?),
    };
    let reply = call(
        &caller.state.price_rules,
        &caller.correlation,
        &caller.token,
        request,
        |mut c, r| async move { c.upsert_price_rule(r).await },
    )
    .await
    // The service may name a definition's field below `definition.`; the body has them at
    // its top.
    .map_err(strip_definition)?;
    let (Some(result), Some(rule)) = (reply.result, reply.price_rule) else {
        return Err(Problem::internal(
            &"the command service sent an incomplete result",
        ));
    };
    let created = (result.events_written > 0 && result.version == u64::from(result.events_written))
        || (result.replayed && result.version == 1);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let view = rule_view(rule, result.version, &result.log_position)?;
    let location = format!("/pricing/rules/{}", view.id);
    Ok(with_headers(
        (status, axum::Json(view)).into_response(),
        result.version,
        &result.log_position,
        Some(location),
    ))
}

fn strip_definition(mut problem: Problem) -> Problem {
    if let Some(field) = problem.field.as_deref() {
        if let Some(rest) = field.strip_prefix("definition.") {
            let rest = rest.to_owned();
            problem.detail = problem
                .detail
                .replacen(&format!("definition.{rest}"), &rest, 1);
            problem.field = Some(rest);
        }
    }
    problem
}

/// Remove a rule: it applies nowhere from the write's position on (its row stays, with
/// `removedAt`).
#[utoipa::path(
    delete, path = "/pricing/rules/{id}", tag = "pricing",
    params(
        ("id" = Uuid, Path, description = "Rule id"),
        ("If-Match" = Option<String>, Header, description = "Expected version; a mismatch is 409"),
    ),
    responses(
        (status = 200, body = RemovedPriceRuleView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already removed, or a version conflict", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_price_rule(
    caller: PricingCaller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    writer(&caller)?;
    let request = pb::RemovePriceRuleRequest {
        rule_id: id.to_string(),
        options: Some(command_options(&headers)?),
    };
    let reply = call(
        &caller.state.price_rules,
        &caller.correlation,
        &caller.token,
        request,
        |mut c, r| async move { c.remove_price_rule(r).await },
    )
    .await?;
    let Some(result) = reply.result else {
        return Err(Problem::internal(
            &"the command service sent an incomplete result",
        ));
    };
    let view = RemovedPriceRuleView {
        id,
        removed: true,
        version: result.version,
        position: result.log_position.clone(),
    };
    Ok(with_headers(
        axum::Json(view).into_response(),
        result.version,
        &result.log_position,
        None,
    ))
}

/// Read a rule.
#[utoipa::path(
    get, path = "/pricing/rules/{id}", tag = "pricing",
    params(
        ("id" = Uuid, Path, description = "Rule id"),
        ("Shopcore-Min-Position" = Option<String>, Header, description = "A `Shopcore-Position` token: wait (briefly) until the pricing read model has reached it; a token that names no event is 400"),
    ),
    responses(
        (status = 200, body = PriceRuleView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such rule, or it was removed", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_price_rule(
    caller: PricingCaller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    caller.back_office()?;
    reads_at(&caller.state, &headers).await?;
    let rule = caller
        .state
        .pricing_reads
        .price_rule(id)
        .await
        .map_err(|e| unavailable(&e))?
        .ok_or_else(|| Problem::not_found(format!("no price rule {id}")))?;
    if rule.removed_at.is_some() {
        return Err(Problem::not_found(format!("price rule {id} was removed")));
    }
    let (version, position) = (rule.version, rule.position.clone());
    Ok(with_headers(
        axum::Json(rule).into_response(),
        version,
        &position,
        None,
    ))
}

/// The filters and page of `GET /pricing/rules`.
pub(crate) fn rule_list_query(
    query: &BTreeMap<String, String>,
) -> Result<(RuleFilter, Option<Uuid>, usize), Problem> {
    for name in query.keys() {
        if !matches!(name.as_str(), "sku" | "category" | "limit" | "cursor") {
            let shown: String = name.chars().take(64).collect();
            return Err(Problem::invalid(
                shown,
                "is not a parameter of this operation (sku, category, limit, cursor)",
            ));
        }
    }
    let mut filter = RuleFilter::default();
    if let Some(value) = query.get("sku") {
        sku("sku", value)?;
        filter.sku = Some(value.clone());
    }
    if let Some(value) = query.get("category") {
        text("category", value, MAX_LABEL_CHARS)?;
        let clean = shopcore_domain::text::clean(value).unwrap_or_default();
        filter.category = Some(clean);
    }
    let after = match query.get("cursor") {
        None => None,
        Some(cursor) => Some(Uuid::parse_str(cursor).map_err(|_| {
            Problem::invalid("cursor", "must be the nextCursor of a previous page")
        })?),
    };
    let limit = page_limit(query.get("limit"))?;
    Ok((filter, after, limit))
}

/// `limit`: 1 to [`MAX_PAGE`] ([`DEFAULT_PAGE`]).
pub(crate) fn page_limit(limit: Option<&String>) -> Result<usize, Problem> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(limit) => limit
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                Problem::invalid("limit", format!("must be a number from 1 to {MAX_PAGE}"))
            }),
    }
}

/// List live rules, by id, a page at a time.
#[utoipa::path(
    get, path = "/pricing/rules", tag = "pricing",
    params(
        ("sku" = Option<String>, Query, description = "Only rules that target this SKU directly"),
        ("category" = Option<String>, Query, description = "Only rules that target this category (with `sku`: rules that target either)"),
        ("limit" = Option<u32>, Query, description = "Rules per page, 1 to 100 (20)"),
        ("cursor" = Option<String>, Query, description = "The `nextCursor` of the previous page"),
        ("Shopcore-Min-Position" = Option<String>, Header, description = "A `Shopcore-Position` token: wait (briefly) until the pricing read model has reached it"),
    ),
    responses(
        (status = 200, body = PriceRulePageView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_price_rules(
    caller: PricingCaller,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    caller.back_office()?;
    let (filter, after, limit) = rule_list_query(&query)?;
    reads_at(&caller.state, &headers).await?;
    let page = caller
        .state
        .pricing_reads
        .price_rules(&filter, after, limit)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(axum::Json(PriceRulePageView {
        items: page.items,
        next_cursor: page.next,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: serde_json::Value) -> PriceRuleBody {
        serde_json::from_value(json).expect("body")
    }

    #[test]
    fn definitions_are_checked_as_the_document_states_them() {
        let base = serde_json::json!({
            "name": "Winter", "targets": {"skus": ["TR-42"]},
            "action": {"type": "percentOff", "percent": "15"}
        });
        let (id, definition) = body(base.clone()).into_pb("").expect("valid");
        assert_eq!(
            (id, definition.priority, definition.exclusive),
            (None, 0, false)
        );
        let cases = [
            (
                "/targets/skus/0",
                serde_json::json!(" TR-42"),
                "targets.skus",
            ),
            ("/targets/skus", serde_json::json!([]), "targets"),
            (
                "/action/percent",
                serde_json::json!(" 15"),
                "action.percent",
            ),
            ("/action/percent", serde_json::json!("0"), "action.percent"),
            ("/name", serde_json::json!("n".repeat(201)), "name"),
            (
                "/priority",
                serde_json::json!(4_294_967_296_i64),
                "priority",
            ),
            (
                "/conditions",
                serde_json::json!({"currency": "eur"}),
                "conditions.currency",
            ),
            (
                "/conditions",
                serde_json::json!({"validFrom": "2026-12-01"}),
                "conditions.validFrom",
            ),
            (
                "/conditions",
                serde_json::json!({"channels": ["web\u{200B}"]}),
                "conditions.channels",
            ),
        ];
        for (pointer, value, field) in cases {
            let mut json = base.clone();
            match json.pointer_mut(pointer) {
                Some(slot) => *slot = value,
                None => json[pointer.trim_start_matches('/')] = value,
            }
            let problem = body(json).into_pb("draftRules[1].").expect_err(field);
            assert_eq!(
                problem.field.as_deref(),
                Some(format!("draftRules[1].{field}").as_str())
            );
        }
    }

    #[test]
    fn the_services_definition_fields_are_the_bodys() {
        let problem = strip_definition(Problem::invalid("definition.action.price", "bad"));
        assert_eq!(problem.field.as_deref(), Some("action.price"));
        assert_eq!(problem.detail, "action.price: bad");
    }
}
