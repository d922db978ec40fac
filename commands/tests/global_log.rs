//! The global log never skips an event: concurrent appenders whose transactions commit out of
//! order, and a tailer reading by position at the same time, on the real Postgres server.

use std::collections::HashSet;
use std::time::Duration;

use rand::Rng as _;
use shopcore_commands::event_log::GlobalLog;
use shopcore_commands::testing::TestEventStore;

const WRITERS: usize = 8;
const APPENDS_PER_WRITER: usize = 60;

/// One append as a slow multi-statement transaction: events are inserted one by one with pauses
/// in between and before the commit, so transactions overlap and would commit out of position
/// order if positions were handed out freely.
async fn slow_append(
    pool: &sqlx::PgPool,
    aggregate_id: &str,
    first_sequence: i64,
    events: i64,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    for sequence in first_sequence..first_sequence + events {
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             VALUES ('test', $1, $2, 'Happened', '1', '{}'::jsonb, '{}'::jsonb)",
        )
        .bind(aggregate_id)
        .bind(sequence)
        .execute(&mut *tx)
        .await?;
        let pause = rand::rng().random_range(0..3);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    if rand::rng().random_bool(0.1) {
        tx.rollback().await?; // leaves a hole in the positions; the tailer must not care
        return Ok(());
    }
    tx.commit().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tailer_sees_every_committed_event_once_in_position_order() -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let pool = db.store.pool().clone();

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut committed = Vec::new();
                for append in 0..APPENDS_PER_WRITER {
                    let aggregate_id = format!("w{writer}-a{append}");
                    let events = rand::rng().random_range(1..=3);
                    slow_append(&pool, &aggregate_id, 1, events).await?;
                    committed.push(aggregate_id);
                }
                anyhow::Ok(committed)
            })
        })
        .collect();

    let log = GlobalLog::new(pool.clone());
    let (writers_done, mut done) = tokio::sync::watch::channel(false);
    let tailer = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut checkpoint = 0;
        // Tail while the writers write; once they are done, drain what is left.
        loop {
            let finished = *done.borrow_and_update();
            let batch = log.read_after(checkpoint, 7, None).await?;
            if batch.is_empty() {
                if finished {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            for event in batch {
                assert!(event.position > checkpoint, "positions go backwards");
                checkpoint = event.position;
                seen.push((event.aggregate_id, event.sequence, event.position));
            }
        }
        anyhow::Ok(seen)
    });

    for writer in writers {
        writer.await??;
    }
    writers_done.send(true)?;
    let seen = tailer.await??;

    let stored: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT aggregate_id, sequence, position FROM events ORDER BY position")
            .fetch_all(&pool)
            .await?;
    let stored: Vec<(String, u64, u64)> = stored
        .into_iter()
        .map(|(id, sequence, position)| (id, sequence as u64, position as u64))
        .collect();
    assert!(
        stored.len() > WRITERS * APPENDS_PER_WRITER / 2,
        "too few events to prove anything"
    );
    let missed: Vec<_> = stored
        .iter()
        .filter(|event| !seen.contains(event))
        .collect();
    assert!(
        missed.is_empty(),
        "the tailer skipped {} of {} events, e.g. {:?}",
        missed.len(),
        stored.len(),
        missed.first()
    );
    assert_eq!(
        seen, stored,
        "the tailer must see exactly the stored events, in position order"
    );
    let distinct: HashSet<_> = seen
        .iter()
        .map(|(id, sequence, _)| (id, sequence))
        .collect();
    assert_eq!(distinct.len(), seen.len(), "an event was seen twice");

    db.drop_database().await
}
