//! Shopcore's domain: aggregates, commands, events and value objects. Pure logic, no I/O.
//!
//! - [`customer`]: the `Customer` aggregate (profile, addresses, segments) and its input
//!   limits ([`customer::limits`]).
//! - [`money`]: integer minor units with ISO 4217 currencies and explicit rounding.
//! - [`catalog`]: the `Product` aggregate (variants, attributes, categories, media).
//! - [`pricing`]: price books, price rules and their evaluator, promotions, currency rates, and
//!   the errors those files share ([`pricing::errors`]).
//! - [`cart`]: the `Cart` aggregate, priced through a pricing service trait.
//!
//! Every aggregate implements [`cqrs_es::Aggregate`]; every event has a stable name and a
//! version number (see [`cqrs_es::DomainEvent`]).

pub mod cart;
pub mod catalog;
pub mod customer;
pub mod error_kind;
pub mod money;
pub mod pricing;
pub mod text;
