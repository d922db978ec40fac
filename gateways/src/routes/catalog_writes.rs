//! Catalog writes over REST: products, their variants and categories. Each becomes one gRPC
//! command (scope `manage_products`, a platform token); the answer is built from the command's
//! own result — the product (or the tree) as the command left it, its version (`ETag`) and the
//! write's log position (`Shopcore-Position`) — without waiting for a read model.

use std::collections::BTreeMap;
use std::future::Future;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shopcore_auth::scopes::MANAGE_PRODUCTS;
use shopcore_domain::catalog::{Media, MediaStatus};
use shopcore_projections::catalog::read_model::{
    AttributeView, MediaUrls, MoneyView, ProductView, VariantView,
};
use shopcore_projections::catalog::taxonomy::CategoryRow;
use shopcore_proto::catalog::v1 as pb;
use shopcore_proto::catalog::v1::category_commands_client::CategoryCommandsClient;
use shopcore_proto::catalog::v1::product_commands_client::ProductCommandsClient;
use tonic::transport::Channel;
use uuid::Uuid;

use super::customers::{call, command_options, etag};
use shopcore_projections::catalog::read_model::whole;

/// A field that, when present, holds a value: `null` is refused (absent means "leave it",
/// and a `null` would say nothing else while looking like "clear it").
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A parent key, when given, is a key: the root is said by leaving it out.
fn parent(parent: Option<String>) -> Result<Option<String>, Problem> {
    match parent {
        Some(key) if key.trim().is_empty() => Err(Problem::invalid(
            "parent",
            "must be a category key; leave it out for the root",
        )),
        other => Ok(other),
    }
}
use super::{AppState, POSITION_HEADER};
use crate::auth::BearerToken;
use crate::correlation::CorrelationId;
use crate::problem::{ApiJson, ApiPath, Problem};

/// Body of `POST /products`. The product starts as a draft.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateProduct {
    pub name: String,
    #[serde(default, deserialize_with = "present")]
    pub description: Option<String>,
    /// Empty or absent: no brand.
    #[serde(default, deserialize_with = "present")]
    pub brand: Option<String>,
    /// Keys: lower-case letters, digits and '_', starting with a letter.
    #[serde(default, deserialize_with = "present")]
    pub attributes: Option<BTreeMap<String, AttributeView>>,
    /// Category keys; each must exist in the tree.
    #[serde(default, deserialize_with = "present")]
    pub categories: Option<Vec<String>>,
}

/// Body of `PATCH /products/{id}`: absent fields stay; `attributes` replaces the whole map.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateProduct {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub description: Option<String>,
    /// An empty string removes the brand.
    #[serde(default, deserialize_with = "present")]
    pub brand: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub attributes: Option<BTreeMap<String, AttributeView>>,
}

/// Body of `PUT /products/{id}/categories`: the product's complete list.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignCategories {
    pub categories: Vec<String>,
}

/// Body of `POST /products/{id}/variants`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddVariant {
    /// Unique across the catalog.
    pub sku: String,
    #[serde(default, deserialize_with = "present")]
    pub attributes: Option<BTreeMap<String, AttributeView>>,
}

/// Body of `PATCH /products/{id}/variants/{variantId}`: absent fields stay.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateVariant {
    #[serde(default, deserialize_with = "present")]
    pub sku: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub attributes: Option<BTreeMap<String, AttributeView>>,
}

/// Body of `POST /categories`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCategory {
    /// Lower-case letters and digits joined by '-'; never changes.
    pub key: String,
    pub name: String,
    /// The parent's key; absent for a root category.
    #[serde(default, deserialize_with = "present")]
    pub parent: Option<String>,
    /// Order among its siblings (0).
    #[serde(default, deserialize_with = "whole::some_u32")]
    pub position: Option<u32>,
}

/// Body of `PATCH /categories/{key}`: absent fields stay.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCategory {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "whole::some_u32")]
    pub position: Option<u32>,
}

/// Body of `POST /categories/{key}/move`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MoveCategory {
    /// The new parent's key; absent: to the root.
    #[serde(default, deserialize_with = "present")]
    pub parent: Option<String>,
    #[serde(default, deserialize_with = "whole::some_u32")]
    pub position: Option<u32>,
}

/// The tree after a category command.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaxonomyView {
    /// The tree's version (the `ETag` of category writes).
    pub version: u64,
    #[schema(value_type = String, example = "1042-17")]
    pub position: String,
    pub categories: Vec<CategoryRow>,
}

