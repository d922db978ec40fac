//! What the gateway reads of the pricing tables: price books with their prices, price rules
//! (one, or those that target a SKU or category, through `price_rule_targets`) and promotions
//! (with their coupon codes), each with the version and log position of its aggregate from
//! `pricing_versions` — and waiting until the `pricing_mysql` projector has reached a log
//! position (read-your-writes). Prices themselves are not computed here: the pricing query
//! service answers them from memory.
//!
//! `_bin` columns read as bytes through sqlx, so every one of them is selected through
//! `CAST(… AS CHAR CHARACTER SET utf8mb4)`; joins with `pricing_versions` compare under its
//! `utf8mb4_bin` collation.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use shopcore_domain::pricing::{Discount, PriceRuleDefinition, RuleAction};
use shopcore_event_store::LogPosition;
use sqlx::{MySql, MySqlPool, QueryBuilder, Row};
use uuid::Uuid;

use super::PricingMysqlProjector;
use crate::catalog::read_model::MoneyView;
use crate::stores::mysql_checkpoint;

/// Errors reading the pricing read model.
#[derive(Debug, thiserror::Error)]
pub enum PricingReadError {
    #[error("mysql: {0}")]
    Mysql(#[from] sqlx::Error),
    /// A stored row the domain's types do not read (a projector bug, never user input).
    #[error("pricing read model row of {id}: {reason}")]
    Corrupt { id: String, reason: String },
    /// The read model did not reach the requested position in time.
    #[error("read model is at position {reached}, not yet at {wanted}")]
    NotYetAt {
        wanted: LogPosition,
        reached: LogPosition,
    },
}

/// What a rule does to the unit price: `setPrice` replaces it, `percentOff` takes a
/// percentage off (a decimal string with at most two decimals, `"12.5"`), `amountOff` a
/// fixed amount (never below zero). Money is in minor units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum RuleActionView {
    SetPrice {
        price: MoneyView,
    },
    PercentOff {
        #[schema(example = "12.5")]
        percent: String,
    },
    AmountOff {
        amount: MoneyView,
    },
}

/// What a promotion takes off an order subtotal: `percentOff` (a decimal string, `"10"`) or
/// `amountOff` (minor units).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum DiscountView {
    PercentOff {
        #[schema(example = "10")]
        percent: String,
    },
    AmountOff {
        amount: MoneyView,
    },
}

fn money_view(money: shopcore_domain::money::Money) -> MoneyView {
    MoneyView {
        amount: money.amount(),
        currency: money.currency().code().to_owned(),
    }
}

impl From<RuleAction> for RuleActionView {
    fn from(action: RuleAction) -> Self {
        match action {
            RuleAction::SetPrice { price } => Self::SetPrice {
                price: money_view(price),
            },
            RuleAction::PercentOff { percent } => Self::PercentOff {
                percent: percent.to_decimal_string(),
            },
            RuleAction::AmountOff { amount } => Self::AmountOff {
                amount: money_view(amount),
            },
        }
    }
}

impl From<Discount> for DiscountView {
    fn from(discount: Discount) -> Self {
        match discount {
            Discount::PercentOff { percent } => Self::PercentOff {
                percent: percent.to_decimal_string(),
            },
            Discount::AmountOff { amount } => Self::AmountOff {
                amount: money_view(amount),
            },
        }
    }
}

/// The SKUs and categories a rule applies to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleTargetsView {
    #[serde(default)]
    pub skus: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
}

/// When a rule applies; empty lists and absent values always hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleConditionsView {
    pub customer_segments: Vec<String>,
    pub channels: Vec<String>,
    pub regions: Vec<String>,
    /// The currency the rule applies in (a money action's currency is also this one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Inclusive start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<DateTime<Utc>>,
    /// Exclusive end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_quantity: Option<u32>,
}

/// A price rule as stored: its definition, age, version and the log position of its latest
/// event.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PriceRuleView {
    pub id: Uuid,
    pub name: String,
    pub targets: RuleTargetsView,
    /// Higher wins among rules of equal specificity.
    pub priority: i32,
    pub conditions: RuleConditionsView,
    pub action: RuleActionView,
    /// When it applies, no rule after it (in precedence order) is considered.
    pub exclusive: bool,
    /// Absent in the answer of a write (which comes from the command, not the read model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Set once the rule is removed: it applies nowhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<DateTime<Utc>>,
    /// The rule's version (its number of events; the `ETag`).
    pub version: u64,
    /// The log position of its latest event (a `Shopcore-Position` token).
    #[schema(value_type = String, example = "1042-17")]
    pub position: String,
}

