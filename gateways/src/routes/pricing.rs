//! `GET /pricing/{sku}` and `POST /pricing/{sku}/simulate`: prices answered in-process by the
//! gateway's replica of the pricing index (`shopcore_pricing_index`, the code the command
//! service's `PricingQueries` answers with, following the same log), and what the
//! other pricing routes share — the caller, the checks of a price context (its values in
//! `pricing_input`, the answer in `price_answers`), the names a problem gives the fields of
//! each surface, waiting for the pricing read model.
//!
//! A price context is checked here exactly as the OpenAPI document states it, then once more
//! by the index's queries, whose refusals name the same fields. Prices may be asked with any token that has `view_prices`
//! (a storefront session too); simulation, which shows the rule book, needs a platform token.

use std::borrow::Cow;

use axum::extract::RawQuery;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use shopcore_auth::scopes::VIEW_PRICES;
use shopcore_auth::Principal;
use shopcore_event_store::LogPosition;
use shopcore_projections::catalog::read_model::whole;
use shopcore_projections::pricing::read_model::PricingReadError;
use shopcore_proto::pricing::v1 as pb;
use shopcore_proto::ErrorCode;
use uuid::Uuid;

use super::price_answers::answered;
pub use super::price_answers::{BasePriceAnswerView, PriceAnswerView, RuleVerdictView};
use super::price_rules::PriceRuleBody;
pub(crate) use super::pricing_input::{
    action_view, currency, instant, money, money_view, percent, present, sku, some_i64, text,
};
use super::{min_position, AppState, MIN_POSITION_HEADER};
use crate::auth::BearerToken;
use crate::correlation::CorrelationId;
use crate::problem::{ApiJson, ApiPath, Problem};

/// Limits of a price context, as the pricing query service enforces them
/// (`shopcore_pricing_index::answer`; `tests/tests/pricing_api.rs` checks they agree).
pub const MAX_QUANTITY: u32 = 1_000_000;
pub const MAX_SEGMENTS: usize = 32;
pub const MAX_SEGMENT_CHARS: usize = 64;
pub const MAX_LABEL_CHARS: usize = 128;
pub const MAX_DRAFT_RULES: usize = 100;

/// Where a price context came from, so that a problem names the field as the caller sent it.
/// The query service names them `sku`, `currency`, `quantity`, `customerSegment`, `channel`,
/// `region`, `at`, `priceBookId`, `minPosition` and `draftRules[i].definition.…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Surface {
    /// The query string of `GET /pricing/{sku}`.
    Query,
    /// The `context` of a body (simulate) or of a GraphQL argument.
    Context,
}

impl Surface {
    pub(crate) fn field(self, service: &str) -> String {
        if service == "minPosition" {
            return "Shopcore-Min-Position".to_owned();
        }
        if let Some(rest) = service.strip_prefix("draftRules[") {
            return format!("draftRules[{}", rest.replacen("].definition.", "].", 1));
        }
        match (self, service) {
            (_, "sku" | "context" | "draftRules") => service.to_owned(),
            (Self::Query, "priceBookId") => "priceBook".to_owned(),
            (Self::Query, other) => other.to_owned(),
            (Self::Context, "customerSegment") => "context.customerSegments".to_owned(),
            (Self::Context, "priceBookId") => "context.priceBook".to_owned(),
            (Self::Context, other) => format!("context.{other}"),
        }
    }

    /// `problem` with its field (and the detail's prefix) renamed for this surface.
    pub(crate) fn rename(self, mut problem: Problem) -> Problem {
        if let Some(field) = problem.field.take() {
            let renamed = self.field(&field);
            if let Some(reason) = problem.detail.strip_prefix(&format!("{field}: ")) {
                problem.detail = format!("{renamed}: {reason}");
            }
            problem.field = Some(renamed);
        }
        problem
    }
}

/// A price context as sent, before it is checked.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriceContextBody {
    /// ISO 4217; absent: the price book's default currency.
    #[serde(default, deserialize_with = "present")]
    pub currency: Option<String>,
    /// The shopper's segments (any may match a rule's segment condition); repeats collapse.
    #[serde(default, deserialize_with = "present")]
    pub customer_segments: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    pub channel: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub region: Option<String>,
    /// 1 to 1 000 000 (1).
    #[serde(default, deserialize_with = "whole::some_u32")]
    pub quantity: Option<u32>,
    /// The instant to price for, RFC 3339; absent: now.
    #[serde(default, deserialize_with = "present")]
    pub at: Option<String>,
    /// The book to take the base price from; absent: the earliest-created book listing the SKU.
    #[serde(default, deserialize_with = "present")]
    pub price_book: Option<Uuid>,
}

