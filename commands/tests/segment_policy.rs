//! The segment policy against a fresh event store database on the real Postgres. Checkouts are
//! `CartCheckedOut` events appended through the event store for aggregate type `cart` (the
//! cart service is not needed); customers and FX rates go through their command pipelines.
//!
//! Checkouts in two currencies cross the threshold and make a customer `vip` beside a segment
//! an operator gave them, a checkout older than the window does not count, and a later small
//! checkout ends it; a replay of the whole log (same name from position 0, and a new name)
//! writes nothing; the policy killed between its command and its checkpoint (the checkpoint
//! row locked, the policy's blocked update terminated) recalculates once after a restart;
//! guest checkouts are ignored; a checkout in a currency without a rate is recorded as
//! uncounted, reported, and never counted.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use shopcore_commands::grpc::customer::{customer_pipeline, customer_snapshots};
use shopcore_commands::grpc::pricing::currency_rate::currency_rate_pipeline;
use shopcore_commands::metadata::CommandContext;
use shopcore_commands::segment_policy::SegmentPolicy;
use shopcore_domain::cart::{Cart, CartEvent, CheckedOutLine};
use shopcore_domain::customer::{
    Customer, CustomerCommand, CustomerEvent, SegmentRecalculated, SpendRule, Verdict,
};
use shopcore_domain::money::{Currency, Money, Rate};
use shopcore_domain::pricing::CurrencyRateCommand;
use shopcore_event_store::testing::{settled_head, TestEventStore};
use shopcore_event_store::{AppendRequest, EventStore, GlobalLog, LogPosition, StoreOptions};
use uuid::Uuid;

const POLICY: &str = "segment-policy";

fn rule() -> SpendRule {
    SpendRule {
        segment: "vip".into(),
        threshold: Money::new(100_000, Currency::EUR),
        window_days: 365,
    }
}

fn policy(store: &EventStore, name: &str) -> SegmentPolicy {
    policy_with_batches_of(store, name, 50)
}

fn policy_with_batches_of(store: &EventStore, name: &str, batch_size: u32) -> SegmentPolicy {
    SegmentPolicy::new(store.clone(), rule(), Some(Currency::EUR), name, batch_size)
}

fn context(command_type: &'static str) -> CommandContext {
    let mut context = CommandContext::new(command_type, "segment-policy-test");
    context.actor = "test".into();
    context
}

fn days_ago(days: i64) -> DateTime<Utc> {
    Utc::now() - chrono::Duration::days(days)
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

/// Registers a customer with segments an operator assigned.
async fn customer(store: &EventStore, segments: &[&str]) -> anyhow::Result<Uuid> {
    let id = Uuid::now_v7();
    let pipeline = customer_pipeline(store.clone());
    let register = CustomerCommand::Register {
        customer_id: id,
        email: format!("{}@example.com", id.simple()),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        phone: None,
    };
    pipeline
        .execute(&id.to_string(), register, &context("customer.register"))
        .await?;
    if !segments.is_empty() {
        let assign = CustomerCommand::AssignSegments {
            segments: segments.iter().map(|s| s.to_string()).collect(),
        };
        pipeline
            .execute(
                &id.to_string(),
                assign,
                &context("customer.assign_segments"),
            )
            .await?;
    }
    Ok(id)
}

async fn set_rate(store: &EventStore, base: Currency, quote: Currency, rate: &str) {
    let command = CurrencyRateCommand::SetFxRate {
        base,
        quote,
        rate: Rate::parse(rate).expect("rate"),
        source: "test".into(),
        now: Utc::now(),
    };
    currency_rate_pipeline(store.clone())
        .execute(&format!("{base}-{quote}"), command, &context("fx.set"))
        .await
        .expect("rate set");
}

/// Appends a cart's `CartCheckedOut` and returns its event id.
async fn checkout(
    store: &EventStore,
    customer_id: Option<Uuid>,
    total: Money,
    checked_out_at: DateTime<Utc>,
) -> anyhow::Result<Uuid> {
    let cart_id = Uuid::now_v7();
    let zero = Money::zero(total.currency());
    let event = CartEvent::CartCheckedOut {
        cart_id,
        customer_id,
        lines: vec![CheckedOutLine {
            sku: "TR-42".into(),
            quantity: 1,
            unit_price: total,
            list_price: total,
            applied_rules: vec![],
            line_total: total,
            discount: zero,
            total,
        }],
        price_changes: vec![],
        coupon: None,
        subtotal: total,
        discount: zero,
        total,
        checked_out_at,
    };
    let appended = store
        .append(AppendRequest::<Cart> {
            aggregate_id: &cart_id.to_string(),
            version: 0,
            events: vec![event],
            metadata: json!({ "correlationId": format!("checkout-{cart_id}"), "actor": "test" }),
            claims: vec![],
            idempotency: None,
            linked: None,
        })
        .await?;
    let stored = GlobalLog::new(store.pool().clone())
        .event_at(appended.position)
        .await?
        .expect("the checkout is in the log");
    Ok(stored.event_id)
}

/// Steps the policy until it has handled every event in the log, its own included, and
/// returns its checkpoint (the settled head).
async fn catch_up(policy: &SegmentPolicy, store: &EventStore) -> anyhow::Result<LogPosition> {
    let log = GlobalLog::new(store.pool().clone());
    let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let step = policy
            .step()
            .await
            .map_err(|e| anyhow::anyhow!("policy step: {e}"))?;
        if step.events == 0 && !step.held_back {
            let head = settled_head(&log).await?;
            if step.checkpoint >= head {
                return Ok(step.checkpoint);
            }
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < give_up,
            "the policy stayed at {} behind the log",
            step.checkpoint
        );
    }
}