impl PriceRuleView {
    /// The view of a stored definition (as the domain wrote it).
    pub fn from_definition(id: Uuid, definition: PriceRuleDefinition) -> Self {
        let c = definition.conditions;
        Self {
            id,
            name: definition.name,
            targets: RuleTargetsView {
                skus: definition.targets.skus.into_iter().collect(),
                categories: definition.targets.categories.into_iter().collect(),
            },
            priority: definition.priority,
            conditions: RuleConditionsView {
                customer_segments: c.customer_segments.into_iter().collect(),
                channels: c.channels.into_iter().collect(),
                regions: c.regions.into_iter().collect(),
                currency: c.currency.map(|c| c.code().to_owned()),
                valid_from: c.valid_from,
                valid_until: c.valid_until,
                min_quantity: c.min_quantity,
            },
            action: definition.action.into(),
            exclusive: definition.exclusive,
            created_at: None,
            updated_at: None,
            removed_at: None,
            version: 0,
            position: LogPosition::START.to_string(),
        }
    }
}

/// A promotion campaign with its coupon codes.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromotionView {
    pub id: Uuid,
    pub name: String,
    pub discount: DiscountView,
    /// Inclusive start.
    pub valid_from: DateTime<Utc>,
    /// Exclusive end.
    pub valid_until: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_limit_total: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_limit_per_customer: Option<u32>,
    /// Upper case, sorted; empty: no code is needed.
    pub coupon_codes: Vec<String>,
    pub active: bool,
    /// When the promotion will switch itself on (the start of its window); absent when no
    /// activation is scheduled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation_scheduled_at: Option<DateTime<Utc>>,
    pub redemptions: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    pub version: u64,
    #[schema(value_type = String, example = "1042-17")]
    pub position: String,
}

/// A price book's header.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PriceBookView {
    pub id: Uuid,
    pub name: String,
    /// Prices missing in a currency are converted from this one.
    pub default_currency: String,
    /// Number of (SKU, currency) prices in the book.
    pub price_count: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
    #[schema(value_type = String, example = "1042-17")]
    pub position: String,
}

/// One base price of a book.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BasePriceView {
    pub sku: String,
    pub price: MoneyView,
    pub updated_at: DateTime<Utc>,
}

/// A page of a list, and where the next one starts.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The cursor of the next page; `None` on the last one.
    pub next: Option<String>,
}

/// Which rules a list shows: those targeting the SKU (directly) or the category; both given,
/// those targeting either; neither, every live rule.
#[derive(Debug, Clone, Default)]
pub struct RuleFilter {
    pub sku: Option<String>,
    pub category: Option<String>,
}

/// Which promotions a list shows.
#[derive(Debug, Clone, Default)]
pub struct PromotionFilter {
    pub active: Option<bool>,
    /// A coupon code, upper case.
    pub code: Option<String>,
}

fn utc(naive: NaiveDateTime) -> DateTime<Utc> {
    DateTime::<Utc>::from_naive_utc_and_offset(naive, Utc)
}

fn position(tx: Option<u64>, position: Option<u64>) -> String {
    LogPosition::new(tx.unwrap_or(0), position.unwrap_or(0)).to_string()
}

fn corrupt(id: &str, reason: impl std::fmt::Display) -> PricingReadError {
    PricingReadError::Corrupt {
        id: id.to_owned(),
        reason: reason.to_string(),
    }
}

fn uuid_of(text: &str) -> Result<Uuid, PricingReadError> {
    Uuid::parse_str(text).map_err(|e| corrupt(text, e))
}

const RULE_COLUMNS: &str =
    "SELECT r.rule_id, r.definition, r.created_at, r.updated_at, r.removed_at,
       v.version, v.last_tx_id, v.last_position
     FROM price_rules r
     LEFT JOIN pricing_versions v
       ON v.aggregate_type = 'price_rule' AND v.aggregate_id = r.rule_id COLLATE utf8mb4_bin";

