//! The pricing part of the GraphQL schema: `price(sku, context, explain)` answered by the
//! pricing query service (any token with `view_prices`, as `GET /pricing/{sku}`), and reads
//! of rules, promotions and price books from the MySQL read model (a platform token with
//! `view_prices`, as in REST). The rules a price names (`appliedRules`, `explanation.rule`)
//! load through one DataLoader batch per request, and so do the prices of a page of books.
//! `Shopcore-Min-Position` applies here too: `price` waits for the pricing index, the reads for
//! the pricing read model.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{
    ComplexObject, Context, ErrorExtensions, InputObject, Object, SimpleObject, ID,
};
use chrono::{DateTime, Utc};
use shopcore_auth::Principal;
use shopcore_event_store::LogPosition;
use shopcore_projections::pricing::read_model::{PriceBookView, PricingReadModel};
use shopcore_proto::pricing::v1 as pb;
use uuid::Uuid;

use crate::auth::BearerToken;
use crate::correlation::CorrelationId;
use crate::problem::Problem;
use crate::routes::price_rules::{page_limit, rule_list_query};
use crate::routes::pricing::{price_context, PriceContextBody, PricingCaller, Surface};
use crate::routes::promotions::promotion_list_query;
use crate::routes::AppState;

mod types;

use types::money;
pub use types::{
    BookPrice, Discount, Money, PriceRule, Promotion, RuleAction, RuleConditions, RuleTargets,
};

/// The `Shopcore-Min-Position` of the request ([`LogPosition::START`] when absent).
#[derive(Debug, Clone, Copy)]
pub struct RequestedPosition(pub LogPosition);

/// A problem as a GraphQL error: `extensions.code` from its status, `extensions.field`.
pub(crate) fn problem_error(problem: Problem) -> async_graphql::Error {
    let code = match problem.status {
        400 | 413 | 422 => "BAD_USER_INPUT",
        401 => "UNAUTHENTICATED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        409 => "CONFLICT",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    };
    let field = problem.field.clone();
    let message = match &problem.scope {
        Some(scope) => format!("{} (needs {scope})", problem.detail),
        None => problem.detail.clone(),
    };
    async_graphql::Error::new(message).extend_with(|_, e| {
        e.set("code", code);
        if let Some(field) = &field {
            e.set("field", field.clone());
        }
    })
}

fn caller(ctx: &Context<'_>) -> async_graphql::Result<PricingCaller> {
    Ok(PricingCaller {
        state: ctx.data::<AppState>()?.clone(),
        principal: ctx.data::<Principal>()?.clone(),
        token: ctx.data::<BearerToken>()?.clone(),
        correlation: ctx
            .data_opt::<CorrelationId>()
            .cloned()
            .unwrap_or_else(|| CorrelationId(Uuid::now_v7().to_string(), None)),
    })
}

fn requested(ctx: &Context<'_>) -> LogPosition {
    ctx.data_opt::<RequestedPosition>()
        .map_or(LogPosition::START, |p| p.0)
}

/// A back-office read: a platform token with `view_prices`, and the read model at least at
/// the requested position.
async fn back_office<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a PricingReadModel> {
    caller(ctx)?.back_office().map_err(problem_error)?;
    let state = ctx.data::<AppState>()?;
    let wanted = requested(ctx);
    if !wanted.is_start() {
        state
            .pricing_reads
            .wait_for(wanted, state.read_your_writes_timeout)
            .await
            .map_err(|e| problem_error(crate::routes::pricing::unavailable(&e)))?;
    }
    Ok(&state.pricing_reads)
}

fn read_failed(
    error: shopcore_projections::pricing::read_model::PricingReadError,
) -> async_graphql::Error {
    problem_error(crate::routes::pricing::unavailable(&error))
}

fn uuid(id: &ID, field: &str) -> async_graphql::Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| problem_error(Problem::invalid(field, "must be a UUID")))
}

