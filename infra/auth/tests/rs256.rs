//! The production key sources: RS256 tokens verified with a PEM public key and with a JWKS
//! document (key chosen by `kid`). The fixtures are a throw-away key pair made for these tests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use shopcore_auth::token::Claims;
use shopcore_auth::{AuthError, TokenVerifier};

const PRIVATE: &[u8] = include_bytes!("fixtures/rs256-private.pem");
const PUBLIC: &[u8] = include_bytes!("fixtures/rs256-public.pem");
const JWKS: &str = include_str!("fixtures/jwks.json");

fn token(kid: Option<&str>, algorithm: Algorithm, key: &EncodingKey) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = Claims {
        sub: "idp-user-7".into(),
        exp: now + Duration::from_secs(300).as_secs(),
        iat: Some(now),
        iss: "https://id.example.com".into(),
        aud: "shopcore".into(),
        scope: "view_customers".into(),
        customer_id: None,
    };
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

#[test]
fn rs256_tokens_verify_with_a_pem_key_and_with_a_jwks_document() {
    let key = EncodingKey::from_rsa_pem(PRIVATE).unwrap();
    let pem = TokenVerifier::rs256_pem(PUBLIC, "https://id.example.com", "shopcore").unwrap();
    let jwks = TokenVerifier::rs256_jwks(JWKS, "https://id.example.com", "shopcore").unwrap();

    let signed = token(Some("test-key-1"), Algorithm::RS256, &key);
    assert_eq!(pem.verify(&signed).unwrap().subject, "idp-user-7");
    assert!(jwks.verify(&signed).unwrap().has("view_customers"));

    let unknown_kid = token(Some("rotated-away"), Algorithm::RS256, &key);
    assert_eq!(
        jwks.verify(&unknown_kid),
        Err(AuthError::Invalid("the token's key (kid) is unknown"))
    );
    // An HMAC "signed" with the public key must not pass as RS256 (algorithm confusion).
    let confused = token(
        Some("test-key-1"),
        Algorithm::HS256,
        &EncodingKey::from_secret(PUBLIC),
    );
    assert!(pem.verify(&confused).is_err());
    assert!(jwks.verify(&confused).is_err());
}
