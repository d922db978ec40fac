//! `/customers/{id}/addresses`: add, change and remove a customer's addresses. Writes become
//! gRPC commands and answer with the customer as the command left it, like every customer
//! write (the customer's version in `ETag`, the write's log position in `Shopcore-Position`).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use shopcore_auth::{Access, Principal};
use shopcore_proto::customer::v1 as pb;
use uuid::Uuid;

use super::customers::{command_options, send, written};
use super::AppState;
use crate::auth::BearerToken;
use crate::correlation::CorrelationId;
use crate::problem::{ApiJson, ApiPath, Problem};

/// A postal address. `line1`, `city` and `country` (ISO 3166-1 alpha-2) are required.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressBody {
    /// Free-form label such as "home" or "billing".
    #[serde(default)]
    pub label: String,
    pub line1: String,
    #[serde(default)]
    pub line2: String,
    pub city: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, e.g. "DE".
    pub country: String,
}

impl From<AddressBody> for pb::Address {
    fn from(body: AddressBody) -> Self {
        Self {
            line1: body.line1,
            line2: body.line2,
            city: body.city,
            region: body.region,
            postal_code: body.postal_code,
            country: body.country,
            label: body.label,
        }
    }
}

/// The path of one address.
#[derive(Debug, Deserialize)]
pub struct AddressPath {
    id: Uuid,
    #[serde(rename = "addressId")]
    address_id: Uuid,
}

/// Add an address.
#[utoipa::path(
    post, path = "/customers/{id}/addresses", tag = "customers",
    request_body = AddressBody,
    params(
        ("id" = Uuid, Path, description = "Customer id"),
        ("If-Match" = Option<String>, Header, description = "Expected version; a mismatch is 409"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key and body add the address once and answer with the first result; another body is 422"),
    ),
    responses(
        (status = 201, description = "Added; `Location` names the new address", body = shopcore_projections::customer::CustomerView),
        (status = 400, description = "Invalid input, or the customer has the most addresses allowed; nothing written", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Version conflict", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key already used with another request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_address(
    State(state): State<AppState>,
    Extension(correlation): Extension<CorrelationId>,
    Extension(principal): Extension<Principal>,
    Extension(token): Extension<BearerToken>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AddressBody>,
) -> Result<Response, Problem> {
    principal
        .customer(Some(id), Access::Write)
        .map_err(Problem::forbidden)?;
    let request = pb::AddAddressRequest {
        customer_id: id.to_string(),
        address_id: String::new(),
        address: Some(body.into()),
        options: Some(command_options(&headers)?),
    };
    let reply = send(
        &state,
        &correlation,
        &token,
        request,
        |mut commands, request| async move { commands.add_address(request).await },
    )
    .await?;
    let location = format!("/customers/{id}/addresses/{}", reply.address_id);
    let mut response = written(StatusCode::CREATED, reply)?;
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Replace an address.
#[utoipa::path(
    put, path = "/customers/{id}/addresses/{addressId}", tag = "customers",
    request_body = AddressBody,
    params(
        ("id" = Uuid, Path, description = "Customer id"),
        ("addressId" = Uuid, Path, description = "Address id"),
        ("If-Match" = Option<String>, Header, description = "Expected version; a mismatch is 409"),
        ("Idempotency-Key" = Option<String>, Header, description = "As for POST: the same key and body answer with the first result; another body is 422"),
    ),
    responses(
        (status = 200, body = shopcore_projections::customer::CustomerView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer or address", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Version conflict", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key already used with another request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_address(
    State(state): State<AppState>,
    Extension(correlation): Extension<CorrelationId>,
    Extension(principal): Extension<Principal>,
    Extension(token): Extension<BearerToken>,
    ApiPath(path): ApiPath<AddressPath>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AddressBody>,
) -> Result<Response, Problem> {
    principal
        .customer(Some(path.id), Access::Write)
        .map_err(Problem::forbidden)?;
    let request = pb::UpdateAddressRequest {
        customer_id: path.id.to_string(),
        address_id: path.address_id.to_string(),
        address: Some(body.into()),
        options: Some(command_options(&headers)?),
    };
    let reply = send(
        &state,
        &correlation,
        &token,
        request,
        |mut commands, request| async move { commands.update_address(request).await },
    )
    .await?;
    written(StatusCode::OK, reply)
}

/// Remove an address.
#[utoipa::path(
    delete, path = "/customers/{id}/addresses/{addressId}", tag = "customers",
    params(
        ("id" = Uuid, Path, description = "Customer id"),
        ("addressId" = Uuid, Path, description = "Address id"),
        ("If-Match" = Option<String>, Header, description = "Expected version; a mismatch is 409"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key answers with the first result"),
    ),
    responses(
        (status = 200, description = "Removed; the customer without it", body = shopcore_projections::customer::CustomerView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer or address", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Version conflict", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_address(
    State(state): State<AppState>,
    Extension(correlation): Extension<CorrelationId>,
    Extension(principal): Extension<Principal>,
    Extension(token): Extension<BearerToken>,
    ApiPath(path): ApiPath<AddressPath>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    principal
        .customer(Some(path.id), Access::Write)
        .map_err(Problem::forbidden)?;
    let request = pb::RemoveAddressRequest {
        customer_id: path.id.to_string(),
        address_id: path.address_id.to_string(),
        options: Some(command_options(&headers)?),
    };
    let reply = send(
        &state,
        &correlation,
        &token,
        request,
        |mut commands, request| async move { commands.remove_address(request).await },
    )
    .await?;
    written(StatusCode::OK, reply)
}
