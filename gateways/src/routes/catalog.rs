//! `/products` and `/categories`: reads of the catalog read model (product documents in
//! CouchDB, the category tree in MySQL), with read-your-writes through
//! `Shopcore-Min-Position`. Reading needs the scope `view_products`.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Serialize;
use shopcore_auth::scopes::VIEW_PRODUCTS;
use shopcore_auth::Principal;
use shopcore_domain::catalog::values::{
    clean_sku, is_category_key, MAX_ATTRIBUTE_TEXT_CHARS, MAX_NAME_CHARS,
};
use shopcore_domain::catalog::ProductStatus;
use shopcore_event_store::LogPosition;
use shopcore_projections::catalog::read_model::{CatalogReadError, ProductFilter, ProductView};
use shopcore_projections::catalog::taxonomy::CategoryRow;
use shopcore_proto::ErrorCode;
use uuid::Uuid;

use super::{min_position, AppState, POSITION_HEADER};
use crate::problem::{ApiPath, Problem};

/// Products per page when `limit` is not given, and at most.
pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;

/// A page of products.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductPageView {
    pub items: Vec<ProductView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The category tree, depth first (siblings by position, then key).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CategoryTreeView {
    pub categories: Vec<CategoryRow>,
}

pub(crate) fn unavailable(error: &CatalogReadError) -> Problem {
    match error {
        CatalogReadError::NotYetAt { wanted, reached } => {
            let mut problem = Problem::new(
                ErrorCode::Unavailable,
                format!(
                    "the read model is at position {reached}, not yet at {wanted}; retry shortly"
                ),
            );
            problem.retry_after_seconds = Some(1);
            problem
        }
        other => {
            tracing::warn!(error = %other, "catalog read model unavailable");
            let mut problem = Problem::new(
                ErrorCode::Unavailable,
                "the catalog read model is unavailable; retry shortly",
            );
            problem.retry_after_seconds = Some(1);
            problem
        }
    }
}

/// Waits for the product documents to reach the request's `Shopcore-Min-Position`, if any.
async fn products_at(state: &AppState, headers: &HeaderMap) -> Result<(), Problem> {
    let wanted = min_position(state, headers).await?;
    if wanted != LogPosition::START {
        state
            .catalog
            .wait_for_products(wanted, state.read_your_writes_timeout)
            .await
            .map_err(|e| unavailable(&e))?;
    }
    Ok(())
}

/// The product `id` once the catalog has reached the request's `Shopcore-Min-Position`; 404
/// when it is unknown or discontinued.
pub(crate) async fn product_at_position(
    state: &AppState,
    headers: &HeaderMap,
    id: Uuid,
) -> Result<ProductView, Problem> {
    products_at(state, headers).await?;
    let product = state
        .catalog
        .product(id)
        .await
        .map_err(|e| unavailable(&e))?
        .ok_or_else(|| Problem::not_found(format!("no product {id}")))?;
    // DELETE discontinues: the product is gone from the API (its document and events stay,
    // and `GET /products?status=discontinued` lists it for back-office use).
    if product.status == "discontinued" {
        return Err(Problem::not_found(format!("product {id} is discontinued")));
    }
    Ok(product)
}