fn rule_row(row: &sqlx::mysql::MySqlRow) -> Result<PriceRuleView, PricingReadError> {
    let id: String = row.try_get("rule_id")?;
    let definition: String = row.try_get("definition")?;
    let definition: PriceRuleDefinition =
        serde_json::from_str(&definition).map_err(|e| corrupt(&id, e))?;
    let mut view = PriceRuleView::from_definition(uuid_of(&id)?, definition);
    view.created_at = Some(utc(row.try_get("created_at")?));
    view.updated_at = Some(utc(row.try_get("updated_at")?));
    view.removed_at = row
        .try_get::<Option<NaiveDateTime>, _>("removed_at")?
        .map(utc);
    view.version = row.try_get::<Option<u64>, _>("version")?.unwrap_or(0);
    view.position = position(row.try_get("last_tx_id")?, row.try_get("last_position")?);
    Ok(view)
}

const PROMOTION_COLUMNS: &str = "SELECT p.promotion_id, p.name, p.discount, p.valid_from,
       p.valid_until, p.usage_limit_total, p.usage_limit_per_customer, p.active, p.activation_scheduled_at,
       p.redemptions,
       p.created_at, p.updated_at, v.version, v.last_tx_id, v.last_position
     FROM promotion_campaigns p
     LEFT JOIN pricing_versions v
       ON v.aggregate_type = 'promotion' AND v.aggregate_id = p.promotion_id COLLATE utf8mb4_bin";

fn promotion_row(row: &sqlx::mysql::MySqlRow) -> Result<PromotionView, PricingReadError> {
    let id: String = row.try_get("promotion_id")?;
    let discount: String = row.try_get("discount")?;
    let discount: Discount = serde_json::from_str(&discount).map_err(|e| corrupt(&id, e))?;
    Ok(PromotionView {
        id: uuid_of(&id)?,
        name: row.try_get("name")?,
        discount: discount.into(),
        valid_from: utc(row.try_get("valid_from")?),
        valid_until: utc(row.try_get("valid_until")?),
        usage_limit_total: row.try_get("usage_limit_total")?,
        usage_limit_per_customer: row.try_get("usage_limit_per_customer")?,
        coupon_codes: Vec::new(),
        active: row.try_get("active")?,
        activation_scheduled_at: row
            .try_get::<Option<NaiveDateTime>, _>("activation_scheduled_at")?
            .map(utc),
        redemptions: row.try_get("redemptions")?,
        created_at: Some(utc(row.try_get("created_at")?)),
        updated_at: Some(utc(row.try_get("updated_at")?)),
        version: row.try_get::<Option<u64>, _>("version")?.unwrap_or(0),
        position: position(row.try_get("last_tx_id")?, row.try_get("last_position")?),
    })
}

const BOOK_COLUMNS: &str = "SELECT b.price_book_id, b.name, b.default_currency, b.created_at,
       b.updated_at, v.version, v.last_tx_id, v.last_position,
       (SELECT COUNT(*) FROM price_book_prices p WHERE p.price_book_id = b.price_book_id) AS price_count
     FROM price_books b
     LEFT JOIN pricing_versions v
       ON v.aggregate_type = 'price_book' AND v.aggregate_id = b.price_book_id COLLATE utf8mb4_bin";

fn book_row(row: &sqlx::mysql::MySqlRow) -> Result<PriceBookView, PricingReadError> {
    let id: String = row.try_get("price_book_id")?;
    Ok(PriceBookView {
        id: uuid_of(&id)?,
        name: row.try_get("name")?,
        default_currency: row.try_get("default_currency")?,
        price_count: u64::try_from(row.try_get::<i64, _>("price_count")?).unwrap_or(0),
        created_at: utc(row.try_get("created_at")?),
        updated_at: utc(row.try_get("updated_at")?),
        version: row.try_get::<Option<u64>, _>("version")?.unwrap_or(0),
        position: position(row.try_get("last_tx_id")?, row.try_get("last_position")?),
    })
}

/// Queries over the pricing read model.
#[derive(Clone)]
pub struct PricingReadModel {
    mysql: MySqlPool,
}

impl PricingReadModel {
    pub fn new(mysql: MySqlPool) -> Self {
        Self { mysql }
    }

    /// The position the `pricing_mysql` projector has reached.
    pub async fn position(&self) -> Result<LogPosition, PricingReadError> {
        Ok(mysql_checkpoint(&self.mysql, PricingMysqlProjector::NAME).await?)
    }

