//! Bearer tokens at the edge. Every route but `/healthz`, `/readyz`, `/metrics` and
//! `/openapi.json` needs a valid token (401 with `WWW-Authenticate` otherwise); each handler then
//! asks the [`Principal`] for the access it needs (403 naming the scope). The caller's token
//! travels on to the command service, which checks it again and records its subject as the
//! actor of the events.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use shopcore_auth::{AuthError, TokenVerifier};

use crate::problem::Problem;

/// The caller's `Authorization` header, forwarded to the command service.
#[derive(Debug, Clone)]
pub struct BearerToken(pub String);

/// Middleware: verifies the bearer token and puts the [`shopcore_auth::Principal`] and the
/// [`BearerToken`] into the request's extensions.
pub async fn authenticate(
    State(verifier): State<Arc<TokenVerifier>>,
    mut request: Request,
    next: Next,
) -> Result<Response, Problem> {
    let header = match request.headers().get(AUTHORIZATION) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| Problem::unauthenticated(&AuthError::Invalid("malformed token")))?
                .to_owned(),
        ),
    };
    let principal = verifier
        .verify_header(header.as_deref())
        .map_err(|error| Problem::unauthenticated(&error))?;
    let extensions = request.extensions_mut();
    extensions.insert(principal);
    if let Some(header) = header {
        extensions.insert(BearerToken(header));
    }
    Ok(next.run(request).await)
}