/// Read a product.
#[utoipa::path(
    get, path = "/products/{id}", tag = "products",
    params(
        ("id" = Uuid, Path, description = "Product id"),
        ("Shopcore-Min-Position" = Option<String>, Header, description = "A `Shopcore-Position` token: wait (briefly) until the catalog has reached it; a token that names no event is 400"),
    ),
    responses(
        (status = 200, body = ProductView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product, or it was discontinued (`DELETE`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The catalog has not reached `Shopcore-Min-Position` in time, or is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_product(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    principal
        .require(VIEW_PRODUCTS)
        .map_err(Problem::forbidden)?;
    let product = product_at_position(&state, &headers, id).await?;
    let mut response = axum::Json(&product).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("\"{}\"", product.version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&product.position) {
        response.headers_mut().insert(POSITION_HEADER, value);
    }
    Ok(response)
}

/// The filters and page of `GET /products`, each checked and named when wrong.
pub(crate) fn list_query(
    query: &BTreeMap<String, String>,
) -> Result<(ProductFilter, Option<Uuid>, usize), Problem> {
    let mut filter = ProductFilter::default();
    if let Some(category) = query.get("category") {
        if !is_category_key(category) {
            return Err(Problem::invalid(
                "category",
                "must be a category key: lower-case letters and digits joined by '-'",
            ));
        }
        filter.category = Some(category.clone());
    }
    if let Some(sku) = query.get("sku") {
        let clean = clean_sku(sku).map_err(|reason| Problem::invalid("sku", reason))?;
        if clean != *sku {
            return Err(Problem::invalid("sku", "must not have surrounding spaces"));
        }
        filter.sku = Some(clean);
    }
    if let Some(q) = query.get("q") {
        let prefix = shopcore_domain::text::clean(q)
            .map_err(|issue| Problem::invalid("q", issue.reason()))?;
        if prefix.is_empty() || prefix.chars().count() > MAX_NAME_CHARS {
            return Err(Problem::invalid(
                "q",
                format!("must be 1 to {MAX_NAME_CHARS} characters of a product name's start"),
            ));
        }
        filter.name_prefix = Some(prefix);
    }
    if let Some(attribute) = query.get("attribute") {
        let invalid = || {
            Problem::invalid(
                "attribute",
                "must be <key>:<value>, the key as product attributes name them",
            )
        };
        let (key, value) = attribute.split_once(':').ok_or_else(invalid)?;
        let key_ok = key.len() <= 64
            && key.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let value = shopcore_domain::text::clean(value)
            .map_err(|issue| Problem::invalid("attribute", issue.reason()))?;
        if !key_ok || value.is_empty() || value.chars().count() > MAX_ATTRIBUTE_TEXT_CHARS {
            return Err(invalid());
        }
        filter.attribute = Some((key.to_owned(), value));
    }
    if let Some(status) = query.get("status") {
        filter.status = Some(match status.as_str() {
            "draft" => ProductStatus::Draft,
            "published" => ProductStatus::Published,
            "discontinued" => ProductStatus::Discontinued,
            _ => {
                return Err(Problem::invalid(
                    "status",
                    "must be draft, published or discontinued",
                ))
            }
        });
    }
    let after = match query.get("cursor") {
        None => None,
        Some(cursor) => Some(Uuid::parse_str(cursor).map_err(|_| {
            Problem::invalid("cursor", "must be the nextCursor of a previous page")
        })?),
    };
    let limit = match query.get("limit") {
        None => DEFAULT_PAGE,
        Some(limit) => limit
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                Problem::invalid("limit", format!("must be a number from 1 to {MAX_PAGE}"))
            })?,
    };
    Ok((filter, after, limit))
}

/// List products, filtered, a page at a time.
#[utoipa::path(
    get, path = "/products", tag = "products",
    params(
        ("category" = Option<String>, Query, description = "Only products in this category (its key; directly, not through a subcategory)"),
        ("sku" = Option<String>, Query, description = "Only the product with a variant of this SKU"),
        ("q" = Option<String>, Query, description = "Only products whose name starts with this text (as stored: case-sensitive, NFC)"),
        ("attribute" = Option<String>, Query, description = "Only products with this attribute, as `<key>:<value>` (`material:cotton`, `weight_grams:280`, `waterproof:true`; a text list matches when it holds the value)"),
        ("status" = Option<String>, Query, description = "draft, published or discontinued; without it, draft and published products"),
        ("limit" = Option<u32>, Query, description = "Products per page, 1 to 100 (20)"),
        ("cursor" = Option<String>, Query, description = "The `nextCursor` of the previous page"),
        ("Shopcore-Min-Position" = Option<String>, Header, description = "A `Shopcore-Position` token: wait (briefly) until the catalog has reached it"),
    ),
    responses(
        (status = 200, description = "Products in creation order", body = ProductPageView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_products(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    principal
        .require(VIEW_PRODUCTS)
        .map_err(Problem::forbidden)?;
    let (filter, after, limit) = list_query(&query)?;
    products_at(&state, &headers).await?;
    let page = state
        .catalog
        .products(&filter, after, limit)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(axum::Json(ProductPageView {
        items: page.items,
        next_cursor: page.next.map(|id| id.to_string()),
    })
    .into_response())
}

/// The category tree.
#[utoipa::path(
    get, path = "/categories", tag = "products",
    params(
        ("Shopcore-Min-Position" = Option<String>, Header, description = "A `Shopcore-Position` token: wait (briefly) until the tree has reached it"),
    ),
    responses(
        (status = 200, body = CategoryTreeView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_categories(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    principal
        .require(VIEW_PRODUCTS)
        .map_err(Problem::forbidden)?;
    let wanted = min_position(&state, &headers).await?;
    if wanted != LogPosition::START {
        state
            .catalog
            .wait_for_categories(wanted, state.read_your_writes_timeout)
            .await
            .map_err(|e| unavailable(&e))?;
    }
    let categories = state
        .catalog
        .categories()
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(axum::Json(CategoryTreeView { categories }).into_response())
}