/// Who asks for a price, where and when (as the query of `GET /pricing/{sku}`).
#[derive(InputObject, Default)]
pub struct PriceContextInput {
    /// ISO 4217; absent: the price book's default currency.
    pub currency: Option<String>,
    pub customer_segments: Option<Vec<String>>,
    pub channel: Option<String>,
    pub region: Option<String>,
    /// 1 to 1 000 000 (1).
    pub quantity: Option<i32>,
    /// RFC 3339; absent: now.
    pub at: Option<String>,
    pub price_book: Option<ID>,
}

/// How the base price was found.
#[derive(SimpleObject)]
pub struct BasePrice {
    pub price: Money,
    /// listed or converted.
    pub source: String,
    pub converted_from: Option<Money>,
    /// The rates used, as `BASE/QUOTE=rate`.
    pub rates: Vec<String>,
    pub via: Option<String>,
    pub rates_as_of: Option<String>,
}

/// The verdict on one candidate rule.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct RuleVerdict {
    pub rule_id: ID,
    pub name: String,
    pub draft: bool,
    /// sku or category.
    pub matched_by: String,
    pub specificity: i32,
    pub priority: i32,
    pub action: RuleAction,
    /// applied, notMatched, shadowed or stopped.
    pub outcome: String,
    pub failed_condition: Option<String>,
    pub required: Option<String>,
    pub actual: Option<String>,
    pub by: Option<ID>,
    pub price_after: Option<Money>,
    /// first, target, specificity, priority, age or ruleId.
    pub ranked_by: String,
}

#[ComplexObject]
impl RuleVerdict {
    /// The saved rule (null for a draft); loaded with the other rules of the request at once.
    async fn rule(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PriceRule>> {
        if self.draft {
            return Ok(None);
        }
        let id = uuid(&self.rule_id, "ruleId")?;
        ctx.data::<DataLoader<PriceRuleLoader>>()?
            .load_one(id)
            .await
    }
}

/// The price of a SKU for a context.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct PriceAnswer {
    pub sku: String,
    pub currency: String,
    pub quantity: i32,
    pub price_book_id: ID,
    pub categories: Vec<String>,
    pub at: String,
    pub base: BasePrice,
    pub unit_price: Money,
    pub line_total: Money,
    pub applied_rule_ids: Vec<ID>,
    /// Every candidate rule in precedence order (with `explain: true`).
    pub explanation: Vec<RuleVerdict>,
    pub stale: bool,
    pub position: String,
}

