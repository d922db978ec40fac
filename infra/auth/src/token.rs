//! Verifying bearer tokens, and minting development ones.
//!
//! A token is a JWT with `sub`, `exp`, `iss` and `aud` (both checked), a space-separated `scope`
//! (OAuth2) and, for a storefront session, `customer_id`. Keys: HS256 with a shared secret
//! (local use: `infra/run` makes one), or RS256 with a PEM public key or a JWKS file (the
//! identity provider's keys; `kid` picks the key). Only the configured algorithm is accepted —
//! never `none`, never an HMAC over a public key.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The claims Shopcore reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    #[serde(default)]
    pub iat: Option<u64>,
    pub iss: String,
    pub aud: String,
    /// Space-separated scopes.
    #[serde(default)]
    pub scope: String,
    /// Set for a token bound to one customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<Uuid>,
}

/// The caller, as its verified token says. Cloning it is one reference count: it is handed
/// from the token cache to every request's extensions and on to the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal(std::sync::Arc<Caller>);

/// What a [`Principal`] holds (its fields read through it: `principal.subject`).
#[derive(Debug, PartialEq, Eq)]
pub struct Caller {
    /// `sub`: recorded as the actor of the events it causes.
    pub subject: String,
    pub scopes: BTreeSet<String>,
    /// The customer a storefront token is bound to.
    pub customer_id: Option<Uuid>,
}

impl Principal {
    pub fn new(subject: String, scopes: BTreeSet<String>, customer_id: Option<Uuid>) -> Self {
        Self(std::sync::Arc::new(Caller {
            subject,
            scopes,
            customer_id,
        }))
    }

    pub fn has(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }
}

impl std::ops::Deref for Principal {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}

/// Why a request is not authenticated: 401 with `WWW-Authenticate`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("a bearer token is required (Authorization: Bearer <token>)")]
    Missing,
    #[error("the bearer token is not valid: {0}")]
    Invalid(&'static str),
}

impl AuthError {
    /// The `error` of the `WWW-Authenticate` challenge (RFC 6750).
    pub fn challenge(&self) -> &'static str {
        match self {
            Self::Missing => r#"Bearer realm="shopcore""#,
            Self::Invalid(_) => r#"Bearer realm="shopcore", error="invalid_token""#,
        }
    }
}

/// Checks tokens against the configured key(s).
///
/// A token that passed is remembered (by its full text) until it expires, so a client sending
/// the same token with every request pays for the signature check and the claims' parsing
/// once: at most [`CACHED_TOKENS`] tokens of at most 2 KiB, forgotten all at once when full. A
/// token is immutable and signed, so what was true of it stays true until `exp` (+ the same
/// leeway); nothing else (revocation) is checked, by the cache or without it.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: Keys,
    validation: Validation,
    verified: std::sync::Arc<std::sync::Mutex<HashMap<String, (Principal, u64)>>>,
}

/// How many verified tokens a verifier remembers.
pub const CACHED_TOKENS: usize = 4096;
const MAX_CACHED_TOKEN_BYTES: usize = 2048;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[derive(Clone)]
enum Keys {
    One(DecodingKey),
    ByKid(HashMap<String, DecodingKey>),
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

/// A key that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

impl KeyError {
    pub(crate) fn new(message: String) -> Self {
        Self(message)
    }
}

fn validation(algorithm: Algorithm, issuer: &str, audience: &str) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
    validation.leeway = 30;
    validation
}

impl TokenVerifier {
    /// HS256 with a shared secret (at least 32 bytes).
    pub fn hs256(secret: &[u8], issuer: &str, audience: &str) -> Result<Self, KeyError> {
        if secret.len() < 32 {
            return Err(KeyError(
                "AUTH_JWT_SECRET must be at least 32 bytes".to_owned(),
            ));
        }
        Ok(Self {
            keys: Keys::One(DecodingKey::from_secret(secret)),
            validation: validation(Algorithm::HS256, issuer, audience),
            verified: Default::default(),
        })
    }

