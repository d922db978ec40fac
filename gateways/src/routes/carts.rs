//! `GET /carts/{id}` and `GET /carts/by-session/{token}`: carts from the cart read model (the
//! Redis cache when it is fresh enough, else MySQL), with the access rules of the gRPC
//! `CartCommands` service, and what every cart route shares: the `Shopcore-Cart-Session`
//! header and who reaches a cart.
//!
//! **Who reaches a cart.** A platform token with `manage_orders` or `view_orders` reads every
//! cart. A token with `manage_my_orders` reads its own customer's carts, and an anonymous cart
//! when it presents the cart's session token (in `Shopcore-Cart-Session`, or in the path of
//! `/carts/by-session/{token}`) — a cart assigned to another customer since is out of reach. A
//! cart the caller may not reach is 404, like one that does not exist; 403 is only for a token
//! with none of the cart scopes. The session token is a secret: it is compared by its SHA-256
//! (the read model holds nothing else), and neither the header nor that path segment is ever
//! logged (the request's span and metrics name the route template).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use shopcore_auth::scopes::{MANAGE_MY_ORDERS, MANAGE_ORDERS, VIEW_ORDERS};
use shopcore_auth::{Denied, Principal};
use shopcore_domain::cart::session_token_hash;
use shopcore_projections::cart::read_model::CartReadError;
use shopcore_projections::cart::CartView;
use shopcore_proto::cart::v1 as pb;
use shopcore_proto::ErrorCode;
use uuid::Uuid;

use super::cart_answers::send_cart;
use super::customers::etag;
use super::{min_position, AppState, MIN_POSITION_HEADER, POSITION_HEADER};
use crate::auth::BearerToken;
use crate::correlation::CorrelationId;
use crate::problem::{ApiPath, Problem};

/// The request header carrying an anonymous cart's session token (forwarded to the command
/// service as the gRPC metadata `x-cart-session`).
pub const SESSION_HEADER: &str = "shopcore-cart-session";
/// How the header is named in problems and in the OpenAPI document.
pub const SESSION_HEADER_NAME: &str = "Shopcore-Cart-Session";
/// The longest session token accepted (the service issues 67 characters: `cs_` and 64 hex
/// digits).
pub const MAX_SESSION_TOKEN_CHARS: usize = 256;
/// A session token as the OpenAPI document states it: 1 to 256 visible ASCII characters.
pub const SESSION_TOKEN_PATTERN: &str = r"^[\x21-\x7E]+$";

/// The one value of a header, if present; a header sent twice is ambiguous (400).
pub(super) fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &str,
    shown_as: &str,
) -> Result<Option<&'a HeaderValue>, Problem> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(Problem::invalid(shown_as, "send the header once"));
    }
    Ok(first)
}

/// A session token as a caller presents it: 1 to 256 visible ASCII characters. The problem
/// never echoes it.
fn session_token<'a>(raw: &'a str, field: &str) -> Result<&'a str, Problem> {
    let valid = !raw.is_empty()
        && raw.len() <= MAX_SESSION_TOKEN_CHARS
        && raw.bytes().all(|b| (0x21..=0x7E).contains(&b));
    if valid {
        Ok(raw)
    } else {
        Err(Problem::invalid(
            field,
            "must be the cart's session token as POST /carts returned it",
        ))
    }
}

/// The `Shopcore-Cart-Session` header, if sent.
pub(crate) fn session_header(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = single_header(headers, SESSION_HEADER, SESSION_HEADER_NAME)? else {
        return Ok(None);
    };
    let raw = value.to_str().map_err(|_| {
        Problem::invalid(
            SESSION_HEADER_NAME,
            "must be the cart's session token as POST /carts returned it",
        )
    })?;
    Ok(Some(session_token(raw, SESSION_HEADER_NAME)?.to_owned()))
}

/// What a token allows with carts before any cart is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CartReach {
    /// A platform token with `manage_orders` or `view_orders`: every cart.
    Every,
    /// `manage_my_orders`: the carts of `customer` (when the token is bound to one) and
    /// anonymous carts by their session token.
    Own { customer: Option<Uuid> },
}

/// The reach of a caller reading carts; 403 for a token with no cart scope.
pub(crate) fn cart_reach(principal: &Principal) -> Result<CartReach, Denied> {
    if principal.customer_id.is_none()
        && (principal.has(MANAGE_ORDERS) || principal.has(VIEW_ORDERS))
    {
        return Ok(CartReach::Every);
    }
    if principal.has(MANAGE_MY_ORDERS) {
        return Ok(CartReach::Own {
            customer: principal.customer_id,
        });
    }
    Err(Denied {
        scope: VIEW_ORDERS,
        reason: format!("the token lacks the scope {VIEW_ORDERS} or {MANAGE_MY_ORDERS}"),
    })
}

