//! Why a customer command was rejected.

use uuid::Uuid;

use super::limits::MAX_ADDRESSES;
use crate::error_kind::DomainErrorKind;

/// A rejected customer command. Each message names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomerError {
    #[error("{field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("the update names no field to change")]
    EmptyUpdate,
    #[error("customer does not exist")]
    NotRegistered,
    #[error("customer already exists")]
    AlreadyRegistered,
    #[error("email: address is already used by another customer")]
    EmailInUse,
    #[error("addressId: no address {0} on this customer")]
    UnknownAddress(Uuid),
    #[error("addressId: address {0} already exists on this customer")]
    AddressAlreadyExists(Uuid),
    #[error("addresses: a customer has at most {} addresses", MAX_ADDRESSES)]
    TooManyAddresses,
    #[error("email lookup failed: {0}")]
    LookupFailed(String),
}

impl CustomerError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            reason: reason.into(),
        }
    }

    /// How adapters should report this rejection.
    pub fn kind(&self) -> DomainErrorKind {
        match self {
            Self::InvalidField { .. } | Self::EmptyUpdate | Self::TooManyAddresses => {
                DomainErrorKind::InvalidArgument
            }
            Self::NotRegistered | Self::UnknownAddress(_) => DomainErrorKind::NotFound,
            Self::AlreadyRegistered | Self::EmailInUse | Self::AddressAlreadyExists(_) => {
                DomainErrorKind::Conflict
            }
            Self::LookupFailed(_) => DomainErrorKind::Unavailable,
        }
    }

    /// The input field the rejection is about, in the API's camelCase.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::InvalidField { field, .. } => Some(field),
            Self::EmailInUse => Some("email"),
            Self::UnknownAddress(_) | Self::AddressAlreadyExists(_) => Some("addressId"),
            Self::TooManyAddresses => Some("addresses"),
            _ => None,
        }
    }
}
