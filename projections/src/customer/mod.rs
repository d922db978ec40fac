//! The customer read model.
//!
//! - this file: [`CustomerView`], the JSON shape served by the gateway and cached in Redis, and
//!   [`CustomerView::fold`], which builds it from a customer's events.
//! - [`mysql`]: the transactional MySQL projector (`customer_profiles`, `customer_addresses`,
//!   `customer_segments`) and its queries.
//! - [`redis`]: the Redis `customer::{id}` snapshot projector, idempotent by version.
//! - [`read_model`]: what the gateway calls: read a customer, wait for a position.

pub mod mysql;
pub mod read_model;
pub mod redis;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shopcore_domain::customer::{Address, CustomerEvent, SegmentRecalculated};
use shopcore_event_store::{LogPosition, StoredEvent};
use uuid::Uuid;

use crate::error::ProjectionError;

/// A customer as clients see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerView {
    pub id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub addresses: Vec<AddressView>,
    pub segments: Vec<String>,
    /// The aggregate version this view reflects (number of events).
    pub version: u64,
    /// Log position of the last event reflected (the `Shopcore-Position` token).
    #[schema(value_type = String, example = "1042-17")]
    pub position: LogPosition,
    /// When the customer registered. Absent in the answer to a write, which comes from the
    /// command service rather than the read model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    /// When the customer last changed. Absent in the answer to a write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// One of a customer's addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddressView {
    pub id: Uuid,
    pub label: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
}

impl AddressView {
    fn new(id: Uuid, address: Address) -> Self {
        Self {
            id,
            label: address.label,
            line1: address.line1,
            line2: address.line2,
            city: address.city,
            region: address.region,
            postal_code: address.postal_code,
            country: address.country,
        }
    }
}

/// The aggregate type of customers in the event store.
pub const AGGREGATE_TYPE: &str = "customer";

/// Decodes a stored customer event.
pub fn decode(event: &StoredEvent) -> Result<CustomerEvent, ProjectionError> {
    serde_json::from_value(event.payload.clone()).map_err(|e| ProjectionError::Undecodable {
        reason: format!("{} {}: {e}", event.event_type, event.event_id),
    })
}

impl CustomerView {
    /// Folds a customer's events (oldest first, starting with its registration).
    pub fn fold(events: &[StoredEvent]) -> Result<Option<Self>, ProjectionError> {
        Self::fold_onto(None, events)
    }

    /// Folds events onto a view that reflects every event before them (`None`: before the
    /// registration). The events must follow the view's version without a gap.
    pub fn fold_onto(
        mut view: Option<Self>,
        events: &[StoredEvent],
    ) -> Result<Option<Self>, ProjectionError> {
        for stored in events {
            let expected = view.as_ref().map_or(0, |v| v.version) + 1;
            if stored.sequence != expected {
                return Err(ProjectionError::OutOfStep {
                    reason: format!(
                        "customer {}: event {} is number {}, the view expects {expected}",
                        stored.aggregate_id, stored.event_id, stored.sequence
                    ),
                });
            }
            let event = decode(stored)?;
            match (&mut view, event) {
                (
                    None,
                    CustomerEvent::CustomerRegistered {
                        customer_id,
                        email,
                        first_name,
                        last_name,
                        phone,
                    },
                ) => {
                    view = Some(Self {
                        id: customer_id,
                        email,
                        first_name,
                        last_name,
                        phone,
                        addresses: Vec::new(),
                        segments: Vec::new(),
                        version: 0,
                        position: LogPosition::START,
                        created_at: Some(stored.recorded_at),
                        updated_at: Some(stored.recorded_at),
                    });
                }
                (None, _) => {
                    return Err(ProjectionError::OutOfStep {
                        reason: format!(
                            "customer {}: event {} before registration",
                            stored.aggregate_id, stored.event_id
                        ),
                    })
                }
                (Some(view), event) => view.apply(event),
            }
            if let Some(view) = &mut view {
                view.version = stored.sequence;
                view.position = stored.log_position();
                view.updated_at = Some(stored.recorded_at);
            }
        }
        Ok(view)
    }

    fn apply(&mut self, event: CustomerEvent) {
        match event {
            CustomerEvent::CustomerRegistered { .. } => {}
            CustomerEvent::CustomerProfileUpdated(changed) => {
                if let Some(email) = changed.email {
                    self.email = email;
                }
                if let Some(first_name) = changed.first_name {
                    self.first_name = first_name;
                }
                if let Some(last_name) = changed.last_name {
                    self.last_name = last_name;
                }
                if let Some(phone) = changed.phone {
                    self.phone = phone;
                }
            }
            CustomerEvent::CustomerAddressAdded {
                address_id,
                address,
            }
            | CustomerEvent::CustomerAddressUpdated {
                address_id,
                address,
            } => {
                let address = AddressView::new(address_id, address);
                match self.addresses.iter_mut().find(|a| a.id == address_id) {
                    Some(existing) => *existing = address,
                    None => self.addresses.push(address),
                }
                self.addresses.sort_by_key(|a| a.id);
            }
            CustomerEvent::CustomerAddressRemoved { address_id } => {
                self.addresses.retain(|a| a.id != address_id);
            }
            CustomerEvent::CustomerSegmentsAssigned { segments, .. }
            | CustomerEvent::CustomerSegmentRecalculated(SegmentRecalculated {
                segments, ..
            }) => {
                self.segments = segments;
                self.segments.sort();
            }
        }
    }
}
