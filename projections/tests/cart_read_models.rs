//! The cart read models against real Postgres, MariaDB and Redis: carts written through the
//! domain and the event store, projected into MySQL (`carts`, `cart_items`, `cart_events`) and
//! the Redis cache by projectors killed at random points, must equal a fold of their events
//! with the aggregate's own totals; a rebuild writes the same rows; replays never move Redis
//! backwards; the TTL is the cart's expiry; the read API falls back to MySQL and applies the
//! domain's expiry rule; poison events halt both projectors; a Redis outage loses nothing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use shopcore_domain::cart::{session_token_hash, CartCommand, CartEvent, CartSettings, CartStatus};
use shopcore_event_store::tail::TailError;
use shopcore_event_store::testing::{insert_raw_event, settled_head};
use shopcore_event_store::{GlobalLog, LogPosition};
use shopcore_projections::cart::mysql::{
    count_carts, find_cart, find_cart_fold, CartMysqlProjector,
};
use shopcore_projections::cart::read_model::{CartReadError, CartReadModel};
use shopcore_projections::cart::redis::{
    cached_cart, cached_entry, cart_key, store_entry, CachedCart, CartRedisProjector, Removal,
    TOMBSTONE_LIFE,
};
use shopcore_projections::cart::{CartFold, CartStatusView, CartView, AGGREGATE_TYPE};
use shopcore_projections::runtime::{ProjectionRunner, Projector};
use sqlx::migrate::MigrateDatabase as _;
use uuid::Uuid;

mod common;
use common::run_with_crashes;
mod cart_support;
use cart_support::history::{
    add, created, item_added, longest_sku, minutes, new_cart, write_every_event_type, LONGEST_CODE,
};
use cart_support::{cart_tables, now_us, roomy_settings, CartWriter, OwnRedis, Stores};

/// Columns of a `carts` row: status, session hash, channel, coupon code, subtotal, discount,
/// total, version, expiry.
type CartRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
    i64,
    u64,
    chrono::NaiveDateTime,
);

/// Columns of a `cart_items` row: SKU, quantity, unit and list price, currency, rules, line
/// total, discount, total.
type ItemRow = (String, u32, i64, i64, String, String, i64, i64, i64);

