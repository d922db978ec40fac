//! Who is calling, and what they may do — the same answer at the REST gateway and at the gRPC
//! command service.
//!
//! Callers present OAuth2-style bearer tokens: JWTs whose `scope` claim lists what they may do
//! (commercetools-style scopes such as `view_customers`, `manage_customers`), whose `sub` names
//! them (recorded as the actor of every event they cause), and which may be bound to one
//! customer (`customer_id`) for a storefront.
//!
//! - [`scopes`]: every scope, what it allows, and the access rules for customers.
//! - [`token`]: [`token::TokenVerifier`] (HS256 with a shared secret for local use; RS256 with a
//!   PEM public key or a JWKS file for production), [`token::Principal`] and minting.
//! - [`settings`]: the typed settings every edge process flattens into its own.

pub mod scopes;
pub mod settings;
pub mod token;

pub use scopes::{Access, Denied};
pub use settings::AuthSettings;
pub use token::{AuthError, Principal, TokenVerifier};
