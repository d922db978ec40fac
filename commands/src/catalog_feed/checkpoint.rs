//! The feed's checkpoint: the `since` sequence it has published up to, in a `_local` document
//! of the catalog database itself (`_local/shopcore-catalog-feed-<name>`; never replicated,
//! never in `_changes`).
//!
//! It is written only after the broker acknowledged every message before it, and only over
//! the revision read at the start of the batch: a database deleted and created again in
//! between (a rebuild of the catalog read model) makes the write fail instead of carrying an
//! old sequence into the new database. A rebuild drops the checkpoint with the database, so the
//! feed starts again from `0` and publishes every document again: at-least-once; consumers
//! drop duplicates by document id and `version` / `_rev`.

use serde_json::{json, Value};
use shopcore_couch::{CouchDb, CouchError};

/// Where the feed is: `since` (`0` at the start) and the revision of the `_local` document
/// (`None`: there is none).
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub since: Value,
    pub rev: Option<String>,
}

/// Reads the checkpoint; a missing document (or database) is the start.
pub async fn read(db: &CouchDb, id: &str) -> Result<Checkpoint, CouchError> {
    Ok(match db.get_local(id).await? {
        Some(doc) if !doc["since"].is_null() => Checkpoint {
            since: doc["since"].clone(),
            rev: doc["_rev"].as_str().map(str::to_owned),
        },
        Some(doc) => Checkpoint {
            since: json!(0),
            rev: doc["_rev"].as_str().map(str::to_owned),
        },
        None => Checkpoint {
            since: json!(0),
            rev: None,
        },
    })
}

/// Moves the checkpoint from `current` to `since`.
pub async fn write(
    db: &CouchDb,
    id: &str,
    current: &Checkpoint,
    since: &Value,
) -> Result<Checkpoint, CouchError> {
    let rev = db
        .put_local_if(
            id,
            json!({ "since": since, "updatedAt": chrono::Utc::now() }),
            current.rev.as_deref(),
        )
        .await?;
    Ok(Checkpoint {
        since: since.clone(),
        rev: Some(rev),
    })
}

/// The numeric part of a sequence: pouchdb-server's are numbers, CouchDB 2+'s `<n>-<opaque>`.
pub fn seq_number(seq: &Value) -> Option<i64> {
    match seq {
        Value::Number(n) => n.as_i64(),
        Value::String(text) => text.split('-').next()?.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_of_both_servers() {
        assert_eq!(seq_number(&json!(42)), Some(42));
        assert_eq!(seq_number(&json!("42-g1AAAAB")), Some(42));
        assert_eq!(seq_number(&json!("now")), None);
        assert_eq!(seq_number(&json!(null)), None);
    }
}
