//! `GetPrice` and `Simulate` answered from the [`PricingIndex`], in the wire's messages: the
//! command service serves them as `PricingQueries` over gRPC, the gateway answers its price
//! routes with them in-process. Who may ask is the caller's business (both check
//! `view_prices` before they call).
//!
//! Input is checked before the index is looked at, every refusal naming its field (the
//! gateway's REST names are the same: `sku`, `currency`, `customerSegment`, `quantity`,
//! `draftRules[2].definition.action.percent`…). The base price comes from the book the query
//! names, else from the earliest-created book that lists the SKU; a price converted with a rate
//! older than the stale age says `stale`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tonic::Status;
use uuid::Uuid;

use shopcore_domain::catalog::values::clean_sku;
use shopcore_domain::money::{Currency, RoundingMode};
use shopcore_domain::pricing::{
    resolve_listed_base_price, BasePriceSource, FailedCondition, MatchedBy, PrecedenceStep,
    PriceRuleEvaluator, PriceRuleSpec, PricingContext, PricingError, RuleOutcome, RuleVerdict,
};
use shopcore_event_store::{GlobalLog, LogPosition};
use shopcore_proto::pricing::v1 as pb;
use shopcore_proto::{decode_error_detail, error_status, ErrorCode};

use crate::wire::{
    action_to_pb, currency, definition_from_pb, instant, instant_to_pb, invalid, money_to_pb,
    parse_uuid,
};
use crate::{NotReached, PricingIndex};

/// At most this many segments in a query, of at most this many characters (as customers).
const MAX_SEGMENTS: usize = 32;
const MAX_SEGMENT_CHARS: usize = 64;
const MAX_LABEL_CHARS: usize = 128;
/// At most this many draft rules in one simulation.
pub const MAX_DRAFT_RULES: usize = 100;
/// At most this quantity in one query.
pub const MAX_QUANTITY: u32 = 1_000_000;

/// Price queries over the index.
#[derive(Clone)]
pub struct PricingAnswers {
    index: Arc<PricingIndex>,
    log: GlobalLog,
    timeout: Duration,
    stale_after: chrono::Duration,
}

impl PricingAnswers {
    pub fn new(
        index: Arc<PricingIndex>,
        log: GlobalLog,
        timeout: Duration,
        stale_after: Duration,
    ) -> Self {
        Self {
            index,
            log,
            timeout,
            stale_after: chrono::Duration::from_std(stale_after).unwrap_or(chrono::Duration::MAX),
        }
    }

    /// Waits for the index to be ready and at `min_position`, if given.
    async fn reach(&self, min_position: Option<&str>) -> Result<LogPosition, Status> {
        let wanted = match min_position.map(str::trim).filter(|p| !p.is_empty()) {
            None => LogPosition::START,
            Some(text) => {
                let position: LogPosition = text.parse().map_err(|_| {
                    invalid(
                        "minPosition",
                        "must be a position token as commands return it, e.g. \"1042-17\"",
                    )
                })?;
                if self.index.progress().position < position
                    && !self.log.contains(position).await.map_err(|error| {
                        tracing::warn!(%error, "event store unavailable while checking a position");
                        unavailable("the event store is unavailable; retry shortly")
                    })?
                {
                    return Err(invalid(
                        "minPosition",
                        "names no event of the log; send a position this deployment returned",
                    ));
                }
                position
            }
        };
        self.index
            .wait_for(wanted, self.timeout)
            .await
            .map_err(|reason| match reason {
                NotReached::Loading => unavailable("the pricing index is still loading the log"),
                NotReached::Behind { position } => unavailable(&format!(
                    "the pricing index has not reached {wanted} yet (it is at {position}); retry"
                )),
            })
    }
}

fn unavailable(message: &str) -> Status {
    error_status(ErrorCode::Unavailable, message, None, None)
}

/// A query's context, checked.
#[derive(Debug, Clone)]
struct Query {
    sku: String,
    currency: Option<Currency>,
    quantity: u32,
    segments: Vec<String>,
    channel: Option<String>,
    region: Option<String>,
    at: Option<DateTime<Utc>>,
    book: Option<Uuid>,
}

