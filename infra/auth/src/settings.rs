//! How an edge process learns its token keys, from the environment (or `.env`).

use std::time::Duration;

use crate::token::{mint_hs256, KeyError, TokenVerifier};

/// Token settings; exactly one key source must be set.
#[derive(Clone, clap::Args)]
pub struct AuthSettings {
    /// Shared secret for HS256 tokens (at least 32 bytes; local use). `infra/run` generates one.
    #[arg(
        long = "auth-jwt-secret",
        env = "AUTH_JWT_SECRET",
        hide_env_values = true
    )]
    pub jwt_secret: Option<String>,
    /// PEM file with the RSA public key of RS256 tokens (production).
    #[arg(long = "auth-jwt-public-key-file", env = "AUTH_JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<std::path::PathBuf>,
    /// JWKS file with the identity provider's RS256 keys (production); tokens name theirs by
    /// `kid`.
    #[arg(long = "auth-jwks-file", env = "AUTH_JWKS_FILE")]
    pub jwks_file: Option<std::path::PathBuf>,
    /// The `iss` tokens must carry.
    #[arg(long = "auth-issuer", env = "AUTH_ISSUER", default_value = "shopcore")]
    pub issuer: String,
    /// The `aud` tokens must carry.
    #[arg(
        long = "auth-audience",
        env = "AUTH_AUDIENCE",
        default_value = "shopcore"
    )]
    pub audience: String,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "***"))
            .field("jwt_public_key_file", &self.jwt_public_key_file)
            .field("jwks_file", &self.jwks_file)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl AuthSettings {
    /// The verifier of the configured key source.
    pub fn verifier(&self) -> Result<TokenVerifier, KeyError> {
        let read = |path: &std::path::Path| {
            std::fs::read_to_string(path)
                .map_err(|e| KeyError::new(format!("cannot read {}: {e}", path.display())))
        };
        match (&self.jwt_secret, &self.jwt_public_key_file, &self.jwks_file) {
            (Some(secret), None, None) => {
                TokenVerifier::hs256(secret.as_bytes(), &self.issuer, &self.audience)
            }
            (None, Some(pem), None) => {
                TokenVerifier::rs256_pem(read(pem)?.as_bytes(), &self.issuer, &self.audience)
            }
            (None, None, Some(jwks)) => {
                TokenVerifier::rs256_jwks(&read(jwks)?, &self.issuer, &self.audience)
            }
            (None, None, None) => Err(KeyError::new(
                "no token key configured: set AUTH_JWT_SECRET (HS256, local), \
                 AUTH_JWT_PUBLIC_KEY_FILE or AUTH_JWKS_FILE (RS256)"
                    .to_owned(),
            )),
            _ => Err(KeyError::new(
                "set only one of AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY_FILE and AUTH_JWKS_FILE"
                    .to_owned(),
            )),
        }
    }

    /// Mints an HS256 token with the configured secret (development).
    pub fn mint(
        &self,
        subject: &str,
        scopes: &[&str],
        customer_id: Option<uuid::Uuid>,
        ttl: Duration,
    ) -> Result<String, KeyError> {
        let secret = self
            .jwt_secret
            .as_ref()
            .ok_or_else(|| KeyError::new("minting needs AUTH_JWT_SECRET (HS256)".to_owned()))?;
        mint_hs256(
            secret.as_bytes(),
            &self.issuer,
            &self.audience,
            subject,
            scopes,
            customer_id,
            ttl,
        )
    }
}
