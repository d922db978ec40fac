//! The Redis cart cache projector (idempotent by version).
//!
//! For every cart touched by a batch it folds the batch's events onto the cached view (read for
//! all of them with one `MGET`, turned back into a fold with [`CartFold::from_view`]) — or, when
//! the cached entry does not end right before the batch, onto the cart's whole history from
//! the event store — and writes `{prefix}cart::{id}` with a Lua script that only replaces an
//! older version, all in one pipeline that ends with the checkpoint. A crash repeats the batch,
//! and repeating it changes nothing.
//!
//! **TTL.** The key expires at the cart's `expiresAt` (`PEXPIREAT` in the same script), so a
//! write that slides the expiry slides the TTL, and a checked-out cart stays cached until then.
//! A view whose `expiresAt` has already passed is not written (and an older entry is deleted).
//!
//! **Tombstones.** An expired or merged cart's view is replaced by a tombstone
//! `{"version": N, "position": "…", "removed": "expired" | "merged"}`, which readers treat as
//! "not cached". It keeps the version, so a replayed older event (a crash before the
//! checkpoint moved, a second instance, a rebuild run beside the live process) can never bring
//! the cart back; it lives until the cart's `expiresAt` and at least [`TOMBSTONE_LIFE`] longer
//! than the moment it was written. Once it is gone, an older event cannot resurrect the cart
//! either: every older view expires no later than the newest one, and the script refuses views
//! that have expired.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::AsyncCommands as _;
use serde::{Deserialize, Serialize};
use shopcore_event_store::{GlobalLog, LogPosition, StoredEvent};
use uuid::Uuid;

use super::{CartFold, CartView, AGGREGATE_TYPE};
use crate::error::ProjectionError;
use crate::runtime::{Delivery, Projector};
use shopcore_domain::cart::CartStatus;

/// How long a tombstone outlives the moment it was written, at least.
pub const TOMBSTONE_LIFE: Duration = Duration::from_secs(24 * 60 * 60);

/// The latest expiry the script is given (9999-12-31T23:59:59.999Z, in Unix milliseconds): the
/// domain lets `expiresAt` saturate far beyond it.
const LATEST_EXPIRY_MS: i64 = 253_402_300_799_999;

/// Writes the entry only over an older version, with its expiry. KEYS[1] = key, ARGV[1] =
/// entry, ARGV[2] = version, ARGV[3] = expiry (Unix ms), ARGV[4] = least life from now (ms).
/// Returns 1 when written.
const SET_IF_NEWER: &str = r"
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and tonumber(decoded['version'])
      and tonumber(decoded['version']) >= tonumber(ARGV[2]) then
    return 0
  end
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local at = math.max(tonumber(ARGV[3]), now + tonumber(ARGV[4]))
if at <= now then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], at)
return 1
";

/// Why a cart's cache entry is a tombstone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Removal {
    Expired,
    Merged,
}

/// What a cart's key holds.
#[derive(Debug, Clone, PartialEq)]
pub enum CachedCart {
    View(Box<CartView>),
    /// The cart expired or was merged at `version`.
    Tombstone {
        version: u64,
        position: LogPosition,
        removed: Removal,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tombstone {
    version: u64,
    position: LogPosition,
    removed: Removal,
}

impl CachedCart {
    /// Reads an entry; `None` for one that is neither a view nor a tombstone.
    pub fn parse(json: &str) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(json).ok()?;
        if value.get("removed").is_some() {
            let Tombstone {
                version,
                position,
                removed,
            } = serde_json::from_value(value).ok()?;
            return Some(Self::Tombstone {
                version,
                position,
                removed,
            });
        }
        serde_json::from_value(value)
            .ok()
            .map(|view| Self::View(Box::new(view)))
    }

    pub fn version(&self) -> u64 {
        match self {
            Self::View(view) => view.version,
            Self::Tombstone { version, .. } => *version,
        }
    }
}

/// Writes `{prefix}cart::{id}` entries to Redis.
#[derive(Clone)]
pub struct CartRedisProjector {
    redis: ConnectionManager,
    log: GlobalLog,
    prefix: String,
}

impl CartRedisProjector {
    pub const NAME: &'static str = "cart_redis";

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