    /// Waits (polling, at most `timeout`) until the projector has reached `wanted`.
    pub async fn wait_for(
        &self,
        wanted: LogPosition,
        timeout: Duration,
    ) -> Result<LogPosition, PricingReadError> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(5);
        loop {
            let reached = self.position().await?;
            if reached >= wanted {
                return Ok(reached);
            }
            if Instant::now() + pause > deadline {
                return Err(PricingReadError::NotYetAt { wanted, reached });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// A rule, also a removed one (`removedAt` says so).
    pub async fn price_rule(&self, id: Uuid) -> Result<Option<PriceRuleView>, PricingReadError> {
        let row = sqlx::query(&format!("{RULE_COLUMNS} WHERE r.rule_id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.mysql)
            .await?;
        row.as_ref().map(rule_row).transpose()
    }

    /// Live rules by id, many at once (those removed or unknown are left out).
    pub async fn price_rules_by_id(
        &self,
        ids: &[Uuid],
    ) -> Result<Vec<PriceRuleView>, PricingReadError> {
        let mut rules = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut query = QueryBuilder::<MySql>::new(RULE_COLUMNS);
            query.push(" WHERE r.removed_at IS NULL AND r.rule_id IN (");
            let mut list = query.separated(", ");
            for id in chunk {
                list.push_bind(id.to_string());
            }
            query.push(")");
            for row in query.build().fetch_all(&self.mysql).await? {
                rules.push(rule_row(&row)?);
            }
        }
        Ok(rules)
    }

    /// Live rules by id, `limit` at a time after the rule id `after`.
    pub async fn price_rules(
        &self,
        filter: &RuleFilter,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Page<PriceRuleView>, PricingReadError> {
        let mut query = QueryBuilder::<MySql>::new(RULE_COLUMNS);
        query.push(" WHERE r.removed_at IS NULL");
        let targets: Vec<(&str, &String)> = [("sku", &filter.sku), ("category", &filter.category)]
            .into_iter()
            .filter_map(|(kind, target)| target.as_ref().map(|t| (kind, t)))
            .collect();
        if !targets.is_empty() {
            query.push(" AND r.rule_id IN (SELECT t.rule_id FROM price_rule_targets t WHERE ");
            let mut either = query.separated(" OR ");
            for (kind, target) in targets {
                either
                    .push("(t.kind = ")
                    .push_bind_unseparated(kind)
                    .push_unseparated(" AND t.target = ")
                    .push_bind_unseparated(target.clone())
                    .push_unseparated(")");
            }
            query.push(")");
        }
        if let Some(after) = after {
            query.push(" AND r.rule_id > ").push_bind(after.to_string());
        }
        query
            .push(" ORDER BY r.rule_id LIMIT ")
            .push_bind(u64::try_from(limit + 1).unwrap_or(u64::MAX));
        let rows = query.build().fetch_all(&self.mysql).await?;
        let mut items = rows.iter().map(rule_row).collect::<Result<Vec<_>, _>>()?;
        let next = (items.len() > limit).then(|| {
            items.truncate(limit);
            items.last().map(|r| r.id.to_string()).unwrap_or_default()
        });
        Ok(Page { items, next })
    }

    /// A promotion with its coupon codes.
    pub async fn promotion(&self, id: Uuid) -> Result<Option<PromotionView>, PricingReadError> {
        let row = sqlx::query(&format!("{PROMOTION_COLUMNS} WHERE p.promotion_id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.mysql)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut promotions = vec![promotion_row(&row)?];
        self.with_codes(&mut promotions).await?;
        Ok(promotions.pop())
    }

    /// Promotions by id, `limit` at a time after the promotion id `after`.
    pub async fn promotions(
        &self,
        filter: &PromotionFilter,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Page<PromotionView>, PricingReadError> {
        let mut query = QueryBuilder::<MySql>::new(PROMOTION_COLUMNS);
        query.push(" WHERE TRUE");
        if let Some(active) = filter.active {
            query.push(" AND p.active = ").push_bind(active);
        }
        if let Some(code) = &filter.code {
            query
                .push(" AND p.promotion_id IN (SELECT c.promotion_id FROM promotion_coupon_codes c WHERE c.code = ")
                .push_bind(code.clone())
                .push(")");
        }
        if let Some(after) = after {
            query
                .push(" AND p.promotion_id > ")
                .push_bind(after.to_string());
        }
        query
            .push(" ORDER BY p.promotion_id LIMIT ")
            .push_bind(u64::try_from(limit + 1).unwrap_or(u64::MAX));
        let rows = query.build().fetch_all(&self.mysql).await?;
        let mut items = rows
            .iter()
            .map(promotion_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next = (items.len() > limit).then(|| {
            items.truncate(limit);
            items.last().map(|p| p.id.to_string()).unwrap_or_default()
        });
        self.with_codes(&mut items).await?;
        Ok(Page { items, next })
    }

    /// Fills in the coupon codes of `promotions`, in one query.
    async fn with_codes(&self, promotions: &mut [PromotionView]) -> Result<(), PricingReadError> {
        if promotions.is_empty() {
            return Ok(());
        }
        let mut query = QueryBuilder::<MySql>::new(
            "SELECT promotion_id, CAST(code AS CHAR CHARACTER SET utf8mb4) AS code
             FROM promotion_coupon_codes WHERE promotion_id IN (",
        );
        let mut list = query.separated(", ");
        for promotion in promotions.iter() {
            list.push_bind(promotion.id.to_string());
        }
        query.push(") ORDER BY code");
        let rows: Vec<(String, String)> = query.build_query_as().fetch_all(&self.mysql).await?;
        let mut codes: HashMap<String, Vec<String>> = HashMap::new();
        for (promotion, code) in rows {
            codes.entry(promotion).or_default().push(code);
        }
        for promotion in promotions {
            let mut found = codes.remove(&promotion.id.to_string()).unwrap_or_default();
            found.sort();
            promotion.coupon_codes = found;
        }
        Ok(())
    }

    /// A price book's header.
    pub async fn price_book(&self, id: Uuid) -> Result<Option<PriceBookView>, PricingReadError> {
        let row = sqlx::query(&format!("{BOOK_COLUMNS} WHERE b.price_book_id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.mysql)
            .await?;
        row.as_ref().map(book_row).transpose()
    }

    /// Price books by id, `limit` at a time after the book id `after`.
    pub async fn price_books(
        &self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Page<PriceBookView>, PricingReadError> {
        let mut query = QueryBuilder::<MySql>::new(BOOK_COLUMNS);
        if let Some(after) = after {
            query
                .push(" WHERE b.price_book_id > ")
                .push_bind(after.to_string());
        }
        query
            .push(" ORDER BY b.price_book_id LIMIT ")
            .push_bind(u64::try_from(limit + 1).unwrap_or(u64::MAX));
        let rows = query.build().fetch_all(&self.mysql).await?;
        let mut items = rows.iter().map(book_row).collect::<Result<Vec<_>, _>>()?;
        let next = (items.len() > limit).then(|| {
            items.truncate(limit);
            items.last().map(|b| b.id.to_string()).unwrap_or_default()
        });
        Ok(Page { items, next })
    }

    /// A book's prices by SKU then currency, `limit` at a time after `after` (the
    /// `(sku, currency)` of the previous page's last price), optionally of one SKU only. The
    /// cursor of the next page is `<sku>/<currency>`.
    pub async fn price_book_prices(
        &self,
        book: Uuid,
        sku: Option<&str>,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Page<BasePriceView>, PricingReadError> {
        let mut query = QueryBuilder::<MySql>::new(
            "SELECT CAST(sku AS CHAR CHARACTER SET utf8mb4) AS sku, currency, amount_minor, updated_at
             FROM price_book_prices WHERE price_book_id = ",
        );
        query.push_bind(book.to_string());
        if let Some(sku) = sku {
            query.push(" AND sku = ").push_bind(sku.to_owned());
        }
        if let Some((sku, currency)) = after {
            query
                .push(" AND (sku, currency) > (")
                .push_bind(sku.to_owned())
                .push(", ")
                .push_bind(currency.to_owned())
                .push(")");
        }
        query
            .push(" ORDER BY sku, currency LIMIT ")
            .push_bind(u64::try_from(limit + 1).unwrap_or(u64::MAX));
        let rows = query.build().fetch_all(&self.mysql).await?;
        let mut items = rows
            .iter()
            .map(|row| {
                Ok(BasePriceView {
                    sku: row.try_get("sku")?,
                    price: MoneyView {
                        amount: row.try_get("amount_minor")?,
                        currency: row.try_get("currency")?,
                    },
                    updated_at: utc(row.try_get("updated_at")?),
                })
            })
            .collect::<Result<Vec<_>, PricingReadError>>()?;
        let next = (items.len() > limit).then(|| {
            items.truncate(limit);
            items
                .last()
                .map(|p| format!("{}/{}", p.sku, p.price.currency))
                .unwrap_or_default()
        });
        Ok(Page { items, next })
    }

    /// [`Self::price_book_prices`] of many books at once, in one query (for a list of books
    /// that each show a page of prices).
    pub async fn price_book_prices_many(
        &self,
        books: &[Uuid],
        sku: Option<&str>,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<HashMap<Uuid, Page<BasePriceView>>, PricingReadError> {
        let mut pages: HashMap<Uuid, Page<BasePriceView>> = books
            .iter()
            .map(|id| {
                (
                    *id,
                    Page {
                        items: Vec::new(),
                        next: None,
                    },
                )
            })
            .collect();
        if books.is_empty() {
            return Ok(pages);
        }
        let mut query = QueryBuilder::<MySql>::new(
            "SELECT price_book_id, sku, currency, amount_minor, updated_at FROM (
               SELECT price_book_id, CAST(sku AS CHAR CHARACTER SET utf8mb4) AS sku, currency,
                 amount_minor, updated_at,
                 ROW_NUMBER() OVER (PARTITION BY price_book_id ORDER BY sku, currency) AS n
               FROM price_book_prices WHERE price_book_id IN (",
        );
        let mut list = query.separated(", ");
        for id in books {
            list.push_bind(id.to_string());
        }
        query.push(")");
        if let Some(sku) = sku {
            query.push(" AND sku = ").push_bind(sku.to_owned());
        }
        if let Some((sku, currency)) = after {
            query
                .push(" AND (sku, currency) > (")
                .push_bind(sku.to_owned())
                .push(", ")
                .push_bind(currency.to_owned())
                .push(")");
        }
        query
            .push(") numbered WHERE n <= ")
            .push_bind(u64::try_from(limit + 1).unwrap_or(u64::MAX))
            .push(" ORDER BY price_book_id, n");
        for row in query.build().fetch_all(&self.mysql).await? {
            let book: String = row.try_get("price_book_id")?;
            let Some(page) = pages.get_mut(&uuid_of(&book)?) else {
                continue;
            };
            page.items.push(BasePriceView {
                sku: row.try_get("sku")?,
                price: MoneyView {
                    amount: row.try_get("amount_minor")?,
                    currency: row.try_get("currency")?,
                },
                updated_at: utc(row.try_get("updated_at")?),
            });
        }
        for page in pages.values_mut() {
            if page.items.len() > limit {
                page.items.truncate(limit);
                page.next = page
                    .items
                    .last()
                    .map(|p| format!("{}/{}", p.sku, p.price.currency));
            }
        }
        Ok(pages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_and_discounts_read_as_tagged_objects_with_decimal_percentages() {
        let action: RuleAction =
            serde_json::from_str(r#"{"type": "percentOff", "percent": 1250}"#).expect("domain");
        assert_eq!(
            serde_json::to_value(RuleActionView::from(action)).expect("json"),
            serde_json::json!({"type": "percentOff", "percent": "12.5"})
        );
        let body: RuleActionView = serde_json::from_str(
            r#"{"type": "setPrice", "price": {"amount": 999.0, "currency": "EUR"}}"#,
        )
        .expect("body");
        assert_eq!(
            body,
            RuleActionView::SetPrice {
                price: MoneyView {
                    amount: 999,
                    currency: "EUR".into()
                }
            }
        );
        for refused in [
            r#"{"type": "percentOff", "percent": "5", "extra": 1}"#,
            r#"{"type": "discount", "percent": "5"}"#,
            r#"{"percent": "5"}"#,
        ] {
            assert!(
                serde_json::from_str::<RuleActionView>(refused).is_err(),
                "{refused}"
            );
        }
        let discount: Discount = serde_json::from_str(
            r#"{"type": "amountOff", "amount": {"amount": 500, "currency": "USD"}}"#,
        )
        .expect("domain");
        assert_eq!(
            serde_json::to_value(DiscountView::from(discount)).expect("json"),
            serde_json::json!({"type": "amountOff", "amount": {"amount": 500, "currency": "USD"}})
        );
    }
}
