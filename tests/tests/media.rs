//! Product media end to end: uploads over REST (multipart) into the deployment's own media
//! store, the media worker processing them from the log, the answers of REST and GraphQL, and
//! what must be refused — a type the bytes belie, a type not accepted, an oversize file, a
//! reused idempotency key with another file, the same picture twice, a storefront token.

use std::collections::HashSet;
use std::io::Cursor;
use std::time::Duration;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};
use shopcore_auth::scopes::{MANAGE_PRODUCTS, VIEW_PRODUCTS};
use shopcore_e2e::TestApp;

fn png(width: u32, height: u32, seed: u8) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x % 251) as u8, (y % 241) as u8, seed])
    });
    let mut bytes = Vec::new();
    DynamicImage::ImageRgb8(image)
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .expect("encode");
    bytes
}

/// A PNG of noise: it does not compress, so it is larger than the gateway's 64 KiB JSON limit.
fn noisy_png(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let image = RgbImage::from_fn(width, height, |_, _| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let [a, b, c, _] = state.to_le_bytes();
        Rgb([a, b, c])
    });
    let mut bytes = Vec::new();
    DynamicImage::ImageRgb8(image)
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .expect("encode");
    bytes
}

fn form(bytes: Vec<u8>, content_type: &str) -> Form {
    let part = Part::bytes(bytes)
        .file_name("upload")
        .mime_str(content_type)
        .expect("mime");
    Form::new().part("file", part)
}

async fn upload(
    app: &TestApp,
    product: &str,
    form: Form,
    headers: &[(&str, &str)],
) -> anyhow::Result<(StatusCode, reqwest::header::HeaderMap, Value)> {
    let mut request = app
        .http
        .post(app.url(&format!("/products/{product}/media")))
        .multipart(form);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    Ok((status, headers, body))
}

async fn create_product(app: &TestApp) -> anyhow::Result<String> {
    let response = app
        .http
        .post(app.url("/products"))
        .json(&json!({"name": "Trail Runner"}))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await?;
    Ok(body["id"].as_str().unwrap_or_default().to_owned())
}