    /// RS256 with a PEM-encoded RSA public key.
    pub fn rs256_pem(pem: &[u8], issuer: &str, audience: &str) -> Result<Self, KeyError> {
        let key = DecodingKey::from_rsa_pem(pem).map_err(|e| {
            KeyError(format!(
                "AUTH_JWT_PUBLIC_KEY_FILE is not an RSA public key: {e}"
            ))
        })?;
        Ok(Self {
            keys: Keys::One(key),
            validation: validation(Algorithm::RS256, issuer, audience),
            verified: Default::default(),
        })
    }

    /// RS256 with the keys of a JWKS document (`{"keys": [...]}`); tokens name theirs by `kid`.
    pub fn rs256_jwks(json: &str, issuer: &str, audience: &str) -> Result<Self, KeyError> {
        let set: JwkSet = serde_json::from_str(json)
            .map_err(|e| KeyError(format!("AUTH_JWKS_FILE is not a JWKS document: {e}")))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let kid =
                jwk.common.key_id.clone().ok_or_else(|| {
                    KeyError("every key of AUTH_JWKS_FILE needs a kid".to_owned())
                })?;
            let key = DecodingKey::from_jwk(jwk)
                .map_err(|e| KeyError(format!("key {kid} of AUTH_JWKS_FILE: {e}")))?;
            keys.insert(kid, key);
        }
        if keys.is_empty() {
            return Err(KeyError("AUTH_JWKS_FILE holds no key".to_owned()));
        }
        Ok(Self {
            keys: Keys::ByKid(keys),
            validation: validation(Algorithm::RS256, issuer, audience),
            verified: Default::default(),
        })
    }

    /// The caller of an `Authorization` header value.
    pub fn verify_header(&self, header: Option<&str>) -> Result<Principal, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let (scheme, token) = header.trim().split_once(' ').ok_or(AuthError::Invalid(
            "use the Bearer scheme: Authorization: Bearer <token>",
        ))?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Invalid(
                "use the Bearer scheme: Authorization: Bearer <token>",
            ));
        }
        self.verify(token.trim())
    }

    /// The caller of a token.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        if token.is_empty() || token.len() > 8 * 1024 {
            return Err(AuthError::Invalid("malformed token"));
        }
        let now = unix_now();
        if let Some(principal) = self.remembered(token, now) {
            return Ok(principal);
        }
        let (principal, exp) = self.check(token)?;
        if token.len() <= MAX_CACHED_TOKEN_BYTES {
            if let Ok(mut verified) = self.verified.lock() {
                if verified.len() >= CACHED_TOKENS {
                    verified.clear();
                }
                verified.insert(token.to_owned(), (principal.clone(), exp));
            }
        }
        Ok(principal)
    }

    /// A token verified before that has not expired at `now` (with the validation's leeway,
    /// as the check itself would judge it).
    fn remembered(&self, token: &str, now: u64) -> Option<Principal> {
        let mut verified = self.verified.lock().ok()?;
        match verified.get(token) {
            Some((principal, exp)) if now <= exp.saturating_add(self.validation.leeway) => {
                Some(principal.clone())
            }
            Some(_) => {
                verified.remove(token);
                None
            }
            None => None,
        }
    }

    /// The signature and claims check: the caller and the token's `exp`.
    fn check(&self, token: &str) -> Result<(Principal, u64), AuthError> {
        let key = match &self.keys {
            Keys::One(key) => key,
            Keys::ByKid(keys) => {
                let header = jsonwebtoken::decode_header(token)
                    .map_err(|_| AuthError::Invalid("malformed token"))?;
                let kid = header
                    .kid
                    .ok_or(AuthError::Invalid("the token names no key (kid)"))?;
                keys.get(&kid)
                    .ok_or(AuthError::Invalid("the token's key (kid) is unknown"))?
            }
        };
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            AuthError::Invalid(match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::InvalidSignature => "the signature does not match",
                ErrorKind::InvalidAlgorithm => "the token's algorithm is not accepted",
                ErrorKind::InvalidIssuer => "the token's issuer is not accepted",
                ErrorKind::InvalidAudience => "the token is for another audience",
                ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
                _ => "malformed token",
            })
        })?;
        let claims = data.claims;
        if claims.sub.trim().is_empty() || claims.sub.len() > 200 {
            return Err(AuthError::Invalid(
                "the token's subject must be 1 to 200 bytes",
            ));
        }
        let exp = claims.exp;
        Ok((
            Principal::new(
                claims.sub,
                claims.scope.split_whitespace().map(str::to_owned).collect(),
                claims.customer_id,
            ),
            exp,
        ))
    }
}

