//! Customer addresses over REST: add, change, remove, with the same auth, limits, idempotency
//! and read-your-writes rules as the other customer writes. The real processes over HTTP.

use reqwest::StatusCode;
use serde_json::{json, Value};
use shopcore_auth::scopes::MANAGE_MY_PROFILE;
use shopcore_e2e::TestApp;
use uuid::Uuid;

fn home(line1: &str) -> Value {
    json!({"label": "home", "line1": line1, "city": "Berlin", "postalCode": "10115", "country": "de"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn addresses_are_added_changed_and_removed() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let created = app
        .http
        .post(app.url("/customers"))
        .json(&json!({"email": "addr@example.com", "firstName": "Ad", "lastName": "Dress"}))
        .send()
        .await?;
    let id = created.json::<Value>().await?["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let base = format!("/customers/{id}/addresses");

    // Added, with an idempotency key: a retry adds nothing and names the same address.
    let add = || {
        app.http
            .post(app.url(&base))
            .header("idempotency-key", "add-home")
            .json(&home("Unter den Linden 1"))
            .send()
    };
    let added = add().await?;
    assert_eq!(added.status(), StatusCode::CREATED);
    let location = added.headers()["location"].to_str()?.to_owned();
    let address_id = location.rsplit('/').next().expect("address id").to_owned();
    assert!(location.starts_with(&format!("{base}/")), "{location}");
    let body: Value = added.json().await?;
    assert_eq!(body["addresses"][0]["id"], address_id);
    assert_eq!(
        body["addresses"][0]["country"], "DE",
        "normalised by the domain"
    );
    let retried = add().await?;
    assert_eq!(retried.status(), StatusCode::CREATED);
    assert_eq!(retried.headers()["location"], location.as_str());
    assert_eq!(app.event_count().await?, 2, "registered + one address");

    let changed = app
        .http
        .put(app.url(&format!("{base}/{address_id}")))
        .header("if-match", "\"2\"")
        .json(&home("Friedrichstraße 43"))
        .send()
        .await?;
    assert_eq!(changed.status(), StatusCode::OK);
    let at = changed.headers()["shopcore-position"].to_str()?.to_owned();
    let read: Value = app
        .http
        .get(app.url(&format!("/customers/{id}")))
        .header("shopcore-min-position", &at)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(read["addresses"][0]["line1"], "Friedrichstraße 43");

    let unknown = app
        .http
        .delete(app.url(&format!("{base}/{}", Uuid::new_v4())))
        .send()
        .await?;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let removed = app
        .http
        .delete(app.url(&format!("{base}/{address_id}")))
        .send()
        .await?;
    assert_eq!(removed.status(), StatusCode::OK);
    assert_eq!(removed.json::<Value>().await?["addresses"], json!([]));

    let bad_id = app
        .http
        .put(app.url(&format!("{base}/not-a-uuid")))
        .json(&home("x"))
        .send()
        .await?;
    assert_eq!(bad_id.status(), StatusCode::BAD_REQUEST);
    assert_eq!(bad_id.json::<Value>().await?["field"], "addressId");
    app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_most_addresses_allowed_and_a_customer_token_on_its_own_addresses() -> anyhow::Result<()>
{
    let app = TestApp::spawn().await?;
    let mut ids = Vec::new();
    for email in ["full@example.com", "other@example.com"] {
        let created = app
            .http
            .post(app.url("/customers"))
            .json(&json!({"email": email, "firstName": "Fu", "lastName": "Ll"}))
            .send()
            .await?;
        ids.push(
            created.json::<Value>().await?["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let (mine, theirs) = (&ids[0], &ids[1]);
    let token = app.token(
        "storefront",
        &[MANAGE_MY_PROFILE],
        Some(Uuid::parse_str(mine)?),
    )?;
    let client = reqwest::Client::new();
    let max = shopcore_domain::customer::limits::MAX_ADDRESSES;
    for n in 0..max {
        let response = client
            .post(app.url(&format!("/customers/{mine}/addresses")))
            .bearer_auth(&token)
            .json(&home(&format!("Street {n}")))
            .send()
            .await?;
        assert_eq!(response.status(), StatusCode::CREATED, "address {n}");
    }
    let events = app.event_count().await?;
    let one_too_many = client
        .post(app.url(&format!("/customers/{mine}/addresses")))
        .bearer_auth(&token)
        .json(&home("One too many"))
        .send()
        .await?;
    assert_eq!(one_too_many.status(), StatusCode::BAD_REQUEST);
    assert_eq!(one_too_many.json::<Value>().await?["field"], "addresses");
    let someone_elses = client
        .post(app.url(&format!("/customers/{theirs}/addresses")))
        .bearer_auth(&token)
        .json(&home("Not mine"))
        .send()
        .await?;
    assert_eq!(someone_elses.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.event_count().await?, events, "nothing written");
    app.cleanup().await
}
