//! What the segment policy keeps in Postgres, beside the event store: its checkpoint (a row of
//! `relay_checkpoints` under its name, moved only forward and only from where this instance
//! read it), the checkouts it met with their totals in the base currency
//! (`segment_policy_checkouts`) and its view of the FX rates (`segment_policy_fx_rates`).
//!
//! Records are keyed by the policy's name and the event they come from, and written with
//! `ON CONFLICT DO NOTHING` (checkouts) or only forward in log order (rates), so writing a
//! batch again — after a crash before the checkpoint moved, or in a replay — changes nothing:
//! a checkout is counted once, converted with the rates of its first recording. A batch's
//! records are two statements in one short transaction (it holds every tail reader's horizon
//! while it is open, so nothing else happens inside it).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use shopcore_domain::money::{Currency, ExchangeRate, Money, Rate};
use shopcore_domain::pricing::FxRates;
use shopcore_event_store::tail::TailError;
use shopcore_event_store::LogPosition;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// A store failure: the tail loop retries the batch.
pub(super) fn store_failure(error: sqlx::Error) -> TailError {
    TailError::transient("store", error)
}

/// A customer checkout as the policy records it.
#[derive(Debug, Clone)]
pub struct CheckoutRecord {
    pub event_id: Uuid,
    pub customer_id: Uuid,
    pub cart_id: Uuid,
    pub order: LogPosition,
    pub checked_out_at: DateTime<Utc>,
    pub total: Money,
    /// The total in the base currency and the rates used (`EUR-USD=1.1`, comma separated), or
    /// why it could not be converted.
    pub converted: Result<(Money, String), String>,
}

/// A customer's spend over a window, as counted from the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpendSum {
    pub total_minor: i64,
    pub counted: u32,
    pub uncounted: u32,
}

/// The policy's records, under its name.
#[derive(Clone)]
pub struct SpendLedger {
    pool: PgPool,
    policy: String,
}

