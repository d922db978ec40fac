//! The pricing read models in MySQL — `price_books` with `price_book_prices`, `price_rules`
//! with `price_rule_targets`, `promotion_campaigns` with `promotion_coupon_codes`, and
//! `currency_rates` — kept by one transactional projector, `pricing_mysql`. A promotion's
//! `activation_scheduled_at` is what the promotion scheduler reads to find due activations.
//!
//! Each batch runs in one MySQL transaction: lock the checkpoint row and check it, lock the
//! versions of the batch's aggregates (`pricing_versions`), apply each event's rows
//! ([`rows`]), move the checkpoint. Every event must move its aggregate's version by exactly
//! one: one at or below the version was applied already and changes nothing; a gap halts the
//! projector rather than corrupt the read model. Events carry what their rows need (a changed
//! rule its whole definition, a changed promotion all its fields), so no earlier state is read.

pub mod read_model;
mod rows;

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use shopcore_event_store::{LogPosition, StoredEvent};
use sqlx::{MySql, MySqlPool, QueryBuilder, Transaction};

use crate::error::ProjectionError;
use crate::runtime::{Delivery, Projector};
use crate::stores::{lock_checkpoint, move_checkpoint, mysql_checkpoint, reset_tables};

/// The aggregate types this projector reads, as the event store names them.
pub const AGGREGATE_TYPES: [&str; 4] = ["price_book", "price_rule", "promotion", "currency_rate"];

/// Projects the four pricing aggregates into their MySQL tables.
#[derive(Clone)]
pub struct PricingMysqlProjector {
    pool: MySqlPool,
}

impl PricingMysqlProjector {
    pub const NAME: &'static str = "pricing_mysql";

    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }
}

type VersionKey = (String, String);

/// The versions of the aggregates `events` belong to, locked for the transaction.
async fn lock_versions(
    tx: &mut Transaction<'_, MySql>,
    events: &[&StoredEvent],
) -> Result<HashMap<VersionKey, u64>, ProjectionError> {
    let keys: BTreeSet<(&str, &str)> = events
        .iter()
        .map(|e| (e.aggregate_type.as_str(), e.aggregate_id.as_str()))
        .collect();
    let keys: Vec<_> = keys.into_iter().collect();
    let mut versions = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(500) {
        let mut query = QueryBuilder::<MySql>::new(
            // A `_bin` column reads as bytes through sqlx; the cast makes it text again.
            "SELECT aggregate_type, CAST(aggregate_id AS CHAR CHARACTER SET utf8mb4), version
             FROM pricing_versions WHERE (aggregate_type, aggregate_id) IN (",
        );
        let mut list = query.separated(", ");
        for (kind, id) in chunk {
            list.push("(")
                .push_bind_unseparated(*kind)
                .push_unseparated(", ")
                .push_bind_unseparated(*id)
                .push_unseparated(")");
        }
        query.push(") FOR UPDATE");
        let rows: Vec<(String, String, u64)> = query.build_query_as().fetch_all(&mut **tx).await?;
        versions.extend(rows.into_iter().map(|(kind, id, v)| ((kind, id), v)));
    }
    Ok(versions)
}

async fn save_versions(
    tx: &mut Transaction<'_, MySql>,
    changed: &HashMap<VersionKey, (u64, LogPosition)>,
) -> Result<(), ProjectionError> {
    let changed: Vec<_> = changed.iter().collect();
    for chunk in changed.chunks(200) {
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO pricing_versions
               (aggregate_type, aggregate_id, version, last_tx_id, last_position) ",
        );
        query.push_values(chunk, |mut row, ((kind, id), (version, at))| {
            row.push_bind(kind)
                .push_bind(id)
                .push_bind(*version)
                .push_bind(at.tx)
                .push_bind(at.position);
        });
        query.push(
            " ON DUPLICATE KEY UPDATE version = VALUES(version),
               last_tx_id = VALUES(last_tx_id), last_position = VALUES(last_position)",
        );
        query.build().execute(&mut **tx).await?;
    }
    Ok(())
}

#[async_trait]
impl Projector for PricingMysqlProjector {
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
            .filter(|e| AGGREGATE_TYPES.contains(&e.aggregate_type.as_str()))
            .collect();
        let mut versions = lock_versions(&mut tx, &ours).await?;
        let mut changed = HashMap::new();
        for stored in ours {
            let key = (stored.aggregate_type.clone(), stored.aggregate_id.clone());
            let current = versions.get(&key).copied().unwrap_or(0);
            if stored.sequence <= current {
                continue;
            }
            if stored.sequence != current + 1 {
                return Err(ProjectionError::OutOfStep {
                    reason: format!(
                        "{} {} is at version {current}, the event is number {}",
                        stored.aggregate_type, stored.aggregate_id, stored.sequence
                    ),
                });
            }
            rows::apply(&mut tx, stored).await?;
            versions.insert(key.clone(), stored.sequence);
            changed.insert(key, (stored.sequence, stored.log_position()));
        }
        save_versions(&mut tx, &changed).await?;
        move_checkpoint(&mut tx, Self::NAME, last.log_position()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reset(&self) -> Result<(), ProjectionError> {
        let tables = [
            "pricing_versions",
            "price_books",
            "price_book_prices",
            "price_rules",
            "price_rule_targets",
            "promotion_campaigns",
            "promotion_coupon_codes",
            "currency_rates",
        ];
        reset_tables(&self.pool, Self::NAME, &tables).await
    }
}
