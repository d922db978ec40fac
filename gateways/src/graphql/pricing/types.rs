//! The plain output types of the pricing schema — money, actions, rules, promotions, book
//! prices — made from the read model's views and the query service's wire messages.

use async_graphql::{SimpleObject, ID};
use chrono::{DateTime, Utc};
use shopcore_projections::catalog::read_model::MoneyView;
use shopcore_projections::pricing::read_model::{
    BasePriceView, DiscountView, PriceRuleView, PromotionView, RuleActionView,
};
use shopcore_proto::pricing::v1 as pb;

/// An amount in minor units of an ISO 4217 currency.
#[derive(SimpleObject, Clone)]
pub struct Money {
    pub amount: i64,
    pub currency: String,
}

impl From<MoneyView> for Money {
    fn from(m: MoneyView) -> Self {
        Self {
            amount: m.amount,
            currency: m.currency,
        }
    }
}

pub(super) fn money(m: Option<pb::Money>) -> Money {
    crate::routes::pricing::money_view(m).into()
}

/// What a rule does: `setPrice` (with `price`), `percentOff` (with `percent`, a decimal
/// string) or `amountOff` (with `amount`).
#[derive(SimpleObject, Clone)]
pub struct RuleAction {
    pub r#type: String,
    pub price: Option<Money>,
    pub percent: Option<String>,
    pub amount: Option<Money>,
}

impl From<RuleActionView> for RuleAction {
    fn from(action: RuleActionView) -> Self {
        let none = Self {
            r#type: String::new(),
            price: None,
            percent: None,
            amount: None,
        };
        match action {
            RuleActionView::SetPrice { price } => Self {
                r#type: "setPrice".into(),
                price: Some(price.into()),
                ..none
            },
            RuleActionView::PercentOff { percent } => Self {
                r#type: "percentOff".into(),
                percent: Some(percent),
                ..none
            },
            RuleActionView::AmountOff { amount } => Self {
                r#type: "amountOff".into(),
                amount: Some(amount.into()),
                ..none
            },
        }
    }
}

/// What a rule targets.
#[derive(SimpleObject, Clone)]
pub struct RuleTargets {
    pub skus: Vec<String>,
    pub categories: Vec<String>,
}

/// When a rule applies.
#[derive(SimpleObject, Clone)]
pub struct RuleConditions {
    pub customer_segments: Vec<String>,
    pub channels: Vec<String>,
    pub regions: Vec<String>,
    pub currency: Option<String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub min_quantity: Option<i64>,
}

/// A live price rule.
#[derive(SimpleObject, Clone)]
pub struct PriceRule {
    pub id: ID,
    pub name: String,
    pub targets: RuleTargets,
    pub priority: i32,
    pub conditions: RuleConditions,
    pub action: RuleAction,
    pub exclusive: bool,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub position: String,
}

impl From<PriceRuleView> for PriceRule {
    fn from(r: PriceRuleView) -> Self {
        Self {
            id: ID(r.id.to_string()),
            name: r.name,
            targets: RuleTargets {
                skus: r.targets.skus,
                categories: r.targets.categories,
            },
            priority: r.priority,
            conditions: RuleConditions {
                customer_segments: r.conditions.customer_segments,
                channels: r.conditions.channels,
                regions: r.conditions.regions,
                currency: r.conditions.currency,
                valid_from: r.conditions.valid_from,
                valid_until: r.conditions.valid_until,
                min_quantity: r.conditions.min_quantity.map(i64::from),
            },
            action: r.action.into(),
            exclusive: r.exclusive,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: i64::try_from(r.version).unwrap_or(i64::MAX),
            position: r.position,
        }
    }
}

/// What a promotion takes off: `percentOff` (with `percent`) or `amountOff` (with `amount`).
#[derive(SimpleObject)]
pub struct Discount {
    pub r#type: String,
    pub percent: Option<String>,
    pub amount: Option<Money>,
}

/// A promotion campaign.
#[derive(SimpleObject)]
pub struct Promotion {
    pub id: ID,
    pub name: String,
    pub discount: Discount,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub usage_limit_total: Option<i64>,
    pub usage_limit_per_customer: Option<i64>,
    pub coupon_codes: Vec<String>,
    pub active: bool,
    pub activation_scheduled_at: Option<DateTime<Utc>>,
    pub redemptions: i64,
    pub version: i64,
    pub position: String,
}

impl From<PromotionView> for Promotion {
    fn from(p: PromotionView) -> Self {
        let discount = match p.discount {
            DiscountView::PercentOff { percent } => Discount {
                r#type: "percentOff".into(),
                percent: Some(percent),
                amount: None,
            },
            DiscountView::AmountOff { amount } => Discount {
                r#type: "amountOff".into(),
                percent: None,
                amount: Some(amount.into()),
            },
        };
        Self {
            id: ID(p.id.to_string()),
            name: p.name,
            discount,
            valid_from: p.valid_from,
            valid_until: p.valid_until,
            usage_limit_total: p.usage_limit_total.map(i64::from),
            usage_limit_per_customer: p.usage_limit_per_customer.map(i64::from),
            coupon_codes: p.coupon_codes,
            active: p.active,
            activation_scheduled_at: p.activation_scheduled_at,
            redemptions: i64::from(p.redemptions),
            version: i64::try_from(p.version).unwrap_or(i64::MAX),
            position: p.position,
        }
    }
}

/// A base price of a book.
#[derive(SimpleObject, Clone)]
pub struct BookPrice {
    pub sku: String,
    pub price: Money,
    pub updated_at: DateTime<Utc>,
}

impl From<BasePriceView> for BookPrice {
    fn from(p: BasePriceView) -> Self {
        Self {
            sku: p.sku,
            price: p.price.into(),
            updated_at: p.updated_at,
        }
    }
}