fn attributes_to_pb(
    attributes: Option<BTreeMap<String, AttributeView>>,
) -> BTreeMap<String, pb::AttributeValue> {
    use pb::attribute_value::Value;
    attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                AttributeView::Text(text) => Value::Text(text),
                AttributeView::Integer(n) => Value::Integer(n),
                AttributeView::Boolean(b) => Value::Boolean(b),
                AttributeView::Money(money) => Value::Money(pb::Money {
                    amount_minor: money.amount,
                    currency: money.currency,
                }),
                AttributeView::TextList(items) => Value::TextList(pb::TextList { items }),
            };
            (key, pb::AttributeValue { value: Some(value) })
        })
        .collect()
}

fn attributes_from_pb(
    attributes: BTreeMap<String, pb::AttributeValue>,
) -> BTreeMap<String, AttributeView> {
    use pb::attribute_value::Value;
    attributes
        .into_iter()
        .filter_map(|(key, value)| {
            let view = match value.value? {
                Value::Text(text) => AttributeView::Text(text),
                Value::Integer(n) => AttributeView::Integer(n),
                Value::Boolean(b) => AttributeView::Boolean(b),
                Value::Money(money) => AttributeView::Money(MoneyView {
                    amount: money.amount_minor,
                    currency: money.currency,
                }),
                Value::TextList(list) => AttributeView::TextList(list.items),
            };
            Some((key, view))
        })
        .collect()
}

/// A media of a command's result, as the domain holds it (to be shown through [`MediaUrls`]).
fn media_from_pb(media: pb::Media) -> Result<Media, Problem> {
    Ok(Media {
        media_id: Uuid::parse_str(&media.media_id).map_err(|e| Problem::internal(&e))?,
        uri: media.uri,
        content_type: media.content_type,
        alt_text: media.alt_text,
        status: match media.status.as_str() {
            "processed" => MediaStatus::Processed,
            "rejected" => MediaStatus::Rejected,
            _ => MediaStatus::Pending,
        },
        checksum_sha256: media.checksum_sha256,
        size_bytes: media.size_bytes,
        width: media.width,
        height: media.height,
        thumbnail_uri: media.thumbnail_uri,
        rejection_reason: media.rejection_reason,
    })
}

/// The answer of a product write: the product from the command's result.
fn product_written(
    status: StatusCode,
    reply: pb::ProductResult,
    urls: &MediaUrls,
) -> Result<Response, Problem> {
    let (Some(result), Some(product)) = (reply.result, reply.product) else {
        return Err(Problem::internal(
            &"the command service sent an incomplete result",
        ));
    };
    let uuid = |text: &str| Uuid::parse_str(text).map_err(|e| Problem::internal(&e));
    let id = uuid(&result.aggregate_id)?;
    let mut variants = product
        .variants
        .into_iter()
        .map(|v| {
            Ok(VariantView {
                id: uuid(&v.variant_id)?,
                sku: v.sku,
                attributes: attributes_from_pb(v.attributes),
            })
        })
        .collect::<Result<Vec<_>, Problem>>()?;
    variants.sort_by(|a, b| a.sku.cmp(&b.sku));
    let view = ProductView {
        id,
        name: product.name,
        description: product.description,
        brand: product.brand,
        attributes: attributes_from_pb(product.attributes),
        variants,
        categories: product.categories,
        media: product
            .media
            .into_iter()
            .map(|m| media_from_pb(m).map(|m| urls.view(&m)))
            .collect::<Result<_, Problem>>()?,
        status: product.status,
        version: result.version,
        position: result.log_position.clone(),
        created_at: None,
        updated_at: None,
    };
    let mut response = (status, axum::Json(view)).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&result.log_position) {
        headers.insert(POSITION_HEADER, value);
    }
    headers.insert(header::ETAG, etag(result.version));
    let location = match (reply.variant_id.as_str(), reply.media_id.as_str()) {
        ("", "") => format!("/products/{id}"),
        ("", media) => format!("/products/{id}/media/{media}"),
        (variant, _) => format!("/products/{id}/variants/{variant}"),
    };
    if matches!(status, StatusCode::CREATED | StatusCode::ACCEPTED) {
        if let Ok(value) = HeaderValue::from_str(&location) {
            headers.insert(header::LOCATION, value);
        }
    }
    Ok(response)
}

