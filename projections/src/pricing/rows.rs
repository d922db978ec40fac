//! One pricing event's rows: decoded with the domain's own event types, written with plain
//! upserts and deletes inside the projector's transaction.
//!
//! Instants a caller chose (validity windows, scheduled activations) are bound as naive UTC:
//! sqlx sends a `DateTime<Utc>` to MariaDB as a TIMESTAMP value, which ends on 2038-01-19, and
//! a promotion running to 2099 would halt the projector (or a rule's window be stored NULL).

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use shopcore_domain::pricing::{
    CurrencyRateEvent, PriceBookEvent, PriceRuleDefinition, PriceRuleEvent, PromotionEvent,
};
use shopcore_event_store::StoredEvent;
use sqlx::{MySql, Transaction};

use crate::error::ProjectionError;

type Tx<'a, 'c> = &'a mut Transaction<'c, MySql>;

fn decode<E: DeserializeOwned>(stored: &StoredEvent) -> Result<E, ProjectionError> {
    serde_json::from_value(stored.payload.clone()).map_err(|error| ProjectionError::Undecodable {
        reason: format!(
            "{} {} of {} {}: {error}",
            stored.event_type, stored.sequence, stored.aggregate_type, stored.aggregate_id
        ),
    })
}

fn json(value: &impl serde::Serialize) -> Result<String, ProjectionError> {
    serde_json::to_string(value).map_err(|error| ProjectionError::Undecodable {
        reason: error.to_string(),
    })
}

/// Writes the rows of one event (its aggregate's next).
pub(super) async fn apply(tx: Tx<'_, '_>, stored: &StoredEvent) -> Result<(), ProjectionError> {
    match stored.aggregate_type.as_str() {
        "price_book" => price_book(tx, stored, decode(stored)?).await,
        "price_rule" => price_rule(tx, stored, decode(stored)?).await,
        "promotion" => promotion(tx, stored, decode(stored)?).await,
        "currency_rate" => currency_rate(tx, decode(stored)?).await,
        _ => Ok(()),
    }
}

