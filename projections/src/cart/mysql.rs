//! The MySQL cart projector (transactional) and its queries.
//!
//! Each batch runs in one MySQL transaction: lock the checkpoint row and check it, lock the
//! `carts` rows of the batch's carts and read their folds (the domain `Cart` in `state`, the
//! checkout in `checkout`), fold each event with [`CartFold::apply`] — one at or below a cart's
//! version was applied already and changes nothing, a gap halts the projector — then write
//! each changed cart's row and its `cart_items` (replaced whole), append one `cart_events` row
//! per event, and move the checkpoint. A crash anywhere rolls the whole batch back.
//!
//! Instants are bound as naive UTC `DATETIME(6)` (a `TIMESTAMP` ends in 2038) and clamped to
//! its range, years 1000 to 9999: the domain lets `expiresAt` saturate at chrono's maximum
//! (year 262 143) when the TTL is huge. The view is always built from `state`, which keeps the
//! exact instant; the columns are for queries, and a cart that expires after 9999 is never due.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{json, Value};
use shopcore_domain::cart::CartEvent;
use shopcore_domain::money::Money;
use shopcore_event_store::{LogPosition, StoredEvent};
use sqlx::mysql::MySqlRow;
use sqlx::{MySql, MySqlPool, QueryBuilder, Row, Transaction};
use uuid::Uuid;

use super::{cart_id_of, decode, CartFold, CartView, CheckoutRecord, AGGREGATE_TYPE};
use crate::error::ProjectionError;
use crate::runtime::{Delivery, Projector};
use crate::stores::{lock_checkpoint, move_checkpoint, mysql_checkpoint, reset_tables};

/// Projects carts into `carts`, `cart_items` and `cart_events`.
#[derive(Clone)]
pub struct CartMysqlProjector {
    pool: MySqlPool,
}

impl CartMysqlProjector {
    pub const NAME: &'static str = "cart_mysql";

    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }
}

/// An instant as a `DATETIME(6)` value: naive UTC, clamped to the column's range.
pub(crate) fn db_instant(at: DateTime<Utc>) -> NaiveDateTime {
    let earliest = NaiveDate::from_ymd_opt(1000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or(NaiveDateTime::MIN);
    let latest = NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_micro_opt(23, 59, 59, 999_999))
        .unwrap_or(NaiveDateTime::MAX);
    at.naive_utc().clamp(earliest, latest)
}

pub(crate) fn utc(naive: NaiveDateTime) -> DateTime<Utc> {
    DateTime::<Utc>::from_naive_utc_and_offset(naive, Utc)
}

fn to_json(value: &impl serde::Serialize) -> Result<String, ProjectionError> {
    serde_json::to_string(value).map_err(|e| ProjectionError::OutOfStep {
        reason: format!("cart state does not serialise: {e}"),
    })
}

/// The fold stored in a `carts` row.
fn fold_of_row(row: &MySqlRow) -> Result<CartFold, ProjectionError> {
    let corrupt = |reason: String| ProjectionError::OutOfStep {
        reason: format!("carts row: {reason}"),
    };
    let id: String = row.try_get("cart_id")?;
    let cart_id = Uuid::parse_str(&id).map_err(|e| corrupt(format!("{id:?}: {e}")))?;
    let state: String = row.try_get("state")?;
    let cart = serde_json::from_str(&state).map_err(|e| corrupt(format!("{id} state: {e}")))?;
    let checkout: Option<String> = row.try_get("checkout")?;
    let checkout: Option<CheckoutRecord> = checkout
        .map(|json| serde_json::from_str(&json))
        .transpose()
        .map_err(|e| corrupt(format!("{id} checkout: {e}")))?;
    Ok(CartFold {
        cart_id,
        cart,
        checkout,
        updated_at: utc(row.try_get("updated_at")?),
        version: row.try_get("version")?,
        position: LogPosition::new(row.try_get("last_tx_id")?, row.try_get("last_position")?),
    })
}

const FOLD_COLUMNS: &str =
    "cart_id, state, checkout, updated_at, version, last_tx_id, last_position";