impl CartReach {
    /// Whether the caller reads `view` without a session token: every cart, or its own.
    pub(crate) fn owns(&self, view: &CartView) -> bool {
        match self {
            Self::Every => true,
            Self::Own { customer } => customer.is_some() && view.customer_id == *customer,
        }
    }

    /// Whether a session token that matches `view` lets the caller read it: the cart is
    /// anonymous, or the caller's own.
    pub(crate) fn session_reaches(&self, view: &CartView) -> bool {
        match self {
            Self::Every => true,
            Self::Own { customer } => view.customer_id.is_none() || view.customer_id == *customer,
        }
    }
}

/// A read of the cart read model that failed.
pub(crate) fn read_failed(error: CartReadError) -> Problem {
    match error {
        CartReadError::NotYetAt { wanted, reached } => {
            let mut problem = Problem::new(
                ErrorCode::Unavailable,
                format!(
                    "the cart read model is at position {reached}, not yet at {wanted}; retry shortly"
                ),
            );
            problem.retry_after_seconds = Some(1);
            problem
        }
        CartReadError::Mysql(error) => {
            tracing::warn!(%error, "cart read model unavailable");
            let mut problem = Problem::new(
                ErrorCode::Unavailable,
                "the cart read model is unavailable; retry shortly",
            );
            problem.retry_after_seconds = Some(1);
            problem
        }
        corrupt @ CartReadError::Corrupt(_) => Problem::internal(&corrupt),
    }
}

fn no_cart(id: impl std::fmt::Display) -> Problem {
    Problem {
        field: Some("id".to_owned()),
        ..Problem::not_found(format!("id: no cart {id}"))
    }
}