/// Steps the projector until it has reached `head`.
async fn catch_up(
    projector: Arc<dyn Projector>,
    log: &GlobalLog,
    batch: u32,
) -> anyhow::Result<()> {
    let head = settled_head(log).await?;
    let runner = ProjectionRunner::new(log.clone(), projector.clone(), batch);
    while projector.checkpoint().await? < head {
        runner.step().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}

async fn history(
    log: &GlobalLog,
    id: Uuid,
) -> anyhow::Result<Vec<shopcore_event_store::StoredEvent>> {
    Ok(log
        .aggregate_events(AGGREGATE_TYPE, &id.to_string(), None)
        .await?)
}

/// The view a fold of the cart's events gives.
async fn expected_view(log: &GlobalLog, id: Uuid) -> anyhow::Result<CartView> {
    let fold = CartFold::fold(&history(log, id).await?)?.expect("cart exists");
    Ok(fold.view()?)
}

/// The absolute expiry of a Redis key, in Unix ms (-2: no key, -1: no expiry).
async fn expire_time_ms(stores: &Stores, id: Uuid) -> anyhow::Result<i64> {
    let mut redis = stores.redis.clone();
    Ok(redis::cmd("PEXPIRETIME")
        .arg(cart_key(&stores.prefix, id))
        .query_async(&mut redis)
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_cart_event_is_projected_equal_to_the_fold_and_rebuilt_alike() -> anyhow::Result<()> {
    let stores = Stores::create().await?;
    let writer = CartWriter::new(stores.events.store.clone(), roomy_settings());
    let base = now_us();
    let ids = write_every_event_type(&writer, base).await?;
    let [checked_out, max_quantity, customers, merged, assigned, expired, past_expiry] = ids;
    let log = stores.log.clone();
    let head = settled_head(&log).await?;

    let types: BTreeSet<String> = log
        .read_after(LogPosition::START, 10_000, Some(&[AGGREGATE_TYPE]))
        .await?
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    let every: BTreeSet<String> = CartEvent::EVENT_TYPES
        .iter()
        .map(|t| t.to_string())
        .collect();
    assert_eq!(types, every, "the history makes every event type");

    let mysql_projector = Arc::new(CartMysqlProjector::new(stores.mysql.clone()));
    let redis_projector = Arc::new(CartRedisProjector::new(
        stores.redis.clone(),
        log.clone(),
        stores.prefix.clone(),
    ));
    let mysql_runner = ProjectionRunner::new(log.clone(), mysql_projector.clone(), 3);
    let redis_runner = ProjectionRunner::new(log.clone(), redis_projector.clone(), 3);
    let (mysql_kills, redis_kills) = tokio::try_join!(
        run_with_crashes(mysql_runner.clone(), head),
        run_with_crashes(redis_runner.clone(), head),
    )?;
    assert!(
        mysql_kills > 1 && redis_kills > 1,
        "the projectors were never stopped mid-stream"
    );
    assert_eq!(count_carts(&stores.mysql).await?, ids.len() as u64);

    let mut redis = stores.redis.clone();
    for id in ids {
        let events = history(&log, id).await?;
        let fold = CartFold::fold(&events)?.expect("cart exists");
        let view = fold.view()?;
        let (aggregate, version) = writer.load(id).await?;
        assert_eq!(fold.cart, aggregate, "the fold is the aggregate's own");
        // A view read back folds on like the fold it came from (the Redis projector relies
        // on it).
        for k in 1..events.len() {
            let earlier = CartFold::fold(&events[..k])?.expect("created");
            let read_back = CartFold::from_view(&earlier.view()?).map_err(anyhow::Error::msg)?;
            assert_eq!(read_back.view()?, earlier.view()?);
            let on = CartFold::fold_onto(Some(read_back), &events[k..])?.expect("cart");
            assert_eq!(
                on.view()?,
                view,
                "cart {id} folded on from its view at version {k}"
            );
        }
        assert_eq!(view.version, version);
        assert_eq!(view.position, events[events.len() - 1].log_position());

        // Totals: the aggregate's, except what checkout charged for the checked-out cart.
        if id == checked_out {
            let Some(CartEvent::CartCheckedOut {
                lines,
                subtotal,
                discount,
                total,
                coupon,
                ..
            }) = events
                .last()
                .map(|e| serde_json::from_value(e.payload.clone()))
                .transpose()?
            else {
                panic!("the checked-out cart ends with its checkout");
            };
            assert_eq!(
                (
                    view.subtotal.amount,
                    view.discount.amount,
                    view.total.amount
                ),
                (subtotal.amount(), discount.amount(), total.amount())
            );
            assert_eq!(
                view.coupon.as_ref().and_then(|c| c.percent.as_deref()),
                Some("20")
            );
            assert_ne!(coupon, aggregate.coupon, "checkout re-validated the coupon");
            for (line, charged) in view.lines.iter().zip(&lines) {
                assert_eq!(
                    (
                        &line.sku,
                        line.unit_price.amount,
                        line.line_total.amount,
                        line.discount.amount,
                        line.total.amount
                    ),
                    (
                        &charged.sku,
                        charged.unit_price.amount(),
                        charged.line_total.amount(),
                        charged.discount.amount(),
                        charged.total.amount()
                    )
                );
            }
            assert_eq!(view.lines.len(), lines.len());
            assert_eq!(view.checked_out_at, Some(base + minutes(11)));
        } else {
            let totals = aggregate.totals()?;
            assert_eq!(
                (
                    view.subtotal.amount,
                    view.discount.amount,
                    view.total.amount
                ),
                (
                    totals.subtotal.amount(),
                    totals.discount.amount(),
                    totals.total.amount()
                ),
                "cart {id}"
            );
            for (line, expected) in view.lines.iter().zip(&totals.lines) {
                assert_eq!(
                    (
                        &line.sku,
                        line.line_total.amount,
                        line.discount.amount,
                        line.total.amount
                    ),
                    (
                        &expected.sku,
                        expected.line_total.amount(),
                        expected.discount.amount(),
                        expected.total.amount()
                    )
                );
            }
        }

        // MySQL: the stored fold is the aggregate; the view equals the fold's.
        let stored = find_cart_fold(&stores.mysql, id).await?.expect("cart row");
        assert_eq!(stored.cart, aggregate);
        assert_eq!(find_cart(&stores.mysql, id).await?, Some(view.clone()));
        let row: CartRow = sqlx::query_as(
            "SELECT status, CAST(session_token_hash AS CHAR),
               CAST(channel AS CHAR CHARACTER SET utf8mb4),
               CAST(coupon_code AS CHAR CHARACTER SET utf8mb4),
               subtotal_minor, discount_minor, total_minor, version, expires_at
             FROM carts WHERE cart_id = ?",
        )
        .bind(id.to_string())
        .fetch_one(&stores.mysql)
        .await?;
        assert_eq!(row.0, view.status.as_str());
        assert_eq!(row.1, aggregate.session_token_hash);
        assert_eq!(row.2, view.channel);
        assert_eq!(row.3, view.coupon.as_ref().map(|c| c.code.clone()));
        assert_eq!(
            (row.4, row.5, row.6, row.7),
            (
                view.subtotal.amount,
                view.discount.amount,
                view.total.amount,
                version
            )
        );
        assert_eq!(row.8, view.expires_at.naive_utc());

        let items: Vec<ItemRow> = sqlx::query_as(
            "SELECT CAST(sku AS CHAR CHARACTER SET utf8mb4), quantity, unit_price_minor,
               list_price_minor, currency, applied_rules, line_total_minor, discount_minor, total_minor
             FROM cart_items WHERE cart_id = ? ORDER BY sku",
        )
        .bind(id.to_string())
        .fetch_all(&stores.mysql)
        .await?;
        let expected_items: Vec<_> = view
            .lines
            .iter()
            .map(|l| {
                (
                    l.sku.clone(),
                    l.quantity,
                    l.unit_price.amount,
                    l.list_price.amount,
                    l.unit_price.currency.clone(),
                    serde_json::to_string(&l.applied_rules).expect("json"),
                    l.line_total.amount,
                    l.discount.amount,
                    l.total.amount,
                )
            })
            .collect();
        assert_eq!(items, expected_items, "cart_items of {id}");

        let activity: Vec<(u64, String, u64, u64, String)> = sqlx::query_as(
            "SELECT sequence, event_type, tx_id, position, detail FROM cart_events
             WHERE cart_id = ? ORDER BY sequence",
        )
        .bind(id.to_string())
        .fetch_all(&stores.mysql)
        .await?;
        assert_eq!(activity.len(), events.len());
        for ((sequence, event_type, tx, position, detail), event) in activity.iter().zip(&events) {
            assert_eq!(
                (*sequence, event_type.as_str(), *tx, *position),
                (
                    event.sequence,
                    event.event_type.as_str(),
                    event.tx_id,
                    event.position
                )
            );
            let detail: serde_json::Value = serde_json::from_str(detail)?;
            assert!(detail.get("total").is_some(), "{detail}");
            if let Some(sku) = event.payload.pointer("/CartItemAdded/sku") {
                assert_eq!(detail.get("sku"), Some(sku));
            }
        }

        // Redis: the view for open and checked-out carts, a tombstone for removed ones,
        // nothing for a cart whose expiry has passed.
        let entry = cached_entry(&mut redis, &stores.prefix, id).await?;
        match aggregate.status {
            CartStatus::Expired | CartStatus::Merged => {
                let removed = if id == merged {
                    Removal::Merged
                } else {
                    Removal::Expired
                };
                assert_eq!(
                    entry,
                    Some(CachedCart::Tombstone {
                        version,
                        position: view.position,
                        removed
                    })
                );
            }
            _ if id == past_expiry => assert_eq!(entry, None, "an expired view is not cached"),
            _ => {
                assert_eq!(
                    entry,
                    Some(CachedCart::View(Box::new(view.clone()))),
                    "cart {id}"
                );
                assert_eq!(
                    expire_time_ms(&stores, id).await?,
                    view.expires_at.timestamp_millis()
                );
            }
        }

        // The view never carries the session token or its hash.
        let json = serde_json::to_string(&view)?;
        assert!(
            !json.contains(&aggregate.session_token_hash) && !json.contains("session"),
            "{json}"
        );
    }

    // The adversarial values came through unchanged.
    let view = expected_view(&log, checked_out).await?;
    let skus: Vec<&str> = view.lines.iter().map(|l| l.sku.as_str()).collect();
    assert_eq!(skus, vec!["SKU-A", longest_sku().as_str()]);
    assert_eq!(view.channel.as_deref(), Some("𝔘".repeat(64).as_str()));
    assert_eq!(view.region.as_deref(), Some("e\u{301}".repeat(32).as_str()));
    assert_eq!(
        view.coupon.as_ref().map(|c| c.code.as_str()),
        Some(LONGEST_CODE)
    );
    let big = expected_view(&log, max_quantity).await?;
    assert_eq!(big.lines[0].quantity, u32::MAX);
    assert_eq!(
        big.lines[0].line_total.amount,
        2_147_483_647 * i64::from(u32::MAX)
    );
    let merged_into = expected_view(&log, customers).await?;
    assert_eq!(
        merged_into
            .lines
            .iter()
            .find(|l| l.sku == "D-1")
            .map(|l| l.quantity),
        Some(3)
    );
    assert_eq!(
        merged_into.coupon.map(|c| c.code),
        Some("FIVE-OFF".to_owned())
    );
    assert_eq!(
        expected_view(&log, merged).await?.merged_into,
        Some(customers)
    );
    assert!(expected_view(&log, assigned).await?.customer_id.is_some());
    assert_eq!(
        expected_view(&log, expired).await?.status,
        CartStatusView::Expired
    );

    // The read API: Redis when cached, MySQL otherwise, with the domain's expiry rule.
    let reads = CartReadModel::new(
        stores.mysql.clone(),
        stores.redis.clone(),
        stores.prefix.clone(),
    );
    for id in ids {
        let read = reads.get(id, LogPosition::START).await?.expect("cart");
        assert_eq!(read, expected_view(&log, id).await?.as_of(Utc::now()));
    }
    let late = reads
        .get(past_expiry, LogPosition::START)
        .await?
        .expect("cart");
    assert_eq!(
        late.status,
        CartStatusView::Expired,
        "past expiresAt reads as expired"
    );

    // A rebuild of each from the start writes the same rows and entries.
    let rows = cart_tables(&stores.mysql).await?;
    let mut entries = Vec::new();
    for id in ids {
        entries.push(cached_entry(&mut redis, &stores.prefix, id).await?);
    }
    mysql_projector.reset().await?;
    redis_projector.reset().await?;
    assert!(cart_tables(&stores.mysql)
        .await?
        .contains(&"carts: 0".to_owned()));
    assert_eq!(
        cached_entry(&mut redis, &stores.prefix, checked_out).await?,
        None
    );
    shopcore_projections::rebuild::rebuild(&mysql_runner, &log, false, false).await?;
    shopcore_projections::rebuild::rebuild(&redis_runner, &log, false, false).await?;
    assert_eq!(cart_tables(&stores.mysql).await?, rows);
    for (id, before) in ids.iter().zip(entries) {
        assert_eq!(cached_entry(&mut redis, &stores.prefix, *id).await?, before);
    }
    stores.drop().await
}

// --- replays -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_older_batches_never_move_a_read_model_backwards() -> anyhow::Result<()> {
    let stores = Stores::create().await?;
    let writer = CartWriter::new(stores.events.store.clone(), roomy_settings());
    let base = now_us();
    let [open, merged, expired] = [(); 3].map(|_| Uuid::now_v7());
    writer
        .run(open, new_cart(open, "replay-open", None, base))
        .await?;
    writer.run(open, add("X", 1, base + minutes(1))).await?;
    writer.run(open, add("Y", 2, base + minutes(2))).await?;
    writer
        .run(merged, new_cart(merged, "replay-merged", None, base))
        .await?;
    writer.run(merged, add("X", 1, base)).await?;
    writer
        .run(
            merged,
            CartCommand::MarkMerged {
                into_cart_id: open,
                now: base,
            },
        )
        .await?;
    let long_ago = base - TimeDelta::hours(3);
    writer
        .run(expired, new_cart(expired, "replay-expired", None, long_ago))
        .await?;
    writer.run(expired, add("X", 1, long_ago)).await?;
    writer
        .run(expired, CartCommand::Expire { now: base })
        .await?;

    let log = stores.log.clone();
    let redis_projector = Arc::new(CartRedisProjector::new(
        stores.redis.clone(),
        log.clone(),
        stores.prefix.clone(),
    ));
    let mysql_projector = Arc::new(CartMysqlProjector::new(stores.mysql.clone()));
    catch_up(redis_projector.clone(), &log, 100).await?;
    catch_up(mysql_projector.clone(), &log, 100).await?;
    let mut redis = stores.redis.clone();
    let mut before = Vec::new();
    for id in [open, merged, expired] {
        before.push((
            cached_entry(&mut redis, &stores.prefix, id).await?,
            expire_time_ms(&stores, id).await?,
        ));
    }
    assert!(matches!(before[0].0, Some(CachedCart::View(_))));
    assert!(matches!(
        before[1].0,
        Some(CachedCart::Tombstone {
            removed: Removal::Merged,
            ..
        })
    ));
    assert!(matches!(
        before[2].0,
        Some(CachedCart::Tombstone {
            removed: Removal::Expired,
            ..
        })
    ));
    let tombstone_life = before[1].1 - Utc::now().timestamp_millis();
    assert!(
        tombstone_life > TOMBSTONE_LIFE.as_millis() as i64 - 60_000,
        "a tombstone outlives its cart's expiry: {tombstone_life} ms"
    );

    // Every older batch (each prefix of the log, and each event alone) again.
    let all = log.read_after(LogPosition::START, 1_000, None).await?;
    let checkpoint = redis_projector.checkpoint().await?;
    for end in 1..=all.len() {
        redis_projector.apply(checkpoint, &all[..end]).await?;
        redis_projector
            .apply(checkpoint, &all[end - 1..end])
            .await?;
        for (id, (entry, expiry)) in [open, merged, expired].iter().zip(&before) {
            assert_eq!(
                &cached_entry(&mut redis, &stores.prefix, *id).await?,
                entry,
                "after {end} events"
            );
            assert_eq!(
                expire_time_ms(&stores, *id).await?,
                *expiry,
                "TTL after {end} events"
            );
        }
    }
    // A writer that read the entry before a newer one landed (another instance, the expiry
    // sweep) writes through the same script, which keeps the newer one.
    for (id, (entry, expiry)) in [open, merged, expired].iter().zip(&before) {
        let events = history(&log, *id).await?;
        for end in 1..=events.len() {
            let older = CartFold::fold(&events[..end])?.expect("created");
            assert!(!store_entry(&mut redis, &stores.prefix, &older).await?);
            assert_eq!(&cached_entry(&mut redis, &stores.prefix, *id).await?, entry);
            assert_eq!(expire_time_ms(&stores, *id).await?, *expiry);
        }
    }
    // With the tombstone of the expired cart gone (its life over), older events still cannot
    // bring it back: their views have expired too.
    let _: () = redis::AsyncCommands::del(&mut redis, cart_key(&stores.prefix, expired)).await?;
    let events = history(&log, expired).await?;
    redis_projector.apply(checkpoint, &events[..2]).await?;
    assert_eq!(
        cached_entry(&mut redis, &stores.prefix, expired).await?,
        None
    );

    // MySQL from an old checkpoint: every event is skipped, no row changes (a doubled
    // history row would halt the projector at its primary key).
    let rows = cart_tables(&stores.mysql).await?;
    sqlx::query("UPDATE projection_checkpoints SET tx_id = 0, position = 0 WHERE name = ?")
        .bind(CartMysqlProjector::NAME)
        .execute(&stores.mysql)
        .await?;
    catch_up(mysql_projector.clone(), &log, 2).await?;
    assert_eq!(cart_tables(&stores.mysql).await?, rows);
    stores.drop().await
}

// --- TTL -----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_ttl_is_the_carts_expiry_and_slides_with_it() -> anyhow::Result<()> {
    let stores = Stores::create().await?;
    let writer = CartWriter::new(stores.events.store.clone(), roomy_settings());
    let projector: Arc<dyn Projector> = Arc::new(CartRedisProjector::new(
        stores.redis.clone(),
        stores.log.clone(),
        stores.prefix.clone(),
    ));
    let base = now_us();
    let id = Uuid::now_v7();
    let mut redis = stores.redis.clone();
    let key = cart_key(&stores.prefix, id);
    let mut expiries = Vec::new();
    for command in [
        new_cart(id, "ttl-session", None, base),
        add("T-1", 1, base + minutes(30)),
        add("T-2", 1, base + minutes(45)),
        CartCommand::Checkout {
            now: base + minutes(50),
            accept_price_changes: false,
        },
    ] {
        writer.run(id, command).await?;
        catch_up(projector.clone(), &stores.log, 10).await?;
        let view = cached_cart(&mut redis, &stores.prefix, id)
            .await?
            .expect("cached");
        let ttl_ms: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut redis).await?;
        let wanted_ms = (view.expires_at - Utc::now()).num_milliseconds();
        assert!(
            (ttl_ms - wanted_ms).abs() < 1_000,
            "TTL {ttl_ms} ms, expiry in {wanted_ms} ms"
        );
        assert_eq!(
            expire_time_ms(&stores, id).await?,
            view.expires_at.timestamp_millis()
        );
        expiries.push(view.expires_at);
    }
    let two_hours = TimeDelta::hours(2);
    assert_eq!(
        expiries,
        vec![
            base + two_hours,
            base + minutes(30) + two_hours,
            base + minutes(45) + two_hours,
            base + minutes(45) + two_hours
        ],
        "every change slides the expiry; checkout does not"
    );
    stores.drop().await
}

