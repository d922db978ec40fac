//! The MySQL category tree projector (transactional) and its queries.
//!
//! The tree is one aggregate, and small (at most 5 000 categories): each batch reads the
//! projected tree and its version inside the batch's transaction, folds the batch's taxonomy
//! events onto it with the domain's own `apply`, and writes back only the rows that changed —
//! a move re-computes the `path` and `depth` of the whole subtree — then the version and the
//! checkpoint. A crash anywhere rolls the whole batch back.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate as _;
use serde::Serialize;
use shopcore_domain::catalog::taxonomy::{Category, Taxonomy, TaxonomyEvent};
use shopcore_event_store::{LogPosition, StoredEvent};
use sqlx::{MySql, MySqlPool, Row, Transaction};

use crate::error::ProjectionError;
use crate::runtime::{Delivery, Projector};
use crate::stores::{lock_checkpoint, move_checkpoint, mysql_checkpoint};

/// The aggregate type of the category tree in the event store.
pub const AGGREGATE_TYPE: &str = "taxonomy";

/// One category as the read model holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CategoryRow {
    pub key: String,
    pub name: String,
    pub parent: Option<String>,
    /// Keys from the root down to this category, joined by '/'.
    pub path: String,
    /// 1 for a root category.
    pub depth: u8,
    pub position: u32,
}

impl CategoryRow {
    fn of(tree: &Taxonomy, category: &Category) -> Self {
        let path = tree.path(&category.key);
        Self {
            key: category.key.clone(),
            name: category.name.clone(),
            parent: category.parent.clone(),
            depth: u8::try_from(path.len()).unwrap_or(u8::MAX),
            path: path.join("/"),
            position: category.position,
        }
    }
}

/// Every row the tree should have, by key.
pub fn rows_of(tree: &Taxonomy) -> BTreeMap<String, CategoryRow> {
    tree.categories
        .values()
        .map(|category| (category.key.clone(), CategoryRow::of(tree, category)))
        .collect()
}

/// Projects the category tree into `categories`.
#[derive(Clone)]
pub struct TaxonomyMysqlProjector {
    pool: MySqlPool,
}

impl TaxonomyMysqlProjector {
    pub const NAME: &'static str = "taxonomy_mysql";

    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }
}

const SELECT_CATEGORIES: &str =
    "SELECT category_key, name, parent_key, path, depth, position FROM categories";

fn category_row(row: sqlx::mysql::MySqlRow) -> Result<CategoryRow, sqlx::Error> {
    Ok(CategoryRow {
        key: row.try_get("category_key")?,
        name: row.try_get("name")?,
        parent: row.try_get("parent_key")?,
        path: row.try_get("path")?,
        depth: row.try_get("depth")?,
        position: row.try_get("position")?,
    })
}

