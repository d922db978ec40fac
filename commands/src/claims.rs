//! Unique claims per aggregate: which values a batch of events reserves or frees.

use shopcore_domain::customer::{Customer, CustomerEvent};

use shopcore_event_store::UniqueClaim;

/// An aggregate whose events may claim values that must be unique across its kind.
pub trait UniqueClaims: cqrs_es::Aggregate {
    /// The claims `events` make, given the state `before` them.
    fn unique_claims(before: &Self, events: &[Self::Event]) -> Vec<UniqueClaim>;
}

/// Scope of customers' e-mail addresses.
pub const CUSTOMER_EMAIL: &str = "customer_email";

impl UniqueClaims for Customer {
    fn unique_claims(before: &Self, events: &[CustomerEvent]) -> Vec<UniqueClaim> {
        let mut claims = Vec::new();
        let mut current = before.email.clone();
        for event in events {
            let new_email = match event {
                CustomerEvent::CustomerRegistered { email, .. } => Some(email),
                CustomerEvent::CustomerProfileUpdated(changed) => changed.email.as_ref(),
                _ => None,
            };
            if let Some(email) = new_email {
                if !current.is_empty() {
                    claims.push(UniqueClaim::Release {
                        scope: CUSTOMER_EMAIL,
                        value: current.clone(),
                    });
                }
                claims.push(UniqueClaim::Claim {
                    scope: CUSTOMER_EMAIL,
                    field: "email",
                    value: email.clone(),
                });
                current = email.clone();
            }
        }
        claims
    }
}
