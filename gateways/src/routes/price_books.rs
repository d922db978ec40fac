//! `/price-books`: the price books of the MySQL read model, and a book's base prices a page
//! at a time (a book may hold many thousands). A platform token with `view_prices`. Books and
//! their prices are written over gRPC (`PriceBookCommands`, see the README).

use std::collections::BTreeMap;

use axum::extract::Query;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shopcore_projections::pricing::read_model::{BasePriceView, PriceBookView};
use uuid::Uuid;

use super::price_rules::{page_limit, with_headers};
use super::pricing::{currency, reads_at, sku, unavailable, PricingCaller};
use crate::problem::{ApiPath, Problem};

/// A page of price books.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PriceBookPageView {
    pub items: Vec<PriceBookView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A price book with a page of its prices (by SKU, then currency).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PriceBookDetailView {
    #[serde(flatten)]
    pub book: PriceBookView,
    pub prices: Vec<BasePriceView>,
    /// Pass as `cursor` for the next page of prices; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn known(query: &BTreeMap<String, String>, names: &[&str]) -> Result<(), Problem> {
    match query.keys().find(|k| !names.contains(&k.as_str())) {
        None => Ok(()),
        Some(name) => Err(Problem::invalid(
            name.chars().take(64).collect::<String>(),
            format!(
                "is not a parameter of this operation ({})",
                names.join(", ")
            ),
        )),
    }
}

/// The `cursor` of a book's prices: `<sku>/<currency>` of the previous page's last price.
fn price_cursor(cursor: &str) -> Result<(&str, &str), Problem> {
    let invalid = || Problem::invalid("cursor", "must be the nextCursor of a previous page");
    let (after_sku, after_currency) = cursor.split_once('/').ok_or_else(invalid)?;
    sku("cursor", after_sku).map_err(|_| invalid())?;
    currency("cursor", after_currency).map_err(|_| invalid())?;
    Ok((after_sku, after_currency))
}

/// Read a price book with a page of its prices.
#[utoipa::path(
    get, path = "/price-books/{id}", tag = "pricing",
    params(
        ("id" = Uuid, Path, description = "Price book id"),
        ("sku" = Option<String>, Query, description = "Only the prices of this SKU"),
        ("limit" = Option<u32>, Query, description = "Prices per page, 1 to 100 (20)"),
        ("cursor" = Option<String>, Query, description = "The `nextCursor` of the previous page (`<sku>/<currency>`)"),
        ("Shopcore-Min-Position" = Option<String>, Header, description = "A `Shopcore-Position` token: wait (briefly) until the pricing read model has reached it; a token that names no event is 400"),
    ),
    responses(
        (status = 200, body = PriceBookDetailView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_price_book(
    caller: PricingCaller,
    ApiPath(id): ApiPath<Uuid>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    caller.back_office()?;
    known(&query, &["sku", "limit", "cursor"])?;
    if let Some(value) = query.get("sku") {
        sku("sku", value)?;
    }
    let after = query.get("cursor").map(|c| price_cursor(c)).transpose()?;
    let limit = page_limit(query.get("limit"))?;
    reads_at(&caller.state, &headers).await?;
    let reads = &caller.state.pricing_reads;
    let book = reads
        .price_book(id)
        .await
        .map_err(|e| unavailable(&e))?
        .ok_or_else(|| Problem::not_found(format!("no price book {id}")))?;
    let page = reads
        .price_book_prices(id, query.get("sku").map(String::as_str), after, limit)
        .await
        .map_err(|e| unavailable(&e))?;
    let (version, position) = (book.version, book.position.clone());
    let view = PriceBookDetailView {
        book,
        prices: page.items,
        next_cursor: page.next,
    };
    Ok(with_headers(
        axum::Json(view).into_response(),
        version,
        &position,
        None,
    ))
}

/// List price books by id, a page at a time.
#[utoipa::path(
    get, path = "/price-books", tag = "pricing",
    params(
        ("limit" = Option<u32>, Query, description = "Books per page, 1 to 100 (20)"),
        ("cursor" = Option<String>, Query, description = "The `nextCursor` of the previous page"),
        ("Shopcore-Min-Position" = Option<String>, Header, description = "A `Shopcore-Position` token: wait (briefly) until the pricing read model has reached it"),
    ),
    responses(
        (status = 200, body = PriceBookPageView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_price_books(
    caller: PricingCaller,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    caller.back_office()?;
    known(&query, &["limit", "cursor"])?;
    let after = match query.get("cursor") {
        None => None,
        Some(cursor) => Some(Uuid::parse_str(cursor).map_err(|_| {
            Problem::invalid("cursor", "must be the nextCursor of a previous page")
        })?),
    };
    let limit = page_limit(query.get("limit"))?;
    reads_at(&caller.state, &headers).await?;
    let page = caller
        .state
        .pricing_reads
        .price_books(after, limit)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(axum::Json(PriceBookPageView {
        items: page.items,
        next_cursor: page.next,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_cursors_name_a_sku_and_a_currency() {
        assert_eq!(price_cursor("TR-42/EUR").ok(), Some(("TR-42", "EUR")));
        for bad in ["TR-42", "TR-42/eur", "/EUR", "TR 42/EUR", "TR-42/EUR/USD"] {
            let problem = price_cursor(bad).expect_err(bad);
            assert_eq!(problem.field.as_deref(), Some("cursor"));
        }
    }
}
