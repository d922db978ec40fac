//! Every event type the domain can store has a topic and a union branch of its own, on a topic
//! of its aggregate type.

use std::collections::HashMap;

use cqrs_es::Aggregate;
use shopcore_domain::cart::{Cart, CartEvent};
use shopcore_domain::catalog::taxonomy::{Taxonomy, TaxonomyEvent};
use shopcore_domain::catalog::{Product, ProductEvent};
use shopcore_domain::customer::{Customer, CustomerEvent};
use shopcore_domain::pricing::{
    CurrencyRate, CurrencyRateEvent, PriceBook, PriceBookEvent, PriceRule, PriceRuleEvent,
    Promotion, PromotionEvent,
};
use shopcore_event_schemas::EventSchemas;

/// Every aggregate's type (as stored) with the event types of its `EVENT_TYPES`.
fn domain_event_types() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        (Customer::TYPE, CustomerEvent::EVENT_TYPES),
        (Product::TYPE, ProductEvent::EVENT_TYPES),
        (Taxonomy::TYPE, TaxonomyEvent::EVENT_TYPES),
        (PriceBook::TYPE, PriceBookEvent::EVENT_TYPES),
        (PriceRule::TYPE, PriceRuleEvent::EVENT_TYPES),
        (Promotion::TYPE, PromotionEvent::EVENT_TYPES),
        (CurrencyRate::TYPE, CurrencyRateEvent::EVENT_TYPES),
        (Cart::TYPE, CartEvent::EVENT_TYPES),
    ]
}

#[test]
fn every_domain_event_type_is_routed_to_a_branch_of_its_own() {
    let schemas = EventSchemas::embedded().expect("schemas load");
    let mut branches: HashMap<(&str, usize), &str> = HashMap::new();
    let mut routed = 0;
    for (aggregate_type, event_types) in domain_event_types() {
        for &event_type in event_types {
            let (topic, branch, version) = schemas
                .route(event_type, "1")
                .unwrap_or_else(|| panic!("{event_type} v1 is not routed to any topic"));
            assert_eq!(version, 1);
            assert_eq!(
                topic.spec.aggregate_type, aggregate_type,
                "{event_type} goes to {}, a topic of another aggregate type",
                topic.spec.topic
            );
            assert_eq!(
                topic.branch_events()[branch],
                (event_type, 1),
                "{event_type}: branch {branch} of {} is another event's",
                topic.spec.topic
            );
            if let Some(other) = branches.insert((topic.spec.topic, branch), event_type) {
                panic!(
                    "{event_type} and {other} share branch {branch} of {}",
                    topic.spec.topic
                );
            }
            routed += 1;
        }
    }
    let branch_count: usize = schemas.topics().iter().map(|t| t.branches().len()).sum();
    assert_eq!(
        routed, branch_count,
        "every branch is an event type of the domain, and the other way round"
    );
}
