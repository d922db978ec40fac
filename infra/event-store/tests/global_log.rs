//! The global log never skips an event although appends commit in parallel: concurrent
//! appenders whose transactions commit out of position order, one transaction held open for
//! seconds, and a tailer reading at the same time, on the real Postgres server.
//!
//! Both tests fail when the reader's horizon (`tx_id < pg_snapshot_xmin(…)` in `log.rs`) is
//! removed: the tailer then passes positions whose transactions have not committed yet and
//! never comes back for them.

use std::collections::HashSet;
use std::time::Duration;

use rand::Rng as _;
use shopcore_event_store::testing::TestEventStore;
use shopcore_event_store::{GlobalLog, LogPosition, StoreOptions};
use tokio::sync::watch;

const WRITERS: usize = 8;
const APPENDS_PER_WRITER: usize = 60;

/// One append as a slow multi-statement transaction: events are inserted one by one with pauses
/// in between and before the commit, so transactions overlap and commit out of position order.
async fn slow_append(
    pool: &sqlx::PgPool,
    aggregate_id: &str,
    events: i64,
    rollback: bool,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    for sequence in 1..=events {
        insert(&mut tx, aggregate_id, sequence).await?;
        let pause = rand::rng().random_range(0..3);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    if rollback {
        tx.rollback().await?; // leaves a hole in the positions; the tailer must not care
        return Ok(());
    }
    tx.commit().await?;
    Ok(())
}

async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    aggregate_id: &str,
    sequence: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('test', $1, $2, 'Happened', '1', '{}'::jsonb, '{}'::jsonb)",
    )
    .bind(aggregate_id)
    .bind(sequence)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Tails the log in small batches until `done` turns true and the log is drained; returns what
/// it saw, in the order it saw it, checking the order never goes backwards.
fn spawn_tailer(
    log: GlobalLog,
    mut done: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<anyhow::Result<Vec<(String, u64, LogPosition)>>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut checkpoint = LogPosition::START;
        loop {
            let finished = *done.borrow_and_update();
            let batch = log.read_after(checkpoint, 7, None).await?;
            if batch.is_empty() {
                if finished && !log.held_back(checkpoint).await? {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            for event in batch {
                anyhow::ensure!(
                    event.log_position() > checkpoint,
                    "read order went backwards"
                );
                checkpoint = event.log_position();
                seen.push((event.aggregate_id, event.sequence, checkpoint));
            }
        }
        Ok(seen)
    })
}

/// Every stored event, in the log's read order.
async fn stored(pool: &sqlx::PgPool) -> anyhow::Result<Vec<(String, u64, LogPosition)>> {
    let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT aggregate_id, sequence, tx_id::text::bigint, position FROM events
         ORDER BY tx_id, position",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, sequence, tx, position)| {
            (
                id,
                sequence as u64,
                LogPosition::new(tx as u64, position as u64),
            )
        })
        .collect())
}