#[ComplexObject]
impl PriceAnswer {
    /// The rules that changed the price, in the order they applied (needs a platform token,
    /// as rule reads do).
    async fn applied_rules(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<PriceRule>> {
        caller(ctx)?.back_office().map_err(problem_error)?;
        let ids = self
            .applied_rule_ids
            .iter()
            .map(|id| uuid(id, "appliedRuleIds"))
            .collect::<Result<Vec<_>, _>>()?;
        let found = ctx
            .data::<DataLoader<PriceRuleLoader>>()?
            .load_many(ids.iter().copied())
            .await?;
        Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
    }
}

impl From<pb::PriceAnswer> for PriceAnswer {
    fn from(a: pb::PriceAnswer) -> Self {
        let base = a.base.unwrap_or_default();
        let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        Self {
            sku: a.sku,
            currency: a.currency,
            quantity: int(a.quantity),
            price_book_id: ID(a.price_book_id),
            categories: a.categories,
            at: a.at,
            base: BasePrice {
                price: money(base.price),
                source: base.source,
                converted_from: base.converted_from.map(|m| money(Some(m))),
                rates: base.rates,
                via: base.via,
                rates_as_of: base.rates_as_of,
            },
            unit_price: money(a.unit_price),
            line_total: money(a.line_total),
            applied_rule_ids: a.applied_rules.into_iter().map(ID).collect(),
            explanation: a
                .explanation
                .into_iter()
                .map(|v| RuleVerdict {
                    rule_id: ID(v.rule_id),
                    name: v.name,
                    draft: v.draft,
                    matched_by: v.matched_by,
                    specificity: int(v.specificity),
                    priority: v.priority,
                    action: crate::routes::pricing::action_view(v.action).into(),
                    outcome: v.outcome,
                    failed_condition: v.failed_condition,
                    required: v.required,
                    actual: v.actual,
                    by: v.by.map(ID),
                    price_after: v.price_after.map(|m| money(Some(m))),
                    ranked_by: v.ranked_by,
                })
                .collect(),
            stale: a.stale,
            position: a.position,
        }
    }
}

pub struct PriceBook(PriceBookView);

/// A price book: base prices per SKU and currency.
#[Object]
impl PriceBook {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn default_currency(&self) -> &str {
        &self.0.default_currency
    }
    /// Number of (SKU, currency) prices.
    async fn price_count(&self) -> i64 {
        i64::try_from(self.0.price_count).unwrap_or(i64::MAX)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn version(&self) -> i64 {
        i64::try_from(self.0.version).unwrap_or(i64::MAX)
    }
    /// Its prices by SKU then currency, a page at a time (the cursor is `<sku>/<currency>`);
    /// the books of a list load theirs in one query.
    async fn prices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        sku: Option<String>,
    ) -> async_graphql::Result<Connection<String, BookPrice>> {
        let limit = page_limit(first.map(|n| n.to_string()).as_ref())
            .map_err(|p| problem_error(rename(p, "limit", "first")))?;
        if let Some(sku) = &sku {
            crate::routes::pricing::sku("sku", sku).map_err(problem_error)?;
        }
        if let Some(after) = &after {
            let valid = after.split_once('/').is_some_and(|(s, c)| {
                crate::routes::pricing::sku("after", s).is_ok()
                    && crate::routes::pricing::currency("after", c).is_ok()
            });
            if !valid {
                return Err(problem_error(Problem::invalid(
                    "after",
                    "must be the endCursor of a previous page",
                )));
            }
        }
        let key = BookPricesKey {
            book: self.0.id,
            sku,
            after: after.clone(),
            limit,
        };
        let page = ctx
            .data::<DataLoader<BookPricesLoader>>()?
            .load_one(key)
            .await?
            .unwrap_or_default();
        let mut connection = Connection::new(after.is_some(), page.1);
        connection.edges.extend(
            page.0
                .into_iter()
                .map(|p| Edge::new(format!("{}/{}", p.sku, p.price.currency), p)),
        );
        Ok(connection)
    }
}

fn rename(mut problem: Problem, from: &str, to: &str) -> Problem {
    if problem.field.as_deref() == Some(from) {
        problem.detail = problem.detail.replacen(from, to, 1);
        problem.field = Some(to.to_owned());
    }
    problem
}

/// Loads live rules by id, many at once. Counts its batches, for tests of the N+1 rule.
pub struct PriceRuleLoader {
    pub reads: PricingReadModel,
    pub batches: Arc<std::sync::atomic::AtomicUsize>,
}

impl Loader<Uuid> for PriceRuleLoader {
    type Value = PriceRule;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, PriceRule>, Self::Error> {
        self.batches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let rules = self
            .reads
            .price_rules_by_id(ids)
            .await
            .map_err(read_failed)?;
        Ok(rules
            .into_iter()
            .map(|r| (r.id, PriceRule::from(r)))
            .collect())
    }
}

/// A page of one book's prices, as `prices(first, after, sku)` asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BookPricesKey {
    book: Uuid,
    sku: Option<String>,
    after: Option<String>,
    limit: usize,
}

/// Loads pages of prices of many books, one query per distinct `(sku, after, first)`.
pub struct BookPricesLoader {
    pub reads: PricingReadModel,
    pub batches: Arc<std::sync::atomic::AtomicUsize>,
}