/// The customer's recalculations, in order.
async fn recalculations(
    store: &EventStore,
    customer_id: Uuid,
) -> anyhow::Result<Vec<SegmentRecalculated>> {
    let events = GlobalLog::new(store.pool().clone())
        .aggregate_events("customer", &customer_id.to_string(), None)
        .await?;
    let mut found = Vec::new();
    for event in events {
        if let CustomerEvent::CustomerSegmentRecalculated(recalculated) =
            serde_json::from_value(event.payload)?
        {
            found.push(recalculated);
        }
    }
    Ok(found)
}

async fn segments(store: &EventStore, customer_id: Uuid) -> anyhow::Result<Vec<String>> {
    let loaded = store
        .load::<Customer>(&customer_snapshots(), &customer_id.to_string())
        .await?;
    Ok(loaded.aggregate.segments.into_iter().collect())
}

async fn event_count(store: &EventStore) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(store.pool())
        .await?)
}

async fn checkpoint_of(store: &EventStore, name: &str) -> anyhow::Result<LogPosition> {
    let (tx, position): (i64, i64) =
        sqlx::query_as("SELECT tx_id, position FROM relay_checkpoints WHERE name = $1")
            .bind(name)
            .fetch_one(store.pool())
            .await?;
    Ok(LogPosition::new(tx as u64, position as u64))
}