fn assert_seen_exactly(seen: &[(String, u64, LogPosition)], stored: &[(String, u64, LogPosition)]) {
    let missed: Vec<_> = stored.iter().filter(|e| !seen.contains(e)).collect();
    assert!(
        missed.is_empty(),
        "the tailer skipped {} of {} events, e.g. {:?}",
        missed.len(),
        stored.len(),
        missed.first()
    );
    assert_eq!(
        seen, stored,
        "the tailer must see exactly the stored events, in the log's order"
    );
    let distinct: HashSet<_> = seen
        .iter()
        .map(|(id, sequence, _)| (id, sequence))
        .collect();
    assert_eq!(distinct.len(), seen.len(), "an event was seen twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tailer_sees_every_committed_event_once_in_log_order() -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let pool = db.store.pool().clone();
    let (writers_done, done) = watch::channel(false);
    let tailer = spawn_tailer(GlobalLog::new(pool.clone()), done);

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let pool = pool.clone();
            tokio::spawn(async move {
                for append in 0..APPENDS_PER_WRITER {
                    let aggregate_id = format!("w{writer}-a{append}");
                    let events = rand::rng().random_range(1..=3);
                    let rollback = rand::rng().random_bool(0.1);
                    slow_append(&pool, &aggregate_id, events, rollback).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for writer in writers {
        writer.await??;
    }
    writers_done.send(true)?;
    let seen = tailer.await??;

    let stored = stored(&pool).await?;
    assert!(
        stored.len() > WRITERS * APPENDS_PER_WRITER / 2,
        "too few events to prove anything"
    );
    // Commits really were out of position order, or the test proves nothing.
    let positions: Vec<u64> = stored.iter().map(|(_, _, p)| p.position).collect();
    assert!(
        positions.windows(2).any(|w| w[0] > w[1]),
        "no transaction committed out of position order"
    );
    assert_seen_exactly(&seen, &stored);
    db.drop_database().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_open_for_seconds_holds_readers_back_and_is_not_skipped() -> anyhow::Result<()>
{
    let db = TestEventStore::create().await?;
    let pool = db.store.pool().clone();
    let log = GlobalLog::new(pool.clone());
    let (writers_done, done) = watch::channel(false);
    let tailer = spawn_tailer(log.clone(), done);

    // The slow transaction draws its position first…
    let mut slow = pool.begin().await?;
    insert(&mut slow, "slow", 1).await?;
    // …then others append and commit while it stays open.
    for n in 0..40 {
        let mut tx = pool.begin().await?;
        insert(&mut tx, &format!("fast-{n}"), 1).await?;
        tx.commit().await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        log.held_back(LogPosition::START).await?,
        "committed events wait behind the open transaction"
    );
    let visible = log.read_after(LogPosition::START, 1_000, None).await?;
    let settled_before_slow: Vec<_> = visible.iter().map(|e| e.aggregate_id.as_str()).collect();
    assert!(
        !settled_before_slow.contains(&"slow"),
        "an uncommitted event is never read"
    );
    // Transactions that began after the slow one are not handed out before it settles.
    assert!(
        visible.iter().all(|e| !e.aggregate_id.starts_with("fast-")),
        "readers passed a transaction that was still running: {settled_before_slow:?}"
    );
    slow.commit().await?;
    writers_done.send(true)?;
    let seen = tailer.await??;

    let stored = stored(&pool).await?;
    assert_eq!(stored.len(), 41);
    assert_eq!(
        seen.first().map(|(id, _, _)| id.as_str()),
        Some("slow"),
        "the slow transaction's event comes first in the read order"
    );
    assert_seen_exactly(&seen, &stored);
    db.drop_database().await
}

#[tokio::test]
async fn a_stalled_writer_is_cut_off_by_the_write_path_timeouts() -> anyhow::Result<()> {
    let options = StoreOptions {
        idle_in_transaction_timeout: Duration::from_millis(300),
        statement_timeout: Duration::from_millis(300),
        ..StoreOptions::default()
    };
    let db = TestEventStore::create_with(options).await?;
    let pool = db.store.pool().clone();

    // A client that stops half-way through its transaction loses it (and its locks)…
    let mut stalled = pool.begin().await?;
    insert(&mut stalled, "stalled", 1).await?;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert!(
        stalled.commit().await.is_err(),
        "the idle transaction was ended by the server"
    );
    // …and a statement that runs too long is cancelled.
    let slow = sqlx::query("SELECT pg_sleep(2)").execute(&pool).await;
    let error = slow.expect_err("statement_timeout cancels it");
    let store_error = shopcore_event_store::StoreError::from(error);
    assert!(
        store_error.is_transient(),
        "a timeout is worth a retry: {store_error}"
    );

    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await?;
    assert_eq!(count, 0, "nothing of the stalled writer was stored");
    db.drop_database().await
}

/// A transaction in *another database* of the cluster holds every reader's horizon back: the
/// head stays before events committed after it began (nothing is skipped, only delayed), and
/// `testing::settled_head` waits for them. Tests that ran projectors "up to the head" without
/// waiting stopped short of their own last events whenever a concurrent test held one open.
#[tokio::test]
async fn a_transaction_in_another_database_holds_the_head_back_until_it_ends() -> anyhow::Result<()>
{
    use sqlx::Connection as _;
    let db = TestEventStore::create().await?;
    let log = GlobalLog::new(db.store.pool().clone());
    let (first, _) = shopcore_event_store::testing::insert_raw_event(
        db.store.pool(),
        "probe",
        "a",
        1,
        "Probed",
        serde_json::json!({}),
    )
    .await?;
    // Other tests' transactions hold the horizon too: start from a settled first event.
    assert_eq!(
        shopcore_event_store::testing::settled_head(&log).await?,
        first
    );
    let other = format!(
        "{}/postgres",
        shopcore_event_store::testing::postgres_server_url()
    );
    let mut holder = sqlx::PgConnection::connect(&other).await?;
    sqlx::query("BEGIN").execute(&mut holder).await?;
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut holder)
        .await?;
    let (second, _) = shopcore_event_store::testing::insert_raw_event(
        db.store.pool(),
        "probe",
        "b",
        1,
        "Probed",
        serde_json::json!({}),
    )
    .await?;
    assert_eq!(
        log.head().await?,
        first,
        "the second event is not settled yet"
    );
    assert!(log.held_back(first).await?);
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sqlx::query("COMMIT").execute(&mut holder).await
    });
    assert_eq!(
        shopcore_event_store::testing::settled_head(&log).await?,
        second
    );
    release.await??;
    db.drop_database().await
}

/// What a reader repeats while it follows the log (a read, the held-back check, the lag, the
/// head) reads the `(tx_id, position)` index from where the reader is, never the whole table:
/// on a log of 20 000 events, the generic plan of each — the one a prepared statement settles
/// on after its fifth run — has no sequential scan of `events`. (The held-back check once was
/// `EXISTS (… WHERE (tx_id, position) > …)`, whose generic plan scans the table: every idle
/// reader read the whole log once a second.)
#[tokio::test]
async fn what_readers_repeat_reads_the_index_not_the_log() -> anyhow::Result<()> {
    use sqlx::Row as _;

    let db = TestEventStore::create().await?;
    let pool = db.store.pool();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         SELECT 'test', 'a' || (n / 10), n % 10 + 1, 'Happened', '1', '{}'::jsonb, '{}'::jsonb
         FROM generate_series(0, 19999) n",
    )
    .execute(pool)
    .await?;
    sqlx::raw_sql("ANALYZE events").execute(pool).await?;
    let mut conn = pool.acquire().await?;
    sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
        .execute(&mut *conn)
        .await?;
    for (name, sql) in shopcore_event_store::testing::tail_queries() {
        sqlx::raw_sql(&format!(
            "PREPARE probe (bigint, bigint, bigint, text[]) AS {sql}"
        ))
        .execute(&mut *conn)
        .await?;
        let plan = sqlx::raw_sql("EXPLAIN EXECUTE probe (1, 1, 100, '{test}')")
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| row.try_get::<String, _>(0))
            .collect::<Result<Vec<_>, _>>()?
            .join("\n");
        sqlx::raw_sql("DEALLOCATE probe")
            .execute(&mut *conn)
            .await?;
        assert!(plan.contains("Index"), "{name} uses no index:\n{plan}");
        assert!(
            !plan.contains("Seq Scan on events"),
            "{name} scans the whole log:\n{plan}"
        );
    }
    drop(conn);
    db.drop_database().await
}
