//! What the read model says is due: `promotion_campaigns` rows whose
//! `activation_scheduled_at` has come and that are not active (index
//! `promotion_campaigns_scheduled`). The read model may lag or be halted; the aggregate decides
//! again before anything is written, so this only says where to look.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::mysql::MySqlPoolOptions;
use sqlx::MySqlPool;

/// A promotion the read model lists as scheduled for `scheduled_for`, not active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuePromotion {
    pub promotion_id: String,
    pub scheduled_for: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
}

/// The scheduler's view of `promotion_campaigns`.
#[derive(Clone)]
pub struct ScheduleReadModel {
    pool: MySqlPool,
}

type Row = (String, DateTime<Utc>, DateTime<Utc>);

fn due_promotion((promotion_id, scheduled_for, valid_until): Row) -> DuePromotion {
    DuePromotion {
        promotion_id,
        scheduled_for,
        valid_until,
    }
}

impl ScheduleReadModel {
    /// A pool that connects on first use, so a MySQL that is down at start is a failed tick,
    /// not a failed start.
    pub fn connect_lazy(url: &str) -> Result<Self, sqlx::Error> {
        let pool = MySqlPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy(url)?;
        Ok(Self { pool })
    }

    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }

    /// Due at `now` and still inside their window, earliest first.
    pub async fn due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DuePromotion>, sqlx::Error> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT promotion_id, activation_scheduled_at, valid_until FROM promotion_campaigns
             WHERE active = FALSE AND activation_scheduled_at <= ? AND valid_until > ?
             ORDER BY activation_scheduled_at, promotion_id
             LIMIT ?",
        )
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(due_promotion).collect())
    }

    /// Scheduled, never activated, and their window has ended by `now`: the activation was
    /// missed (the scheduler was not running, or the window was changed into the past).
    /// Latest-ended first.
    pub async fn lapsed(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DuePromotion>, sqlx::Error> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT promotion_id, activation_scheduled_at, valid_until FROM promotion_campaigns
             WHERE active = FALSE AND activation_scheduled_at <= ? AND valid_until <= ?
             ORDER BY valid_until DESC, promotion_id
             LIMIT ?",
        )
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(due_promotion).collect())
    }
}