/// Checks a context and makes it the query service's. Problems name the service's fields;
/// [`Surface::rename`] turns them into the caller's.
pub(crate) fn price_context(
    sku_value: &str,
    body: PriceContextBody,
) -> Result<pb::PriceContext, Problem> {
    sku("sku", sku_value)?;
    if let Some(code) = &body.currency {
        currency("currency", code)?;
    }
    let segments = body.customer_segments.unwrap_or_default();
    if segments.len() > MAX_SEGMENTS {
        return Err(Problem::invalid(
            "customerSegment",
            format!("at most {MAX_SEGMENTS} segments"),
        ));
    }
    for segment in &segments {
        text("customerSegment", segment, MAX_SEGMENT_CHARS)?;
    }
    for (field, value) in [("channel", &body.channel), ("region", &body.region)] {
        if let Some(value) = value {
            text(field, value, MAX_LABEL_CHARS)?;
        }
    }
    let quantity = body.quantity.unwrap_or(1);
    if !(1..=MAX_QUANTITY).contains(&quantity) {
        return Err(Problem::invalid(
            "quantity",
            format!("must be a whole number from 1 to {MAX_QUANTITY}"),
        ));
    }
    if let Some(at) = &body.at {
        instant("at", at)?;
    }
    Ok(pb::PriceContext {
        sku: sku_value.to_owned(),
        currency: body.currency,
        quantity,
        customer_segments: segments,
        channel: body.channel,
        region: body.region,
        at: body.at,
        price_book_id: body.price_book.map(|id| id.to_string()),
    })
}

/// The `Shopcore-Min-Position` header as the query service takes it (its form checked here;
/// whether the log holds it, there).
pub(crate) fn position_header(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get(MIN_POSITION_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|v| v.parse::<LogPosition>().is_ok())
        .map(|v| Some(v.to_owned()))
        .ok_or_else(|| {
            Problem::invalid(
                "Shopcore-Min-Position",
                "must be a position token as returned in Shopcore-Position, e.g. \"1042-17\"",
            )
        })
}

/// The `Shopcore-Min-Position` header, checked as [`position_header`] does (a refusal is the
/// handler's to return, after its own checks); read without copying the request's headers.
pub struct MinPosition(pub Result<Option<String>, Problem>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for MinPosition {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(position_header(&parts.headers)))
    }
}

/// The caller of a pricing route: its principal, token and correlation id.
pub struct PricingCaller {
    pub(crate) state: AppState,
    pub(crate) principal: Principal,
    pub(crate) correlation: CorrelationId,
    pub(crate) token: BearerToken,
}

impl axum::extract::FromRequestParts<AppState> for PricingCaller {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Problem> {
        let (principal, token, correlation) = super::caller_parts(parts)?;
        Ok(Self {
            state: state.clone(),
            principal,
            correlation,
            token,
        })
    }
}

impl PricingCaller {
    /// Prices from the index (any token with `view_prices`).
    pub(crate) async fn get_price(
        &self,
        request: pb::GetPriceRequest,
    ) -> Result<pb::PriceAnswer, Problem> {
        self.principal
            .require(VIEW_PRICES)
            .map_err(Problem::forbidden)?;
        self.state
            .pricing
            .get_price(request)
            .await
            .map_err(|status| Problem::from_status(&status))
    }

    /// Simulates on the index (any token with `view_prices`; the routes ask for more).
    pub(crate) async fn simulate(
        &self,
        request: pb::SimulateRequest,
    ) -> Result<pb::PriceAnswer, Problem> {
        self.principal
            .require(VIEW_PRICES)
            .map_err(Problem::forbidden)?;
        self.state
            .pricing
            .simulate(request)
            .await
            .map_err(|status| Problem::from_status(&status))
    }

    /// Back-office reads (rules, promotions, books, simulation): a platform token with
    /// `view_prices`.
    pub(crate) fn back_office(&self) -> Result<(), Problem> {
        self.principal
            .platform(VIEW_PRICES)
            .map_err(Problem::forbidden)
    }
}

