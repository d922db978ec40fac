//! Why a product command was rejected.

use uuid::Uuid;

use crate::error_kind::DomainErrorKind;

/// A rejected product command. Each message names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductError {
    #[error("{field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("the update names no field to change")]
    EmptyUpdate,
    #[error("product does not exist")]
    NotCreated,
    #[error("product already exists")]
    AlreadyCreated,
    #[error("sku: {0} is already used by another variant")]
    DuplicateSku(String),
    #[error("variantId: no variant {0} on this product")]
    UnknownVariant(Uuid),
    #[error("variantId: variant {0} already exists on this product")]
    VariantAlreadyExists(Uuid),
    #[error("media.mediaId: media {0} is already attached")]
    MediaAlreadyAttached(Uuid),
    #[error("file: the same content is already attached as media {0}")]
    DuplicateMedia(Uuid),
    #[error("mediaId: no media {0} on this product")]
    UnknownMedia(Uuid),
    #[error("product is discontinued and can no longer be changed")]
    Discontinued,
    #[error("variants: a product needs at least one variant to be published")]
    NoVariants,
    #[error("categories: no category {0}")]
    UnknownCategory(String),
    #[error("lookup failed: {0}")]
    LookupFailed(String),
}

impl ProductError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            reason: reason.into(),
        }
    }

    /// How adapters should report this rejection.
    pub fn kind(&self) -> DomainErrorKind {
        match self {
            Self::InvalidField { .. } | Self::EmptyUpdate => DomainErrorKind::InvalidArgument,
            Self::NotCreated | Self::UnknownVariant(_) | Self::UnknownMedia(_) => {
                DomainErrorKind::NotFound
            }
            Self::AlreadyCreated
            | Self::DuplicateSku(_)
            | Self::VariantAlreadyExists(_)
            | Self::MediaAlreadyAttached(_)
            | Self::DuplicateMedia(_) => DomainErrorKind::Conflict,
            // The request is well formed; the catalog lacks what it names (a category may be
            // created, then the same request succeeds).
            Self::Discontinued | Self::NoVariants | Self::UnknownCategory(_) => {
                DomainErrorKind::FailedPrecondition
            }
            Self::LookupFailed(_) => DomainErrorKind::Unavailable,
        }
    }

    /// The input field the rejection is about, in the API's camelCase.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::InvalidField { field, .. } => Some(field),
            Self::DuplicateSku(_) => Some("sku"),
            Self::UnknownVariant(_) | Self::VariantAlreadyExists(_) => Some("variantId"),
            Self::MediaAlreadyAttached(_) => Some("media.mediaId"),
            Self::DuplicateMedia(_) => Some("file"),
            Self::UnknownMedia(_) => Some("mediaId"),
            Self::NoVariants => Some("variants"),
            Self::UnknownCategory(_) => Some("categories"),
            _ => None,
        }
    }
}
