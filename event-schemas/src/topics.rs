//! The event type → topic map: the one place that says where each event goes.
//!
//! Every topic has one value subject, `<topic>-value` (Confluent's topic-name strategy). A topic
//! that carries several event types has a union of their records as its value schema; adding an
//! event type to a topic appends a branch, which stays BACKWARD compatible. Messages are keyed
//! by aggregate id, so all events of one aggregate on one topic stay in log order. Events of
//! one aggregate that go to different topics are not ordered against each other: consumers that
//! need that use the `sequence` field.

/// A topic and the event types it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicSpec {
    pub topic: &'static str,
    /// The bounded context (also the schema directory and Avro namespace `shopcore.<context>`).
    pub context: &'static str,
    /// The aggregate type whose events go here (as stored in the event store).
    pub aggregate_type: &'static str,
    /// Event types, in union branch order. Append only: reordering breaks old readers.
    pub event_types: &'static [&'static str],
    pub description: &'static str,
}

impl TopicSpec {
    /// The schema registry subject of the message values (topic-name strategy).
    pub fn value_subject(&self) -> String {
        format!("{}-value", self.topic)
    }
}

/// All topics, in documentation order.
pub const TOPICS: &[TopicSpec] = &[
    TopicSpec {
        topic: "customer.updated",
        context: "customer",
        aggregate_type: "customer",
        event_types: &[
            "CustomerRegistered",
            "CustomerProfileUpdated",
            "CustomerAddressAdded",
            "CustomerAddressUpdated",
            "CustomerAddressRemoved",
        ],
        description: "A customer registered or changed profile or addresses.",
    },
    TopicSpec {
        topic: "customer.segment.recalculated",
        context: "customer",
        aggregate_type: "customer",
        event_types: &["CustomerSegmentsAssigned", "CustomerSegmentRecalculated"],
        description: "A customer's segments were assigned (the full new set and the difference), or recalculated by the segment policy after a checkout (CustomerSegmentRecalculated: the checkout that caused it, the spend rule's inputs, the verdict and the change, often none; once per checkout).",
    },
    TopicSpec {
        topic: "catalog.product.updated.v1",
        context: "catalog",
        aggregate_type: "product",
        event_types: &[
            "ProductCreated",
            "ProductUpdated",
            "ProductVariantAdded",
            "ProductVariantUpdated",
            "ProductVariantRemoved",
            "ProductCategoriesAssigned",
            "ProductMediaAttached",
            "ProductPublished",
            "ProductUnpublished",
            "ProductDiscontinued",
            "ProductMediaProcessed",
            "ProductMediaRejected",
            "ProductMediaRemoved",
        ],
        description: "A product was created, changed, published, unpublished or discontinued, or its media attached, processed, rejected or removed. ProductUpdated and ProductVariantUpdated carry a field-level diff: each changed field with its old and new value.",
    },
    TopicSpec {
        topic: "catalog.category.updated.v1",
        context: "catalog",
        aggregate_type: "taxonomy",
        event_types: &[
            "CategoryCreated",
            "CategoryRenamed",
            "CategoryMoved",
            "CategoryRemoved",
        ],
        description: "The category tree changed: a category was created, renamed, moved (new parent or position) or removed. Keyed by the tree's id; consumers rebuild paths from parents.",
    },
    TopicSpec {
        topic: "pricing.updated.v1",
        context: "pricing",
        aggregate_type: "price_book",
        event_types: &["PriceBookCreated", "BasePriceSet", "BasePriceRemoved"],
        description: "A price book was created or a base price of a SKU in one currency was set or removed.",
    },
    TopicSpec {
        topic: "pricing.rule.updated.v1",
        context: "pricing",
        aggregate_type: "price_rule",
        event_types: &["PriceRuleCreated", "PriceRuleUpdated", "PriceRuleRemoved"],
        description: "A price rule was created, replaced or removed; created and updated carry the full definition.",
    },
    TopicSpec {
        topic: "promotion.activated.v1",
        context: "pricing",
        aggregate_type: "promotion",
        event_types: &["PromotionActivated"],
        description: "A promotion was switched on, with its discount and validity window.",
    },
    TopicSpec {
        topic: "promotion.updated.v1",
        context: "pricing",
        aggregate_type: "promotion",
        event_types: &[
            "PromotionCreated",
            "PromotionCouponCodesAdded",
            "PromotionDeactivated",
            "PromotionRedeemed",
            "PromotionChanged",
            "PromotionActivationScheduled",
        ],
        description: "A promotion was created, got coupon codes, was switched off, was redeemed once, had its name, discount, window or limits changed (PromotionChanged carries all of them as they are after the change), or was scheduled to switch itself on when its window starts (PromotionActivationScheduled; the activation itself goes to promotion.activated.v1).",
    },
    TopicSpec {
        topic: "fx.rate.changed.v1",
        context: "pricing",
        aggregate_type: "currency_rate",
        event_types: &["FxRateChanged"],
        description: "The exchange rate of a currency pair changed; rates are exact decimals as text.",
    },
    TopicSpec {
        topic: "cart.item.added",
        context: "cart",
        aggregate_type: "cart",
        event_types: &["CartItemAdded"],
        description: "Units of a SKU were added to a cart, with the line's new quantity and price.",
    },
    TopicSpec {
        topic: "cart.checkedout",
        context: "cart",
        aggregate_type: "cart",
        event_types: &["CartCheckedOut"],
        description: "A cart was checked out, with its re-priced lines, coupon, discount allocation and totals.",
    },
    TopicSpec {
        topic: "cart.updated",
        context: "cart",
        aggregate_type: "cart",
        event_types: &[
            "CartCreated",
            "CartItemQuantityChanged",
            "CartItemRemoved",
            "CartCouponApplied",
            "CartCouponRemoved",
            "CartExpired",
            "CartCustomerAssigned",
            "CartLinesMerged",
            "CartMerged",
        ],
        description: "A cart was created, a line's quantity changed or a line was removed, a coupon was applied or removed, the cart expired, or an anonymous cart was given to a customer or merged into the customer's cart at sign-in.",
    },
];

/// The topic an event type goes to.
pub fn topic_of(event_type: &str) -> Option<&'static TopicSpec> {
    TOPICS.iter().find(|t| t.event_types.contains(&event_type))
}