// --- the read API --------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_uses_redis_only_when_it_is_at_the_callers_position() -> anyhow::Result<()> {
    let stores = Stores::create().await?;
    let writer = CartWriter::new(stores.events.store.clone(), roomy_settings());
    let mysql_projector: Arc<dyn Projector> =
        Arc::new(CartMysqlProjector::new(stores.mysql.clone()));
    let redis_projector: Arc<dyn Projector> = Arc::new(CartRedisProjector::new(
        stores.redis.clone(),
        stores.log.clone(),
        stores.prefix.clone(),
    ));
    let base = now_us();
    let id = Uuid::now_v7();
    writer
        .run(id, new_cart(id, "read-session", None, base))
        .await?;
    let first = writer.run(id, add("R-1", 1, base)).await?.expect("written");
    catch_up(mysql_projector.clone(), &stores.log, 10).await?;
    catch_up(redis_projector.clone(), &stores.log, 10).await?;
    let second = writer.run(id, add("R-2", 1, base)).await?.expect("written");
    catch_up(mysql_projector.clone(), &stores.log, 10).await?;

    let reads = CartReadModel::new(
        stores.mysql.clone(),
        stores.redis.clone(),
        stores.prefix.clone(),
    )
    .with_read_your_writes_timeout(Duration::from_millis(300));
    // Redis (version 2) answers whoever asks for no more than it has ...
    assert_eq!(
        reads.get(id, LogPosition::START).await?.map(|v| v.version),
        Some(2)
    );
    assert_eq!(reads.get(id, first).await?.map(|v| v.version), Some(2));
    // ... and MySQL (version 3) whoever was told about the later write.
    assert_eq!(reads.get(id, second).await?.map(|v| v.version), Some(3));
    // A position neither has reached: 503-style, once the wait is over.
    let ahead = LogPosition::new(second.tx + 1_000_000, second.position + 1_000_000);
    match reads.get(id, ahead).await {
        Err(CartReadError::NotYetAt { wanted, reached }) => {
            assert_eq!((wanted, reached), (ahead, second));
        }
        other => panic!("expected NotYetAt, got {other:?}"),
    }
    catch_up(redis_projector.clone(), &stores.log, 10).await?;
    assert_eq!(
        cached_cart(&mut stores.redis.clone(), &stores.prefix, id)
            .await?
            .map(|v| v.version),
        Some(3)
    );
    assert_eq!(reads.get(id, second).await?.map(|v| v.version), Some(3));
    assert_eq!(reads.get(Uuid::now_v7(), LogPosition::START).await?, None);
    stores.drop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_carts_and_due_expiries_follow_the_domains_expiry_rule() -> anyhow::Result<()> {
    let stores = Stores::create().await?;
    let writer = CartWriter::new(stores.events.store.clone(), roomy_settings());
    let short = CartWriter::new(
        stores.events.store.clone(),
        CartSettings {
            ttl: TimeDelta::minutes(1),
            ..roomy_settings()
        },
    );
    let base = now_us();
    let ago = |m: i64| base - minutes(m);
    let customer = Uuid::now_v7();
    let session = "shared-séssion-token";
    let [old_session, open_session, checked_out, expired_session] = [(); 4].map(|_| Uuid::now_v7());
    let [open_customer, merged_customer, expired_customer] = [(); 3].map(|_| Uuid::now_v7());
    let [due_1, due_2, checked_out_due, swept] = [(); 4].map(|_| Uuid::now_v7());

    // The session: an old cart past its expiry, the open one, a newer checked-out one and a
    // newest one already past its expiry.
    writer
        .run(old_session, new_cart(old_session, session, None, ago(180)))
        .await?;
    writer
        .run(open_session, new_cart(open_session, session, None, ago(10)))
        .await?;
    writer
        .run(checked_out, new_cart(checked_out, session, None, ago(5)))
        .await?;
    writer.run(checked_out, add("S-1", 1, ago(5))).await?;
    writer
        .run(
            checked_out,
            CartCommand::Checkout {
                now: ago(4),
                accept_price_changes: false,
            },
        )
        .await?;
    short
        .run(
            expired_session,
            new_cart(expired_session, session, None, ago(2)),
        )
        .await?;
    // The customer: an open cart, a newer one merged away, a newest one past its expiry.
    writer
        .run(
            open_customer,
            new_cart(open_customer, "c-1", Some(customer), ago(20)),
        )
        .await?;
    writer
        .run(
            merged_customer,
            new_cart(merged_customer, "c-2", Some(customer), ago(15)),
        )
        .await?;
    writer
        .run(
            merged_customer,
            CartCommand::MarkMerged {
                into_cart_id: open_customer,
                now: ago(14),
            },
        )
        .await?;
    short
        .run(
            expired_customer,
            new_cart(expired_customer, "c-3", Some(customer), ago(10)),
        )
        .await?;
    // More carts due, one checked out after its last change (not due), one swept.
    short
        .run(due_1, new_cart(due_1, "d-1", None, ago(30)))
        .await?;
    short
        .run(due_2, new_cart(due_2, "d-2", None, ago(40)))
        .await?;
    short
        .run(
            checked_out_due,
            new_cart(checked_out_due, "d-3", None, ago(50)),
        )
        .await?;
    short.run(checked_out_due, add("S-1", 1, ago(50))).await?;
    short
        .run(
            checked_out_due,
            CartCommand::Checkout {
                now: ago(50),
                accept_price_changes: false,
            },
        )
        .await?;
    short
        .run(swept, new_cart(swept, "d-4", None, ago(60)))
        .await?;
    short.run(swept, CartCommand::Expire { now: base }).await?;

    let projector: Arc<dyn Projector> = Arc::new(CartMysqlProjector::new(stores.mysql.clone()));
    catch_up(projector, &stores.log, 4).await?;
    let reads = CartReadModel::new(
        stores.mysql.clone(),
        stores.redis.clone(),
        stores.prefix.clone(),
    );

    let found = reads
        .by_session_hash(&session_token_hash(session))
        .await?
        .expect("open cart");
    assert_eq!(found.cart_id, open_session);
    assert_eq!(found.status, CartStatusView::Open);
    assert_eq!(
        reads.by_session_hash(session).await?,
        None,
        "the raw token finds nothing"
    );
    assert_eq!(
        reads.by_session_hash(&session_token_hash("other")).await?,
        None
    );
    assert_eq!(
        reads.open_cart_of_customer(customer).await?,
        Some(open_customer)
    );
    assert_eq!(reads.open_cart_of_customer(Uuid::now_v7()).await?, None);

    // Due: open and past expiry, soonest expired first, with their versions.
    let due = reads.due_for_expiry(base, 100).await?;
    let mut expected = Vec::new();
    for id in [
        old_session,
        swept,
        checked_out_due,
        due_2,
        due_1,
        expired_customer,
        expired_session,
    ] {
        if id != swept && id != checked_out_due {
            expected.push((id, writer.load(id).await?.1));
        }
    }
    assert_eq!(due, expected);
    assert_eq!(reads.due_for_expiry(base, 2).await?, expected[..2].to_vec());
    assert_eq!(
        reads.due_for_expiry(ago(25), 100).await?,
        expected[..3].to_vec(),
        "as of 25 minutes ago"
    );

    // Stored open, read expired (the TTL disagreement).
    let (status,): (String,) = sqlx::query_as("SELECT status FROM carts WHERE cart_id = ?")
        .bind(due_1.to_string())
        .fetch_one(&stores.mysql)
        .await?;
    assert_eq!(status, "open");
    let read = reads.get(due_1, LogPosition::START).await?.expect("cart");
    assert_eq!(read.status, CartStatusView::Expired);
    let read = reads
        .get(checked_out_due, LogPosition::START)
        .await?
        .expect("cart");
    assert_eq!(
        read.status,
        CartStatusView::CheckedOut,
        "only open carts expire"
    );
    stores.drop().await
}