/// A cart read: the view, its version as `ETag`, its log position, never cached (a cart is
/// one shopper's).
pub(crate) fn cart_response(view: &CartView) -> Response {
    let mut response = axum::Json(view).into_response();
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag(view.version));
    if let Ok(value) = HeaderValue::from_str(&view.position.to_string()) {
        headers.insert(POSITION_HEADER, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The read model's cart `id` as `caller` may see it (`None`: unknown or out of reach).
/// `session` is the caller's session token, if it sent one; when the read model does not
/// list the cart under it (only open carts are looked up by session), the command service is
/// asked whether the session reaches the cart.
pub(crate) async fn reachable_cart(
    state: &AppState,
    caller: (&Principal, &BearerToken, &CorrelationId),
    id: Uuid,
    session: Option<&str>,
    min_position: shopcore_event_store::LogPosition,
) -> Result<Option<CartView>, Problem> {
    let (principal, token, correlation) = caller;
    let reach = cart_reach(principal).map_err(Problem::forbidden)?;
    let Some(view) = state
        .cart_reads
        .get(id, min_position)
        .await
        .map_err(read_failed)?
    else {
        return Ok(None);
    };
    if reach.owns(&view) {
        return Ok(Some(view));
    }
    let Some(session) = session.filter(|_| reach.session_reaches(&view)) else {
        return Ok(None);
    };
    let hash = session_token_hash(session);
    let listed = state
        .cart_reads
        .by_session_hash(&hash)
        .await
        .map_err(read_failed)?;
    if listed.is_some_and(|listed| listed.cart_id == id) {
        return Ok(Some(view));
    }
    // A cart no longer open (checked out, expired, merged) is not listed by session: the
    // command service, which holds the hash in the cart's state, decides.
    let request = pb::CartRequest {
        cart_id: id.to_string(),
        options: None,
    };
    match send_cart(
        &state.carts,
        (correlation, token),
        Some(session),
        request,
        |mut carts, request| async move { carts.get_cart(request).await },
    )
    .await
    {
        Ok(_) => Ok(Some(view)),
        Err(problem) if problem.status == 404 || problem.status == 403 => Ok(None),
        Err(problem) => Err(problem),
    }
}

/// Read a cart.
#[utoipa::path(
    get, path = "/carts/{id}", tag = "carts",
    params(
        ("id" = Uuid, Path, description = "Cart id"),
        ("Shopcore-Cart-Session" = Option<String>, Header, description = "An anonymous cart's session token (as `POST /carts` returned it): with `manage_my_orders` it proves access to the cart"),
        ("Shopcore-Min-Position" = Option<String>, Header, description = "A `Shopcore-Position` token: wait (briefly) until the read model has reached it; a token that names no event is 400"),
    ),
    responses(
        (status = 200, description = "The cart as the read model has it now (an open cart past `expiresAt` reads as `expired`); `ETag` is its version", body = CartView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such cart, or one the token does not reach", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The read model has not reached `Shopcore-Min-Position` in time", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_cart(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(token): Extension<BearerToken>,
    Extension(correlation): Extension<CorrelationId>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    cart_reach(&principal).map_err(Problem::forbidden)?;
    let session = session_header(&headers)?;
    single_header(&headers, MIN_POSITION_HEADER, "Shopcore-Min-Position")?;
    let min_position = min_position(&state, &headers).await?;
    let caller = (&principal, &token, &correlation);
    match reachable_cart(&state, caller, id, session.as_deref(), min_position).await? {
        Some(view) => Ok(cart_response(&view)),
        None => Err(no_cart(id)),
    }
}

/// Find the open cart of a session.
#[utoipa::path(
    get, path = "/carts/by-session/{token}", tag = "carts",
    params(
        ("token" = String, Path, description = "The session token `POST /carts` returned (a secret: send it only over TLS; it is never logged)"),
        ("Shopcore-Min-Position" = Option<String>, Header, description = "A `Shopcore-Position` token: wait (briefly) until the read model has reached it; a token that names no event is 400"),
    ),
    responses(
        (status = 200, description = "The session's cart, while it is open (not checked out, expired or merged); anonymous, or the caller's own", body = CartView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No open cart has this session token, or the token does not reach it", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The read model has not reached `Shopcore-Min-Position` in time", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_cart_by_session(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(session): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let reach = cart_reach(&principal).map_err(Problem::forbidden)?;
    let session = session_token(&session, "token")?;
    single_header(&headers, MIN_POSITION_HEADER, "Shopcore-Min-Position")?;
    let min_position = min_position(&state, &headers).await?;
    if !min_position.is_start() {
        state
            .cart_reads
            .wait_for(min_position, state.read_your_writes_timeout)
            .await
            .map_err(read_failed)?;
    }
    let view = state
        .cart_reads
        .by_session_hash(&session_token_hash(session))
        .await
        .map_err(read_failed)?
        .filter(|view| reach.session_reaches(view));
    match view {
        Some(view) => Ok(cart_response(&view)),
        None => Err(Problem {
            field: Some("token".to_owned()),
            ..Problem::not_found("token: no open cart has this session token")
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn principal(scopes: &[&str], customer_id: Option<Uuid>) -> Principal {
        Principal::new(
            "test".into(),
            scopes
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<BTreeSet<_>>(),
            customer_id,
        )
    }

    #[test]
    fn platform_scopes_reach_every_cart_and_my_orders_only_its_own() {
        let me = Uuid::new_v4();
        assert_eq!(
            cart_reach(&principal(&[VIEW_ORDERS], None)),
            Ok(CartReach::Every)
        );
        assert_eq!(
            cart_reach(&principal(&[MANAGE_ORDERS], None)),
            Ok(CartReach::Every)
        );
        // A customer-bound token is never a platform one, whatever its scopes.
        assert_eq!(
            cart_reach(&principal(&[MANAGE_ORDERS, MANAGE_MY_ORDERS], Some(me))),
            Ok(CartReach::Own { customer: Some(me) })
        );
        assert_eq!(
            cart_reach(&principal(&[MANAGE_MY_ORDERS], None)),
            Ok(CartReach::Own { customer: None })
        );
        for scopes in [&[][..], &[MANAGE_ORDERS][..], &["view_prices"][..]] {
            let denied = cart_reach(&principal(scopes, Some(me))).expect_err("no cart scope");
            assert_eq!(denied.scope, VIEW_ORDERS);
        }
    }

    #[test]
    fn session_tokens_are_visible_ascii_and_never_echoed() {
        assert!(session_token("cs_0123abcd", "token").is_ok());
        for bad in ["", "a b", "tök", &"x".repeat(257)] {
            let problem = session_token(bad, "token").expect_err(bad);
            assert_eq!(problem.field.as_deref(), Some("token"));
            assert!(bad.is_empty() || !problem.detail.contains(bad));
        }
        let mut headers = HeaderMap::new();
        headers.append(SESSION_HEADER, HeaderValue::from_static("cs_a"));
        assert_eq!(
            session_header(&headers).ok().flatten().as_deref(),
            Some("cs_a")
        );
        headers.append(SESSION_HEADER, HeaderValue::from_static("cs_b"));
        let twice = session_header(&headers).expect_err("sent twice");
        assert_eq!(twice.field.as_deref(), Some(SESSION_HEADER_NAME));
    }
}