/// Signs an HS256 token (for development and tests: production tokens come from the identity
/// provider).
pub fn mint_hs256(
    secret: &[u8],
    issuer: &str,
    audience: &str,
    subject: &str,
    scopes: &[&str],
    customer_id: Option<Uuid>,
    ttl: Duration,
) -> Result<String, KeyError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = Claims {
        sub: subject.to_owned(),
        exp: now + ttl.as_secs(),
        iat: Some(now),
        iss: issuer.to_owned(),
        aud: audience.to_owned(),
        scope: scopes.join(" "),
        customer_id,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|e| KeyError(format!("cannot sign the token: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a development secret of 32 bytes!";

    fn verifier() -> TokenVerifier {
        TokenVerifier::hs256(SECRET, "shopcore", "shopcore").unwrap()
    }

    fn mint(secret: &[u8], issuer: &str, audience: &str, ttl: Duration) -> String {
        mint_hs256(
            secret,
            issuer,
            audience,
            "ops",
            &["view_customers"],
            None,
            ttl,
        )
        .unwrap()
    }

    #[test]
    fn a_good_token_names_its_subject_and_scopes() {
        let token = mint(SECRET, "shopcore", "shopcore", Duration::from_secs(60));
        let principal = verifier()
            .verify_header(Some(&format!("bearer {token}")))
            .unwrap();
        assert_eq!(principal.subject, "ops");
        assert!(principal.has("view_customers"));
        assert!(!principal.has("manage_customers"));
    }

    #[test]
    fn a_remembered_token_is_served_only_until_it_expires() {
        let v = verifier();
        let token = mint(SECRET, "shopcore", "shopcore", Duration::from_secs(60));
        let first = v.verify(&token).expect("a good token");
        assert_eq!(v.verify(&token).expect("remembered"), first);
        let exp = v.verified.lock().unwrap()[&token].1;
        let leeway = v.validation.leeway;
        // Until exp + leeway, as the check itself judges; then forgotten and checked again.
        assert_eq!(v.remembered(&token, exp + leeway), Some(first));
        assert_eq!(v.remembered(&token, exp + leeway + 1), None);
        assert!(!v.verified.lock().unwrap().contains_key(&token));
        // A refused token is never remembered; a tampered copy of a good one is checked.
        let tampered = format!("{}x", &token[..token.len() - 1]);
        assert!(v.verify(&tampered).is_err());
        assert!(!v.verified.lock().unwrap().contains_key(&tampered));
    }

    #[test]
    fn bad_tokens_are_refused_with_a_reason() {
        let v = verifier();
        assert_eq!(v.verify_header(None), Err(AuthError::Missing));
        let other_secret = mint(
            b"another secret that is 32 bytes!!",
            "shopcore",
            "shopcore",
            Duration::from_secs(60),
        );
        // Expired long before the 30 s leeway.
        let expired = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &Claims {
                sub: "ops".into(),
                exp: 1,
                iat: None,
                iss: "shopcore".into(),
                aud: "shopcore".into(),
                scope: String::new(),
                customer_id: None,
            },
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        let wrong_audience = mint(SECRET, "shopcore", "elsewhere", Duration::from_secs(60));
        let wrong_issuer = mint(SECRET, "someone", "shopcore", Duration::from_secs(60));
        // An unsigned token ("alg": "none") with the same claims.
        let good = mint(SECRET, "shopcore", "shopcore", Duration::from_secs(60));
        let payload = good.split('.').nth(1).unwrap();
        let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        for (token, why) in [
            (other_secret, "the signature does not match"),
            (expired, "the token has expired"),
            (wrong_audience, "the token is for another audience"),
            (wrong_issuer, "the token's issuer is not accepted"),
            (unsigned, "malformed token"),
            ("not-a-jwt".to_owned(), "malformed token"),
        ] {
            assert_eq!(v.verify(&token), Err(AuthError::Invalid(why)), "{token}");
        }
        assert!(matches!(
            v.verify_header(Some("Basic abc")),
            Err(AuthError::Invalid(_))
        ));
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(TokenVerifier::hs256(b"short", "shopcore", "shopcore").is_err());
    }
}