// --- poison events -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_a_cart_model_cannot_apply_halt_both_projectors_right_before_them(
) -> anyhow::Result<()> {
    for (case, reason) in [
        ("undecodable", "undecodable"),
        ("gap", "out_of_step"),
        ("before creation", "out_of_step"),
    ] {
        let stores = Stores::create().await?;
        let pool = stores.events.store.pool().clone();
        let insert =
            |id: Uuid, sequence: i64, event_type: &'static str, payload: serde_json::Value| {
                let pool = pool.clone();
                async move {
                    insert_raw_event(
                        &pool,
                        AGGREGATE_TYPE,
                        &id.to_string(),
                        sequence,
                        event_type,
                        payload,
                    )
                    .await
                }
            };
        let good = Uuid::now_v7();
        insert(good, 1, "CartCreated", created(good)).await?;
        let (last_good, _) = insert(good, 2, "CartItemAdded", item_added("OK-1")).await?;
        let bad = Uuid::now_v7();
        let (_, poison) = match case {
            "undecodable" => {
                insert(
                    bad,
                    1,
                    "CartCreated",
                    serde_json::json!({ "CartCreated": { "cartId": "not a uuid" } }),
                )
                .await?
            }
            "gap" => {
                insert(bad, 1, "CartCreated", created(bad)).await?;
                insert(bad, 3, "CartItemAdded", item_added("GAP")).await?
            }
            _ => insert(bad, 1, "CartItemAdded", item_added("FIRST")).await?,
        };
        let later = Uuid::now_v7();
        insert(later, 1, "CartCreated", created(later)).await?;
        settled_head(&stores.log).await?;

        let projectors: [Arc<dyn Projector>; 2] = [
            Arc::new(CartMysqlProjector::new(stores.mysql.clone())),
            Arc::new(CartRedisProjector::new(
                stores.redis.clone(),
                stores.log.clone(),
                stores.prefix.clone(),
            )),
        ];
        for projector in projectors {
            let runner = ProjectionRunner::new(stores.log.clone(), projector.clone(), 100);
            for _ in 0..2 {
                let failure = runner.step().await.expect_err("cannot be applied");
                assert!(
                    matches!(&failure.error, TailError::Permanent { reason: r, .. } if *r == reason),
                    "{case}, {}: {failure}",
                    projector.name()
                );
                assert_eq!(
                    failure.event.as_ref().map(|e| e.event_id),
                    Some(poison),
                    "{case}"
                );
                let expected_checkpoint = if case == "gap" {
                    // The bad cart's creation precedes the gap and is applied.
                    history(&stores.log, bad).await?[0].log_position()
                } else {
                    last_good
                };
                assert_eq!(
                    projector.checkpoint().await?,
                    expected_checkpoint,
                    "{case}, {}",
                    projector.name()
                );
            }
        }
        assert_eq!(
            find_cart(&stores.mysql, later).await?,
            None,
            "nothing after the poison event"
        );
        assert_eq!(
            find_cart(&stores.mysql, good).await?.map(|v| v.version),
            Some(2)
        );
        let mut redis = stores.redis.clone();
        assert_eq!(
            cached_cart(&mut redis, &stores.prefix, good)
                .await?
                .map(|v| v.version),
            Some(2)
        );
        assert_eq!(cached_cart(&mut redis, &stores.prefix, later).await?, None);
        stores.drop().await?;
    }
    Ok(())
}

