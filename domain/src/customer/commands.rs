//! Commands of the Customer aggregate.

use uuid::Uuid;

use super::recalculation::SegmentRecalculation;
use super::values::Address;

/// What a caller may ask of a customer.
#[derive(Debug, Clone, PartialEq)]
pub enum CustomerCommand {
    /// Creates the customer. The id is chosen by the caller.
    Register {
        customer_id: Uuid,
        email: String,
        first_name: String,
        last_name: String,
        phone: Option<String>,
    },
    /// Changes the given profile fields; absent ones stay as they are.
    UpdateProfile(ProfileChanges),
    AddAddress {
        address_id: Uuid,
        address: Address,
    },
    UpdateAddress {
        address_id: Uuid,
        address: Address,
    },
    RemoveAddress {
        address_id: Uuid,
    },
    /// Replaces the customer's segments with this set.
    AssignSegments {
        segments: Vec<String>,
    },
    /// Applies a spend rule after a checkout: adds or removes the rule's own segment only, and
    /// writes nothing for a checkout recalculated for already (see [`super::recalculation`]).
    /// Sent by the segment policy, never by a client.
    RecalculateSegments(SegmentRecalculation),
}

/// Requested profile changes; `None` leaves a field as it is. For the phone, `Some("")` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileChanges {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

impl ProfileChanges {
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.first_name.is_none()
            && self.last_name.is_none()
            && self.phone.is_none()
    }
}