fn owned(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkouts_in_two_currencies_make_a_customer_vip_until_a_later_checkout_falls_below(
) -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let store = db.store.clone();
    let ada = customer(&store, &["b2b"]).await?;
    // One euro is 1.1 dollars: 440.00 USD is 400.00 EUR.
    set_rate(&store, Currency::EUR, Currency::USD, "1.1").await;
    let old = checkout(&store, Some(ada), eur(45_000), days_ago(800)).await?;
    let first = checkout(&store, Some(ada), eur(60_000), days_ago(420)).await?;
    let dollars = Money::new(44_000, Currency::USD);
    let second = checkout(&store, Some(ada), dollars, days_ago(410)).await?;
    let later = checkout(&store, Some(ada), eur(1_000), days_ago(20)).await?;

    let policy = policy(&store, POLICY);
    catch_up(&policy, &store).await?;

    let found = recalculations(&store, ada).await?;
    let summary: Vec<_> = found
        .iter()
        .map(|r| {
            (
                r.checkout_event_id,
                r.spend,
                r.checkouts_counted,
                r.verdict,
                r.segments.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (old, eur(45_000), 1, Verdict::NotMember, owned(&["b2b"])),
            // The checkout 380 days before is out of the window.
            (first, eur(60_000), 1, Verdict::NotMember, owned(&["b2b"])),
            // 600.00 EUR + 440.00 USD = 1000.00 EUR: the threshold is reached.
            (
                second,
                eur(100_000),
                2,
                Verdict::Member,
                owned(&["b2b", "vip"])
            ),
            // Both are more than 365 days before: 10.00 EUR alone.
            (later, eur(1_000), 1, Verdict::NotMember, owned(&["b2b"])),
        ]
    );
    assert_eq!(found[2].added, owned(&["vip"]));
    assert_eq!(found[3].removed, owned(&["vip"]));
    assert!(found.iter().all(|r| r.rule == rule()));
    assert!(found.iter().all(|r| r.checkouts_uncounted == 0));
    assert_eq!(segments(&store, ada).await?, owned(&["b2b"]));

    // The dollar checkout's record says how it was converted.
    let (base_minor, rates): (Option<i64>, String) = sqlx::query_as(
        "SELECT base_minor, rates FROM segment_policy_checkouts
         WHERE policy = $1 AND checkout_event_id = $2",
    )
    .bind(POLICY)
    .bind(second)
    .fetch_one(store.pool())
    .await?;
    assert_eq!((base_minor, rates.as_str()), (Some(40_000), "EUR-USD=1.1"));

    // The recalculations name their cause and the policy as actor.
    let causes: Vec<(String, String)> = sqlx::query_as(
        "SELECT metadata->>'causationId', metadata->>'actor' FROM events
         WHERE aggregate_id = $1 AND event_type = 'CustomerSegmentRecalculated' ORDER BY sequence",
    )
    .bind(ada.to_string())
    .fetch_all(store.pool())
    .await?;
    assert_eq!(
        causes,
        [old, first, second, later]
            .iter()
            .map(|id| (id.to_string(), "segment-policy".to_owned()))
            .collect::<Vec<_>>()
    );
    db.drop_database().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_of_the_whole_log_writes_nothing_new() -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let store = db.store.clone();
    set_rate(&store, Currency::EUR, Currency::GBP, "0.85").await;
    let ada = customer(&store, &["newsletter"]).await?;
    let grace = customer(&store, &[]).await?;
    checkout(&store, Some(ada), eur(70_000), days_ago(30)).await?;
    checkout(
        &store,
        Some(ada),
        Money::new(34_000, Currency::GBP),
        days_ago(20),
    )
    .await?;
    checkout(&store, Some(grace), eur(5_000), days_ago(10)).await?;
    // A rate that changes after the checkouts must not change how they were counted.
    set_rate(&store, Currency::EUR, Currency::GBP, "0.5").await;
    let head = catch_up(&policy(&store, POLICY), &store).await?;
    assert_eq!(segments(&store, ada).await?, owned(&["newsletter", "vip"]));
    let events = event_count(&store).await?;
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM segment_policy_checkouts")
        .fetch_one(store.pool())
        .await?;
    assert_eq!(records, 3);

    // The same policy from position 0, as a fresh process.
    sqlx::query("UPDATE relay_checkpoints SET tx_id = 0, position = 0 WHERE name = $1")
        .bind(POLICY)
        .execute(store.pool())
        .await?;
    assert_eq!(catch_up(&policy(&store, POLICY), &store).await?, head);
    assert_eq!(
        event_count(&store).await?,
        events,
        "the replay wrote events"
    );
    let records_after: i64 = sqlx::query_scalar("SELECT count(*) FROM segment_policy_checkouts")
        .fetch_one(store.pool())
        .await?;
    assert_eq!(
        records_after, records,
        "the replay recorded checkouts again"
    );

    // A policy under a new name: its own records, the same conversions, nothing written.
    let replay = "segment-policy-replay";
    assert_eq!(catch_up(&policy(&store, replay), &store).await?, head);
    assert_eq!(
        event_count(&store).await?,
        events,
        "the new name wrote events"
    );
    let sums: Vec<(String, i64)> = sqlx::query_as(
        "SELECT policy, sum(base_minor)::bigint FROM segment_policy_checkouts
         GROUP BY policy ORDER BY policy",
    )
    .fetch_all(store.pool())
    .await?;
    // 700.00 EUR + 340.00 GBP at 0.85 (400.00 EUR) + 50.00 EUR, both times.
    assert_eq!(
        sums,
        vec![(POLICY.to_owned(), 115_000), (replay.to_owned(), 115_000)]
    );
    assert_eq!(recalculations(&store, ada).await?.len(), 2);
    assert_eq!(recalculations(&store, grace).await?.len(), 1);
    db.drop_database().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_policy_killed_between_its_command_and_its_checkpoint_recalculates_once(
) -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let store = db.store.clone();
    let ada = customer(&store, &["b2b"]).await?;
    let cause = checkout(&store, Some(ada), eur(150_000), days_ago(1)).await?;

    // The policy and the test's lock on pools whose timeouts outlast the test's wait.
    let options = StoreOptions {
        lock_timeout: Duration::from_secs(60),
        statement_timeout: Duration::from_secs(60),
        idle_in_transaction_timeout: Duration::from_secs(120),
        ..StoreOptions::default()
    };
    let holder = EventStore::connect(&db.url, &options).await?;
    let policy_store = EventStore::connect(&db.url, &options).await?;

    // Hold the checkpoint row, so the policy's checkpoint update waits after its command.
    sqlx::query("INSERT INTO relay_checkpoints (name, tx_id, position) VALUES ($1, 0, 0)")
        .bind(POLICY)
        .execute(store.pool())
        .await?;
    let mut lock = holder.pool().begin().await?;
    sqlx::query("SELECT 1 FROM relay_checkpoints WHERE name = $1 FOR UPDATE")
        .bind(POLICY)
        .execute(&mut *lock)
        .await?;

    // The policy runs as it does in production: its tail loop, in a task of its own.
    let running = Arc::new(policy(&policy_store, POLICY));
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn({
        let running = running.clone();
        async move { running.run(stopped).await }
    });
    let blocked = "SELECT pid FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND wait_event_type = 'Lock' AND query LIKE 'UPDATE relay_checkpoints%'";
    let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
    let pid: i32 = loop {
        if let Some(pid) = sqlx::query_scalar(blocked)
            .fetch_optional(store.pool())
            .await?
        {
            break pid;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < give_up,
            "the policy never reached its checkpoint update"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // The command is done; the checkpoint is not.
    assert_eq!(recalculations(&store, ada).await?.len(), 1);

    // Kill: the process is gone, and so is its connection with the update in flight.
    task.abort();
    let _ = task.await;
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(store.pool())
        .await?;
    assert!(terminated);
    lock.rollback().await?;
    drop(running);
    // Bounded: a connection the aborted task held may never be returned.
    let _ = tokio::time::timeout(Duration::from_secs(5), policy_store.pool().close()).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), holder.pool().close()).await;
    assert_eq!(checkpoint_of(&store, POLICY).await?, LogPosition::START);

    // Restarted, it handles the checkout again: the customer writes nothing the second time.
    let restarted = policy(&store, POLICY);
    let head = catch_up(&restarted, &store).await?;
    let found = recalculations(&store, ada).await?;
    assert_eq!(found.len(), 1, "recalculated twice: {found:?}");
    assert_eq!(found[0].checkout_event_id, cause);
    assert_eq!(found[0].added, owned(&["vip"]));
    assert_eq!(segments(&store, ada).await?, owned(&["b2b", "vip"]));
    assert_eq!(checkpoint_of(&store, POLICY).await?, head);
    db.drop_database().await
}

/// One checkout of the random history: who, how much, when.
struct Planned {
    customer: Option<usize>,
    total: Money,
    at: DateTime<Utc>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_at_random_points_every_checkout_is_recalculated_exactly_once() -> anyhow::Result<()>
{
    use rand::{Rng as _, SeedableRng as _};
    let seed = std::env::var("SEGMENT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random::<u64>());
    println!("SEGMENT_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let db = TestEventStore::create().await?;
    let store = db.store.clone();
    let mut customers = Vec::new();
    for n in 0..6 {
        customers.push(customer(&store, if n % 2 == 0 { &["b2b"] } else { &[] }).await?);
    }
    // The history: 40 checkouts in three currencies (one in six a guest's) over 500 days, with
    // the dollar's rate changing half-way; the expected spends are worked out beside it.
    set_rate(&store, Currency::EUR, Currency::USD, "1.1").await;
    set_rate(&store, Currency::EUR, Currency::GBP, "0.85").await;
    let mut usd = "1.1";
    let mut in_euros: Vec<(Uuid, Option<usize>, DateTime<Utc>, i64)> = Vec::new();
    for n in 0..40 {
        if n == 20 {
            usd = "1.25";
            set_rate(&store, Currency::EUR, Currency::USD, usd).await;
        }
        let planned = Planned {
            customer: (rng.random_range(0..6) != 0).then(|| rng.random_range(0..customers.len())),
            total: Money::new(
                rng.random_range(5_000..40_000),
                [Currency::EUR, Currency::USD, Currency::GBP][rng.random_range(0..3)],
            ),
            at: days_ago(rng.random_range(0..500)),
        };
        let id = checkout(
            &store,
            planned.customer.map(|c| customers[c]),
            planned.total,
            planned.at,
        )
        .await?;
        let rate = match planned.total.currency() {
            c if c == Currency::USD => Some(usd),
            c if c == Currency::GBP => Some("0.85"),
            _ => None,
        };
        let euros = match rate {
            None => planned.total,
            Some(rate) => shopcore_domain::money::ExchangeRate {
                base: Currency::EUR,
                quote: planned.total.currency(),
                rate: Rate::parse(rate).expect("rate"),
            }
            .convert(
                planned.total,
                shopcore_domain::money::RoundingMode::HalfEven,
            )?,
        };
        in_euros.push((id, planned.customer, planned.at, euros.amount()));
    }
    let head = settled_head(&GlobalLog::new(store.pool().clone())).await?;

    // Each life is a new process (nothing kept in memory, small batches), killed after a
    // random moment.
    let mut longest_life_ms = 8;
    let mut kills = 0;
    let give_up = tokio::time::Instant::now() + Duration::from_secs(180);
    let mut reached = LogPosition::START;
    while reached < head {
        anyhow::ensure!(tokio::time::Instant::now() < give_up, "stuck at {reached}");
        let life = Arc::new(policy_with_batches_of(&store, POLICY, 3));
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn({
            let life = life.clone();
            async move { life.run(stopped).await }
        });
        tokio::time::sleep(Duration::from_millis(rng.random_range(1..=longest_life_ms))).await;
        task.abort();
        let _ = task.await;
        kills += 1;
        let now = checkpoint_of(&store, POLICY)
            .await
            .unwrap_or(LogPosition::START);
        longest_life_ms = if now == reached {
            (longest_life_ms * 2).min(5_000)
        } else {
            8
        };
        reached = now;
    }
    catch_up(&policy(&store, POLICY), &store).await?;
    println!("killed {kills} times");

    // Exactly one recalculation per customer checkout, with the spend of its window.
    let mut seen = std::collections::HashMap::new();
    for (index, id) in customers.iter().enumerate() {
        for recalculated in recalculations(&store, *id).await? {
            let previous = seen.insert(recalculated.checkout_event_id, (index, recalculated));
            assert!(previous.is_none(), "a checkout recalculated twice");
        }
    }
    for (n, (id, customer, at, _)) in in_euros.iter().enumerate() {
        let Some(customer) = customer else {
            assert!(!seen.contains_key(id), "a guest checkout was recalculated");
            continue;
        };
        let (owner, recalculated) = seen
            .get(id)
            .expect("every customer checkout is recalculated");
        assert_eq!(owner, customer);
        let window_start = *at - chrono::Duration::days(365);
        let expected: i64 = in_euros[..=n]
            .iter()
            .filter(|(_, c, when, _)| c == &Some(*customer) && *when > window_start)
            .map(|(_, _, _, euros)| euros)
            .sum();
        assert_eq!(recalculated.spend, eur(expected), "checkout {n}");
        assert_eq!(
            recalculated.verdict == Verdict::Member,
            expected >= 100_000,
            "checkout {n}"
        );
    }
    // Each customer ends as their last checkout's verdict says, their own segment kept.
    for (index, id) in customers.iter().enumerate() {
        let last = in_euros
            .iter()
            .rev()
            .find(|(_, c, _, _)| *c == Some(index))
            .map(|(checkout, _, _, _)| seen[checkout].1.verdict);
        let now = segments(&store, *id).await?;
        assert_eq!(
            now.contains(&"vip".to_owned()),
            last == Some(Verdict::Member),
            "customer {index}: {now:?}"
        );
        assert_eq!(now.contains(&"b2b".to_owned()), index % 2 == 0);
    }
    db.drop_database().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_checkouts_are_ignored() -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let store = db.store.clone();
    let ada = customer(&store, &[]).await?;
    checkout(&store, None, eur(900_000), days_ago(2)).await?;
    checkout(&store, Some(ada), eur(2_000), days_ago(1)).await?;
    checkout(&store, None, eur(500_000), days_ago(1)).await?;
    let events = event_count(&store).await?;
    let head = catch_up(&policy(&store, POLICY), &store).await?;
    assert_eq!(checkpoint_of(&store, POLICY).await?, head);
    // One recalculation (Ada's), nothing recorded for the guests.
    assert_eq!(event_count(&store).await?, events + 1);
    let found = recalculations(&store, ada).await?;
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].spend, found[0].checkouts_counted),
        (eur(2_000), 1)
    );
    let records: Vec<Uuid> = sqlx::query_scalar("SELECT customer_id FROM segment_policy_checkouts")
        .fetch_all(store.pool())
        .await?;
    assert_eq!(records, vec![ada]);
    db.drop_database().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_in_a_currency_without_a_rate_is_reported_and_never_counted(
) -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let store = db.store.clone();
    let ada = customer(&store, &[]).await?;
    let uncounted_before = uncounted_metric("CHF");
    checkout(&store, Some(ada), eur(120_000), days_ago(400)).await?;
    // No EUR-CHF rate: 5000.00 CHF cannot be counted.
    let francs = checkout(
        &store,
        Some(ada),
        Money::new(500_000, Currency::CHF),
        days_ago(30),
    )
    .await?;
    catch_up(&policy(&store, POLICY), &store).await?;

    let found = recalculations(&store, ada).await?;
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].verdict, Verdict::Member);
    // The euros are out of the window; the francs are not counted: below, but incomplete, so
    // the segment stays.
    assert_eq!(found[1].checkout_event_id, francs);
    assert_eq!(
        (
            found[1].spend,
            found[1].checkouts_counted,
            found[1].checkouts_uncounted,
            found[1].verdict
        ),
        (eur(0), 0, 1, Verdict::Undecided)
    );
    assert_eq!(segments(&store, ada).await?, owned(&["vip"]));
    let (base_minor, reason): (Option<i64>, Option<String>) = sqlx::query_as(
        "SELECT base_minor, uncounted_reason FROM segment_policy_checkouts
         WHERE checkout_event_id = $1",
    )
    .bind(francs)
    .fetch_one(store.pool())
    .await?;
    assert_eq!(base_minor, None);
    assert_eq!(reason.as_deref(), Some("no exchange rate from CHF to EUR"));
    assert_eq!(uncounted_metric("CHF"), uncounted_before + 1);

    // A rate set afterwards does not count the old checkout after the fact.
    set_rate(&store, Currency::EUR, Currency::CHF, "0.95").await;
    checkout(&store, Some(ada), eur(1_000), days_ago(1)).await?;
    catch_up(&policy(&store, POLICY), &store).await?;
    let last = recalculations(&store, ada).await?.pop().expect("a third");
    assert_eq!(
        (last.spend, last.checkouts_counted, last.checkouts_uncounted),
        (eur(1_000), 1, 1)
    );
    assert_eq!(uncounted_metric("CHF"), uncounted_before + 1);
    db.drop_database().await
}

/// `shopcore_segment_policy_uncounted_checkouts_total{currency}` in this process.
fn uncounted_metric(currency: &str) -> u64 {
    let series =
        format!("shopcore_segment_policy_uncounted_checkouts_total{{currency=\"{currency}\"}} ");
    shopcore_telemetry::metrics_text()
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |value| value.trim().parse::<f64>().unwrap_or(0.0) as u64)
}
