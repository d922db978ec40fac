//! The MySQL customer projector (transactional) and its queries.
//!
//! Each batch runs in one MySQL transaction that first locks the projector's checkpoint row and
//! checks it still holds the position the batch was read after, then applies the rows, then moves
//! the checkpoint. A crash anywhere rolls the whole batch back.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use shopcore_domain::customer::{CustomerEvent, SegmentRecalculated};
use shopcore_event_store::{GlobalLog, LogPosition, StoredEvent};
use sqlx::{MySql, MySqlPool, QueryBuilder, Row, Transaction};
use uuid::Uuid;

use super::{decode, AddressView, CustomerView, AGGREGATE_TYPE};
use crate::error::ProjectionError;
use crate::runtime::{Delivery, Projector};
pub use crate::stores::mysql_checkpoint;
use crate::stores::{checkpoint_row, lock_checkpoint, move_checkpoint};

/// Projects customers into `customer_profiles`, `customer_addresses`, `customer_segments`.
#[derive(Clone)]
pub struct CustomerMysqlProjector {
    pool: MySqlPool,
    log: GlobalLog,
}

impl CustomerMysqlProjector {
    pub const NAME: &'static str = "customer_mysql";

    pub fn new(pool: MySqlPool, log: GlobalLog) -> Self {
        Self { pool, log }
    }
}

#[async_trait]
impl Projector for CustomerMysqlProjector {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn delivery(&self) -> Delivery {
        Delivery::Transactional
    }

