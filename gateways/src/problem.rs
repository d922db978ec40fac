//! `application/problem+json` (RFC 9457) for every error the gateway returns, and extractors
//! whose rejections take the same shape: malformed JSON, a bad path parameter and a failed
//! validation all name the field at fault.

use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use shopcore_projections::catalog::read_model::MoneyView;
use shopcore_proto::ErrorCode;

/// The largest request body the gateway reads, in bytes; a larger one is 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// One unit price a cart's checkout found changed since its line was priced.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PriceChangeView {
    pub sku: String,
    /// The line's unit price.
    pub previous_unit_price: MoneyView,
    /// The unit price now.
    pub unit_price: MoneyView,
}

/// A problem response.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// Stable URI of the problem type: `https://shopcore.dev/problems/{code}` where `code` is
    /// the shared error code (`invalid-argument`, `not-found`, `conflict`, ...).
    #[serde(rename = "type")]
    pub problem_type: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// The request field at fault (camelCase, dotted for nested fields).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For version conflicts: the aggregate's current version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
    /// For 403: the scope that would allow the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// For 409 `prices-changed` (a cart's checkout): every unit price that differs from the
    /// line's; check out with `acceptPriceChanges` to pay them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_changes: Option<Vec<PriceChangeView>>,
    #[serde(skip)]
    pub retry_after_seconds: Option<u64>,
    /// For 401: the `WWW-Authenticate` challenge.
    #[serde(skip)]
    pub challenge: Option<&'static str>,
}

impl Problem {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        let title = match code {
            ErrorCode::InvalidArgument => "Invalid request",
            ErrorCode::NotFound => "Not found",
            ErrorCode::Conflict => "Conflict",
            ErrorCode::VersionConflict => "Version conflict",
            ErrorCode::FailedPrecondition => "Precondition failed",
            ErrorCode::Unavailable => "Service unavailable",
            ErrorCode::Internal => "Internal error",
            ErrorCode::Unauthenticated => "Unauthorized",
            ErrorCode::PermissionDenied => "Forbidden",
            ErrorCode::Unprocessable => "Unprocessable request",
            ErrorCode::Gone => "Gone",
            ErrorCode::PricesChanged => "Prices changed",
        };
        let problem_type = match code {
            ErrorCode::InvalidArgument => "https://shopcore.dev/problems/invalid-argument",
            ErrorCode::NotFound => "https://shopcore.dev/problems/not-found",
            ErrorCode::Conflict => "https://shopcore.dev/problems/conflict",
            ErrorCode::VersionConflict => "https://shopcore.dev/problems/version-conflict",
            ErrorCode::FailedPrecondition => "https://shopcore.dev/problems/failed-precondition",
            ErrorCode::Unavailable => "https://shopcore.dev/problems/unavailable",
            ErrorCode::Internal => "https://shopcore.dev/problems/internal",
            ErrorCode::Unauthenticated => "https://shopcore.dev/problems/unauthenticated",
            ErrorCode::PermissionDenied => "https://shopcore.dev/problems/permission-denied",
            ErrorCode::Unprocessable => "https://shopcore.dev/problems/unprocessable",
            ErrorCode::Gone => "https://shopcore.dev/problems/gone",
            ErrorCode::PricesChanged => "https://shopcore.dev/problems/prices-changed",
        };
        Self {
            problem_type,
            title,
            status: code.http_status(),
            detail: detail.into(),
            field: None,
            current_version: None,
            scope: None,
            price_changes: None,
            retry_after_seconds: None,
            challenge: None,
        }
    }

    /// 413: a request body over [`MAX_BODY_BYTES`].
    pub fn too_large() -> Self {
        Self {
            problem_type: "https://shopcore.dev/problems/payload-too-large",
            title: "Payload too large",
            status: 413,
            detail: format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
            field: Some("body".to_owned()),
            ..Self::new(ErrorCode::InvalidArgument, "")
        }
    }

    /// 401: no valid bearer token.
    pub fn unauthenticated(error: &shopcore_auth::AuthError) -> Self {
        Self {
            challenge: Some(error.challenge()),
            ..Self::new(ErrorCode::Unauthenticated, error.to_string())
        }
    }

    /// 403: the token does not allow the request; names the scope that would.
    pub fn forbidden(denied: shopcore_auth::Denied) -> Self {
        Self {
            scope: Some(denied.scope.to_owned()),
            ..Self::new(ErrorCode::PermissionDenied, denied.reason)
        }
    }

    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        let field = field.into();
        let detail = format!("{field}: {}", detail.into());
        Self {
            field: Some(field),
            ..Self::new(ErrorCode::InvalidArgument, detail)
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, detail)
    }

    /// A failure that must not leak: logged here, reported as a bare 500.
    pub fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %error, "request failed");
        Self::new(ErrorCode::Internal, "internal error; see the gateway logs")
    }

    /// The problem for a failed gRPC command.
    pub fn from_status(status: &tonic::Status) -> Self {
        let (code, detail) = ErrorCode::from_status(status);
        if code == ErrorCode::Internal {
            return Self::internal(status);
        }
        let mut problem = Self::new(code, status.message());
        if let Some(detail) = detail {
            problem.field = Some(detail.field).filter(|f| !f.is_empty());
            problem.current_version = detail.current_version;
        }
        if code == ErrorCode::Unavailable {
            problem.retry_after_seconds = Some(1);
        }
        if code == ErrorCode::Unauthenticated {
            problem.challenge = Some(r#"Bearer realm="shopcore", error="invalid_token""#);
        }
        problem
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after_seconds;
        let challenge = self.challenge;
        let mut response = (status, axum::Json(self)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// A JSON body whose every error is a problem naming the field.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(request, state).await?;
        json_body(&bytes).map(Self)
    }
}

/// A JSON body that may be left out: no body at all (zero bytes) reads as `T::default()`;
/// any other body is parsed as [`ApiJson`] parses it.
pub struct ApiJsonOrEmpty<T>(pub T);

impl<S, T> FromRequest<S> for ApiJsonOrEmpty<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(request, state).await?;
        if bytes.is_empty() {
            return Ok(Self(T::default()));
        }
        json_body(&bytes).map(Self)
    }
}