/// Waits until the media at `location` is no longer pending, and returns it.
async fn decided(app: &TestApp, location: &str) -> anyhow::Result<Value> {
    for _ in 0..300 {
        let response = app.http.get(app.url(location)).send().await?;
        if response.status() == StatusCode::OK {
            let media: Value = response.json().await?;
            if media["status"] != "pending" {
                return Ok(media);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("{location} stayed pending")
}

fn stored_objects(app: &TestApp) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![app.media_dir.path().to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(relative) = path.strip_prefix(app.media_dir.path()) {
                found.push(relative.display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_is_processed_and_a_disguised_one_rejected() -> anyhow::Result<()> {
    let mut app = TestApp::spawn().await?;
    let product = create_product(&app).await?;
    let picture = png(640, 320, 7);

    let (status, headers, body) = upload(
        &app,
        &product,
        form(picture.clone(), "image/png").text("altText", "Side view"),
        &[("Idempotency-Key", "photo-1")],
    )
    .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let location = headers["location"].to_str()?.to_owned();
    let media = &body["media"][0];
    assert_eq!(media["status"], "pending");
    assert_eq!(media["altText"], "Side view");
    let media_id = media["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(location, format!("/products/{product}/media/{media_id}"));
    let url = media["url"].as_str().unwrap_or_default().to_owned();
    assert!(
        url.starts_with(&format!("/media/products/{product}/")),
        "{url}"
    );

    // The same key and file: the first answer again, one object.
    let (status, _, again) = upload(
        &app,
        &product,
        form(picture.clone(), "image/png").text("altText", "Side view"),
        &[("Idempotency-Key", "photo-1")],
    )
    .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(again["media"][0]["id"], media_id.as_str());
    assert_eq!(again["media"].as_array().map(Vec::len), Some(1));
    // The same key with another file: 422, and the other file is not kept.
    let (status, _, problem) = upload(
        &app,
        &product,
        form(png(20, 20, 1), "image/png"),
        &[("Idempotency-Key", "photo-1")],
    )
    .await?;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(stored_objects(&app).len(), 1, "{:?}", stored_objects(&app));
    // The same picture without a key: a conflict naming the first.
    let (status, _, problem) =
        upload(&app, &product, form(picture.clone(), "image/png"), &[]).await?;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["field"], "file");
    assert!(problem["detail"]
        .as_str()
        .unwrap_or_default()
        .contains(&media_id));
    assert_eq!(
        stored_objects(&app).len(),
        1,
        "the first upload's object stays"
    );

    // HTML declared as a JPEG is stored, then refused by the worker from its bytes.
    let (status, headers, body) = upload(
        &app,
        &product,
        form(
            b"<html><script>alert(1)</script></html>".to_vec(),
            "image/jpeg",
        ),
        &[],
    )
    .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let disguised = headers["location"].to_str()?.to_owned();
    let disguised_url = body["media"][1]["url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let metrics = app.start_media_worker().await?;
    let processed = decided(&app, &location).await?;
    assert_eq!(processed["status"], "processed", "{processed}");
    assert_eq!(processed["contentType"], "image/png");
    assert_eq!(
        (processed["width"].as_u64(), processed["height"].as_u64()),
        (Some(640), Some(320))
    );
    assert_eq!(processed["sizeBytes"].as_u64(), Some(picture.len() as u64));
    let original = app.http.get(app.url(&url)).send().await?;
    assert_eq!(original.status(), StatusCode::OK);
    assert_eq!(original.headers()["content-type"], "image/png");
    assert_eq!(original.headers()["x-content-type-options"], "nosniff");
    assert_eq!(original.bytes().await?.as_ref(), picture.as_slice());
    let thumbnail_url = processed["thumbnailUrl"].as_str().unwrap_or_default();
    let thumbnail = app.http.get(app.url(thumbnail_url)).send().await?;
    assert_eq!(thumbnail.status(), StatusCode::OK);
    let thumbnail = image::load_from_memory(&thumbnail.bytes().await?)?;
    assert_eq!((thumbnail.width(), thumbnail.height()), (256, 128));

    let rejected = decided(&app, &disguised).await?;
    assert_eq!(rejected["status"], "rejected", "{rejected}");
    let reason = rejected["rejectionReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("not a JPEG, PNG, WebP or GIF") && reason.contains("HTML"),
        "{reason}"
    );
    let gone = app.http.get(app.url(&disguised_url)).send().await?;
    assert_eq!(
        gone.status(),
        StatusCode::NOT_FOUND,
        "a refused object is not served"
    );

    // The worker's commands say who and why.
    let metadata: Vec<Value> = sqlx::query_scalar(
        "SELECT metadata FROM events WHERE event_type IN ('ProductMediaProcessed', 'ProductMediaRejected')",
    )
    .fetch_all(&app.pg)
    .await?;
    assert_eq!(metadata.len(), 2);
    assert!(
        metadata.iter().all(|m| m["actor"] == "media-worker"),
        "{metadata:?}"
    );
    let causes: Vec<String> = sqlx::query_scalar(
        "SELECT event_id::text FROM events WHERE event_type = 'ProductMediaAttached'",
    )
    .fetch_all(&app.pg)
    .await?;
    for m in &metadata {
        assert!(causes.iter().any(|c| m["causationId"] == c.as_str()), "{m}");
    }
    let text = app
        .http
        .get(format!("{metrics}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        text.contains(r#"shopcore_media_outcomes_total{outcome="processed"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"shopcore_media_outcomes_total{outcome="rejected"} 1"#),
        "{text}"
    );

    // GraphQL shows the same media.
    let answer: Value = app
        .http
        .post(app.url("/graphql"))
        .json(&json!({"query": format!(
            "{{ product(id: \"{product}\") {{ media {{ id status url thumbnailUrl width rejectionReason }} }} }}"
        )}))
        .send()
        .await?
        .json()
        .await?;
    let media = &answer["data"]["product"]["media"];
    assert_eq!(media[0]["status"], "processed", "{answer}");
    assert_eq!(media[0]["url"], url.as_str());
    assert_eq!(media[0]["width"], 640);
    assert_eq!(media[1]["status"], "rejected");

    // Removing the media deletes its objects.
    let removed = app.http.delete(app.url(&location)).send().await?;
    assert_eq!(removed.status(), StatusCode::OK);
    for _ in 0..100 {
        if stored_objects(&app).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stored_objects(&app), Vec::<String>::new());
    app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_the_gateway_can_refuse_write_nothing() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let product = create_product(&app).await?;
    let events_before = app.event_count().await?;
    let cases: Vec<(Form, StatusCode, &str)> = vec![
        (
            form(b"<p>hi</p>".to_vec(), "text/html"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file",
        ),
        (
            form(b"<svg/>".to_vec(), "image/svg+xml"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file",
        ),
        (
            form(Vec::new(), "image/png"),
            StatusCode::BAD_REQUEST,
            "file",
        ),
        (
            Form::new().text("altText", "no file"),
            StatusCode::BAD_REQUEST,
            "file",
        ),
        (
            form(png(8, 8, 1), "image/png").text("comment", "extra"),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            form(png(8, 8, 2), "image/png").text("altText", "x".repeat(501)),
            StatusCode::BAD_REQUEST,
            "altText",
        ),
        (
            form(vec![0xFF; 10 * 1024 * 1024 + 1], "image/jpeg"),
            StatusCode::PAYLOAD_TOO_LARGE,
            "file",
        ),
    ];
    for (form, expected, field) in cases {
        let (status, headers, problem) = upload(&app, &product, form, &[]).await?;
        assert_eq!(status, expected, "{problem}");
        assert_eq!(headers["content-type"], "application/problem+json");
        assert_eq!(problem["field"], field, "{problem}");
    }
    // Not a form at all.
    let response = app
        .http
        .post(app.url(&format!("/products/{product}/media")))
        .json(&json!({"file": "aGVsbG8="}))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // An unknown product: 404, and the object written for it is gone again.
    let (status, _, _) = upload(
        &app,
        &uuid::Uuid::now_v7().to_string(),
        form(png(8, 8, 3), "image/png"),
        &[],
    )
    .await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A storefront token may read products but never upload.
    let storefront = app.token(
        "shop",
        &[VIEW_PRODUCTS, MANAGE_PRODUCTS],
        Some(uuid::Uuid::now_v7()),
    )?;
    let response = reqwest::Client::new()
        .post(app.url(&format!("/products/{product}/media")))
        .bearer_auth(storefront)
        .multipart(form(png(8, 8, 4), "image/png"))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // No token: 401.
    let response = reqwest::Client::new()
        .post(app.url(&format!("/products/{product}/media")))
        .multipart(form(png(8, 8, 5), "image/png"))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(
        app.event_count().await?,
        events_before,
        "nothing was written"
    );
    assert_eq!(
        stored_objects(&app),
        Vec::<String>::new(),
        "and nothing stored"
    );
    // The media route serves only media keys.
    for path in [
        "/media/../../etc/passwd",
        "/media/products/x/y.png",
        "/media/",
    ] {
        let response = reqwest::Client::new().get(app.url(path)).send().await?;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_way_processes_every_upload_exactly_once() -> anyhow::Result<()> {
    let mut app = TestApp::spawn().await?;
    let product = create_product(&app).await?;
    let mut locations = Vec::new();
    for seed in 0..6u32 {
        let picture = noisy_png(600, 400, seed);
        assert!(picture.len() > 500_000, "{} bytes", picture.len());
        let (status, headers, body) =
            upload(&app, &product, form(picture, "image/png"), &[]).await?;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        locations.push(headers["location"].to_str()?.to_owned());
    }
    app.start_media_worker().await?;
    // Kill it as soon as it has decided anything, then start another.
    for _ in 0..300 {
        let done: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE event_type = 'ProductMediaProcessed'",
        )
        .fetch_one(&app.pg)
        .await?;
        if done > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.kill("media-worker").await?;
    let before_restart: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE event_type = 'ProductMediaProcessed'",
    )
    .fetch_one(&app.pg)
    .await?;
    assert!(
        before_restart < 6,
        "the killed worker left work for the next one"
    );
    app.start_media_worker().await?;
    let mut ids = HashSet::new();
    for location in &locations {
        let media = decided(&app, location).await?;
        assert_eq!(media["status"], "processed", "{media}");
        ids.insert(media["id"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(ids.len(), 6);
    let processed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE event_type = 'ProductMediaProcessed'",
    )
    .fetch_one(&app.pg)
    .await?;
    assert_eq!(processed, 6, "each upload is decided once");
    // Six originals and six thumbnails.
    assert_eq!(stored_objects(&app).len(), 12, "{:?}", stored_objects(&app));
    app.cleanup().await
}