    async fn checkpoint(&self) -> Result<LogPosition, ProjectionError> {
        match checkpoint_row(&self.pool, Self::NAME).await? {
            None => Ok(LogPosition::START),
            Some((Some(tx), position)) => Ok(LogPosition::new(tx, position)),
            Some((None, legacy)) => {
                let upgraded = self.log.upgrade_legacy_checkpoint(legacy).await?;
                sqlx::query(
                    "UPDATE projection_checkpoints SET tx_id = ?, position = ?
                     WHERE name = ? AND tx_id IS NULL AND position = ?",
                )
                .bind(upgraded.tx)
                .bind(upgraded.position)
                .bind(Self::NAME)
                .bind(legacy)
                .execute(&self.pool)
                .await?;
                tracing::info!(projector = Self::NAME, legacy, checkpoint = %upgraded, "checkpoint converted to a log position pair");
                Ok(upgraded)
            }
        }
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
        let customer_events: Vec<&StoredEvent> = events
            .iter()
            .filter(|e| e.aggregate_type == AGGREGATE_TYPE)
            .collect();
        // Every event moves the version by exactly one, from the version before it. An event
        // at or below the row's version was applied already (a checkpoint converted from the
        // old scheme may hand some over again) and changes nothing; a gap stops the projector
        // instead of corrupting the read model.
        let mut versions = lock_versions(&mut tx, &customer_events).await?;
        let mut registrations = Vec::new();
        let mut changes = Vec::new();
        for stored in customer_events {
            let current = versions.get(stored.aggregate_id.as_str()).copied();
            match current {
                Some(version) if version >= stored.sequence => continue,
                Some(version) if version + 1 == stored.sequence => changes.push(stored),
                None if stored.sequence == 1 => registrations.push(stored),
                _ => {
                    return Err(ProjectionError::OutOfStep {
                        reason: format!(
                            "customer {} is at version {}, the event is number {}",
                            stored.aggregate_id,
                            current.unwrap_or(0),
                            stored.sequence
                        ),
                    })
                }
            }
            versions.insert(stored.aggregate_id.clone(), stored.sequence);
        }
        // A registration is its customer's first event, so inserting the batch's registrations
        // before its other events keeps every customer's order.
        insert_registrations(&mut tx, &registrations).await?;
        for stored in changes {
            apply_change(&mut tx, stored).await?;
        }
        move_checkpoint(&mut tx, Self::NAME, last.log_position()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reset(&self) -> Result<(), ProjectionError> {
        let tables = [
            "customer_segments",
            "customer_addresses",
            "customer_profiles",
        ];
        crate::stores::reset_tables(&self.pool, Self::NAME, &tables).await
    }
}

/// The current versions of the batch's customers, their rows locked until the batch commits.
async fn lock_versions(
    tx: &mut Transaction<'_, MySql>,
    events: &[&StoredEvent],
) -> Result<HashMap<String, u64>, ProjectionError> {
    let ids: BTreeSet<&str> = events.iter().map(|e| e.aggregate_id.as_str()).collect();
    let ids: Vec<&str> = ids.into_iter().collect();
    let mut versions = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut query =
            QueryBuilder::<MySql>::new("SELECT id, version FROM customer_profiles WHERE id IN (");
        let mut list = query.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        query.push(") FOR UPDATE");
        let rows: Vec<(String, u64)> = query.build_query_as().fetch_all(&mut **tx).await?;
        versions.extend(rows);
    }
    Ok(versions)
}

/// New customers, in multi-row inserts.
async fn insert_registrations(
    tx: &mut Transaction<'_, MySql>,
    events: &[&StoredEvent],
) -> Result<(), ProjectionError> {
    for chunk in events.chunks(200) {
        let mut rows = Vec::with_capacity(chunk.len());
        for stored in chunk {
            let CustomerEvent::CustomerRegistered {
                email,
                first_name,
                last_name,
                phone,
                ..
            } = decode(stored)?
            else {
                return Err(ProjectionError::OutOfStep {
                    reason: format!(
                        "customer {}: first event {} is a {}, not a registration",
                        stored.aggregate_id, stored.event_id, stored.event_type
                    ),
                });
            };
            rows.push((stored, email, first_name, last_name, phone));
        }
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO customer_profiles (id, email, first_name, last_name, phone, version,
               last_tx_id, last_position, created_at, updated_at) ",
        );
        query.push_values(rows, |mut row, (stored, email, first, last, phone)| {
            let at = stored.recorded_at.naive_utc();
            row.push_bind(stored.aggregate_id.as_str())
                .push_bind(email)
                .push_bind(first)
                .push_bind(last)
                .push_bind(phone)
                .push_bind(stored.sequence)
                .push_bind(stored.tx_id)
                .push_bind(stored.position)
                .push_bind(at)
                .push_bind(at);
        });
        query.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// An event after the registration: its rows, then the customer's version and position.
async fn apply_change(
    tx: &mut Transaction<'_, MySql>,
    stored: &StoredEvent,
) -> Result<(), ProjectionError> {
    let id = stored.aggregate_id.as_str();
    let at = stored.recorded_at.naive_utc();
    match decode(stored)? {
        CustomerEvent::CustomerRegistered { .. } => {
            return Err(ProjectionError::OutOfStep {
                reason: format!(
                    "customer {id}: registered again by event {}",
                    stored.event_id
                ),
            })
        }
        CustomerEvent::CustomerProfileUpdated(changed) => {
            sqlx::query(
                "UPDATE customer_profiles SET email = COALESCE(?, email),
                   first_name = COALESCE(?, first_name), last_name = COALESCE(?, last_name),
                   phone = IF(?, ?, phone)
                 WHERE id = ?",
            )
            .bind(changed.email)
            .bind(changed.first_name)
            .bind(changed.last_name)
            .bind(changed.phone.is_some())
            .bind(changed.phone.flatten())
            .bind(id)
            .execute(&mut **tx)
            .await?;
        }
        CustomerEvent::CustomerAddressAdded {
            address_id,
            address,
        }
        | CustomerEvent::CustomerAddressUpdated {
            address_id,
            address,
        } => {
            sqlx::query(
                "INSERT INTO customer_addresses
                   (customer_id, address_id, label, line1, line2, city, region, postal_code, country)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON DUPLICATE KEY UPDATE label = VALUES(label), line1 = VALUES(line1),
                   line2 = VALUES(line2), city = VALUES(city), region = VALUES(region),
                   postal_code = VALUES(postal_code), country = VALUES(country)",
            )
            .bind(id)
            .bind(address_id.to_string())
            .bind(address.label)
            .bind(address.line1)
            .bind(address.line2)
            .bind(address.city)
            .bind(address.region)
            .bind(address.postal_code)
            .bind(address.country)
            .execute(&mut **tx)
            .await?;
        }
        CustomerEvent::CustomerAddressRemoved { address_id } => {
            sqlx::query("DELETE FROM customer_addresses WHERE customer_id = ? AND address_id = ?")
                .bind(id)
                .bind(address_id.to_string())
                .execute(&mut **tx)
                .await?;
        }
        CustomerEvent::CustomerSegmentsAssigned { segments, .. }
        | CustomerEvent::CustomerSegmentRecalculated(SegmentRecalculated { segments, .. }) => {
            sqlx::query("DELETE FROM customer_segments WHERE customer_id = ?")
                .bind(id)
                .execute(&mut **tx)
                .await?;
            for segment in segments {
                sqlx::query("INSERT INTO customer_segments (customer_id, segment) VALUES (?, ?)")
                    .bind(id)
                    .bind(segment)
                    .execute(&mut **tx)
                    .await?;
            }
        }
    }
    sqlx::query(
        "UPDATE customer_profiles SET version = ?, last_tx_id = ?, last_position = ?, updated_at = ?
         WHERE id = ?",
    )
    .bind(stored.sequence)
    .bind(stored.tx_id)
    .bind(stored.position)
    .bind(at)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Reads one customer from the MySQL read model.
pub async fn find_customer(
    pool: &MySqlPool,
    id: Uuid,
) -> Result<Option<CustomerView>, sqlx::Error> {
    let id_text = id.to_string();
    let Some(profile) = sqlx::query(
        "SELECT email, first_name, last_name, phone, version, last_tx_id, last_position, created_at, updated_at
         FROM customer_profiles WHERE id = ?",
    )
    .bind(&id_text)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let addresses = sqlx::query(
        "SELECT address_id, label, line1, line2, city, region, postal_code, country
         FROM customer_addresses WHERE customer_id = ? ORDER BY address_id",
    )
    .bind(&id_text)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|row| {
        Ok(AddressView {
            id: Uuid::parse_str(row.try_get::<&str, _>("address_id")?)
                .map_err(|e| sqlx::Error::Decode(e.into()))?,
            label: row.try_get("label")?,
            line1: row.try_get("line1")?,
            line2: row.try_get("line2")?,
            city: row.try_get("city")?,
            region: row.try_get("region")?,
            postal_code: row.try_get("postal_code")?,
            country: row.try_get("country")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    // The column compares bytes (utf8mb4_bin, as the domain compares segments), which sqlx
    // reports as binary: read the bytes and check they are UTF-8.
    let mut segments = sqlx::query_scalar::<_, Vec<u8>>(
        "SELECT segment FROM customer_segments WHERE customer_id = ?",
    )
    .bind(&id_text)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|bytes| String::from_utf8(bytes).map_err(|e| sqlx::Error::Decode(e.into())))
    .collect::<Result<Vec<_>, _>>()?;
    // Byte order, as in the Redis snapshot.
    segments.sort();
    let utc = |naive: chrono::NaiveDateTime| DateTime::<Utc>::from_naive_utc_and_offset(naive, Utc);
    Ok(Some(CustomerView {
        id,
        email: profile.try_get("email")?,
        first_name: profile.try_get("first_name")?,
        last_name: profile.try_get("last_name")?,
        phone: profile.try_get("phone")?,
        addresses,
        segments,
        version: profile.try_get("version")?,
        position: LogPosition::new(
            profile.try_get("last_tx_id")?,
            profile.try_get("last_position")?,
        ),
        created_at: Some(utc(profile.try_get("created_at")?)),
        updated_at: Some(utc(profile.try_get("updated_at")?)),
    }))
}

/// Number of customers in the read model.
pub async fn count_customers(pool: &MySqlPool) -> Result<u64, sqlx::Error> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customer_profiles")
        .fetch_one(pool)
        .await?;
    Ok(count as u64)
}