impl Loader<BookPricesKey> for BookPricesLoader {
    type Value = (Vec<BookPrice>, bool);
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[BookPricesKey],
    ) -> Result<HashMap<BookPricesKey, Self::Value>, Self::Error> {
        let mut groups: HashMap<(Option<String>, Option<String>, usize), Vec<Uuid>> =
            HashMap::new();
        for key in keys {
            groups
                .entry((key.sku.clone(), key.after.clone(), key.limit))
                .or_default()
                .push(key.book);
        }
        let mut loaded = HashMap::with_capacity(keys.len());
        for ((sku, after, limit), books) in groups {
            self.batches
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let after_pair = after.as_deref().and_then(|a| a.split_once('/'));
            let pages = self
                .reads
                .price_book_prices_many(&books, sku.as_deref(), after_pair, limit)
                .await
                .map_err(read_failed)?;
            for (book, page) in pages {
                let key = BookPricesKey {
                    book,
                    sku: sku.clone(),
                    after: after.clone(),
                    limit,
                };
                let has_next = page.next.is_some();
                loaded.insert(
                    key,
                    (
                        page.items.into_iter().map(BookPrice::from).collect(),
                        has_next,
                    ),
                );
            }
        }
        Ok(loaded)
    }
}

/// A list argument's problem, named as the GraphQL argument.
fn argument(problem: Problem) -> async_graphql::Error {
    let problem = rename(rename(problem, "cursor", "after"), "limit", "first");
    problem_error(problem)
}

fn list_args(pairs: Vec<(&str, Option<String>)>) -> std::collections::BTreeMap<String, String> {
    pairs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
        .collect()
}

#[derive(Default)]
pub struct PricingQuery;

#[Object]
impl PricingQuery {
    /// The price of a SKU for a context, as `GET /pricing/{sku}` (`explain`: with the verdict
    /// of every candidate rule).
    async fn price(
        &self,
        ctx: &Context<'_>,
        sku: String,
        context: Option<PriceContextInput>,
        #[graphql(default = false)] explain: bool,
    ) -> async_graphql::Result<Option<PriceAnswer>> {
        let caller = caller(ctx)?;
        caller
            .principal
            .require(shopcore_auth::scopes::VIEW_PRICES)
            .map_err(|d| problem_error(Problem::forbidden(d)))?;
        let input = context.unwrap_or_default();
        let surface = Surface::Context;
        let price_book = match &input.price_book {
            Some(id) => Some(uuid(id, "context.priceBook")?),
            None => None,
        };
        let quantity = match input.quantity {
            None => None,
            Some(q) => Some(u32::try_from(q).map_err(|_| {
                problem_error(Problem::invalid(
                    "context.quantity",
                    "must be a whole number from 1 to 1000000",
                ))
            })?),
        };
        let body = PriceContextBody {
            currency: input.currency,
            customer_segments: input.customer_segments,
            channel: input.channel,
            region: input.region,
            quantity,
            at: input.at,
            price_book,
        };
        let context = price_context(&sku, body).map_err(|p| problem_error(surface.rename(p)))?;
        let wanted = requested(ctx);
        let request = pb::GetPriceRequest {
            context: Some(context),
            min_position: (!wanted.is_start()).then(|| wanted.to_string()),
            explain,
        };
        let answer = caller
            .get_price(request)
            .await
            .map_err(|p| problem_error(surface.rename(p)))?;
        Ok(Some(answer.into()))
    }