/// The answer of a category write: the tree from the command's result.
fn tree_written(status: StatusCode, reply: pb::TaxonomyResult) -> Result<Response, Problem> {
    let Some(result) = reply.result else {
        return Err(Problem::internal(
            &"the command service sent an incomplete result",
        ));
    };
    let view = TaxonomyView {
        version: result.version,
        position: result.log_position.clone(),
        categories: reply
            .categories
            .into_iter()
            .map(|c| CategoryRow {
                depth: u8::try_from(c.path.len()).unwrap_or(u8::MAX),
                path: c.path.join("/"),
                key: c.key,
                name: c.name,
                parent: c.parent,
                position: c.position,
            })
            .collect(),
    };
    let mut response = (status, axum::Json(view)).into_response();
    if let Ok(value) = HeaderValue::from_str(&result.log_position) {
        response.headers_mut().insert(POSITION_HEADER, value);
    }
    response
        .headers_mut()
        .insert(header::ETAG, etag(result.version));
    Ok(response)
}

/// What every catalog write needs from the request: the state, and the caller — a platform
/// token with `manage_products` (refused with 403 otherwise) — with its token and correlation
/// id, which travel on to the command service.
pub struct CatalogWriter {
    state: AppState,
    correlation: CorrelationId,
    token: BearerToken,
}

impl axum::extract::FromRequestParts<AppState> for CatalogWriter {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Problem> {
        let (principal, token, correlation) = super::caller_parts(parts)?;
        principal
            .platform(MANAGE_PRODUCTS)
            .map_err(Problem::forbidden)?;
        Ok(Self {
            state: state.clone(),
            token,
            correlation,
        })
    }
}

impl CatalogWriter {
    pub(crate) fn state(&self) -> &AppState {
        &self.state
    }

    pub(crate) async fn product<M, F>(
        &self,
        status: StatusCode,
        message: M,
        send: impl FnOnce(ProductCommandsClient<Channel>, tonic::Request<M>) -> F,
    ) -> Result<Response, Problem>
    where
        F: Future<Output = Result<tonic::Response<pb::ProductResult>, tonic::Status>>,
    {
        let reply = call(
            &self.state.products,
            &self.correlation,
            &self.token,
            message,
            send,
        )
        .await?;
        product_written(status, reply, self.state.catalog.media_urls())
    }

    async fn tree<M, F>(
        &self,
        status: StatusCode,
        message: M,
        send: impl FnOnce(CategoryCommandsClient<Channel>, tonic::Request<M>) -> F,
    ) -> Result<Response, Problem>
    where
        F: Future<Output = Result<tonic::Response<pb::TaxonomyResult>, tonic::Status>>,
    {
        let reply = call(
            &self.state.categories,
            &self.correlation,
            &self.token,
            message,
            send,
        )
        .await?;
        tree_written(status, reply)
    }
}

