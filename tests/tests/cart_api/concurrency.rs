//! The REST optimistic-locking race: 16 writers with one `If-Match`.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_rest_writers_with_one_if_match_make_one_change_and_lose_none() -> anyhow::Result<()>
{
    let mut shop = Shop::start(&[]).await?;
    let skus: Vec<String> = (0..16).map(|n| format!("SKU-{n:02}")).collect();
    let prices: Vec<(&str, i64)> = skus.iter().map(|s| (s.as_str(), 100 + 7)).collect();
    shop.price(&prices).await?;
    let (_, id, _) = shop.open(None, json!({"currency": "EUR"})).await?;
    let items = format!("/carts/{id}/items");
    let first = shop
        .write(
            Method::POST,
            &items,
            None,
            None,
            Some(json!({"sku": "SKU-00", "quantity": 1})),
        )
        .await?;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let etag = first.header("etag");
    assert_eq!(etag, "\"2\"");
    let writes = skus.iter().map(|sku| {
        let request = shop
            .req(Method::POST, &items, None)
            .header("if-match", etag.as_str())
            .json(&json!({"sku": sku, "quantity": 2}));
        shop.send(request)
    });
    let outcomes = futures::future::try_join_all(writes).await?;
    let won: Vec<&Answer> = outcomes.iter().filter(|a| a.status.is_success()).collect();
    assert_eq!(won.len(), 1, "{outcomes:?}");
    assert_eq!(won[0].header("etag"), "\"3\"");
    for lost in outcomes.iter().filter(|a| !a.status.is_success()) {
        assert_eq!(lost.status, StatusCode::CONFLICT, "{}", lost.body);
        assert_eq!(
            lost.body["type"],
            "https://shopcore.dev/problems/version-conflict"
        );
        assert_eq!(lost.body["currentVersion"], 3, "{}", lost.body);
    }
    // The losers retry with the version they were told; no update is lost.
    let mut pending: Vec<(String, String)> = outcomes
        .iter()
        .zip(&skus)
        .filter(|(a, _)| !a.status.is_success())
        .map(|(a, sku)| (sku.clone(), format!("\"{}\"", a.body["currentVersion"])))
        .collect();
    let mut last_position = won[0].header("shopcore-position");
    while let Some((sku, version)) = pending.pop() {
        let retried = shop
            .send(
                shop.req(Method::POST, &items, None)
                    .header("if-match", version)
                    .json(&json!({"sku": sku, "quantity": 2})),
            )
            .await?;
        match retried.status {
            StatusCode::OK => last_position = retried.header("shopcore-position"),
            StatusCode::CONFLICT => {
                pending.push((sku, format!("\"{}\"", retried.body["currentVersion"])))
            }
            other => panic!("{other}: {}", retried.body),
        }
    }
    // The read at the last write equals the fold of the cart's events.
    let read = shop.read(&id, None, None, &last_position).await?;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    let (folded, version) = shop.fold(&id).await?;
    assert_eq!(version, 18);
    assert_eq!(read.body["version"], version);
    assert_eq!(read.header("etag"), format!("\"{version}\""));
    let folded_lines: BTreeMap<String, (u64, i64)> = folded
        .lines
        .iter()
        .map(|(sku, l)| {
            (
                sku.clone(),
                (u64::from(l.quantity), l.price.unit_price.amount()),
            )
        })
        .collect();
    assert_eq!(lines(&read.body), folded_lines);
    assert_eq!(folded_lines.len(), 16);
    assert_eq!(
        folded_lines["SKU-00"],
        (3, 107),
        "the first line got its second add"
    );
    let totals = folded.totals()?;
    assert_eq!(read.body["subtotal"]["amount"], totals.subtotal.amount());
    assert_eq!(read.body["total"]["amount"], totals.total.amount());
    let expires: chrono::DateTime<chrono::Utc> = read.body["expiresAt"]
        .as_str()
        .unwrap_or_default()
        .parse()?;
    assert_eq!(Some(expires), folded.expires_at);
    assert_eq!(read.body["status"], "open");
    shop.app.cleanup().await
}
