//! The catalog change feed against the real CouchDB-API server (pouchdb-server) and the real
//! broker (tansu), with the schema registry double. Documents written into the catalog
//! database as another writer would — good ones, one of each drift kind, garbage, a design
//! document, a deletion — come out on Kafka as the policy says, and the feed goes on past them;
//! a restarted feed resumes from its checkpoint without publishing again what the broker
//! acknowledged; a CouchDB killed and restarted under it loses nothing.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use schema_registry_converter::async_impl::avro::AvroDecoder;
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use serde_json::{json, Value};
use shopcore_commands::catalog_feed::{
    CatalogFeed, CatalogFeedSettings, DriftPolicy, FeedState, StepReport,
};
use shopcore_commands::testing::{consume, kafka_brokers, Consumed};
use shopcore_couch::testing::{couchdb_url, OwnCouch};
use shopcore_couch::CouchDb;
use shopcore_event_schemas::documents::{DocumentSchema, DriftKind};
use shopcore_event_schemas::registry_double::RegistryDouble;
use uuid::Uuid;

const DOCUMENTS: &str = "catalog.product.document.v1";
const DEAD_LETTERS: &str = "catalog.product.document.v1.dlq";

fn prefix() -> String {
    format!("t{}.", &Uuid::new_v4().simple().to_string()[..10])
}

/// A product document as the projector writes it.
fn product(id: &str, name: &str, sku: &str) -> Value {
    json!({
        "_id": id,
        "type": "product",
        "productId": id,
        "name": name,
        "description": "Ünïcode and\nlines",
        "brand": null,
        "attributes": {
            "colour": { "type": "text", "value": "red" },
            "rrp": { "type": "money", "value": { "amount": 12900, "currency": "EUR" } },
            "tags": { "type": "textList", "value": ["trail"] }
        },
        "variants": [{
            "variantId": Uuid::now_v7().to_string(),
            "sku": sku,
            "attributes": { "size": { "type": "integer", "value": 42 } }
        }],
        "skus": [sku],
        "categories": ["shoes"],
        "media": [{
            "mediaId": Uuid::now_v7().to_string(),
            "uri": format!("media/{id}.jpg"),
            "contentType": "image/jpeg",
            "altText": "side view"
        }],
        "status": "published",
        "createdAt": "2026-11-30T10:00:00Z",
        "updatedAt": "2026-12-01T07:00:00.123456Z",
        "version": 4,
        "logPosition": "1042-17"
    })
}