async fn body_bytes<S: Send + Sync>(
    request: Request,
    state: &S,
) -> Result<axum::body::Bytes, Problem> {
    match axum::body::Bytes::from_request(request, state).await {
        Ok(bytes) => Ok(bytes),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(Problem::too_large())
        }
        Err(rejection) => Err(Problem::invalid("body", rejection.body_text())),
    }
}

/// Parses a JSON body; an error names the field at fault. Every body is a JSON object: serde
/// would also read a struct from an array of its fields in order (`["EUR"]`), which no
/// document allows.
fn json_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(Problem::invalid("body", "must be a JSON object"));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let field = if path == "." || path.is_empty() {
            missing_field(&inner.to_string()).unwrap_or_else(|| "body".to_owned())
        } else {
            path
        };
        Problem::invalid(field, json_reason(&inner))
    })
}

/// The field named by serde's "missing field `x`" message.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

fn json_reason(error: &serde_json::Error) -> String {
    let message = error.to_string();
    // Drop serde's " at line 1 column 12" suffix: the field is named already.
    let message = match message.find(" at line ") {
        Some(at) => &message[..at],
        None => &message,
    };
    // serde quotes the offending value ("invalid type: string \"…\""): never echo it unbounded.
    const SHOWN: usize = 120;
    match message.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_owned(),
    }
}

/// A path parameter whose parse error is a problem naming it.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(PathRejection::FailedToDeserializePathParams(error)) => {
                let field = match error.kind() {
                    ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::InvalidUtf8InPathParam { key }
                    | ErrorKind::DeserializeError { key, .. } => key.clone(),
                    _ => "path".to_owned(),
                };
                Err(Problem::invalid(field, "must be a UUID"))
            }
            Err(other) => Err(Problem::invalid("path", other.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_own_problem_type_named_after_it() {
        for code in ErrorCode::ALL {
            let problem = Problem::new(code, "detail");
            assert_eq!(
                problem.problem_type,
                format!("https://shopcore.dev/problems/{}", code.as_str())
            );
            assert_eq!(problem.status, code.http_status());
        }
    }

    #[test]
    fn an_unavailable_command_is_a_503_with_retry_after() {
        let status = shopcore_proto::error_status(
            ErrorCode::Unavailable,
            "a service this command needs is unavailable; retry shortly",
            None,
            None,
        );
        let response = Problem::from_status(&status).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn a_body_is_a_json_object_never_an_array_of_its_fields() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Body {
            currency: String,
            #[serde(default)]
            channel: Option<String>,
        }
        assert!(json_body::<Body>(br#" {"currency": "EUR"}"#).is_ok());
        for refused in [&br#"["EUR"]"#[..], b"\"EUR\"", b"null", b""] {
            let problem = json_body::<Body>(refused).expect_err("not an object");
            assert_eq!(problem.field.as_deref(), Some("body"));
        }
    }

    #[test]
    fn a_missing_token_is_a_401_with_a_bearer_challenge() {
        let response = Problem::unauthenticated(&shopcore_auth::AuthError::Missing).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="shopcore""#
        );
    }
}