fn label(raw: &str, field: &str, max: usize) -> Result<String, Status> {
    let value =
        shopcore_domain::text::clean(raw).map_err(|issue| invalid(field, issue.reason()))?;
    if value.is_empty() || value.chars().count() > max {
        return Err(invalid(field, &format!("must be 1 to {max} characters")));
    }
    Ok(value)
}

fn query(context: Option<pb::PriceContext>) -> Result<Query, Status> {
    let context = context.ok_or_else(|| invalid("context", "is required"))?;
    let sku = clean_sku(&context.sku).map_err(|reason| invalid("sku", &reason))?;
    let currency = context
        .currency
        .map(|c| currency(&c, "currency"))
        .transpose()?;
    let quantity = match context.quantity {
        0 => 1,
        q if q > MAX_QUANTITY => {
            return Err(invalid("quantity", &format!("must be 1 to {MAX_QUANTITY}")))
        }
        q => q,
    };
    if context.customer_segments.len() > MAX_SEGMENTS {
        return Err(invalid(
            "customerSegment",
            &format!("at most {MAX_SEGMENTS} segments"),
        ));
    }
    let segments = context
        .customer_segments
        .iter()
        .map(|s| label(s, "customerSegment", MAX_SEGMENT_CHARS))
        .collect::<Result<BTreeSet<_>, _>>()?
        .into_iter()
        .collect();
    Ok(Query {
        sku,
        currency,
        quantity,
        segments,
        channel: context
            .channel
            .map(|c| label(&c, "channel", MAX_LABEL_CHARS))
            .transpose()?,
        region: context
            .region
            .map(|r| label(&r, "region", MAX_LABEL_CHARS))
            .transpose()?,
        at: context.at.map(|t| instant(&t, "at")).transpose()?,
        book: context
            .price_book_id
            .map(|id| parse_uuid(&id, "priceBookId"))
            .transpose()?,
    })
}

/// `status` with its field (and message) under `prefix`, e.g. `draftRules[0].definition.`.
fn prefixed(status: Status, prefix: &str) -> Status {
    let Some(detail) = decode_error_detail(&status) else {
        return status;
    };
    let field = format!("{prefix}{}", detail.field);
    let reason = status
        .message()
        .strip_prefix(&format!("{}: ", detail.field))
        .unwrap_or(status.message());
    invalid(&field, reason)
}

/// The drafts of a simulation as rule specs created at `now`, with the ids they were given.
fn drafts(
    raw: Vec<pb::DraftRule>,
    now: DateTime<Utc>,
) -> Result<(Vec<PriceRuleSpec>, Vec<Uuid>), Status> {
    if raw.len() > MAX_DRAFT_RULES {
        return Err(invalid(
            "draftRules",
            &format!("at most {MAX_DRAFT_RULES} draft rules"),
        ));
    }
    let mut specs = Vec::with_capacity(raw.len());
    let mut generated = Vec::new();
    let mut seen = HashSet::new();
    for (i, draft) in raw.into_iter().enumerate() {
        let rule_id = match draft
            .rule_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(id) => parse_uuid(id, &format!("draftRules[{i}].ruleId"))?,
            None => {
                let id = Uuid::new_v4();
                generated.push(id);
                id
            }
        };
        if !seen.insert(rule_id) {
            return Err(invalid(
                &format!("draftRules[{i}].ruleId"),
                "appears twice in the request",
            ));
        }
        let definition = definition_from_pb(draft.definition)
            .map_err(|s| prefixed(s, &format!("draftRules[{i}].")))?
            .validated()
            .map_err(|error| {
                let field = error.field().unwrap_or("definition");
                let message = error.to_string();
                let reason = message
                    .strip_prefix(&format!("{field}: "))
                    .unwrap_or(&message);
                invalid(&format!("draftRules[{i}].definition.{field}"), reason)
            })?;
        specs.push(PriceRuleSpec {
            rule_id,
            created_at: now,
            definition,
        });
    }
    Ok((specs, generated))
}

fn pricing_status(error: &PricingError) -> Status {
    match error {
        PricingError::NoBasePrice { .. } => {
            error_status(ErrorCode::NotFound, error.to_string(), Some("sku"), None)
        }
        PricingError::NoRate { .. } => error_status(
            ErrorCode::FailedPrecondition,
            error.to_string(),
            Some("currency"),
            None,
        ),
        PricingError::Money(money) => invalid("quantity", &money.to_string()),
    }
}