/// 503 for a read model that is behind or down.
pub(crate) fn unavailable(error: &PricingReadError) -> Problem {
    let detail = match error {
        PricingReadError::NotYetAt { wanted, reached } => format!(
            "the pricing read model is at position {reached}, not yet at {wanted}; retry shortly"
        ),
        PricingReadError::Corrupt { .. } => return Problem::internal(error),
        PricingReadError::Mysql(_) => {
            tracing::warn!(error = %error, "pricing read model unavailable");
            "the pricing read model is unavailable; retry shortly".to_owned()
        }
    };
    let mut problem = Problem::new(ErrorCode::Unavailable, detail);
    problem.retry_after_seconds = Some(1);
    problem
}

/// Waits for the pricing read model to reach the request's `Shopcore-Min-Position`, if any.
pub(crate) async fn reads_at(state: &AppState, headers: &HeaderMap) -> Result<(), Problem> {
    let wanted = min_position(state, headers).await?;
    if !wanted.is_start() {
        state
            .pricing_reads
            .wait_for(wanted, state.read_your_writes_timeout)
            .await
            .map_err(|e| unavailable(&e))?;
    }
    Ok(())
}

/// One `name=value` of a query string, decoded.
type QueryPair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// The `name=value` pairs of a query string, decoded as a form (`+` is a space) and refused
/// when a part is not UTF-8 once percent-decoded; empty parts are skipped. A part with nothing
/// to decode is borrowed, not copied.
fn query_pairs(query: &str) -> Result<Vec<QueryPair<'_>>, Problem> {
    fn decode(part: &str) -> Result<Cow<'_, str>, Problem> {
        let refused = || Problem::invalid("query", "must be UTF-8 once percent-decoded");
        if part.contains('+') {
            let spaced = part.replace('+', " ");
            return percent_encoding::percent_decode_str(&spaced)
                .decode_utf8()
                .map(|decoded| Cow::Owned(decoded.into_owned()))
                .map_err(|_| refused());
        }
        percent_encoding::percent_decode_str(part)
            .decode_utf8()
            .map_err(|_| refused())
    }
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

/// The parameters of `GET /pricing/{sku}` that may be given once, in the order of the bits
/// [`price_query`] marks them with.
const SINGLE_PARAMETERS: [&str; 7] = [
    "currency",
    "channel",
    "region",
    "at",
    "quantity",
    "priceBook",
    "explain",
];

/// The query parameters of `GET /pricing/{sku}`, each checked; an unknown one is refused
/// (a misspelt `customerSegments` would otherwise price for nobody in particular).
fn price_query(pairs: Vec<QueryPair<'_>>) -> Result<(PriceContextBody, bool), Problem> {
    let mut context = PriceContextBody::default();
    let mut explain = false;
    let mut seen = 0_u8;
    let mut segments = Vec::new();
    for (name, value) in pairs {
        if let Some(bit) = SINGLE_PARAMETERS.iter().position(|p| *p == name) {
            if seen & (1 << bit) != 0 {
                return Err(Problem::invalid(name, "must be given at most once"));
            }
            seen |= 1 << bit;
        }
        match &*name {
            "currency" => context.currency = Some(value.into_owned()),
            "customerSegment" => segments.push(value.into_owned()),
            "channel" => context.channel = Some(value.into_owned()),
            "region" => context.region = Some(value.into_owned()),
            "at" => context.at = Some(value.into_owned()),
            "quantity" => {
                let quantity = value
                    .parse::<u32>()
                    .ok()
                    .filter(|q| (1..=MAX_QUANTITY).contains(q))
                    .ok_or_else(|| {
                        Problem::invalid(
                            "quantity",
                            format!("must be a whole number from 1 to {MAX_QUANTITY}"),
                        )
                    })?;
                context.quantity = Some(quantity);
            }
            "priceBook" => {
                let id = Uuid::parse_str(&value)
                    .map_err(|_| Problem::invalid("priceBook", "must be a UUID"))?;
                context.price_book = Some(id);
            }
            "explain" => {
                explain = match &*value {
                    "true" => true,
                    "false" => false,
                    _ => return Err(Problem::invalid("explain", "must be true or false")),
                }
            }
            other => {
                let shown: String = other.chars().take(64).collect();
                return Err(Problem::invalid(
                    shown,
                    "is not a parameter of this operation (currency, customerSegment, channel, \
                     region, quantity, at, priceBook, explain)",
                ));
            }
        }
    }
    if !segments.is_empty() {
        context.customer_segments = Some(segments);
    }
    Ok((context, explain))
}

