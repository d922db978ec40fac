//! `/customers`: create, read, update, assign segments. Writes become gRPC commands; reads come
//! from the customer read model (Redis snapshot, else MySQL).

use std::future::Future;
use std::sync::LazyLock;
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use prometheus::{Histogram, HistogramOpts, IntCounterVec, Opts};
use serde::Deserialize;
use shopcore_auth::{Access, Principal};
use shopcore_event_store::LogPosition;
use shopcore_projections::customer::read_model::ReadError;
use shopcore_projections::customer::{AddressView, CustomerView};
use shopcore_proto::common::v1::CommandOptions;
use shopcore_proto::customer::v1 as pb;
use shopcore_proto::customer::v1::customer_commands_client::CustomerCommandsClient;
use shopcore_proto::ErrorCode;
use tonic::transport::Channel;
use uuid::Uuid;

use super::{min_position, AppState, POSITION_HEADER};
use crate::auth::BearerToken;
use crate::correlation::{CorrelationId, CORRELATION_HEADER};
use crate::problem::{ApiJson, ApiPath, Problem};

static CREATE_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let counter = IntCounterVec::new(
        Opts::new("customer_create_total", "POST /customers calls by outcome"),
        &["outcome"],
    )
    .expect("valid metric");
    let _ = prometheus::register(Box::new(counter.clone()));
    counter
});

static UPDATE_LATENCY: LazyLock<Histogram> = LazyLock::new(|| {
    let histogram = Histogram::with_opts(HistogramOpts::new(
        "customer_update_latency_seconds",
        "Latency of customer updates (PUT /customers/{id}, POST /customers/{id}/segments)",
    ))
    .expect("valid metric");
    let _ = prometheus::register(Box::new(histogram.clone()));
    histogram
});

/// Body of `POST /customers`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCustomer {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub phone: Option<String>,
}

/// Body of `PUT /customers/{id}`: absent fields stay as they are; `"phone": ""` removes it.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCustomer {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

/// Body of `POST /customers/{id}/segments`: the customer's complete set of segments.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignSegments {
    #[schema(example = json!(["VIP", "general"]))]
    pub segments: Vec<String>,
}

/// Command options from the request headers: `If-Match: <version>` and `Idempotency-Key`.
pub(super) fn command_options(headers: &HeaderMap) -> Result<CommandOptions, Problem> {
    let expected_version = match headers.get(header::IF_MATCH) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| {
                    Problem::invalid("If-Match", "must be the customer's version, e.g. \"3\"")
                })?,
        ),
    };
    let idempotency_key = match headers.get("idempotency-key") {
        None => String::new(),
        Some(value) => value
            .to_str()
            .ok()
            .map(str::trim)
            // Visible ASCII and inner spaces, as the document's pattern says (a tab passes
            // `to_str`, not the pattern).
            .filter(|v| {
                !v.is_empty() && v.len() <= 200 && v.bytes().all(|b| (0x20..=0x7E).contains(&b))
            })
            .ok_or_else(|| {
                Problem::invalid("Idempotency-Key", "must be 1 to 200 visible characters")
            })?
            .to_owned(),
    };
    Ok(CommandOptions {
        expected_version,
        idempotency_key,
    })
}

/// A gRPC request carrying the caller's token, the correlation id and trace context.
pub(super) fn grpc_request<T>(
    message: T,
    correlation: &CorrelationId,
    token: &BearerToken,
) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = token.0.parse() {
        request.metadata_mut().insert("authorization", value);
    }
    if let Ok(value) = correlation.0.parse() {
        request.metadata_mut().insert(CORRELATION_HEADER, value);
    }
    if let Some(value) = correlation.traceparent().and_then(|t| t.parse().ok()) {
        request.metadata_mut().insert("traceparent", value);
    }
    request
}

/// The client of the command service, as [`send`] hands it to a call.
pub(super) type Commands = CustomerCommandsClient<Channel>;

/// Sends a command through `client` with the caller's token, correlation id and trace
/// context, and turns a failed call into its problem.
pub(super) async fn call<C, M, R, F>(
    client: &C,
    correlation: &CorrelationId,
    token: &BearerToken,
    message: M,
    send: impl FnOnce(C, tonic::Request<M>) -> F,
) -> Result<R, Problem>
where
    C: Clone,
    F: Future<Output = Result<tonic::Response<R>, tonic::Status>>,
{
    send(client.clone(), grpc_request(message, correlation, token))
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| Problem::from_status(&status))
}

/// Sends a customer command (see [`call`]).
pub(super) async fn send<M, F>(
    state: &AppState,
    correlation: &CorrelationId,
    token: &BearerToken,
    message: M,
    command: impl FnOnce(Commands, tonic::Request<M>) -> F,
) -> Result<pb::CustomerResult, Problem>
where
    F: Future<Output = Result<tonic::Response<pb::CustomerResult>, tonic::Status>>,
{
    call(&state.customers, correlation, token, message, command).await
}