/// The folds of the batch's carts, their rows locked until the batch commits.
async fn lock_folds(
    tx: &mut Transaction<'_, MySql>,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, CartFold>, ProjectionError> {
    let mut folds = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut query = QueryBuilder::<MySql>::new(format!(
            "SELECT {FOLD_COLUMNS} FROM carts WHERE cart_id IN ("
        ));
        let mut list = query.separated(", ");
        for id in chunk {
            list.push_bind(id.to_string());
        }
        query.push(") FOR UPDATE");
        for row in query.build().fetch_all(&mut **tx).await? {
            let fold = fold_of_row(&row)?;
            folds.insert(fold.cart_id, fold);
        }
    }
    Ok(folds)
}

/// One `cart_events` row.
struct HistoryRow {
    cart_id: Uuid,
    sequence: u64,
    event_id: Uuid,
    event_type: String,
    occurred_at: DateTime<Utc>,
    position: LogPosition,
    detail: String,
}

/// The small summary of an event kept in `cart_events.detail`; `total` is the cart's total
/// after it.
fn detail(event: &CartEvent, after: &CartView) -> Value {
    let money = |m: &Money| json!({ "amount": m.amount(), "currency": m.currency().code() });
    let mut detail = match event {
        CartEvent::CartCreated {
            customer_id,
            currency,
            channel,
            region,
            ..
        } => json!({
            "customerId": customer_id, "currency": currency.code(),
            "channel": channel, "region": region,
        }),
        CartEvent::CartItemAdded {
            sku,
            quantity,
            line_quantity,
            price,
            ..
        } => json!({
            "sku": sku, "quantity": quantity, "lineQuantity": line_quantity,
            "unitPrice": money(&price.unit_price),
        }),
        CartEvent::CartItemQuantityChanged {
            sku,
            quantity,
            previous_quantity,
            price,
            ..
        } => json!({
            "sku": sku, "quantity": quantity, "previousQuantity": previous_quantity,
            "unitPrice": money(&price.unit_price),
        }),
        CartEvent::CartItemRemoved { sku, .. } => json!({ "sku": sku }),
        CartEvent::CartCouponApplied {
            coupon, replaced, ..
        } => {
            json!({ "code": coupon.code, "promotionId": coupon.promotion_id, "replaced": replaced })
        }
        CartEvent::CartCouponRemoved { code, .. } => json!({ "code": code }),
        CartEvent::CartCheckedOut {
            lines,
            price_changes,
            subtotal,
            discount,
            ..
        } => json!({
            "lines": lines.len(), "priceChanges": price_changes.len(),
            "subtotal": money(subtotal), "discount": money(discount),
        }),
        CartEvent::CartExpired { .. } => json!({}),
        CartEvent::CartCustomerAssigned { customer_id, .. } => {
            json!({ "customerId": customer_id })
        }
        CartEvent::CartLinesMerged {
            from_cart_id,
            lines,
            left_out,
            coupon,
            ..
        } => json!({
            "fromCartId": from_cart_id,
            "skus": lines.iter().map(|l| l.sku.as_str()).collect::<Vec<_>>(),
            "leftOut": left_out,
            "code": coupon.as_ref().map(|c| c.code.as_str()),
        }),
        CartEvent::CartMerged { into_cart_id, .. } => json!({ "intoCartId": into_cart_id }),
    };
    if let Value::Object(fields) = &mut detail {
        fields.insert("total".into(), json!(after.total));
    }
    detail
}

#[async_trait]
impl Projector for CartMysqlProjector {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn delivery(&self) -> Delivery {
        Delivery::Transactional
    }

    async fn checkpoint(&self) -> Result<LogPosition, ProjectionError> {
        Ok(mysql_checkpoint(&self.pool, Self::NAME).await?)
    }

