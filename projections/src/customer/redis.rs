//! The Redis customer snapshot projector (idempotent by version).
//!
//! For every customer touched by a batch it folds the batch's events onto the stored snapshot
//! (read for all of them with one `MGET`) — or, when the snapshot does not end right before the
//! batch, the customer's whole history from the event store — and writes the JSON snapshot to
//! `{prefix}customer::{id}` with a Lua script that only replaces an older version, all in one
//! pipeline that ends with the checkpoint. A crash repeats the batch, and repeating it changes
//! nothing.

use std::collections::BTreeMap;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::AsyncCommands as _;
use shopcore_event_store::{GlobalLog, LogPosition, StoredEvent};
use uuid::Uuid;

use super::{CustomerView, AGGREGATE_TYPE};
use crate::error::ProjectionError;
use crate::runtime::{Delivery, Projector};

/// Replaces the snapshot only when the stored one is older. KEYS[1] = key, ARGV[1] = JSON,
/// ARGV[2] = version. Returns 1 when written.
const SET_IF_NEWER: &str = r"
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and decoded['version'] and tonumber(decoded['version']) >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
";

/// Writes `customer::{id}` snapshots to Redis.
#[derive(Clone)]
pub struct CustomerRedisProjector {
    redis: ConnectionManager,
    log: GlobalLog,
    prefix: String,
}

impl CustomerRedisProjector {
    pub const NAME: &'static str = "customer_redis";

    pub fn new(redis: ConnectionManager, log: GlobalLog, prefix: impl Into<String>) -> Self {
        Self {
            redis,
            log,
            prefix: prefix.into(),
        }
    }

    fn checkpoint_key(&self) -> String {
        format!(
            "{}shopcore:projection:{}:checkpoint",
            self.prefix,
            Self::NAME
        )
    }
}

/// The Redis key of a customer's snapshot.
pub fn customer_key(prefix: &str, id: Uuid) -> String {
    format!("{prefix}customer::{id}")
}

/// Reads a customer snapshot from Redis.
pub async fn cached_customer(
    redis: &mut ConnectionManager,
    prefix: &str,
    id: Uuid,
) -> Result<Option<CustomerView>, redis::RedisError> {
    let json: Option<String> = redis.get(customer_key(prefix, id)).await?;
    Ok(json.and_then(|json| serde_json::from_str(&json).ok()))
}

#[async_trait]
impl Projector for CustomerRedisProjector {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn delivery(&self) -> Delivery {
        Delivery::IdempotentByVersion
    }

    /// Stored as the position token; a bare number is a checkpoint of the old scheme
    /// (positions only), converted on first read.
    async fn checkpoint(&self) -> Result<LogPosition, ProjectionError> {
        let mut redis = self.redis.clone();
        let stored: Option<String> = redis.get(self.checkpoint_key()).await?;
        let Some(stored) = stored else {
            return Ok(LogPosition::START);
        };
        if let Ok(position) = stored.parse::<LogPosition>() {
            return Ok(position);
        }
        let legacy: u64 = stored
            .trim()
            .parse()
            .map_err(|_| ProjectionError::OutOfStep {
                reason: format!(
                    "checkpoint {stored:?} of {} is not a log position",
                    Self::NAME
                ),
            })?;
        let upgraded = self.log.upgrade_legacy_checkpoint(legacy).await?;
        let _: () = redis
            .set(self.checkpoint_key(), upgraded.to_string())
            .await?;
        tracing::info!(projector = Self::NAME, legacy, checkpoint = %upgraded, "checkpoint converted to a log position pair");
        Ok(upgraded)
    }

    async fn apply(
        &self,
        _checkpoint: LogPosition,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let Some(last) = events.last() else {
            return Ok(());
        };
        // The batch's events per customer, in order.
        let mut touched: BTreeMap<&str, Vec<StoredEvent>> = BTreeMap::new();
        for event in events.iter().filter(|e| e.aggregate_type == AGGREGATE_TYPE) {
            touched
                .entry(&event.aggregate_id)
                .or_default()
                .push(event.clone());
        }
        let mut redis = self.redis.clone();
        let keys: Vec<String> = touched
            .keys()
            .map(|id| format!("{}customer::{id}", self.prefix))
            .collect();
        let cached: Vec<Option<String>> = if keys.is_empty() {
            Vec::new()
        } else {
            redis::cmd("MGET")
                .arg(&keys)
                .query_async(&mut redis)
                .await?
        };
        let mut writes = redis::pipe();
        for ((id, batch), (key, cached)) in touched.iter().zip(keys.iter().zip(cached)) {
            let cached: Option<CustomerView> =
                cached.and_then(|json| serde_json::from_str(&json).ok());
            let first = batch[0].sequence;
            let newest = batch[batch.len() - 1].sequence;
            if cached.as_ref().is_some_and(|view| view.version >= newest) {
                continue; // applied already
            }
            // Fold the batch onto the snapshot when it ends right before the batch; else (a
            // snapshot lost or older) fold the customer's whole history from the event store.
            let view = match cached {
                Some(view) if view.version + 1 == first => {
                    CustomerView::fold_onto(Some(view), batch)?
                }
                None if first == 1 => CustomerView::fold_onto(None, batch)?,
                _ => {
                    let history = self
                        .log
                        .aggregate_events(AGGREGATE_TYPE, id, Some(newest))
                        .await?;
                    CustomerView::fold(&history)?
                }
            };
            let Some(view) = view else {
                continue;
            };
            let json = serde_json::to_string(&view).map_err(|e| ProjectionError::OutOfStep {
                reason: format!("customer {id} does not serialise: {e}"),
            })?;
            writes
                .cmd("EVAL")
                .arg(SET_IF_NEWER)
                .arg(1)
                .arg(key)
                .arg(json)
                .arg(view.version)
                .ignore();
        }
        // The same connection runs commands in order: the checkpoint moves after the writes.
        writes
            .cmd("SET")
            .arg(self.checkpoint_key())
            .arg(last.log_position().to_string())
            .ignore();
        let _: () = writes.query_async(&mut redis).await?;
        Ok(())
    }

    async fn reset(&self) -> Result<(), ProjectionError> {
        let mut redis = self.redis.clone();
        let pattern = format!("{}customer::*", self.prefix);
        let keys: Vec<String> = {
            let mut iter: redis::AsyncIter<String> = redis.scan_match(&pattern).await?;
            let mut keys = Vec::new();
            while let Some(key) = iter.next_item().await {
                keys.push(key?);
            }
            keys
        };
        for chunk in keys.chunks(500) {
            let _: () = redis.del(chunk).await?;
        }
        let _: () = redis
            .set(self.checkpoint_key(), LogPosition::START.to_string())
            .await?;
        Ok(())
    }
}
