//! Removing an expired cart from the Redis cart cache, in the cache's own terms.
//!
//! The cache (`shopcore_projections::cart::redis`) keeps `{prefix}cart::{id}` per cart, writes
//! an entry only over an older version, and marks an expired cart with a tombstone
//! `{"version": N, "position": "…", "removed": "expired"}` that readers treat as "not cached"
//! and that keeps any older view from coming back. The sweep writes exactly that tombstone,
//! at the version and position of the cart's `CartExpired` — the cart's last event, since an
//! expired cart takes no more — so it agrees with what the `cart_redis` projector writes when
//! it applies the same event (the same entry; whichever comes second changes nothing), and
//! nothing the projector may still replay is newer. The tombstone lives
//! [`TOMBSTONE_LIFE`] (the cart's `expiresAt` has passed), as the projector's does.
//!
//! Usually the key is gone already (its TTL is the cart's `expiresAt`); the removal matters
//! for an entry that outlived its TTL (a lost `PEXPIREAT`, a clock ahead of Redis's), and it
//! spares readers a round trip to MySQL's lag.

use redis::aio::ConnectionManager;
use serde::Serialize;
use shopcore_event_store::LogPosition;
use shopcore_projections::cart::redis::{cart_key, Removal, TOMBSTONE_LIFE};
use uuid::Uuid;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Tombstone {
    version: u64,
    position: LogPosition,
    removed: Removal,
}

/// Replaces whatever `{prefix}cart::{id}` holds by the tombstone of the cart's `CartExpired`
/// (its event number `version`, at `position`).
pub async fn remove_expired(
    redis: &mut ConnectionManager,
    prefix: &str,
    cart_id: Uuid,
    version: u64,
    position: LogPosition,
) -> Result<(), redis::RedisError> {
    let tombstone = serde_json::to_string(&Tombstone {
        version,
        position,
        removed: Removal::Expired,
    })
    .map_err(|e| {
        redis::RedisError::from((redis::ErrorKind::TypeError, "tombstone", e.to_string()))
    })?;
    let life_ms = u64::try_from(TOMBSTONE_LIFE.as_millis()).unwrap_or(u64::MAX);
    redis::cmd("SET")
        .arg(cart_key(prefix, cart_id))
        .arg(tombstone)
        .arg("PX")
        .arg(life_ms)
        .query_async::<()>(redis)
        .await
}