// --- Redis outage --------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_outage_under_load_loses_nothing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut server = OwnRedis::new(dir.path())?;
    server.restart().await?;
    let mut stores = Stores::create().await?;
    stores.redis = shopcore_projections::stores::connect_redis(&server.url()).await?;
    let writer = CartWriter::new(stores.events.store.clone(), roomy_settings());
    let projector = Arc::new(CartRedisProjector::new(
        stores.redis.clone(),
        stores.log.clone(),
        stores.prefix.clone(),
    ));
    let runner = ProjectionRunner::new(stores.log.clone(), projector.clone(), 5);
    let status = runner.status();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let live = tokio::spawn({
        let runner = runner.clone();
        async move { runner.run(stopped).await }
    });
    let base = now_us();
    let write = |n: usize| {
        let writer = &writer;
        async move {
            let id = Uuid::now_v7();
            writer
                .run(id, new_cart(id, &format!("outage-{n}"), None, base))
                .await?;
            writer.run(id, add("O-1", 1, base)).await?;
            writer.run(id, add(&format!("O-{n}"), 2, base)).await?;
            anyhow::Ok(id)
        }
    };
    let mut ids = Vec::new();
    for n in 0..15 {
        ids.push(write(n).await?);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while projector.checkpoint().await? == LogPosition::START {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "nothing projected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().await?;
    for n in 15..40 {
        ids.push(write(n).await?);
    }
    // The projector keeps retrying: never halted.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let state = status.read().expect("status").state.clone();
        assert!(
            !matches!(state, shopcore_event_store::tail::TailState::Halted(_)),
            "{state:?}"
        );
        if matches!(
            state,
            shopcore_event_store::tail::TailState::Retrying { .. }
        ) {
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the outage went unnoticed: {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Reads go to MySQL meanwhile.
    let mysql_projector: Arc<dyn Projector> =
        Arc::new(CartMysqlProjector::new(stores.mysql.clone()));
    catch_up(mysql_projector, &stores.log, 100).await?;
    let reads = CartReadModel::new(
        stores.mysql.clone(),
        stores.redis.clone(),
        stores.prefix.clone(),
    );
    let last = ids[ids.len() - 1];
    assert_eq!(
        reads
            .get(last, LogPosition::START)
            .await?
            .map(|v| v.version),
        Some(3)
    );
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    server.restart().await?;

    let head = settled_head(&stores.log).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while projector.checkpoint().await? < head {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "no catch-up after the outage"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(true);
    live.await?;
    let mut redis = stores.redis.clone();
    for id in &ids {
        assert_eq!(
            cached_cart(&mut redis, &stores.prefix, *id).await?,
            Some(expected_view(&stores.log, *id).await?),
            "cart {id}"
        );
    }
    server.kill().await?;
    let _ = tokio::time::timeout(Duration::from_secs(5), stores.mysql.close()).await;
    sqlx::MySql::drop_database(&stores.mysql_url).await?;
    stores.events.drop_database().await
}