/// How a failed condition reads on the wire: its name, what it required, what it got.
fn failed(condition: &FailedCondition) -> (&'static str, Option<String>, Option<String>) {
    match condition {
        FailedCondition::Currency { required, actual } => (
            "currency",
            Some(required.code().to_owned()),
            Some(actual.code().to_owned()),
        ),
        FailedCondition::NotYetValid { valid_from } => {
            ("notYetValid", Some(instant_to_pb(*valid_from)), None)
        }
        FailedCondition::Expired { valid_until } => {
            ("expired", Some(instant_to_pb(*valid_until)), None)
        }
        FailedCondition::CustomerSegment => ("customerSegment", None, None),
        FailedCondition::Channel => ("channel", None, None),
        FailedCondition::Region => ("region", None, None),
        FailedCondition::MinQuantity { required, actual } => (
            "minQuantity",
            Some(required.to_string()),
            Some(actual.to_string()),
        ),
    }
}

fn step(step: PrecedenceStep) -> &'static str {
    match step {
        PrecedenceStep::First => "first",
        PrecedenceStep::Target => "target",
        PrecedenceStep::Specificity => "specificity",
        PrecedenceStep::Priority => "priority",
        PrecedenceStep::Age => "age",
        PrecedenceStep::RuleId => "ruleId",
    }
}

fn verdict_to_pb(verdict: &RuleVerdict, name: Option<&str>, draft: bool) -> pb::RuleVerdict {
    let (outcome, failed_condition, by) = match &verdict.outcome {
        RuleOutcome::Applied => ("applied", None, None),
        RuleOutcome::NotMatched { failed: condition } => {
            ("notMatched", Some(failed(condition)), None)
        }
        RuleOutcome::Shadowed { by } => ("shadowed", None, Some(by.to_string())),
        RuleOutcome::Stopped { by } => ("stopped", None, Some(by.to_string())),
    };
    let (failed_condition, required, actual) = match failed_condition {
        Some((condition, required, actual)) => (Some(condition.to_owned()), required, actual),
        None => (None, None, None),
    };
    pb::RuleVerdict {
        rule_id: verdict.rule_id.to_string(),
        matched_by: match verdict.matched_by {
            MatchedBy::Sku => "sku",
            MatchedBy::Category => "category",
        }
        .to_owned(),
        specificity: u32::from(verdict.specificity),
        priority: verdict.priority,
        action: Some(action_to_pb(verdict.action)),
        outcome: outcome.to_owned(),
        failed_condition,
        required,
        actual,
        by,
        price_after: verdict.price_after.map(money_to_pb),
        ranked_by: step(verdict.ranked_by).to_owned(),
        draft,
        name: name.unwrap_or_default().to_owned(),
    }
}

/// What the evaluation needs besides the index: drafts, whether to explain.
struct Evaluation<'a> {
    drafts: Option<&'a [PriceRuleSpec]>,
    explain: bool,
    now: DateTime<Utc>,
    position: LogPosition,
}

