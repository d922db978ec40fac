//! The pricing query service: `PricingQueries` over gRPC, answered from the pricing index
//! ([`shopcore_pricing_index`]) this process keeps current by tailing the log. It runs in the
//! command service process, on its port; the gateway keeps a replica of the same index.

pub mod service;

pub use shopcore_pricing_index::{
    state, NotReached, PricingIndex, PricingQueries, Progress, CONSUMER,
};