/// Create a product (a draft).
#[utoipa::path(
    post, path = "/products", tag = "products",
    request_body = CreateProduct,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "As for POST /customers: retries with the same key and body create the product once; another body is 422"),
    ),
    responses(
        (status = 201, description = "Created, from the command's result; `Location` names it", body = ProductView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A category the tree does not have", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_product(
    writer: CatalogWriter,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateProduct>,
) -> Result<Response, Problem> {
    let request = pb::CreateProductRequest {
        product_id: String::new(),
        name: body.name,
        description: body.description.unwrap_or_default(),
        brand: body.brand,
        attributes: attributes_to_pb(body.attributes),
        categories: body.categories.unwrap_or_default(),
        options: Some(command_options(&headers)?),
    };
    writer
        .product(StatusCode::CREATED, request, |mut c, r| async move {
            c.create_product(r).await
        })
        .await
}

/// Change some fields of a product; the event records the field-level diff.
#[utoipa::path(
    patch, path = "/products/{id}", tag = "products",
    request_body = UpdateProduct,
    params(
        ("id" = Uuid, Path, description = "Product id"),
        ("If-Match" = Option<String>, Header, description = "Expected version; a mismatch is 409"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key and body answer with the first result; another body is 422"),
    ),
    responses(
        (status = 200, body = ProductView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Version conflict, or the product is discontinued", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_product(
    writer: CatalogWriter,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<UpdateProduct>,
) -> Result<Response, Problem> {
    let request = pb::UpdateProductRequest {
        product_id: id.to_string(),
        name: body.name,
        description: body.description,
        brand: body.brand,
        attributes: body.attributes.map(|a| pb::Attributes {
            values: attributes_to_pb(Some(a)),
        }),
        options: Some(command_options(&headers)?),
    };
    writer
        .product(StatusCode::OK, request, |mut c, r| async move {
            c.update_product(r).await
        })
        .await
}

/// Replace the product's categories.
#[utoipa::path(
    put, path = "/products/{id}/categories", tag = "products",
    request_body = AssignCategories,
    params(
        ("id" = Uuid, Path, description = "Product id"),
        ("If-Match" = Option<String>, Header, description = "Expected version; a mismatch is 409"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key and body answer with the first result; another body is 422"),
    ),
    responses(
        (status = 200, body = ProductView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Version conflict, a category the tree does not have, or discontinued", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn assign_categories(
    writer: CatalogWriter,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AssignCategories>,
) -> Result<Response, Problem> {
    let request = pb::AssignCategoriesRequest {
        product_id: id.to_string(),
        categories: body.categories,
        options: Some(command_options(&headers)?),
    };
    writer
        .product(StatusCode::OK, request, |mut c, r| async move {
            c.assign_categories(r).await
        })
        .await
}

/// Add a variant; its SKU is reserved across the catalog.
#[utoipa::path(
    post, path = "/products/{id}/variants", tag = "products",
    request_body = AddVariant,
    params(
        ("id" = Uuid, Path, description = "Product id"),
        ("If-Match" = Option<String>, Header, description = "Expected version; a mismatch is 409"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body add the variant once (and answer with its id); another body is 422"),
    ),
    responses(
        (status = 201, description = "Added; `Location` names the variant", body = ProductView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The SKU is taken, a version conflict, or discontinued", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_variant(
    writer: CatalogWriter,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AddVariant>,
) -> Result<Response, Problem> {
    let request = pb::AddVariantRequest {
        product_id: id.to_string(),
        variant_id: String::new(),
        sku: body.sku,
        attributes: attributes_to_pb(body.attributes),
        options: Some(command_options(&headers)?),
    };
    writer
        .product(StatusCode::CREATED, request, |mut c, r| async move {
            c.add_variant(r).await
        })
        .await
}

/// Change a variant's SKU and/or replace its attributes.
#[utoipa::path(
    patch, path = "/products/{id}/variants/{variantId}", tag = "products",
    request_body = UpdateVariant,
    params(
        ("id" = Uuid, Path, description = "Product id"),
        ("variantId" = Uuid, Path, description = "Variant id"),
        ("If-Match" = Option<String>, Header, description = "Expected version; a mismatch is 409"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key and body answer with the first result; another body is 422"),
    ),
    responses(
        (status = 200, body = ProductView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_variant(
    writer: CatalogWriter,
    ApiPath((id, variant_id)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<UpdateVariant>,
) -> Result<Response, Problem> {
    let request = pb::UpdateVariantRequest {
        product_id: id.to_string(),
        variant_id: variant_id.to_string(),
        sku: body.sku,
        attributes: body.attributes.map(|a| pb::Attributes {
            values: attributes_to_pb(Some(a)),
        }),
        options: Some(command_options(&headers)?),
    };
    writer
        .product(StatusCode::OK, request, |mut c, r| async move {
            c.update_variant(r).await
        })
        .await
}

/// Remove a variant (its SKU is free again).
#[utoipa::path(
    delete, path = "/products/{id}/variants/{variantId}", tag = "products",
    params(
        ("id" = Uuid, Path, description = "Product id"),
        ("variantId" = Uuid, Path, description = "Variant id"),
        ("If-Match" = Option<String>, Header, description = "Expected version; a mismatch is 409"),
    ),
    responses(
        (status = 200, body = ProductView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last variant of a published product, a version conflict, or discontinued", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_variant(
    writer: CatalogWriter,
    ApiPath((id, variant_id)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let request = pb::RemoveVariantRequest {
        product_id: id.to_string(),
        variant_id: variant_id.to_string(),
        options: Some(command_options(&headers)?),
    };
    writer
        .product(StatusCode::OK, request, |mut c, r| async move {
            c.remove_variant(r).await
        })
        .await
}

fn lifecycle(id: Uuid, headers: &HeaderMap) -> Result<pb::ProductLifecycleRequest, Problem> {
    Ok(pb::ProductLifecycleRequest {
        product_id: id.to_string(),
        options: Some(command_options(headers)?),
    })
}

/// Publish a product (it needs a variant). Publishing a published product changes nothing.
#[utoipa::path(
    post, path = "/products/{id}/publish", tag = "products",
    params(
        ("id" = Uuid, Path, description = "Product id"),
        ("If-Match" = Option<String>, Header, description = "Expected version; a mismatch is 409"),
    ),
    responses(
        (status = 200, body = ProductView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No variant, a version conflict, or discontinued", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn publish_product(
    writer: CatalogWriter,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    writer
        .product(
            StatusCode::OK,
            lifecycle(id, &headers)?,
            |mut c, r| async move { c.publish_product(r).await },
        )
        .await
}

/// Back to draft.
#[utoipa::path(
    post, path = "/products/{id}/unpublish", tag = "products",
    params(
        ("id" = Uuid, Path, description = "Product id"),
        ("If-Match" = Option<String>, Header, description = "Expected version; a mismatch is 409"),
    ),
    responses(
        (status = 200, body = ProductView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn unpublish_product(
    writer: CatalogWriter,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    writer
        .product(
            StatusCode::OK,
            lifecycle(id, &headers)?,
            |mut c, r| async move { c.unpublish_product(r).await },
        )
        .await
}

/// Discontinue (archive) a product: final; it stays readable, its SKUs are free again.
#[utoipa::path(
    delete, path = "/products/{id}", tag = "products",
    params(
        ("id" = Uuid, Path, description = "Product id"),
        ("If-Match" = Option<String>, Header, description = "Expected version; a mismatch is 409"),
    ),
    responses(
        (status = 200, description = "Discontinued", body = ProductView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already discontinued, or a version conflict", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn discontinue_product(
    writer: CatalogWriter,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    writer
        .product(
            StatusCode::OK,
            lifecycle(id, &headers)?,
            |mut c, r| async move { c.discontinue_product(r).await },
        )
        .await
}

/// Create a category.
#[utoipa::path(
    post, path = "/categories", tag = "products",
    request_body = CreateCategory,
    params(
        ("If-Match" = Option<String>, Header, description = "Expected version of the whole tree; a mismatch is 409"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key and body answer with the first result; another body is 422"),
    ),
    responses(
        (status = 201, description = "Created; the whole tree after it", body = TaxonomyView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key exists, no such parent, or the tree would be too deep", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_category(
    writer: CatalogWriter,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateCategory>,
) -> Result<Response, Problem> {
    let request = pb::CreateCategoryRequest {
        key: body.key,
        name: body.name,
        parent: parent(body.parent)?,
        position: body.position.unwrap_or(0),
        options: Some(command_options(&headers)?),
    };
    writer
        .tree(StatusCode::CREATED, request, |mut c, r| async move {
            c.create_category(r).await
        })
        .await
}

/// Rename a category and/or re-order it among its siblings.
#[utoipa::path(
    patch, path = "/categories/{key}", tag = "products",
    request_body = UpdateCategory,
    params(
        ("key" = String, Path, description = "Category key"),
        ("If-Match" = Option<String>, Header, description = "Expected version of the whole tree; a mismatch is 409"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key and body answer with the first result; another body is 422"),
    ),
    responses(
        (status = 200, body = TaxonomyView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_category(
    writer: CatalogWriter,
    ApiPath(key): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<UpdateCategory>,
) -> Result<Response, Problem> {
    let request = pb::UpdateCategoryRequest {
        key,
        name: body.name,
        position: body.position,
        options: Some(command_options(&headers)?),
    };
    writer
        .tree(StatusCode::OK, request, |mut c, r| async move {
            c.update_category(r).await
        })
        .await
}

/// Move a category, with its subtree, under another parent (or to the root).
#[utoipa::path(
    post, path = "/categories/{key}/move", tag = "products",
    request_body = MoveCategory,
    params(
        ("key" = String, Path, description = "Category key"),
        ("If-Match" = Option<String>, Header, description = "Expected version of the whole tree; a mismatch is 409"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key and body answer with the first result; another body is 422"),
    ),
    responses(
        (status = 200, body = TaxonomyView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No such parent, a cycle, or the tree would be too deep", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn move_category(
    writer: CatalogWriter,
    ApiPath(key): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<MoveCategory>,
) -> Result<Response, Problem> {
    let request = pb::MoveCategoryRequest {
        key,
        parent: parent(body.parent)?,
        position: body.position.unwrap_or(0),
        options: Some(command_options(&headers)?),
    };
    writer
        .tree(StatusCode::OK, request, |mut c, r| async move {
            c.move_category(r).await
        })
        .await
}

/// Remove a category without children; products that name it keep the key.
#[utoipa::path(
    delete, path = "/categories/{key}", tag = "products",
    params(
        ("key" = String, Path, description = "Category key"),
        ("If-Match" = Option<String>, Header, description = "Expected version of the whole tree; a mismatch is 409"),
    ),
    responses(
        (status = 200, body = TaxonomyView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It has children, or a version conflict", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_category(
    writer: CatalogWriter,
    ApiPath(key): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let request = pb::RemoveCategoryRequest {
        key,
        options: Some(command_options(&headers)?),
    };
    writer
        .tree(StatusCode::OK, request, |mut c, r| async move {
            c.remove_category(r).await
        })
        .await
}
