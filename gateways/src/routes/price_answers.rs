//! The answer of `GET /pricing/{sku}` and `POST /pricing/{sku}/simulate`: the price, how the
//! base price was found, and the verdict of every candidate rule, from the query service's
//! `PriceAnswer`.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shopcore_projections::catalog::read_model::MoneyView;
use shopcore_projections::pricing::read_model::RuleActionView;
use shopcore_proto::pricing::v1 as pb;

use super::pricing_input::{action_view, money_view};
use super::POSITION_HEADER;

/// How the base price was found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BasePriceAnswerView {
    pub price: MoneyView,
    /// `listed` (the book has a price in the currency) or `converted`.
    pub source: String,
    /// Converted: the book's price it was converted from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub converted_from: Option<MoneyView>,
    /// Converted: the rates used, in order, as `BASE/QUOTE=rate` (exact decimals).
    pub rates: Vec<String>,
    /// Converted through this currency (a cross rate through the base currency).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Converted: when the oldest rate used took effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rates_as_of: Option<String>,
}

/// What the evaluator made of one candidate rule.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleVerdictView {
    pub rule_id: String,
    pub name: String,
    /// A draft of the request, not a saved rule.
    pub draft: bool,
    /// `sku` or `category`.
    pub matched_by: String,
    pub specificity: u32,
    pub priority: i32,
    pub action: RuleActionView,
    /// `applied`, `notMatched`, `shadowed` or `stopped`.
    pub outcome: String,
    /// notMatched: the first condition that failed, in checking order: `currency`,
    /// `notYetValid`, `expired`, `customerSegment`, `channel`, `region`, `minQuantity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_condition: Option<String>,
    /// notMatched: what the condition required, and what the context had.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// shadowed / stopped: the rule that did it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// applied: the running price right after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_after: Option<MoneyView>,
    /// The precedence step that put this candidate after the one before it: `first`,
    /// `target`, `specificity`, `priority`, `age` or `ruleId`.
    pub ranked_by: String,
}

/// The price of a SKU for a context, with the rules that made it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PriceAnswerView {
    pub sku: String,
    pub currency: String,
    pub quantity: u32,
    pub price_book_id: String,
    /// The product's categories the pricing index knows for the SKU.
    pub categories: Vec<String>,
    /// The instant the price is for.
    pub at: String,
    pub base: BasePriceAnswerView,
    pub unit_price: MoneyView,
    /// unitPrice × quantity.
    pub line_total: MoneyView,
    /// The rules that changed the price, in the order they applied.
    pub applied_rules: Vec<String>,
    /// Every candidate rule in precedence order (`GET`: only with `explain=true`).
    pub explanation: Vec<RuleVerdictView>,
    /// The base price was converted with a rate older than the service's stale age.
    pub stale: bool,
    /// The log position the pricing index had reached (also the `Shopcore-Position` header).
    #[schema(example = "1042-17")]
    pub position: String,
    /// Simulate: the ids given to draft rules sent without one, in request order.
    pub draft_rule_ids: Vec<String>,
}

impl From<pb::PriceAnswer> for PriceAnswerView {
    fn from(answer: pb::PriceAnswer) -> Self {
        let base = answer.base.unwrap_or_default();
        Self {
            sku: answer.sku,
            currency: answer.currency,
            quantity: answer.quantity,
            price_book_id: answer.price_book_id,
            categories: answer.categories,
            at: answer.at,
            base: BasePriceAnswerView {
                price: money_view(base.price),
                source: base.source,
                converted_from: base.converted_from.map(|m| money_view(Some(m))),
                rates: base.rates,
                via: base.via,
                rates_as_of: base.rates_as_of,
            },
            unit_price: money_view(answer.unit_price),
            line_total: money_view(answer.line_total),
            applied_rules: answer.applied_rules,
            explanation: answer
                .explanation
                .into_iter()
                .map(|v| RuleVerdictView {
                    rule_id: v.rule_id,
                    name: v.name,
                    draft: v.draft,
                    matched_by: v.matched_by,
                    specificity: v.specificity,
                    priority: v.priority,
                    action: action_view(v.action),
                    outcome: v.outcome,
                    failed_condition: v.failed_condition,
                    required: v.required,
                    actual: v.actual,
                    by: v.by,
                    price_after: v.price_after.map(|m| money_view(Some(m))),
                    ranked_by: v.ranked_by,
                })
                .collect(),
            stale: answer.stale,
            position: answer.position,
            draft_rule_ids: answer.draft_rule_ids,
        }
    }
}

/// The answer as JSON, with its position in `Shopcore-Position`. Written into one buffer the
/// size of a typical answer (an explanation makes it grow).
pub(crate) fn answered(answer: pb::PriceAnswer) -> Response {
    let position = HeaderValue::from_str(&answer.position).ok();
    let mut body = Vec::with_capacity(1024);
    if let Err(error) = serde_json::to_writer(&mut body, &PriceAnswerView::from(answer)) {
        return crate::problem::Problem::internal(&error).into_response();
    }
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    if let Some(position) = position {
        response.headers_mut().insert(POSITION_HEADER, position);
    }
    response
}
