//! Events of the Customer aggregate. Names are stable; a change of shape gets a new version.

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::recalculation::SegmentRecalculated;
use super::values::Address;

/// What happened to a customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CustomerEvent {
    #[serde(rename_all = "camelCase")]
    CustomerRegistered {
        customer_id: Uuid,
        email: String,
        first_name: String,
        last_name: String,
        phone: Option<String>,
    },
    CustomerProfileUpdated(ProfileChanged),
    #[serde(rename_all = "camelCase")]
    CustomerAddressAdded {
        address_id: Uuid,
        address: Address,
    },
    #[serde(rename_all = "camelCase")]
    CustomerAddressUpdated {
        address_id: Uuid,
        address: Address,
    },
    #[serde(rename_all = "camelCase")]
    CustomerAddressRemoved {
        address_id: Uuid,
    },
    /// The full new set, and the difference to the previous one.
    #[serde(rename_all = "camelCase")]
    CustomerSegmentsAssigned {
        segments: Vec<String>,
        added: Vec<String>,
        removed: Vec<String>,
    },
    /// The segment policy applied its spend rule after a checkout: the cause, the rule's
    /// inputs, the verdict and the change (often none).
    CustomerSegmentRecalculated(SegmentRecalculated),
}

/// The profile fields that changed, with their new values. For `phone`, `Some(None)` means the
/// number was removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileChanged {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub phone: Option<Option<String>>,
}

impl ProfileChanged {
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.first_name.is_none()
            && self.last_name.is_none()
            && self.phone.is_none()
    }
}

impl CustomerEvent {
    /// Every event type name of the aggregate, for exhaustive topic and schema maps.
    pub const EVENT_TYPES: &'static [&'static str] = &[
        "CustomerRegistered",
        "CustomerProfileUpdated",
        "CustomerAddressAdded",
        "CustomerAddressUpdated",
        "CustomerAddressRemoved",
        "CustomerSegmentsAssigned",
        "CustomerSegmentRecalculated",
    ];
}

/// Schema version of every customer event. Change it with the events' shape: it is stored with
/// each event, and snapshots of customers taken under another version are ignored.
pub const EVENT_SCHEMA_VERSION: &str = "1";

impl DomainEvent for CustomerEvent {
    fn event_type(&self) -> String {
        match self {
            Self::CustomerRegistered { .. } => "CustomerRegistered",
            Self::CustomerProfileUpdated(_) => "CustomerProfileUpdated",
            Self::CustomerAddressAdded { .. } => "CustomerAddressAdded",
            Self::CustomerAddressUpdated { .. } => "CustomerAddressUpdated",
            Self::CustomerAddressRemoved { .. } => "CustomerAddressRemoved",
            Self::CustomerSegmentsAssigned { .. } => "CustomerSegmentsAssigned",
            Self::CustomerSegmentRecalculated(_) => "CustomerSegmentRecalculated",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        EVENT_SCHEMA_VERSION.to_owned()
    }
}

/// Serde for `Option<Option<T>>`: absent = no change, `null` = cleared, value = set.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(
        value: &Option<Option<T>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}