async fn price_book(
    tx: Tx<'_, '_>,
    stored: &StoredEvent,
    event: PriceBookEvent,
) -> Result<(), ProjectionError> {
    let at = stored.recorded_at;
    let book = &stored.aggregate_id;
    match event {
        PriceBookEvent::PriceBookCreated {
            price_book_id,
            name,
            default_currency,
        } => {
            sqlx::query(
                "INSERT INTO price_books (price_book_id, name, default_currency, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(price_book_id.to_string())
            .bind(name)
            .bind(default_currency.code())
            .bind(at)
            .bind(at)
            .execute(&mut **tx)
            .await?;
        }
        PriceBookEvent::BasePriceSet { sku, price, .. } => {
            sqlx::query(
                "INSERT INTO price_book_prices (price_book_id, sku, currency, amount_minor, updated_at)
                 VALUES (?, ?, ?, ?, ?)
                 ON DUPLICATE KEY UPDATE amount_minor = VALUES(amount_minor), updated_at = VALUES(updated_at)",
            )
            .bind(book)
            .bind(sku)
            .bind(price.currency().code())
            .bind(price.amount())
            .bind(at)
            .execute(&mut **tx)
            .await?;
            touch_book(tx, book, at).await?;
        }
        PriceBookEvent::BasePriceRemoved { sku, currency, .. } => {
            sqlx::query(
                "DELETE FROM price_book_prices WHERE price_book_id = ? AND sku = ? AND currency = ?",
            )
            .bind(book)
            .bind(sku)
            .bind(currency.code())
            .execute(&mut **tx)
            .await?;
            touch_book(tx, book, at).await?;
        }
    }
    Ok(())
}

async fn touch_book(tx: Tx<'_, '_>, book: &str, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE price_books SET updated_at = ? WHERE price_book_id = ?")
        .bind(at)
        .bind(book)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// A rule's row and targets from its whole definition (created, or replaced by an upsert).
async fn write_rule(
    tx: Tx<'_, '_>,
    rule: &str,
    definition: &PriceRuleDefinition,
    created_at: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> Result<(), ProjectionError> {
    let action = json(&definition.action)?;
    let action_type = serde_json::from_str::<serde_json::Value>(&action)
        .ok()
        .and_then(|a| a.get("type").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let currency = definition
        .action
        .currency()
        .or(definition.conditions.currency)
        .map(|c| c.code().to_owned());
    sqlx::query(
        "INSERT INTO price_rules (rule_id, name, priority, exclusive, action_type, currency,
           valid_from, valid_until, definition, created_at, updated_at, removed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
         ON DUPLICATE KEY UPDATE name = VALUES(name), priority = VALUES(priority),
           exclusive = VALUES(exclusive), action_type = VALUES(action_type),
           currency = VALUES(currency), valid_from = VALUES(valid_from),
           valid_until = VALUES(valid_until), definition = VALUES(definition),
           created_at = IF(? IS NULL, created_at, VALUES(created_at)),
           updated_at = VALUES(updated_at), removed_at = NULL",
    )
    .bind(rule)
    .bind(&definition.name)
    .bind(definition.priority)
    .bind(definition.exclusive)
    .bind(action_type)
    .bind(currency)
    .bind(definition.conditions.valid_from.map(|t| t.naive_utc()))
    .bind(definition.conditions.valid_until.map(|t| t.naive_utc()))
    .bind(json(definition)?)
    .bind(created_at.unwrap_or(at))
    .bind(at)
    .bind(created_at)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM price_rule_targets WHERE rule_id = ?")
        .bind(rule)
        .execute(&mut **tx)
        .await?;
    let targets: Vec<(&str, &String)> = definition
        .targets
        .skus
        .iter()
        .map(|sku| ("sku", sku))
        .chain(
            definition
                .targets
                .categories
                .iter()
                .map(|c| ("category", c)),
        )
        .collect();
    for chunk in targets.chunks(500) {
        let mut query = sqlx::QueryBuilder::<MySql>::new(
            "INSERT INTO price_rule_targets (rule_id, kind, target) ",
        );
        query.push_values(chunk, |mut row, (kind, target)| {
            row.push_bind(rule).push_bind(*kind).push_bind(*target);
        });
        query.build().execute(&mut **tx).await?;
    }
    Ok(())
}

async fn price_rule(
    tx: Tx<'_, '_>,
    stored: &StoredEvent,
    event: PriceRuleEvent,
) -> Result<(), ProjectionError> {
    let rule = &stored.aggregate_id;
    match event {
        PriceRuleEvent::PriceRuleCreated {
            definition,
            created_at,
            ..
        } => write_rule(tx, rule, &definition, Some(created_at), created_at).await,
        PriceRuleEvent::PriceRuleUpdated {
            definition,
            updated_at,
        } => write_rule(tx, rule, &definition, None, updated_at).await,
        PriceRuleEvent::PriceRuleRemoved { removed_at } => {
            sqlx::query("UPDATE price_rules SET removed_at = ?, updated_at = ? WHERE rule_id = ?")
                .bind(removed_at)
                .bind(removed_at)
                .bind(rule)
                .execute(&mut **tx)
                .await?;
            sqlx::query("DELETE FROM price_rule_targets WHERE rule_id = ?")
                .bind(rule)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }
    }
}

async fn add_codes(
    tx: Tx<'_, '_>,
    promotion: &str,
    codes: &[String],
) -> Result<(), ProjectionError> {
    for chunk in codes.chunks(500) {
        let mut query = sqlx::QueryBuilder::<MySql>::new(
            "INSERT INTO promotion_coupon_codes (code, promotion_id) ",
        );
        query.push_values(chunk, |mut row, code| {
            row.push_bind(code).push_bind(promotion);
        });
        // The event store reserves every code for one promotion; a row already there is this
        // promotion's own (an event replayed after a rebuild of only this table).
        query.push(" ON DUPLICATE KEY UPDATE promotion_id = VALUES(promotion_id)");
        query.build().execute(&mut **tx).await?;
    }
    Ok(())
}

async fn promotion(
    tx: Tx<'_, '_>,
    stored: &StoredEvent,
    event: PromotionEvent,
) -> Result<(), ProjectionError> {
    let promotion = &stored.aggregate_id;
    let at = stored.recorded_at;
    match event {
        PromotionEvent::PromotionCreated {
            name,
            discount,
            valid_from,
            valid_until,
            usage_limit_total,
            usage_limit_per_customer,
            coupon_codes,
            ..
        } => {
            sqlx::query(
                "INSERT INTO promotion_campaigns (promotion_id, name, discount, valid_from,
                   valid_until, usage_limit_total, usage_limit_per_customer, active, redemptions,
                   created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, FALSE, 0, ?, ?)",
            )
            .bind(promotion)
            .bind(name)
            .bind(json(&discount)?)
            .bind(valid_from.naive_utc())
            .bind(valid_until.naive_utc())
            .bind(usage_limit_total)
            .bind(usage_limit_per_customer)
            .bind(at)
            .bind(at)
            .execute(&mut **tx)
            .await?;
            add_codes(tx, promotion, &coupon_codes).await?;
        }
        PromotionEvent::PromotionCouponCodesAdded { codes } => {
            add_codes(tx, promotion, &codes).await?;
            touch_promotion(tx, promotion, at).await?;
        }
        PromotionEvent::PromotionActivated { .. } => {
            sqlx::query(
                "UPDATE promotion_campaigns SET active = TRUE, activation_scheduled_at = NULL,
                   updated_at = ?
                 WHERE promotion_id = ?",
            )
            .bind(at)
            .bind(promotion)
            .execute(&mut **tx)
            .await?;
        }
        PromotionEvent::PromotionDeactivated { .. } => {
            sqlx::query(
                "UPDATE promotion_campaigns SET active = FALSE, activation_scheduled_at = NULL,
                   updated_at = ?
                 WHERE promotion_id = ?",
            )
            .bind(at)
            .bind(promotion)
            .execute(&mut **tx)
            .await?;
        }
        PromotionEvent::PromotionRedeemed { .. } => {
            sqlx::query(
                "UPDATE promotion_campaigns SET redemptions = redemptions + 1, updated_at = ?
                 WHERE promotion_id = ?",
            )
            .bind(at)
            .bind(promotion)
            .execute(&mut **tx)
            .await?;
        }
        PromotionEvent::PromotionChanged {
            name,
            discount,
            valid_from,
            valid_until,
            usage_limit_total,
            usage_limit_per_customer,
            ..
        } => {
            sqlx::query(
                "UPDATE promotion_campaigns SET name = ?, discount = ?, valid_from = ?,
                   valid_until = ?, usage_limit_total = ?, usage_limit_per_customer = ?,
                   updated_at = ?
                 WHERE promotion_id = ?",
            )
            .bind(name)
            .bind(json(&discount)?)
            .bind(valid_from.naive_utc())
            .bind(valid_until.naive_utc())
            .bind(usage_limit_total)
            .bind(usage_limit_per_customer)
            .bind(at)
            .bind(promotion)
            .execute(&mut **tx)
            .await?;
        }
        PromotionEvent::PromotionActivationScheduled { activate_at } => {
            sqlx::query(
                "UPDATE promotion_campaigns SET activation_scheduled_at = ?, updated_at = ?
                 WHERE promotion_id = ?",
            )
            .bind(activate_at.naive_utc())
            .bind(at)
            .bind(promotion)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

async fn touch_promotion(
    tx: Tx<'_, '_>,
    promotion: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE promotion_campaigns SET updated_at = ? WHERE promotion_id = ?")
        .bind(at)
        .bind(promotion)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

async fn currency_rate(tx: Tx<'_, '_>, event: CurrencyRateEvent) -> Result<(), ProjectionError> {
    let CurrencyRateEvent::FxRateChanged {
        base,
        quote,
        rate,
        previous_rate,
        source,
        changed_at,
    } = event;
    sqlx::query(
        "INSERT INTO currency_rates (base, quote, rate, previous_rate, source, changed_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE rate = VALUES(rate), previous_rate = VALUES(previous_rate),
           source = VALUES(source), changed_at = VALUES(changed_at)",
    )
    .bind(base.code())
    .bind(quote.code())
    .bind(rate.to_string())
    .bind(previous_rate.map(|r| r.to_string()))
    .bind(source)
    .bind(changed_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