    async fn apply(
        &self,
        checkpoint: LogPosition,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let Some(last) = events.last() else {
            return Ok(());
        };
        let mut tx = crate::stores::begin(&self.pool).await?;
        lock_checkpoint(&mut tx, Self::NAME, checkpoint).await?;
        let ours: Vec<&StoredEvent> = events
            .iter()
            .filter(|e| e.aggregate_type == AGGREGATE_TYPE)
            .collect();
        let mut ids = Vec::with_capacity(ours.len());
        for stored in &ours {
            ids.push(cart_id_of(stored)?);
        }
        ids.sort();
        ids.dedup();
        let mut folds = lock_folds(&mut tx, &ids).await?;
        let mut changed: BTreeMap<Uuid, CartView> = BTreeMap::new();
        let mut history = Vec::new();
        for stored in ours {
            let id = cart_id_of(stored)?;
            if folds.get(&id).is_some_and(|f| f.version >= stored.sequence) {
                continue;
            }
            let event = decode(stored)?;
            let fold = CartFold::apply(folds.remove(&id), stored, event.clone())?;
            let view = fold.view()?;
            history.push(HistoryRow {
                cart_id: id,
                sequence: stored.sequence,
                event_id: stored.event_id,
                event_type: stored.event_type.clone(),
                occurred_at: stored.recorded_at,
                position: stored.log_position(),
                detail: detail(&event, &view).to_string(),
            });
            changed.insert(id, view);
            folds.insert(id, fold);
        }
        let changed: Vec<(&CartFold, CartView)> = changed
            .into_iter()
            .filter_map(|(id, view)| folds.get(&id).map(|fold| (fold, view)))
            .collect();
        write_carts(&mut tx, &changed).await?;
        write_items(&mut tx, &changed).await?;
        write_history(&mut tx, &history).await?;
        move_checkpoint(&mut tx, Self::NAME, last.log_position()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reset(&self) -> Result<(), ProjectionError> {
        reset_tables(
            &self.pool,
            Self::NAME,
            &["cart_events", "cart_items", "carts"],
        )
        .await
    }
}

/// Upserts the `carts` rows of the changed carts.
async fn write_carts(
    tx: &mut Transaction<'_, MySql>,
    changed: &[(&CartFold, CartView)],
) -> Result<(), ProjectionError> {
    for chunk in changed.chunks(100) {
        let mut rows = Vec::with_capacity(chunk.len());
        for (fold, view) in chunk {
            let checkout = fold.checkout.as_ref().map(to_json).transpose()?;
            rows.push((fold, view, to_json(&fold.cart)?, checkout));
        }
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO carts (cart_id, customer_id, session_token_hash, currency, channel, region,
               status, coupon_code, promotion_id, subtotal_minor, discount_minor, total_minor,
               created_at, updated_at, expires_at, checked_out_at, merged_into, version,
               last_tx_id, last_position, state, checkout) ",
        );
        query.push_values(rows, |mut row, (fold, view, state, checkout)| {
            row.push_bind(view.cart_id.to_string())
                .push_bind(view.customer_id.map(|id| id.to_string()))
                .push_bind(fold.cart.session_token_hash.clone())
                .push_bind(view.currency.clone())
                .push_bind(view.channel.clone())
                .push_bind(view.region.clone())
                .push_bind(view.status.as_str())
                .push_bind(view.coupon.as_ref().map(|c| c.code.clone()))
                .push_bind(view.coupon.as_ref().map(|c| c.promotion_id.to_string()))
                .push_bind(view.subtotal.amount)
                .push_bind(view.discount.amount)
                .push_bind(view.total.amount)
                .push_bind(db_instant(view.created_at))
                .push_bind(db_instant(view.updated_at))
                .push_bind(db_instant(view.expires_at))
                .push_bind(view.checked_out_at.map(db_instant))
                .push_bind(view.merged_into.map(|id| id.to_string()))
                .push_bind(view.version)
                .push_bind(view.position.tx)
                .push_bind(view.position.position)
                .push_bind(state)
                .push_bind(checkout);
        });
        query.push(
            " ON DUPLICATE KEY UPDATE customer_id = VALUES(customer_id),
               session_token_hash = VALUES(session_token_hash), currency = VALUES(currency),
               channel = VALUES(channel), region = VALUES(region), status = VALUES(status),
               coupon_code = VALUES(coupon_code), promotion_id = VALUES(promotion_id),
               subtotal_minor = VALUES(subtotal_minor), discount_minor = VALUES(discount_minor),
               total_minor = VALUES(total_minor), created_at = VALUES(created_at),
               updated_at = VALUES(updated_at), expires_at = VALUES(expires_at),
               checked_out_at = VALUES(checked_out_at), merged_into = VALUES(merged_into),
               version = VALUES(version), last_tx_id = VALUES(last_tx_id),
               last_position = VALUES(last_position), state = VALUES(state),
               checkout = VALUES(checkout)",
        );
        query.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Replaces the `cart_items` rows of the changed carts.
async fn write_items(
    tx: &mut Transaction<'_, MySql>,
    changed: &[(&CartFold, CartView)],
) -> Result<(), ProjectionError> {
    for chunk in changed.chunks(500) {
        let mut query = QueryBuilder::<MySql>::new("DELETE FROM cart_items WHERE cart_id IN (");
        let mut list = query.separated(", ");
        for (_, view) in chunk {
            list.push_bind(view.cart_id.to_string());
        }
        query.push(")");
        query.build().execute(&mut **tx).await?;
    }
    let mut lines = Vec::new();
    for (_, view) in changed {
        for line in &view.lines {
            lines.push((view, line, to_json(&line.applied_rules)?));
        }
    }
    for chunk in lines.chunks(200) {
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO cart_items (cart_id, sku, quantity, unit_price_minor, list_price_minor,
               currency, applied_rules, priced_at, line_total_minor, discount_minor, total_minor) ",
        );
        query.push_values(chunk, |mut row, (view, line, rules)| {
            row.push_bind(view.cart_id.to_string())
                .push_bind(line.sku.clone())
                .push_bind(line.quantity)
                .push_bind(line.unit_price.amount)
                .push_bind(line.list_price.amount)
                .push_bind(line.unit_price.currency.clone())
                .push_bind(rules.clone())
                .push_bind(db_instant(line.priced_at))
                .push_bind(line.line_total.amount)
                .push_bind(line.discount.amount)
                .push_bind(line.total.amount);
        });
        query.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Appends the batch's `cart_events` rows.
async fn write_history(
    tx: &mut Transaction<'_, MySql>,
    history: &[HistoryRow],
) -> Result<(), ProjectionError> {
    for chunk in history.chunks(200) {
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO cart_events (cart_id, sequence, event_id, event_type, occurred_at, tx_id,
               position, detail) ",
        );
        query.push_values(chunk, |mut row, event| {
            row.push_bind(event.cart_id.to_string())
                .push_bind(event.sequence)
                .push_bind(event.event_id.to_string())
                .push_bind(event.event_type.clone())
                .push_bind(db_instant(event.occurred_at))
                .push_bind(event.position.tx)
                .push_bind(event.position.position)
                .push_bind(event.detail.clone());
        });
        query.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// The stored fold of one cart, if the read model has it.
pub async fn find_cart_fold(
    pool: &MySqlPool,
    cart_id: Uuid,
) -> Result<Option<CartFold>, ProjectionError> {
    let row = sqlx::query(&format!(
        "SELECT {FOLD_COLUMNS} FROM carts WHERE cart_id = ?"
    ))
    .bind(cart_id.to_string())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(fold_of_row).transpose()
}

/// One cart's view from the MySQL read model (its stored status; see [`CartView::as_of`]).
pub async fn find_cart(
    pool: &MySqlPool,
    cart_id: Uuid,
) -> Result<Option<CartView>, ProjectionError> {
    find_cart_fold(pool, cart_id)
        .await?
        .map(|fold| fold.view())
        .transpose()
}

/// Number of carts in the read model.
pub async fn count_carts(pool: &MySqlPool) -> Result<u64, sqlx::Error> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM carts")
        .fetch_one(pool)
        .await?;
    Ok(count as u64)
}