impl SpendLedger {
    pub fn new(pool: PgPool, policy: &str) -> Self {
        Self {
            pool,
            policy: policy.to_owned(),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn begin(&self) -> Result<Transaction<'static, Postgres>, TailError> {
        self.pool.begin().await.map_err(store_failure)
    }

    /// Records the checkouts not recorded yet, in one statement; returns the ids of the new
    /// ones.
    pub async fn record_checkouts(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        checkouts: &[CheckoutRecord],
        base_currency: Currency,
    ) -> Result<HashSet<Uuid>, TailError> {
        if checkouts.is_empty() {
            return Ok(HashSet::new());
        }
        let column =
            |f: &dyn Fn(&CheckoutRecord) -> i64| checkouts.iter().map(f).collect::<Vec<_>>();
        let converted = |c: &CheckoutRecord| c.converted.as_ref().ok().cloned();
        let new: Vec<Uuid> = sqlx::query_scalar(
            "INSERT INTO segment_policy_checkouts (policy, checkout_event_id, customer_id, cart_id,
               tx_id, position, checked_out_at, total_minor, currency, base_currency, base_minor,
               rates, uncounted_reason)
             SELECT $1, e, c, k, t, p, a, m, cur, $10, b, r, u
             FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[], $6::bigint[],
                         $7::timestamptz[], $8::bigint[], $9::text[], $11::bigint[], $12::text[],
                         $13::text[]) AS n(e, c, k, t, p, a, m, cur, b, r, u)
             ON CONFLICT (policy, checkout_event_id) DO NOTHING
             RETURNING checkout_event_id",
        )
        .bind(&self.policy)
        .bind(checkouts.iter().map(|c| c.event_id).collect::<Vec<_>>())
        .bind(checkouts.iter().map(|c| c.customer_id).collect::<Vec<_>>())
        .bind(checkouts.iter().map(|c| c.cart_id).collect::<Vec<_>>())
        .bind(column(&|c| c.order.as_i64().0))
        .bind(column(&|c| c.order.as_i64().1))
        .bind(
            checkouts
                .iter()
                .map(|c| c.checked_out_at)
                .collect::<Vec<_>>(),
        )
        .bind(column(&|c| c.total.amount()))
        .bind(
            checkouts
                .iter()
                .map(|c| c.total.currency().code().to_owned())
                .collect::<Vec<_>>(),
        )
        .bind(base_currency.code())
        .bind(
            checkouts
                .iter()
                .map(|c| converted(c).map(|(money, _)| money.amount()))
                .collect::<Vec<_>>(),
        )
        .bind(
            checkouts
                .iter()
                .map(|c| converted(c).map(|(_, rates)| rates).unwrap_or_default())
                .collect::<Vec<_>>(),
        )
        .bind(
            checkouts
                .iter()
                .map(|c| c.converted.as_ref().err().cloned())
                .collect::<Vec<_>>(),
        )
        .fetch_all(&mut **tx)
        .await
        .map_err(store_failure)?;
        Ok(new.into_iter().collect())
    }

    /// Records each pair's rate as of its place in the log, unless a later one is recorded.
    /// `changes` are in log order; only the last of a pair counts.
    pub async fn record_rates(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        changes: &[(ExchangeRate, DateTime<Utc>, LogPosition)],
    ) -> Result<(), TailError> {
        let mut last: Vec<&(ExchangeRate, DateTime<Utc>, LogPosition)> = Vec::new();
        for change in changes.iter().rev() {
            if !last
                .iter()
                .any(|(r, _, _)| (r.base, r.quote) == (change.0.base, change.0.quote))
            {
                last.push(change);
            }
        }
        if last.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO segment_policy_fx_rates (policy, base, quote, rate, changed_at, tx_id, position)
             SELECT $1, b, q, r, a, t, p
             FROM UNNEST($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::bigint[],
                         $7::bigint[]) AS n(b, q, r, a, t, p)
             ON CONFLICT (policy, base, quote) DO UPDATE
               SET rate = EXCLUDED.rate, changed_at = EXCLUDED.changed_at,
                   tx_id = EXCLUDED.tx_id, position = EXCLUDED.position
               WHERE (segment_policy_fx_rates.tx_id, segment_policy_fx_rates.position)
                   < (EXCLUDED.tx_id, EXCLUDED.position)",
        )
        .bind(&self.policy)
        .bind(last.iter().map(|(r, _, _)| r.base.code().to_owned()).collect::<Vec<_>>())
        .bind(last.iter().map(|(r, _, _)| r.quote.code().to_owned()).collect::<Vec<_>>())
        .bind(last.iter().map(|(r, _, _)| r.rate.to_string()).collect::<Vec<_>>())
        .bind(last.iter().map(|(_, at, _)| *at).collect::<Vec<_>>())
        .bind(last.iter().map(|(_, _, o)| o.as_i64().0).collect::<Vec<_>>())
        .bind(last.iter().map(|(_, _, o)| o.as_i64().1).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await
        .map_err(store_failure)?;
        Ok(())
    }

    /// The rates recorded so far, cross rates through `fx_base`.
    pub async fn rates(&self, fx_base: Option<Currency>) -> Result<FxRates, TailError> {
        let rows: Vec<(String, String, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT base, quote, rate, changed_at FROM segment_policy_fx_rates WHERE policy = $1",
        )
        .bind(&self.policy)
        .fetch_all(&self.pool)
        .await
        .map_err(store_failure)?;
        let mut rates = FxRates::new();
        rates.set_base(fx_base);
        for (base, quote, rate, changed_at) in rows {
            let corrupt = |what: &str| {
                TailError::permanent(
                    "corrupt_record",
                    format!("segment_policy_fx_rates {base}-{quote}: {what}"),
                )
            };
            let base_currency = Currency::parse(&base).map_err(|_| corrupt("bad base"))?;
            let quote_currency = Currency::parse(&quote).map_err(|_| corrupt("bad quote"))?;
            let rate = Rate::parse(&rate).map_err(|_| corrupt("bad rate"))?;
            rates.insert_at(
                ExchangeRate {
                    base: base_currency,
                    quote: quote_currency,
                    rate,
                },
                changed_at,
            );
        }
        Ok(rates)
    }

    /// The customer's checkouts up to and including `order` in the log whose `checked_out_at`
    /// is after `since`: the sum of those counted in `currency`, how many, and how many were
    /// not counted.
    pub async fn spend(
        &self,
        customer_id: Uuid,
        order: LogPosition,
        since: DateTime<Utc>,
        currency: Currency,
    ) -> Result<SpendSum, TailError> {
        let (tx_id, position) = order.as_i64();
        let (total, counted, uncounted): (i64, i64, i64) = sqlx::query_as(
            "SELECT coalesce(sum(base_minor) FILTER (WHERE counts), 0)::bigint,
                    count(*) FILTER (WHERE counts), count(*) FILTER (WHERE NOT counts)
             FROM (SELECT base_minor, base_minor IS NOT NULL AND base_currency = $6 AS counts
                   FROM segment_policy_checkouts
                   WHERE policy = $1 AND customer_id = $2 AND (tx_id, position) <= ($3, $4)
                     AND checked_out_at > $5) window_checkouts",
        )
        .bind(&self.policy)
        .bind(customer_id)
        .bind(tx_id)
        .bind(position)
        .bind(since)
        .bind(currency.code())
        .fetch_one(&self.pool)
        .await
        .map_err(store_failure)?;
        let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
        Ok(SpendSum {
            total_minor: total,
            counted: count(counted),
            uncounted: count(uncounted),
        })
    }

    /// Checkouts recorded without a base amount.
    pub async fn uncounted(&self) -> Result<i64, TailError> {
        sqlx::query_scalar(
            "SELECT count(*) FROM segment_policy_checkouts WHERE policy = $1 AND base_minor IS NULL",
        )
        .bind(&self.policy)
        .fetch_one(&self.pool)
        .await
        .map_err(store_failure)
    }

    /// The checkpoint (created at the start of the log when missing).
    pub async fn checkpoint(&self) -> Result<LogPosition, TailError> {
        sqlx::query(
            "INSERT INTO relay_checkpoints (name, tx_id, position) VALUES ($1, 0, 0)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&self.policy)
        .execute(&self.pool)
        .await
        .map_err(store_failure)?;
        let (tx, position): (i64, i64) =
            sqlx::query_as("SELECT tx_id, position FROM relay_checkpoints WHERE name = $1")
                .bind(&self.policy)
                .fetch_one(&self.pool)
                .await
                .map_err(store_failure)?;
        Ok(LogPosition::new(tx as u64, position as u64))
    }

    /// Moves the checkpoint from `from` (where this instance read it) to `to`.
    pub async fn save_checkpoint(
        &self,
        from: LogPosition,
        to: LogPosition,
    ) -> Result<(), TailError> {
        let (old_tx, old_position) = from.as_i64();
        let (tx, position) = to.as_i64();
        let moved = sqlx::query(
            "UPDATE relay_checkpoints SET tx_id = $4, position = $5, updated_at = now()
             WHERE name = $1 AND tx_id = $2 AND position = $3",
        )
        .bind(&self.policy)
        .bind(old_tx)
        .bind(old_position)
        .bind(tx)
        .bind(position)
        .execute(&self.pool)
        .await
        .map_err(store_failure)?;
        if moved.rows_affected() != 1 {
            return Err(TailError::transient(
                "store",
                "the checkpoint moved under this policy: another policy of the same name is running",
            ));
        }
        Ok(())
    }
}
