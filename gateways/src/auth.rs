//! Bearer tokens at the edge. Every route but `/healthz`, `/readyz`, `/metrics` and
//! `/openapi.json` needs a valid token (401 with `WWW-Authenticate` otherwise); each handler then
//! asks the [`Principal`] for the access it needs (403 naming the scope). The caller's token
//! travels on to the command service, which checks it again and records its subject as the
//! actor of the events.
//!
//! The check is a `tower_http` request validator, not an `axum::middleware::from_fn`: it runs
//! before the route's service is called, synchronously (a token seen before is a lookup in the
//! verifier's cache), so a request does not pay for a boxed future and a copy of the route's
//! service stack, as `from_fn` makes for every request.

use std::sync::Arc;

use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, Request};
use axum::response::{IntoResponse as _, Response};
use shopcore_auth::{AuthError, Principal, TokenVerifier};
use tower_http::validate_request::{ValidateRequest, ValidateRequestHeaderLayer};

use crate::problem::Problem;

/// The caller's `Authorization` header, forwarded to the command service (shared: a handler
/// takes its own copy from the request's extensions).
#[derive(Debug, Clone)]
pub struct BearerToken(pub Arc<str>);

/// The caller of a request's `Authorization` header, and the header itself.
fn authenticate(
    verifier: &TokenVerifier,
    headers: &HeaderMap,
) -> Result<(Principal, Option<BearerToken>), Problem> {
    let header: Option<Arc<str>> = match headers.get(AUTHORIZATION) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| Problem::unauthenticated(&AuthError::Invalid("malformed token")))?
                .into(),
        ),
    };
    let principal = verifier
        .verify_header(header.as_deref())
        .map_err(|error| Problem::unauthenticated(&error))?;
    Ok((principal, header.map(BearerToken)))
}

/// Verifies the bearer token and puts the [`Principal`] and the [`BearerToken`] into the
/// request's extensions; refuses the request with the 401 problem otherwise.
#[derive(Clone)]
pub struct Authenticate(Arc<TokenVerifier>);

impl<B> ValidateRequest<B> for Authenticate {
    type ResponseBody = axum::body::Body;

    fn validate(&mut self, request: &mut Request<B>) -> Result<(), Response> {
        let (principal, token) =
            authenticate(&self.0, request.headers()).map_err(Problem::into_response)?;
        let extensions = request.extensions_mut();
        extensions.insert(principal);
        if let Some(token) = token {
            extensions.insert(token);
        }
        Ok(())
    }
}

/// The layer that authenticates every request of the routes it wraps.
pub fn layer(verifier: Arc<TokenVerifier>) -> ValidateRequestHeaderLayer<Authenticate> {
    ValidateRequestHeaderLayer::custom(Authenticate(verifier))
}