/// The projected tree and its version, read (and locked) inside `tx`.
async fn load_tree(
    tx: &mut Transaction<'_, MySql>,
) -> Result<(u64, BTreeMap<String, CategoryRow>), ProjectionError> {
    let version: Option<u64> =
        sqlx::query_scalar("SELECT version FROM category_tree WHERE id = 1 FOR UPDATE")
            .fetch_optional(&mut **tx)
            .await?;
    let rows = sqlx::query(SELECT_CATEGORIES).fetch_all(&mut **tx).await?;
    let rows = rows
        .into_iter()
        .map(category_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((
        version.unwrap_or(0),
        rows.into_iter().map(|row| (row.key.clone(), row)).collect(),
    ))
}

fn tree_of(rows: &BTreeMap<String, CategoryRow>) -> Taxonomy {
    Taxonomy {
        categories: rows
            .values()
            .map(|row| {
                (
                    row.key.clone(),
                    Category {
                        key: row.key.clone(),
                        name: row.name.clone(),
                        parent: row.parent.clone(),
                        position: row.position,
                    },
                )
            })
            .collect(),
    }
}

#[async_trait]
impl Projector for TaxonomyMysqlProjector {
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
        let tree_events: Vec<&StoredEvent> = events
            .iter()
            .filter(|e| e.aggregate_type == AGGREGATE_TYPE)
            .collect();
        if let Some(newest) = tree_events.last() {
            let (mut version, before) = load_tree(&mut tx).await?;
            let mut tree = tree_of(&before);
            let mut changed_at: DateTime<Utc> = newest.recorded_at;
            for stored in &tree_events {
                if stored.sequence <= version {
                    continue; // applied already
                }
                if stored.sequence != version + 1 {
                    return Err(ProjectionError::OutOfStep {
                        reason: format!(
                            "the category tree is at version {version}, the event is number {}",
                            stored.sequence
                        ),
                    });
                }
                let event: TaxonomyEvent =
                    serde_json::from_value(stored.payload.clone()).map_err(|error| {
                        ProjectionError::Undecodable {
                            reason: format!("{} {}: {error}", stored.event_type, stored.sequence),
                        }
                    })?;
                tree.apply(event);
                version = stored.sequence;
                changed_at = stored.recorded_at;
            }
            let after = rows_of(&tree);
            for key in before.keys().filter(|key| !after.contains_key(*key)) {
                sqlx::query("DELETE FROM categories WHERE category_key = ?")
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
            for row in after
                .values()
                .filter(|row| before.get(&row.key) != Some(row))
            {
                sqlx::query(
                    "INSERT INTO categories
                       (category_key, name, parent_key, path, depth, position, updated_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?)
                     ON DUPLICATE KEY UPDATE name = VALUES(name), parent_key = VALUES(parent_key),
                       path = VALUES(path), depth = VALUES(depth), position = VALUES(position),
                       updated_at = VALUES(updated_at)",
                )
                .bind(&row.key)
                .bind(&row.name)
                .bind(&row.parent)
                .bind(&row.path)
                .bind(row.depth)
                .bind(row.position)
                .bind(changed_at)
                .execute(&mut *tx)
                .await?;
            }
            let at = newest.log_position();
            sqlx::query(
                "INSERT INTO category_tree (id, version, last_tx_id, last_position)
                 VALUES (1, ?, ?, ?)
                 ON DUPLICATE KEY UPDATE version = VALUES(version),
                   last_tx_id = VALUES(last_tx_id), last_position = VALUES(last_position)",
            )
            .bind(version)
            .bind(at.tx)
            .bind(at.position)
            .execute(&mut *tx)
            .await?;
        }
        move_checkpoint(&mut tx, Self::NAME, last.log_position()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reset(&self) -> Result<(), ProjectionError> {
        let tables = ["categories", "category_tree"];
        crate::stores::reset_tables(&self.pool, Self::NAME, &tables).await
    }
}

/// The whole tree from MySQL, depth first, siblings by position then key.
pub async fn category_tree(pool: &MySqlPool) -> Result<Vec<CategoryRow>, sqlx::Error> {
    let rows = sqlx::query(SELECT_CATEGORIES).fetch_all(pool).await?;
    let mut all: Vec<CategoryRow> = rows
        .into_iter()
        .map(category_row)
        .collect::<Result<_, _>>()?;
    // Depth first: siblings share the path up to their parent, so ordering each row by the
    // (position, key) of every category on its path gives the depth-first order.
    let order: BTreeMap<String, (u32, String)> = all
        .iter()
        .map(|row| (row.key.clone(), (row.position, row.key.clone())))
        .collect();
    let sort_key = |row: &CategoryRow| -> Vec<(u32, String)> {
        row.path
            .split('/')
            .map(|key| {
                order
                    .get(key)
                    .cloned()
                    .unwrap_or((u32::MAX, key.to_owned()))
            })
            .collect()
    };
    all.sort_by_cached_key(sort_key);
    Ok(all)
}

/// The categories with these keys, in one query.
pub async fn categories_by_key(
    pool: &MySqlPool,
    keys: &[String],
) -> Result<Vec<CategoryRow>, sqlx::Error> {
    categories_where(pool, "category_key", keys).await
}

/// The children of the categories `parents`, siblings by position then key.
pub async fn categories_by_parent(
    pool: &MySqlPool,
    parents: &[String],
) -> Result<Vec<CategoryRow>, sqlx::Error> {
    let mut rows = categories_where(pool, "parent_key", parents).await?;
    rows.sort_by(|a, b| (a.position, &a.key).cmp(&(b.position, &b.key)));
    Ok(rows)
}

/// The categories whose `column` is one of `values`, in one query.
async fn categories_where(
    pool: &MySqlPool,
    column: &'static str,
    values: &[String],
) -> Result<Vec<CategoryRow>, sqlx::Error> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let mut query =
        sqlx::QueryBuilder::<MySql>::new(format!("{SELECT_CATEGORIES} WHERE {column} IN ("));
    let mut list = query.separated(", ");
    for value in values {
        list.push_bind(value);
    }
    query.push(")");
    query
        .build()
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(category_row)
        .collect()
}
