//! The scopes a token can carry, and the rules that turn them into access.
//!
//! A token either acts for the platform (an operator, a back office, another service: its
//! scopes apply to every resource) or is bound to one customer (a storefront session: the
//! `customer_id` claim). A customer-bound token reaches only that customer's profile and
//! addresses, with the `*_my_profile` scopes, and never assigns segments.

use uuid::Uuid;

use crate::token::Principal;

/// Read any customer.
pub const VIEW_CUSTOMERS: &str = "view_customers";
/// Create and change any customer, assign segments.
pub const MANAGE_CUSTOMERS: &str = "manage_customers";
/// A customer-bound token: read its own profile and addresses.
pub const VIEW_MY_PROFILE: &str = "view_my_profile";
/// A customer-bound token: change its own profile and addresses.
pub const MANAGE_MY_PROFILE: &str = "manage_my_profile";
/// Erase a customer's personal data.
pub const MANAGE_ERASURE: &str = "manage_erasure";
/// Read products and categories.
pub const VIEW_PRODUCTS: &str = "view_products";
/// Create and change products, categories and media.
pub const MANAGE_PRODUCTS: &str = "manage_products";
/// Read prices, price books, rules and promotions, simulate prices.
pub const VIEW_PRICES: &str = "view_prices";
/// Change price books, rules, promotions and currency rates.
pub const MANAGE_PRICES: &str = "manage_prices";
/// Read any cart.
pub const VIEW_ORDERS: &str = "view_orders";
/// Change and check out any cart.
pub const MANAGE_ORDERS: &str = "manage_orders";
/// A customer-bound (or session) token: its own carts.
pub const MANAGE_MY_ORDERS: &str = "manage_my_orders";

/// Every scope with what it allows, in the order the README lists them.
pub const ALL: &[(&str, &str)] = &[
    (VIEW_CUSTOMERS, "read any customer"),
    (
        MANAGE_CUSTOMERS,
        "create and change any customer, assign segments",
    ),
    (
        VIEW_MY_PROFILE,
        "customer-bound token: read its own profile and addresses",
    ),
    (
        MANAGE_MY_PROFILE,
        "customer-bound token: change its own profile and addresses",
    ),
    (MANAGE_ERASURE, "erase a customer's personal data"),
    (VIEW_PRODUCTS, "read products and categories"),
    (
        MANAGE_PRODUCTS,
        "create and change products, categories and media",
    ),
    (
        VIEW_PRICES,
        "read prices, books, rules and promotions; simulate",
    ),
    (
        MANAGE_PRICES,
        "change books, rules, promotions and currency rates",
    ),
    (VIEW_ORDERS, "read any cart"),
    (MANAGE_ORDERS, "change and check out any cart"),
    (MANAGE_MY_ORDERS, "customer-bound token: its own carts"),
];

/// What a caller wants to do with a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read the profile and addresses.
    Read,
    /// Create, or change the profile or addresses.
    Write,
    /// Assign segments (merchandising: never a customer's own business).
    Segments,
}

/// A caller may not do what it asked: 403, naming the scope that would allow it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Denied {
    /// The scope that would allow the request.
    pub scope: &'static str,
    pub reason: String,
}

impl Denied {
    fn missing(scope: &'static str) -> Self {
        Self {
            scope,
            reason: format!("the token lacks the scope {scope}"),
        }
    }
}

impl Principal {
    /// Requires a platform scope (for a customer-bound token too: it must carry the scope).
    pub fn require(&self, scope: &'static str) -> Result<(), Denied> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(Denied::missing(scope))
        }
    }

    /// Requires a platform token (not bound to a customer) with `scope`: back-office work such
    /// as changing the catalog or prices, which no storefront session may do whatever its
    /// scopes say.
    pub fn platform(&self, scope: &'static str) -> Result<(), Denied> {
        if self.customer_id.is_some() {
            return Err(Denied {
                scope,
                reason: "a customer-bound token cannot do this".to_owned(),
            });
        }
        self.require(scope)
    }

    /// Whether this caller may `access` the customer `customer` (`None`: a customer not created
    /// yet, for [`Access::Write`]).
    pub fn customer(&self, customer: Option<Uuid>, access: Access) -> Result<(), Denied> {
        let platform = match access {
            Access::Read => VIEW_CUSTOMERS,
            Access::Write | Access::Segments => MANAGE_CUSTOMERS,
        };
        match self.customer_id {
            None => self.require(platform),
            Some(own) => {
                let mine = match access {
                    Access::Read => VIEW_MY_PROFILE,
                    Access::Write => MANAGE_MY_PROFILE,
                    Access::Segments => {
                        return Err(Denied {
                            scope: MANAGE_CUSTOMERS,
                            reason: "a customer-bound token cannot assign segments".to_owned(),
                        })
                    }
                };
                if customer != Some(own) {
                    return Err(Denied {
                        scope: platform,
                        reason: "a customer-bound token reaches only its own customer".to_owned(),
                    });
                }
                // Reading one's own profile is part of being allowed to change it.
                if self.has(mine) || (access == Access::Read && self.has(MANAGE_MY_PROFILE)) {
                    Ok(())
                } else {
                    Err(Denied::missing(mine))
                }
            }
        }
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
    fn platform_tokens_need_the_scope_of_the_access() {
        let id = Some(Uuid::new_v4());
        let viewer = principal(&[VIEW_CUSTOMERS], None);
        assert_eq!(viewer.customer(id, Access::Read), Ok(()));
        assert_eq!(
            viewer.customer(id, Access::Write).unwrap_err().scope,
            MANAGE_CUSTOMERS
        );
        let manager = principal(&[MANAGE_CUSTOMERS], None);
        assert_eq!(manager.customer(None, Access::Write), Ok(()));
        assert_eq!(manager.customer(id, Access::Segments), Ok(()));
        assert_eq!(
            manager.customer(id, Access::Read).unwrap_err().scope,
            VIEW_CUSTOMERS
        );
    }

    #[test]
    fn a_customer_bound_token_reaches_only_its_customer_and_never_segments() {
        let me = Uuid::new_v4();
        let token = principal(
            &[MANAGE_MY_PROFILE, MANAGE_CUSTOMERS, VIEW_CUSTOMERS],
            Some(me),
        );
        assert_eq!(token.customer(Some(me), Access::Read), Ok(()));
        assert_eq!(token.customer(Some(me), Access::Write), Ok(()));
        assert!(token.customer(Some(Uuid::new_v4()), Access::Read).is_err());
        assert!(token.customer(Some(Uuid::new_v4()), Access::Write).is_err());
        assert!(
            token.customer(None, Access::Write).is_err(),
            "cannot create customers"
        );
        assert_eq!(
            token
                .customer(Some(me), Access::Segments)
                .unwrap_err()
                .scope,
            MANAGE_CUSTOMERS
        );
        let viewer = principal(&[VIEW_MY_PROFILE], Some(me));
        assert_eq!(viewer.customer(Some(me), Access::Read), Ok(()));
        assert_eq!(
            viewer.customer(Some(me), Access::Write).unwrap_err().scope,
            MANAGE_MY_PROFILE
        );
    }
}