/// Answers a write from the command's own result: the customer as the command left it, its
/// version (`ETag`) and the log position of the write (`Shopcore-Position`, which a read can
/// wait for). No projection is waited for, so a committed command never answers 503.
pub(super) fn written(status: StatusCode, reply: pb::CustomerResult) -> Result<Response, Problem> {
    let (Some(result), Some(customer)) = (reply.result, reply.customer) else {
        return Err(Problem::internal(
            &"the command service sent an incomplete result",
        ));
    };
    let id = Uuid::parse_str(&result.aggregate_id).map_err(|e| Problem::internal(&e))?;
    let position: LogPosition = result
        .log_position
        .parse()
        .map_err(|e| Problem::internal(&e))?;
    let view = CustomerView {
        id,
        email: customer.email,
        first_name: customer.first_name,
        last_name: customer.last_name,
        phone: customer.phone,
        addresses: customer
            .addresses
            .into_iter()
            .map(|entry| {
                let address = entry.address.unwrap_or_default();
                Ok(AddressView {
                    id: Uuid::parse_str(&entry.address_id).map_err(|e| Problem::internal(&e))?,
                    label: address.label,
                    line1: address.line1,
                    line2: address.line2,
                    city: address.city,
                    region: address.region,
                    postal_code: address.postal_code,
                    country: address.country,
                })
            })
            .collect::<Result<_, Problem>>()?,
        segments: customer.segments,
        version: result.version,
        position,
        created_at: None,
        updated_at: None,
    };
    let mut response = (status, axum::Json(view)).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&position.to_string()) {
        headers.insert(POSITION_HEADER, value);
    }
    headers.insert(header::ETAG, etag(result.version));
    if status == StatusCode::CREATED {
        if let Ok(location) = HeaderValue::from_str(&format!("/customers/{id}")) {
            headers.insert(header::LOCATION, location);
        }
    }
    Ok(response)
}

pub(super) fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

async fn read(
    state: &AppState,
    id: Uuid,
    min_position: LogPosition,
) -> Result<CustomerView, Problem> {
    let reads = &state.customer_reads;
    if !min_position.is_start() {
        match reads
            .wait_for(min_position, state.read_your_writes_timeout)
            .await
        {
            Ok(_) => {}
            Err(ReadError::NotYetAt { wanted, reached }) => {
                let mut problem = Problem::new(
                    ErrorCode::Unavailable,
                    format!("the read model is at position {reached}, not yet at {wanted}; retry shortly"),
                );
                problem.retry_after_seconds = Some(1);
                return Err(problem);
            }
            Err(error) => return Err(Problem::internal(&error)),
        }
    }
    match reads.customer(id, min_position).await {
        Ok(Some(customer)) => Ok(customer),
        Ok(None) => Err(Problem::not_found(format!("no customer {id}"))),
        Err(error) => Err(Problem::internal(&error)),
    }
}

