//! The currency rate sync against the project's fake rates provider (a real HTTP server on a
//! real port) and a fresh event store database on the real Postgres: a document is recorded as
//! `FxRateChanged` events through the pipeline; the same document again writes nothing; a
//! changed rate writes exactly one event with its previous rate; garbage, an error status, a
//! provider too slow, one that is down or one that sends too much write nothing and are
//! counted, and the job goes on; syncs running at once record each change once; a rate older
//! than the stale age is reported stale. The binary's `--once` and the provider's `PUT`, fault
//! and file persistence are exercised over HTTP too.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::Value;
use shopcore_commands::fx::document::ecb_daily_xml;
use shopcore_commands::fx::sync::ACTOR;
use shopcore_commands::fx::{
    server, CurrencyRateSync, CurrencyRateSyncSettings, Fault, FxProvider, SyncState, RATES_PATH,
};
use shopcore_commands::grpc::pricing::currency_rate::{
    currency_rate_pipeline, currency_rate_snapshots,
};
use shopcore_commands::metadata::CommandContext;
use shopcore_domain::money::{Currency, Rate};
use shopcore_domain::pricing::{CurrencyRate, CurrencyRateCommand};
use shopcore_event_store::testing::TestEventStore;
use tokio::net::TcpListener;

/// 2026-11-30T12:00:00Z plus `hours`.
fn at(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
        .single()
        .expect("instant")
        + chrono::Duration::hours(hours)
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
}

/// A clock a test moves.
#[derive(Clone)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn at(instant: DateTime<Utc>) -> Self {
        Self(Arc::new(AtomicI64::new(instant.timestamp_millis())))
    }

    fn set(&self, instant: DateTime<Utc>) {
        self.0.store(instant.timestamp_millis(), Ordering::SeqCst);
    }

    fn clock(&self) -> shopcore_commands::fx::sync::Clock {
        let millis = self.0.clone();
        Arc::new(move || {
            Utc.timestamp_millis_opt(millis.load(Ordering::SeqCst))
                .single()
                .unwrap_or_default()
        })
    }
}

/// The fake provider on a free port; its base URL.
async fn provider() -> anyhow::Result<(FxProvider, String)> {
    let provider = FxProvider::open(None).await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    provider.spawn(listener);
    Ok((provider, url))
}

async fn serve(provider: &FxProvider, xml: String) -> anyhow::Result<()> {
    provider.replace(xml.into()).await?;
    Ok(())
}

fn sync_at(
    db: &TestEventStore,
    settings: &CurrencyRateSyncSettings,
    clock: &TestClock,
) -> anyhow::Result<CurrencyRateSync> {
    CurrencyRateSync::with_clock(db.store.clone(), settings, clock.clock())
}

/// The sync's `FxRateChanged` events: (pair, sequence, payload, metadata), in log order.
async fn fx_events(db: &TestEventStore) -> anyhow::Result<Vec<(String, i64, Value, Value)>> {
    Ok(sqlx::query_as(
        "SELECT aggregate_id, sequence, payload -> 'FxRateChanged', metadata FROM events
         WHERE aggregate_type = 'currency_rate' ORDER BY position",
    )
    .fetch_all(db.store.pool())
    .await?)
}

async fn rate_of(db: &TestEventStore, pair: &str) -> anyhow::Result<Option<String>> {
    let loaded = db
        .store
        .load::<CurrencyRate>(&currency_rate_snapshots(), pair)
        .await?;
    Ok(loaded.aggregate.rate.map(|r| r.rate.to_string()))
}