impl PricingAnswers {
    /// Prices `query` on the index as it is now.
    fn answer(&self, query: Query, how: &Evaluation<'_>) -> Result<pb::PriceAnswer, Status> {
        self.index.read(|state| {
            let listing = state
                .book(query.book, &query.sku)
                .ok_or_else(|| match query.book {
                    Some(id) => error_status(
                        ErrorCode::NotFound,
                        format!("priceBookId: no price book {id}"),
                        Some("priceBookId"),
                        None,
                    ),
                    None => error_status(
                        ErrorCode::NotFound,
                        format!("sku: no price book lists {}", query.sku),
                        Some("sku"),
                        None,
                    ),
                })?;
            let currency = query
                .currency
                .or(listing.book.default_currency)
                .ok_or_else(|| {
                    invalid("currency", "is required: the book has no default currency")
                })?;
            let at = query.at.unwrap_or(how.now);
            let base = resolve_listed_base_price(
                listing.prices,
                listing.book.default_currency,
                &query.sku,
                currency,
                state.rates(),
                RoundingMode::default(),
            )
            .map_err(|e| pricing_status(&e))?;
            // The query's values move into the context, and from there into the answer.
            let quantity = query.quantity;
            let context = PricingContext {
                categories: state.categories(&query.sku).to_vec(),
                sku: query.sku,
                quantity,
                currency,
                customer_segments: query.segments,
                channel: query.channel,
                region: query.region,
                at,
            };
            let merged;
            let evaluator: &PriceRuleEvaluator = match how.drafts {
                None => state.evaluator(),
                Some(drafts) => {
                    let replaced: HashSet<Uuid> = drafts.iter().map(|d| d.rule_id).collect();
                    let live = state
                        .live_rules()
                        .into_iter()
                        .filter(|r| !replaced.contains(&r.rule_id));
                    merged = PriceRuleEvaluator::new(live.chain(drafts.iter().cloned()));
                    &merged
                }
            };
            let quote = evaluator
                .evaluate(base.price, &context)
                .map_err(|e| pricing_status(&e))?;
            let line_total = quote
                .unit_price
                .checked_mul(i64::from(quantity))
                .map_err(|_| {
                    invalid(
                        "quantity",
                        "the line total does not fit the currency's range",
                    )
                })?;
            let draft_names: HashMap<Uuid, &str> = how
                .drafts
                .unwrap_or_default()
                .iter()
                .map(|d| (d.rule_id, d.definition.name.as_str()))
                .collect();
            let explanation = if how.explain {
                quote
                    .explanation
                    .iter()
                    .map(|v| {
                        let draft = draft_names.get(&v.rule_id).copied();
                        let name = draft.or_else(|| {
                            state
                                .rule(v.rule_id)
                                .and_then(|r| r.definition.as_ref())
                                .map(|d| d.name.as_str())
                        });
                        verdict_to_pb(v, name, draft.is_some())
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let (source, converted_from, rates, via, rates_as_of, stale) = match &base.source {
                BasePriceSource::Listed => ("listed", None, Vec::new(), None, None, false),
                BasePriceSource::Converted {
                    from,
                    rates,
                    via,
                    rates_as_of,
                } => (
                    "converted",
                    Some(money_to_pb(*from)),
                    rates
                        .iter()
                        .map(|r| format!("{}/{}={}", r.base, r.quote, r.rate))
                        .collect(),
                    via.map(|c| c.code().to_owned()),
                    Some(instant_to_pb(*rates_as_of)),
                    how.now.signed_duration_since(*rates_as_of) > self.stale_after,
                ),
            };
            Ok(pb::PriceAnswer {
                sku: context.sku,
                currency: currency.code().to_owned(),
                quantity,
                price_book_id: listing.id.to_string(),
                categories: context.categories,
                base: Some(pb::BasePrice {
                    price: Some(money_to_pb(base.price)),
                    source: source.to_owned(),
                    converted_from,
                    rates,
                    via,
                    rates_as_of,
                }),
                unit_price: Some(money_to_pb(quote.unit_price)),
                line_total: Some(money_to_pb(line_total)),
                applied_rules: quote.applied_rules().iter().map(Uuid::to_string).collect(),
                explanation,
                stale,
                position: how.position.to_string(),
                at: instant_to_pb(at),
                draft_rule_ids: Vec::new(),
            })
        })
    }
}

impl PricingAnswers {
    /// The price of one context: base price, the rules applied, their explanation if asked.
    pub async fn get_price(&self, message: pb::GetPriceRequest) -> Result<pb::PriceAnswer, Status> {
        let query = query(message.context)?;
        let position = self.reach(message.min_position.as_deref()).await?;
        let how = Evaluation {
            drafts: None,
            explain: message.explain,
            now: Utc::now(),
            position,
        };
        self.answer(query, &how)
    }

    /// The price of one context against the live rules and the request's drafts (replacing a
    /// live rule of the same id), every candidate explained. Nothing is written.
    pub async fn simulate(&self, message: pb::SimulateRequest) -> Result<pb::PriceAnswer, Status> {
        let query = query(message.context)?;
        let now = Utc::now();
        let (drafts, generated) = drafts(message.draft_rules, now)?;
        let position = self.reach(message.min_position.as_deref()).await?;
        let how = Evaluation {
            drafts: Some(&drafts),
            explain: true,
            now,
            position,
        };
        let mut answer = self.answer(query, &how)?;
        answer.draft_rule_ids = generated.iter().map(Uuid::to_string).collect();
        Ok(answer)
    }
}