/// `doc` without `null` fields and without CouchDB's `_rev`, to compare what was written with
/// what was decoded.
fn comparable(doc: &Value) -> Value {
    match doc {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .filter(|(k, v)| !v.is_null() && k.as_str() != "_rev")
                .map(|(k, v)| (k.clone(), comparable(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(comparable).collect()),
        other => other.clone(),
    }
}

/// Writes documents as another writer would; returns their new revisions by id.
async fn write(db: &CouchDb, docs: &[Value]) -> anyhow::Result<HashMap<String, String>> {
    let results = db.bulk_docs(docs).await?;
    let mut revs = HashMap::new();
    for result in results {
        anyhow::ensure!(
            result.error.is_none(),
            "{} not written: {:?}",
            result.id,
            result.error
        );
        revs.insert(result.id, result.rev.unwrap_or_default());
    }
    Ok(revs)
}

/// Steps the feed until a batch finds nothing new; the reports of the batches that did.
async fn drain(feed: &CatalogFeed) -> anyhow::Result<Vec<StepReport>> {
    let mut reports = Vec::new();
    for _ in 0..100 {
        let report = feed.step().await?;
        if report.changes == 0 {
            return Ok(reports);
        }
        reports.push(report);
    }
    anyhow::bail!("the feed never caught up")
}

async fn read(
    settings: &CatalogFeedSettings,
    topic: &str,
    expected: usize,
) -> anyhow::Result<Vec<Consumed>> {
    consume(
        &settings.kafka_brokers,
        &[format!("{}{topic}", settings.topic_prefix)],
        settings.topic_partitions,
        expected,
        Duration::from_secs(2),
        Duration::from_secs(30),
    )
    .await
}

/// The document messages decoded: key, `document_rev` header, `drift` header, JSON document
/// (`None` for a tombstone).
async fn decoded(
    registry: &RegistryDouble,
    messages: &[Consumed],
) -> anyhow::Result<Vec<(String, String, Option<String>, Option<Value>)>> {
    let decoder = AvroDecoder::new(SrSettings::new(registry.url()));
    let schema = DocumentSchema::product()?;
    let mut out = Vec::new();
    for message in messages {
        let document = if message.payload.is_empty() {
            None
        } else {
            let value = decoder.decode(Some(&message.payload)).await?.value;
            Some(schema.to_json(&value))
        };
        out.push((
            message.key.clone(),
            message
                .header("document_rev")
                .unwrap_or_default()
                .to_owned(),
            message.header("drift").map(str::to_owned),
            document,
        ));
    }
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    Ok(out)
}

/// `shopcore_catalog_drift_total{kind="…"}` as `/metrics` shows it.
fn drift_metric(kind: DriftKind) -> f64 {
    let line = format!(
        "shopcore_catalog_drift_total{{kind=\"{}\"}} ",
        kind.as_str()
    );
    shopcore_telemetry::metrics_text()
        .lines()
        .find_map(|l| l.strip_prefix(&line).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_drift_kind_is_handled_and_a_restart_resumes_from_the_checkpoint(
) -> anyhow::Result<()> {
    let registry = RegistryDouble::spawn("127.0.0.1:0".parse()?).await?;
    let db_name = format!("shopcore_feed_test_{}", Uuid::new_v4().simple());
    let db = CouchDb::new(&couchdb_url(), &db_name)?;
    db.ensure_database().await?;
    let drift_before: Vec<f64> = DriftKind::ALL.iter().map(|k| drift_metric(*k)).collect();

    let id = |n: u32| format!("0190a0b0-0000-7000-8000-{n:012}");
    let good_1 = product(&id(1), "Trail shoe", "TS-41");
    let good_2 = product(&id(2), "Road shoe", "RS-41");
    let mut unknown = product(&id(3), "Drifting shoe", "DS-41");
    unknown["loyaltyPoints"] = json!(12);
    unknown["variants"][0]["ean"] = json!("4006381333931");
    let mut missing = product(&id(4), "Nameless", "NL-41");
    missing.as_object_mut().unwrap().remove("name");
    let mut retyped = product(&id(5), "Retyped", "RT-41");
    retyped["version"] = json!("4");
    retyped["variants"][0]["sku"] = json!(41);
    // CouchDB refuses documents that are not JSON objects (400) and ids that are not strings,
    // so the worst another writer can store is an object of the wrong shape.
    let garbage = json!({ "_id": id(6), "hello": "world", "version": [1] });
    let design = json!({ "_id": "_design/reports", "views": { "all": { "map": "function (doc) { emit(doc._id); }" } } });
    let doomed = product(&id(7), "Deleted soon", "DL-41");
    let mut revs = write(
        &db,
        &[
            good_1.clone(),
            good_2.clone(),
            unknown.clone(),
            missing.clone(),
            retyped.clone(),
            garbage.clone(),
            design,
            doomed,
        ],
    )
    .await?;
    let deleted = write(
        &db,
        &[json!({ "_id": id(7), "_rev": revs[&id(7)], "_deleted": true })],
    )
    .await?;
    revs.insert(id(7), deleted[&id(7)].clone());
    let good_8 = product(&id(8), "After the drift", "AD-41");
    revs.extend(write(&db, std::slice::from_ref(&good_8)).await?);

    // Dead-letter policy (the default).
    let mut settings = CatalogFeedSettings::local(
        &couchdb_url(),
        &db_name,
        &kafka_brokers(),
        &registry.url(),
        &prefix(),
    );
    settings.batch_size = 3; // several batches, so the checkpoint moves between them
    let feed = CatalogFeed::new(settings.clone())?;
    let reports = drain(&feed).await?;
    let sum = |f: fn(&StepReport) -> usize| reports.iter().map(f).sum::<usize>();
    assert_eq!(sum(|r| r.changes), 9, "{reports:?}");
    assert_eq!(
        (
            sum(|r| r.published),
            sum(|r| r.tombstones),
            sum(|r| r.dead_lettered),
            sum(|r| r.skipped),
            sum(|r| r.ignored)
        ),
        (4, 1, 3, 0, 1)
    );
    let status = feed.snapshot();
    assert_eq!(status.state, FeedState::Starting, "stepped, not run");
    assert_eq!(
        status.drift,
        BTreeMap::from([
            ("unknown_field", 2),
            ("missing_field", 2),
            ("type_mismatch", 2)
        ]),
        "documents by drift kind: {{unknown, garbage}}, {{missing, garbage}}, {{retyped, garbage}}"
    );
    assert_eq!(status.lag, Some(0));
    let drift_after: Vec<f64> = DriftKind::ALL.iter().map(|k| drift_metric(*k)).collect();
    for ((kind, before), after) in DriftKind::ALL.iter().zip(&drift_before).zip(&drift_after) {
        assert_eq!(
            after - before,
            2.0,
            "shopcore_catalog_drift_total{{kind={kind}}}"
        );
    }

    let messages = read(&settings, DOCUMENTS, 5).await?;
    let documents = decoded(&registry, &messages).await?;
    let expected: Vec<(String, String, Option<String>, Option<Value>)> = {
        let mut without_extras = unknown.clone();
        without_extras
            .as_object_mut()
            .unwrap()
            .remove("loyaltyPoints");
        without_extras["variants"][0]
            .as_object_mut()
            .unwrap()
            .remove("ean");
        let mut expected = vec![
            (id(1), revs[&id(1)].clone(), None, Some(comparable(&good_1))),
            (id(2), revs[&id(2)].clone(), None, Some(comparable(&good_2))),
            (
                id(3),
                revs[&id(3)].clone(),
                Some("unknown_field".to_owned()),
                Some(comparable(&without_extras)),
            ),
            (id(7), revs[&id(7)].clone(), None, None),
            (id(8), revs[&id(8)].clone(), None, Some(comparable(&good_8))),
        ];
        expected.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        expected
    };
    let got: Vec<_> = documents
        .iter()
        .map(|(k, rev, drift, doc)| {
            (
                k.clone(),
                rev.clone(),
                drift.clone(),
                doc.as_ref().map(comparable),
            )
        })
        .collect();
    assert_eq!(
        got, expected,
        "good documents decoded equal to what was written, by id"
    );
    for (key, rev, _, doc) in &documents {
        if let Some(doc) = doc {
            assert_eq!((&doc["_id"], &doc["_rev"]), (&json!(key), &json!(rev)));
        }
    }

    let dead = read(&settings, DEAD_LETTERS, 3).await?;
    let mut dead: Vec<(String, String, String, Value)> = dead
        .iter()
        .map(|m| {
            (
                m.key.clone(),
                m.header("drift").unwrap_or_default().to_owned(),
                m.header("drift_paths").unwrap_or_default().to_owned(),
                serde_json::from_slice(&m.payload).unwrap_or(Value::Null),
            )
        })
        .collect();
    dead.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(dead.len(), 3, "{dead:?}");
    assert_eq!(
        (dead[0].0.as_str(), dead[0].1.as_str(), dead[0].2.as_str()),
        (id(4).as_str(), "missing_field", "name")
    );
    assert_eq!(
        comparable(&dead[0].3),
        comparable(&missing),
        "the raw document"
    );
    assert_eq!(dead[0].3["_rev"], json!(revs[&id(4)]));
    assert_eq!(
        (dead[1].0.as_str(), dead[1].1.as_str(), dead[1].2.as_str()),
        (id(5).as_str(), "type_mismatch", "variants[0].sku,version")
    );
    assert_eq!(dead[2].0, id(6));
    assert_eq!(dead[2].1, "unknown_field,missing_field,type_mismatch");
    assert!(
        dead[2].2.split(',').any(|p| p == "hello") && dead[2].2.split(',').any(|p| p == "version"),
        "{}",
        dead[2].2
    );

    // A second feed of the same database with the skip policy (another prefix, so another
    // checkpoint): the same documents, no dead letters.
    let mut skipping = CatalogFeedSettings::local(
        &couchdb_url(),
        &db_name,
        &kafka_brokers(),
        &registry.url(),
        &prefix(),
    );
    skipping.on_drift = DriftPolicy::Skip;
    let skip_feed = CatalogFeed::new(skipping.clone())?;
    let skip_reports = drain(&skip_feed).await?;
    assert_eq!(
        skip_reports
            .iter()
            .map(|r| (r.published, r.tombstones, r.dead_lettered, r.skipped))
            .fold((0, 0, 0, 0), |a, r| (
                a.0 + r.0,
                a.1 + r.1,
                a.2 + r.2,
                a.3 + r.3
            )),
        (4, 1, 0, 3)
    );
    let skipped_docs = decoded(&registry, &read(&skipping, DOCUMENTS, 5).await?).await?;
    assert_eq!(
        skipped_docs.iter().map(|d| &d.0).collect::<Vec<_>>(),
        expected.iter().map(|d| &d.0).collect::<Vec<_>>()
    );
    assert_eq!(
        read(&skipping, DEAD_LETTERS, 0).await?.len(),
        0,
        "skip publishes no dead letter"
    );

    // A restart resumes from the checkpoint: only what changed since is published.
    drop(feed);
    let mut renamed = good_1.clone();
    renamed["_rev"] = json!(revs[&id(1)]);
    renamed["name"] = json!("Trail shoe II");
    renamed["version"] = json!(5);
    let good_9 = product(&id(9), "After the restart", "AR-41");
    let later = write(&db, &[renamed.clone(), good_9.clone()]).await?;
    let restarted = CatalogFeed::new(settings.clone())?;
    let reports = drain(&restarted).await?;
    assert_eq!(
        reports.iter().map(|r| r.published).sum::<usize>(),
        2,
        "{reports:?}"
    );
    let all = decoded(&registry, &read(&settings, DOCUMENTS, 7).await?).await?;
    let keys_and_revs: Vec<(String, String)> =
        all.iter().map(|d| (d.0.clone(), d.1.clone())).collect();
    let mut wanted: Vec<(String, String)> = expected
        .iter()
        .map(|d| (d.0.clone(), d.1.clone()))
        .collect();
    wanted.push((id(1), later[&id(1)].clone()));
    wanted.push((id(9), later[&id(9)].clone()));
    wanted.sort();
    assert_eq!(
        keys_and_revs, wanted,
        "each revision once: nothing acknowledged was published again"
    );
    let newest = all
        .iter()
        .find(|d| d.1 == later[&id(1)])
        .and_then(|d| d.3.clone())
        .expect("the new revision");
    assert_eq!(newest["name"], json!("Trail shoe II"));

    // A rebuild drops the database, and the checkpoint with it: the feed starts again from 0.
    db.delete_database().await?;
    db.ensure_database().await?;
    let rebuilt = write(&db, &[product(&id(1), "Rebuilt", "TS-41")]).await?;
    let reports = drain(&restarted).await?;
    assert_eq!(
        reports.iter().map(|r| r.published).sum::<usize>(),
        1,
        "{reports:?}"
    );
    let all = decoded(&registry, &read(&settings, DOCUMENTS, 8).await?).await?;
    assert!(all.iter().any(|d| d.0 == id(1) && d.1 == rebuilt[&id(1)]));
    assert_eq!(all.len(), 8);

    db.delete_database().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_couchdb_outage_loses_nothing_and_publishes_nothing_twice() -> anyhow::Result<()> {
    let registry = RegistryDouble::spawn("127.0.0.1:0".parse()?).await?;
    let dir = tempfile::tempdir()?;
    let mut server = OwnCouch::new(dir.path())?;
    let settings = CatalogFeedSettings::local(
        &server.url(),
        "catalog",
        &kafka_brokers(),
        &registry.url(),
        &prefix(),
    );
    let db = CouchDb::new(&server.url(), "catalog")?;

    // The feed starts before CouchDB: it retries, it does not exit.
    let feed = std::sync::Arc::new(CatalogFeed::new(settings.clone())?);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn({
        let feed = feed.clone();
        async move { feed.run(stopped).await }
    });
    wait_for(
        &feed,
        |s| {
            matches!(
                s.state,
                FeedState::Retrying {
                    reason: "couchdb",
                    ..
                }
            )
        },
        "retrying while CouchDB is down",
    )
    .await?;

    server.restart().await?;
    // The database is missing at first, too: that is retried as well.
    tokio::time::sleep(Duration::from_millis(300)).await;
    db.ensure_database().await?;
    let first: Vec<Value> = (0..30)
        .map(|n| {
            product(
                &Uuid::now_v7().to_string(),
                &format!("First {n}"),
                &format!("F{n}"),
            )
        })
        .collect();
    let mut revs = write(&db, &first).await?;
    wait_for(
        &feed,
        |s| s.published == 30,
        "the first documents published",
    )
    .await?;

    server.kill().await?;
    wait_for(
        &feed,
        |s| {
            matches!(
                s.state,
                FeedState::Retrying {
                    reason: "couchdb",
                    ..
                }
            )
        },
        "retrying after the kill",
    )
    .await?;
    server.restart().await?;
    let second: Vec<Value> = (0..30)
        .map(|n| {
            product(
                &Uuid::now_v7().to_string(),
                &format!("Second {n}"),
                &format!("S{n}"),
            )
        })
        .collect();
    revs.extend(write(&db, &second).await?);
    wait_for(
        &feed,
        |s| s.published == 60,
        "the second documents published",
    )
    .await?;
    let _ = stop.send(true);
    running.await?;

    let messages = read(&settings, DOCUMENTS, 60).await?;
    let mut got: Vec<(String, String)> = messages
        .iter()
        .map(|m| {
            (
                m.key.clone(),
                m.header("document_rev").unwrap_or_default().to_owned(),
            )
        })
        .collect();
    got.sort();
    let mut wanted: Vec<(String, String)> = revs.into_iter().collect();
    wanted.sort();
    assert_eq!(
        got, wanted,
        "every document once: the checkpoint survived the kill"
    );
    assert_eq!(feed.snapshot().drift.values().sum::<u64>(), 0);
    server.kill().await?;
    Ok(())
}

/// Polls the feed's status until `condition` holds (at most 60 s).
async fn wait_for(
    feed: &CatalogFeed,
    condition: impl Fn(&shopcore_commands::catalog_feed::FeedStatus) -> bool,
    what: &str,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = feed.snapshot();
        if condition(&status) {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{what}: not reached, status {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