    /// The fold of one cart after `batch` (its events in this batch, in order).
    async fn fold(
        &self,
        id: &str,
        cached: Option<CachedCart>,
        batch: &[StoredEvent],
    ) -> Result<Option<CartFold>, ProjectionError> {
        let first = batch[0].sequence;
        let newest = batch[batch.len() - 1].sequence;
        let onto = match &cached {
            Some(CachedCart::View(view)) if view.version + 1 == first => {
                CartFold::from_view(view).ok().map(Some)
            }
            None if first == 1 => Some(None),
            _ => None,
        };
        match onto {
            Some(onto) => CartFold::fold_onto(onto, batch),
            // A lost, older or unreadable entry (or a tombstone followed by more events):
            // the cart's whole history from the event store.
            None => {
                let history = self
                    .log
                    .aggregate_events(AGGREGATE_TYPE, id, Some(newest))
                    .await?;
                CartFold::fold(&history)
            }
        }
    }
}

/// The Redis key of a cart's cache entry.
pub fn cart_key(prefix: &str, id: Uuid) -> String {
    format!("{prefix}cart::{id}")
}

/// What a cart's key holds, if anything readable.
pub async fn cached_entry(
    redis: &mut ConnectionManager,
    prefix: &str,
    id: Uuid,
) -> Result<Option<CachedCart>, redis::RedisError> {
    let json: Option<String> = redis.get(cart_key(prefix, id)).await?;
    Ok(json.as_deref().and_then(CachedCart::parse))
}

/// A cart's cached view (its stored status; see [`CartView::as_of`]); `None` when not cached
/// or removed.
pub async fn cached_cart(
    redis: &mut ConnectionManager,
    prefix: &str,
    id: Uuid,
) -> Result<Option<CartView>, redis::RedisError> {
    Ok(match cached_entry(redis, prefix, id).await? {
        Some(CachedCart::View(view)) => Some(*view),
        _ => None,
    })
}

/// The entry to write for a fold: its view, or a tombstone; and the least life it gets.
fn entry(fold: &CartFold) -> Result<(String, u64), ProjectionError> {
    let removed = match fold.cart.status {
        CartStatus::Expired => Some(Removal::Expired),
        CartStatus::Merged => Some(Removal::Merged),
        CartStatus::Open | CartStatus::CheckedOut => None,
    };
    let json = match removed {
        Some(removed) => serde_json::to_string(&Tombstone {
            version: fold.version,
            position: fold.position,
            removed,
        }),
        None => serde_json::to_string(&fold.view()?),
    }
    .map_err(|e| ProjectionError::OutOfStep {
        reason: format!("cart {} does not serialise: {e}", fold.cart_id),
    })?;
    let life = if removed.is_some() {
        TOMBSTONE_LIFE.as_millis() as u64
    } else {
        0
    };
    Ok((json, life))
}

/// Adds the set-if-newer write of a fold's entry (its view or tombstone, with its expiry) to
/// `pipe`; the command answers 1 when it wrote.
fn push_entry<'a>(
    pipe: &'a mut redis::Pipeline,
    key: &str,
    fold: &CartFold,
) -> Result<&'a mut redis::Pipeline, ProjectionError> {
    let (json, life) = entry(fold)?;
    let expires_at = fold
        .cart
        .expires_at
        .map_or(LATEST_EXPIRY_MS, |at| at.timestamp_millis())
        .min(LATEST_EXPIRY_MS);
    Ok(pipe
        .cmd("EVAL")
        .arg(SET_IF_NEWER)
        .arg(1)
        .arg(key)
        .arg(json)
        .arg(fold.version)
        .arg(expires_at)
        .arg(life))
}

/// Writes a fold's entry as the projector does — its view, or a tombstone once the cart is
/// expired or merged; only over an older version; expiring with the cart — for writers
/// beside the projector (the expiry sweep). Returns whether it wrote.
pub async fn store_entry(
    redis: &mut ConnectionManager,
    prefix: &str,
    fold: &CartFold,
) -> Result<bool, ProjectionError> {
    let mut pipe = redis::pipe();
    push_entry(&mut pipe, &cart_key(prefix, fold.cart_id), fold)?;
    let (written,): (i64,) = pipe.query_async(redis).await?;
    Ok(written == 1)
}

#[async_trait]
impl Projector for CartRedisProjector {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn delivery(&self) -> Delivery {
        Delivery::IdempotentByVersion
    }

    async fn checkpoint(&self) -> Result<LogPosition, ProjectionError> {
        let mut redis = self.redis.clone();
        let stored: Option<String> = redis.get(self.checkpoint_key()).await?;
        let Some(stored) = stored else {
            return Ok(LogPosition::START);
        };
        stored.parse().map_err(|_| ProjectionError::OutOfStep {
            reason: format!(
                "checkpoint {stored:?} of {} is not a log position",
                Self::NAME
            ),
        })
    }

    async fn apply(
        &self,
        _checkpoint: LogPosition,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let Some(last) = events.last() else {
            return Ok(());
        };
        // The batch's events per cart, in order.
        let mut touched: BTreeMap<Uuid, (&str, Vec<StoredEvent>)> = BTreeMap::new();
        for event in events.iter().filter(|e| e.aggregate_type == AGGREGATE_TYPE) {
            let id = super::cart_id_of(event)?;
            touched
                .entry(id)
                .or_insert_with(|| (event.aggregate_id.as_str(), Vec::new()))
                .1
                .push(event.clone());
        }
        let mut redis = self.redis.clone();
        let keys: Vec<String> = touched
            .keys()
            .map(|id| cart_key(&self.prefix, *id))
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
        for ((id, (stream, batch)), (key, cached)) in touched.iter().zip(keys.iter().zip(cached)) {
            let cached = cached.as_deref().and_then(CachedCart::parse);
            let newest = batch[batch.len() - 1].sequence;
            if cached.as_ref().is_some_and(|c| c.version() >= newest) {
                continue; // applied already
            }
            let Some(fold) = self.fold(stream, cached, batch).await? else {
                continue;
            };
            tracing::trace!(cart_id = %id, version = fold.version, "caching cart");
            push_entry(&mut writes, key, &fold)?.ignore();
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
        let pattern = format!("{}cart::*", self.prefix);
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