    /// A live price rule.
    async fn price_rule(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<PriceRule>> {
        let reads = back_office(ctx).await?;
        let id = uuid(&id, "id")?;
        let rule = reads.price_rule(id).await.map_err(read_failed)?;
        Ok(rule.filter(|r| r.removed_at.is_none()).map(PriceRule::from))
    }

    /// Live rules by id, a page at a time (Relay connection; the cursor is the rule id):
    /// those targeting `sku` directly and/or `category`.
    async fn price_rules(
        &self,
        ctx: &Context<'_>,
        sku: Option<String>,
        category: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, PriceRule>> {
        let reads = back_office(ctx).await?;
        let query = list_args(vec![
            ("sku", sku),
            ("category", category),
            ("limit", first.map(|n| n.to_string())),
            ("cursor", after.clone()),
        ]);
        let (filter, after_id, limit) = rule_list_query(&query).map_err(argument)?;
        let page = reads
            .price_rules(&filter, after_id, limit)
            .await
            .map_err(read_failed)?;
        let mut connection = Connection::new(after.is_some(), page.next.is_some());
        connection.edges.extend(
            page.items
                .into_iter()
                .map(|r| Edge::new(r.id.to_string(), PriceRule::from(r))),
        );
        Ok(connection)
    }

    /// A promotion.
    async fn promotion(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Promotion>> {
        let reads = back_office(ctx).await?;
        let id = uuid(&id, "id")?;
        Ok(reads
            .promotion(id)
            .await
            .map_err(read_failed)?
            .map(Promotion::from))
    }

    /// Promotions by id, a page at a time; `code` finds the one holding a coupon code.
    async fn promotions(
        &self,
        ctx: &Context<'_>,
        active: Option<bool>,
        code: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Promotion>> {
        let reads = back_office(ctx).await?;
        let query = list_args(vec![
            ("active", active.map(|a| a.to_string())),
            ("code", code),
            ("limit", first.map(|n| n.to_string())),
            ("cursor", after.clone()),
        ]);
        let (filter, after_id, limit) = promotion_list_query(&query).map_err(argument)?;
        let page = reads
            .promotions(&filter, after_id, limit)
            .await
            .map_err(read_failed)?;
        let mut connection = Connection::new(after.is_some(), page.next.is_some());
        connection.edges.extend(
            page.items
                .into_iter()
                .map(|p| Edge::new(p.id.to_string(), Promotion::from(p))),
        );
        Ok(connection)
    }

    /// A price book.
    async fn price_book(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<PriceBook>> {
        let reads = back_office(ctx).await?;
        let id = uuid(&id, "id")?;
        Ok(reads
            .price_book(id)
            .await
            .map_err(read_failed)?
            .map(PriceBook))
    }

    /// Price books by id, a page at a time.
    async fn price_books(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, PriceBook>> {
        let reads = back_office(ctx).await?;
        let limit = page_limit(first.map(|n| n.to_string()).as_ref()).map_err(argument)?;
        let after_id = match &after {
            None => None,
            Some(a) => Some(Uuid::parse_str(a).map_err(|_| {
                problem_error(Problem::invalid(
                    "after",
                    "must be the endCursor of a previous page",
                ))
            })?),
        };
        let page = reads
            .price_books(after_id, limit)
            .await
            .map_err(read_failed)?;
        let mut connection = Connection::new(after.is_some(), page.next.is_some());
        connection.edges.extend(
            page.items
                .into_iter()
                .map(|b| Edge::new(b.id.to_string(), PriceBook(b))),
        );
        Ok(connection)
    }
}

/// The request data the pricing resolvers need: their DataLoaders (sharing one batch
/// counter), the caller's token and correlation id, and the requested position.
pub fn request_data(
    request: async_graphql::Request,
    state: &AppState,
    token: Option<BearerToken>,
    correlation: Option<CorrelationId>,
    position: LogPosition,
    batches: Arc<std::sync::atomic::AtomicUsize>,
) -> async_graphql::Request {
    let rules = PriceRuleLoader {
        reads: state.pricing_reads.clone(),
        batches: batches.clone(),
    };
    let prices = BookPricesLoader {
        reads: state.pricing_reads.clone(),
        batches,
    };
    let mut request = request
        .data(DataLoader::new(rules, tokio::spawn))
        .data(DataLoader::new(prices, tokio::spawn))
        .data(RequestedPosition(position));
    if let Some(token) = token {
        request = request.data(token);
    }
    if let Some(correlation) = correlation {
        request = request.data(correlation);
    }
    request
}