/// Create a customer.
#[utoipa::path(
    post, path = "/customers", tag = "customers",
    request_body = CreateCustomer,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 200 visible characters. Retries with the same key and body create the customer once and answer with the first result; the key is the caller's (token subject) for this operation, remembered 24 h; the same key with another body is 422"),
        ("X-Correlation-Id" = Option<String>, Header, description = "Carried into logs and event metadata"),
    ),
    responses(
        (status = 201, description = "Created, answered from the command's result (no `createdAt`/`updatedAt`); `Shopcore-Position` holds the write's log position token", body = CustomerView),
        (status = 400, description = "Invalid input; nothing written", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key already used with another request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "E-mail already in use", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_customer(
    State(state): State<AppState>,
    Extension(correlation): Extension<CorrelationId>,
    Extension(principal): Extension<Principal>,
    Extension(token): Extension<BearerToken>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateCustomer>,
) -> Result<Response, Problem> {
    let result = match principal.customer(None, Access::Write) {
        Ok(()) => create(&state, &correlation, &token, &headers, body).await,
        Err(denied) => Err(Problem::forbidden(denied)),
    };
    let outcome = result
        .as_ref()
        .map_or_else(|p| p.status.to_string(), |_| "created".to_owned());
    CREATE_TOTAL.with_label_values(&[outcome.as_str()]).inc();
    result
}

async fn create(
    state: &AppState,
    correlation: &CorrelationId,
    token: &BearerToken,
    headers: &HeaderMap,
    body: CreateCustomer,
) -> Result<Response, Problem> {
    let options = command_options(headers)?;
    // The command service picks the id (a new v7 UUID); a retry with the same Idempotency-Key
    // gets the first one back through the key's record, never from the key itself.
    let request = pb::RegisterCustomerRequest {
        customer_id: String::new(),
        email: body.email,
        first_name: body.first_name,
        last_name: body.last_name,
        phone: body.phone,
        options: Some(options),
    };
    let result = send(
        state,
        correlation,
        token,
        request,
        |mut commands, request| async move { commands.register_customer(request).await },
    )
    .await?;
    written(StatusCode::CREATED, result)
}

/// Read a customer.
#[utoipa::path(
    get, path = "/customers/{id}", tag = "customers",
    params(
        ("id" = Uuid, Path, description = "Customer id"),
        ("Shopcore-Min-Position" = Option<String>, Header, description = "A `Shopcore-Position` token: wait (briefly) until the read model has reached it; a token that names no event is 400"),
    ),
    responses(
        (status = 200, body = CustomerView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The read model has not reached `Shopcore-Min-Position` in time", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_customer(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    principal
        .customer(Some(id), Access::Read)
        .map_err(Problem::forbidden)?;
    let min_position = min_position(&state, &headers).await?;
    let customer = read(&state, id, min_position).await?;
    let mut response = axum::Json(&customer).into_response();
    response
        .headers_mut()
        .insert(header::ETAG, etag(customer.version));
    if let Ok(value) = HeaderValue::from_str(&customer.position.to_string()) {
        response.headers_mut().insert(POSITION_HEADER, value);
    }
    Ok(response)
}

/// Change some profile fields.
#[utoipa::path(
    put, path = "/customers/{id}", tag = "customers",
    request_body = UpdateCustomer,
    params(
        ("id" = Uuid, Path, description = "Customer id"),
        ("If-Match" = Option<String>, Header, description = "Expected version; a mismatch is 409"),
        ("Idempotency-Key" = Option<String>, Header, description = "As for POST /customers: the same key and body answer with the first result; another body is 422"),
    ),
    responses(
        (status = 200, body = CustomerView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key already used with another request", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Version conflict or e-mail in use", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_customer(
    State(state): State<AppState>,
    Extension(correlation): Extension<CorrelationId>,
    Extension(principal): Extension<Principal>,
    Extension(token): Extension<BearerToken>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<UpdateCustomer>,
) -> Result<Response, Problem> {
    principal
        .customer(Some(id), Access::Write)
        .map_err(Problem::forbidden)?;
    let started = Instant::now();
    let request = pb::UpdateProfileRequest {
        customer_id: id.to_string(),
        email: body.email,
        first_name: body.first_name,
        last_name: body.last_name,
        phone: body.phone,
        options: Some(command_options(&headers)?),
    };
    let result = send(
        &state,
        &correlation,
        &token,
        request,
        |mut commands, request| async move { commands.update_profile(request).await },
    )
    .await?;
    let response = written(StatusCode::OK, result);
    UPDATE_LATENCY.observe(started.elapsed().as_secs_f64());
    response
}

/// Replace the customer's segments.
#[utoipa::path(
    post, path = "/customers/{id}/segments", tag = "customers",
    request_body = AssignSegments,
    params(
        ("id" = Uuid, Path, description = "Customer id"),
        ("If-Match" = Option<String>, Header, description = "Expected version; a mismatch is 409"),
        ("Idempotency-Key" = Option<String>, Header, description = "As for POST /customers: the same key and body answer with the first result; another body is 422"),
    ),
    responses(
        (status = 200, body = CustomerView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key already used with another request", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Version conflict", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn assign_segments(
    State(state): State<AppState>,
    Extension(correlation): Extension<CorrelationId>,
    Extension(principal): Extension<Principal>,
    Extension(token): Extension<BearerToken>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AssignSegments>,
) -> Result<Response, Problem> {
    principal
        .customer(Some(id), Access::Segments)
        .map_err(Problem::forbidden)?;
    let started = Instant::now();
    let request = pb::AssignSegmentsRequest {
        customer_id: id.to_string(),
        segments: body.segments,
        options: Some(command_options(&headers)?),
    };
    let result = send(
        &state,
        &correlation,
        &token,
        request,
        |mut commands, request| async move { commands.assign_segments(request).await },
    )
    .await?;
    let response = written(StatusCode::OK, result);
    UPDATE_LATENCY.observe(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_visible_ascii_as_the_document_says() {
        let with_key = |key: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                "idempotency-key",
                HeaderValue::from_str(key).expect("header"),
            );
            command_options(&headers)
        };
        assert_eq!(
            with_key("order 42/retry").map(|o| o.idempotency_key).ok(),
            Some("order 42/retry".to_owned())
        );
        for refused in ["a\tb", &"k".repeat(201)] {
            let problem = with_key(refused).expect_err(refused);
            assert_eq!(problem.field.as_deref(), Some("Idempotency-Key"));
        }
    }
}