const RATES: &[(&str, &str)] = &[
    ("USD", "1.0842"),
    ("JPY", "162.51"),
    ("GBP", "0.83120"),
    ("KWD", "0.3335"),
    ("XYZ", "2.5"),
    ("CHF", "-1"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_is_written_when_it_changes_and_only_then() -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let (provider, url) = provider().await?;
    let clock = TestClock::at(at(0));
    let sync = sync_at(&db, &CurrencyRateSyncSettings::local(&url), &clock)?;
    serve(&provider, ecb_daily_xml(day("2026-11-30"), RATES)).await?;

    let first = sync.sync_once().await;
    assert!(first.ok, "{first:?}");
    assert_eq!(first.document_date, Some(day("2026-11-30")));
    let changed: Vec<&str> = first.changed.iter().map(|c| c.pair.as_str()).collect();
    assert_eq!(changed, vec!["EUR-USD", "EUR-JPY", "EUR-GBP", "EUR-KWD"]);
    assert_eq!(first.unknown.len(), 1, "XYZ");
    assert_eq!(first.invalid.len(), 1, "CHF -1");
    let events = fx_events(&db).await?;
    assert_eq!(events.len(), 4);
    let (pair, sequence, payload, metadata) = &events[0];
    assert_eq!((pair.as_str(), *sequence), ("EUR-USD", 1));
    assert_eq!(payload["rate"], "1.0842");
    assert_eq!(payload["previousRate"], Value::Null);
    assert_eq!(payload["source"], "ecb:2026-11-30");
    assert_eq!(payload["changedAt"], "2026-11-30T12:00:00Z");
    assert_eq!(metadata["actor"], ACTOR);
    assert_eq!(metadata["commandType"], "currency_rate.sync");
    assert_eq!(
        metadata["idempotencyKey"],
        "ecb:2026-11-30:EUR-USD:1.0842@0"
    );
    // GBP's trailing zero is not a different rate.
    assert_eq!(rate_of(&db, "EUR-GBP").await?.as_deref(), Some("0.8312"));

    // The same document again: nothing written.
    clock.set(at(1));
    let again = sync.sync_once().await;
    assert!(again.ok && again.changed.is_empty(), "{again:?}");
    assert_eq!(again.unchanged, 4);
    assert_eq!(fx_events(&db).await?.len(), 4);

    // One rate changes: exactly one event, with the previous rate.
    let mut changed = RATES.to_vec();
    changed[0] = ("USD", "1.0850");
    changed[2] = ("GBP", "0.8312");
    serve(&provider, ecb_daily_xml(day("2026-12-01"), &changed)).await?;
    clock.set(at(2));
    let third = sync.sync_once().await;
    assert_eq!(third.changed.len(), 1, "{third:?}");
    assert_eq!(third.changed[0].pair, "EUR-USD");
    assert_eq!(third.changed[0].previous_rate, Some(Rate::parse("1.0842")?));
    assert_eq!(third.changed[0].version, 2);
    assert_eq!(third.unchanged, 3);
    let events = fx_events(&db).await?;
    assert_eq!(events.len(), 5);
    let (pair, sequence, payload, _) = &events[4];
    assert_eq!((pair.as_str(), *sequence), ("EUR-USD", 2));
    assert_eq!(payload["rate"], "1.085");
    assert_eq!(payload["previousRate"], "1.0842");
    assert_eq!(payload["source"], "ecb:2026-12-01");

    // Back to the first rate on the same day: a change again, not swallowed as a replay of
    // the first one (the key names the version it applies to).
    serve(&provider, ecb_daily_xml(day("2026-12-01"), RATES)).await?;
    let fourth = sync.sync_once().await;
    assert_eq!(fourth.changed.len(), 1, "{fourth:?}");
    assert_eq!(rate_of(&db, "EUR-USD").await?.as_deref(), Some("1.0842"));
    assert_eq!(fx_events(&db).await?.len(), 6);

    let status = sync.status().await;
    assert_eq!(status.state, SyncState::Synced);
    assert_eq!(status.runs, 4);
    assert_eq!(status.events_written, 6);
    assert_eq!(status.pairs.len(), 4);
    db.drop_database().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_fails_changes_nothing_and_is_counted() -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let (provider, url) = provider().await?;
    let clock = TestClock::at(at(0));
    let mut settings = CurrencyRateSyncSettings::local(&url);
    settings.timeout = Duration::from_millis(300);
    let sync = sync_at(&db, &settings, &clock)?;
    let ops = TcpListener::bind("127.0.0.1:0").await?;
    let ops_url = format!("http://{}", ops.local_addr()?);
    server::spawn(ops, sync.clone());
    let http = reqwest::Client::new();
    serve(&provider, ecb_daily_xml(day("2026-11-30"), RATES)).await?;
    assert!(sync.sync_once().await.ok);
    let written = fx_events(&db).await?.len();
    assert_eq!(written, 4);

    let big = format!(
        "{}<!--{}-->",
        ecb_daily_xml(day("2026-11-30"), RATES),
        "x".repeat(1 << 20)
    );
    let garbage: [(&str, String); 5] = [
        (
            "malformed",
            "<html><body>502 Bad Gateway</body></html>".into(),
        ),
        ("malformed", "\u{0}\u{1}binary garbage".into()),
        (
            "malformed",
            ecb_daily_xml(day("2026-11-30"), &[("USD", "9.99")]).replace("</gesmes:Envelope>", ""),
        ),
        (
            "no_rates",
            ecb_daily_xml(day("2026-11-30"), &[("XYZ", "1.2")]),
        ),
        ("too_large", big),
    ];
    let mut expected_failures = 0;
    for (reason, body) in garbage {
        serve(&provider, body).await?;
        let report = sync.sync_once().await;
        expected_failures += 1;
        assert!(!report.ok);
        assert_eq!(
            report.error.as_ref().map(|e| e.reason),
            Some(reason),
            "{report:?}"
        );
        assert!(report.changed.is_empty());
    }
    // The document changed rates, but the provider answers 500, then too late.
    serve(
        &provider,
        ecb_daily_xml(day("2026-12-01"), &[("USD", "2.0")]),
    )
    .await?;
    provider.set_fault(Fault {
        status: Some(500),
        delay_ms: None,
    });
    let report = sync.sync_once().await;
    assert_eq!(report.error.as_ref().map(|e| e.reason), Some("http_status"));
    provider.set_fault(Fault {
        status: None,
        delay_ms: Some(2_000),
    });
    let started = std::time::Instant::now();
    let report = sync.sync_once().await;
    assert_eq!(report.error.as_ref().map(|e| e.reason), Some("timeout"));
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "bounded by the timeout"
    );
    expected_failures += 2;

    // Down: nothing listens on the port.
    let closed = TcpListener::bind("127.0.0.1:0").await?;
    let closed_url = format!("http://{}", closed.local_addr()?);
    drop(closed);
    let down = sync_at(&db, &CurrencyRateSyncSettings::local(&closed_url), &clock)?;
    let report = down.sync_once().await;
    assert_eq!(
        report.error.as_ref().map(|e| e.reason),
        Some("unreachable"),
        "{report:?}"
    );
    assert!(
        !report
            .error
            .as_ref()
            .is_some_and(|e| e.detail.contains(&closed_url)),
        "no URL in the report"
    );

    assert_eq!(fx_events(&db).await?.len(), written, "nothing written");
    let status = sync.status().await;
    assert_eq!(status.state, SyncState::Failing);
    assert_eq!(status.consecutive_failures, expected_failures);
    assert_eq!(status.failures.get("malformed"), Some(&3));
    assert_eq!(status.failures.get("timeout"), Some(&1));
    let readiness = http.get(format!("{ops_url}/readyz")).send().await?;
    assert_eq!(readiness.status(), 503);
    let body: Value = readiness.json().await?;
    assert_eq!(body["currencyRateSync"]["lastError"], "timeout");
    let metrics = http
        .get(format!("{ops_url}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    for line in [
        "shopcore_fx_sync_failures_total{reason=\"timeout\"}",
        "shopcore_fx_sync_failures_total{reason=\"malformed\"}",
        "shopcore_fx_sync_failures_total{reason=\"unreachable\"}",
        "shopcore_fx_rates_stale",
        "shopcore_fx_rate_age_seconds{pair=\"EUR-USD\"}",
    ] {
        assert!(metrics.contains(line), "{line} in /metrics");
    }

    // The provider recovers: POST /sync records the change and the sync is ready again.
    provider.set_fault(Fault::default());
    let answer = http.post(format!("{ops_url}/sync")).send().await?;
    assert_eq!(answer.status(), 200);
    let report: Value = answer.json().await?;
    assert_eq!(report["changed"][0]["pair"], "EUR-USD");
    assert_eq!(report["changed"][0]["previousRate"], "1.0842");
    assert_eq!(fx_events(&db).await?.len(), written + 1);
    assert_eq!(
        http.get(format!("{ops_url}/readyz")).send().await?.status(),
        200
    );
    // A failure answers 502 with the report.
    provider.set_fault(Fault {
        status: Some(503),
        delay_ms: None,
    });
    let answer = http.post(format!("{ops_url}/sync")).send().await?;
    assert_eq!(answer.status(), 502);
    db.drop_database().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_job_survives_failures_and_stops_when_told() -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let (provider, url) = provider().await?;
    provider.set_fault(Fault {
        status: Some(500),
        delay_ms: None,
    });
    let mut settings = CurrencyRateSyncSettings::local(&url);
    settings.interval = Duration::from_millis(100);
    let sync = CurrencyRateSync::new(db.store.clone(), &settings)?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn({
        let sync = sync.clone();
        async move { sync.run(stopped).await }
    });
    let give_up = std::time::Instant::now() + Duration::from_secs(20);
    while sync.cached_status().runs < 3 {
        anyhow::ensure!(
            std::time::Instant::now() < give_up,
            "the job stopped syncing"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sync.cached_status().state, SyncState::Failing);
    // The provider comes back: the next tick records the default document.
    provider.set_fault(Fault::default());
    while sync.cached_status().state != SyncState::Synced {
        anyhow::ensure!(
            std::time::Instant::now() < give_up,
            "the job never recovered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The built-in document: 29 of its 30 currencies are Shopcore's.
    assert_eq!(fx_events(&db).await?.len(), 29);
    stop.send(true)?;
    tokio::time::timeout(Duration::from_secs(10), running).await??;
    db.drop_database().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn syncs_running_at_once_record_each_change_once() -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let (provider, url) = provider().await?;
    let clock = TestClock::at(at(0));
    let settings = CurrencyRateSyncSettings::local(&url);
    let syncs: Vec<CurrencyRateSync> = (0..4)
        .map(|_| sync_at(&db, &settings, &clock))
        .collect::<anyhow::Result<_>>()?;
    let codes = ["USD", "JPY", "GBP", "KWD", "CHF", "SEK"];
    let mut raced = 0;
    for round in 0..6_u32 {
        let rates: Vec<(String, String)> = codes
            .iter()
            .enumerate()
            .map(|(i, code)| (code.to_string(), format!("{}.{round}{i}1", i + 1)))
            .collect();
        let borrowed: Vec<(&str, &str)> = rates
            .iter()
            .map(|(c, r)| (c.as_str(), r.as_str()))
            .collect();
        serve(&provider, ecb_daily_xml(day("2026-11-30"), &borrowed)).await?;
        let reports = futures::future::join_all(syncs.iter().map(|sync| sync.sync_once())).await;
        let changed: usize = reports.iter().map(|r| r.changed.len()).sum();
        for report in &reports {
            assert!(report.ok, "{report:?}");
            assert_eq!(
                report.changed.len() + report.unchanged + report.already_recorded,
                codes.len()
            );
        }
        assert_eq!(changed, codes.len(), "round {round}: each change once");
        raced += reports.iter().map(|r| r.already_recorded).sum::<usize>();
    }
    // The syncs did race (else this test would prove nothing): about 60 of 144 outcomes.
    assert!(raced > 0, "no sync ever found a change recorded by another");
    let events = fx_events(&db).await?;
    assert_eq!(events.len(), 6 * codes.len());
    // Per pair, sequences 1..=6 and each event's previous rate is the one before it.
    for code in codes {
        let pair = format!("EUR-{code}");
        let mine: Vec<&(String, i64, Value, Value)> =
            events.iter().filter(|e| e.0 == pair).collect();
        let sequences: Vec<i64> = mine.iter().map(|e| e.1).collect();
        assert_eq!(sequences, (1..=6).collect::<Vec<_>>(), "{pair}");
        for window in mine.windows(2) {
            assert_eq!(window[1].2["previousRate"], window[0].2["rate"], "{pair}");
        }
    }
    db.drop_database().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_older_than_the_stale_age_is_reported_stale() -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let (provider, url) = provider().await?;
    let clock = TestClock::at(at(0));
    let mut settings = CurrencyRateSyncSettings::local(&url);
    settings.stale_after = Duration::from_secs(48 * 3600);
    let sync = sync_at(&db, &settings, &clock)?;
    let ops = TcpListener::bind("127.0.0.1:0").await?;
    let ops_url = format!("http://{}", ops.local_addr()?);
    server::spawn(ops, sync.clone());
    serve(
        &provider,
        ecb_daily_xml(day("2026-11-30"), &[("USD", "1.0842"), ("JPY", "162.51")]),
    )
    .await?;
    assert!(sync.sync_once().await.stale_pairs.is_empty());
    // A pair set by another writer three days ago (as over gRPC) is stale at once.
    currency_rate_pipeline(db.store.clone())
        .execute(
            "USD-CHF",
            CurrencyRateCommand::SetFxRate {
                base: Currency::USD,
                quote: Currency::CHF,
                rate: Rate::parse("0.8655")?,
                source: "back-office".into(),
                now: at(-72),
            },
            &CommandContext::new("currency_rate.set", "test"),
        )
        .await?;
    let status = sync.status().await;
    assert_eq!(status.stale_pairs, vec!["USD-CHF"]);
    let chf = status
        .pairs
        .iter()
        .find(|p| p.pair == "USD-CHF")
        .expect("pair");
    assert_eq!(chf.age_seconds, 72 * 3600);

    // 48 hours on, not yet (stale means older than the age); a second later, every pair.
    clock.set(at(48));
    assert_eq!(sync.status().await.stale_pairs, vec!["USD-CHF"]);
    clock.set(at(48) + chrono::Duration::seconds(1));
    let status = sync.status().await;
    assert_eq!(status.stale_pairs, vec!["EUR-JPY", "EUR-USD", "USD-CHF"]);
    assert!(status.pairs.iter().all(|p| p.stale));
    let body: Value = reqwest::get(format!("{ops_url}/readyz"))
        .await?
        .json()
        .await?;
    assert_eq!(
        body["ready"], true,
        "stale rates are data, not a broken job"
    );
    assert_eq!(
        body["currencyRateSync"]["stalePairs"],
        serde_json::json!(["EUR-JPY", "EUR-USD", "USD-CHF"])
    );
    let status: Value = reqwest::get(format!("{ops_url}/status"))
        .await?
        .json()
        .await?;
    assert_eq!(status["staleAfterSeconds"], 48 * 3600);

    // The provider repeats the same rates: unchanged rates keep their age (they took effect
    // when they changed). A changed rate is fresh again.
    serve(
        &provider,
        ecb_daily_xml(day("2026-12-02"), &[("USD", "1.0901"), ("JPY", "162.51")]),
    )
    .await?;
    let report = sync.sync_once().await;
    assert_eq!(report.changed.len(), 1);
    assert_eq!(report.stale_pairs, vec!["EUR-JPY", "USD-CHF"]);
    db.drop_database().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_serves_what_a_scenario_puts_and_keeps_it_in_its_file() -> anyhow::Result<()> {
    let directory = tempfile::tempdir()?;
    let file = directory.path().join("fx").join("rates.xml");
    let provider = FxProvider::open(Some(file.clone())).await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}{RATES_PATH}", listener.local_addr()?);
    let base = format!("http://{}", listener.local_addr()?);
    provider.spawn(listener);
    let http = reqwest::Client::new();

    let served = http.get(&url).send().await?;
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "text/xml");
    let text = served.text().await?;
    assert!(
        text.contains("<Cube currency='USD' rate='1.0842'/>"),
        "the default document"
    );

    let changed = ecb_daily_xml(day("2026-11-30"), &[("USD", "1.1111"), ("BGN", "1.9558")]);
    let answer: Value = http
        .put(&url)
        .body(changed.clone())
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(answer["usable"], true);
    assert_eq!(answer["rates"], 1);
    assert_eq!(answer["unknown"][0]["currency"], "BGN");
    assert_eq!(http.get(&url).send().await?.text().await?, changed);
    assert_eq!(std::fs::read_to_string(&file)?, changed);
    // Garbage is stored too (serving it is a scenario), and said to be unusable.
    let answer: Value = http.put(&url).body("oops").send().await?.json().await?;
    assert_eq!(answer["usable"], false);
    http.put(&url).body(changed.clone()).send().await?;
    // More than 1 MiB is refused.
    let too_big = http
        .put(&url)
        .body(vec![b' '; (1 << 20) + 1])
        .send()
        .await?;
    assert_eq!(too_big.status(), 413);

    // A fault, over HTTP.
    let fault = http
        .put(format!("{base}/_fault"))
        .json(&serde_json::json!({"status": 500}))
        .send()
        .await?;
    assert_eq!(fault.status(), 200);
    assert_eq!(http.get(&url).send().await?.status(), 500);
    assert_eq!(
        http.put(format!("{base}/_fault"))
            .json(&serde_json::json!({"status": 42}))
            .send()
            .await?
            .status(),
        400
    );
    http.delete(format!("{base}/_fault")).send().await?;
    assert_eq!(http.get(&url).send().await?.status(), 200);

    // A restarted provider serves the stored document.
    let reopened = FxProvider::open(Some(file)).await?;
    assert_eq!(reopened.document(), changed.as_bytes());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_syncs_and_exits_non_zero_when_the_sync_fails() -> anyhow::Result<()> {
    let db = TestEventStore::create().await?;
    let (_provider, url) = provider().await?;
    let run = |provider_url: String| {
        std::process::Command::new(env!("CARGO_BIN_EXE_shopcore-commands"))
            .args(["currency-rate-sync", "--once"])
            .env("DATABASE_URL", &db.url)
            .env("FX_PROVIDER_URL", provider_url)
            .env("FX_PROVIDER_TIMEOUT", "2s")
            .env("RUST_LOG", "error")
            .output()
    };
    let ok = tokio::task::block_in_place(|| run(format!("{url}{RATES_PATH}")))?;
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let last_line = |output: &std::process::Output| {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned()
    };
    let report: Value = serde_json::from_str(&last_line(&ok))?;
    assert_eq!(report["ok"], true);
    assert_eq!(report["changed"].as_array().map(Vec::len), Some(29));
    assert_eq!(fx_events(&db).await?.len(), 29);

    let closed = TcpListener::bind("127.0.0.1:0").await?;
    let closed_url = format!("http://{}{RATES_PATH}", closed.local_addr()?);
    drop(closed);
    let failed = tokio::task::block_in_place(|| run(closed_url))?;
    assert!(!failed.status.success());
    let report: Value = serde_json::from_str(&last_line(&failed))?;
    assert_eq!(report["error"]["reason"], "unreachable");
    db.drop_database().await
}