/// The price of a SKU.
#[utoipa::path(
    get, path = "/pricing/{sku}", tag = "pricing",
    params(
        ("sku" = String, Path, description = "The SKU (letters, digits, '-', '_', '.'; at most 64)"),
        ("currency" = Option<String>, Query, description = "ISO 4217, upper case; absent: the book's default currency (a price in another currency is converted)"),
        ("customerSegment" = Option<Vec<String>>, Query, explode, style = Form, description = "The shopper's segments, one parameter each (`customerSegment=vip&customerSegment=b2b`); at most 32 of 1 to 64 characters; repeats collapse"),
        ("channel" = Option<String>, Query, description = "The sales channel (`web`, `app`, `pos`…), 1 to 128 characters"),
        ("region" = Option<String>, Query, description = "The region (`EU`, `US-CA`…), 1 to 128 characters"),
        ("quantity" = Option<u32>, Query, description = "1 to 1 000 000 (1); `lineTotal` is the unit price times it"),
        ("at" = Option<String>, Query, description = "Price as at this instant (RFC 3339); absent: now"),
        ("priceBook" = Option<Uuid>, Query, description = "The book to take the base price from; absent: the earliest-created book that lists the SKU"),
        ("explain" = Option<bool>, Query, description = "Also return the verdict of every candidate rule (`explanation`)"),
        ("Shopcore-Min-Position" = Option<String>, Header, description = "A `Shopcore-Position` token (of a rule or price write): wait (briefly) until the pricing index has applied it; a token that names no event is 400"),
    ),
    responses(
        (status = 200, description = "The price; `Shopcore-Position` holds the position the pricing index had reached", body = PriceAnswerView),
        (status = 400, description = "A bad or unknown parameter (`field` names it)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No book lists the SKU (`field: sku`), or no such book (`field: priceBook`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No exchange rate to convert the book's price into `currency` (`field: currency`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The pricing index is loading or has not reached `Shopcore-Min-Position` in time", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_price(
    caller: PricingCaller,
    ApiPath(sku_value): ApiPath<String>,
    MinPosition(min_position): MinPosition,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    caller
        .principal
        .require(VIEW_PRICES)
        .map_err(Problem::forbidden)?;
    let (context, explain) = price_query(query_pairs(query.as_deref().unwrap_or_default())?)?;
    let surface = Surface::Query;
    let context = price_context(&sku_value, context).map_err(|p| surface.rename(p))?;
    let request = pb::GetPriceRequest {
        context: Some(context),
        min_position: min_position?,
        explain,
    };
    let answer = caller
        .get_price(request)
        .await
        .map_err(|p| surface.rename(p))?;
    Ok(answered(answer))
}

/// Body of `POST /pricing/{sku}/simulate`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimulateBody {
    /// Who asks, where and when (as the query of `GET /pricing/{sku}`); absent: the defaults.
    #[serde(default, deserialize_with = "present")]
    pub context: Option<PriceContextBody>,
    /// At most 100 rules evaluated with the live ones, not saved. One with the `ruleId` of a
    /// live rule stands in for it; one without gets an id (`draftRuleIds`).
    #[serde(default, deserialize_with = "present")]
    pub draft_rules: Option<Vec<PriceRuleBody>>,
}

/// Scenario test: the price against the live rules plus draft rules (not saved), with the
/// verdict of every candidate rule.
#[utoipa::path(
    post, path = "/pricing/{sku}/simulate", tag = "pricing",
    request_body = SimulateBody,
    params(
        ("sku" = String, Path, description = "The SKU"),
        ("Shopcore-Min-Position" = Option<String>, Header, description = "A `Shopcore-Position` token: wait (briefly) until the pricing index has applied it"),
    ),
    responses(
        (status = 200, description = "The price with the full explanation; drafts are marked `draft: true`", body = PriceAnswerView),
        (status = 400, description = "Bad context or draft (`field` names it, e.g. `draftRules[2].action.percent`); more than 100 drafts", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "A body over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn simulate(
    caller: PricingCaller,
    ApiPath(sku_value): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SimulateBody>,
) -> Result<Response, Problem> {
    caller.back_office()?;
    let surface = Surface::Context;
    let context = price_context(&sku_value, body.context.unwrap_or_default())
        .map_err(|p| surface.rename(p))?;
    let drafts = body.draft_rules.unwrap_or_default();
    if drafts.len() > MAX_DRAFT_RULES {
        return Err(Problem::invalid(
            "draftRules",
            format!("at most {MAX_DRAFT_RULES} draft rules"),
        ));
    }
    let draft_rules = drafts
        .into_iter()
        .enumerate()
        .map(|(i, draft)| {
            let (rule_id, definition) = draft.into_pb(&format!("draftRules[{i}]."))?;
            Ok(pb::DraftRule {
                rule_id: rule_id.map(|id| id.to_string()),
                definition: Some(definition),
            })
        })
        .collect::<Result<Vec<_>, Problem>>()?;
    let request = pb::SimulateRequest {
        context: Some(context),
        draft_rules,
        min_position: position_header(&headers)?,
    };
    let answer = caller
        .simulate(request)
        .await
        .map_err(|p| surface.rename(p))?;
    Ok(answered(answer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shopcore_domain::catalog::values::MAX_SKU_CHARS;

    fn pairs<'a>(query: &[(&'a str, &'a str)]) -> Vec<QueryPair<'a>> {
        query
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v)))
            .collect()
    }

    #[test]
    fn every_refusal_names_the_parameter_as_the_caller_sent_it() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("quantity", "0")], "quantity"),
            (&[("quantity", "1000001")], "quantity"),
            (&[("priceBook", "x")], "priceBook"),
            (&[("explain", "yes")], "explain"),
            (&[("customerSegments", "vip")], "customerSegments"),
            (&[("currency", "EUR"), ("currency", "USD")], "currency"),
        ];
        for (query, field) in cases {
            let problem = price_query(pairs(query)).expect_err(field);
            assert_eq!(problem.field.as_deref(), Some(*field), "{query:?}");
        }
        let (context, _) = price_query(pairs(&[("currency", "eur")])).expect("parsed");
        let problem = price_context("SKU-1", context).expect_err("lower case");
        assert_eq!(problem.field.as_deref(), Some("currency"));
        for bad in ["", " SKU", &"S".repeat(MAX_SKU_CHARS + 1), "SKU/1"] {
            let problem = price_context(bad, PriceContextBody::default()).expect_err(bad);
            assert_eq!(problem.field.as_deref(), Some("sku"), "{bad:?}");
        }
        let (context, explain) = price_query(pairs(&[
            ("customerSegment", "vip"),
            ("customerSegment", "ĐỒNG-vàng"),
            ("customerSegment", "vip"),
            ("explain", "true"),
        ]))
        .expect("parsed");
        assert!(explain);
        let context = price_context("SKU-1", context).expect("valid");
        assert_eq!(
            context.customer_segments.len(),
            3,
            "the service collapses repeats"
        );
        assert_eq!(context.quantity, 1);
    }

    #[test]
    fn the_query_string_decodes_as_a_form_and_refuses_what_is_not_utf8() {
        let pairs = query_pairs("currency=EUR&&customerSegment=gold+card&region=%C3%A9u&explain")
            .expect("decoded");
        assert_eq!(
            pairs,
            [
                ("currency", "EUR"),
                ("customerSegment", "gold card"),
                ("region", "éu"),
                ("explain", ""),
            ]
            .map(|(k, v)| (Cow::Borrowed(k), Cow::Borrowed(v)))
        );
        assert!(
            matches!(&pairs[0], (Cow::Borrowed(_), Cow::Borrowed(_))),
            "nothing to decode: borrowed"
        );
        assert_eq!(query_pairs("").expect("empty"), []);
        // A parameter spelt twice, once percent-encoded, is still given twice.
        let twice = query_pairs("currency=EUR&%63urrency=USD").expect("decoded");
        let problem = price_query(twice).expect_err("repeated");
        assert_eq!(problem.field.as_deref(), Some("currency"));
        for bad in ["region=%FF", "%C3=EU", "channel=%E2%82"] {
            let problem = query_pairs(bad).expect_err(bad);
            assert_eq!(problem.field.as_deref(), Some("query"), "{bad}");
        }
    }

    #[test]
    fn service_field_names_become_the_callers() {
        assert_eq!(Surface::Query.field("priceBookId"), "priceBook");
        assert_eq!(Surface::Query.field("customerSegment"), "customerSegment");
        assert_eq!(Surface::Query.field("minPosition"), "Shopcore-Min-Position");
        assert_eq!(
            Surface::Context.field("customerSegment"),
            "context.customerSegments"
        );
        assert_eq!(Surface::Context.field("at"), "context.at");
        assert_eq!(Surface::Context.field("sku"), "sku");
        assert_eq!(
            Surface::Context.field("draftRules[3].definition.action.percent"),
            "draftRules[3].action.percent"
        );
        let problem = Surface::Context.rename(Problem::invalid("quantity", "too big"));
        assert_eq!(problem.field.as_deref(), Some("context.quantity"));
        assert_eq!(problem.detail, "context.quantity: too big");
    }
}
